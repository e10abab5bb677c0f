"""Hypothesis strategies for aimcore: valid AIM objects, image facts and whole catalogs.

Import them in your own properties::

    from property_tests.strategies import aim_models, catalogs, image_references

Every object drawn here is *valid*: `aimcore.validation.check_document(codec.dump(obj))`
reports no problem (property_tests/test_strategies.py holds that as a law), so a failing
property points at the rules, never at a malformed input. Names are drawn from small
pools where collisions matter (namespaces, GPU models, versions), so that lookups,
shadowing and version policies meet each other often instead of almost never.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult
from aimcore.images import normalize_image
from aimcore.labels import AIM_PREFIX, BASE_IMAGE_ENV
from aimcore.snapshot import InspectKey, Snapshot

__all__ = [
    "GPU_MODELS",
    "NAMESPACES",
    "NOW",
    "OPERATOR_NAMESPACE",
    "Catalog",
    "FineTunedFamily",
    "aim_cluster_models",
    "aim_models",
    "aim_profiles",
    "aim_services",
    "any_resources",
    "catalogs",
    "cluster_profiles",
    "cluster_runtime_configs",
    "cluster_service_templates",
    "custom_templates",
    "digests",
    "dns_labels",
    "env_vars",
    "finetuned_families",
    "hardware",
    "image_facts",
    "image_labels",
    "image_references",
    "model_ids",
    "model_sources",
    "quantities",
    "recommended_deployments",
    "registries",
    "repository_paths",
    "resource_requirements",
    "resources_of_kind",
    "runtime_configs",
    "secrets",
    "service_templates",
    "tags",
    "versions",
]

T = TypeVar("T")

#: GPU models the selection order knows, plus one it does not (ranked last).
GPU_MODELS = ("MI325X", "MI300X", "MI250X", "MI210", "MI100")
#: A small pool, so namespace objects and namespace lookups collide often.
NAMESPACES = ("ml-team", "research", "prod")
OPERATOR_NAMESPACE = "aim-system"
NOW = "2026-11-29T00:00:00Z"

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"


# ------------------------------------------------------------------------- primitives


@functools.cache
def dns_labels(max_size: int = 20) -> st.SearchStrategy[str]:
    """An RFC 1123 label (lowercase alphanumerics and '-', alphanumeric at both ends)."""
    assert 1 <= max_size <= 63
    inner = st.text(_ALNUM + "-", max_size=max(0, max_size - 2))
    edge = st.sampled_from(_ALNUM)
    one = edge
    many = st.builds(lambda a, mid, b: a + mid + b, edge, inner, edge)
    return (one | many) if max_size >= 2 else one


@functools.cache
def versions() -> st.SearchStrategy[str]:
    """Semver-shaped image tags as AIM images carry them: `0.8.5`, `0.11`, `v1.2.3`."""
    number = st.integers(0, 12)
    full = st.builds(lambda a, b, c: f"{a}.{b}.{c}", number, number, number)
    short = st.builds(lambda a, b: f"{a}.{b}", number, number)
    prefixed = full.map(lambda v: "v" + v)
    return st.one_of(full, short, prefixed)


@functools.cache
def tags() -> st.SearchStrategy[str]:
    """Docker tags: versions, `latest`, and arbitrary `[A-Za-z0-9_][A-Za-z0-9_.-]*`."""
    free = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,19}", fullmatch=True)
    return st.one_of(versions(), st.just("latest"), free)


@functools.cache
def digests() -> st.SearchStrategy[str]:
    """A sha256 digest: `sha256:` and 64 lowercase hex digits."""
    return st.text(_HEX, min_size=64, max_size=64).map(lambda h: "sha256:" + h)


@functools.cache
def registries() -> st.SearchStrategy[str | None]:
    """None (Docker Hub implied), well-known hosts, and hosts with ports."""
    known = st.sampled_from(
        ["docker.io", "ghcr.io", "quay.io", "registry.example.com", "localhost:5000", "10.0.0.7:5000"]
    )
    port = st.integers(1, 65535)
    made = st.builds(
        lambda a, b, p: f"{a}.{b}" + (f":{p}" if p else ""), dns_labels(10), dns_labels(5), st.none() | port
    )
    return st.one_of(st.none(), known, made)


@functools.cache
def _path_component() -> st.SearchStrategy[str]:
    word = st.text(_ALNUM, min_size=1, max_size=10)
    return st.builds(
        lambda a, sep, b: a + (sep + b if b else ""), word, st.sampled_from("._-"), st.none() | word
    )


@functools.cache
def repository_paths(max_depth: int = 3) -> st.SearchStrategy[str]:
    """A lowercase repository path of 1..max_depth components (`org/team/model`)."""
    return st.lists(_path_component(), min_size=1, max_size=max_depth).map("/".join)


@functools.cache
@st.composite
def image_references(
    draw: st.DrawFn,
    *,
    registry: st.SearchStrategy[str | None] | None = None,
    tag: st.SearchStrategy[str | None] | None = None,
    digest: st.SearchStrategy[str | None] | None = None,
) -> str:
    """An image reference docker accepts: `[registry[:port]/]path[:tag][@digest]`."""
    host = draw(registry if registry is not None else registries())
    path = draw(repository_paths())
    if host is None and path.split("/")[0] == "localhost":
        path = "x" + path
    the_tag = draw(tag if tag is not None else st.none() | tags())
    the_digest = draw(digest if digest is not None else st.none() | digests())
    ref = f"{host}/{path}" if host else path
    if the_tag:
        ref += f":{the_tag}"
    if the_digest:
        ref += f"@{the_digest}"
    return ref


@functools.cache
def model_ids() -> st.SearchStrategy[str]:
    """`org/name` as spec.modelSources[].modelId and aimId spell them."""
    org = st.from_regex(r"[a-zA-Z0-9_-]{1,10}", fullmatch=True)
    name = st.from_regex(r"[a-zA-Z0-9._-]{1,16}", fullmatch=True)
    return st.builds(lambda a, b: f"{a}/{b}", org, name)


@functools.cache
def quantities() -> st.SearchStrategy[r.Quantity]:
    """Kubernetes quantities, as numbers and as strings (kept exactly as written)."""
    return st.one_of(st.integers(0, 64), st.sampled_from(["500m", "4", "64Gi", "1.5", "16Mi", "2k"]))


@functools.cache
def env_vars(max_size: int = 3) -> st.SearchStrategy[tuple[r.EnvVar, ...] | None]:
    """Env lists with unique names, each a literal value or a secretKeyRef (never both)."""
    name = st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True)
    value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16)
    from_secret = st.builds(
        lambda n, k: r.EnvVarSource(secret_key_ref=r.KeySelector(name=n, key=k)),
        dns_labels(12),
        dns_labels(8),
    )

    def var(n: str, literal: str | None, source: r.EnvVarSource | None) -> r.EnvVar:
        return r.EnvVar(name=n, value=None if source else literal, value_from=source)

    item = st.builds(var, name, st.none() | value, st.none() | from_secret)
    lists = st.lists(item, max_size=max_size, unique_by=lambda e: e.name).map(tuple)
    return st.none() | lists


def _mapping_or_none(
    keys: Sequence[str], values: st.SearchStrategy[T]
) -> st.SearchStrategy[dict[str, T] | None]:
    return st.none() | st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


@functools.cache
def resource_requirements() -> st.SearchStrategy[r.ResourceRequirements | None]:
    """Requests and limits over cpu, memory and GPU resource names."""
    keys = ("cpu", "memory", "amd.com/gpu", "gpu.example.com/mi")
    return st.none() | st.builds(
        r.ResourceRequirements,
        requests=_mapping_or_none(keys, quantities()),
        limits=_mapping_or_none(keys, quantities()),
    )


@functools.cache
def model_sources() -> st.SearchStrategy[r.ModelSource]:
    """A source with an hf:// or s3:// URI, sometimes an S3 endpoint in its env."""
    endpoint = st.sampled_from([None, "https://s3.example.com", "http://minio.local:9000"])

    def build(model_id: str, scheme: str, bucket: str, uri_end: str | None, ep: str | None) -> r.ModelSource:
        uri = f"hf://{model_id}" if scheme == "hf" else f"s3://{bucket}/{uri_end or 'weights'}/"
        env = (r.EnvVar(name="AWS_ENDPOINT_URL", value=ep),) if ep else None
        return r.ModelSource(model_id=model_id, source_uri=uri, env=env)

    return st.builds(
        build, model_ids(), st.sampled_from(["hf", "s3"]), dns_labels(12), st.none() | dns_labels(8), endpoint
    )


