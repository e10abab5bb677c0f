"""AIMService reconciliation, the model side: model, template, image and resources.

No workload is built here. Models the service creates (from an image, D2, or
inline custom sources, D3) carry no ownerReference: they are shared and outlive
the service. A steady service plans no actions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aimcore import naming, resolution, runtimeconfig
from aimcore import resources as r
from aimcore.images import InvalidImageReference
from aimcore.ownership import (
    ANNOTATION_DEPLOYMENT_IMAGE,
    LABEL_CUSTOM_MODEL,
    LABEL_ORIGIN,
    LABEL_SERVICE,
    ORIGIN_AUTO,
    child_metadata,
)
from aimcore.plan import Action, Apply, Plan, Reason, UpdateStatus
from aimcore.selection import How, Selection, select_template
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.status import Component, conditions

MODEL_READY = "ModelReady"
TEMPLATE_READY = "TemplateReady"
IMAGE_RESOLVED = "ImageResolved"

#: The document's custom models run on aim-base; its full example gives no baseImage.
DEFAULT_BASE_IMAGE = "amdenterpriseai/aim-base:latest"
AWS_ENDPOINT = "AWS_ENDPOINT_URL"
MODEL_API_VERSION = r.V1ALPHA1

READY = r.Status.READY
PROGRESSING = r.Status.PROGRESSING
FAILED = r.Status.FAILED


@attrs.frozen
class ModelOutcome:
    """The model the service uses (None while absent), a model to create, and the condition."""

    component: Component
    model: r.Model | None = None
    create: r.AIMModel | None = None


def reconcile_service(service: r.AIMService, snapshot: Snapshot) -> Plan:
    key = ObjectKey.of(service)
    namespace = service.metadata.namespace or ""
    spec = service.spec
    config = runtimeconfig.resolve(spec.runtime_config_name, namespace, snapshot)
    found = _resolve_model(service, config, snapshot)
    components = [config.component, found.component]
    actions: list[Action] = []
    reasons: list[Reason] = []
    if found.create is not None:
        actions.append(Apply(found.create, f"create {ObjectKey.of(found.create)} for {key}"))

    model = found.model
    template: r.Template | None = None
    if model is None:
        components.append(Component(TEMPLATE_READY, PROGRESSING, "AwaitingModel", "Waiting for the model"))
    else:
        selection = select_template(spec.template, spec.overrides, model, namespace, snapshot)
        reasons.extend(Reason(str(ObjectKey.of(v.template)), v.reason) for v in selection.verdicts)
        if selection.note:
            reasons.append(Reason(str(key), selection.note))
        template_component = _template_component(selection, model)
        components.append(template_component)
        if template_component.state is READY:
            template = selection.template

    image = _deployment_image(template, model) if template is not None else None
    components.append(_image_component(template, image))
    resolved_resources = resolution.resolve_resources(spec.resources, template, model) if template else None

    previous = service.status or r.AIMServiceStatus()
    generation = service.metadata.generation
    conds, root = conditions(previous.conditions, components, now=snapshot.now, generation=generation)
    status = r.AIMServiceStatus(
        observed_generation=generation,
        status=root,
        conditions=conds,
        resolved_runtime_config=config.reference,
        resolved_model=_reference(model) if model is not None else None,
        resolved_template=_reference(template) if template is not None else None,
        resolved_image=image,
        resolved_resources=resolved_resources,
    )
    if status != service.status:
        actions.append(UpdateStatus(key, status))
    return Plan(key, tuple(actions), status, tuple(reasons))


# --- model ------------------------------------------------------------------------------


def _resolve_model(
    service: r.AIMService, config: runtimeconfig.RuntimeConfigResolution, snapshot: Snapshot
) -> ModelOutcome:
    wanted = service.spec.model
    namespace = service.metadata.namespace or ""
    if wanted.name is not None:
        model = resolution.lookup_model(namespace, wanted.name, snapshot)
        if model is None:
            message = f"model {wanted.name.strip()!r} not found in namespace {namespace} or cluster scope"
            return ModelOutcome(Component(MODEL_READY, FAILED, "ModelNotFound", message))
        return _use(model)
    if wanted.image is not None:
        return _model_from_image(service, wanted.image, config, snapshot)
    if wanted.custom is not None:
        return _custom_model(service, wanted.custom, config, snapshot)
    message = "spec.model names no model: set exactly one of name, image or custom"
    return ModelOutcome(Component(MODEL_READY, FAILED, "ModelNotFound", message))


def _use(model: r.Model, note: str = "") -> ModelOutcome:
    """A found model: usable when Ready or Degraded (some templates may still serve)."""
    state = model.status.status if model.status else None
    scope = "cluster" if isinstance(model, r.AIMClusterModel) else "namespace"
    what = f"{model.kind} {model.metadata.name} ({scope})"
    suffix = f"; {note}" if note else ""
    if state in (r.Status.READY, r.Status.DEGRADED):
        degraded = " (Degraded)" if state is r.Status.DEGRADED else ""
        component = Component(MODEL_READY, READY, "ModelResolved", f"Using {what}{degraded}{suffix}")
    elif state is r.Status.FAILED:
        component = Component(MODEL_READY, FAILED, "ModelNotReady", f"{what} has failed{suffix}")
    else:
        shown = state.value if state else "not reported yet"
        component = Component(MODEL_READY, PROGRESSING, "ModelNotReady", f"{what} is {shown}{suffix}")
    return ModelOutcome(component, model)


def _model_from_image(
    service: r.AIMService, image: str, config: runtimeconfig.RuntimeConfigResolution, snapshot: Snapshot
) -> ModelOutcome:
    """Reuse the one model with this image (namespace, then cluster), else create auto-<hash> (D2)."""
    namespace = service.metadata.namespace or ""
    try:
        normalized = snapshot.normalized_image(image)
    except InvalidImageReference as err:
        return ModelOutcome(Component(MODEL_READY, FAILED, "InvalidImageReference", str(err)))
    for kind in ("AIMModel", "AIMClusterModel"):
        scope_ns = namespace if kind == "AIMModel" else ""
        matches = snapshot.models_with_image(kind, scope_ns, normalized)
        if len(matches) > 1:
            names = ", ".join(_model_label(m) for m in matches)
            message = (
                f"multiple models found with the image {image.strip()!r}: {names}; "
                "keep one or use spec.model.name"
            )
            return ModelOutcome(Component(MODEL_READY, FAILED, "MultipleModelsFound", message))
        if matches:
            return _use(matches[0])
    name = naming.auto_model_name(image)
    blocking = _blocked_by(snapshot, namespace, name, config)
    if blocking is not None:
        return ModelOutcome(blocking)
    discover = config.auto_discovery
    spec = r.AIMModelSpec(
        image=image.strip(),
        discovery=r.Discovery(extract_metadata=discover, create_service_templates=discover),
        runtime_config_name=service.spec.runtime_config_name,
        image_pull_secrets=service.spec.image_pull_secrets,
        service_account_name=service.spec.service_account_name,
    )
    labels = {LABEL_ORIGIN: ORIGIN_AUTO, LABEL_SERVICE: service.metadata.name or ""}
    model = _new_model(service, name, labels, spec)
    message = f"Model {name} will be created for image {image.strip()}"
    return ModelOutcome(Component(MODEL_READY, PROGRESSING, "CreatingModel", message), create=model)


def _custom_model(
    service: r.AIMService,
    custom: r.InlineCustomModel,
    config: runtimeconfig.RuntimeConfigResolution,
    snapshot: Snapshot,
) -> ModelOutcome:
    """Reuse an equal namespace model, else create `{modelId}-{hash8}` (D3, reference-operator §7.2)."""
    namespace = service.metadata.namespace or ""
    base = (custom.base_image or "").strip()
    note = ""
    if not base:
        base = DEFAULT_BASE_IMAGE
        note = f"no baseImage given; custom models run on {DEFAULT_BASE_IMAGE}"
    try:
        normalized = snapshot.normalized_image(base)
    except InvalidImageReference as err:
        return ModelOutcome(Component(MODEL_READY, FAILED, "InvalidImageReference", str(err)))
    for candidate in snapshot.models_with_image("AIMModel", namespace, normalized):
        if _same_sources(candidate.spec.model_sources or (), custom.model_sources):
            return _use(candidate, note)
    keys = [(s.model_id, s.source_uri, _endpoint(s)) for s in custom.model_sources]
    name = naming.custom_model_name(base, keys)
    blocking = _blocked_by(snapshot, namespace, name, config)
    if blocking is not None:
        return ModelOutcome(blocking)
    spec = r.AIMModelSpec(
        image=base,
        model_sources=custom.model_sources,
        custom=r.CustomModelSpec(hardware=custom.hardware, type=custom.type),
        runtime_config_name=service.spec.runtime_config_name,
        image_pull_secrets=service.spec.image_pull_secrets,
        service_account_name=service.spec.service_account_name,
        env=service.spec.env,
    )
    labels = {
        LABEL_ORIGIN: ORIGIN_AUTO,
        LABEL_CUSTOM_MODEL: "true",
        LABEL_SERVICE: service.metadata.name or "",
    }
    model = _new_model(service, name, labels, spec)
    message = f"Custom model {name} will be created" + (f" ({note})" if note else "")
    return ModelOutcome(Component(MODEL_READY, PROGRESSING, "CreatingModel", message), create=model)


def _blocked_by(
    snapshot: Snapshot, namespace: str, name: str, config: runtimeconfig.RuntimeConfigResolution
) -> Component | None:
    """Why the model cannot be created now: a missing runtime config, or the name is taken."""
    if config.component.state is FAILED:
        message = f"Model {name} will be created once runtime config {config.name} exists"
        return Component(MODEL_READY, PROGRESSING, "CreatingModel", message)
    taken = snapshot.get(r.AIMModel, namespace, name)
    if taken is not None:
        message = f"AIMModel {namespace}/{name} exists with a different image or sources; it is left as it is"
        return Component(MODEL_READY, FAILED, "ModelNotFound", message)
    return None


def _new_model(service: r.AIMService, name: str, labels: dict[str, str], spec: r.AIMModelSpec) -> r.AIMModel:
    return r.AIMModel(
        api_version=MODEL_API_VERSION,
        kind="AIMModel",
        metadata=child_metadata(service, name, service.metadata.namespace, labels, owned=False),
        spec=spec,
    )


def _endpoint(source: r.ModelSource) -> str:
    """The literal AWS_ENDPOINT_URL of a source ("" when absent or taken from a secret)."""
    for var in source.env or ():
        if var.name == AWS_ENDPOINT:
            return var.value or ""
    return ""


def _same_sources(have: Sequence[r.ModelSource], want: Sequence[r.ModelSource]) -> bool:
    """Pairwise equal in order: modelId, sourceUri and the literal endpoint (§7.2)."""
    if len(have) != len(want):
        return False
    return all(
        a.model_id == b.model_id and a.source_uri == b.source_uri and _endpoint(a) == _endpoint(b)
        for a, b in zip(have, want, strict=True)
    )


def _model_label(model: r.Model) -> str:
    if isinstance(model, r.AIMModel):
        return f"{model.metadata.namespace}/{model.metadata.name} (namespace)"
    return f"{model.metadata.name} (cluster)"


# --- template, image --------------------------------------------------------------------


def _template_component(selection: Selection, model: r.Model) -> Component:
    how = selection.how
    prefix = f"{selection.note}; " if selection.note else ""
    if how is How.NOT_FOUND:
        message = f"template {selection.note!r} not found in the service namespace or cluster scope"
        return Component(TEMPLATE_READY, FAILED, "TemplateNotFound", message)
    if how is How.NO_CANDIDATES:
        if _model_settled(model):
            message = f"{prefix}model {model.metadata.name} has no templates"
            return Component(TEMPLATE_READY, FAILED, "TemplateNotFound", message)
        message = f"{prefix}waiting for templates of model {model.metadata.name}"
        return Component(TEMPLATE_READY, PROGRESSING, "TemplateNotFound", message)
    if how is How.WAITING:
        message = f"{prefix}waiting for a template to become Ready: {selection.summary()}"
        return Component(TEMPLATE_READY, PROGRESSING, "TemplateNotReady", message)
    if how is How.NONE_ELIGIBLE:
        message = f"{prefix}no template of model {model.metadata.name} qualifies: {selection.summary()}"
        return Component(TEMPLATE_READY, FAILED, "TemplateSelectionFailed", message)
    if how is How.AMBIGUOUS:
        names = ", ".join(str(t.metadata.name) for t in selection.tied)
        message = f"{prefix}templates rank equally: {names}; set spec.template.name or overrides"
        return Component(TEMPLATE_READY, FAILED, "TemplateSelectionAmbiguous", message)
    template = selection.template
    assert template is not None
    state = template.status.status if template.status else None
    if state is r.TemplateStatus.READY:
        via = _VIA.get(how, "auto-selection")
        message = f"{prefix}{template.metadata.name} ({via})"
        return Component(TEMPLATE_READY, READY, "TemplateSelected", message)
    shown = state.value if state else "not reported yet"
    message = f"template {template.metadata.name} is {shown}"
    waiting = state in (None, r.TemplateStatus.PENDING, r.TemplateStatus.PROGRESSING)
    return Component(TEMPLATE_READY, PROGRESSING if waiting else FAILED, "TemplateNotReady", message)


_VIA = {How.EXPLICIT: "spec.template.name", How.DEFAULT: "defaultServiceTemplate"}


def _model_settled(model: r.Model) -> bool:
    """Whether the model has finished making templates (no more are coming)."""
    state = model.status.status if model.status else None
    return state in (r.Status.READY, r.Status.DEGRADED, r.Status.FAILED)


def _deployment_image(template: r.Template, model: r.Model | None) -> str | None:
    """The template's deployment-image annotation, else the model's image (reference-finetuned §11)."""
    annotated = (template.metadata.annotations or {}).get(ANNOTATION_DEPLOYMENT_IMAGE, "")
    if annotated:
        return annotated
    return (model.spec.image if model else None) or None


def _image_component(template: r.Template | None, image: str | None) -> Component:
    if template is None:
        return Component(IMAGE_RESOLVED, PROGRESSING, "AwaitingTemplate", "Waiting for a template")
    if image is None:
        message = f"neither template {template.metadata.name} nor its model names an image"
        return Component(IMAGE_RESOLVED, FAILED, "ImageNotResolved", message)
    return Component(IMAGE_RESOLVED, READY, "ImageResolved", image)


def _reference(obj: r.Model | r.Template) -> r.ResolvedReference:
    cluster = isinstance(obj, r.AIMClusterModel | r.AIMClusterServiceTemplate)
    return r.ResolvedReference(
        name=obj.metadata.name or "",
        namespace=None if cluster else obj.metadata.namespace,
        scope=r.Scope.CLUSTER if cluster else r.Scope.NAMESPACE,
        kind=obj.kind,
        uid=obj.metadata.uid,
    )
