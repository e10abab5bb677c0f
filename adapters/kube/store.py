"""The operator's view of the cluster: typed objects kept current by list and watch.

A `Store` applies ADDED/MODIFIED/DELETED events and whole re-lists, and reports what
changed so the operator can enqueue exactly the affected keys. A `Watcher` per kind
lists, watches from the list's resourceVersion, and re-lists when the watch breaks or
the server answers 410 Gone. Secrets are listed and watched as metadata only: the store
knows that a Secret exists and its labels, never its type, key names or values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.common.dependents import Change
from aimcore.adapters.common.log import Log
from aimcore.adapters.common.retry import Backoff
from aimcore.adapters.kube.api import ApiError, KindInfo, KubeApi, WatchStream, unclaimed
from aimcore.discoveryjob import (
    ContainerObservation,
    DiscoveryObservation,
    JobCondition,
    JobObservation,
    PodObservation,
    template_of,
)
from aimcore.facts import InspectResult
from aimcore.gpus import GpuInventory, gpu_inventory
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from aimcore.validation import check_document
from aimcore.workloads import WORKLOAD_KINDS, Workloads


def decode(doc: Mapping[str, Any]) -> tuple[r.Resource | None, str]:
    """A typed object from an API document, or None and why (never a Secret's values)."""
    meta = {k: v for k, v in (doc.get("metadata") or {}).items() if k != "managedFields"}
    if doc.get("kind") == "Secret":
        return codec.secret_from_manifest({"metadata": meta, "type": doc.get("type"),
                                           "data": doc.get("data"), "stringData": doc.get("stringData")}), ""
    clean = {**doc, "metadata": meta}
    checked = check_document(clean)
    if checked.obj is None and "status" in clean:
        # A status another operator wrote in a shape we do not know must not hide the object:
        # reconciling it rewrites the status anyway.
        checked = check_document({k: v for k, v in clean.items() if k != "status"})
    if checked.obj is None:
        return None, "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in checked.problems)
    return checked.obj, ""


def _newer(incoming: str | None, stored: str | None) -> bool:
    """Whether an event may replace what is stored: resourceVersions are opaque, but the
    API server's are increasing integers, and we use that only to drop stale events."""
    if not incoming or not stored:
        return True
    if incoming.isdigit() and stored.isdigit():
        return int(incoming) > int(stored)
    return incoming != stored


#: Kinds the store keeps as observations for the template reconciler and for services, not as
#: AIM objects.
OBSERVED_KINDS = ("Node", "Job", "Pod", *WORKLOAD_KINDS)
#: What the core reads of a workload (D29): its identity, labels, annotations, owners, spec, status.
_WORKLOAD_META = ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "annotations",
                  "ownerReferences")


@attrs.frozen
class Observed:
    """What one Node, Job or Pod event changed, for the operator to enqueue the templates it
    reaches: the template a discovery Job or Pod belongs to (and that Job, whose log may now be
    readable), or the GPU inventory before and after a Node's labels changed."""

    template: ObjectKey | None = None
    job: ObjectKey | None = None
    inventory: tuple[GpuInventory, GpuInventory] | None = None
    #: The AIMService that owns an InferenceService or HTTPRoute.
    service: ObjectKey | None = None
    #: A namespace whose AIMServices to reconcile: someone else's workload there appeared, went
    #: or changed owners (it may hold the name one of them needs).
    services_in: str | None = None
    #: A workload kind's CRD appeared or went: every service reads whether it is served.
    every_service: bool = False


def _service_owner(meta: Mapping[str, Any]) -> str | None:
    """The name of the AIMService that controls a workload, None for someone else's."""
    owner = next((ref for ref in meta.get("ownerReferences") or ()
                  if ref.get("controller") and ref.get("kind") == "AIMService"), None)
    return str(owner["name"]) if owner is not None else None


