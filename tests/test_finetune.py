"""Fine-tuned copies (issue 5): aim-models.txt "Fine-Tuned Models", reference-finetuned §4-§8, §13, D20-22."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.files.manifests import load_catalog
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.finetune import FINE_TUNED_TEMPLATES_READY, CopyPlan, plan_copies
from aimcore.naming import finetuned_copy_name, is_valid_label
from aimcore.ownership import ANNOTATION_DEPLOYMENT_IMAGE, LABEL_MODEL, LABEL_ORIGIN
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot

AIM_ID = "qwen/qwen3-32b"
FP8 = "qwen/qwen3-32b-fp8"
FP16 = "qwen/qwen3-32b-fp16"
WEIGHTS = "s3://my-bucket/weights/"
NS = "ml-team"
FT_UID = "uid-ft"

# ------------------------------------------------------------------------------ builders


def ft_model(
    *,
    name: str = "ft-qwen",
    namespace: str | None = NS,
    image: str | None = None,
    policy: r.VersionPolicy | None = None,
    model_id: str = FP8,
    env: tuple[r.EnvVar, ...] | None = None,
    secrets: tuple[str, ...] | None = None,
    service_account: str | None = None,
) -> r.Model:
    spec = r.AIMModelSpec(
        image=image,
        aim_id=AIM_ID,
        model_sources=(r.ModelSource(model_id=model_id, source_uri=WEIGHTS),),
        custom=r.CustomModelSpec(version_policy=policy) if policy else None,
        env=env,
        image_pull_secrets=tuple(r.LocalObjectReference(name=s) for s in secrets) if secrets else None,
        service_account_name=service_account,
    )
    meta = r.ObjectMeta(name=name, namespace=namespace, uid=FT_UID)
    if namespace is None:
        return r.AIMClusterModel(api_version=r.V1ALPHA1, kind="AIMClusterModel", metadata=meta, spec=spec)
    return r.AIMModel(api_version=r.V1ALPHA1, kind="AIMModel", metadata=meta, spec=spec)


def owner(
    name: str,
    image: str,
    *,
    namespace: str | None = None,
    base_ref: str | None = None,
    status_metadata: bool = True,
) -> r.Model:
    """An official, settled model; base_ref lands on status.imageMetadata (as inspection leaves it)."""
    metadata = r.ImageMetadata(base_image_ref=base_ref) if status_metadata else None
    meta = r.ObjectMeta(name=name, namespace=namespace, uid=f"uid-{namespace}-{name}")
    spec = r.AIMModelSpec(image=image)
    status = r.AIMModelStatus(status=r.Status.READY, image_metadata=metadata)
    if namespace is None:
        return r.AIMClusterModel(
            api_version=r.V1ALPHA1, kind="AIMClusterModel", metadata=meta, spec=spec, status=status
        )
    return r.AIMModel(api_version=r.V1ALPHA1, kind="AIMModel", metadata=meta, spec=spec, status=status)


def profile(
    *,
    gpu: str | None = "MI300X",
    count: int | None = 1,
    metric: str | None = "latency",
    precision: str | None = "fp8",
    model_id: str | None = FP8,
    engine_args: Mapping[str, Any] | None = None,
    env_vars: Mapping[str, str] | None = None,
) -> r.TemplateProfile:
    return r.TemplateProfile(
        engine_args=engine_args,
        env_vars=env_vars,
        metadata=r.ProfileMetadata(
            gpu=gpu,
            gpu_count=count,
            metric=metric,
            precision=precision,
            type="optimized",
            aim_id=AIM_ID,
            model_id=model_id,
        ),
    )


_DEFAULT = object()


def template(
    name: str,
    model_name: str,
    *,
    namespace: str | None = None,
    model_id: str = FP8,
    aim_id: str = AIM_ID,
    prof: Any = _DEFAULT,
    version: str | None = None,
    labels: Mapping[str, str] | None = None,
    owner_uid: str | None = None,
    spec_extra: Mapping[str, Any] | None = None,
) -> r.Template:
    """A source template; its profile defaults to one matching its modelId, as discovery fills it."""
    the_profile = profile(model_id=model_id) if prof is _DEFAULT else prof
    meta = r.ObjectMeta(
        name=name,
        namespace=namespace,
        uid=f"uid-t-{namespace}-{name}",
        labels=labels,
        owner_references=(
            (
                r.OwnerReference(
                    api_version=r.V1ALPHA1, kind="AIMModel", name="x", uid=owner_uid, controller=True
                ),
            )
            if owner_uid
            else None
        ),
    )
    spec = r.AIMServiceTemplateSpec(
        model_name=model_name, aim_id=aim_id, model_id=model_id, **(spec_extra or {})
    )
    status = r.AIMServiceTemplateStatus(profile=the_profile, version=version)
    if namespace is None:
        return r.AIMClusterServiceTemplate(
            api_version=r.V1ALPHA1, kind="AIMClusterServiceTemplate", metadata=meta, spec=spec, status=status
        )
    return r.AIMServiceTemplate(
        api_version=r.V1ALPHA1, kind="AIMServiceTemplate", metadata=meta, spec=spec, status=status
    )


def plan(model: r.Model, *objects: r.Resource) -> CopyPlan:
    return plan_copies(model, Snapshot.build([model, *objects]))


def images(result: CopyPlan) -> dict[str, str]:
    """copy name -> deployment image annotation."""
    return {
        o.metadata.name or "": (o.metadata.annotations or {})[ANNOTATION_DEPLOYMENT_IMAGE]
        for o in result.desired
    }


def component(result: CopyPlan) -> tuple[r.Status, str, str]:
    (c,) = result.components
    assert c.type == FINE_TUNED_TEMPLATES_READY
    return c.state, c.reason, c.message


def only(result: CopyPlan) -> r.Template:
    (copy,) = result.desired
    assert isinstance(copy, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
    return copy


# ----------------------------------------------------------------- §13 filter scenarios


def _versioned(versions: Sequence[str], namespace: str | None = None) -> list[r.Resource]:
    """One owner per version and one template per entry (gpu differs, so copy names differ)."""
    objects: list[r.Resource] = []
    for i, version in enumerate(versions):
        owner_name = f"qwen3-{i}"
        if version:
            objects.append(
                owner(
                    owner_name, f"ghcr.io/silogen/qwen3:{version}", base_ref="ghcr.io/silogen/aim-base:0.11"
                )
            )
        objects.append(template(f"t{i}", owner_name, prof=profile(gpu=f"MI{300 + i}X")))
    return objects


@pytest.mark.parametrize(
    ("policy", "image", "versions", "expected"),
    [
        (
            r.VersionPolicy.PINNED,
            "amdenterpriseai/aim-base:0.8.5",
            ["0.8.5", "0.9.0", "0.8.5"],
            ["0.8.5", "0.8.5"],
        ),
        (r.VersionPolicy.LATEST, None, ["0.8.5", "0.9.0", "0.9.0", "0.7.0"], ["0.9.0", "0.9.0"]),
        (r.VersionPolicy.ANY, None, ["0.8.5", "0.9.0"], ["0.8.5", "0.9.0"]),
        (r.VersionPolicy.ALL, None, ["0.8.5", "0.9.0"], ["0.8.5", "0.9.0"]),
        (r.VersionPolicy.PINNED, "amdenterpriseai/aim-base:0.8.5", ["0.9.0"], []),
        (r.VersionPolicy.LATEST, None, ["", ""], []),
    ],
)
def test_version_filter_scenarios(
    policy: r.VersionPolicy, image: str | None, versions: list[str], expected: list[str]
) -> None:
    result = plan(ft_model(image=image, policy=policy), *_versioned(versions))
    got = sorted(name.split("-ft-")[1].rsplit("-fp8", 1)[0].replace("-", ".") for name in images(result))
    assert got == expected


def test_match_by_model_id_with_pinned_image() -> None:
    """fp8 0.8.5, fp16 0.8.5 and another aimId's fp8 0.8.5: one copy, with the model's weights."""
    objects = [
        owner("qwen3", "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"),
        template("fp8", "qwen3"),
        template("fp16", "qwen3", model_id=FP16, prof=profile(model_id=FP16, precision="fp16")),
        template("other", "qwen3", aim_id="meta/llama-3-8b"),
    ]
    copy = only(plan(ft_model(image="amdenterpriseai/aim-base:0.8.5"), *objects))
    assert copy.spec.model_sources == (r.ModelSource(model_id=FP8, source_uri=WEIGHTS),)
    assert copy.spec.model_id == FP8


def test_pinned_picks_the_version_of_the_image_tag() -> None:
    objects = [
        owner("old", "amdenterpriseai/aim-qwen-qwen3-32b:0.7.0"),
        owner("new", "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"),
        template("fp8-old", "old"),
        template("fp8-new", "new"),
    ]
    copy = only(plan(ft_model(image="amdenterpriseai/aim-base:0.8.5"), *objects))
    assert (copy.metadata.name or "").startswith("ft-qwen-ft-0-8-5-fp8-mi300x-")
    assert copy.metadata.name == finetuned_copy_name(
        "ft-qwen", "0.8.5", "fp8", "MI300X", AIM_ID, FP8, "new", "", "latency"
    )


def test_model_id_mismatch_matches_nothing() -> None:
    objects = [owner("qwen3", "x/qwen3:0.8.5"), template("fp8", "qwen3")]
    result = plan(ft_model(image="x/aim-base:0.8.5", model_id="qwen/qwen3-32b-int4"), *objects)
    assert result.desired == ()
    state, reason, message = component(result)
    assert (state, reason) == (r.Status.DEGRADED, "NoMatchingTemplates")
    assert message == (
        "templates with aimId qwen/qwen3-32b at version 0.8.5 (policy pinned) have modelId "
        "qwen/qwen3-32b-fp8, "
        "none is qwen/qwen3-32b-int4: correct spec.modelSources[].modelId"
    )


def test_cluster_model_matches_cluster_templates_and_makes_cluster_copies() -> None:
    objects = [
        owner("qwen3", "x/qwen3:0.9.0"),
        template("fp8", "qwen3"),
        template("fp16", "qwen3", model_id=FP16, prof=profile(model_id=FP16, precision="fp16")),
        template("ns-fp8", "qwen3", namespace=NS),
    ]
    copy = only(plan(ft_model(namespace=None, image="x/aim-base:0.9.0"), *objects))
    assert copy.kind == "AIMClusterServiceTemplate"
    assert copy.metadata.namespace is None
    assert copy.spec.model_name == "ft-qwen"


@pytest.mark.parametrize("namespace", [NS, None])
def test_copies_are_never_sources(namespace: str | None) -> None:
    """Feedback guard: a copy at 0.11 (owned by a fine-tuned model) never feeds back, latest keeps 0.11.0."""
    other_ft = owner("ft-other", "x/aim-base:0.11", namespace=namespace)
    objects = [
        owner("qwen3", "x/qwen3:0.11.0", namespace=namespace, base_ref="x/aim-base:0.11"),
        other_ft,
        template("base", "qwen3", namespace=namespace),
        template("copy", "ft-other", namespace=namespace, labels={LABEL_ORIGIN: "fine-tuned"}),
    ]
    result = plan(ft_model(namespace=namespace, policy=r.VersionPolicy.LATEST), *objects)
    assert len(result.desired) == 1
    assert (only(result).metadata.name or "").startswith("ft-qwen-ft-0-11-0-fp8-mi300x-")


# ------------------------------------------------------------------ §13 build scenarios


def test_build_pinned_without_owner_objects() -> None:
    source = template(
        "src", "qwen3", namespace=NS, version="0.8.5", prof=profile(count=4), spec_extra={"profile_id": "p1"}
    )
    result = plan(ft_model(image="amdenterpriseai/aim-base:0.8.5"), source)
    copy = only(result)
    assert copy.kind == "AIMServiceTemplate"
    assert copy.metadata.namespace == NS
    assert copy.metadata.name
    assert copy.metadata.annotations == {ANNOTATION_DEPLOYMENT_IMAGE: "amdenterpriseai/aim-base:0.8.5"}
    labels = copy.metadata.labels or {}
    assert labels[LABEL_MODEL] == "ft-qwen"
    assert labels[LABEL_ORIGIN] == "fine-tuned"
    assert copy.metadata.owner_references == (
        r.OwnerReference(
            api_version=r.V1ALPHA1, kind="AIMModel", name="ft-qwen", uid=FT_UID, controller=True
        ),
    )
    assert copy.spec == r.AIMServiceTemplateSpec(
        model_name="ft-qwen",
        aim_id=AIM_ID,
        model_id=FP8,
        metric=r.Metric.LATENCY,
        precision=r.Precision.FP8,
        type=r.ProfileType.OPTIMIZED,
        hardware=r.Hardware(gpu=r.GpuRequirements(model="MI300X", requests=4)),
        model_sources=(r.ModelSource(model_id=FP8, source_uri=WEIGHTS),),
    )
    assert component(result) == (
        r.Status.READY,
        "AllCopiesCreated",
        f"every matching template has a copy (policy pinned): {copy.metadata.name} "
        "from AIMServiceTemplate ml-team/src",
    )


def test_custom_profile_is_carried_and_profile_id_dropped() -> None:
    prof = profile(engine_args={"tensor-parallel-size": 1}, env_vars={"HIP_FORCE_DEV_KERNARG": "1"})
    source = template("src", "qwen3", version="0.8.5", prof=prof, spec_extra={"profile_id": "p1"})
    copy = only(plan(ft_model(image="x/aim-base:0.8.5"), source))
    assert copy.spec.custom_profile == r.CustomProfile(
        engine_args={"tensor-parallel-size": 1}, env_vars={"HIP_FORCE_DEV_KERNARG": "1"}
    )
    assert copy.spec.profile_id is None


def test_profile_wins_over_source_spec() -> None:
    """Source spec lacks precision, metadata has fp16: the copy takes everything from the profile."""
    prof = profile(precision="fp16", engine_args={"a": 1})
    source = template("src", "qwen3", version="0.8.5", prof=prof, spec_extra={"metric": r.Metric.THROUGHPUT})
    copy = only(plan(ft_model(image="x/aim-base:0.8.5"), source))
    assert (copy.spec.aim_id, copy.spec.model_id) == (AIM_ID, FP8)
    assert copy.spec.metric is r.Metric.LATENCY
    assert copy.spec.precision is r.Precision.FP16
    assert copy.spec.hardware == r.Hardware(gpu=r.GpuRequirements(model="MI300X", requests=1))


@pytest.mark.parametrize(
    ("prof", "reason", "state", "why"),
    [
        (None, "AwaitingSourceProfile", r.Status.PROGRESSING, "has no discovered profile yet"),
        (r.TemplateProfile(), "AwaitingSourceProfile", r.Status.PROGRESSING, "has no discovered profile yet"),
        (
            profile(precision=None, engine_args={"a": 1}),
            "SourceProfileIncomplete",
            r.Status.DEGRADED,
            "has engine settings but its profile lacks precision",
        ),
        (
            profile(metric=None, engine_args={"a": 1}),
            "SourceProfileIncomplete",
            r.Status.DEGRADED,
            "has engine settings but its profile lacks metric",
        ),
        (
            profile(gpu=None, count=None, engine_args={"a": 1}),
            "SourceProfileIncomplete",
            r.Status.DEGRADED,
            "has engine settings but its profile lacks gpu",
        ),
    ],
)
def test_copies_are_deferred_without_a_usable_profile(
    prof: r.TemplateProfile | None, reason: str, state: r.Status, why: str
) -> None:
    source = template("src", "qwen3", version="0.8.5", prof=prof)
    result = plan(ft_model(image="x/aim-base:0.8.5"), source)
    assert result.desired == ()
    got_state, got_reason, message = component(result)
    assert (got_state, got_reason) == (state, reason)
    assert message.startswith(f"AIMClusterServiceTemplate src {why}")
    assert any(x.subject == "AIMClusterServiceTemplate src" for x in result.reasons)


def test_inline_source_without_engine_config() -> None:
    prof = r.TemplateProfile(
        metadata=r.ProfileMetadata(aim_id=AIM_ID, model_id=FP8, gpu="MI300X", gpu_count=1)
    )
    copy = only(
        plan(ft_model(image="x/aim-base:0.8.5"), template("src", "qwen3", version="0.8.5", prof=prof))
    )
    assert copy.spec.custom_profile is None
    assert (copy.spec.metric, copy.spec.precision) == (None, None)
    assert copy.spec.hardware == r.Hardware(gpu=r.GpuRequirements(model="MI300X", requests=1))


def test_env_merge_model_wins_and_pull_settings_override() -> None:
    secret_ref = r.KeySelector(name="s3", key="endpoint")
    source = template(
        "src",
        "qwen3",
        version="0.8.5",
        spec_extra={
            "env": (
                r.EnvVar(name="AWS_ENDPOINT_URL", value="http://template"),
                r.EnvVar(name="KEEP", value_from=r.EnvVarSource(secret_key_ref=secret_ref)),
            ),
            "image_pull_secrets": (r.LocalObjectReference(name="template-secret"),),
            "service_account_name": "template-sa",
            "runtime_config_name": "rc",
            "resources": r.ResourceRequirements(limits={"memory": "64Gi"}),
        },
    )
    model = ft_model(
        image="x/aim-base:0.8.5",
        env=(r.EnvVar(name="AWS_ENDPOINT_URL", value="http://model"), r.EnvVar(name="NEW", value="1")),
        secrets=("model-secret",),
        service_account="model-sa",
    )
    spec = only(plan(model, source)).spec
    assert spec.env == (
        r.EnvVar(name="AWS_ENDPOINT_URL", value="http://model"),
        r.EnvVar(name="KEEP", value_from=r.EnvVarSource(secret_key_ref=secret_ref)),
        r.EnvVar(name="NEW", value="1"),
    )
    assert spec.image_pull_secrets == (r.LocalObjectReference(name="model-secret"),)
    assert spec.service_account_name == "model-sa"
    assert spec.runtime_config_name == "rc"
    assert spec.resources == r.ResourceRequirements(limits={"memory": "64Gi"})


def test_source_pull_settings_kept_when_model_sets_none() -> None:
    source = template(
        "src",
        "qwen3",
        version="0.8.5",
        spec_extra={
            "image_pull_secrets": (r.LocalObjectReference(name="template-secret"),),
            "service_account_name": "template-sa",
        },
    )
    spec = only(plan(ft_model(image="x/aim-base:0.8.5"), source)).spec
    assert spec.image_pull_secrets == (r.LocalObjectReference(name="template-secret"),)
    assert spec.service_account_name == "template-sa"


# -------------------------------------------------------------- §13 resolver scenarios


@pytest.mark.parametrize(
    ("policy", "owner_image", "base_ref", "expected"),
    [
        (
            r.VersionPolicy.LATEST,
            "ghcr.io/silogen/qwen3:0.9.0",
            "ghcr.io/silogen/aim-base:0.9.0",
            "ghcr.io/silogen/aim-base:0.9",
        ),
        (
            r.VersionPolicy.ANY,
            "amdenterpriseai/aim-qwen-qwen3-32b:0.11.0",
            "ghcr.io/silogen/aim-base:0.11-rc21",
            "amdenterpriseai/aim-base:0.11",
        ),
        (
            r.VersionPolicy.ANY,
            "ghcr.io/silogen/qwen3:0.11.0",
            "docker.io/amdenterpriseai/aim-base:0.11",
            "ghcr.io/silogen/aim-base:0.11",
        ),
        (r.VersionPolicy.LATEST, "ghcr.io/silogen/qwen3:0.11.0", None, "ghcr.io/silogen/aim-base:0.11"),
    ],
)
def test_deployment_image_from_cluster_owner(
    policy: r.VersionPolicy, owner_image: str, base_ref: str | None, expected: str
) -> None:
    objects = [owner("qwen3", owner_image, base_ref=base_ref), template("src", "qwen3")]
    assert list(images(plan(ft_model(policy=policy), *objects)).values()) == [expected]


def test_spec_image_metadata_beats_status_even_when_empty() -> None:
    """owner.spec.imageMetadata set: its baseImageRef is used as is (empty -> legacy tag), status ignored."""
    base = owner(
        "qwen3", "ghcr.io/silogen/qwen3:0.11.0", base_ref="docker.io/amdenterpriseai/aim-epyc-base:0.11"
    )
    base = type(base)(
        api_version=base.api_version,
        kind=base.kind,
        metadata=base.metadata,
        spec=r.AIMModelSpec(image=base.spec.image, image_metadata=r.ImageMetadata()),
        status=base.status,
    )
    result = plan(ft_model(policy=r.VersionPolicy.ANY), base, template("src", "qwen3"))
    assert list(images(result).values()) == ["ghcr.io/silogen/aim-base:0.11"]


def test_unresolvable_owner_defers_the_copy() -> None:
    objects = [owner("qwen3", "ghcr.io/silogen/qwen3:latest"), template("src", "qwen3")]
    result = plan(ft_model(policy=r.VersionPolicy.ANY), *objects)
    assert result.desired == ()
    state, reason, message = component(result)
    assert (state, reason) == (r.Status.PROGRESSING, "AwaitingSourceImage")
    name = finetuned_copy_name("ft-qwen", "latest", "fp8", "MI300X", AIM_ID, FP8, "qwen3", "", "latency")
    assert message == (
        f"AIMClusterServiceTemplate src: copy {name} not created: source owner AIMClusterModel qwen3 has no "
        "baseImageRef and no semver tag to fall back to (tag the owner's spec.image with a version, or clear "
        "its status.imageMetadata to inspect it again)"
    )


def test_missing_owner_defers_unless_pinned() -> None:
    source = template("src", "qwen3", version="0.11.0")
    latest = plan(ft_model(policy=r.VersionPolicy.LATEST), source)
    assert latest.desired == ()
    assert "source owner AIMClusterModel qwen3 not found" in component(latest)[2]
    pinned = plan(ft_model(image="ghcr.io/silogen/aim-base:0.8.5"), template("src", "qwen3", version="0.8.5"))
    assert list(images(pinned).values()) == ["ghcr.io/silogen/aim-base:0.8.5"]


def test_namespaced_owner() -> None:
    objects = [
        owner(
            "qwen3-0.9.0",
            "ghcr.io/silogen/qwen3:0.9.0",
            namespace="team-a",
            base_ref="ghcr.io/silogen/aim-base:0.9.0",
        ),
        template("src", "qwen3-0.9.0", namespace="team-a"),
    ]
    result = plan(ft_model(namespace="team-a", policy=r.VersionPolicy.LATEST), *objects)
    assert list(images(result).values()) == ["ghcr.io/silogen/aim-base:0.9"]


def test_namespace_template_of_a_cluster_model_finds_its_owner() -> None:
    """D16: a namespace template's modelName may name a cluster model; its image is the owner's."""
    objects = [
        owner("qwen3", "ghcr.io/silogen/qwen3:0.9.0", base_ref="ghcr.io/silogen/aim-base:0.9.0"),
        template("src", "qwen3", namespace=NS),
    ]
    assert list(images(plan(ft_model(policy=r.VersionPolicy.ANY), *objects)).values()) == [
        "ghcr.io/silogen/aim-base:0.9"
    ]


def test_heterogeneous_owners_get_their_own_images() -> None:
    objects = [
        owner("mi300", "ghcr.io/silogen/qwen3:0.11.0", base_ref="ghcr.io/silogen/aim-base:0.11"),
        owner("epyc", "ghcr.io/silogen/qwen3-epyc:0.11.0", base_ref="ghcr.io/silogen/aim-epyc-base:0.11"),
        template("mi300-fp8", "mi300"),
        template("epyc-fp8", "epyc"),
    ]
    got = images(plan(ft_model(policy=r.VersionPolicy.ANY), *objects))
    assert len(got) == 2
    assert sorted(got.values()) == ["ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-epyc-base:0.11"]


def test_one_unresolvable_owner_skips_only_its_copy() -> None:
    objects = [
        owner("good", "ghcr.io/silogen/qwen3:0.11.0", base_ref="ghcr.io/silogen/aim-base:0.11"),
        owner("bad", "ghcr.io/silogen/qwen3:latest"),
        template("good-fp8", "good"),
        template("bad-fp8", "bad"),
    ]
    result = plan(ft_model(policy=r.VersionPolicy.ANY), *objects)
    assert list(images(result).values()) == ["ghcr.io/silogen/aim-base:0.11"]
    state, reason, message = component(result)
    assert (state, reason) == (r.Status.PROGRESSING, "AwaitingSourceImage")
    assert message.startswith("AIMClusterServiceTemplate bad-fp8: copy ")
    assert message.endswith(
        f". Ready: {result.desired[0].metadata.name} from AIMClusterServiceTemplate good-fp8"
    )


# --------------------------------------------------------------- the document's examples


def _catalog() -> list[r.Resource]:
    return [
        owner(
            "qwen3-32b-0.8.5",
            "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5",
            base_ref="docker.io/amdenterpriseai/aim-base:0.8.5",
        ),
        owner(
            "qwen3-32b-0.9.0",
            "amdenterpriseai/aim-qwen-qwen3-32b:0.9.0",
            base_ref="docker.io/amdenterpriseai/aim-base:0.9.0",
        ),
        template("q085-fp8", "qwen3-32b-0.8.5"),
        template(
            "q085-fp16", "qwen3-32b-0.8.5", model_id=FP16, prof=profile(model_id=FP16, precision="fp16")
        ),
        template("q090-fp8", "qwen3-32b-0.9.0"),
    ]


def test_document_pinned_example() -> None:
    model = ft_model(name="my-finetuned-qwen", image="amdenterpriseai/aim-base:0.8.5")
    copy = only(plan(model, *_catalog()))
    assert copy.metadata.name == finetuned_copy_name(
        "my-finetuned-qwen", "0.8.5", "fp8", "MI300X", AIM_ID, FP8, "qwen3-32b-0.8.5", "", "latency"
    )
    assert copy.metadata.annotations == {ANNOTATION_DEPLOYMENT_IMAGE: "amdenterpriseai/aim-base:0.8.5"}
    assert copy.spec.model_sources == (r.ModelSource(model_id=FP8, source_uri=WEIGHTS),)


def test_document_latest_example() -> None:
    model = ft_model(name="my-finetuned-qwen-latest", policy=r.VersionPolicy.LATEST)
    copy = only(plan(model, *_catalog()))
    assert copy.metadata.name == finetuned_copy_name(
        "my-finetuned-qwen-latest", "0.9.0", "fp8", "MI300X", AIM_ID, FP8, "qwen3-32b-0.9.0", "", "latency"
    )
    assert copy.metadata.annotations == {ANNOTATION_DEPLOYMENT_IMAGE: "amdenterpriseai/aim-base:0.9"}


def test_copy_name_vector() -> None:
    objects = [
        owner("qwen3-mi300", "ghcr.io/silogen/qwen3:0.11.0", base_ref="ghcr.io/silogen/aim-base:0.11"),
        template("src", "qwen3-mi300"),
    ]
    copy = only(plan(ft_model(name="ft-qwen", namespace=None, policy=r.VersionPolicy.ANY), *objects))
    assert copy.metadata.name == "ft-qwen-ft-0-11-0-fp8-mi300x-809baf25"


# ------------------------------------------------------------------ tenancy and status


def test_other_namespaces_are_never_candidates() -> None:
    objects = [
        owner("qwen3", "ghcr.io/x/qwen3:0.11.0", namespace="other-team", base_ref="ghcr.io/x/aim-base:0.11"),
        template("theirs", "qwen3", namespace="other-team"),
    ]
    result = plan(ft_model(policy=r.VersionPolicy.ANY), *objects)
    assert result.desired == ()
    assert component(result) == (
        r.Status.DEGRADED,
        "NoMatchingTemplates",
        "no template in namespace ml-team or the cluster has spec.aimId qwen/qwen3-32b: "
        "create the base model whose templates carry that aimId, or correct spec.aimId",
    )


def test_no_version_match_says_which_versions_exist() -> None:
    result = plan(ft_model(image="x/aim-base:0.8.5"), *_versioned(["0.9.0", "0.7.0"]))
    assert component(result) == (
        r.Status.DEGRADED,
        "NoMatchingTemplates",
        "2 template(s) with aimId qwen/qwen3-32b in namespace ml-team or the cluster, none at version 0.8.5 "
        "(policy pinned; versions found: 0.7.0, 0.9.0): change the spec.image tag or custom.versionPolicy",
    )


def test_pinned_without_an_image_tag_matches_nothing() -> None:
    result = plan(ft_model(), template("src", "qwen3", version=""))
    assert result.desired == ()
    assert component(result)[2].startswith("versionPolicy pinned needs a tagged spec.image")


def test_templates_of_the_model_itself_are_not_sources() -> None:
    own = template("mine", "ft-qwen", namespace=NS)
    result = plan(ft_model(image="x/aim-base:0.8.5"), own)
    assert result.desired == ()


# ---------------------------------------------------------------------------- pruning


def _copy_of(name: str, *, owned: bool = True) -> r.Template:
    return template(
        name,
        "ft-qwen",
        namespace=NS,
        labels={LABEL_MODEL: "ft-qwen", LABEL_ORIGIN: "fine-tuned"},
        owner_uid=FT_UID if owned else None,
    )


def test_stale_copy_is_deleted_and_user_templates_stay() -> None:
    stale = _copy_of("ft-qwen-ft-0-7-0-fp8-mi300x-deadbeef")
    foreign = _copy_of("ft-qwen-ft-0-6-0-fp8-mi300x-cafecafe", owned=False)
    user = template("user-made", "ft-qwen", namespace=NS, aim_id="", labels={LABEL_MODEL: "ft-qwen"})
    objects = [owner("qwen3", "x/qwen3:0.8.5"), template("src", "qwen3"), stale, foreign, user]
    result = plan(ft_model(image="x/aim-base:0.8.5"), *objects)
    assert len(result.desired) == 1
    assert [(d.key, d.uid) for d in result.deletes] == [
        (
            ObjectKey("AIMServiceTemplate", NS, "ft-qwen-ft-0-7-0-fp8-mi300x-deadbeef"),
            "uid-t-ml-team-ft-qwen-ft-0-7-0-fp8-mi300x-deadbeef",
        )
    ]


def test_copy_of_a_removed_source_is_deleted() -> None:
    kept = plan(ft_model(image="x/aim-base:0.8.5"), owner("qwen3", "x/qwen3:0.8.5"), template("src", "qwen3"))
    name = only(kept).metadata.name or ""
    result = plan(ft_model(image="x/aim-base:0.8.5"), _copy_of(name))
    assert [d.key.name for d in result.deletes] == [name]
    assert component(result)[1] == "NoMatchingTemplates"


def test_existing_copy_with_unresolvable_image_is_kept() -> None:
    good = [
        owner("qwen3", "ghcr.io/silogen/qwen3:0.11.0", base_ref="ghcr.io/silogen/aim-base:0.11"),
        template("src", "qwen3"),
    ]
    name = only(plan(ft_model(policy=r.VersionPolicy.ANY), *good)).metadata.name or ""
    # The owner is gone (status still says 0.11.0): the copy's name is known, its image is not.
    result = plan(
        ft_model(policy=r.VersionPolicy.ANY), template("src", "qwen3", version="0.11.0"), _copy_of(name)
    )
    assert result.desired == ()
    assert result.deletes == ()
    state, reason, message = component(result)
    assert (state, reason) == (r.Status.PROGRESSING, "AwaitingSourceImage")
    assert message == (
        f"AIMClusterServiceTemplate src: copy {name} kept as it is: source owner AIMClusterModel qwen3 not "
        "found (create that model or correct the source's spec.modelName)"
    )


def test_nothing_is_pruned_while_a_source_has_no_profile() -> None:
    stale = _copy_of("ft-qwen-ft-0-7-0-fp8-mi300x-deadbeef")
    objects = [owner("qwen3", "x/qwen3:0.8.5"), template("src", "qwen3", prof=None), stale]
    result = plan(ft_model(image="x/aim-base:0.8.5"), *objects)
    assert result.deletes == ()


def test_same_copy_name_twice_first_stands() -> None:
    """Two sources differing only in GPU count give one name (the reference hashes no count)."""
    objects = [
        owner("qwen3", "x/qwen3:0.8.5"),
        template("a", "qwen3", prof=profile(count=1)),
        template("b", "qwen3", prof=profile(count=2)),
    ]
    result = plan(ft_model(image="x/aim-base:0.8.5"), *objects)
    assert len(result.desired) == 1
    assert only(result).spec.hardware == r.Hardware(gpu=r.GpuRequirements(model="MI300X", requests=1))
    assert any("the first stands" in x.message for x in result.reasons)


# -------------------------------------------------------------------------- properties

_TAGS = ["0.7.0", "0.8.5", "0.9.0", "0.9", "0.11.0", "latest", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_TAGS), min_size=0, max_size=6), st.sampled_from(_TAGS[:5]))
def test_latest_and_pinned_select_subsets_of_any(versions: list[str], pinned: str) -> None:
    objects = _versioned(versions)
    chosen = {
        policy: set(images(plan(ft_model(policy=policy, image=image), *objects)))
        for policy, image in (
            (r.VersionPolicy.ANY, None),
            (r.VersionPolicy.LATEST, None),
            (r.VersionPolicy.PINNED, f"x/aim-base:{pinned}"),
        )
    }
    # Pinned copies have the same names as `any` copies of the same sources.
    assert chosen[r.VersionPolicy.LATEST] <= chosen[r.VersionPolicy.ANY]
    assert chosen[r.VersionPolicy.PINNED] <= chosen[r.VersionPolicy.ANY]


_LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,70}[a-z0-9]", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(
    st.sets(
        st.tuples(
            _LABEL,
            st.sampled_from(["", "ml-team", "team-a"]),
            st.sampled_from(["0.11.0", "0.11", "0.9.0", ""]),
            st.sampled_from(["fp8", "fp16", "bf16", ""]),
            st.sampled_from(["MI300X", "MI325X", "MI355X", ""]),
        ),
        min_size=1,
        max_size=8,
    ),
    _LABEL,
)
def test_copy_names_unique_and_valid(keys: set[tuple[str, str, str, str, str]], model_name: str) -> None:
    names = {
        finetuned_copy_name(
            model_name, version, precision, gpu, AIM_ID, FP8, owner_name, namespace, "latency"
        )
        for owner_name, namespace, version, precision, gpu in keys
    }
    assert len(names) == len(keys)
    assert all(is_valid_label(n) for n in names)


# ------------------------------------------------------------------------- end to end

EXPECTED_ANY = {
    # the three rebasing rows of aim-models.txt "Registry rebasing"
    "qwen3-ghcr": "ghcr.io/silogen/aim-base:0.11",
    "qwen3-dockerhub": "docker.io/amdenterpriseai/aim-base:0.11",
    "qwen3-mirror": "registry.example.com/team/models/aim-base:0.11",
}


def _simulate() -> MemoryCluster:
    catalog = load_catalog(["fixtures/finetune"])
    assert not catalog.problems
    facts, problems = load_image_facts("fixtures/finetune.imagefacts")
    assert not problems

    def inspector(keys: list[InspectKey]) -> dict[InspectKey, Any]:
        return {k: facts.inspect(k) for k in keys}

    cluster = MemoryCluster(
        (obj for obj, _ in catalog.objects), now="2026-01-01T00:00:00Z", operator_namespace="aim-system"
    )
    outcome = run(cluster, inspector, max_rounds=20)
    assert outcome.converged
    return cluster


def test_end_to_end_rebasing_rows_and_pinned_copies() -> None:
    cluster = _simulate()
    copies = {
        key.name: obj
        for key, obj in cluster.objects.items()
        if (obj.metadata.labels or {}).get(LABEL_ORIGIN) == "fine-tuned"
    }
    by_model: dict[str, dict[str, str]] = {}
    for name, obj in copies.items():
        assert isinstance(obj, r.AIMServiceTemplate)
        assert obj.metadata.namespace == NS
        model = (obj.metadata.labels or {})[LABEL_MODEL]
        source_owner = next(
            o
            for o in EXPECTED_ANY
            if name
            == finetuned_copy_name(
                model,
                "0.11" if o == "qwen3-mirror" else "0.11.0",
                "fp8",
                "MI325X" if o == "qwen3-dockerhub" else "MI300X",
                AIM_ID,
                FP8,
                o,
                "",
                "throughput" if o == "qwen3-mirror" else "latency",
            )
        )
        by_model.setdefault(model, {})[source_owner] = (obj.metadata.annotations or {})[
            ANNOTATION_DEPLOYMENT_IMAGE
        ]
        assert obj.status is not None and obj.status.status is r.TemplateStatus.READY
    assert by_model == {
        "ft-qwen-any": EXPECTED_ANY,
        "ft-qwen-pinned": {
            "qwen3-ghcr": "amdenterpriseai/aim-base:0.11.0",
            "qwen3-dockerhub": "amdenterpriseai/aim-base:0.11.0",
        },
    }
    for name in ("ft-qwen-any", "ft-qwen-pinned"):
        found = cluster.objects[ObjectKey("AIMModel", NS, name)]
        assert isinstance(found, r.AIMModel)
        assert found.status is not None and found.status.status is r.Status.READY


def test_cli_simulate_converges(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "simulate",
        "fixtures/finetune",
        "--images",
        "fixtures/finetune.imagefacts",
        "--now",
        "2026-01-01T00:00:00Z",
        "-o",
        "json",
    ]
    assert main(argv) == 0
    assert '"converged": true' in capsys.readouterr().out


# ------------------------------------------------- discovered sources and un-fine-tuning


def _copies(cluster: MemoryCluster, model: str) -> set[str]:
    return {
        key.name
        for key, obj in cluster.objects.items()
        if (obj.metadata.labels or {}).get(LABEL_ORIGIN) == "fine-tuned"
        and (obj.metadata.labels or {}).get(LABEL_MODEL) == model
    }


def test_discovered_templates_carry_the_identity_fine_tuning_matches_on() -> None:
    """Decision A1: aimId is the image's canonicalName, modelId the deployment's (else canonicalName)."""
    cluster = _simulate()
    identities = {
        key.name: (obj.spec.aim_id, obj.spec.model_id)
        for key, obj in cluster.objects.items()
        if isinstance(obj, r.AIMClusterServiceTemplate)
    }
    assert identities == {
        "docker-io-amdenterpriseai-qwen3-0-11-0-1x-mi325x-lat-fp8-9607": (AIM_ID, FP8),
        "ghcr-io-silogen-qwen3-0-11-0-1x-mi300x-lat-fp16-6d92": (AIM_ID, AIM_ID),
        "ghcr-io-silogen-qwen3-0-11-0-1x-mi300x-lat-fp8-3e9a": (AIM_ID, FP8),
        "registry-example-com-team-models-qwen3-0-2x-mi300x-thr-fp8-7073": (AIM_ID, FP8),
    }
    # the fp16 template (modelId = canonicalName) matches neither fine-tuned model's fp8 source
    assert len(_copies(cluster, "ft-qwen-any")) == 3


def test_a_model_that_stops_being_fine_tuned_loses_its_copies_and_keeps_user_templates() -> None:
    cluster = _simulate()
    assert len(_copies(cluster, "ft-qwen-pinned")) == 2
    user = r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name="hand-made", namespace=NS),
        spec=r.AIMServiceTemplateSpec(model_name="ft-qwen-pinned"),
    )
    cluster.apply(user)
    key = ObjectKey("AIMModel", NS, "ft-qwen-pinned")
    model = cluster.objects[key]
    assert isinstance(model, r.AIMModel)
    cluster.apply(attrs.evolve(model, spec=attrs.evolve(model.spec, aim_id=None)))
    outcome = run(cluster, lambda keys: {}, max_rounds=20)
    assert outcome.converged
    assert _copies(cluster, "ft-qwen-pinned") == set()
    assert ObjectKey("AIMServiceTemplate", NS, "hand-made") in cluster.objects
    deleted = sorted(a.key.name for a in outcome.actions if a.verb == "delete")
    assert deleted == [
        "ft-qwen-pinned-ft-0-11-0-fp8-mi300x-803ead42",
        "ft-qwen-pinned-ft-0-11-0-fp8-mi325x-3821ba9b",
    ]
    # the other fine-tuned model is untouched
    assert len(_copies(cluster, "ft-qwen-any")) == 3


def test_no_match_waits_while_a_base_model_in_scope_is_still_being_discovered() -> None:
    """Not a fault yet: an unsettled image model may still bring the templates (Progressing)."""
    discovering = attrs.evolve(owner("qwen3-new", "x/qwen3:0.9.0", namespace=NS), status=None)
    elsewhere = attrs.evolve(owner("qwen3-other", "x/qwen3:0.9.0", namespace="other-team"), status=None)
    result = plan(ft_model(image="x/aim-base:0.9.0"), discovering, elsewhere)
    state, reason, message = component(result)
    assert (state, reason) == (r.Status.PROGRESSING, "AwaitingSourceTemplates")
    assert message == (
        "no template in namespace ml-team or the cluster has spec.aimId qwen/qwen3-32b: create the base "
        "model whose templates carry that aimId, or correct spec.aimId; waiting for models still being "
        "discovered (AIMModel ml-team/qwen3-new)"
    )
    # another tenant's model never counts (D20), and a settled one (Ready, Degraded, Failed) no longer does
    settled = attrs.evolve(discovering, status=r.AIMModelStatus(status=r.Status.DEGRADED))
    state, reason, _ = component(plan(ft_model(image="x/aim-base:0.9.0"), settled, elsewhere))
    assert (state, reason) == (r.Status.DEGRADED, "NoMatchingTemplates")


def test_first_pass_of_the_fixture_waits_instead_of_failing(capsys: pytest.CaptureFixture[str]) -> None:
    """Before the base models are discovered, the fine-tuned ones wait rather than report a fault."""
    argv = ["plan", "fixtures/finetune", "--images", "fixtures/finetune.imagefacts", "-o", "json"]
    main([*argv, "--now", "2026-01-01T00:00:00Z"])
    objects = json.loads(capsys.readouterr().out)["objects"]
    found = {
        o["metadata"]["name"]: [
            (c["status"], c["reason"])
            for c in o["status"]["conditions"]
            if c["type"] == FINE_TUNED_TEMPLATES_READY
        ]
        for o in objects
        if o["metadata"]["name"].startswith("ft-qwen") and o["kind"] == "AIMModel"
    }
    assert found == {
        "ft-qwen-any": [("False", "AwaitingSourceTemplates")],
        "ft-qwen-pinned": [("False", "AwaitingSourceTemplates")],
    }
