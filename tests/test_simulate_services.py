"""`simulate` deploys services (D29-D32): the in-memory cluster plays KServe (an InferenceService is
Ready one round after it exists, unless the image facts say its server does not start) and a
Gateway (an HTTPRoute is accepted one round after it exists); `--no-kserve` is a cluster without
KServe. What the README's main command prints for the bundled catalog's service."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml

from aimcore.adapters.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-29T00:00:00Z"
FACTS = ROOT / "fixtures" / "catalog.imagefacts"
README_INPUTS = [
    str(ROOT / p)
    for p in (
        "fixtures/spec/02-cluster-model-with-discovery.yaml",
        "fixtures/spec/03-namespace-model-without-discovery.yaml",
        "fixtures/spec/04-private-image.yaml",
        "fixtures/catalog",
    )
]
ISVC = ("InferenceService", "qwen-chat-faa5534a")
ROUTE = ("HTTPRoute", "qwen-chat-a04542d9")
SERVICE = ("AIMService", "qwen-chat")


def run(*argv: str, output: str = "json") -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["simulate", *argv, "--now", NOW, "-o", output], out, err)
    text = out.getvalue()
    return code, json.loads(text) if output == "json" and text else text, err.getvalue()


def objects(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in report["objects"]}


def condition(obj: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found["status"], found["reason"], found.get("message", "")


def test_the_readme_catalog_runs_its_service_with_an_inference_service_and_a_route() -> None:
    code, table, err = run(*README_INPUTS, "--images", str(FACTS), output="table")
    assert code == 0, err
    rows = [line.split()[:3] for line in table.splitlines()]
    assert ["AIMService", "ml-team/qwen-chat", "Running"] in rows
    assert ["InferenceService", "ml-team/qwen-chat-faa5534a", "Ready"] in rows
    assert ["HTTPRoute", "ml-team/qwen-chat-a04542d9", "Accepted"] in rows
    assert table.splitlines()[-1] == "converged after 7 rounds: 8 apply, 2 inspect, 23 status"


def test_the_inference_service_is_ready_one_round_after_it_exists() -> None:
    code, report, err = run(*README_INPUTS, "--images", str(FACTS))
    assert code == 0, err
    applies = [a["round"] for a in report["actions"] if (a["kind"], a["name"]) == ISVC]
    service_writes = [a["round"] for a in report["actions"] if (a["kind"], a["name"]) == SERVICE]
    assert applies == [5]
    assert service_writes[-2:] == [5, 6]  # Starting as it is created, Running the round after
    found = objects(report)
    service = found[SERVICE]
    assert service["status"]["status"] == "Running"
    ready = ("True", "RuntimeReady", "InferenceService is ready")
    assert condition(service, "InferenceServiceReady") == ready
    assert condition(service, "HTTPRouteReady") == (
        "True", "HTTPRouteAccepted", "HTTPRoute is accepted by the gateway"
    )
    assert condition(service, "CacheReady")[:2] == ("False", "CachingNotImplemented")
    assert service["status"]["routing"] == {"path": "/ml-team/qwen-chat"}
    assert service["status"]["runtime"] == {
        "minReplicas": 2, "maxReplicas": 2, "currentReplicas": 2, "desiredReplicas": 2, "replicas": "2"
    }
    isvc = found[ISVC]
    assert isvc["status"]["conditions"] == [
        {"type": "Ready", "status": "True", "lastTransitionTime": NOW}
    ]
    assert isvc["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    container = isvc["spec"]["predictor"]["containers"][0]
    assert container["image"] == "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
    assert isvc["spec"]["predictor"]["minReplicas"] == 2
    route = found[ROUTE]
    assert route["spec"]["parentRefs"] == [{
        "group": "gateway.networking.k8s.io", "kind": "Gateway",
        "namespace": "gateway-system", "name": "inference-gateway",
    }]
    assert route["spec"]["rules"][0]["matches"] == [
        {"path": {"type": "PathPrefix", "value": "/ml-team/qwen-chat"}}
    ]


def test_without_kserve_the_service_waits_and_says_why() -> None:
    code, report, err = run(*README_INPUTS, "--images", str(FACTS), "--no-kserve")
    assert code == 0, err
    found = objects(report)
    assert ISVC not in found
    service = found[SERVICE]
    assert service["status"]["status"] == "Pending"
    assert condition(service, "InferenceServiceReady") == (
        "False", "KServeNotInstalled",
        "KServe is not installed: the cluster has no InferenceService CRD (serving.kserve.io/v1beta1); "
        "install KServe to deploy this service",
    )
    assert condition(service, "Ready")[:2] == ("False", "KServeNotInstalled")


def test_an_image_whose_server_does_not_start_leaves_the_service_starting(tmp_path: Path) -> None:
    facts = yaml.safe_load(FACTS.read_text())
    qwen = facts["amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"]
    qwen["startFailure"] = "out of GPU memory loading the weights"
    path = tmp_path / "failing.imagefacts"
    path.write_text(yaml.safe_dump(facts))
    code, report, err = run(*README_INPUTS, "--images", str(path))
    assert code == 0, err  # converged: nothing more to do until the workload changes
    found = objects(report)
    assert found[ISVC]["status"]["conditions"] == [{
        "type": "Ready", "status": "False", "reason": "StartFailed",
        "message": "out of GPU memory loading the weights", "lastTransitionTime": NOW,
    }]
    service = found[SERVICE]
    assert service["status"]["status"] == "Starting"
    assert condition(service, "InferenceServiceReady") == (
        "False", "CreatingRuntime",
        "InferenceService is not ready: StartFailed: out of GPU memory loading the weights",
    )
    _, table, _ = run(*README_INPUTS, "--images", str(path), output="table")
    row = next(line for line in table.splitlines() if line.startswith("InferenceService"))
    assert " ".join(row.split()[2:]) == "NotReady StartFailed: out of GPU memory loading the weights"


def test_a_bad_start_failure_entry_is_a_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.imagefacts"
    path.write_text("amdenterpriseai/x:1:\n  config: {}\n  startFailure: 3\n")
    code, report, _ = run(*README_INPUTS, "--images", str(path))
    assert code == 1
    assert report["problems"] == [{
        "file": str(path), "line": 3, "path": "amdenterpriseai/x:1.startFailure",
        "message": "must be a non-empty string: why the image's server does not start",
    }]


def test_a_simulated_state_planned_again_plans_nothing(tmp_path: Path) -> None:
    _, report, _ = run(*README_INPUTS, "--images", str(FACTS))
    state = tmp_path / "state.yaml"
    state.write_text(yaml.safe_dump_all(report["objects"], sort_keys=False))
    out = io.StringIO()
    code = main(["plan", str(state), "--images", str(FACTS), "--now", NOW, "-o", "json"], out, io.StringIO())
    assert code == 0
    assert json.loads(out.getvalue())["actions"] == []
