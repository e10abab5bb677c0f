"""A service end to end in the core: what `reconcile_service` plans and reports for every situation
of reference-service §3.4 (D29-D32), from a snapshot holding the observed InferenceService."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from aimcore import resources as r
from aimcore.plan import ApplyManifest, Delete, Plan
from aimcore.reconcile import reconcile
from aimcore.services import REMOVABLE
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.workloads import Workloads, needs_apply
from tests.test_inferenceservice import BASE, IMAGE, NS, _model, _service
from tests.test_inferenceservice import _template as _builder_template

NOW = "2026-01-01T00:00:00Z"
ISVC = "qwen-chat-faa5534a"
S = r.ServiceStatus


def _template(**options: Any) -> r.AIMServiceTemplate:
    """The builder tests' template, discovered as an optimized profile (so auto-selection takes it)."""
    template = _builder_template(**options)
    assert template.status is not None and template.status.profile is not None
    metadata = attrs.evolve(template.status.profile.metadata, type="optimized")
    profile = attrs.evolve(template.status.profile, metadata=metadata)
    return attrs.evolve(template, status=attrs.evolve(template.status, profile=profile))


def ready_model(status: r.Status = r.Status.READY) -> r.AIMModel:
    return attrs.evolve(_model(), status=r.AIMModelStatus(status=status))


def template_in(state: r.TemplateStatus) -> r.AIMServiceTemplate:
    template = _template()
    assert template.status is not None
    return attrs.evolve(template, status=attrs.evolve(template.status, status=state))