def _conditions(doc: Mapping[str, Any]) -> tuple[JobCondition, ...]:
    found = []
    for item in (doc.get("status") or {}).get("conditions") or ():
        try:
            status = r.ConditionStatus(str(item.get("status")))
        except ValueError:
            continue
        found.append(JobCondition(
            type=str(item.get("type") or ""), status=status,
            reason=str(item.get("reason") or ""), message=str(item.get("message") or ""),
        ))
    return tuple(found)


def job_observation(doc: Mapping[str, Any]) -> JobObservation:
    """What the template reconciler reads of a Job: identity, labels, age and its conditions."""
    meta = doc.get("metadata") or {}
    return JobObservation(
        name=str(meta.get("name") or ""), namespace=str(meta.get("namespace") or ""),
        uid=str(meta.get("uid") or ""), labels=dict(meta.get("labels") or {}),
        creation_timestamp=meta.get("creationTimestamp"), conditions=_conditions(doc),
    )


def _containers(statuses: Any) -> tuple[ContainerObservation, ...]:
    found = []
    for item in statuses or ():
        state = item.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated")
        found.append(ContainerObservation(
            name=str(item.get("name") or ""),
            waiting_reason=waiting.get("reason") if waiting else None,
            waiting_message=str(waiting.get("message") or ""),
            terminated_reason=str((terminated or {}).get("reason") or ""),
            terminated_message=str((terminated or {}).get("message") or ""),
            exit_code=int(terminated["exitCode"]) if terminated and "exitCode" in terminated else None,
        ))
    return tuple(found)


def pod_observation(doc: Mapping[str, Any]) -> PodObservation:
    """What the template reconciler reads of a discovery Pod: phase, readiness, container states."""
    meta, status = doc.get("metadata") or {}, doc.get("status") or {}
    conditions = status.get("conditions") or ()
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return PodObservation(
        name=str(meta.get("name") or ""), namespace=str(meta.get("namespace") or ""),
        labels=dict(meta.get("labels") or {}), phase=str(status.get("phase") or "Pending"), ready=ready,
        reason=str(status.get("reason") or ""), message=str(status.get("message") or ""),
        containers=_containers(status.get("containerStatuses")),
        init_containers=_containers(status.get("initContainerStatuses")),
    )


