"""HTTPRoute laws (reference-service §1.4, §5): the route's name is a DNS label for any service,
a rendered path is always one the Gateway API and the reference accept (or a PathTemplateError),
Go durations print in a form they parse back to, and every function is deterministic."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aimcore import naming
from aimcore import resources as r
from aimcore.httproute import (
    MAX_PATH_LENGTH,
    PathTemplateError,
    go_duration,
    http_route,
    plan_route,
    route_health,
    route_name,
    route_path,
)
from property_tests.strategies import aim_services, dns_labels

TEXT = st.text(max_size=80)
LABEL_KEYS = ("team", "aim.silogen.ai/workload-id", "app.example.com/tier")
#: Values a user could write: anything printable, including '/', '.', capitals and non-ASCII.
VALUES = st.text(max_size=90)
EXPRESSIONS = st.sampled_from(
    [
        "{.metadata.name}",
        "{.metadata.namespace}",
        "{.metadata.uid}",
        "{$.spec.model.name}",
        "{.spec.replicas}",
        "{.spec.imagePullSecrets[0].name}",
        "{.metadata}",
        "{.metadata.name",
        "{..name}",
        "{.metadata.labels[*]}",
        "{}",
        *(f"{{.metadata.labels['{key}']}}" for key in LABEL_KEYS),
        *(f'{{.metadata.annotations["{key}"]}}' for key in LABEL_KEYS),
    ]
)
#: Templates mixing literal text (slashes, braces, capitals, anything) with expressions.
TEMPLATES = st.lists(st.one_of(EXPRESSIONS, TEXT, st.just("/")), max_size=8).map("".join)
MAPS = st.none() | st.dictionaries(st.sampled_from(LABEL_KEYS), VALUES, max_size=3)


@st.composite
def services(draw: st.DrawFn) -> r.AIMService:
    """A generated service with arbitrary labels and annotations (the template's inputs)."""
    service = draw(aim_services())
    metadata = attrs.evolve(service.metadata, labels=draw(MAPS), annotations=draw(MAPS))
    return attrs.evolve(service, metadata=metadata)


@given(TEXT, TEXT)
def test_route_name_is_a_dns_label(service: str, namespace: str) -> None:
    name = route_name(service, namespace)
    assert naming.is_valid_label(name)
    assert name == route_name(service, namespace)


@given(dns_labels(63), dns_labels(63))
def test_route_names_keep_the_hash_of_the_namespace(service: str, namespace: str) -> None:
    """Distinct namespaces never share a route name for the same service (the hash is the namespace's)."""
    other = namespace + "x" if len(namespace) < 63 else namespace[:-1]
    assert route_name(service, namespace) != route_name(service, other)


def _outcome(service: r.AIMService, template: str | None) -> str | PathTemplateError:
    try:
        return route_path(service, template)
    except PathTemplateError as err:
        return err


@given(services(), st.none() | TEMPLATES)
def test_a_path_is_valid_or_an_error(service: r.AIMService, template: str | None) -> None:
    """'/'-prefixed, at most 200 characters, every segment an RFC 1123 label; or PathTemplateError."""
    outcome = _outcome(service, template)
    again = _outcome(service, template)
    if isinstance(outcome, PathTemplateError):
        assert template  # the default path never fails
        assert isinstance(again, PathTemplateError)
        assert str(again) == str(outcome)
        assert f'path template "{template}"' in str(outcome)
        return
    assert again == outcome
    assert outcome.startswith("/")
    assert len(outcome) <= MAX_PATH_LENGTH
    assert all(naming.is_valid_label(segment) for segment in outcome[1:].split("/"))


@given(services())
def test_the_default_path_is_namespace_and_uid(service: r.AIMService) -> None:
    assert route_path(service, None) == f"/{service.metadata.namespace}/{service.metadata.uid}"


@given(services(), st.sampled_from(LABEL_KEYS), VALUES)
def test_a_label_value_is_one_segment(service: r.AIMService, key: str, value: str) -> None:
    """Only annotations may add segments: a label value with '/' stays one segment (or none)."""
    metadata = attrs.evolve(service.metadata, labels={key: value})
    labelled = attrs.evolve(service, metadata=metadata)
    path = route_path(labelled, f"/fixed/{{.metadata.labels['{key}']}}")
    assert path.startswith("/fixed")
    assert path.count("/") <= 2


@given(st.integers(-(2**63), 2**63 - 1))
def test_go_durations_print_in_a_form_they_parse_back_to(nanoseconds: int) -> None:
    printed = go_duration(f"{nanoseconds}ns")
    assert go_duration(printed) == printed


@given(st.integers(0, 10**6), st.integers(0, 59), st.integers(0, 59))
def test_whole_durations_print_as_hours_minutes_seconds(hours: int, minutes: int, seconds: int) -> None:
    total = (hours * 60 + minutes) * 60 + seconds
    expected = (
        f"{hours}h{minutes}m{seconds}s" if hours else f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
    )
    assert go_duration(f"{total}s") == expected
    assert go_duration(f"{hours}h{minutes}m{seconds}s") == expected


GATEWAYS = st.none() | st.builds(
    r.GatewayReference, name=dns_labels(20), namespace=st.none() | dns_labels(20)
)
ROUTINGS = st.none() | st.builds(
    r.RoutingConfig,
    enabled=st.none() | st.booleans(),
    gateway_ref=GATEWAYS,
    path_template=st.none() | TEMPLATES,
    request_timeout=st.none() | st.sampled_from(["30s", "180s", "1.5s", "2m", "1h30m"]),
    annotations=st.none() | st.dictionaries(st.sampled_from(["a.example.com/x", "b"]), VALUES, max_size=2),
)


@given(services(), ROUTINGS, ROUTINGS, dns_labels(30))
def test_a_plan_is_nothing_a_route_or_a_problem(
    service: r.AIMService, own: r.RoutingConfig | None, shared: r.RoutingConfig | None, isvc: str
) -> None:
    """With routing enabled exactly one of manifest and problem is set; the manifest is the route
    at the planned path, named by route_name, pointing at the predictor; planning is deterministic."""
    service = attrs.evolve(service, spec=attrs.evolve(service.spec, routing=own))
    runtime = r.AIMRuntimeConfigSpec(routing=shared)
    plan = plan_route(service, runtime, isvc)
    assert plan == plan_route(service, runtime, isvc)
    if plan.routing is None:
        assert (plan.manifest, plan.path, plan.problem) == (None, None, None)
        assert route_health(None, None, None) is None
        return
    assert (plan.manifest is None) == (plan.problem is not None)
    assert (plan.path is None) == (plan.manifest is None)
    if plan.problem is not None:
        assert plan.problem.state is r.Status.FAILED
        return
    assert plan.manifest is not None and plan.path is not None
    assert plan.manifest == http_route(service, runtime, plan.routing, plan.path, isvc)
    metadata = plan.manifest["metadata"]
    assert metadata["name"] == route_name(service.metadata.name or "", service.metadata.namespace or "")
    (rule,) = plan.manifest["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": plan.path}}]
    assert rule["backendRefs"][0]["name"] == f"{isvc}-predictor"
    assert list(metadata["labels"]) == sorted(metadata["labels"])
    health = route_health(plan.routing, None, None)
    assert health is not None and health.reason == "HTTPRouteCreating"
