"""AIMService reconciliation, the model side: model, template, image and resources.

No workload is built here. Models the service creates (from an image, D2, or
inline custom sources, D3) carry no ownerReference: they are shared and outlive
the service. A steady service plans no actions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aimcore import codec, httproute, naming, resolution, runtimeconfig
from aimcore import inferenceservice as isvc
from aimcore import resources as r
from aimcore.images import InvalidImageReference
from aimcore.inferenceservice import deployment_image
from aimcore.ownership import (
    LABEL_CUSTOM_MODEL,
    LABEL_ORIGIN,
    LABEL_SERVICE,
    ORIGIN_AUTO,
    child_metadata,
)
from aimcore.plan import Action, Apply, ApplyManifest, Plan, Reason, UpdateStatus
from aimcore.selection import How, Selection, select_template
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.status import Component, condition, conditions, find
from aimcore.workloads import needs_apply, owner_uids

MODEL_READY = "ModelReady"
TEMPLATE_READY = "TemplateReady"
IMAGE_RESOLVED = "ImageResolved"
CACHE_READY = "CacheReady"

#: The document's custom models run on aim-base; its full example gives no baseImage.
DEFAULT_BASE_IMAGE = "amdenterpriseai/aim-base:latest"
AWS_ENDPOINT = "AWS_ENDPOINT_URL"
MODEL_API_VERSION = r.V1ALPHA1

READY = r.Status.READY
PENDING = r.Status.PENDING
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
        components.append(Component(TEMPLATE_READY, PENDING, "AwaitingModel", "Waiting for the model"))
    elif (kept := _rediscovered_template(service, model, snapshot)) is not None:
        why = f"waiting for template {kept.metadata.name}: the InferenceService runs it"
        reasons.append(Reason(str(key), why))
        components.append(_waiting_for(kept))
    else:
        selection = select_template(spec.template, spec.overrides, model, namespace, snapshot)
        reasons.extend(Reason(str(ObjectKey.of(v.template)), v.reason) for v in selection.verdicts)
        if selection.note:
            reasons.append(Reason(str(key), selection.note))
        template_component = _template_component(selection, model)
        components.append(template_component)
        if template_component.state is READY:
            template = selection.template

    image = deployment_image(template, model) if template is not None else None
    components.append(_image_component(template, image))
    resolved_resources = resolution.resolve_resources(spec.resources, template, model) if template else None

    workload = _workload(service, config.spec, model, template, image, resolved_resources, snapshot)
    components.append(workload.health)
    actions.extend(workload.actions)
    route = _route(service, config.spec, snapshot)
    components.extend(route.components)
    actions.extend(route.actions)

    previous = service.status or r.AIMServiceStatus()
    generation = service.metadata.generation
    conds, root = conditions(previous.conditions, components, now=snapshot.now, generation=generation)
    caching = condition(find(previous.conditions, CACHE_READY), CACHING, snapshot.now, generation)
    conds = (*conds[:-1], caching, conds[-1])  # before Ready, which it does not count in
    status = r.AIMServiceStatus(
        observed_generation=generation,
        status=SERVICE_STATUS[root],
        conditions=conds,
        resolved_runtime_config=config.reference,
        resolved_model=_reference(model) if model is not None else None,
        resolved_template=_reference(template) if template is not None else None,
        resolved_image=image,
        resolved_resources=resolved_resources,
        runtime=runtime_status(spec),
        routing=route.status,
    )
    if status != service.status:
        actions.append(UpdateStatus(key, status))
    return Plan(key, tuple(actions), status, tuple(reasons))


#: The root state in the service's words (D32): waiting upstream is Pending, a workload not
#: Ready yet is Starting, a Ready one Running.
SERVICE_STATUS = {
    r.Status.PENDING: r.ServiceStatus.PENDING,
    r.Status.PROGRESSING: r.ServiceStatus.STARTING,
    r.Status.READY: r.ServiceStatus.RUNNING,
    r.Status.DEGRADED: r.ServiceStatus.DEGRADED,
    r.Status.FAILED: r.ServiceStatus.FAILED,
}

#: D30: said on every service, and not counted in its status (nothing waits for a cache).
CACHING = Component(
    CACHE_READY,
    PENDING,
    "CachingNotImplemented",
    "aimcore does not build template caches yet: the runtime downloads the model when it starts",
)


# --- the InferenceService ------------------------------------------------------------------


#: Optional fields of the predictor that a change of the service can take away again.
REMOVABLE: tuple[tuple[str | int, ...], ...] = (
    *(("spec", "predictor", field)
      for field in ("serviceAccountName", "imagePullSecrets", "affinity", "maxReplicas", "autoScaling")),
    *(("metadata", "annotations", name)
      for name in (isvc.ANNOTATION_OTEL_INJECT, isvc.ANNOTATION_PROMETHEUS_PORT)),
)


@attrs.frozen
class Outcome:
    """A workload's health and the actions that bring it where it should be."""

    health: Component
    actions: tuple[Action, ...] = ()


