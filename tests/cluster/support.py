"""Helpers of the real-cluster tests: running the operator, playing absent controllers, comparing state.

No kubelet, Job controller or KServe runs beside the control plane, so no discovery Job would
ever run. `JobRunner` plays them for discovery Jobs only: it makes each Job's Pod and writes both
finished through the real status subresources, and supplies what the Pod printed at the
operator's log-reading seam (`Operator(read_log=...)`), answering as `aimcore simulate` answers.
The templates themselves are reconciled by aimcore's operator, as in production.

Nor does KServe or a Gateway controller run: `KServe` plays both for the InferenceServices and
HTTPRoutes aimcore creates (on the stand-in CRDs of `workload_crds`), writing their status
through the status subresource as those controllers would, Ready or not as a test asks.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.cli.main import main as cli_main
from aimcore.adapters.common.jobrunner import discovery_log
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.kube.api import (
    AIM_KINDS,
    DISCOVERY_JOBS,
    HTTP_ROUTES,
    INFERENCE_SERVICES,
    JOBS,
    PODS,
    SECRETS,
    ApiError,
    Backoff,
    KindInfo,
    KubeApi,
    WatchStream,
)
from aimcore.adapters.kube.operator import (
    JsonLog,
    Operator,
    Settings,
    add_operator_arguments,
    operator_command,
)
from aimcore.crds import crds
from aimcore.discoveryjob import JobObservation, template_of
from aimcore.facts import InspectResult
from aimcore.snapshot import InspectKey
from tests.cluster.fixtures import GPU_NODES, NAMESPACES, KubeCluster, wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST = Backoff(base=0.01, cap=0.2, attempts=6)
#: The README's main command, as simulate arguments.
README_CATALOG = [
    "fixtures/spec/02-cluster-model-with-discovery.yaml",
    "fixtures/spec/03-namespace-model-without-discovery.yaml",
    "fixtures/spec/04-private-image.yaml",
    "fixtures/catalog",
]
#: What the API server fills in or owns; never compared.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
CATALOG_FACTS = "fixtures/catalog.imagefacts"
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
#: The two templates fixtures/catalog.imagefacts recommends for QWEN, in a namespace model.
QWEN_TEMPLATES = [
    "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-6589",
    "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-44f1",
]
MODELS = AIM_KINDS["AIMModel"]
CLUSTER_MODELS = AIM_KINDS["AIMClusterModel"]
TEMPLATES = AIM_KINDS["AIMServiceTemplate"]
CLUSTER_TEMPLATES = AIM_KINDS["AIMClusterServiceTemplate"]
AIM_RESOURCES = frozenset(info.plural for info in AIM_KINDS.values())
#: The workloads services own (D29): every one of the kind, not only those the operator watches.
WORKLOADS: Mapping[str, KindInfo] = {
    info.kind: attrs.evolve(info, selector=None) for info in (INFERENCE_SERVICES, HTTP_ROUTES)
}
#: What the operator writes besides its Lease: AIM objects, discovery Jobs and services' workloads.
OPERATOR_RESOURCES = AIM_RESOURCES | {"jobs"} | {info.plural for info in WORKLOADS.values()}


class FactsInspector:
    """Answers inspections from an image facts file and remembers what was asked."""

    def __init__(self, path: str) -> None:
        self.facts, problems = load_image_facts(str(ROOT / path))
        assert problems == []
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        with self._lock:
            self.asked.extend(k.image for k in keys)
        return {k: self.facts.inspect(k) for k in keys}


@contextlib.contextmanager
def running_operator(
    kube: KubeCluster, inspector: Any, identity: str = "op", logs: io.StringIO | None = None,
    read_log: Callable[[JobObservation, str], str] | None = None, api: KubeApi | None = None,
    **settings: Any,
) -> Iterator[Operator]:
    """The operator's watch loop in a thread of this process, against the real API server, as the
    admin (or as `api`'s user). `read_log` is the discovery-log seam (a JobRunner's, where no
    kubelet keeps logs)."""
    options: dict[str, Any] = {"leader_election": False, "backoff": FAST, "retry_base": 0.05}
    options.update(settings)
    sink = logs if logs is not None else io.StringIO()
    client = api or kube.api(f"aimcore/{identity}")
    operator = Operator(client, inspector, Settings(identity=identity, **options), JsonLog(sink, "debug"),
                        read_log=read_log)
    stop = threading.Event()
    thread = threading.Thread(target=operator.run, args=(stop,), name=f"operator-{identity}")
    thread.start()
    try:
        yield operator
    except BaseException:
        print(sink.getvalue()[-8000:], file=sys.stderr)  # the operator's side of a failure
        raise
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def settle(operator: Operator, timeout: float = 60.0) -> None:
    """Wait until the operator has nothing queued or in flight, twice in a row a moment apart."""
    def idle_twice() -> bool:
        if not operator.idle():
            return False
        threading.Event().wait(0.3)  # events of our own writes may still be on the wire
        return operator.idle()

    wait_for(idle_twice, timeout, "the operator to go idle")


def once(kube: KubeCluster, *argv: str, kubeconfig: Path | None = None) -> int:
    """`aimcore operator --once ...` in this process."""
    parser = argparse.ArgumentParser(prog="aimcore operator")
    add_operator_arguments(parser)
    args = parser.parse_args(["--kubeconfig", str(kubeconfig or kube.kubeconfig), "--once", *argv])
    return operator_command(args)


@contextlib.contextmanager
def operator_process(kubeconfig: Path, *argv: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`aimcore operator` as its own process (stderr to `log`); SIGTERM and wait at the end."""
    command = [sys.executable, "-c", "import sys; from aimcore.adapters.cli.main import main; sys.exit(main())",
               "operator", "--kubeconfig", str(kubeconfig), *argv]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, cwd=ROOT, stderr=sink, stdout=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


