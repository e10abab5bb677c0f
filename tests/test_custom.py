"""Custom templates: names (reference-operator §4.2), hardware merge (§4.3, D18), type (D24), env,
CPU-only resources, and the document's custom-model examples run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimcore import custom
from aimcore import resources as r
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.files.manifests import load_catalog
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.ownership import LABEL_MODEL, LABEL_ORIGIN, LABEL_TEMPLATE_ALIAS

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "spec"
NOW = "2026-01-01T00:00:00Z"


def _gpu(requests: int | None = None, model: str | None = None, **kw: object) -> r.Hardware:
    return r.Hardware(gpu=r.GpuRequirements(requests=requests, model=model, **kw))  # type: ignore[arg-type]


# --------------------------------------------------------------------- §4.2 names


@pytest.mark.parametrize(
    ("model", "index", "entry", "expected"),
    [
        ("my-custom-qwen", 0, None, "my-custom-qwen-custom-4a20e66e"),
        (
            "my-custom-qwen",
            0,
            r.CustomTemplate(name="high-memory", hardware=_gpu(2)),
            "my-custom-qwen-custom-high-memory-2f79a15b",
        ),
        ("my-custom-qwen", 1, r.CustomTemplate(name="standard"), "my-custom-qwen-custom-standard-ded887fd"),
        ("my-custom-qwen", 0, r.CustomTemplate(), "my-custom-qwen-custom-46c45d67"),
        (
            "my-custom-qwen",
            0,
            r.CustomTemplate(
                name="fast",
                profile=r.ProfileSelection(metric=r.Metric.LATENCY, precision=r.Precision.FP8),
                hardware=_gpu(1, "MI300X"),
            ),
            "my-custom-qwen-custom-fast-fp8-mi300x-08f131ad",
        ),
        ("m", 0, r.CustomTemplate(name="Fast_Path"), "m-custom-fast-path-823167cd"),
        (
            "a-very-long-custom-model-name-that-is-quite-long-indeed-x",
            3,
            r.CustomTemplate(
                name="high-memory-variant",
                profile=r.ProfileSelection(precision=r.Precision.BF16),
                hardware=_gpu(4, "MI325X"),
            ),
            "a-very-long-custo-custom-high-memory-varia-bf16-mi325x-6359e6ef",
        ),
    ],
)
def test_template_name_vectors(model: str, index: int, entry: r.CustomTemplate | None, expected: str) -> None:
    assert custom.template_name(model, index, entry) == expected


# --------------------------------------------------------------------- §4.3 hardware merge


def test_merge_hardware_missing_sides() -> None:
    base = _gpu(1, "MI300X")
    assert custom.merge_hardware(None, base) is base
    assert custom.merge_hardware(base, None) is base
    assert custom.merge_hardware(None, None) is None


def test_merge_hardware_gpu_fields() -> None:
    base = _gpu(1, "MI300X", min_vram="64Gi", resource_name="amd.com/gpu")
    merged = custom.merge_hardware(base, _gpu(2))
    assert merged == _gpu(2, "MI300X", min_vram="64Gi", resource_name="amd.com/gpu")
    # a zero request and an empty model do not override
    assert custom.merge_hardware(base, _gpu(0, "")) == base
    merged = custom.merge_hardware(base, _gpu(None, "MI325X", min_vram="128Gi", resource_name="amd.com/xgpu"))
    assert merged == _gpu(1, "MI325X", min_vram="128Gi", resource_name="amd.com/xgpu")


def test_merge_hardware_min_vram_inherited_when_entry_has_none() -> None:
    merged = custom.merge_hardware(_gpu(1, min_vram="64Gi"), _gpu(4))
    assert merged is not None and merged.gpu is not None
    assert merged.gpu.min_vram == "64Gi"
    assert merged.gpu.requests == 4


def test_merge_hardware_gpu_taken_from_entry_when_base_has_none() -> None:
    base = r.Hardware(cpu=r.CpuRequirements(requests="4"))
    merged = custom.merge_hardware(base, _gpu(2, "MI300X"))
    assert merged == r.Hardware(
        gpu=r.GpuRequirements(requests=2, model="MI300X"), cpu=r.CpuRequirements(requests="4")
    )


def test_merge_hardware_cpu() -> None:
    base = r.Hardware(cpu=r.CpuRequirements(requests="4", limits="8"))
    entry = r.Hardware(cpu=r.CpuRequirements(requests="2"))
    assert custom.merge_hardware(base, entry) == r.Hardware(cpu=r.CpuRequirements(requests="2", limits="8"))
    assert custom.merge_hardware(_gpu(1), entry) == r.Hardware(
        gpu=r.GpuRequirements(requests=1), cpu=r.CpuRequirements(requests="2")
    )


# --------------------------------------------------------------------- D24 type


@pytest.mark.parametrize(
    ("custom_type", "entry_type", "expected"),
    [
        (None, None, r.ProfileType.UNOPTIMIZED),
        (r.ProfileType.OPTIMIZED, None, r.ProfileType.OPTIMIZED),
        (r.ProfileType.PREVIEW, None, r.ProfileType.PREVIEW),
        (r.ProfileType.OPTIMIZED, r.ProfileType.UNOPTIMIZED, r.ProfileType.UNOPTIMIZED),
        (None, r.ProfileType.PREVIEW, r.ProfileType.PREVIEW),
    ],
)
def test_effective_type(
    custom_type: r.ProfileType | None, entry_type: r.ProfileType | None, expected: r.ProfileType
) -> None:
    spec = r.CustomModelSpec(type=custom_type)
    assert custom.effective_type(spec, r.CustomTemplate(type=entry_type)) is expected
    if entry_type is None:
        assert custom.effective_type(spec, None) is expected


def _model(spec: r.AIMModelSpec, name: str = "m") -> r.AIMModel:
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name=name, namespace="ns", uid="uid-m"),
        spec=spec,
    )


SOURCES = (r.ModelSource(model_id="org/m", source_uri="s3://b/m"),)


def test_entries_inherit_custom_type_every_time() -> None:
    spec = r.AIMModelSpec(
        image="amdenterpriseai/aim-base:latest",
        model_sources=SOURCES,
        custom=r.CustomModelSpec(
            type=r.ProfileType.PREVIEW,
            hardware=_gpu(1),
            templates=(r.CustomTemplate(name="a"), r.CustomTemplate(name="b", type=r.ProfileType.OPTIMIZED)),
        ),
    )
    types = [t.spec.type for t in custom.build_templates(_model(spec))]
    assert types == [r.ProfileType.PREVIEW, r.ProfileType.OPTIMIZED]


# --------------------------------------------------------------------- env, CPU


def test_env_merged_by_name_template_wins() -> None:
    spec = r.AIMModelSpec(
        image="amdenterpriseai/aim-base:latest",
        model_sources=SOURCES,
        env=(r.EnvVar(name="A", value="1"), r.EnvVar(name="B", value="2")),
        custom_templates=(
            r.CustomTemplate(name="x", env=(r.EnvVar(name="B", value="3"), r.EnvVar(name="C", value="4"))),
            r.CustomTemplate(name="y"),
        ),
    )
    first, second = custom.build_templates(_model(spec))
    assert first.spec.env == (
        r.EnvVar(name="A", value="1"),
        r.EnvVar(name="B", value="3"),
        r.EnvVar(name="C", value="4"),
    )
    assert second.spec.env == spec.env


def test_cpu_only_becomes_cpu_resources() -> None:
    hardware = r.Hardware(cpu=r.CpuRequirements(requests="500m", limits="2"))
    assert custom.cpu_resources(hardware) == r.ResourceRequirements(
        requests={"cpu": "500m"}, limits={"cpu": "2"}
    )
    assert custom.cpu_resources(r.Hardware(cpu=r.CpuRequirements(requests=1))) == r.ResourceRequirements(
        requests={"cpu": 1}
    )
    assert custom.cpu_resources(_gpu(1)) is None
    spec = r.AIMModelSpec(
        image="amdenterpriseai/aim-base:latest",
        model_sources=SOURCES,
        custom=r.CustomModelSpec(hardware=hardware),
    )
    (template,) = custom.build_templates(_model(spec))
    assert template.spec.resources == r.ResourceRequirements(requests={"cpu": "500m"}, limits={"cpu": "2"})
    assert template.spec.type is r.ProfileType.UNOPTIMIZED


# --------------------------------------------------------------------- the document's examples


def _simulate(*names: str) -> MemoryCluster:
    facts, problems = load_image_facts(str(ROOT / "fixtures" / "catalog.imagefacts"))
    assert problems == []
    catalog = load_catalog([str(SPEC / n) for n in names])
    assert catalog.problems == ()
    cluster = MemoryCluster((o for o, _ in catalog.objects), now=NOW, operator_namespace="aim-system")
    outcome = run(cluster, lambda keys: {k: facts.inspect(k) for k in keys}, max_rounds=20)
    assert outcome.converged
    return cluster


def _templates(cluster: MemoryCluster) -> dict[str, r.Template]:
    return {
        str(o.metadata.name): o
        for o in cluster.objects.values()
        if isinstance(o, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
    }


def _models(cluster: MemoryCluster) -> dict[str, r.Model]:
    return {str(o.metadata.name): o for o in cluster.objects.values() if isinstance(o, r.AIMModel)}


def test_spec_custom_examples_end_to_end() -> None:
    cluster = _simulate(
        "06-custom-model.yaml",
        "08-custom-templates.yaml",
        "09-custom-profile.yaml",
        "11-source-credentials.yaml",
    )
    models = _models(cluster)
    assert sorted(models) == [
        "custom-from-s3",
        "custom-hardware-example",
        "custom-templates-example",
        "llama-custom-profile",
        "my-custom-qwen",
        "qwen-from-hf",
    ]
    for model in models.values():
        assert model.status is not None
        assert model.status.status is r.Status.READY
        assert model.status.source_type is r.SourceType.CUSTOM
    templates = _templates(cluster)
    assert sorted(templates) == [
        "custom-from-s3-custom-dca27188",
        "custom-hardware-example-custom-2fff9dba",
        "custom-templates-example-custom-high-memory-308e3cea",
        "custom-templates-example-custom-standard-bee9bc87",
        "llama-custom-prof-custom-llama-custom-tune-fp16-mi300x-f9399102",
        "my-custom-qwen-custom-4a20e66e",
        "qwen-from-hf-custom-0f097218",
    ]
    for template in templates.values():
        assert template.status is not None and template.status.status is r.TemplateStatus.READY
        labels = template.metadata.labels or {}
        assert labels[LABEL_MODEL] == template.spec.model_name
        assert labels[LABEL_ORIGIN] == "auto-generated"
        owner = models[template.spec.model_name]
        assert template.spec.model_sources == owner.spec.model_sources
        (ref,) = template.metadata.owner_references or ()
        assert (ref.kind, ref.name, ref.uid, ref.controller) == (
            "AIMModel",
            owner.metadata.name,
            owner.metadata.uid,
            True,
        )

    # 06: one template from custom.hardware, unoptimized, on MI300X
    t06 = templates["my-custom-qwen-custom-4a20e66e"]
    assert t06.spec.type is r.ProfileType.UNOPTIMIZED
    assert t06.spec.hardware == r.Hardware(gpu=r.GpuRequirements(requests=1, models=("MI300X",)))
    assert t06.status is not None and t06.status.hardware_summary == "1 x MI300X"

    # 08: hardware with cpu and minVram; two named entries inheriting from custom.*
    hw = templates["custom-hardware-example-custom-2fff9dba"]
    assert hw.spec.hardware == r.Hardware(
        gpu=r.GpuRequirements(requests=2, models=("MI300X", "MI250"), min_vram="64Gi"),
        cpu=r.CpuRequirements(requests="4", limits="8"),
    )
    assert hw.spec.resources == r.ResourceRequirements(requests={"cpu": "4"}, limits={"cpu": "8"})
    high = templates["custom-templates-example-custom-high-memory-308e3cea"]
    standard = templates["custom-templates-example-custom-standard-bee9bc87"]
    assert high.spec.hardware == r.Hardware(gpu=r.GpuRequirements(requests=2))
    assert standard.spec.hardware == r.Hardware(gpu=r.GpuRequirements(requests=1))
    assert high.spec.env == (r.EnvVar(name="VLLM_GPU_MEMORY_UTILIZATION", value="0.95"),)
    assert standard.spec.env is None
    assert high.spec.type is standard.spec.type is r.ProfileType.UNOPTIMIZED
    assert (high.metadata.labels or {})[LABEL_TEMPLATE_ALIAS] == "high-memory"
    assert (standard.metadata.labels or {})[LABEL_TEMPLATE_ALIAS] == "standard"

    # 09: the custom profile travels onto the template and into its profile
    tuned = templates["llama-custom-prof-custom-llama-custom-tune-fp16-mi300x-f9399102"]
    assert tuned.spec.metric is r.Metric.LATENCY
    assert tuned.spec.precision is r.Precision.FP16
    assert tuned.spec.aim_id == tuned.spec.model_id == "meta-llama/Llama-3-8B"
    assert tuned.spec.custom_profile == r.CustomProfile(
        engine_args={"dtype": "float16", "gpu-memory-utilization": 0.95},
        env_vars={"PYTORCH_TUNABLEOP_ENABLED": "1"},
    )
    assert tuned.status is not None and tuned.status.profile is not None
    assert tuned.status.profile.engine_args == {"dtype": "float16", "gpu-memory-utilization": 0.95}

    # 11: per-source credentials are copied with the sources, never resolved
    s3 = templates["custom-from-s3-custom-dca27188"]
    assert s3.spec.model_sources is not None
    names = [e.name for e in s3.spec.model_sources[0].env or ()]
    assert names == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"]


def test_custom_template_unavailable_gpu_keeps_model_ready() -> None:
    facts, _ = load_image_facts(str(ROOT / "fixtures" / "catalog.imagefacts"))
    catalog = load_catalog([str(SPEC / "06-custom-model.yaml")])
    cluster = MemoryCluster(
        (o for o, _ in catalog.objects), now=NOW, operator_namespace="aim-system", gpus=["MI210"]
    )
    assert run(cluster, lambda keys: {k: facts.inspect(k) for k in keys}, max_rounds=20).converged
    (template,) = _templates(cluster).values()
    assert template.status is not None and template.status.status is r.TemplateStatus.NOT_AVAILABLE
    model = _models(cluster)["my-custom-qwen"]
    assert model.status is not None and model.status.status is r.Status.DEGRADED