def _workload(
    service: r.AIMService,
    runtime: r.AIMRuntimeConfigSpec | None,
    model: r.Model | None,
    template: r.Template | None,
    image: str | None,
    resources: r.ResourceRequirements | None,
    snapshot: Snapshot,
) -> Outcome:
    """The InferenceService (D29): planned once the template is Ready and the model has not
    failed; one that exists is kept up to date, and never deleted while a dependency flickers."""
    namespace = service.metadata.namespace or ""
    problem = isvc.name_problem(service.metadata.name or "", namespace)
    if problem is not None:
        return Outcome(problem)
    workloads = snapshot.workloads
    name = isvc.inference_service_name(service.metadata.name or "", namespace)
    observed = workloads.inference_service(namespace, name)
    if observed is not None and service.metadata.uid not in owner_uids(observed):
        message = (
            f"InferenceService {namespace}/{name} belongs to another object (an earlier service of "
            "this name that is being deleted, or someone else's): waiting for it to go"
        )
        return Outcome(Component(isvc.INFERENCE_SERVICE_READY, PENDING, "InferenceServiceNotOwned", message))
    health = isvc.observed_health(observed, workloads.kserve_installed)
    if model is None or template is None or image is None or not workloads.kserve_installed:
        return Outcome(health)
    if observed is None and model.status is not None and model.status.status is FAILED:
        return Outcome(health)
    desired = isvc.inference_service(
        service, model, template, runtime, scaling=_scaling(service.spec), resources=resources, image=image
    )
    if not needs_apply(desired, observed, REMOVABLE):
        return Outcome(health)
    verb = "create" if observed is None else "update"
    reason = f"{verb} the InferenceService of {ObjectKey.of(service)}"
    return Outcome(health, (ApplyManifest(desired, reason),))


def _scaling(spec: r.AIMServiceSpec) -> isvc.Scaling:
    return isvc.Scaling(
        replicas=spec.replicas,
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        autoscaling=codec.dump(spec.auto_scaling) if spec.auto_scaling is not None else None,
    )


def runtime_status(spec: r.AIMServiceSpec) -> r.ServiceRuntimeStatus:
    """The replicas the service asks for (reference §3.3 without an HPA to read): a fixed count
    is min = max = current = desired; an autoscaled range shows its bounds, "min-max"."""
    scaling = _scaling(spec)
    if not scaling.autoscaled:
        count = spec.replicas if spec.replicas is not None else 1
        return r.ServiceRuntimeStatus(
            min_replicas=count, max_replicas=count, current_replicas=count, desired_replicas=count,
            replicas=str(count),
        )
    low = spec.min_replicas if spec.min_replicas is not None else 1
    high = spec.max_replicas if spec.max_replicas is not None else max(low, 1)
    return r.ServiceRuntimeStatus(min_replicas=low, max_replicas=high, replicas=f"{low}-{high}")


# --- the HTTPRoute -------------------------------------------------------------------------


@attrs.frozen
class RouteOutcome:
    components: tuple[Component, ...] = ()
    actions: tuple[Action, ...] = ()
    status: r.ServiceRoutingStatus | None = None


