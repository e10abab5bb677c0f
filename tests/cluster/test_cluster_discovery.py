"""The template reconciler's adapter pieces on a real API server, one by one: Nodes read as
metadata, the discovery Job applied exactly as planned, its status read back, the template's new
status fields accepted by the CRDs, and the log seam.

No kubelet runs, so no Pod ever starts. The test plays the Job runner: it writes the Job's
finished status itself and supplies the Pod's log at the one seam where the operator would
fetch it (`Store.record_log`, fed from `KubeApi.pod_log`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.kube.api import JOBS, NODES, PODS, ApiError, KubeApi
from aimcore.adapters.kube.executor import Executor
from aimcore.adapters.kube.store import Store
from aimcore.plan import ApplyManifest, Plan, UpdateStatus
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.template_status import plan_template
from tests.cluster.fixtures import KubeCluster
from tests.cluster.support import MODELS, TEMPLATES, audit_writes, write_summary

pytestmark = pytest.mark.cluster

NOW = "2026-03-01T10:00:00Z"
IMAGE = "ghcr.io/silogen/aim-dummy:0.1.8"
OUTPUT = [{
    "filename": "vllm-mi300x-fp8-tp1-latency.yaml",
    "profile": {"metadata": {"engine": "vllm", "gpu": "MI300X", "gpu_count": 1, "metric": "latency",
                             "precision": "fp8", "type": "optimized"},
                "engine_args": {"tensor-parallel-size": 1}, "env_vars": {"VLLM_USE_V1": "0"}},
    "models": [{"name": "HuggingFaceTB/SmolLM2-135M", "source": "hf://HuggingFaceTB/SmolLM2-135M",
                "size_gb": 0.5}],
}]


@pytest.fixture
def gpu_node(kube: KubeCluster, namespace: str) -> Iterator[str]:
    """A Node object labelled as the AMD device plugin labels an MI300X node (no kubelet behind it)."""
    api = kube.api()
    name = f"gpu-{namespace}"
    api.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
        "amd.com/gpu.device-id": "74a1", "amd.com/gpu.vram": "192G"}}})
    yield name
    api.delete(NODES, None, name, None)


def reconcile(key: ObjectKey, snapshot: Snapshot) -> Plan:
    """The template reconciler, called directly on the adapters' observations (no operator loop)."""
    template = snapshot.objects[key]
    assert isinstance(template, r.AIMServiceTemplate)
    return plan_template(template, snapshot)


def _store(api: KubeApi, namespace: str) -> Store:
    store = Store()
    for info, scope in ((MODELS, namespace), (TEMPLATES, namespace)):
        store.replace_kind(info, *api.list(info, scope), scope)
    for info, scope in ((NODES, None), (JOBS, namespace), (PODS, namespace)):
        store.replace_observed(info, api.list(info, scope)[0], scope)
    return store


