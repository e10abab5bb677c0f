"""aimcore's operator reconciling templates on a real API server: GPU availability from real Node
objects, discovery Jobs applied, run and read, and the statuses that follow for models.

No kubelet or Job controller runs: `JobRunner` (tests/cluster/support.py) plays them for discovery
Jobs, and supplies what each Pod printed at the operator's log-reading seam.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.kube.api import JOBS, NODES
from aimcore.adapters.kube.operator import Operator
from aimcore.images import normalize_image
from aimcore.snapshot import ObjectKey
from tests.cluster.fixtures import KubeCluster, wait_for
from tests.cluster.support import (
    CATALOG_FACTS,
    MODELS,
    QWEN,
    QWEN_TEMPLATES,
    ROOT,
    TEMPLATES,
    FactsInspector,
    JobRunner,
    job_runner,
    once,
    running_operator,
    settle,
)

pytestmark = pytest.mark.cluster

MI355X_DEVICE = "75a3"


@pytest.fixture
def mi355x_node(kube: KubeCluster, namespace: str) -> Iterator[str]:
    """A Node of this test's own (the session's Nodes are shared): the only MI355X in the cluster."""
    api = kube.api()
    name = f"mi355x-{namespace}"
    api.create(NODES, {"apiVersion": "v1", "kind": "Node",
                       "metadata": {"name": name, "labels": {"amd.com/gpu.device-id": MI355X_DEVICE}}})
    yield name
    api.delete(NODES, None, name, None)


def custom_model(name: str, namespace: str, gpu: str) -> dict[str, Any]:
    """A custom model: its one template has inline sources, so no discovery Job, only GPUReady."""
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"image": "amdenterpriseai/aim-base:0.8.5",
                     "modelSources": [{"modelId": "acme/weights", "sourceUri": "s3://bucket/weights"}],
                     "custom": {"hardware": {"gpu": {"requests": 1, "model": gpu}}}}}


def status_of(api: Any, info: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(api.get(info, namespace, name).get("status") or {})


def condition(status: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = next(c for c in status.get("conditions") or () if c["type"] == type_)
    return found["status"], found["reason"], found.get("message", "")


def the_template(api: Any, namespace: str, model: str) -> str:
    names = [t["metadata"]["name"] for t in api.list(TEMPLATES, namespace)[0]
             if t["spec"]["modelName"] == model]
    assert len(names) == 1
    return str(names[0])


def recorded(operator: Operator) -> list[ObjectKey]:
    """Every key the operator reconciles from now on, in order."""
    keys: list[ObjectKey] = []
    process = operator.process

    def counting(key: ObjectKey) -> None:
        keys.append(key)
        process(key)

    operator.process = counting  # type: ignore[method-assign]
    return keys


def test_a_node_label_flip_moves_templates_and_models_between_ready_and_not_available(
    kube: KubeCluster, namespace: str, mi355x_node: str
) -> None:
    api = kube.api("user")
    api.create(MODELS, custom_model("on-mi355x", namespace, "MI355X"))
    api.create(MODELS, custom_model("on-mi325x", namespace, "MI325X"))
    inspector = FactsInspector(CATALOG_FACTS)
    with running_operator(kube, inspector, identity="nodes", namespace=namespace) as operator:
        wait_for(lambda: status_of(api, MODELS, namespace, "on-mi355x").get("status") == "Ready", 60)
        wait_for(lambda: status_of(api, MODELS, namespace, "on-mi325x").get("status") == "Ready", 60)
        settle(operator)
        mi355x, mi325x = the_template(api, namespace, "on-mi355x"), the_template(api, namespace, "on-mi325x")
        ready = status_of(api, TEMPLATES, namespace, mi355x)
        assert condition(ready, "GPUReady") == ("True", "GPUAvailable", "GPU model 'MI355X' is available")
        assert condition(ready, "Discovered") == ("True", "InlineModelSources",
                                                  "Model sources provided in-line in spec")
        assert api.list(JOBS, namespace)[0] == []  # inline sources: no discovery Job

        # The MI355X node becomes an MI300X node: MI355X is gone from the cluster.
        keys = recorded(operator)
        node = kube.api().get(NODES, None, mi355x_node)
        node["metadata"]["labels"]["amd.com/gpu.device-id"] = "74a1"
        kube.api().replace(NODES, node)
        wait_for(lambda: status_of(api, TEMPLATES, namespace, mi355x).get("status") == "NotAvailable", 30)
        wait_for(lambda: status_of(api, MODELS, namespace, "on-mi355x").get("status") == "Degraded", 30)
        settle(operator)
        gone = status_of(api, TEMPLATES, namespace, mi355x)
        assert condition(gone, "GPUReady") == (
            "False", "GPUNotAvailable",
            "Required GPU model 'MI355X' not available in cluster. Available: MI300X, MI325X")
        assert condition(gone, "Ready")[:2] == ("False", "GPUNotAvailable")
        model = status_of(api, MODELS, namespace, "on-mi355x")
        assert condition(model, "Ready")[1] == "NoTemplatesAvailable"
        # Only what the flip can move was reconciled: the MI325X template never was.
        assert ObjectKey("AIMServiceTemplate", namespace, mi355x) in keys
        assert ObjectKey("AIMServiceTemplate", namespace, mi325x) not in keys
        assert status_of(api, MODELS, namespace, "on-mi325x")["status"] == "Ready"

        # A label the rules do not read reconciles nothing at all.
        del keys[:]
        node = kube.api().get(NODES, None, mi355x_node)
        node["metadata"]["labels"]["team"] = "inference"
        kube.api().replace(NODES, node)
        settle(operator)
        assert keys == []

        # And back: the template and its model are Ready again.
        node = kube.api().get(NODES, None, mi355x_node)
        node["metadata"]["labels"]["amd.com/gpu.device-id"] = MI355X_DEVICE
        kube.api().replace(NODES, node)
        wait_for(lambda: status_of(api, MODELS, namespace, "on-mi355x").get("status") == "Ready", 30)
        assert status_of(api, TEMPLATES, namespace, mi355x)["status"] == "Ready"


def test_discovery_jobs_run_and_their_output_becomes_the_templates_profile(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    api.create(MODELS, {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                        "metadata": {"name": "qwen", "namespace": namespace}, "spec": {"image": QWEN}})
    dry_run = load_image_facts(str(ROOT / CATALOG_FACTS))[0].dry_runs[normalize_image(QWEN)]
    assert isinstance(dry_run, list)
    with job_runner(kube.api("job-runner")) as runner, \
            running_operator(kube, FactsInspector(CATALOG_FACTS), identity="discoverer", namespace=namespace,
                             read_log=runner.read_log) as operator:
        wait_for(lambda: status_of(api, MODELS, namespace, "qwen").get("status") == "Ready", 60)
        settle(operator)
        listed = api.list(JOBS, namespace)[0]
        jobs = {job["metadata"]["labels"]["aim.eai.amd.com/template"]: job for job in listed}
        assert sorted(jobs) == QWEN_TEMPLATES
        names = sorted(job["metadata"]["name"] for job in listed)
        assert sorted(read[1] for read in runner.reads) == names  # each log read once
        for name in QWEN_TEMPLATES:
            status = status_of(api, TEMPLATES, namespace, name)
            latency = "lat-fp8" in name
            result = dry_run[0] if latency else dry_run[1]
            assert status["status"] == "Ready"
            assert condition(status, "Discovered") == ("True", "DiscoveryComplete",
                                                       "Discovery job completed successfully")
            assert status["profile"]["engine_args"] == result["profile"]["engine_args"]
            assert status["profile"]["env_vars"] == result["profile"]["env_vars"]
            assert status["profile"]["metadata"]["gpu_count"] == (1 if latency else 2)
            model = result["models"][0]
            assert [(s["modelId"], s["sourceUri"]) for s in status["modelSources"]] == [
                (model["name"], model["source"])]
            assert status["resolvedHardware"]["gpu"]["model"] == "MI300X"
            assert status["discovery"]["specHash"]
            job = jobs[name]
            assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["dry-run", "--format=json"]
            assert job["metadata"]["ownerReferences"][0]["name"] == name


def test_once_starts_at_most_ten_discovery_jobs_and_the_rest_when_they_finish(
    kube: KubeCluster, namespace: str
) -> None:
    """§2.1: at most ten discovery Jobs run at once, `--once` included (its passes see the Jobs
    they apply). The operator namespace is the test's, so no other test's Jobs count."""
    api = kube.api("user")
    api.create(MODELS, {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                        "metadata": {"name": "qwen", "namespace": namespace},
                        "spec": {"image": QWEN, "discovery": {"extractMetadata": False}}})
    names = [f"user-{i:02d}" for i in range(12)]
    for name in names:
        api.create(TEMPLATES, {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
                               "metadata": {"name": name, "namespace": namespace},
                               "spec": {"modelName": "qwen",
                                        "hardware": {"gpu": {"requests": 1, "model": "MI300X"}}}})
    argv = ("--namespace", namespace, "--operator-namespace", namespace, "--no-leader-election",
            "--images", str(ROOT / CATALOG_FACTS))
    assert once(kube, *argv) == 0
    def templates_with_jobs() -> set[str]:
        return {job["metadata"]["labels"]["aim.eai.amd.com/template"] for job in api.list(JOBS, namespace)[0]}

    assert templates_with_jobs() == set(names[:10])  # in key order
    for name in names[10:]:
        waiting = status_of(api, TEMPLATES, namespace, name)
        assert waiting["status"] == "Pending"
        assert condition(waiting, "DiscoveryJobReady")[:2] == ("False", "JobNotCreated")

    assert JobRunner(kube.api("job-runner")).step() == 10
    assert once(kube, *argv) == 0
    assert templates_with_jobs() == set(names)
    assert JobRunner(kube.api("job-runner")).step() == 2
    assert once(kube, *argv) == 0
    assert {status_of(api, TEMPLATES, namespace, name)["status"] for name in names} == {"Ready"}
