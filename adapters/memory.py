"""An in-memory cluster: what `plan` and `simulate` run the core against.

It does what an API server and the controllers aimcore does not model would do:
gives objects uids, generations and resourceVersions, merges applies, garbage-
collects children through ownerReferences, and plays the Job runner (D28): a
discovery Job finishes as soon as it is applied, its Pod printing what the image's
dryRun entry says (`adapters.jobrunner`). Templates get their status from the same
core reconciler as in the operator; Nodes are given, never changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from adapters.dependents import Change
from adapters.jobrunner import discovery_log
from aimcore import discoveryjob as dj
from aimcore import resources as r
from aimcore.facts import InspectResult
from aimcore.ownership import merged_with_observed
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot

#: Image -> its dryRun entry (a list of results, or a raw log), None without one.
DryRuns = Callable[[str], list[dict[str, Any]] | str | None]

_UID_NAMESPACE = uuid.UUID("6f1c0a52-8a3e-4c59-9a4d-2f0e3b7d1a10")


def stable_uid(key: ObjectKey) -> str:
    """A uid derived from the object's identity, so runs are reproducible byte for byte."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{key.kind}/{key.namespace}/{key.name}"))


class MemoryCluster:
    """Objects by key, plus the inspection results the adapters gathered so far."""

    def __init__(
        self,
        objects: Iterable[r.Resource],
        *,
        now: str,
        operator_namespace: str,
        gpus: Iterable[str] | None = None,
        nodes: Mapping[str, Mapping[str, str]] | None = None,
        dry_runs: DryRuns | None = None,
    ) -> None:
        self.now = now
        self.operator_namespace = operator_namespace
        self.gpus = frozenset(gpus) if gpus is not None else None
        #: Node name -> labels; None when the inputs had no Node (then `gpus` decides).
        self.nodes = {name: dict(labels) for name, labels in nodes.items()} if nodes is not None else None
        self.dry_runs: DryRuns = dry_runs or (lambda image: None)
        self.objects: dict[ObjectKey, r.Resource] = {}
        self.facts: dict[InspectKey, InspectResult] = {}
        #: Discovery Jobs by key, with the manifest applied, and what the runner observed of them.
        self.jobs: dict[ObjectKey, Mapping[str, Any]] = {}
        self._job_observations: dict[ObjectKey, dj.JobObservation] = {}
        self._pods: dict[tuple[str, str], tuple[dj.PodObservation, ...]] = {}
        self._logs: dict[tuple[str, str, str], str] = {}
        self._discovery: dj.DiscoveryObservation | None = None
        self._touched: set[ObjectKey] = set()
        self._version = 0
        self._changes: list[Change] = []
        # Admitted in key order, so resourceVersions do not depend on the order of the inputs.
        for obj in sorted(objects, key=ObjectKey.of):
            self.objects[ObjectKey.of(obj)] = self._admit(obj, None)

    def snapshot(self) -> Snapshot:
        return Snapshot.build(
            self.objects.values(),
            self.facts,
            operator_namespace=self.operator_namespace,
            now=self.now,
            gpus=self.gpus,
            nodes=self.nodes,
            discovery=self.discovery(),
        )

    def discovery(self) -> dj.DiscoveryObservation:
        """The discovery Jobs, their Pods and logs, as the operator's store would report them."""
        if self._discovery is None:
            self._discovery = dj.DiscoveryObservation(
                jobs=tuple(self._job_observations[k] for k in sorted(self._job_observations)),
                pods=dict(self._pods),
                logs=dict(self._logs),
            )
        return self._discovery

    def take_touched(self) -> set[ObjectKey]:
        """Templates whose discovery Jobs changed since the last call (what Job watches enqueue)."""
        touched, self._touched = self._touched, set()
        return touched

    def apply_job(self, manifest: Mapping[str, Any]) -> None:
        """Apply a discovery Job and run it to completion at once, as the image would (D28)."""
        meta = manifest["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        key = ObjectKey("Job", namespace, name)
        if key in self.jobs:
            return  # an apply of an existing Job changes nothing that runs
        found = dj.template_of(meta.get("labels") or {}, namespace)
        template = self.objects.get(ObjectKey(*found)) if found is not None else None
        if not isinstance(template, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
            return  # its template is gone: the garbage collector would take the Job at once
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        log = discovery_log(template, self.dry_runs(str(container.get("image") or "")))
        uid = stable_uid(key)
        self.jobs[key] = manifest
        self._job_observations[key] = dj.JobObservation(
            name=name, namespace=namespace, uid=uid,
            labels={**(meta.get("labels") or {}), **log.labels()},
            creation_timestamp=self.now,
            conditions=(
                dj.JobCondition(type="SuccessCriteriaMet", status=r.ConditionStatus.TRUE),
                dj.JobCondition(type="Complete", status=r.ConditionStatus.TRUE),
            ),
        )
        pod_labels = manifest["spec"]["template"]["metadata"].get("labels") or {}
        self._pods[(namespace, name)] = (dj.PodObservation(
            name=f"{name}-run", namespace=namespace, labels={**pod_labels, "job-name": name},
            phase="Succeeded",
            containers=(dj.ContainerObservation(
                name=dj.CONTAINER_NAME, terminated_reason="Completed", exit_code=0
            ),),
        ),)
        self._logs[(namespace, name, uid)] = log.text
        self._discovery = None
        self._touched.add(ObjectKey.of(template))

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _admit(self, obj: r.Resource, previous: r.Resource | None) -> r.Resource:
        """Fill in what the API server owns: uid, generation, resourceVersion, creation time."""
        meta = obj.metadata
        key = ObjectKey.of(obj)
        generation = meta.generation or 1
        if previous is not None:
            generation = (previous.metadata.generation or 1) + (
                1 if getattr(previous, "spec", None) != getattr(obj, "spec", None) else 0
            )
        meta = attrs.evolve(
            meta,
            uid=meta.uid or (previous.metadata.uid if previous else None) or stable_uid(key),
            generation=generation,
            resource_version=self._next_version(),
            creation_timestamp=meta.creation_timestamp or self.now,
        )
        return attrs.evolve(obj, metadata=meta)

    def take_changes(self) -> list[Change]:
        """Every change since the last call, oldest first (what a watch would have reported)."""
        changes, self._changes = self._changes, []
        return changes

    def apply(self, desired: r.Resource) -> None:
        key = ObjectKey.of(desired)
        observed = self.objects.get(key)
        merged = merged_with_observed(desired, observed)
        self.objects[key] = self._admit(merged, observed)
        self._changes.append(Change(key, observed, self.objects[key]))

    def set_status(self, key: ObjectKey, status: Any) -> None:
        obj = self.objects.get(key)
        if obj is None:
            return
        meta = attrs.evolve(obj.metadata, resource_version=self._next_version())
        self.objects[key] = attrs.evolve(obj, status=status, metadata=meta)
        self._changes.append(Change(key, obj, self.objects[key]))

    def delete(self, key: ObjectKey, uid: str | None) -> list[ObjectKey]:
        """Delete (only when the uid still matches) and collect the garbage it leaves."""
        obj = self.objects.get(key)
        if obj is None or (uid is not None and obj.metadata.uid != uid):
            return []
        del self.objects[key]
        self._changes.append(Change(key, obj, None))
        gone = [key]
        orphans = [
            k
            for k, o in self.objects.items()
            if any(ref.uid == obj.metadata.uid for ref in o.metadata.owner_references or ())
        ]
        for orphan in orphans:
            gone.extend(self.delete(orphan, None))
        for job_key in [
            k for k, job in self.jobs.items()
            if any(ref.get("uid") == obj.metadata.uid for ref in job["metadata"].get("ownerReferences") or ())
        ]:
            self._forget_job(job_key)
        return gone

    def _forget_job(self, key: ObjectKey) -> None:
        del self.jobs[key]
        job = self._job_observations.pop(key)
        self._pods.pop((key.namespace, key.name), None)
        self._logs.pop((key.namespace, key.name, job.uid), None)
        self._discovery = None