class Store:
    """Objects by key, and the resourceVersion each kind's list/watch has reached."""

    def __init__(self, log: Log | None = None, read_as: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        #: kind -> the apiVersion its objects are seen in. Every served version of an AIM kind
        #: has one schema, so an object's version is the reader's choice, not the object's.
        self._read_as = dict(read_as or {})
        self._objects: dict[ObjectKey, r.Resource] = {}
        self.versions: dict[str, str] = {}
        self._log = log or (lambda *a, **k: None)
        #: The last snapshot's indexes and what changed since: a snapshot is updated with
        #: the changes (rebuilt only when most of the store changed), so a reconcile costs
        #: what it touches, not a pass over the whole store.
        self._indexed: Snapshot | None = None
        self._pending: dict[ObjectKey, r.Resource | None] = {}
        #: Observations for the template reconciler: Node labels, discovery Jobs and Pods, and
        #: the output of finished Jobs (namespace, Job name, uid), which the operator fetches.
        self._nodes: dict[str, Mapping[str, str]] = {}
        self._jobs: dict[ObjectKey, JobObservation] = {}
        self._pods: dict[ObjectKey, PodObservation] = {}
        self._logs: dict[tuple[str, str, str], str] = {}
        #: Set once the Nodes were listed: until then no inventory is known (None, not empty).
        self._nodes_listed = False
        self._inventory: GpuInventory | None = None
        #: InferenceServices and HTTPRoutes by key, trimmed to what the core reads, and the
        #: workload kinds whose CRDs the API server does not serve.
        self._workloads: dict[ObjectKey, Mapping[str, Any]] = {}
        self._unserved: set[str] = set()
        #: Workloads with fields aimcore's create recorded for an "Update" manager (not claimed
        #: for server-side apply yet: `kubeapi.ownership_claim`).
        self._unclaimed: set[ObjectKey] = set()
        self._workload_view: Workloads | None = None
        #: What snapshots get of them, rebuilt only after one of them changed (not per reconcile).
        self._observed: tuple[Mapping[str, Mapping[str, str]] | None, DiscoveryObservation] | None = None

    def get(self, key: ObjectKey) -> r.Resource | None:
        with self._lock:
            return self._objects.get(key)

    def objects(self) -> list[r.Resource]:
        with self._lock:
            return list(self._objects.values())

    def all_keys(self) -> list[ObjectKey]:
        with self._lock:
            return sorted(self._objects)

    def observe(self, doc: Mapping[str, Any], gone: bool = False) -> Observed:
        """A Node, Job or Pod event (or a Job the operator just applied)."""
        kind = str(doc.get("kind") or "")
        meta = doc.get("metadata") or {}
        key = ObjectKey(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        with self._lock:
            if kind == "Node":
                return self._observe_node(key.name, None if gone else dict(meta.get("labels") or {}))
            if kind in WORKLOAD_KINDS:
                return self._observe_workload(key, doc, gone)
            self._observed = None
            labels: Mapping[str, str] = meta.get("labels") or {}
            job_key: ObjectKey | None
            if kind == "Job":
                if gone:
                    job = self._jobs.pop(key, None)
                    if job is not None:
                        self._logs.pop((job.namespace, job.name, job.uid), None)
                else:
                    self._jobs[key] = job_observation(doc)
                job_key = key
            elif kind == "Pod":
                if gone:
                    self._pods.pop(key, None)
                else:
                    self._pods[key] = pod_observation(doc)
                job_name = labels.get("job-name")
                job_key = ObjectKey("Job", key.namespace, job_name) if job_name else None
            else:
                return Observed()
        found = template_of(labels, key.namespace)
        return Observed(template=ObjectKey(*found) if found else None, job=job_key)

    def _observe_node(self, name: str, labels: Mapping[str, str] | None) -> Observed:
        """Only a change of labels is a change: Node status updates (heartbeats) are not."""
        if self._nodes.get(name) == labels:
            return Observed()
        self._observed = None
        before = self._inventory if self._inventory is not None else gpu_inventory(self._nodes.items())
        if labels is None:
            self._nodes.pop(name, None)
        else:
            self._nodes[name] = labels
        self._inventory = gpu_inventory(self._nodes.items())
        return Observed(inventory=(before, self._inventory)) if before != self._inventory else Observed()

    def _observe_workload(self, key: ObjectKey, doc: Mapping[str, Any], gone: bool) -> Observed:
        meta = doc.get("metadata") or {}
        before = self._workloads.get(key)
        if gone:
            if before is not None and meta.get("uid") and before["metadata"].get("uid") != meta.get("uid"):
                return Observed()  # an earlier object of the name: the one the operator made since stays
            self._workloads.pop(key, None)
            self._unclaimed.discard(key)
        elif before is not None and (before["metadata"].get("uid") == meta.get("uid")) and not _newer(
            meta.get("resourceVersion"), before["metadata"].get("resourceVersion")
        ):
            return Observed()  # an event older than what the operator already wrote and read back
        else:
            self._workloads[key] = {
                "apiVersion": doc.get("apiVersion"), "kind": key.kind,
                "metadata": {k: meta[k] for k in _WORKLOAD_META if k in meta},
                "spec": doc.get("spec") or {}, "status": doc.get("status") or {},
            }
            if unclaimed(doc):
                self._unclaimed.add(key)
            else:
                self._unclaimed.discard(key)
        self._workload_view = None
        owner = _service_owner(meta)
        if owner is not None:
            return Observed(service=ObjectKey("AIMService", key.namespace, owner))
        if before is None or gone or _service_owner(before["metadata"]) is not None:
            return Observed(services_in=key.namespace)  # someone else's appeared or went
        return Observed()  # someone else's changed: its status is nobody's business here

    def workload(self, key: ObjectKey) -> Mapping[str, Any] | None:
        with self._lock:
            return self._workloads.get(key)

    def needs_claim(self, key: ObjectKey) -> bool:
        """Whether the workload has fields recorded for aimcore's "Update" manager (its create's)."""
        with self._lock:
            return key in self._unclaimed

    def set_served(self, kind: str, served: bool) -> bool:
        """Record whether a workload kind's CRD is served; True when that changed."""
        with self._lock:
            if (kind not in self._unserved) == served:
                return False
            if served:
                self._unserved.discard(kind)
            else:
                self._unserved.add(kind)
                self._workloads = {k: v for k, v in self._workloads.items() if k.kind != kind}
                self._unclaimed = {k for k in self._unclaimed if k.kind != kind}
            self._workload_view = None
            return True

    def workloads(self) -> Workloads:
        """The workloads as snapshots get them, rebuilt only after one changed."""
        with self._lock:
            if self._workload_view is None:
                self._workload_view = Workloads.of(
                    self._workloads.values(),
                    kserve_installed="InferenceService" not in self._unserved,
                    gateway_api_installed="HTTPRoute" not in self._unserved,
                )
            return self._workload_view

    def job(self, key: ObjectKey) -> JobObservation | None:
        with self._lock:
            return self._jobs.get(key)

    def succeeded_pod(self, job: JobObservation) -> PodObservation | None:
        """The first (by name) Succeeded Pod of a Job: the one whose log says what discovery found."""
        with self._lock:
            pods = sorted(
                (p for k, p in self._pods.items()
                 if k.namespace == job.namespace and p.labels.get("job-name") == job.name),
                key=lambda p: p.name,
            )
        return next((p for p in pods if p.phase == "Succeeded"), None)

    def has_log(self, job: JobObservation) -> bool:
        with self._lock:
            return (job.namespace, job.name, job.uid) in self._logs

    def record_log(self, job: JobObservation, text: str) -> None:
        """The output of a finished discovery Job, read from its Pod (the log seam)."""
        with self._lock:
            self._observed = None
            self._logs[(job.namespace, job.name, job.uid)] = text

    def observed(self) -> tuple[Mapping[str, Mapping[str, str]] | None, DiscoveryObservation]:
        """Node labels and the discovery observations, as snapshots get them."""
        with self._lock:
            if self._observed is None:
                pods: dict[tuple[str, str], list[PodObservation]] = {}
                for key in sorted(self._pods):
                    pod = self._pods[key]
                    job = pod.labels.get("job-name")
                    if job:
                        pods.setdefault((pod.namespace, job), []).append(pod)
                discovery = DiscoveryObservation(
                    jobs=tuple(self._jobs[k] for k in sorted(self._jobs)),
                    pods={k: tuple(v) for k, v in pods.items()},
                    logs=dict(self._logs),
                )
                self._observed = (dict(self._nodes) if self._nodes_listed else None, discovery)
            return self._observed

    def upsert(self, doc: Mapping[str, Any]) -> Change | None:
        """An ADDED/MODIFIED event, or an object the operator just wrote (write-through)."""
        version = self._read_as.get(str(doc.get("kind") or ""))
        if version is not None:
            doc = {**doc, "apiVersion": version}
        obj, why = decode(doc)
        if obj is None:
            meta = doc.get("metadata") or {}
            self._log("warning", "object ignored: it does not decode", kind=doc.get("kind"),
                      namespace=meta.get("namespace"), name=meta.get("name"), problem=why)
            return None
        key = ObjectKey.of(obj)
        with self._lock:
            before = self._objects.get(key)
            if before is not None and not _newer(obj.metadata.resource_version,
                                                 before.metadata.resource_version):
                return None
            self._objects[key] = obj
            self._pending[key] = obj
        return Change(key, before, obj)

    def remove(self, doc: Mapping[str, Any]) -> Change | None:
        meta = doc.get("metadata") or {}
        info_kind = str(doc.get("kind") or "")
        key = ObjectKey(info_kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        with self._lock:
            before = self._objects.get(key)
            uid = meta.get("uid")
            if before is None or (uid and before.metadata.uid and before.metadata.uid != uid):
                return None
            del self._objects[key]
            self._pending[key] = None
        return Change(key, before, None)

    def forget(self, key: ObjectKey) -> Change | None:
        """The operator deleted `key` itself."""
        with self._lock:
            before = self._objects.pop(key, None)
            self._pending[key] = None
        return Change(key, before, None) if before is not None else None

    def replace_kind(
        self, info: KindInfo, docs: Iterable[Mapping[str, Any]], resource_version: str,
        namespace: str | None = None,
    ) -> list[Change]:
        """A fresh list: upsert what it has, remove what it lacks (in its scope)."""
        changes: list[Change] = []
        seen: set[ObjectKey] = set()
        for doc in docs:
            change = self.upsert({**doc, "kind": info.kind})
            meta = doc.get("metadata") or {}
            seen.add(ObjectKey(info.kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")))
            if change is not None:
                changes.append(change)
        with self._lock:
            stale = [
                k for k in self._objects
                if k.kind == info.kind and k not in seen and (namespace is None or k.namespace == namespace)
            ]
            for key in stale:
                changes.append(Change(key, self._objects.pop(key), None))
                self._pending[key] = None
            self.versions[info.kind] = resource_version
        return changes

    def replace_observed(
        self, info: KindInfo, docs: Iterable[Mapping[str, Any]], namespace: str | None = None
    ) -> list[Observed]:
        """A fresh list of Nodes, Jobs or Pods: observe what it has, forget what it lacks."""
        if info.kind == "Node":
            return [self._replace_nodes(docs)]
        found: list[Observed] = []
        seen: set[ObjectKey] = set()
        for doc in docs:
            doc = {**doc, "kind": info.kind}
            found.append(self.observe(doc))
            meta = doc.get("metadata") or {}
            seen.add(ObjectKey(info.kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")))
        with self._lock:
            if info.kind in WORKLOAD_KINDS:
                gone = [dict(doc) for k, doc in self._workloads.items()
                        if k.kind == info.kind and k not in seen and namespace in (None, k.namespace)]
            else:
                table: Mapping[ObjectKey, JobObservation | PodObservation] = (
                    self._jobs if info.kind == "Job" else self._pods
                )
                gone = [
                    {"kind": k.kind, "metadata": {"name": k.name, "namespace": k.namespace,
                                                  "labels": dict(table[k].labels)}}
                    for k in table if k not in seen and namespace in (None, k.namespace)
                ]
        found.extend(self.observe(doc, gone=True) for doc in gone)
        return found

    def _replace_nodes(self, docs: Iterable[Mapping[str, Any]]) -> Observed:
        """All Nodes at once: the inventory is computed twice, not once per Node."""
        nodes: dict[str, Mapping[str, str]] = {}
        for doc in docs:
            meta = doc.get("metadata") or {}
            nodes[str(meta.get("name") or "")] = dict(meta.get("labels") or {})
        with self._lock:
            before = self._inventory if self._nodes_listed and self._inventory is not None else None
            self._nodes = nodes
            self._nodes_listed = True
            self._observed = None
            self._inventory = gpu_inventory(nodes.items())
            after = self._inventory
        # The first list reaches every template that reads the inventory, as if all GPUs appeared.
        return Observed(inventory=(before or GpuInventory(), after)) if before != after else Observed()

    def snapshot(
        self,
        facts: Mapping[InspectKey, InspectResult],
        *,
        now: str,
        operator_namespace: str,
        gpus: Iterable[str] | None = None,
    ) -> Snapshot:
        with self._lock:
            indexed = self._indexed
            if indexed is None or len(self._pending) > len(self._objects) // 4:
                indexed = Snapshot.build(self._objects.values())
            elif self._pending:
                indexed = indexed.with_changes(self._pending)
            self._indexed = indexed
            self._pending = {}
        nodes, discovery = self.observed()
        workloads = self.workloads()
        return attrs.evolve(
            indexed,
            image_facts=dict(facts),
            operator_namespace=operator_namespace,
            now=now,
            gpus=frozenset(gpus) if gpus is not None else None,
            nodes=nodes,
            discovery=discovery,
            workloads=workloads,
        )


class Gone(Exception):
    """The watch's resourceVersion is too old (410): only a re-list can resume."""


class Watcher:
    """List then watch one kind, for ever; re-list on a broken watch or 410 Gone."""

    def __init__(
        self,
        api: KubeApi,
        info: KindInfo,
        store: Store,
        on_change: Callable[[list[Change]], None],
        *,
        namespace: str | None = None,
        backoff: Backoff | None = None,
        watch_timeout: int = 300,
        log: Log | None = None,
        on_observed: Callable[[list[Observed]], None] | None = None,
        absent_recheck: float = 30.0,
    ) -> None:
        self.api = api
        self.info = info
        self.store = store
        self.on_change = on_change
        self.on_observed = on_observed or (lambda observed: None)
        self.observing = info.kind in OBSERVED_KINDS
        #: Seconds between lists of an optional kind that is not served, to notice its CRD arrive.
        self.absent_recheck = absent_recheck
        self.namespace = namespace
        self.backoff = backoff or Backoff()
        self.watch_timeout = watch_timeout
        self.log = log or (lambda *a, **k: None)
        self.synced = threading.Event()
        self.lists = 0
        self._stop = threading.Event()
        self._stream: WatchStream | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{info.kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._list()
                failures = 0
                while not self._stop.is_set():
                    version = self._watch(version)
            except Gone:
                self.log("info", "watch expired (410 Gone): re-listing", kind=self.info.kind)
            except Exception as err:  # ApiError, or a bug downstream: re-list rather than die
                if self._stop.is_set():
                    return
                if isinstance(err, ApiError) and err.status == 404 and self.info.optional:
                    if self.store.set_served(self.info.kind, False):
                        self.log("warning", "kind not served: its CRD is not installed; services say so",
                                 kind=self.info.kind, api_version=self.info.api_version)
                        self.on_observed([Observed(every_service=True)])
                    self.synced.set()
                    self._stop.wait(self.absent_recheck)
                    continue
                if isinstance(err, ApiError) and err.status == 404:
                    self.log("error", "kind not served: are the CRDs installed? (aimcore crds | kubectl "
                             "apply -f -)", kind=self.info.kind, error=str(err))
                else:
                    self.log("warning", "watch broken: re-listing", kind=self.info.kind,
                             error=str(err) if isinstance(err, ApiError) else f"{type(err).__name__}: {err}")
                self._stop.wait(self.backoff.delay(failures))
                failures += 1

    def _list(self) -> str:
        items, version = self.api.list(self.info, self.namespace)
        self.lists += 1
        if self.info.optional and self.store.set_served(self.info.kind, True):
            self.log("info", "kind served: its CRD is installed", kind=self.info.kind)
            self.on_observed([Observed(every_service=True)])
        if self.observing:
            self.on_observed(self.store.replace_observed(self.info, items, self.namespace))
        else:
            self.on_change(self.store.replace_kind(self.info, items, version, self.namespace))
        self.synced.set()
        return version

    def _watch(self, version: str) -> str:
        stream = self.api.watch(self.info, self.namespace, version, self.watch_timeout)
        self._stream = stream
        for event in stream:
            if self._stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone()
                raise ApiError(int(obj.get("code") or 0), str(obj.get("reason")), str(obj.get("message")))
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            self.store.versions[self.info.kind] = version
            if kind == "BOOKMARK":
                continue
            doc = {**obj, "kind": self.info.kind}
            if self.observing:
                self.on_observed([self.store.observe(doc, gone=kind == "DELETED")])
                continue
            change = self.store.remove(doc) if kind == "DELETED" else self.store.upsert(doc)
            if change is not None:
                self.on_change([change])
        return version
