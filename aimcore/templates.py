"""Templates (and v1alpha2 profiles) discovered from an image's recommended deployments.

One AIMServiceTemplate per deployment for a namespace model, one
AIMClusterServiceTemplate for a cluster model, named and filled as the reference
does (D1, reference-operator §3.2, §3.4), owned by the model (D4).
"""

from __future__ import annotations

from collections.abc import Iterator

from aimcore import naming
from aimcore import resources as r
from aimcore.ownership import LABEL_MODEL, LABEL_ORIGIN, ORIGIN_AUTO, child_metadata

TEMPLATE_API_VERSION = r.V1ALPHA1

LABEL_PROFILE_ROLE = f"{r.GROUP}/profile-role"
LABEL_PROFILE_ORIGIN = f"{r.GROUP}/profile-origin"
LABEL_SOURCE_MODEL = f"{r.GROUP}/source-model"
LABEL_SOURCE_MODEL_SCOPE = f"{r.GROUP}/source-model-scope"


def deployments(metadata: r.ImageMetadata | None) -> tuple[r.RecommendedDeployment, ...]:
    model = metadata.model if metadata else None
    return (model.recommended_deployments or ()) if model else ()


def expects_templates(
    spec: r.AIMModelSpec, metadata: r.ImageMetadata | None, metadata_known: bool
) -> bool | None:
    """Whether the model should have templates; None while its metadata is still unknown (§3.1)."""
    if spec.discovery is not None and spec.discovery.create_service_templates is False:
        return False
    if spec.model_sources:
        return True
    has_custom = bool(spec.custom_templates or (spec.custom.templates if spec.custom else None))
    if not metadata_known:
        return True if has_custom else None
    return bool(deployments(metadata)) or has_custom


def discovered_templates(model: r.Model, metadata: r.ImageMetadata | None) -> Iterator[r.Template]:
    canonical = metadata.model.canonical_name if metadata and metadata.model else None
    for deployment in deployments(metadata):
        yield _template(model, deployment, canonical)


def _enum(cls: type[r.Metric] | type[r.Precision], value: str | None) -> r.Metric | r.Precision | None:
    if not value:
        return None
    return cls(value.lower())


def _template(model: r.Model, d: r.RecommendedDeployment, canonical: str | None) -> r.Template:
    """The template for one deployment; its identity makes it a fine-tuning source.

    The reference leaves spec.aimId/modelId empty and its template controller fills them
    in after running the image; aimcore writes the same identity at creation (README,
    decision A1): aimId is the image's canonicalName, modelId the deployment's own modelId
    or, failing that, the canonicalName.
    """
    name = naming.template_name(
        model.metadata.name or "",
        model.spec.image or "",
        d.gpu_model or "",
        d.gpu_count or 0,
        d.metric or "",
        d.precision or "",
    )
    hardware = None
    if d.gpu_model and (d.gpu_count or 0) > 0:
        hardware = r.Hardware(gpu=r.GpuRequirements(requests=d.gpu_count, model=d.gpu_model))
    metric = _enum(r.Metric, d.metric)
    precision = _enum(r.Precision, d.precision)
    spec = r.AIMServiceTemplateSpec(
        model_name=model.metadata.name or "",
        metric=metric if isinstance(metric, r.Metric) else None,
        precision=precision if isinstance(precision, r.Precision) else None,
        profile_id=d.profile_id or None,
        aim_id=canonical or None,
        model_id=d.model_id or canonical or None,
        hardware=hardware,
        image_pull_secrets=model.spec.image_pull_secrets,
        service_account_name=model.spec.service_account_name,
    )
    labels = {LABEL_MODEL: model.metadata.name or "", LABEL_ORIGIN: ORIGIN_AUTO}
    return owned_template(model, name, labels, spec)


def owned_template(
    model: r.Model, name: str, labels: dict[str, str], spec: r.AIMServiceTemplateSpec
) -> r.Template:
    """A template owned by `model`, of the kind its scope calls for."""
    if isinstance(model, r.AIMModel):
        return r.AIMServiceTemplate(
            api_version=TEMPLATE_API_VERSION,
            kind="AIMServiceTemplate",
            metadata=child_metadata(model, name, model.metadata.namespace, labels),
            spec=spec,
        )
    return r.AIMClusterServiceTemplate(
        api_version=TEMPLATE_API_VERSION,
        kind="AIMClusterServiceTemplate",
        metadata=child_metadata(model, name, None, labels),
        spec=spec,
    )


# --- v1alpha2 profiles (D23) ----------------------------------------------------------


def profile_id(d: r.RecommendedDeployment) -> str:
    """The deployment's profileId, else one spelled from what it recommends."""
    if d.profile_id:
        return d.profile_id
    gpu = f"{d.gpu_count}x-{d.gpu_model}" if d.gpu_model and d.gpu_count else d.gpu_model or ""
    parts = [gpu, d.metric or "", d.precision or ""]
    return "-".join(p for p in parts if p) or "default"


def discovered_profiles(model: r.Model, metadata: r.ImageMetadata | None) -> Iterator[r.Profile]:
    if model.api_version != r.V1ALPHA2:
        return
    namespaced = isinstance(model, r.AIMModel)
    base_image = metadata.base_image_ref if metadata else None
    canonical = metadata.model.canonical_name if metadata and metadata.model else None
    seen: set[str] = set()
    for d in deployments(metadata):
        pid = profile_id(d)
        if pid in seen:
            continue
        seen.add(pid)
        name = naming.profile_name(model.metadata.name or "", pid)
        labels = {
            LABEL_PROFILE_ROLE: "base",
            LABEL_PROFILE_ORIGIN: "discovered",
            LABEL_SOURCE_MODEL: model.metadata.name or "",
            LABEL_SOURCE_MODEL_SCOPE: "namespace" if namespaced else "cluster",
        }
        annotations = {
            f"{r.GROUP}/model-uid": model.metadata.uid or "",
            f"{r.GROUP}/model-name": model.metadata.name or "",
            f"{r.GROUP}/profile-source": "image",
            f"{r.GROUP}/profile-copyable": "true",
        }
        if namespaced:
            annotations[f"{r.GROUP}/model-namespace"] = model.metadata.namespace or ""
        if base_image:
            annotations[f"{r.GROUP}/base-image"] = base_image
        spec = r.AIMProfileSpec(
            aim_id=canonical,
            profile_id=pid,
            metric=d.metric.lower() if d.metric else None,
            precision=d.precision.lower() if d.precision else None,
            primary=True,
            accelerator_model=d.gpu_model,
            accelerator_count=d.gpu_count,
            accelerator_type="gpu" if d.gpu_model or d.gpu_count else None,
            image=model.spec.image,
            image_pull_secrets=model.spec.image_pull_secrets,
            service_account_name=model.spec.service_account_name,
        )
        if namespaced:
            yield r.AIMProfile(
                api_version=r.V1ALPHA2,
                kind="AIMProfile",
                metadata=child_metadata(model, name, model.metadata.namespace, labels, annotations),
                spec=spec,
            )
        else:
            yield r.AIMClusterProfile(
                api_version=r.V1ALPHA2,
                kind="AIMClusterProfile",
                metadata=child_metadata(model, name, None, labels, annotations),
                spec=spec,
            )
