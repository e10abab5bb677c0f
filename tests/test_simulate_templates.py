"""`simulate` runs the template reconciler (D25-D28): Nodes from the inputs, discovery Jobs run by
the in-memory cluster from the image facts' dryRun entries, and what the command prints."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml

from aimcore.adapters.cli.main import main
from aimcore.adapters.files.manifests import load_catalog

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-29T00:00:00Z"
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
FACTS = str(ROOT / "fixtures" / "catalog.imagefacts")
LATENCY = "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-44f1"
THROUGHPUT = "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-6589"


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def write(path: Path, *docs: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def model_file(tmp_path: Path) -> str:
    return write(tmp_path / "model.yaml", {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
        "metadata": {"name": "qwen", "namespace": "team"}, "spec": {"image": QWEN}})


def simulate(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["simulate", *argv, "--now", NOW, "-o", "json"], out, err)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def objects(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in report["objects"]}


def condition(obj: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found["status"], found["reason"], found.get("message", "")


def test_discovery_jobs_are_run_from_the_dry_run_entries(tmp_path: Path) -> None:
    code, report, err = simulate(model_file(tmp_path), "--images", FACTS)
    assert code == 0, err
    jobs = [a for a in report["actions"] if a["kind"] == "Job"]
    assert [(a["verb"], a["namespace"]) for a in jobs] == [("apply", "team"), ("apply", "team")]
    assert all(a["name"].startswith("discover-") for a in jobs)
    found = objects(report)
    latency = found[("AIMServiceTemplate", LATENCY)]["status"]
    assert latency["status"] == "Ready"
    assert latency["profile"] == {
        "engine_args": {"max-model-len": 32768, "tensor-parallel-size": 1, "kv-cache-dtype": "fp8",
                        "gpu-memory-utilization": 0.9},
        "env_vars": {"VLLM_ROCM_USE_AITER": "1", "VLLM_USE_TRITON_FLASH_ATTN": "0"},
        "metadata": {"engine": "vllm", "gpu": "MI300X", "gpu_count": 1, "metric": "latency",
                     "precision": "fp8", "type": "optimized"},
    }
    assert latency["modelSources"] == [
        {"modelId": "Qwen/Qwen3-32B-FP8", "sourceUri": "hf://Qwen/Qwen3-32B-FP8", "size": "34304Mi"}]  # 33.5 GiB
    assert condition(found[("AIMServiceTemplate", LATENCY)], "Discovered") == (
        "True", "DiscoveryComplete", "Discovery job completed successfully")
    assert latency["discoveryJob"]["name"] in {a["name"] for a in jobs}
    assert latency["discoveryJob"]["namespace"] == "team"
    assert found[("AIMModel", "qwen")]["status"]["status"] == "Ready"
    assert not [o for o in report["objects"] if o["kind"] == "Job"]  # Jobs are actions, not objects


def test_an_image_without_a_dry_run_entry_is_simulated_from_the_spec_and_says_so(tmp_path: Path) -> None:
    facts = yaml.safe_load((ROOT / "fixtures" / "catalog.imagefacts").read_text())
    del facts[QWEN]["dryRun"]
    path = tmp_path / "no-dry-run.imagefacts"
    path.write_text(yaml.safe_dump(facts))
    code, report, err = simulate(model_file(tmp_path), "--images", str(path))
    assert code == 0, err
    template = objects(report)[("AIMServiceTemplate", THROUGHPUT)]
    assert template["status"]["status"] == "Ready"
    assert condition(template, "Discovered") == (
        "True", "DiscoverySimulated",
        "No image ran: the profile is made up from the template's own spec, not a dry run (D28)")
    assert template["status"]["profile"]["metadata"] == {
        "gpu": "MI300X", "gpu_count": 2, "metric": "throughput", "precision": "fp16", "type": "optimized"}
    table = io.StringIO()
    main(["simulate", model_file(tmp_path), "--images", str(path), "--now", NOW], table, io.StringIO())
    row = next(line for line in table.getvalue().splitlines() if THROUGHPUT in line)
    assert row.split()[2:4] == ["Ready", "DiscoverySimulated:"]


def test_nodes_in_the_inputs_decide_gpu_availability(tmp_path: Path) -> None:
    """`kubectl get nodes -o yaml` prints a List; its Nodes are the cluster (--gpus is not consulted)."""
    listing = {"apiVersion": "v1", "kind": "List", "items": [
        node("gpu-1", **{"amd.com/gpu.device-id": "74a5"}), node("cpu-1")]}
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump(listing))
    code, report, err = simulate(model_file(tmp_path), str(nodes), "--images", FACTS, "--gpus", "MI300X")
    assert code == 0, err
    assert "note: --gpus is ignored: the inputs hold 2 Node(s), which decide the GPUs" in err
    found = objects(report)
    template = found[("AIMServiceTemplate", LATENCY)]
    assert template["status"]["status"] == "NotAvailable"
    assert condition(template, "GPUReady") == (
        "False", "GPUNotAvailable", "Required GPU model 'MI300X' not available in cluster. Available: MI325X")
    assert "discoveryJob" not in template["status"]  # nothing to run it on: no Job
    assert not [a for a in report["actions"] if a["kind"] == "Job"]
    model = found[("AIMModel", "qwen")]
    assert (model["status"]["status"], condition(model, "Ready")[1]) == ("Degraded", "NoTemplatesAvailable")

    code, report, _ = simulate(model_file(tmp_path), "--images", FACTS, "--gpus", "MI325X")
    assert objects(report)[("AIMServiceTemplate", LATENCY)]["status"]["status"] == "NotAvailable"
    code, report, _ = simulate(model_file(tmp_path), "--images", FACTS, "--gpus", "MI300X")
    assert objects(report)[("AIMServiceTemplate", LATENCY)]["status"]["status"] == "Ready"


def test_bad_nodes_are_problems_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text(
        "apiVersion: v1\n"
        "kind: List\n"
        "items:\n"
        "  - apiVersion: v1\n"
        "    kind: Node\n"
        "    metadata:\n"
        "      labels: {a: b}\n"
        "  - apiVersion: v1\n"
        "    kind: Node\n"
        "    metadata:\n"
        "      name: n1\n"
        "      labels:\n"
        "        amd.com/gpu.count: 8\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Node\n"
        "metadata: {name: n1}\n"
    )
    catalog = load_catalog([str(path)])
    assert [p.render() for p in catalog.problems] == [
        f"{path}:6: items[0].metadata.name: a Node needs a name",
        f"{path}:13: items[1].metadata.labels[amd.com/gpu.count]: must be a string (quote it: \"8\")",
        f"{path}:17: metadata.name: Node n1 is defined twice (first at {path}:8)",
    ]
    assert catalog.nodes is None
    assert catalog.documents == 3


def test_a_list_of_aim_objects_is_checked_item_by_item(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
         "metadata": {"name": "ok", "namespace": "team"}, "spec": {"image": QWEN}},
        {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
         "metadata": {"name": "bad", "namespace": "team"}, "spec": {"image": 5}},
    ]}, sort_keys=False))
    catalog = load_catalog([str(path)])
    assert [obj.metadata.name for obj, _ in catalog.objects] == ["ok"]
    assert [(p.path, p.line) for p in catalog.problems] == [("items[1].spec.image", 17)]
