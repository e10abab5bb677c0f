"""What a model's status may hold, on the real API server (issue 20, fault 2).

Two 1 MiB image labels used to make a 4 MB status that the API server refused (413) on every
retry, the failure condition included, so the model said "InspectingImage" for ever. Here the
operator takes such a model to Ready with a status the API server accepts, the model says what
was cut, and the server's real limits are shown to refuse what the bound keeps out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.kube.api import ApiError, KubeApi
from aimcore.facts import ImageFacts
from aimcore.labels import METADATA_LIMIT, VALUE_LIMIT, bound_metadata, json_size, parse_image_metadata
from aimcore.models import MESSAGE_LIMIT
from tests.cluster.fixtures import KubeCluster, wait_for
from tests.cluster.support import (
    CATALOG_FACTS,
    MODELS,
    QWEN,
    QWEN_TEMPLATES,
    ROOT,
    TEMPLATES,
    FactsInspector,
    audit_writes,
    job_runner,
    running_operator,
    settle,
    write_summary,
)
from tests.test_status_size import AIM_LABELS, CUT_1MIB, DESCRIPTION, HUGE_LABELS, HUGE_NOTICE, NOTES, go_json

pytestmark = pytest.mark.cluster

IDENTITY = "bounded"


def facts_file(tmp_path: Path, labels: dict[str, str]) -> str:
    """The catalog's entry for QWEN (digest, Env, dryRun) with these labels, as a facts file."""
    entry = yaml.safe_load((ROOT / CATALOG_FACTS).read_text())[QWEN]
    entry["config"]["Labels"] = labels
    path = tmp_path / "huge.imagefacts"
    path.write_text(json.dumps({QWEN: entry}))
    return str(path)


def create_model(api: KubeApi, namespace: str) -> None:
    api.create(MODELS, {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                        "metadata": {"name": "qwen", "namespace": namespace}, "spec": {"image": QWEN}})


def model_doc(api: KubeApi, namespace: str) -> dict[str, Any]:
    return api.get(MODELS, namespace, "qwen")


