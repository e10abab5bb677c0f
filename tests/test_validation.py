"""Validation: every rule's exact message and path, and `aimcore validate` end to end."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.validation import check_document

ROOT = Path(__file__).resolve().parent.parent


def model(spec: dict[str, Any], kind: str = "AIMModel") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "m"}
    if kind == "AIMModel":
        meta["namespace"] = "ns"
    return {"apiVersion": r.V1ALPHA1, "kind": kind, "metadata": meta, "spec": spec}


def problems(doc: Any) -> list[tuple[str, str]]:
    return [(p.dotted, p.message) for p in check_document(doc).problems]


CUSTOM = {
    "image": "amdenterpriseai/aim-base:latest",
    "modelSources": [{"modelId": "a/b", "sourceUri": "hf://a/b"}],
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"image": "x:1", "custom": {"versionPolicy": "newest"}},
            [("spec.custom.versionPolicy", "'newest' is not valid: must be one of pinned, latest, any, all")],
        ),
        (
            {"image": "x:1", "custom": {"type": "fast"}},
            [("spec.custom.type", "'fast' is not valid: must be one of optimized, preview, unoptimized")],
        ),
        (
            {"image": "x:1", "customTemplates": [{"profile": {"metric": "speed", "precision": "fp64"}}]},
            [
                (
                    "spec.customTemplates[0].profile.metric",
                    "'speed' is not valid: must be one of latency, throughput",
                ),
                (
                    "spec.customTemplates[0].profile.precision",
                    "'fp64' is not valid: must be one of auto, fp4, fp8, fp16, fp32, bf16, int4, int8",
                ),
            ],
        ),
        (
            {"image": "x:1", "modelSources": [{"modelId": "qwen", "sourceUri": "https://x"}]},
            [
                (
                    "spec.modelSources[0].modelId",
                    "'qwen' is not valid: expected {org}/{name}, for example Qwen/Qwen3-32B",
                ),
                (
                    "spec.modelSources[0].sourceUri",
                    "'https://x' is not valid: expected hf://{org}/{model} or s3://{bucket}/{key}",
                ),
            ],
        ),
        (
            {"image": "x:1", "modelSources": [{"sourceUri": "s3://b/k"}]},
            [("spec.modelSources[0].modelId", "required field is missing")],
        ),
        (
            {"image": "x:1", "imagePullSecret": [{"name": "a"}]},
            [
                (
                    "spec.imagePullSecret",
                    "unknown field 'imagePullSecret'; valid fields here: aimId, custom, customTemplates, "
                    "defaultServiceTemplate, discovery, env, image, imageMetadata, imagePullSecrets, modelSources, "
                    "resources, runtimeConfigName, serviceAccountName",
                )
            ],
        ),
        (
            {"image": "x:1", "resources": {"limits": {"memory": "lots"}}},
            [
                (
                    "spec.resources.limits.memory",
                    "'lots' is not a Kubernetes quantity (for example 4, 500m, 64Gi)",
                )
            ],
        ),
        (
            {"image": "x:1", "discovery": {"extractMetadata": "yes please"}},
            [("spec.discovery.extractMetadata", "must be true or false, not a string 'yes please'")],
        ),
    ],
)
def test_structural_problems(spec: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert problems(model(spec)) == expected


def test_d18_one_spelling_of_custom_templates() -> None:
    spec = {**CUSTOM, "custom": {"hardware": {"gpu": {"requests": 1}}, "templates": [{"name": "a"}]}}
    spec["customTemplates"] = [{"name": "b"}]
    assert problems(model(spec)) == [
        (
            "spec.customTemplates",
            "custom templates are given twice: use spec.custom.templates or spec.customTemplates, not both",
        )
    ]


def test_d18_gpu_model_or_models() -> None:
    spec = {
        **CUSTOM,
        "custom": {"hardware": {"gpu": {"requests": 1, "model": "MI300X", "models": ["MI300X"]}}},
    }
    assert problems(model(spec)) == [
        ("spec.custom.hardware.gpu", "give either model (one GPU model) or models (a list), not both")
    ]


def test_d19_custom_profile_names_each_missing_field() -> None:
    spec = {
        **CUSTOM,
        "customTemplates": [{"name": "t", "hardware": {"gpu": {"requests": 1}}, "customProfile": {}}],
    }
    assert problems(model(spec)) == [
        ("spec.customTemplates[0].aimId", "aimId is required when customProfile is set (D19)"),
        ("spec.customTemplates[0].modelId", "modelId is required when customProfile is set (D19)"),
        (
            "spec.customTemplates[0].profile.metric",
            "profile.metric is required when customProfile is set (D19)",
        ),
        (
            "spec.customTemplates[0].profile.precision",
            "profile.precision is required when customProfile is set (D19)",
        ),
    ]


def test_pinned_fine_tuned_model_needs_an_image() -> None:
    spec = {"aimId": "qwen/qwen3-32b", "modelSources": [{"modelId": "q/w", "sourceUri": "s3://b/w"}]}
    assert problems(model(spec)) == [
        (
            "spec.image",
            "required: a fine-tuned model with versionPolicy pinned (the default) deploys spec.image; "
            "set spec.image, or set spec.custom.versionPolicy to latest, any or all",
        )
    ]
    assert problems(model({**spec, "custom": {"versionPolicy": "latest"}})) == []


def test_hardware_needs_gpu_or_cpu() -> None:
    spec = {**CUSTOM, "custom": {"hardware": {}}}
    assert problems(model(spec)) == [("spec.custom.hardware", "hardware needs gpu or cpu (or both)")]


def test_custom_model_without_hardware_is_accepted_with_a_note() -> None:
    """The reference's M1 accepts sources without hardware when no custom template is listed."""
    checked = check_document(model(CUSTOM))
    assert checked.problems == ()
    assert [(n.dotted, n.message) for n in checked.notes] == [
        (
            "spec.modelSources",
            "no hardware is declared (spec.custom.hardware): the template made from these sources asks for "
            "no GPU, and the model server gets one only if resources ask",
        )
    ]


