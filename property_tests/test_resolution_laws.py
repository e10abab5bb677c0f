"""Resolution laws: namespace before cluster (D16), resource precedence (D15), and template
selection never falling back to unoptimized templates on its own (D17)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.images import extract_tag
from aimcore.reconcile import reconcile
from aimcore.resolution import DEFAULT_GPU_RESOURCE, lookup_model, resolve_resources
from aimcore.selection import How, auto_select, profile_type, select_template
from aimcore.snapshot import ObjectKey, Snapshot
from property_tests.strategies import (
    NAMESPACES,
    NOW,
    OPERATOR_NAMESPACE,
    aim_cluster_models,
    aim_models,
    aim_services,
    cluster_service_templates,
    dns_labels,
    resource_requirements,
    service_templates,
)

# ------------------------------------------------------------------------------ D16


@st.composite
def _lookup_world(draw: st.DrawFn) -> tuple[str, str, list[r.Resource]]:
    """A name, the asking namespace, and any of: that namespace's model, another's, the cluster's."""
    name = draw(dns_labels(12))
    namespace, other = draw(st.permutations(NAMESPACES))[:2]
    objects: list[r.Resource] = []
    candidates: list[st.SearchStrategy[r.Model]] = [
        aim_models(namespace=namespace),
        aim_models(namespace=other),
        aim_cluster_models(),
    ]
    for strategy in candidates:
        if draw(st.booleans()):
            obj: r.Model = draw(strategy)
            objects.append(attrs.evolve(obj, metadata=attrs.evolve(obj.metadata, name=name)))
    return name, namespace, objects


def _expected(name: str, namespace: str, objects: list[r.Resource]) -> ObjectKey | None:
    keys = {ObjectKey.of(o) for o in objects}
    for key in (ObjectKey("AIMModel", namespace, name), ObjectKey("AIMClusterModel", "", name)):
        if key in keys:
            return key
    return None


@given(_lookup_world())
def test_namespace_models_shadow_cluster_models(world: tuple[str, str, list[r.Resource]]) -> None:
    """D16: the namespace's model, else the cluster's; another namespace's model never."""
    name, namespace, objects = world
    found = lookup_model(namespace, name, Snapshot.build(objects))
    assert (ObjectKey.of(found) if found else None) == _expected(name, namespace, objects)


@given(_lookup_world(), st.data())
def test_services_resolve_models_namespace_first(
    world: tuple[str, str, list[r.Resource]], data: st.DataObject
) -> None:
    """D16 through a whole service reconcile: status.resolvedModel is the model lookup_model names."""
    name, namespace, objects = world
    service = data.draw(aim_services(namespace=namespace))
    service = attrs.evolve(service, spec=attrs.evolve(service.spec, model=r.ServiceModel(name=name)))
    plan = reconcile(ObjectKey.of(service), Snapshot.build([*objects, service]))
    resolved = plan.status.resolved_model
    expected = _expected(name, namespace, objects)
    got = ObjectKey(resolved.kind, resolved.namespace or "", resolved.name) if resolved else None
    assert got == expected


# ------------------------------------------------------------------------------ D15


def _layer(requirements: r.ResourceRequirements | None, field: str) -> Mapping[str, r.Quantity]:
    return (getattr(requirements, field) or {}) if requirements is not None else {}


@given(
    resource_requirements(),
    st.one_of(service_templates(with_status=True), cluster_service_templates(with_status=True)),
    st.data(),
)
def test_resources_take_service_over_template_over_model(
    service: r.ResourceRequirements | None, template: r.Template, data: st.DataObject
) -> None:
    """D15: per key, the service's value, else the template's, else the model's; the GPU is one key
    for both sides (the highest layer naming it, its limit first), else the template's discovered
    gpu_count; nothing set gives None."""
    model = data.draw(aim_models())
    layers = [service, template.spec.resources, model.spec.resources]
    got = resolve_resources(service, template, model)
    metadata = template.status.profile.metadata if template.status and template.status.profile else None
    count = metadata.gpu_count if metadata else None
    gpu = template.spec.hardware.gpu if template.spec.hardware else None
    gpu_name = (gpu.resource_name if gpu else None) or DEFAULT_GPU_RESOURCE
    sides = [_layer(layer, field) for layer in layers for field in ("limits", "requests")]
    gpus = next((side[gpu_name] for side in sides if gpu_name in side), None)
    if gpus is None and count:
        gpus = count
    for field in ("requests", "limits"):
        expected: dict[str, r.Quantity] = {}
        for layer in layers:
            for key, value in _layer(layer, field).items():
                expected.setdefault(key, value)
        if gpus is not None:
            expected[gpu_name] = gpus
        assert dict(_layer(got, field)) == expected
        for key, value in _layer(service, field).items():
            assert _layer(got, field)[key] == (value if key != gpu_name else gpus)
    nothing = all(not _layer(x, f) for x in layers for f in ("requests", "limits")) and not count
    assert (got is None) == nothing


# ------------------------------------------------------------------------------ D17