def _route(service: r.AIMService, runtime: r.AIMRuntimeConfigSpec | None, snapshot: Snapshot) -> RouteOutcome:
    """The HTTPRoute when routing is enabled (reference §1.2 row 1): independent of the template."""
    namespace = service.metadata.namespace or ""
    name = service.metadata.name or ""
    try:
        isvc_name = isvc.inference_service_name(name, namespace)
    except isvc.InferenceServiceNameError:
        isvc_name = name  # the InferenceService's own condition says why; the route cannot point anywhere
    planned = httproute.plan_route(service, runtime, isvc_name)
    if planned.routing is None:
        return RouteOutcome()
    if planned.problem is not None:
        return RouteOutcome((planned.problem,))
    assert planned.manifest is not None
    workloads = snapshot.workloads
    status = r.ServiceRoutingStatus(path=planned.path)
    if not workloads.gateway_api_installed:
        message = (
            f"the cluster has no {httproute.KIND} CRD ({httproute.API_VERSION}): install the Gateway API "
            "to route to this service"
        )
        component = Component(httproute.HTTP_ROUTE_READY, PENDING, "GatewayAPINotInstalled", message)
        return RouteOutcome((component,), status=status)
    observed = workloads.http_route(namespace, planned.manifest["metadata"]["name"])
    if observed is not None and service.metadata.uid not in owner_uids(observed):
        message = f"HTTPRoute {namespace}/{planned.manifest['metadata']['name']} belongs to another object"
        component = Component(httproute.HTTP_ROUTE_READY, PENDING, "HTTPRouteNotOwned", message)
        return RouteOutcome((component,), status=status)
    health = httproute.route_health(planned.routing, None, observed)
    components = (health,) if health is not None else ()
    actions: tuple[Action, ...] = ()
    if needs_apply(planned.manifest, observed, ROUTE_REMOVABLE):
        actions = (ApplyManifest(planned.manifest, f"route to {ObjectKey.of(service)}"),)
    return RouteOutcome(components, actions, status)


ROUTE_REMOVABLE: tuple[tuple[str | int, ...], ...] = (("spec", "rules", 0, "timeouts"),)


# --- model ------------------------------------------------------------------------------


def _resolve_model(
    service: r.AIMService, config: runtimeconfig.RuntimeConfigResolution, snapshot: Snapshot
) -> ModelOutcome:
    wanted = service.spec.model
    namespace = service.metadata.namespace or ""
    if wanted.name is not None:
        model = resolution.lookup_model(namespace, wanted.name, snapshot)
        if model is None:
            message = (
                f"model {wanted.name.strip()!r} not found in namespace {namespace} or cluster scope: "
                "waiting for it to be created"
            )
            return ModelOutcome(Component(MODEL_READY, PENDING, "ModelNotFound", message))
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
        component = Component(MODEL_READY, PENDING, "ModelNotReady", f"{what} is {shown}{suffix}")
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
    return ModelOutcome(Component(MODEL_READY, PENDING, "CreatingModel", message), create=model)


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
    return ModelOutcome(Component(MODEL_READY, PENDING, "CreatingModel", message), create=model)