def observed(ready: bool | None, manifest: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The InferenceService as the cluster holds it: the manifest the core builds (BASE), with a
    uid, and a Ready condition when `ready` is not None."""
    doc = copy.deepcopy(manifest or BASE)
    doc["metadata"]["uid"] = "isvc-uid"
    if ready is not None:
        doc["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[last] = value
    return doc


def plan_for(
    service: r.AIMService | None = None,
    *,
    model: r.AIMModel | None = None,
    template: r.AIMServiceTemplate | None = None,
    isvc: dict[str, Any] | None = None,
    kserve: bool = True,
    extra: tuple[r.Resource, ...] = (),
) -> Plan:
    service = service or _service()
    objects: list[r.Resource] = [service, *extra]
    objects += [x for x in (model, template) if x is not None]
    workloads = Workloads(
        inference_services={(NS, isvc["metadata"]["name"]): isvc} if isvc is not None else {},
        kserve_installed=kserve,
    )
    snapshot = Snapshot.build(objects, now=NOW, workloads=workloads)
    return reconcile(ObjectKey.of(service), snapshot)


def conditions(plan: Plan) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in plan.status.conditions}


def message(plan: Plan, type_: str) -> str:
    return next(c.message for c in plan.status.conditions if c.type == type_)


def applied(plan: Plan) -> list[dict[str, Any]]:
    return [dict(a.manifest) for a in plan.actions if isinstance(a, ApplyManifest)]


# --- §3.4, row by row -------------------------------------------------------------------


def test_model_by_name_missing_waits_and_builds_nothing() -> None:
    plan = plan_for(template=_template())
    assert plan.status.status is S.PENDING  # D32: it may still be created
    assert conditions(plan)["ModelReady"] == ("False", "ModelNotFound")
    assert conditions(plan)["Ready"] == ("False", "ModelNotFound")
    assert applied(plan) == []


@pytest.mark.parametrize("state", [r.Status.PENDING, r.Status.PROGRESSING])
def test_model_not_ready_yet_is_pending(state: r.Status) -> None:
    plan = plan_for(model=ready_model(state), template=template_in(r.TemplateStatus.PENDING))
    assert plan.status.status is S.PENDING
    assert conditions(plan)["ModelReady"] == ("False", "ModelNotReady")
    assert conditions(plan)["InferenceServiceReady"] == ("False", "CreatingRuntime")
    assert applied(plan) == []


def test_a_ready_template_of_a_model_still_discovering_is_deployed() -> None:
    """D29: the selected template is Ready and the model has not failed (its other templates may
    still be discovering): the InferenceService is created; the model keeps the service Pending."""
    plan = plan_for(model=ready_model(r.Status.PROGRESSING), template=_template())
    assert applied(plan) == [BASE]
    assert conditions(plan)["TemplateReady"] == ("True", "Resolved")
    assert plan.status.status is S.PENDING


def test_failed_model_fails_and_creates_no_inference_service() -> None:
    plan = plan_for(model=ready_model(r.Status.FAILED), template=_template())
    assert plan.status.status is S.FAILED
    assert conditions(plan)["ModelReady"] == ("False", "ModelNotReady")
    assert applied(plan) == []


def test_failed_model_keeps_an_existing_inference_service_up_to_date() -> None:
    stale = observed(True, **{"spec.predictor.minReplicas": 5, "spec.predictor.maxReplicas": 5})
    plan = plan_for(model=ready_model(r.Status.FAILED), template=_template(), isvc=stale)
    assert plan.status.status is S.FAILED
    assert applied(plan) == [BASE]  # re-applied with the service's one replica, never deleted
    assert not any(isinstance(a, Delete) for a in plan.actions)


def test_explicit_template_missing_waits() -> None:
    service = _service(template=r.TemplateSelector(name="nope"))
    plan = plan_for(service, model=ready_model(), template=_template())
    assert plan.status.status is S.PENDING  # D32: a named template that does not exist yet
    assert conditions(plan)["TemplateReady"] == ("False", "TemplateNotFound")
    assert applied(plan) == []


def test_auto_selection_with_no_ready_template_is_pending() -> None:
    template = template_in(r.TemplateStatus.PROGRESSING)
    plan = plan_for(model=ready_model(r.Status.PROGRESSING), template=template)
    assert plan.status.status is S.PENDING
    assert conditions(plan)["TemplateReady"][0] == "False"
    assert applied(plan) == []


@pytest.mark.parametrize(
    "state", [r.TemplateStatus.PROGRESSING, r.TemplateStatus.FAILED, r.TemplateStatus.NOT_AVAILABLE]
)
def test_a_template_that_stops_being_ready_leaves_the_running_inference_service_alone(
    state: r.TemplateStatus,
) -> None:
    service = _service(template=r.TemplateSelector(name=_template().metadata.name))
    plan = plan_for(service, model=ready_model(), template=template_in(state), isvc=observed(True))
    assert applied(plan) == []
    assert not any(isinstance(a, Delete) for a in plan.actions)
    assert conditions(plan)["TemplateReady"] == ("False", "TemplateNotReady")
    assert conditions(plan)["InferenceServiceReady"] == ("True", "RuntimeReady")
    assert plan.status.status is (S.PENDING if state is r.TemplateStatus.PROGRESSING else S.FAILED)


def test_model_and_template_ready_create_the_inference_service_and_start() -> None:
    plan = plan_for(model=ready_model(), template=_template())
    assert applied(plan) == [BASE]
    assert plan.status.status is S.STARTING
    assert conditions(plan) == {
        "RuntimeConfigReady": ("True", "DefaultConfigNotFound"),
        "ModelReady": ("True", "ModelResolved"),
        "TemplateReady": ("True", "Resolved"),
        "ImageResolved": ("True", "ImageResolved"),
        "InferenceServiceReady": ("False", "CreatingRuntime"),
        "CacheReady": ("False", "CachingNotImplemented"),
        "Ready": ("False", "CreatingRuntime"),
    }
    assert message(plan, "InferenceServiceReady") == "InferenceService not found"
    assert plan.status.resolved_image == IMAGE


def test_created_but_not_ready_is_starting_and_says_why() -> None:
    isvc = observed(False)
    isvc["status"]["conditions"][0].update(reason="PredictorNotReady", message="0/1 pods ready")
    plan = plan_for(model=ready_model(), template=_template(), isvc=isvc)
    assert applied(plan) == []
    assert plan.status.status is S.STARTING
    assert conditions(plan)["InferenceServiceReady"] == ("False", "CreatingRuntime")
    assert message(plan, "InferenceServiceReady") == (
        "InferenceService is not ready: PredictorNotReady: 0/1 pods ready"
    )


def test_ready_inference_service_is_running_and_a_second_pass_plans_nothing() -> None:
    plan = plan_for(model=ready_model(), template=_template(), isvc=observed(True))
    assert plan.status.status is S.RUNNING
    assert conditions(plan)["Ready"] == ("True", "AllComponentsReady")
    assert conditions(plan)["CacheReady"] == ("False", "CachingNotImplemented")  # D30: said, not counted
    assert applied(plan) == []
    service = attrs.evolve(_service(), status=plan.status)
    again = plan_for(service, model=ready_model(), template=_template(), isvc=observed(True))
    assert again.actions == ()


def test_without_kserve_the_service_waits_and_builds_nothing() -> None:
    plan = plan_for(model=ready_model(), template=_template(), kserve=False)
    assert plan.status.status is S.PENDING
    assert conditions(plan)["InferenceServiceReady"] == ("False", "KServeNotInstalled")
    assert message(plan, "InferenceServiceReady") == (
        "KServe is not installed: the cluster has no InferenceService CRD (serving.kserve.io/v1beta1); "
        "install KServe to deploy this service"
    )
    assert applied(plan) == []


def test_a_namespace_over_42_characters_fails_with_what_to_do() -> None:
    long = "n" * 43
    service = _service()
    service = attrs.evolve(service, metadata=attrs.evolve(service.metadata, namespace=long))
    model = attrs.evolve(ready_model(), metadata=attrs.evolve(ready_model().metadata, namespace=long))
    template = _template()
    template = attrs.evolve(template, metadata=attrs.evolve(template.metadata, namespace=long))
    plan = reconcile(ObjectKey.of(service), Snapshot.build([service, model, template], now=NOW))
    assert plan.status.status is S.FAILED
    assert conditions(plan)["InferenceServiceReady"] == ("False", "NamespaceTooLong")
    assert message(plan, "InferenceServiceReady") == (
        f'namespace "{long}" is too long (43 chars); InferenceService hostname would exceed 63 characters: '
        "use a namespace of at most 42 characters"
    )
    assert applied(plan) == []


def test_someone_elses_inference_service_of_the_name_is_never_touched() -> None:
    theirs = observed(True)
    theirs["metadata"]["ownerReferences"] = []
    plan = plan_for(model=ready_model(), template=_template(), isvc=theirs)
    assert applied(plan) == []
    assert plan.status.status is S.PENDING
    assert conditions(plan)["InferenceServiceReady"] == ("False", "InferenceServiceNotOwned")


# --- updates --------------------------------------------------------------------------


def test_replicas_and_autoscaling_changes_reach_the_inference_service_and_back() -> None:
    scaled = _service(min_replicas=2, max_replicas=5)
    plan = plan_for(scaled, model=ready_model(), template=_template(), isvc=observed(True))
    [manifest] = applied(plan)
    assert manifest["spec"]["predictor"]["minReplicas"] == 2
    assert manifest["spec"]["predictor"]["maxReplicas"] == 5
    assert manifest["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
    assert plan.status.runtime == r.ServiceRuntimeStatus(min_replicas=2, max_replicas=5, replicas="2-5")
    # Back to a fixed count: the autoscaling annotations go, which a field-by-field check sees.
    autoscaled = observed(True, manifest)
    plan = plan_for(model=ready_model(), template=_template(), isvc=autoscaled)
    assert applied(plan) == [BASE]
    assert plan.status.runtime == r.ServiceRuntimeStatus(
        min_replicas=1, max_replicas=1, current_replicas=1, desired_replicas=1, replicas="1"
    )


def test_what_others_add_to_the_inference_service_causes_no_write() -> None:
    defaulted = observed(True)
    defaulted["metadata"]["labels"]["team"] = "theirs"
    defaulted["spec"]["predictor"]["containers"][0]["readinessProbe"] = {"httpGet": {"port": 8000}}
    defaulted["spec"]["predictor"]["deploymentStrategy"] = {"type": "RollingUpdate"}
    assert not needs_apply(BASE, defaulted, REMOVABLE)
    plan = plan_for(model=ready_model(), template=_template(), isvc=defaulted)
    assert applied(plan) == []


def test_the_image_follows_the_templates_deployment_image() -> None:
    template = _template(annotations={"aim.eai.amd.com/deployment-image-ref": "registry.example/ft:1"})
    plan = plan_for(model=ready_model(), template=template, isvc=observed(True))
    [manifest] = applied(plan)
    assert manifest["spec"]["predictor"]["containers"][0]["image"] == "registry.example/ft:1"
    assert plan.status.resolved_image == "registry.example/ft:1"


# --- routing ------------------------------------------------------------------------------


GATEWAY = r.GatewayReference(name="inference-gateway", namespace="gateway-system")


def test_routing_plans_a_route_and_reports_its_path() -> None:
    service = _service(routing=r.RoutingConfig(enabled=True, gateway_ref=GATEWAY))
    plan = plan_for(service, model=ready_model(), template=_template(), isvc=observed(True))
    routes = [m for m in applied(plan) if m["kind"] == "HTTPRoute"]
    assert [m["metadata"]["name"] for m in routes] == ["qwen-chat-a04542d9"]
    assert routes[0]["spec"]["rules"][0]["backendRefs"] == [
        {"kind": "Service", "name": f"{ISVC}-predictor", "namespace": NS, "port": 80}
    ]
    assert plan.status.routing == r.ServiceRoutingStatus(path=f"/{NS}/svc-uid")
    assert conditions(plan)["HTTPRouteReady"] == ("False", "HTTPRouteCreating")
    assert plan.status.status is S.STARTING


def test_routing_without_a_gateway_fails_and_names_the_fields() -> None:
    service = _service(routing=r.RoutingConfig(enabled=True))
    plan = plan_for(service, model=ready_model(), template=_template(), isvc=observed(True))
    assert conditions(plan)["HTTPRouteReady"] == ("False", "GatewayNotConfigured")
    assert plan.status.status is S.FAILED
    assert [m["kind"] for m in applied(plan)] == []


def test_no_routing_no_route_condition() -> None:
    plan = plan_for(model=ready_model(), template=_template(), isvc=observed(True))
    assert "HTTPRouteReady" not in conditions(plan)
    assert plan.status.routing is None


# --- a deployed template is kept ----------------------------------------------------------


def _second_template() -> r.AIMServiceTemplate:
    """Another Ready template of the model, for fp8."""
    template = _template(precision=r.Precision.FP8)
    assert template.status is not None and template.status.profile is not None
    metadata = attrs.evolve(template.status.profile.metadata, precision="fp8")
    return attrs.evolve(
        template,
        metadata=attrs.evolve(template.metadata, name="qwen3-32b-mi300x-lat-fp8", uid="uid-fp8"),
        status=attrs.evolve(
            template.status, profile=attrs.evolve(template.status.profile, metadata=metadata)
        ),
    )


def _deployed(first: r.AIMServiceTemplate, *others: r.AIMServiceTemplate) -> tuple[r.AIMService, Plan]:
    """The service once its InferenceService runs `first` (the only template then), and the plan of
    the next pass with `others` beside it."""
    service = attrs.evolve(_service(), metadata=attrs.evolve(_service().metadata, generation=1))
    ran = plan_for(service, model=ready_model(), template=first, isvc=observed(True))
    [built] = applied(plan_for(service, model=ready_model(), template=first))
    running = attrs.evolve(service, status=ran.status)
    plan = plan_for(running, model=ready_model(), template=first, isvc=observed(True, built), extra=others)
    return running, plan


def test_a_better_template_becoming_ready_is_deployed() -> None:
    """Auto-selection converges on the best Ready template, as simulate does, whatever became Ready
    first: a Ready template is never kept against a better one."""
    fp16, fp8 = _template(), _second_template()
    fresh = plan_for(model=ready_model(), template=fp16, extra=(fp8,))
    assert fresh.status.resolved_template is not None
    winner = fresh.status.resolved_template.name
    loser = fp16 if winner != fp16.metadata.name else fp8
    _, plan = _deployed(with_uid(loser), with_uid(fp16 if loser is fp8 else fp8))
    assert plan.status.resolved_template is not None and plan.status.resolved_template.name == winner
    [manifest] = applied(plan)
    assert manifest["metadata"]["labels"]["aim.eai.amd.com/template"] == winner


def with_uid(template: r.AIMServiceTemplate) -> r.AIMServiceTemplate:
    uid = f"uid-{template.metadata.name}"
    return attrs.evolve(template, metadata=attrs.evolve(template.metadata, uid=uid))


@pytest.mark.parametrize("state", [r.TemplateStatus.PROGRESSING, r.TemplateStatus.PENDING])
def test_a_deployed_template_being_rediscovered_is_waited_for(state: r.TemplateStatus) -> None:
    first, other = with_uid(_template()), with_uid(_second_template())
    running, _ = _deployed(first)
    assert first.status is not None
    again = attrs.evolve(first, status=attrs.evolve(first.status, status=state))
    [built] = applied(plan_for(running, model=ready_model(), template=first))
    plan = plan_for(running, model=ready_model(), template=again, isvc=observed(True, built), extra=(other,))
    assert applied(plan) == []
    assert conditions(plan)["TemplateReady"] == ("False", "TemplateNotReady")
    assert message(plan, "TemplateReady") == (
        f"template {first.metadata.name}, which the InferenceService runs, is {state.value}"
    )
    assert conditions(plan)["InferenceServiceReady"] == ("True", "RuntimeReady")
    assert plan.status.status is S.PENDING


def test_a_deployed_template_that_is_no_longer_available_is_replaced() -> None:
    first, other = with_uid(_template()), with_uid(_second_template())
    running, _ = _deployed(first)
    assert first.status is not None
    gone = attrs.evolve(first, status=attrs.evolve(first.status, status=r.TemplateStatus.NOT_AVAILABLE))
    [built] = applied(plan_for(running, model=ready_model(), template=first))
    plan = plan_for(running, model=ready_model(), template=gone, isvc=observed(True, built), extra=(other,))
    [manifest] = applied(plan)
    assert manifest["metadata"]["labels"]["aim.eai.amd.com/template"] == other.metadata.name
    resolved = plan.status.resolved_template
    assert resolved is not None and resolved.name == other.metadata.name


def test_a_changed_spec_selects_again() -> None:
    first, other = with_uid(_template()), with_uid(_second_template())
    running, _ = _deployed(first)
    changed = attrs.evolve(
        running,
        metadata=attrs.evolve(running.metadata, generation=2),
        spec=attrs.evolve(running.spec, overrides=r.ServiceOverrides(precision=r.Precision.FP8)),
    )
    [built] = applied(plan_for(running, model=ready_model(), template=first))
    plan = plan_for(changed, model=ready_model(), template=first, isvc=observed(True, built), extra=(other,))
    resolved = plan.status.resolved_template
    assert resolved is not None and resolved.name == other.metadata.name
