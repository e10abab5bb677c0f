"""An in-memory cluster: what `plan` and `simulate` run the core against.

It does what an API server and the controllers aimcore does not model would do:
gives objects uids, generations and resourceVersions, merges applies, garbage-
collects children through ownerReferences, and plays the Job runner (D28): a
discovery Job finishes as soon as it is applied, its Pod printing what the image's
dryRun entry says (`aimcore.adapters.common.jobrunner`). Templates get their status from the same
core reconciler as in the operator; Nodes are given, never changed.

It plays KServe and a Gateway too: an InferenceService becomes Ready one round after it
exists (or says why it is not, for an image the image facts say fails to start), and an
HTTPRoute is accepted one round after it exists. Without KServe (`kserve=False`) the
InferenceService CRD is not served and nothing of the kind can be created.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from aimcore import discoveryjob as dj
from aimcore import resources as r
from aimcore.adapters.common.dependents import Change
from aimcore.adapters.common.jobrunner import discovery_log
from aimcore.facts import InspectResult
from aimcore.ownership import merged_with_observed
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from aimcore.workloads import Workloads

#: Image -> its dryRun entry (a list of results, or a raw log), None without one.
DryRuns = Callable[[str], list[dict[str, Any]] | str | None]
#: Image -> why its server does not start (the image facts' startFailure), None when it starts.
StartFailures = Callable[[str], str | None]


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
        start_failures: StartFailures | None = None,
        kserve: bool = True,
        workloads: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.now = now
        self.operator_namespace = operator_namespace
        self.gpus = frozenset(gpus) if gpus is not None else None
        #: Node name -> labels; None when the inputs had no Node (then `gpus` decides).
        self.nodes = {name: dict(labels) for name, labels in nodes.items()} if nodes is not None else None
        self.dry_runs: DryRuns = dry_runs or (lambda image: None)
        self.start_failures: StartFailures = start_failures or (lambda image: None)
        self.kserve = kserve
        #: InferenceServices and HTTPRoutes by key, as an API server would hold them.
        self.workloads: dict[ObjectKey, dict[str, Any]] = {}
        for doc in workloads:
            if doc["kind"] == "InferenceService" and not kserve:
                continue
            meta = doc["metadata"]
            key = ObjectKey(str(doc["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))
            self.workloads[key] = {**doc, "metadata": {**meta, "uid": meta.get("uid") or stable_uid(key)}}
        self.objects: dict[ObjectKey, r.Resource] = {}
        self.facts: dict[InspectKey, InspectResult] = {}
        #: Discovery Jobs by key, with the manifest applied, and what the runner observed of them.
        self.jobs: dict[ObjectKey, Mapping[str, Any]] = {}
        self._job_observations: dict[ObjectKey, dj.JobObservation] = {}
        self._pods: dict[tuple[str, str], tuple[dj.PodObservation, ...]] = {}
        self._logs: dict[tuple[str, str, str], str] = {}
        self._discovery: dj.DiscoveryObservation | None = None
        self._touched: set[ObjectKey] = set()
        #: Workloads applied since KServe and the Gateway last acted.
        self._waiting: set[ObjectKey] = set()
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
            workloads=self.observed_workloads(),
        )

    def observed_workloads(self) -> Workloads:
        return Workloads.of(self.workloads.values(), kserve_installed=self.kserve)

    def apply_manifest(self, manifest: Mapping[str, Any]) -> None:
        """A Job runs at once (`apply_job`); an InferenceService or HTTPRoute is stored as an API
        server would after a server-side apply: labels and annotations merged, spec replaced."""
        kind = str(manifest.get("kind"))
        if kind == "Job":
            self.apply_job(manifest)
            return
        if kind == "InferenceService" and not self.kserve:
            return  # the kind is not served: an API server answers 404
        meta = manifest["metadata"]
        key = ObjectKey(kind, str(meta.get("namespace") or ""), str(meta["name"]))
        owners = {ref.get("uid") for ref in meta.get("ownerReferences") or ()}
        if not any(o.metadata.uid in owners for o in self.objects.values()):
            return  # its owner is gone: the garbage collector would take it at once
        observed = self.workloads.get(key)
        old_meta: Mapping[str, Any] = observed["metadata"] if observed else {}
        changed = observed is None or observed.get("spec") != manifest.get("spec")
        generation = int(old_meta.get("generation") or 0) + (1 if changed else 0)
        merged = {
            field: {**(old_meta.get(field) or {}), **(meta.get(field) or {})}
            for field in ("labels", "annotations")
        }
        doc = {
            **dict(manifest),
            "metadata": {
                **dict(meta),
                **{field: value for field, value in merged.items() if value},
                "uid": old_meta.get("uid") or stable_uid(key),
                "generation": generation,
                "resourceVersion": self._next_version(),
                "creationTimestamp": old_meta.get("creationTimestamp") or self.now,
            },
        }
        if observed is not None and "status" in observed and not changed:
            doc["status"] = observed["status"]
        self.workloads[key] = doc
        if changed:
            self._waiting.add(key)

    def _play_controllers(self) -> None:
        """KServe and the Gateway act on what was applied in an earlier round."""
        for key in sorted(self._waiting):
            doc = self.workloads.get(key)
            if doc is None:
                continue
            if key.kind == "InferenceService":
                doc["status"] = self._inference_service_status(doc)
            else:
                doc["status"] = _accepted(doc)
            doc["metadata"]["resourceVersion"] = self._next_version()
            self._touched.update(self._owners(doc))
        self._waiting.clear()

    def _inference_service_status(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        containers: list[dict[str, Any]] = doc["spec"]["predictor"].get("containers") or [{}]
        failure = self.start_failures(str(containers[0].get("image") or ""))
        generation = doc["metadata"]["generation"]
        if failure is None:
            ready = {"type": "Ready", "status": "True", "lastTransitionTime": self.now}
        else:
            ready = {"type": "Ready", "status": "False", "reason": "StartFailed", "message": failure,
                     "lastTransitionTime": self.now}
        return {"observedGeneration": generation, "conditions": [ready]}

    def _owners(self, doc: Mapping[str, Any]) -> list[ObjectKey]:
        uids = {ref.get("uid") for ref in doc["metadata"].get("ownerReferences") or ()}
        return [key for key, obj in self.objects.items() if obj.metadata.uid in uids]

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
        """The objects whose Jobs or workloads changed since the last call (what the watches of
        Jobs, InferenceServices and HTTPRoutes enqueue), once KServe and the Gateway have acted
        on what was applied since the last call."""
        self._play_controllers()
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
        owned = [k for k, doc in self.workloads.items()
                 if obj.metadata.uid in {r.get("uid") for r in doc["metadata"].get("ownerReferences") or ()}]
        for workload in owned:
            del self.workloads[workload]
            self._waiting.discard(workload)
            gone.append(workload)
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


def _accepted(route: Mapping[str, Any]) -> dict[str, Any]:
    """The Gateway's answer: every parent accepts the route and resolves its backend."""
    generation = route["metadata"]["generation"]
    parents = []
    for ref in route["spec"].get("parentRefs") or ():
        conditions = [
            {"type": kind, "status": "True", "reason": kind, "observedGeneration": generation}
            for kind in ("Accepted", "ResolvedRefs")
        ]
        parents.append({"parentRef": dict(ref), "controllerName": "aimcore.simulate/gateway",
                        "conditions": conditions})
    return {"parents": parents}