class GatedApi(KubeApi):
    """A client that counts the watches it opens and can hold the next one at a gate, so a test
    can keep a watcher between two watches (its last resourceVersion in hand) while the cluster
    moves on."""

    def __init__(self, inner: KubeApi) -> None:
        super().__init__(inner.client, request_timeout=inner.request_timeout)
        self.gate = threading.Event()
        self.gate.set()
        self.watches = 0
        self.waiting = 0
        self._lock = threading.Lock()

    def watch(self, *args: Any, **kwargs: Any) -> WatchStream:
        if not self.gate.is_set():
            with self._lock:
                self.waiting += 1
            self.gate.wait()
            with self._lock:
                self.waiting -= 1
        with self._lock:
            self.watches += 1
        return super().watch(*args, **kwargs)


class JobRunner:
    """Plays the Job controller and the kubelet for discovery Jobs (see the module docstring).

    For each unfinished discovery Job it creates the Pod the Job controller would (labels, owner,
    the pod template's spec), writes the Pod Succeeded and the Job Complete through their status
    subresources, and keeps what the Pod printed for the operator's log seam (`read_log`): the
    answer `aimcore simulate` gives (`aimcore.adapters.common.jobrunner`, from the image facts' dryRun entries).
    A Job answered from the template's own spec gets the simulated label, as in simulate.
    """

    def __init__(self, api: KubeApi, facts: str | None = CATALOG_FACTS, *, hold: bool = False) -> None:
        self.api = api
        self.dry_run = load_image_facts(str(ROOT / facts))[0].dry_run if facts else (lambda image: None)
        self.logs: dict[tuple[str, str], str] = {}
        self.reads: list[tuple[str, str, str]] = []
        #: While set, Jobs are left running (no Pod, no completion): a test can look at them first.
        self.hold = hold
        self._lock = threading.Lock()

    def read_log(self, job: JobObservation, pod: str) -> str:
        """The operator's log seam: what the Pod printed (404 for a Pod this runner never ran)."""
        namespace = job.namespace
        with self._lock:
            self.reads.append((namespace, job.name, pod))
            text = self.logs.get((namespace, pod))
        if text is None:
            raise ApiError(404, "NotFound", f'pods "{pod}" not found')
        return text

    def step(self) -> int:
        """Run every unfinished discovery Job to completion; how many were run."""
        if self.hold:
            return 0
        ran = 0
        for job in self.api.list(DISCOVERY_JOBS)[0]:
            conditions = (job.get("status") or {}).get("conditions") or ()
            if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions):
                continue
            with contextlib.suppress(ApiError):  # its template went meanwhile: the Job goes too
                self._run(job)
                ran += 1
        return ran

    def _template(self, job: Mapping[str, Any]) -> r.Template:
        meta = job["metadata"]
        found = template_of(meta.get("labels") or {}, meta["namespace"])
        assert found is not None, f"not a discovery Job: {meta['name']}"
        kind, namespace, name = found
        doc = self.api.get(AIM_KINDS[kind], namespace or None, name)
        template = codec.load(r.KINDS[kind], {**doc, "kind": kind})
        assert isinstance(template, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
        return template

    def _run(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        pod_template = job["spec"]["template"]
        image = pod_template["spec"]["containers"][0]["image"]
        log = discovery_log(self._template(job), self.dry_run(image))
        if log.from_spec:
            labels = {**meta.get("labels", {}), **log.labels()}
            self.api.replace(JOBS, {**job, "metadata": {**meta, "labels": labels}})
        pod_name = f"{name}-run"
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        pod_labels = {**(pod_template["metadata"].get("labels") or {}), "job-name": name,
                      "batch.kubernetes.io/job-name": name}
        with contextlib.suppress(ApiError):  # already made by an earlier step
            self.api.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": pod_name, "namespace": namespace, "labels": pod_labels, "ownerReferences": [owner],
            }, "spec": pod_template["spec"]})
        with self._lock:
            self.logs[(namespace, pod_name)] = log.text
        at = "2026-03-01T09:59:30Z"
        terminated = {"exitCode": 0, "reason": "Completed", "startedAt": "2026-03-01T09:59:05Z",
                      "finishedAt": at}
        self._status(PODS, namespace, pod_name, {"phase": "Succeeded", "containerStatuses": [{
            "name": "discovery", "image": image, "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": terminated}}]})
        reached = {"status": "True", "reason": "CompletionsReached",
                   "message": "Reached expected number of succeeded pods",
                   "lastTransitionTime": at, "lastProbeTime": at}
        self._status(JOBS, namespace, name, {
            "startTime": "2026-03-01T09:59:00Z", "completionTime": at, "succeeded": 1,
            "conditions": [{"type": "SuccessCriteriaMet", **reached}, {"type": "Complete", **reached}],
        })

    def _status(self, info: KindInfo, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        body = {"status": status}
        self.api._call("PATCH", info.path(namespace, name, "status"), query=[("fieldManager", "job-runner")],
                       body=body, content_type="application/merge-patch+json")

    def run(self, stop: threading.Event, interval: float = 0.1) -> None:
        while not stop.wait(interval):
            with contextlib.suppress(ApiError):
                self.step()


@contextlib.contextmanager
def job_runner(api: KubeApi, **options: Any) -> Iterator[JobRunner]:
    """The Job runner's part, played in a background thread."""
    with running_job_runner(JobRunner(api, **options)) as runner:
        yield runner


@contextlib.contextmanager
def running_job_runner(runner: JobRunner) -> Iterator[JobRunner]:
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(10)


class KServe:
    """Plays KServe and a Gateway controller for InferenceServices and HTTPRoutes.

    `step` marks every InferenceService whose status does not answer its current generation yet:
    `status.observedGeneration` and a `Ready` condition, True, or False with the reason and message
    of `not_ready` for the names a test put there; and every HTTPRoute whose `status.parents` do
    not answer its current parentRefs and generation: Accepted and ResolvedRefs True for each, as
    `controller`. Everything goes through the status subresource (field manager "kserve"). While
    `hold` is set nothing is marked; `routes=False` leaves HTTPRoutes alone.
    """

    def __init__(self, api: KubeApi, *, hold: bool = False, routes: bool = True,
                 controller: str = "tests/gateway", at: str = "2026-03-01T10:00:00Z") -> None:
        self.api = api
        self.hold = hold
        self.routes = routes
        self.controller = controller
        self.at = at
        #: (namespace, InferenceService name) -> (reason, message) of its Ready=False.
        self.not_ready: dict[tuple[str, str], tuple[str, str]] = {}
        #: "Kind namespace/name" of every object marked, in order.
        self.marked: list[str] = []
        self._lock = threading.Lock()

    def mark_not_ready(self, namespace: str, name: str, reason: str = "RevisionFailed",
                       message: str = "container kserve-container is waiting: CrashLoopBackOff") -> None:
        with self._lock:
            self.not_ready[(namespace, name)] = (reason, message)

    def mark_ready(self, namespace: str, name: str) -> None:
        with self._lock:
            self.not_ready.pop((namespace, name), None)

    def step(self) -> int:
        """Mark every InferenceService and HTTPRoute not marked as it should be; how many were."""
        if self.hold:
            return 0
        marked = 0
        for doc in self.api.list(WORKLOADS["InferenceService"])[0]:
            marked += self._mark(WORKLOADS["InferenceService"], doc, self.isvc_status(doc))
        if self.routes:
            for doc in self.api.list(WORKLOADS["HTTPRoute"])[0]:
                marked += self._mark(WORKLOADS["HTTPRoute"], doc, self.route_status(doc))
        return marked

    def isvc_status(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        meta = doc["metadata"]
        with self._lock:
            failing = self.not_ready.get((meta["namespace"], meta["name"]))
        ready: dict[str, Any] = {"type": "Ready", "status": "True"}
        if failing is not None:
            ready = {"type": "Ready", "status": "False", "reason": failing[0], "message": failing[1]}
        return {"observedGeneration": meta.get("generation"),
                "conditions": [{**ready, "lastTransitionTime": self.at}]}

    def route_status(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        generation = doc["metadata"].get("generation")
        return {"parents": [
            {"parentRef": dict(ref), "controllerName": self.controller, "conditions": [
                {"type": kind, "status": "True", "reason": kind, "observedGeneration": generation,
                 "lastTransitionTime": self.at} for kind in ("Accepted", "ResolvedRefs")]}
            for ref in (doc.get("spec") or {}).get("parentRefs") or ()]}

    def _mark(self, info: KindInfo, doc: Mapping[str, Any], status: dict[str, Any]) -> int:
        if doc.get("status") == status:
            return 0
        meta = doc["metadata"]
        with contextlib.suppress(ApiError):  # gone meanwhile
            # A merge patch replaces lists whole: the status is exactly `status` afterwards.
            self.api._call("PATCH", info.path(meta["namespace"], meta["name"], "status"),
                           query=[("fieldManager", "kserve")], body={"status": {**_nulls(doc), **status}},
                           content_type="application/merge-patch+json")
            with self._lock:
                self.marked.append(f"{info.kind} {meta['namespace']}/{meta['name']}")
            return 1
        return 0

    def run(self, stop: threading.Event, interval: float = 0.1) -> None:
        while not stop.wait(interval):
            with contextlib.suppress(ApiError):
                self.step()


def _nulls(doc: Mapping[str, Any]) -> dict[str, None]:
    """Status fields the new status lacks, removed by the merge patch."""
    return dict.fromkeys(doc.get("status") or {})


@contextlib.contextmanager
def kserve(api: KubeApi, **options: Any) -> Iterator[KServe]:
    """KServe's and the Gateway's part, played in a background thread."""
    with running_kserve(KServe(api, **options)) as player:
        yield player


@contextlib.contextmanager
def running_kserve(player: KServe) -> Iterator[KServe]:
    stop = threading.Event()
    thread = threading.Thread(target=player.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield player
    finally:
        stop.set()
        thread.join(10)


# --- manifests and simulate ------------------------------------------------------------------


def simulate(paths: Iterable[str], images: str, *extra: str) -> dict[str, Any]:
    """`aimcore simulate -o json` over fixtures, with the session's Nodes (as `kubectl get nodes
    -o yaml` would print them) so that GPU availability is the cluster's; exit code 0."""
    out, err = io.StringIO(), io.StringIO()
    nodes = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
        for name, labels in GPU_NODES.items()]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as listing:
        json.dump(nodes, listing)
        listing.flush()
        argv = ["simulate", *(str(ROOT / p) for p in paths), listing.name, "--images", str(ROOT / images),
                "-o", "json", *extra]
        code = cli_main(argv, out, err)
    assert code == 0, err.getvalue()
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def info_of(doc: Mapping[str, Any]) -> KindInfo:
    kind = str(doc["kind"])
    return SECRETS if kind == "Secret" else WORKLOADS.get(kind) or AIM_KINDS[kind]


def ensure_namespaces(api: KubeApi, names: Iterable[str]) -> None:
    for name in sorted(set(names)):
        try:
            api.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        except ApiError as err:
            if err.status != 409:
                raise


def create_all(api: KubeApi, docs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Create manifests as a user would (`kubectl create`): namespaces first, no status."""
    docs = list(docs)
    ensure_namespaces(api, [d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")])
    created = []
    for doc in docs:
        body = {k: v for k, v in doc.items() if k != "status"}
        created.append(api.create(info_of(doc), body, field_validation="Strict"))
    return created


def aim_state(api: KubeApi, namespaces: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every AIM object (in `namespaces`, and every cluster-scoped one) by "Kind ns/name"."""
    wanted = set(namespaces) if namespaces is not None else None
    state: dict[str, dict[str, Any]] = {}
    for kind, info in AIM_KINDS.items():
        for doc in api.list(info)[0]:
            namespace = doc["metadata"].get("namespace") or ""
            if wanted is not None and namespace and namespace not in wanted:
                continue
            state[f"{kind} {namespace}/{doc['metadata']['name']}"] = {**doc, "kind": kind}
    return state


def workload_state(api: KubeApi, namespaces: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every InferenceService and HTTPRoute (in `namespaces`), anyone's, by "Kind ns/name"."""
    wanted = set(namespaces) if namespaces is not None else None
    return {
        f"{kind} {doc['metadata']['namespace']}/{doc['metadata']['name']}": {**doc, "kind": kind}
        for kind, info in WORKLOADS.items() for doc in api.list(info)[0]
        if wanted is None or doc["metadata"]["namespace"] in wanted
    }


def workload_comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What aimcore decides of an InferenceService or HTTPRoute: its identity, labels, annotations,
    ownerReferences (without the owner's server-made uid) and spec; never its status, which
    KServe or the Gateway writes (here the test's players, in simulate the in-memory cluster's)."""
    meta = doc["metadata"]
    kept: dict[str, Any] = {k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels", "annotations",
                                                                "ownerReferences") if meta.get(k)}
    for ref in kept.get("ownerReferences") or ():
        ref.pop("uid", None)
    return {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": kept,
            "spec": copy.deepcopy(doc.get("spec"))}


def key_of(doc: Mapping[str, Any]) -> str:
    meta = doc["metadata"]
    return f"{doc['kind']} {meta.get('namespace') or ''}/{meta['name']}"


def comparable(original: Mapping[str, Any]) -> dict[str, Any]:
    """An object without what the server or the clock decides: server metadata, the uids of
    owners and of objects a status refers to, condition transition times (and the order
    conditions were first written in), and the version it was read in."""
    doc: dict[str, Any] = copy.deepcopy(dict(original))
    doc.pop("apiVersion", None)
    meta = doc.get("metadata") or {}
    for field in SERVER_METADATA:
        meta.pop(field, None)
    for ref in meta.get("ownerReferences") or ():
        ref.pop("uid", None)
        ref.pop("apiVersion", None)
    for field in ("labels", "annotations"):
        if not meta.get(field):
            meta.pop(field, None)
    status = doc.get("status")
    if isinstance(status, dict) and isinstance(status.get("conditions"), list):
        # A list keyed by type: server-side apply keeps the order conditions first appeared in.
        for cond in status["conditions"]:
            cond.pop("lastTransitionTime", None)
        status["conditions"] = sorted(status["conditions"], key=lambda c: str(c.get("type")))
    if isinstance(status, dict):
        _drop_uids(status)  # references to other objects carry their (server-made) uids
    return doc


def _drop_uids(value: Any) -> None:
    if isinstance(value, dict):
        value.pop("uid", None)
        for item in value.values():
            _drop_uids(item)
    elif isinstance(value, list):
        for item in value:
            _drop_uids(item)


def with_defaults(doc: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` with the defaults its CRD's schema declares filled in, as the API server fills them."""
    kind = doc["kind"]
    version = str(doc["apiVersion"]).rsplit("/", 1)[-1]
    if kind in WORKLOADS:
        return copy.deepcopy(dict(doc))  # the stand-in CRDs declare no defaults
    for crd in crds():
        if crd["spec"]["names"]["kind"] == kind:
            for served in crd["spec"]["versions"]:
                if served["name"] == version:
                    result = copy.deepcopy(dict(doc))
                    _default(served["schema"]["openAPIV3Schema"], result)
                    return result
    raise AssertionError(f"no CRD serves {kind} {version}")


def _default(schema: Mapping[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _default(sub, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value:
                if name not in properties:
                    _default(extra, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


def audit_writes(
    kube: KubeCluster, agent_prefix: str, resources: Iterable[str] | None = OPERATOR_RESOURCES,
    namespaces: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """The write requests the API server recorded for clients whose user agent starts so
    (of `resources`, in `namespaces` and cluster-scoped, when those are given)."""
    plane = kube.need_plane()
    wanted = set(resources) if resources is not None else None
    scope = set(namespaces) | {""} if namespaces is not None else None
    return [
        event for event in plane.audit()
        if event.get("verb") in WRITE_VERBS
        and str(event.get("userAgent") or "").startswith(agent_prefix)
        and (wanted is None or (event.get("objectRef") or {}).get("resource") in wanted)
        and (scope is None or (event.get("objectRef") or {}).get("namespace", "") in scope)
    ]


def write_summary(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str, str, int]]:
    """(verb, resource[/subresource], namespace, name, code) per recorded write."""
    rows = []
    for event in events:
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "")
        if ref.get("subresource"):
            resource += "/" + ref["subresource"]
        rows.append((event["verb"], resource, ref.get("namespace", ""), ref.get("name", ""),
                     int((event.get("responseStatus") or {}).get("code") or 0)))
    return rows


def on_failure_dump(kube: KubeCluster) -> Callable[[], str]:
    return lambda: kube.plane.logs() if kube.plane else ""


def differences(expected: Any, observed: Any, path: str = "") -> list[str]:
    """Where two documents differ, one line per field: `path: expected != observed`."""
    if isinstance(expected, dict) and isinstance(observed, dict):
        out: list[str] = []
        for key in sorted(expected.keys() | observed.keys(), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in observed:
                out.append(f"{sub}: missing (expected {json.dumps(expected[key])[:200]})")
            elif key not in expected:
                out.append(f"{sub}: unexpected {json.dumps(observed[key])[:200]}")
            else:
                out.extend(differences(expected[key], observed[key], sub))
        return out
    if isinstance(expected, list) and isinstance(observed, list) and len(expected) == len(observed):
        return [line for i, (a, b) in enumerate(zip(expected, observed, strict=True))
                for line in differences(a, b, f"{path}[{i}]")]
    if expected != observed:
        return [f"{path}: {json.dumps(expected)[:200]} != {json.dumps(observed)[:200]}"]
    return []


VAPS = KindInfo("ValidatingAdmissionPolicy", "admissionregistration.k8s.io", "v1",
                "validatingadmissionpolicies", False)
VAP_BINDINGS = KindInfo("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io", "v1",
                        "validatingadmissionpolicybindings", False)


@contextlib.contextmanager
def refused_writes(api: KubeApi, info: KindInfo, namespace: str, message: str) -> Iterator[None]:
    """Make the real API server refuse every create and update of `info` in `namespace` with
    422 Invalid and `message` (a ValidatingAdmissionPolicy, as a cluster admin's policy would),
    until the block ends. A permanent error produced on demand, by the server itself."""
    name = f"refuse-{info.plural}-{namespace}"
    api.create(VAPS, {
        "apiVersion": VAPS.api_version, "kind": VAPS.kind, "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [info.group], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                "resources": [info.plural]}]},
            "validations": [{"expression": "false", "message": message, "reason": "Invalid"}],
        },
    })
    api.create(VAP_BINDINGS, {
        "apiVersion": VAP_BINDINGS.api_version, "kind": VAP_BINDINGS.kind, "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}},
    })
    probe = {"apiVersion": info.api_version, "kind": info.kind,
             "metadata": {"name": "policy-probe", "namespace": namespace}, "spec": {"modelName": "probe"}}

    def refused() -> bool:
        try:
            api.create(info, probe, dry_run=True)
        except ApiError as err:
            return err.status == 422
        return False

    try:
        wait_for(refused, 30, f"the policy refusing {info.plural}")
        yield
    finally:
        for kind in (VAP_BINDINGS, VAPS):
            with contextlib.suppress(ApiError):
                api.delete(kind, None, name, None)
        wait_for(lambda: not refused(), 30, f"the policy on {info.plural} to be gone")