def _blocked_by(
    snapshot: Snapshot, namespace: str, name: str, config: runtimeconfig.RuntimeConfigResolution
) -> Component | None:
    """Why the model cannot be created now: a missing runtime config, or the name is taken."""
    if config.component.state is FAILED:
        message = f"Model {name} will be created once runtime config {config.name} exists"
        return Component(MODEL_READY, PENDING, "CreatingModel", message)
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
    """TemplateReady. A template that is missing, not chosen or not Ready yet keeps the service
    Pending (D32, reference §3.4): templates can still appear or change; only a chosen template
    that has failed fails the service."""
    how = selection.how
    prefix = f"{selection.note}; " if selection.note else ""
    if how is How.NOT_FOUND:
        message = (
            f"template {selection.note!r} not found in the service namespace or cluster scope: "
            "waiting for it to be created"
        )
        return Component(TEMPLATE_READY, PENDING, "TemplateNotFound", message)
    if how is How.NO_CANDIDATES:
        if _model_settled(model):
            message = f"{prefix}model {model.metadata.name} has no templates"
            return Component(TEMPLATE_READY, PENDING, "TemplateNotFound", message)
        message = f"{prefix}waiting for templates of model {model.metadata.name}"
        return Component(TEMPLATE_READY, PENDING, "TemplateNotFound", message)
    if how is How.WAITING:
        message = f"{prefix}waiting for a template to become Ready: {selection.summary()}"
        return Component(TEMPLATE_READY, PENDING, "TemplateNotReady", message)
    if how is How.NONE_ELIGIBLE:
        message = f"{prefix}no template of model {model.metadata.name} qualifies: {selection.summary()}"
        return Component(TEMPLATE_READY, PENDING, "TemplateSelectionFailed", message)
    if how is How.AMBIGUOUS:
        names = ", ".join(str(t.metadata.name) for t in selection.tied)
        message = f"{prefix}templates rank equally: {names}; set spec.template.name or overrides"
        return Component(TEMPLATE_READY, PENDING, "TemplateSelectionAmbiguous", message)
    template = selection.template
    assert template is not None
    state = template.status.status if template.status else None
    if state is r.TemplateStatus.READY:
        via = _VIA.get(how, "auto-selection")
        message = f"{prefix}{template.metadata.name} ({via})"
        return Component(TEMPLATE_READY, READY, "Resolved", message)
    shown = state.value if state else "not reported yet"
    message = f"template {template.metadata.name} is {shown}"
    waiting = state in (None, r.TemplateStatus.PENDING, r.TemplateStatus.PROGRESSING)
    return Component(TEMPLATE_READY, PENDING if waiting else FAILED, "TemplateNotReady", message)


_VIA = {How.EXPLICIT: "spec.template.name", How.DEFAULT: "defaultServiceTemplate"}


def _model_settled(model: r.Model) -> bool:
    """Whether the model has finished making templates (no more are coming)."""
    state = model.status.status if model.status else None
    return state in (r.Status.READY, r.Status.DEGRADED, r.Status.FAILED)


def _rediscovered_template(service: r.AIMService, model: r.Model, snapshot: Snapshot) -> r.Template | None:
    """The template a running InferenceService was built from, while it is being discovered again
    (Pending or Progressing) and the service's spec is unchanged: the service waits for it.

    Auto-selection would otherwise move the service to another Ready template for the while, and
    back: two rollouts on the GPUs for nothing. A Ready template is selected like any other (so a
    better-ranked one that becomes Ready is deployed, and the cluster ends where `simulate` does);
    one that failed for good, is gone, or a changed spec selects again. None when the spec names
    its template (that is resolved as written).
    """
    status = service.status
    ref = status.resolved_template if status is not None else None
    named = service.spec.template is not None and bool(service.spec.template.name)
    if ref is None or named or status is None or status.observed_generation != service.metadata.generation:
        return None
    namespace = service.metadata.namespace or ""
    try:
        name = isvc.inference_service_name(service.metadata.name or "", namespace)
    except isvc.InferenceServiceNameError:
        return None
    if snapshot.workloads.inference_service(namespace, name) is None:
        return None
    found: r.Template | None
    if ref.scope is r.Scope.CLUSTER:
        found = snapshot.get(r.AIMClusterServiceTemplate, None, ref.name or "")
    else:
        found = snapshot.get(r.AIMServiceTemplate, namespace, ref.name or "")
    if found is None or found.metadata.uid != ref.uid or found.spec.model_name != model.metadata.name:
        return None
    state = found.status.status if found.status else None
    return found if state in _REDISCOVERING else None


_REDISCOVERING = (r.TemplateStatus.PENDING, r.TemplateStatus.PROGRESSING, None)


def _waiting_for(template: r.Template) -> Component:
    state = template.status.status if template.status else None
    shown = state.value if state else "not reported yet"
    message = f"template {template.metadata.name}, which the InferenceService runs, is {shown}"
    return Component(TEMPLATE_READY, PENDING, "TemplateNotReady", message)


def _image_component(template: r.Template | None, image: str | None) -> Component:
    if template is None:
        return Component(IMAGE_RESOLVED, PENDING, "AwaitingTemplate", "Waiting for a template")
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