# ------------------------------------------------------------------------- hardware


@functools.cache
@st.composite
def gpu_requirements(draw: st.DrawFn) -> r.GpuRequirements:
    """One GPU model or a list of them (never both); minVram only without a single model."""
    choice = draw(st.sampled_from(["model", "models", "neither"]))
    model = draw(st.sampled_from(GPU_MODELS)) if choice == "model" else None
    models = (
        tuple(draw(st.lists(st.sampled_from(GPU_MODELS), min_size=1, max_size=3, unique=True)))
        if choice == "models"
        else None
    )
    min_vram = draw(st.none() | st.sampled_from(["64Gi", "128Gi", "192Gi"])) if model is None else None
    return r.GpuRequirements(
        requests=draw(st.none() | st.integers(0, 8)),
        model=model,
        models=models,
        min_vram=min_vram,
        resource_name=draw(st.sampled_from([None, "amd.com/gpu", "gpu.example.com/mi"])),
    )


@functools.cache
@st.composite
def hardware(draw: st.DrawFn) -> r.Hardware:
    """GPU and/or CPU requirements; at least one of them is always set."""
    gpu = draw(st.none() | gpu_requirements())
    cpu = draw(
        st.none() | st.builds(r.CpuRequirements, requests=quantities(), limits=st.none() | quantities())
    )
    if gpu is None and cpu is None:
        gpu = draw(gpu_requirements())
    return r.Hardware(gpu=gpu, cpu=cpu)


# ------------------------------------------------------------------------- image labels


@functools.cache
def recommended_deployments() -> st.SearchStrategy[r.RecommendedDeployment]:
    """A deployment as the labels parser returns it (lowercase enums, counts above 0)."""
    return st.builds(
        r.RecommendedDeployment,
        gpu_model=st.none() | st.sampled_from(GPU_MODELS),
        gpu_count=st.none() | st.integers(1, 8),
        precision=st.none() | st.sampled_from([p.value for p in r.Precision]),
        metric=st.none() | st.sampled_from([m.value for m in r.Metric]),
        profile_id=st.none() | dns_labels(16),
        description=st.none()
        | st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20),
    )


def _deployment_json(d: r.RecommendedDeployment) -> dict[str, Any]:
    fields = {
        "gpuModel": d.gpu_model,
        "gpuCount": d.gpu_count,
        "precision": d.precision,
        "metric": d.metric,
        "profileId": d.profile_id,
        "description": d.description,
    }
    return {k: v for k, v in fields.items() if v is not None}


def deployments_label(deployments: Sequence[r.RecommendedDeployment]) -> str:
    """The JSON array value of a recommendedDeployments label for these deployments."""
    return json.dumps([_deployment_json(d) for d in deployments])


@st.composite
def image_labels(
    draw: st.DrawFn,
    *,
    canonical_name: str | None = None,
    deployments: Sequence[r.RecommendedDeployment] | None = None,
) -> dict[str, str]:
    """The com.amd.aim.* labels of an AIM image: canonical name, deployments, and extras.

    The deployments go under `recommendedDeployments` or the document's `deployments`.
    """
    name = canonical_name if canonical_name is not None else draw(model_ids())
    chosen = (
        list(deployments)
        if deployments is not None
        else draw(st.lists(recommended_deployments(), max_size=4))
    )
    key = draw(st.sampled_from(["model.recommendedDeployments", "model.deployments"]))
    labels = {AIM_PREFIX + "model.canonicalName": name, AIM_PREFIX + key: deployments_label(chosen)}
    extras = {
        "model.source": st.just(f"https://huggingface.co/{name}"),
        "model.tags": st.sampled_from(["text,chat", "vision", "code, text"]),
        "hfToken.required": st.sampled_from(["true", "false"]),
        "title": st.sampled_from(["A model", "Qwen 3"]),
    }
    for suffix, values in extras.items():
        if draw(st.booleans()):
            labels[AIM_PREFIX + suffix] = draw(values)
    return labels


@functools.cache
def _any_image_labels() -> st.SearchStrategy[dict[str, str]]:
    return image_labels()


@functools.cache
@st.composite
def image_facts(
    draw: st.DrawFn,
    *,
    labels: st.SearchStrategy[dict[str, str]] | None = None,
    base_image_ref: st.SearchStrategy[str | None] | None = None,
) -> ImageFacts:
    """What a registry answers for an AIM image: labels, AIM_BASE_IMAGE_REF in Env, a digest."""
    base = draw(
        base_image_ref if base_image_ref is not None else st.none() | image_references(digest=st.none())
    )
    env = ("PATH=/usr/bin",) + ((f"{BASE_IMAGE_ENV}={base}",) if base else ())
    return ImageFacts(
        labels=draw(labels if labels is not None else _any_image_labels()),
        env=env,
        digest=draw(st.none() | digests()),
    )


# ------------------------------------------------------------------------- metadata, status


_USER_LABEL_KEYS = ("team", "app.example.com/tier", "cost-center")