def _contains(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` lacks or differs from what `expected` sets (the server may add defaults)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        return [line for key, value in expected.items()
                for line in _contains(value, actual.get(key), f"{path}.{key}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [line for i, (a, b) in enumerate(zip(expected, actual, strict=True))
                for line in _contains(a, b, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


def test_nodes_are_read_as_metadata_with_their_labels(
    kube: KubeCluster, namespace: str, gpu_node: str
) -> None:
    items, _ = kube.api().list(NODES)
    node = next(item for item in items if item["metadata"]["name"] == gpu_node)
    assert node["kind"] == "PartialObjectMetadata" and "status" not in node and "spec" not in node
    snapshot = _store(kube.api(), namespace).snapshot({}, now=NOW, operator_namespace="aim-system")
    assert snapshot.nodes[gpu_node] == {"amd.com/gpu.device-id": "74a1", "amd.com/gpu.vram": "192G"}


def test_the_discovery_job_is_applied_as_planned_and_its_result_becomes_the_status(
    kube: KubeCluster, namespace: str, gpu_node: str
) -> None:
    api = kube.api("aimcore/discovery")
    user = kube.api("user")
    user.create(MODELS, {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                         "metadata": {"name": "dummy", "namespace": namespace}, "spec": {"image": IMAGE}})
    template = user.create(TEMPLATES, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "dummy-latency", "namespace": namespace},
        "spec": {"modelName": "dummy", "metric": "latency", "precision": "fp8",
                 "hardware": {"gpu": {"requests": 1, "model": "MI300X"}}}})
    key = ObjectKey("AIMServiceTemplate", namespace, "dummy-latency")
    store = _store(api, namespace)
    plan = reconcile(key, store.snapshot({}, now=NOW, operator_namespace="aim-system"))
    assert [type(a) for a in plan.actions] == [ApplyManifest, UpdateStatus]
    wanted = plan.actions[0]
    assert isinstance(wanted, ApplyManifest)
    assert Executor(api, store).execute(plan, NOW).failures == []

    # The server stored every field the plan set (it adds its own defaults).
    job = api.get(JOBS, namespace, wanted.key.name)
    assert _contains(dict(wanted.manifest), job) == []
    assert job["metadata"]["ownerReferences"][0]["uid"] == template["metadata"]["uid"]
    pending = api.get(TEMPLATES, namespace, "dummy-latency")["status"]
    assert pending["status"] == "Pending"
    assert pending["discoveryJob"] == {"name": wanted.key.name, "namespace": namespace}

    # Observed, the running Job is waited for: nothing is applied again.
    store = _store(api, namespace)
    running = reconcile(key, store.snapshot({}, now=NOW, operator_namespace="aim-system"))
    assert not any(isinstance(a, ApplyManifest) for a in running.actions)
    assert running.status is not None and running.status.status is r.TemplateStatus.PROGRESSING

    # The test plays the Job runner: the Job finishes, and its Pod's log is supplied at the seam.
    _finish(kube.api("job-runner"), namespace, wanted.key.name)
    store = _store(api, namespace)
    finished = store.observed()[1].jobs[0]
    assert finished.succeeded
    store.record_log(finished, "starting\n" + json.dumps(OUTPUT))
    done = reconcile(key, store.snapshot({}, now=NOW, operator_namespace="aim-system"))
    assert Executor(api, store).execute(done, NOW).failures == []
    status = api.get(TEMPLATES, namespace, "dummy-latency")["status"]
    assert status["status"] == "Ready"
    assert status["profile"]["metadata"]["gpu_count"] == 1  # D27: aimcore's spelling, kept by the CRD
    assert status["modelSources"] == [{"modelId": "HuggingFaceTB/SmolLM2-135M",
                                       "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}]
    assert status["resolvedNodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "amd.com/gpu.device-id", "operator": "In",
                                                     "values": ["74a1", "74a9", "74b5", "74bd"]}]}]}
    assert status["discovery"] == {"specHash": codec.dump(done.status)["discovery"]["specHash"]}
    rows = write_summary(audit_writes(kube, "aimcore/discovery", None))
    assert [row[:2] for row in rows] == [("patch", "jobs"), ("patch", "aimservicetemplates/status"),
                                         ("patch", "aimservicetemplates/status")]


def _finish(api: KubeApi, namespace: str, name: str) -> None:
    """What the Job controller writes when its one Pod succeeds."""
    at = "2026-03-01T09:59:30Z"
    reached = {"status": "True", "reason": "CompletionsReached",
               "message": "Reached expected number of succeeded pods",
               "lastTransitionTime": at, "lastProbeTime": at}
    conditions = [{"type": "SuccessCriteriaMet", **reached}, {"type": "Complete", **reached}]
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
            "status": {"startTime": "2026-03-01T09:59:00Z", "completionTime": at, "succeeded": 1,
                       "conditions": conditions}}
    api._call("PATCH", JOBS.path(namespace, name, "status"), query=[("fieldManager", "job-runner")],
              body=body, content_type="application/merge-patch+json")


def test_the_log_seam_gives_nothing_for_a_pod_that_never_ran(kube: KubeCluster, namespace: str) -> None:
    """Without a node the API server has no log to give, and says so with 204 No Content: an
    empty log, which is why the operator reads the log of a Succeeded discovery Pod only."""
    api = kube.api()
    api.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "never", "namespace": namespace,
                                                                      "labels": {"job-name": "discover-x"}},
                      "spec": {"containers": [{"name": "discovery", "image": IMAGE}]}})
    assert api.pod_log(namespace, "never", "discovery") == ""
    with pytest.raises(ApiError) as missing:
        api.pod_log(namespace, "not-there", "discovery")
    assert missing.value.status == 404
    store = _store(api, namespace)
    pods = store.observed()[1].pods[(namespace, "discover-x")]
    assert [(p.name, p.phase) for p in pods] == [("never", "Pending")]
