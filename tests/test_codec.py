"""The wire format: every spec example loads and dumps back as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcore import codec
from aimcore import resources as r
from aimcore.validation import check_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "fixtures" / "spec").glob("*.yaml")) + [
    ROOT / "tests" / "data" / "model-specification.yaml"
]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_spec_example_round_trips(path: Path) -> None:
    for doc in _documents(path):
        checked = check_document(doc)
        assert checked.problems == ()
        if doc["kind"] == "Secret":
            continue
        assert checked.obj is not None
        assert codec.dump(checked.obj) == doc


def test_quantities_are_kept_exactly_as_written() -> None:
    doc = _documents(ROOT / "fixtures" / "spec" / "08-custom-templates.yaml")[0]
    model = codec.load(r.AIMModel, doc)
    assert model.spec.custom is not None and model.spec.custom.hardware is not None
    assert model.spec.custom.hardware.gpu == r.GpuRequirements(
        requests=2, models=("MI300X", "MI250"), min_vram="64Gi"
    )
    assert model.spec.custom.hardware.cpu == r.CpuRequirements(requests="4", limits="8")
    numeric = {**doc, "spec": {**doc["spec"], "resources": {"limits": {"cpu": 8, "memory": "64Gi"}}}}
    assert codec.dump(codec.load(r.AIMModel, numeric))["spec"]["resources"] == {
        "limits": {"cpu": 8, "memory": "64Gi"}
    }


def test_enums_travel_by_value() -> None:
    doc = _documents(ROOT / "fixtures" / "spec" / "09-custom-profile.yaml")[0]
    model = codec.load(r.AIMModel, doc)
    entry = (model.spec.custom_templates or ())[0]
    assert entry.profile == r.ProfileSelection(metric=r.Metric.LATENCY, precision=r.Precision.FP16)
    assert codec.dump(model)["spec"]["customTemplates"][0]["profile"] == {
        "metric": "latency",
        "precision": "fp16",
    }


def test_an_explicit_empty_list_stays_empty() -> None:
    doc = {
        "apiVersion": r.V1ALPHA1,
        "kind": "AIMModel",
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": {"image": "x:1", "imagePullSecrets": []},
    }
    assert codec.dump(codec.load(r.AIMModel, doc)) == doc


def test_secret_values_never_enter_the_core() -> None:
    doc = _documents(ROOT / "fixtures" / "spec" / "12-full-custom-deployment.yaml")[0]
    secret = codec.secret_from_manifest(doc)
    assert secret.keys == ("token",)
    assert "hf_xxxxxxxxxxxxx" not in repr(secret)
    assert "hf_xxxxxxxxxxxxx" not in str(codec.dump(secret))


# --- generated resources round-trip ---------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
quantities = st.one_of(st.integers(0, 512), st.sampled_from(["500m", "4", "64Gi", "1.5", "16Gi", "2k"]))
env_vars = st.builds(
    r.EnvVar,
    name=st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True),
    value=st.one_of(st.none(), st.text(max_size=10)),
)
gpu = st.builds(
    r.GpuRequirements,
    requests=st.one_of(st.none(), st.integers(0, 8)),
    model=st.one_of(st.none(), st.sampled_from(["MI300X", "MI325X"])),
    min_vram=st.one_of(st.none(), quantities),
)
hardware = st.builds(
    r.Hardware,
    gpu=st.one_of(st.none(), gpu),
    cpu=st.one_of(
        st.none(), st.builds(r.CpuRequirements, requests=quantities, limits=st.one_of(st.none(), quantities))
    ),
)
sources = st.builds(
    r.ModelSource,
    model_id=st.sampled_from(["Qwen/Qwen3-32B", "my-org/model_1"]),
    source_uri=st.sampled_from(["hf://Qwen/Qwen3-32B", "s3://bucket/key"]),
    size=st.one_of(st.none(), quantities),
    env=st.one_of(st.none(), st.lists(env_vars, max_size=2).map(tuple)),
)
templates = st.builds(
    r.CustomTemplate,
    name=st.one_of(st.none(), names),
    type=st.one_of(st.none(), st.sampled_from(r.ProfileType)),
    hardware=st.one_of(st.none(), hardware),
    profile=st.one_of(
        st.none(),
        st.builds(
            r.ProfileSelection,
            metric=st.one_of(st.none(), st.sampled_from(r.Metric)),
            precision=st.one_of(st.none(), st.sampled_from(r.Precision)),
        ),
    ),
)
model_specs = st.builds(
    r.AIMModelSpec,
    image=st.one_of(st.none(), st.sampled_from(["amdenterpriseai/aim-base:0.8.5", "ghcr.io/x/y:1"])),
    aim_id=st.one_of(st.none(), st.just("qwen/qwen3-32b")),
    discovery=st.one_of(
        st.none(),
        st.builds(
            r.Discovery,
            extract_metadata=st.one_of(st.none(), st.booleans()),
            create_service_templates=st.one_of(st.none(), st.booleans()),
        ),
    ),
    custom=st.one_of(
        st.none(),
        st.builds(
            r.CustomModelSpec,
            hardware=st.one_of(st.none(), hardware),
            type=st.one_of(st.none(), st.sampled_from(r.ProfileType)),
            version_policy=st.one_of(st.none(), st.sampled_from(r.VersionPolicy)),
        ),
    ),
    custom_templates=st.one_of(st.none(), st.lists(templates, max_size=3).map(tuple)),
    model_sources=st.one_of(st.none(), st.lists(sources, max_size=1).map(tuple)),
    env=st.one_of(st.none(), st.lists(env_vars, max_size=2).map(tuple)),
    resources=st.one_of(
        st.none(),
        st.builds(
            r.ResourceRequirements,
            limits=st.one_of(st.none(), st.dictionaries(st.sampled_from(["cpu", "memory"]), quantities)),
        ),
    ),
)


@settings(max_examples=150)
@given(name=names, namespace=names, spec=model_specs)
def test_generated_models_round_trip(name: str, namespace: str, spec: r.AIMModelSpec) -> None:
    model = r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name=name, namespace=namespace),
        spec=spec,
    )
    document = codec.dump(model)
    assert codec.load(r.AIMModel, document) == model
    checked = check_document(document)
    # Structurally every generated model is sound; the cross-field rules may still object.
    assert checked.obj == model or (checked.obj is None and checked.problems)