def test_custom_templates_of_a_custom_model_need_hardware() -> None:
    """M1: with sources and listed templates, each template has hardware or inherits custom.hardware."""
    spec = {**CUSTOM, "customTemplates": [{"name": "a", "hardware": {"cpu": {"requests": 1}}}, {"name": "b"}]}
    assert problems(model(spec)) == [
        (
            "spec.customTemplates",
            "with spec.modelSources, every custom template needs hardware: set spec.custom.hardware "
            "(every template inherits it) or hardware on each template",
        )
    ]
    assert problems(model({**spec, "custom": {"hardware": {"gpu": {"requests": 1}}}})) == []
    assert problems(model({**spec, "aimId": "qwen/qwen3-32b"})) == []  # a fine-tuned model copies hardware


def test_service_names_exactly_one_model() -> None:
    doc = {
        "apiVersion": r.V1ALPHA1,
        "kind": "AIMService",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"model": {"name": "a", "image": "b:1"}},
    }
    assert problems(doc) == [
        ("spec.model", "set exactly one of name, image or custom")
    ]


def test_document_level_problems() -> None:
    assert problems([1, 2]) == [("", "a manifest must be a mapping, not a list")]
    assert problems({"apiVersion": "v1"}) == [
        ("kind", "required field is missing: every manifest names its kind")
    ]
    assert problems({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMThing"})[0][1].startswith(
        "unknown AIM kind 'AIMThing'; known kinds: AIMModel, AIMClusterModel"
    )
    assert check_document({"apiVersion": "apps/v1", "kind": "Deployment"}).skipped_kind == "Deployment"
    cluster = model({"image": "x:1"}, kind="AIMClusterModel")
    cluster["metadata"]["namespace"] = "ns"
    assert problems(cluster) == [
        ("metadata.namespace", "AIMClusterModel is cluster-scoped: remove metadata.namespace")
    ]


def test_api_version_must_be_served_for_the_kind() -> None:
    """Profiles exist only in v1alpha2 (D23), as the CRDs serve them."""
    profile = {
        "apiVersion": r.V1ALPHA1,
        "kind": "AIMClusterProfile",
        "metadata": {"name": "p"},
        "spec": {},
    }
    assert problems(profile) == [
        ("apiVersion", "'aim.eai.amd.com/v1alpha1' is not served for AIMClusterProfile: use aim.eai.amd.com/v1alpha2")
    ]
    assert problems(model({"image": "x:1"}) | {"apiVersion": "aim.eai.amd.com/v1"}) == [
        (
            "apiVersion",
            "'aim.eai.amd.com/v1' is not served for AIMModel: use aim.eai.amd.com/v1alpha1 or aim.eai.amd.com/v1alpha2",
        )
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500m", []),
        ("100n", []),
        ("3u", []),
        (2, []),
        (
            0.5,
            [
                (
                    "spec.custom.hardware.cpu.requests",
                    'must be a Kubernetes quantity: an integer or a quoted string such as "500m" or "64Gi", '
                    "not a number",
                )
            ],
        ),
    ],
)
def test_quantities_are_integers_or_strings_as_the_api_server_wants(
    value: Any, expected: list[tuple[str, str]]
) -> None:
    doc = model({**CUSTOM, "custom": {"hardware": {"cpu": {"requests": value}}}})
    assert problems(doc) == expected


# --- the command line ------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_validate_passes_on_the_spec_examples() -> None:
    code, out, err = run("validate", str(ROOT / "fixtures"))
    assert (code, out) == (0, "")
    assert err.endswith(" problems\n") or err.endswith(", 0 problems\n")