@functools.cache
def _user_labels() -> st.SearchStrategy[dict[str, str] | None]:
    """Labels a user might set; never the operator's managed-by or aim.eai.amd.com/* keys."""
    return _mapping_or_none(_USER_LABEL_KEYS, dns_labels(10))


@functools.cache
@st.composite
def object_meta(draw: st.DrawFn, *, name: str | None = None, namespace: str | None = None) -> r.ObjectMeta:
    """User metadata: a name, the namespace given, a uid, generation 1, user labels only."""
    the_name = name if name is not None else draw(dns_labels(20))
    uid = str(draw(st.uuids()))
    return r.ObjectMeta(
        name=the_name,
        namespace=namespace,
        labels=draw(_user_labels()),
        annotations=draw(st.none() | st.just({"note.example.com/owner": "someone"})),
        uid=uid,
        generation=1,
    )


@functools.cache
def _namespace_or(namespace: str | None) -> st.SearchStrategy[str]:
    return st.just(namespace) if namespace is not None else st.sampled_from(NAMESPACES)


@functools.cache
def conditions() -> st.SearchStrategy[tuple[r.Condition, ...] | None]:
    """Status conditions with unique types."""
    condition = st.builds(
        r.Condition,
        type=st.sampled_from(["Ready", "ImageMetadataReady", "RuntimeConfigReady", "ServiceTemplatesReady"]),
        status=st.sampled_from(r.ConditionStatus),
        reason=st.none() | st.sampled_from(["AllTemplatesReady", "ImageFound", "ConfigFound"]),
        message=st.none() | st.text(max_size=20),
        last_transition_time=st.none() | st.just(NOW),
        observed_generation=st.none() | st.integers(1, 5),
    )
    return st.none() | st.lists(condition, max_size=3, unique_by=lambda c: c.type).map(tuple)


@functools.cache
def _resolved() -> st.SearchStrategy[r.ResolvedReference | None]:
    return st.none() | st.builds(
        r.ResolvedReference,
        name=dns_labels(12),
        namespace=st.none() | st.sampled_from(NAMESPACES),
        scope=st.none() | st.sampled_from(r.Scope),
        kind=st.none() | st.sampled_from(["AIMModel", "AIMRuntimeConfig"]),
        uid=st.none() | st.uuids().map(str),
    )


@functools.cache
def image_metadata() -> st.SearchStrategy[r.ImageMetadata]:
    """Image metadata as status.imageMetadata (or spec.imageMetadata) records it."""
    model = st.builds(
        r.ModelMetadata,
        canonical_name=st.none() | model_ids(),
        tags=st.none() | st.lists(dns_labels(8), min_size=1, max_size=2).map(tuple),
        hf_token_required=st.none() | st.booleans(),
        recommended_deployments=st.none() | st.lists(recommended_deployments(), max_size=3).map(tuple),
    )
    return st.builds(
        r.ImageMetadata,
        model=st.none() | model,
        oci=st.none()
        | st.builds(r.OCIMetadata, title=st.none() | st.just("t"), version=st.none() | versions()),
        base_image_ref=st.none() | image_references(digest=st.none()),
    )


@functools.cache
def _model_status() -> st.SearchStrategy[r.AIMModelStatus | None]:
    return st.none() | st.builds(
        r.AIMModelStatus,
        observed_generation=st.none() | st.integers(1, 5),
        status=st.none() | st.sampled_from(r.Status),
        conditions=conditions(),
        source_type=st.none() | st.sampled_from(r.SourceType),
        resolved_runtime_config=_resolved(),
        image_metadata=st.none() | image_metadata(),
        inspected_image=st.none() | image_references(),
        image_digest=st.none() | digests(),
        version=st.none() | versions(),
    )