def condition(doc: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = next(c for c in doc["status"]["conditions"] if c["type"] == type_)
    return found["status"], found["reason"], found["message"]


def model_status_writes(kube: KubeCluster, namespace: str) -> list[int]:
    """The response codes of the operator's writes of the model's status, in order."""
    rows = write_summary(audit_writes(kube, f"aimcore/{IDENTITY}", namespaces=[namespace]))
    return [row[4] for row in rows if row[1] == "aimmodels/status"]


def test_two_1mib_labels_reach_a_status_the_api_server_accepts_and_the_model_says_what_was_cut(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    facts = facts_file(tmp_path, HUGE_LABELS)
    api = kube.api("user")
    create_model(api, namespace)
    with job_runner(kube.api("job-runner"), facts=facts) as runner, \
            running_operator(kube, FactsInspector(facts), identity=IDENTITY, namespace=namespace,
                             read_log=runner.read_log) as operator:
        wait_for(lambda: (model_doc(api, namespace).get("status") or {}).get("status") == "Ready", 90,
                 "the model to be Ready")
        settle(operator)
        writes = model_status_writes(kube, namespace)
        for key in operator.store.all_keys():  # a steady model: reconciled again, nothing written
            operator.queue.add(key)
        settle(operator)
        assert model_status_writes(kube, namespace) == writes

    assert writes and set(writes) == {200}  # never a 413 or a 500
    doc = model_doc(api, namespace)
    assert condition(doc, "ImageMetadataReady") == ("True", "ImageMetadataFound", HUGE_NOTICE)
    assert condition(doc, "Ready") == ("True", "AllComponentsReady", "All components are ready")
    metadata = doc["status"]["imageMetadata"]
    assert metadata["model"]["descriptionFull"] == "d" * (VALUE_LIMIT - len(CUT_1MIB)) + CUT_1MIB
    assert metadata["model"]["releaseNotes"] == "r" * (VALUE_LIMIT - len(CUT_1MIB)) + CUT_1MIB
    assert metadata["originalLabels"] == {
        **AIM_LABELS,
        DESCRIPTION: "[aimcore: not repeated, see model.descriptionFull (1048576 bytes)]",
        NOTES: "[aimcore: not repeated, see model.releaseNotes (1048576 bytes)]",
    }
    assert metadata["model"]["recommendedDeployments"] == [
        {"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "latency",
         "profileId": "vllm-mi300x-fp8-tp1-latency"},
        {"gpuModel": "MI300X", "gpuCount": 2, "precision": "fp16", "metric": "throughput",
         "profileId": "vllm-mi300x-fp16-tp2-throughput"},
    ]
    templates = api.list(TEMPLATES, namespace)[0]
    assert sorted(t["metadata"]["name"] for t in templates) == QWEN_TEMPLATES
    assert {t["status"]["status"] for t in templates} == {"Ready"}
    # As stored: the whole object (spec, status, managedFields) well inside etcd's 1.5 MiB.
    assert len(go_json(doc)) < METADATA_LIMIT
    assert json_size(doc["status"]["imageMetadata"]) == 34146  # the pure test's 34088 and baseImageRef


def test_metadata_too_large_even_when_cut_is_a_written_failure_not_a_refused_write(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    many = json.dumps([{"gpuModel": "MI300X", "gpuCount": 1 + n % 8, "metric": "latency"}
                       for n in range(6000)])
    labels = {**AIM_LABELS, "com.amd.aim.model.recommendedDeployments": many, DESCRIPTION: "d" * (1 << 20)}
    facts = facts_file(tmp_path, labels)
    api = kube.api("user")
    create_model(api, namespace)
    with running_operator(kube, FactsInspector(facts), identity=IDENTITY, namespace=namespace) as operator:
        wait_for(lambda: (model_doc(api, namespace).get("status") or {}).get("status") == "Failed", 90,
                 "the model to be Failed")
        settle(operator)
    assert set(model_status_writes(kube, namespace)) == {200}
    doc = model_doc(api, namespace)
    assert condition(doc, "ImageMetadataReady") == (
        "False",
        "MetadataTooLarge",
        f"{QWEN}: the image's metadata takes 341166 bytes in the status even with every value cut to "
        "16 KiB and every originalLabels value left out, more than the 262144 bytes (256 KiB) "
        "status.imageMetadata may hold (6000 recommended deployments, 2 tags, versions and variants, "
        "8 labels)",
    )
    assert "imageMetadata" not in doc["status"]
    assert api.list(TEMPLATES, namespace)[0] == []


def status_body(namespace: str, status: r.AIMModelStatus) -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": "qwen", "namespace": namespace}, "status": codec.dump(status)}


def refusal(api: KubeApi, namespace: str, status: r.AIMModelStatus) -> tuple[int, str]:
    with pytest.raises(ApiError) as refused:
        api.apply(MODELS, status_body(namespace, status), status=True)
    return refused.value.status, str(refused.value)


def test_the_real_limits_refuse_what_the_bound_keeps_out_and_take_the_most_it_lets_through(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    create_model(api, namespace)

    def unbounded(labels: dict[str, str]) -> r.AIMModelStatus:
        return r.AIMModelStatus(image_metadata=parse_image_metadata(ImageFacts(labels=labels)))

    # What the operator used to write: over the 3 MiB request limit, a permanent 413 ...
    assert refusal(api, namespace, unbounded(HUGE_LABELS)) == (
        413, "413 RequestEntityTooLarge: Request entity too large: limit is 3145728")
    # ... and between etcd's 1.5 MiB and 3 MiB, a 500 the operator would retry for ever.
    code, message = refusal(api, namespace, unbounded({**AIM_LABELS, DESCRIPTION: "d" * 800_000}))
    assert (code, message) == (500, "500 Error: etcdserver: request is too large")
    # The largest status the bound allows: metadata at its limit in six-byte characters ('<' is
    # \u003c as the API server writes JSON) and every condition message at MESSAGE_LIMIT.
    labels = {f"com.example.l{index:02}": "<" * 3000 for index in range(40)}
    metadata = bound_metadata(parse_image_metadata(ImageFacts(labels=labels))).metadata
    assert metadata is not None
    assert json_size(codec.dump(metadata)) == 247440  # within one value of METADATA_LIMIT
    message = "<" * (MESSAGE_LIMIT // 6)
    conditions = tuple(
        r.Condition(type=kind, status=r.ConditionStatus.FALSE, reason="Reason", message=message,
                    last_transition_time="2026-11-29T00:00:00Z", observed_generation=1)
        for kind in ("RuntimeConfigReady", "ImageMetadataReady", "ServiceTemplatesReady",
                     "FineTunedTemplatesReady", "DependenciesReachable", "Ready")
    )
    largest = r.AIMModelStatus(observed_generation=1, status=r.Status.FAILED, conditions=conditions,
                               image_metadata=metadata, inspected_image=QWEN, version="0.8.5")
    answer = api.apply(MODELS, status_body(namespace, largest), status=True)
    assert answer["status"] == codec.dump(largest)
    assert json_size(answer["status"]) < 2 * METADATA_LIMIT