@st.composite
def _selection_world(draw: st.DrawFn) -> tuple[r.AIMService, r.Model, list[r.Resource]]:
    """A service, its model and templates of both scopes in every state and profile type."""
    namespace = draw(st.sampled_from(NAMESPACES))
    model = draw(aim_models(namespace=namespace) | aim_cluster_models())
    name = model.metadata.name or ""
    templates: list[r.Resource] = [
        *draw(
            st.lists(service_templates(namespace=namespace, model_name=name, with_status=True), max_size=4)
        ),
        *draw(st.lists(cluster_service_templates(model_name=name, with_status=True), max_size=3)),
    ]
    names = [t.metadata.name or "" for t in templates] or ["none"]
    default = draw(st.none() | st.sampled_from(names))
    model = attrs.evolve(model, spec=attrs.evolve(model.spec, default_service_template=default))
    service = draw(aim_services(namespace=namespace, template_names=names))
    service = attrs.evolve(service, spec=attrs.evolve(service.spec, model=r.ServiceModel(name=name)))
    return service, model, templates


@given(_selection_world())
def test_selection_never_picks_unoptimized_unless_allowed_or_named(
    world: tuple[r.AIMService, r.Model, list[r.Resource]],
) -> None:
    """D17: a non-optimized template is chosen only with allowUnoptimized, or when named
    (spec.template.name, or the model's defaultServiceTemplate)."""
    service, model, templates = world
    snapshot = Snapshot.build([model, service, *templates])
    selector = service.spec.template
    selection = select_template(selector, service.spec.overrides, model, service.metadata.namespace, snapshot)
    chosen = selection.template
    if chosen is not None and profile_type(chosen) != "optimized":
        allowed = bool(selector and selector.allow_unoptimized)
        explicit = (selector.name or "").strip() if selector else ""
        named_by_service = selection.how is How.EXPLICIT and chosen.metadata.name == explicit
        named_by_model = (
            selection.how is How.DEFAULT and chosen.metadata.name == model.spec.default_service_template
        )
        assert allowed or named_by_service or named_by_model, (
            f"{chosen.metadata.name} ({profile_type(chosen)}) chosen by {selection.how}"
        )


@given(_selection_world())
def test_auto_selection_without_allow_unoptimized_picks_only_optimized(
    world: tuple[r.AIMService, r.Model, list[r.Resource]],
) -> None:
    """Auto-selection alone: neither the winner nor any tied template is anything but optimized."""
    service, _, templates = world
    candidates = [t for t in templates if isinstance(t, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)]
    selection = auto_select(candidates, allow_unoptimized=False, overrides=service.spec.overrides)
    picked = [selection.template] if selection.template else []
    types = [profile_type(t) for t in (*picked, *selection.tied)]
    assert types == ["optimized"] * len(types)


@given(_selection_world())
def test_a_service_resolves_only_templates_it_may_use(
    world: tuple[r.AIMService, r.Model, list[r.Resource]],
) -> None:
    """The same law through reconcile: status.resolvedTemplate is optimized, allowed or named."""
    service, model, templates = world
    snapshot = Snapshot.build([model, service, *templates])
    plan = reconcile(ObjectKey.of(service), snapshot)
    resolved = plan.status.resolved_template
    if resolved is None:
        return
    kind = (
        r.AIMClusterServiceTemplate if resolved.kind == "AIMClusterServiceTemplate" else r.AIMServiceTemplate
    )
    chosen = snapshot.get(kind, resolved.namespace, resolved.name)
    assert isinstance(chosen, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
    selector = service.spec.template
    named = {(selector.name or "").strip() if selector else "", model.spec.default_service_template or ""}
    allowed = bool(selector and selector.allow_unoptimized)
    assert profile_type(chosen) == "optimized" or allowed or chosen.metadata.name in named


_CLUSTER_ONLY = (
    "m",
    "ml-team",
    [
        r.AIMClusterModel(
            api_version=r.V1ALPHA1,
            kind="AIMClusterModel",
            metadata=r.ObjectMeta(name="m", uid="uid-m"),
            spec=r.AIMModelSpec(image="x/y:0.9.1"),
        )
    ],
)


@given(_lookup_world())
@example(_CLUSTER_ONLY)  # found by this law: only a cluster model has the name
def test_simulated_namespace_templates_take_the_version_of_the_d16_model(
    world: tuple[str, str, list[r.Resource]],
) -> None:
    """D16 for namespace templates: the template reconciler records the tag of the model that
    lookup_model resolves (namespace first, then cluster) as status.version."""
    name, namespace, objects = world
    template = r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name="t", namespace=namespace),
        spec=r.AIMServiceTemplateSpec(model_name=name),
    )
    snapshot = Snapshot.build([*objects, template], now=NOW, operator_namespace=OPERATOR_NAMESPACE)
    plan = reconcile(ObjectKey.of(template), snapshot)
    owner = lookup_model(namespace, name, Snapshot.build(objects))
    expected = (extract_tag(owner.spec.image or "") or None) if owner is not None else None
    assert isinstance(plan.status, r.AIMServiceTemplateStatus)
    assert plan.status.version == expected