def profile_metadata(**fixed: Any) -> st.SearchStrategy[r.ProfileMetadata]:
    """status.profile.metadata as discovery records it; keyword arguments pin fields."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "engine": st.none() | st.just("vllm"),
        "gpu": st.none() | st.sampled_from(GPU_MODELS),
        "gpu_count": st.none() | st.integers(0, 8),
        "metric": st.none() | st.sampled_from([m.value for m in r.Metric]),
        "precision": st.none() | st.sampled_from([p.value for p in r.Precision]),
        "type": st.none() | st.sampled_from([t.value for t in r.ProfileType]),
        "aim_id": st.none() | model_ids(),
        "model_id": st.none() | model_ids(),
    }
    fields.update({k: st.just(v) for k, v in fixed.items()})
    return st.builds(r.ProfileMetadata, **fields)


@functools.cache
def template_statuses(**fixed: Any) -> st.SearchStrategy[r.AIMServiceTemplateStatus]:
    """A template status with a discovered profile; keyword arguments pin profile metadata."""
    return st.builds(
        r.AIMServiceTemplateStatus,
        observed_generation=st.none() | st.integers(1, 5),
        status=st.sampled_from(r.TemplateStatus),
        conditions=conditions(),
        resolved_model=_resolved(),
        hardware_summary=st.none() | st.just("1 x MI300X"),
        profile=st.builds(
            r.TemplateProfile,
            engine_args=st.none() | st.just({"max-model-len": 8192, "tp": [1, 2]}),
            env_vars=st.none() | st.just({"VLLM_USE_V1": "1"}),
            metadata=st.none() | profile_metadata(**fixed),
        ),
        version=st.none() | versions(),
    )


# ------------------------------------------------------------------------- models


@functools.cache
@st.composite
def custom_templates(draw: st.DrawFn, *, need_hardware: bool = False) -> r.CustomTemplate:
    """One customTemplates[] entry; a customProfile comes with everything D19 requires."""
    with_profile = draw(st.booleans())
    hw = draw(hardware()) if need_hardware or with_profile else draw(st.none() | hardware())
    selection = draw(
        st.none()
        | st.builds(
            r.ProfileSelection,
            metric=st.none() | st.sampled_from(r.Metric),
            precision=st.none() | st.sampled_from(r.Precision),
        )
    )
    aim_id = draw(st.none() | model_ids())
    model_id = draw(st.none() | model_ids())
    custom_profile = None
    if with_profile:
        selection = r.ProfileSelection(
            metric=draw(st.sampled_from(r.Metric)), precision=draw(st.sampled_from(r.Precision))
        )
        aim_id, model_id = draw(model_ids()), draw(model_ids())
        custom_profile = r.CustomProfile(engine_args={"tp": draw(st.integers(1, 8))}, env_vars={"A": "b"})
    return r.CustomTemplate(
        name=draw(st.none() | dns_labels(20)),
        type=draw(st.none() | st.sampled_from(r.ProfileType)),
        env=draw(env_vars(2)),
        hardware=hw,
        profile=selection,
        aim_id=aim_id,
        model_id=model_id,
        custom_profile=custom_profile,
    )


@functools.cache
@st.composite
def _model_spec(draw: st.DrawFn, *, image: str | None = None, with_metadata: bool = True) -> r.AIMModelSpec:
    """An image model, a custom model (sources, no aimId) or a fine-tuned one (aimId and sources)."""
    flavour = draw(st.sampled_from(["image", "image", "custom", "fine-tuned"]))
    the_image = image if image is not None else draw(image_references())
    common: dict[str, Any] = {
        "runtime_config_name": draw(st.none() | st.sampled_from(["default", "gpu-config"])),
        "image_pull_secrets": draw(
            st.none()
            | st.lists(st.builds(r.LocalObjectReference, name=dns_labels(12)), max_size=2).map(tuple)
        ),
        "env": draw(env_vars()),
        "service_account_name": draw(st.none() | dns_labels(12)),
        "resources": draw(resource_requirements()),
    }
    if flavour == "image":
        entries = draw(st.lists(custom_templates(), max_size=2).map(tuple))
        in_custom = draw(st.booleans())
        return r.AIMModelSpec(
            image=the_image,
            discovery=draw(
                st.none()
                | st.builds(
                    r.Discovery,
                    extract_metadata=st.none() | st.booleans(),
                    create_service_templates=st.none() | st.booleans(),
                )
            ),
            default_service_template=draw(st.none() | dns_labels(20)),
            custom=r.CustomModelSpec(templates=entries) if entries and in_custom else None,
            custom_templates=entries if entries and not in_custom else None,
            image_metadata=draw(st.none() | image_metadata()) if with_metadata else None,
            **common,
        )
    if flavour == "custom":
        shared = draw(st.none() | hardware())
        entries = draw(st.lists(custom_templates(need_hardware=shared is None), max_size=2).map(tuple))
        if shared is None and not entries:
            shared = draw(hardware())
        return r.AIMModelSpec(
            image=the_image,
            model_sources=(draw(model_sources()),),
            custom=r.CustomModelSpec(
                hardware=shared,
                type=draw(st.none() | st.sampled_from(r.ProfileType)),
                templates=entries or None,
            ),
            **common,
        )
    policy = draw(st.none() | st.sampled_from(r.VersionPolicy))
    pinned = policy in (None, r.VersionPolicy.PINNED)
    return r.AIMModelSpec(
        image=the_image if pinned else draw(st.none() | st.just(the_image)),
        aim_id=draw(model_ids()),
        model_sources=(draw(model_sources()),),
        custom=r.CustomModelSpec(version_policy=policy) if policy else None,
        **common,
    )


@functools.cache
@st.composite
def aim_models(
    draw: st.DrawFn, *, namespace: str | None = None, with_status: bool = False, image: str | None = None
) -> r.AIMModel:
    """A namespace model: image, custom or fine-tuned, v1alpha1 or v1alpha2."""
    ns = draw(_namespace_or(namespace))
    return r.AIMModel(
        api_version=draw(st.sampled_from(r.AIM_API_VERSIONS)),
        kind="AIMModel",
        metadata=draw(object_meta(namespace=ns)),
        spec=draw(_model_spec(image=image)),
        status=draw(_model_status()) if with_status else None,
    )


@functools.cache
@st.composite
def aim_cluster_models(
    draw: st.DrawFn, *, with_status: bool = False, image: str | None = None
) -> r.AIMClusterModel:
    """A cluster model: image, custom or fine-tuned, v1alpha1 or v1alpha2."""
    return r.AIMClusterModel(
        api_version=draw(st.sampled_from(r.AIM_API_VERSIONS)),
        kind="AIMClusterModel",
        metadata=draw(object_meta()),
        spec=draw(_model_spec(image=image)),
        status=draw(_model_status()) if with_status else None,
    )


# ------------------------------------------------------------------------- templates


@functools.cache
@st.composite
def _template_spec(draw: st.DrawFn, *, model_name: str | None = None) -> r.AIMServiceTemplateSpec:
    """A user-written template spec; a customProfile comes with everything D19 requires."""
    with_profile = draw(st.booleans())
    hw = draw(hardware()) if with_profile else draw(st.none() | hardware())
    return r.AIMServiceTemplateSpec(
        model_name=model_name if model_name is not None else draw(dns_labels(20)),
        aim_id=draw(model_ids()) if with_profile else draw(st.none() | model_ids()),
        model_id=draw(model_ids()) if with_profile else draw(st.none() | model_ids()),
        metric=draw(st.sampled_from(r.Metric) if with_profile else st.none() | st.sampled_from(r.Metric)),
        precision=draw(
            st.sampled_from(r.Precision) if with_profile else st.none() | st.sampled_from(r.Precision)
        ),
        type=draw(st.none() | st.sampled_from(r.ProfileType)),
        profile_id=draw(st.none() | dns_labels(12)),
        hardware=hw,
        resources=draw(resource_requirements()),
        env=draw(env_vars(2)),
        model_sources=draw(st.none() | st.tuples(model_sources())),
        image_pull_secrets=draw(
            st.none() | st.tuples(st.builds(r.LocalObjectReference, name=dns_labels(12)))
        ),
        runtime_config_name=draw(st.none() | st.just("default")),
        custom_profile=r.CustomProfile(engine_args={"tp": 2}) if with_profile else None,
        caching=draw(st.none() | st.builds(r.TemplateCaching, enabled=st.none() | st.booleans())),
    )


@functools.cache
@st.composite
def service_templates(
    draw: st.DrawFn, *, namespace: str | None = None, model_name: str | None = None, with_status: bool = False
) -> r.AIMServiceTemplate:
    """A user-created namespace template (no ownerReference)."""
    ns = draw(_namespace_or(namespace))
    return r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=draw(object_meta(namespace=ns)),
        spec=draw(_template_spec(model_name=model_name)),
        status=draw(st.none() | template_statuses()) if with_status else None,
    )


@functools.cache
@st.composite
def cluster_service_templates(
    draw: st.DrawFn, *, model_name: str | None = None, with_status: bool = False
) -> r.AIMClusterServiceTemplate:
    """A user-created cluster template (no ownerReference)."""
    return r.AIMClusterServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMClusterServiceTemplate",
        metadata=draw(object_meta()),
        spec=draw(_template_spec(model_name=model_name)),
        status=draw(st.none() | template_statuses()) if with_status else None,
    )


# ------------------------------------------------------------------------- runtime configs, services


@functools.cache
def _runtime_spec() -> st.SearchStrategy[r.AIMRuntimeConfigSpec | None]:
    return st.none() | st.builds(
        r.AIMRuntimeConfigSpec,
        service_account_name=st.none() | dns_labels(12),
        image_pull_secrets=st.none() | st.tuples(st.builds(r.LocalObjectReference, name=dns_labels(12))),
        model=st.none() | st.builds(r.RuntimeModelConfig, auto_discovery=st.none() | st.booleans()),
        env=env_vars(2),
        label_propagation=st.none()
        | st.builds(
            r.LabelPropagation, enabled=st.none() | st.booleans(), match=st.none() | st.just(("team",))
        ),
        default_storage_class_name=st.none() | dns_labels(10),
    )


@functools.cache
def _runtime_status() -> st.SearchStrategy[r.AIMRuntimeConfigStatus | None]:
    return st.none() | st.builds(
        r.AIMRuntimeConfigStatus, status=st.none() | st.sampled_from(r.Status), conditions=conditions()
    )


@functools.cache
@st.composite
def runtime_configs(
    draw: st.DrawFn, *, namespace: str | None = None, with_status: bool = False
) -> r.AIMRuntimeConfig:
    """A namespace runtime config, often named `default`."""
    ns = draw(_namespace_or(namespace))
    name = draw(st.sampled_from(["default", "gpu-config"]) | dns_labels(12))
    return r.AIMRuntimeConfig(
        api_version=r.V1ALPHA1,
        kind="AIMRuntimeConfig",
        metadata=draw(object_meta(name=name, namespace=ns)),
        spec=draw(_runtime_spec()),
        status=draw(_runtime_status()) if with_status else None,
    )


@functools.cache
@st.composite
def cluster_runtime_configs(draw: st.DrawFn, *, with_status: bool = False) -> r.AIMClusterRuntimeConfig:
    """A cluster runtime config, often named `default`."""
    name = draw(st.sampled_from(["default", "gpu-config"]) | dns_labels(12))
    return r.AIMClusterRuntimeConfig(
        api_version=r.V1ALPHA1,
        kind="AIMClusterRuntimeConfig",
        metadata=draw(object_meta(name=name)),
        spec=draw(_runtime_spec()),
        status=draw(_runtime_status()) if with_status else None,
    )


@functools.cache
@st.composite
def service_models(
    draw: st.DrawFn, *, names: Sequence[str] = (), images: Sequence[str] = ()
) -> r.ServiceModel:
    """Exactly one of name, image or custom; names and images are often taken from the pools given."""
    how = draw(st.sampled_from(["name", "image", "custom"]))
    if how == "name":
        pool = st.sampled_from(list(names)) | dns_labels(20) if names else dns_labels(20)
        return r.ServiceModel(name=draw(pool))
    if how == "image":
        pool_i = st.sampled_from(list(images)) | image_references() if images else image_references()
        return r.ServiceModel(image=draw(pool_i))
    return r.ServiceModel(
        custom=r.InlineCustomModel(
            base_image=draw(st.none() | image_references()),
            model_sources=(draw(model_sources()),),
            hardware=draw(hardware()),
            type=draw(st.none() | st.sampled_from(r.ProfileType)),
        )
    )


@functools.cache
def _service_status() -> st.SearchStrategy[r.AIMServiceStatus | None]:
    return st.none() | st.builds(
        r.AIMServiceStatus,
        status=st.none() | st.sampled_from(r.ServiceStatus),
        conditions=conditions(),
        resolved_model=_resolved(),
        resolved_template=_resolved(),
        resolved_image=st.none() | image_references(),
        resolved_resources=resource_requirements(),
    )


@functools.cache
@st.composite
def _aim_services(
    draw: st.DrawFn,
    *,
    namespace: str | None = None,
    model_names: Sequence[str] = (),
    images: Sequence[str] = (),
    template_names: Sequence[str] = (),
    with_status: bool = False,
) -> r.AIMService:
    ns = draw(_namespace_or(namespace))
    template_name = st.sampled_from(list(template_names)) if template_names else dns_labels(20)
    return r.AIMService(
        api_version=r.V1ALPHA1,
        kind="AIMService",
        metadata=draw(object_meta(namespace=ns)),
        spec=r.AIMServiceSpec(
            model=draw(service_models(names=tuple(model_names), images=tuple(images))),
            template=draw(
                st.none()
                | st.builds(
                    r.TemplateSelector,
                    name=st.none() | template_name,
                    allow_unoptimized=st.none() | st.booleans(),
                )
            ),
            overrides=draw(
                st.none()
                | st.builds(
                    r.ServiceOverrides,
                    metric=st.none() | st.sampled_from(r.Metric),
                    precision=st.none() | st.sampled_from(r.Precision),
                    gpu_selector=st.none()
                    | st.builds(
                        r.GpuSelector,
                        model=st.none() | st.sampled_from(GPU_MODELS),
                        count=st.none() | st.integers(0, 8),
                    ),
                )
            ),
            resources=draw(resource_requirements()),
            runtime_config_name=draw(st.none() | st.just("default")),
            env=draw(env_vars(2)),
            replicas=draw(st.none() | st.integers(0, 3)),
        ),
        status=draw(_service_status()) if with_status else None,
    )


def aim_services(
    *,
    namespace: str | None = None,
    model_names: Sequence[str] = (),
    images: Sequence[str] = (),
    template_names: Sequence[str] = (),
    with_status: bool = False,
) -> st.SearchStrategy[r.AIMService]:
    """A service by model name, image or inline custom model, with selection options.

    Model names, images and template names are often taken from the pools given. Name and
    namespace together stay within the 62 characters the serving runtime allows.
    """
    return _aim_services(
        namespace=namespace,
        model_names=tuple(model_names),
        images=tuple(images),
        template_names=tuple(template_names),
        with_status=with_status,
    )


# ------------------------------------------------------------------------- profiles, secrets


@functools.cache
def _profile_spec() -> st.SearchStrategy[r.AIMProfileSpec]:
    return st.builds(
        r.AIMProfileSpec,
        aim_id=st.none() | model_ids(),
        profile_id=st.none() | dns_labels(12),
        metric=st.none() | st.sampled_from([m.value for m in r.Metric]),
        precision=st.none() | st.sampled_from([p.value for p in r.Precision]),
        primary=st.none() | st.booleans(),
        accelerator_model=st.none() | st.sampled_from(GPU_MODELS),
        accelerator_count=st.none() | st.integers(0, 8),
        engine_args=st.none() | st.just({"tp": 1}),
        image=st.none() | image_references(),
    )


@functools.cache
def _profile_status() -> st.SearchStrategy[r.AIMProfileStatus | None]:
    return st.none() | st.builds(
        r.AIMProfileStatus, status=st.none() | st.sampled_from(r.Status), version=st.none() | versions()
    )


@functools.cache
@st.composite
def aim_profiles(draw: st.DrawFn, *, namespace: str | None = None, with_status: bool = False) -> r.AIMProfile:
    """A v1alpha2 namespace profile."""
    return r.AIMProfile(
        api_version=r.V1ALPHA2,
        kind="AIMProfile",
        metadata=draw(object_meta(namespace=draw(_namespace_or(namespace)))),
        spec=draw(_profile_spec()),
        status=draw(_profile_status()) if with_status else None,
    )


@functools.cache
@st.composite
def cluster_profiles(draw: st.DrawFn, *, with_status: bool = False) -> r.AIMClusterProfile:
    """A v1alpha2 cluster profile."""
    return r.AIMClusterProfile(
        api_version=r.V1ALPHA2,
        kind="AIMClusterProfile",
        metadata=draw(object_meta()),
        spec=draw(_profile_spec()),
        status=draw(_profile_status()) if with_status else None,
    )


@functools.cache
@st.composite
def secrets(draw: st.DrawFn, *, name: str | None = None, namespace: str | None = None) -> r.Secret:
    """A Secret as the core sees it: a name, a type and key names, never values."""
    return r.Secret(
        api_version="v1",
        kind="Secret",
        metadata=draw(object_meta(name=name, namespace=draw(_namespace_or(namespace)))),
        **draw(st.sampled_from([
            {"type": None, "keys": None},
            {"type": "Opaque", "keys": None},
            {"type": None, "keys": (".dockerconfigjson",)},
            {"type": "Opaque", "keys": (".dockerconfigjson",)},
            # the API server refuses a dockerconfigjson Secret without its key
            {"type": "kubernetes.io/dockerconfigjson", "keys": (".dockerconfigjson",)},
        ])),
    )


@functools.cache
@st.composite
def template_caches(draw: st.DrawFn, *, with_status: bool = False) -> r.AIMTemplateCache:
    """An AIMTemplateCache as the reference writes it (aimcore serves it, never reconciles it)."""
    artifact = st.builds(
        r.CachedArtifact, uid=st.uuids().map(str), name=dns_labels(12), model=model_ids(),
        status=st.sampled_from(["Ready", "Progressing"]),
        persistent_volume_claim=st.none() | dns_labels(12),
        mount_point=st.none() | st.just("/workspace/model"),
    )
    status = st.builds(
        r.AIMTemplateCacheStatus, observed_generation=st.none() | st.integers(1, 5),
        status=st.none() | st.sampled_from(r.TemplateStatus), conditions=conditions(),
        resolved_runtime_config=_resolved(), resolved_template_kind=st.none() | st.just("AIMServiceTemplate"),
        artifacts=st.none() | st.dictionaries(model_ids(), artifact, max_size=2),
    )
    return r.AIMTemplateCache(
        api_version=r.V1ALPHA1, kind="AIMTemplateCache",
        metadata=draw(object_meta(namespace=draw(_namespace_or(None)))),
        spec=draw(st.none() | st.builds(
            r.AIMTemplateCacheSpec, template_name=dns_labels(20),
            template_scope=st.sampled_from(r.TemplateScope),
            mode=st.none() | st.sampled_from(r.CacheMode),
            model_sources=st.none() | st.lists(model_sources(), max_size=2).map(tuple), env=env_vars(),
            storage_class_name=st.none() | st.just("fast"), download_image=st.none() | image_references(),
            runtime_config_name=st.none() | dns_labels(12),
        )),
        status=draw(status) if with_status else None,
    )


@functools.cache
@st.composite
def artifacts(draw: st.DrawFn, *, with_status: bool = False) -> r.AIMArtifact:
    """An AIMArtifact as the reference writes it."""
    source = draw(model_sources())
    status = st.builds(
        r.AIMArtifactStatus, observed_generation=st.none() | st.integers(1, 5),
        status=st.none() | st.sampled_from(r.TemplateStatus), conditions=conditions(),
        mode=st.none() | st.sampled_from(r.CacheMode), persistent_volume_claim=st.none() | dns_labels(12),
        allocated_size=st.none() | quantities(), discovered_size_bytes=st.none() | st.integers(0, 2**40),
        display_size=st.none() | st.just("15.3 GiB"), headroom_percent=st.none() | st.integers(0, 50),
        last_used=st.none() | st.just(NOW),
        download=st.none() | st.builds(
            r.ArtifactDownload, attempt=st.none() | st.integers(1, 3), total_attempts=st.none() | st.just(3),
            protocol=st.none() | st.sampled_from(["XET", "HTTP"]),
            protocol_sequence=st.none() | st.just("XET,HTTP"),
            message=st.none() | st.text(max_size=10),
        ),
        progress=st.none() | st.builds(
            r.ArtifactProgress, downloaded_bytes=st.none() | st.integers(0, 100),
            total_bytes=st.none() | st.just(100), percentage=st.none() | st.integers(0, 100),
            display_percentage=st.none() | st.just("42%"),
        ),
    )
    return r.AIMArtifact(
        api_version=r.V1ALPHA1, kind="AIMArtifact",
        metadata=draw(object_meta(namespace=draw(_namespace_or(None)))),
        spec=draw(st.none() | st.just(r.AIMArtifactSpec(
            source_uri=source.source_uri, model_id=source.model_id, size=source.size,
            storage_class_name=draw(st.none() | st.just("fast")),
            model_download_image=draw(st.none() | image_references()),
        ))),
        status=draw(status) if with_status else None,
    )


@functools.cache
@st.composite
def model_sources_of_registries(draw: st.DrawFn, *, with_status: bool = False) -> r.AIMClusterModelSource:
    """An AIMClusterModelSource as the reference writes it."""
    status = st.builds(
        r.AIMClusterModelSourceStatus, observed_generation=st.none() | st.integers(1, 5),
        status=st.none() | st.sampled_from(r.ModelSourceStatus), conditions=conditions(),
        last_sync_time=st.none() | st.just(NOW), discovered_models=st.none() | st.integers(0, 9),
        available_models=st.none() | st.integers(0, 9), models_limit_reached=st.none() | st.booleans(),
    )
    spec = st.builds(
        r.AIMClusterModelSourceSpec, registry=st.none() | st.just("docker.io"),
        filters=st.lists(st.builds(
            r.ModelSourceFilter, image=repository_paths(), exclude=st.none() | st.just(("*-dev",)),
            versions=st.none() | st.just((">=0.8.0",)),
        ), min_size=1, max_size=2).map(tuple),
        sync_interval=st.none() | st.just("30m"), versions=st.none() | st.just(("~0.8",)),
        max_models=st.none() | st.integers(1, 10000),
    )
    return r.AIMClusterModelSource(
        api_version=r.V1ALPHA1, kind="AIMClusterModelSource", metadata=draw(object_meta()),
        spec=draw(st.none() | spec), status=draw(status) if with_status else None,
    )


@functools.cache
def resources_of_kind(kind: str) -> st.SearchStrategy[r.Resource]:
    """Objects of one kind (a key of `aimcore.resources.KINDS`), status included where it has one."""
    makers: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
        "AIMModel": lambda: aim_models(with_status=True),
        "AIMClusterModel": lambda: aim_cluster_models(with_status=True),
        "AIMServiceTemplate": lambda: service_templates(with_status=True),
        "AIMClusterServiceTemplate": lambda: cluster_service_templates(with_status=True),
        "AIMRuntimeConfig": lambda: runtime_configs(with_status=True),
        "AIMClusterRuntimeConfig": lambda: cluster_runtime_configs(with_status=True),
        "AIMService": lambda: aim_services(with_status=True),
        "AIMProfile": lambda: aim_profiles(with_status=True),
        "AIMClusterProfile": lambda: cluster_profiles(with_status=True),
        "AIMTemplateCache": lambda: template_caches(with_status=True),
        "AIMArtifact": lambda: artifacts(with_status=True),
        "AIMClusterModelSource": lambda: model_sources_of_registries(with_status=True),
        "Secret": secrets,
    }
    return makers[kind]()


@functools.cache
def any_resources() -> st.SearchStrategy[r.Resource]:
    """Any kind aimcore handles, status included where the kind has one."""
    return st.one_of([resources_of_kind(kind) for kind in r.KINDS])


# ------------------------------------------------------------------------- fine-tuned families


@attrs.frozen
class FineTunedFamily:
    """One aimId: official owners at several versions, their source templates, fine-tuned models.

    Every owner can be rebased (a baseImageRef, or a semver tag for the legacy guess), so each
    match resolves an image whatever the policy.
    """

    aim_id: str
    owners: tuple[r.Model, ...]
    templates: tuple[r.Template, ...]
    finetuned: tuple[r.Model, ...]

    def objects(self) -> tuple[r.Resource, ...]:
        return (*self.owners, *self.templates, *self.finetuned)


def _owned_meta(owner: r.Model, name: str, namespace: str | None, labels: Mapping[str, str]) -> r.ObjectMeta:
    """Metadata of a template the operator generated for `owner` (as discovery leaves it)."""
    ref = r.OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=owner.metadata.name or "",
        uid=owner.metadata.uid or "",
        controller=True,
    )
    controller = "model" if isinstance(owner, r.AIMModel) else "cluster-model"
    all_labels = {
        **labels,
        "app.kubernetes.io/managed-by": f"aim-{controller}-controller",
        f"{r.GROUP}/{controller}.name": owner.metadata.name or "",
    }
    return r.ObjectMeta(
        name=name,
        namespace=namespace,
        labels=all_labels,
        uid=f"uid-{namespace or ''}-{name}",
        generation=1,
        owner_references=(ref,),
    )


@st.composite
def finetuned_families(
    draw: st.DrawFn, *, namespace: str | None = None, policies: Sequence[r.VersionPolicy | None] | None = None
) -> FineTunedFamily:
    """A consistent family: owners (cluster or `namespace`) at versions of one base image,
    one to three source templates each with a Ready optimized profile, and fine-tuned
    models (one per entry of `policies`, else one to two) whose sources name the family's modelIds.
    """
    ns = namespace if namespace is not None else draw(st.none() | st.sampled_from(NAMESPACES))
    aim_id = draw(model_ids())
    variant_ids = draw(st.lists(model_ids(), min_size=1, max_size=2, unique=True))
    host = draw(
        st.sampled_from(["docker.io/amdenterpriseai", "ghcr.io/silogen", "registry.example.com:5000/aim"])
    )
    repo = draw(dns_labels(12))
    owner_versions = draw(
        st.lists(
            st.sampled_from(["0.8.5", "0.9.0", "0.10.1", "0.11", "v0.11.2"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    owners: list[r.Model] = []
    templates: list[r.Template] = []
    for index, version in enumerate(owner_versions):
        base_ref = draw(st.none() | st.just(f"{host}/aim-base:{version.lstrip('v')}"))
        name = f"{repo}-{index}"
        meta = r.ObjectMeta(name=name, namespace=ns, uid=f"uid-owner-{ns or ''}-{name}", generation=1)
        spec = r.AIMModelSpec(image=f"{host}/{repo}:{version}")
        status = r.AIMModelStatus(
            status=r.Status.READY, image_metadata=r.ImageMetadata(base_image_ref=base_ref)
        )
        owner: r.Model
        if ns is None:
            owner = r.AIMClusterModel(
                api_version=r.V1ALPHA1, kind="AIMClusterModel", metadata=meta, spec=spec, status=status
            )
        else:
            owner = r.AIMModel(
                api_version=r.V1ALPHA1, kind="AIMModel", metadata=meta, spec=spec, status=status
            )
        owners.append(owner)
        gpus = draw(st.lists(st.sampled_from(GPU_MODELS), min_size=1, max_size=3, unique=True))
        for gpu in gpus:
            model_id = draw(st.sampled_from(variant_ids))
            precision = draw(st.sampled_from(["fp8", "fp16"]))
            metric = draw(st.sampled_from(["latency", "throughput"]))
            tname = f"{name}-{gpu.lower()}-{precision}"
            labels = {f"{r.GROUP}/model": name, f"{r.GROUP}/origin": "auto-generated"}
            tspec = r.AIMServiceTemplateSpec(
                model_name=name,
                aim_id=aim_id,
                model_id=model_id,
                metric=r.Metric(metric),
                precision=r.Precision(precision),
                hardware=r.Hardware(gpu=r.GpuRequirements(model=gpu, requests=1)),
            )
            tstatus = r.AIMServiceTemplateStatus(
                status=r.TemplateStatus.READY,
                profile=r.TemplateProfile(
                    metadata=r.ProfileMetadata(
                        gpu=gpu,
                        gpu_count=1,
                        metric=metric,
                        precision=precision,
                        type="optimized",
                        aim_id=aim_id,
                        model_id=model_id,
                    )
                ),
                version=version,
            )
            if ns is None:
                templates.append(
                    r.AIMClusterServiceTemplate(
                        api_version=r.V1ALPHA1,
                        kind="AIMClusterServiceTemplate",
                        metadata=_owned_meta(owner, tname, None, labels),
                        spec=tspec,
                        status=tstatus,
                    )
                )
            else:
                templates.append(
                    r.AIMServiceTemplate(
                        api_version=r.V1ALPHA1,
                        kind="AIMServiceTemplate",
                        metadata=_owned_meta(owner, tname, ns, labels),
                        spec=tspec,
                        status=tstatus,
                    )
                )
    chosen = (
        list(policies)
        if policies is not None
        else draw(st.lists(st.none() | st.sampled_from(r.VersionPolicy), min_size=1, max_size=2))
    )
    finetuned: list[r.Model] = []
    for index, policy in enumerate(chosen):
        ft_ns = ns if ns is not None else draw(st.none() | st.sampled_from(NAMESPACES))
        version = draw(st.sampled_from(owner_versions))
        pinned = policy in (None, r.VersionPolicy.PINNED)
        image = f"{host}/aim-base:{version}" if pinned or draw(st.booleans()) else None
        name = f"ft-{repo}-{index}"
        spec = r.AIMModelSpec(
            image=image,
            aim_id=aim_id,
            model_sources=(
                r.ModelSource(
                    model_id=draw(st.sampled_from(variant_ids)), source_uri=f"s3://weights/{name}/"
                ),
            ),
            custom=r.CustomModelSpec(version_policy=policy) if policy else None,
        )
        meta = r.ObjectMeta(name=name, namespace=ft_ns, uid=f"uid-ft-{ft_ns or ''}-{name}", generation=1)
        if ft_ns is None:
            finetuned.append(
                r.AIMClusterModel(api_version=r.V1ALPHA1, kind="AIMClusterModel", metadata=meta, spec=spec)
            )
        else:
            finetuned.append(r.AIMModel(api_version=r.V1ALPHA1, kind="AIMModel", metadata=meta, spec=spec))
    return FineTunedFamily(aim_id, tuple(owners), tuple(templates), tuple(finetuned))


# ------------------------------------------------------------------------- catalogs


Inspector = Callable[[list[InspectKey]], dict[InspectKey, InspectResult]]


@attrs.frozen
class Catalog:
    """A consistent world: user objects, what the registry says about their images, the GPUs.

    `facts` is keyed by normalised image; an image it does not list is not found.
    """

    objects: tuple[r.Resource, ...]
    facts: Mapping[str, InspectResult]
    gpus: frozenset[str] | None = None
    operator_namespace: str = OPERATOR_NAMESPACE
    now: str = NOW

    def inspect(self, request: InspectKey) -> InspectResult:
        """What the registry answers for one request."""
        found = self.facts.get(request.image)
        return (
            found
            if found is not None
            else InspectFailure(FailureKind.NOT_FOUND, f"{request.image} not found")
        )

    def inspector(self) -> Inspector:
        """An inspector for `aimcore.adapters.memory.simulate.run`."""
        return lambda keys: {key: self.inspect(key) for key in keys}

    def snapshot(self, objects: Sequence[r.Resource] | None = None) -> Snapshot:
        """A snapshot of `objects` (default: the catalog's); no inspection is answered yet."""
        chosen = self.objects if objects is None else objects
        return Snapshot.build(
            chosen, {}, operator_namespace=self.operator_namespace, now=self.now, gpus=self.gpus
        )


@st.composite
def catalogs(
    draw: st.DrawFn, *, max_models: int = 4, max_services: int = 3, finetuned: bool | None = None
) -> Catalog:
    """A consistent world to reconcile.

    Models over a small pool of images (AIM images, plain images, registry failures), some of
    any flavour (custom, fine-tuned, discovery toggles, spec.imageMetadata); user templates;
    runtime configs; pull secrets (some missing); services by model name, image and inline
    custom model (images spelled two ways); and fine-tuned families (`finetuned`: at least one
    when True, none when False, zero to two when None).
    """
    image_pool = draw(st.lists(image_references(), min_size=1, max_size=3, unique_by=normalize_image))
    facts: dict[str, InspectResult] = {}
    for image in image_pool:
        answer = draw(st.sampled_from(["aim", "aim", "aim", "plain", "failure", "missing"]))
        if answer == "aim":
            facts[normalize_image(image)] = draw(image_facts())
        elif answer == "plain":
            facts[normalize_image(image)] = ImageFacts(labels={"org.opencontainers.image.title": "plain"})
        elif answer == "failure":
            kind = draw(st.sampled_from(FailureKind))
            facts[normalize_image(image)] = InspectFailure(kind, f"{kind.value} for {image}")
    objects: list[r.Resource] = []
    secret_names = ["pull-a", "pull-b"]
    for name in secret_names:
        for ns in draw(st.lists(st.sampled_from([*NAMESPACES, OPERATOR_NAMESPACE]), unique=True, max_size=2)):
            objects.append(draw(secrets(name=name, namespace=ns)))
    pulls = st.none() | st.lists(
        st.builds(r.LocalObjectReference, name=st.sampled_from([*secret_names, "missing"])),
        max_size=2,
        unique_by=lambda s: s.name,
    ).map(tuple)
    model_names = list(draw(st.lists(dns_labels(12), min_size=1, max_size=max_models, unique=True)))
    for name in model_names:
        scope = draw(st.sampled_from([None, *NAMESPACES]))
        image = draw(st.sampled_from(image_pool))
        spec = r.AIMModelSpec(
            image=image,
            image_pull_secrets=draw(pulls),
            default_service_template=draw(st.none() | dns_labels(12)),
            resources=draw(resource_requirements()),
            custom_templates=draw(
                st.none() | st.lists(custom_templates(), min_size=1, max_size=2).map(tuple)
            ),
        )
        meta = draw(object_meta(name=name, namespace=scope))
        version = draw(st.sampled_from(r.AIM_API_VERSIONS))
        if scope is None:
            objects.append(
                r.AIMClusterModel(api_version=version, kind="AIMClusterModel", metadata=meta, spec=spec)
            )
        else:
            objects.append(r.AIMModel(api_version=version, kind="AIMModel", metadata=meta, spec=spec))
    for _ in range(draw(st.integers(0, 2))):
        # Any flavour (custom, fine-tuned, toggles, spec.imageMetadata) over the same image pool.
        image = draw(st.sampled_from(image_pool))
        objects.append(draw(st.one_of(aim_models(image=image), aim_cluster_models(image=image))))
    for _ in range(draw(st.integers(0, 2))):
        owner_name = draw(st.sampled_from(model_names))
        user_template: st.SearchStrategy[r.Template] = st.one_of(
            service_templates(model_name=owner_name), cluster_service_templates(model_name=owner_name)
        )
        objects.append(draw(user_template))
    for _ in range(draw(st.integers(0, 2))):
        objects.append(draw(st.one_of(runtime_configs(), cluster_runtime_configs())))
    families = draw(st.integers(1, 2)) if finetuned else 0 if finetuned is False else draw(st.integers(0, 2))
    for _ in range(families):
        family = draw(finetuned_families())
        objects.extend(family.objects())
        model_names += [m.metadata.name or "" for m in family.finetuned]
    # Services spell pool images as written and fully qualified: one image, two spellings (D2).
    spellings = [*image_pool, *(normalize_image(image) for image in image_pool)]
    for _ in range(draw(st.integers(0, max_services))):
        objects.append(draw(aim_services(model_names=model_names, images=spellings)))
    unique: dict[tuple[str, str, str], r.Resource] = {}
    for obj in objects:
        unique.setdefault((obj.kind, obj.metadata.namespace or "", obj.metadata.name or ""), obj)
    gpus = draw(st.none() | st.frozensets(st.sampled_from(GPU_MODELS), max_size=3))
    return Catalog(tuple(unique.values()), facts, gpus)