def test_validate_reports_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        textwrap.dedent(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: unrelated}
            ---
            apiVersion: aim.eai.amd.com/v1alpha1
            kind: AIMModel
            metadata:
              name: my-custom-qwen
              namespace: ml-team
            spec:
              image: amdenterpriseai/aim-base:latest
              modelSources:
                - modelId: Qwen/Qwen3-32B
                  sourceUri: http://my-bucket/models
              custom:
                hardware:
                  gpu:
                    requests: one
            """
        )
    )
    code, out, err = run("validate", str(broken))
    assert code == 1
    assert out.splitlines() == [
        f"{broken}:14: spec.modelSources[0].sourceUri: 'http://my-bucket/models' is not valid: "
        "expected hf://{org}/{model} or s3://{bucket}/{key}",
        f"{broken}:18: spec.custom.hardware.gpu.requests: must be an integer, not a string 'one'",
    ]
    assert f"{broken}:1: note: skipped Deployment: not an AIM kind" in err


def test_validate_malformed_yaml_and_non_mappings(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: AIMModel\nmetadata: [\n")
    (tmp_path / "b.yaml").write_text("- just\n- a list\n")
    (tmp_path / "c.json").write_text('{"kind": ')
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'a.yaml'}:3: malformed YAML: ")
    assert lines[1] == f"{tmp_path / 'b.yaml'}:1: a manifest must be a mapping, not a list"
    assert lines[2].startswith(f"{tmp_path / 'c.json'}:1: malformed JSON: ")


def test_validate_bad_usage() -> None:
    with pytest.raises(SystemExit) as exit_:
        run("validate")
    assert exit_.value.code == 2
    code, _, _ = run("validate", "/nonexistent/path")
    assert code == 1


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
kinds = st.sampled_from([*r.KINDS, "Other", None])


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=yaml_values, kind=kinds, spec=yaml_values)
def test_arbitrary_yaml_never_makes_validate_raise(tmp_path: Path, body: Any, kind: Any, spec: Any) -> None:
    doc = {"apiVersion": r.V1ALPHA1, "kind": kind, "metadata": body, "spec": spec}
    path = tmp_path / "input.yaml"
    path.write_text(yaml.safe_dump_all([doc, body]))
    code, _, _ = run("validate", str(path))
    assert code in (0, 1)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_arbitrary_text_never_makes_validate_raise(tmp_path: Path, text: str) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(text)
    code, _, _ = run("validate", str(path))
    assert code in (0, 1)


def test_d19_a_template_s_custom_profile_names_each_missing_field() -> None:
    doc = {"apiVersion": r.V1ALPHA1, "kind": "AIMServiceTemplate", "metadata": {"name": "t", "namespace": "ns"},
           "spec": {"modelName": "m", "customProfile": {}}}
    assert problems(doc) == [
        (f"spec.{name}", f"{name} is required when customProfile is set (D19)")
        for name in ("aimId", "modelId", "hardware", "metric", "precision")
    ]
    spec = {"modelName": "m", "customProfile": {}, "aimId": "a/b", "modelId": "a/b", "metric": "latency",
            "precision": "fp8", "hardware": {"cpu": {"requests": 1}}}
    assert problems({**doc, "spec": spec}) == []


def test_a_custom_template_s_custom_profile_needs_its_own_hardware() -> None:
    entry = {"aimId": "a/b", "modelId": "a/b", "customProfile": {}, "profile": {"metric": "latency",
                                                                                "precision": "fp8"}}
    spec = {**CUSTOM, "custom": {"hardware": {"gpu": {"requests": 1}}}, "customTemplates": [entry]}
    assert problems(model(spec)) == [
        ("spec.customTemplates[0].hardware", "hardware is required when customProfile is set (D19)")
    ]


def test_status_enums_and_times_are_the_reference_s() -> None:
    doc = {"apiVersion": r.V1ALPHA1, "kind": "AIMServiceTemplate", "metadata": {"name": "t", "namespace": "ns"},
           "spec": {"modelName": "m"},
           "status": {"profile": {"metadata": {"metric": "fast", "gpuCount": 2}},
                      "discovery": {"lastAttemptTime": "yesterday"},
                      "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01",
                                      "observedGeneration": -1}]}}
    assert problems(doc) == [
        ("status.conditions[0].lastTransitionTime",
         "'2026-01-01' is not valid: expected an RFC 3339 time such as 2026-01-01T00:00:00Z"),
        ("status.conditions[0].observedGeneration", "must be at least 0, not -1"),
        ("status.profile.metadata.metric", "'fast' is not valid: must be one of latency, throughput"),
        ("status.discovery.lastAttemptTime",
         "'yesterday' is not valid: expected an RFC 3339 time such as 2026-01-01T00:00:00Z"),
    ]


def test_a_model_may_carry_the_reference_s_not_available() -> None:
    """Read, never written by aimcore (D11)."""
    doc = model({"image": "x:1"})
    doc["status"] = {"status": "NotAvailable"}
    assert problems(doc) == []
    doc["status"] = {"status": "Unavailable"}
    assert problems(doc) == [("status.status", "'Unavailable' is not valid: must be one of Pending, Progressing, "
                                               "Ready, Degraded, Failed, NotAvailable")]
