"""The HTTPRoute of an AIMService (reference-service §1.4, §1.5, §3.1, §5): effective routing, the
name vectors, the path template renderer, Go durations, whole manifests and the route's health."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aimcore import httproute as hr
from aimcore import resources as r
from aimcore.httproute import PathTemplateError, RoutePlan, Routing
from aimcore.status import Component

NS = "ml-team"
UID = "0b9c1f3e-1111-2222-3333-444455556666"
ISVC = "qwen-chat-faa5534a"
ROUTE = "qwen-chat-a04542d9"
READY, PROGRESSING, FAILED = r.Status.READY, r.Status.PROGRESSING, r.Status.FAILED
GATEWAY = r.GatewayReference(name="inference-gateway", namespace="gateways")
VALID = (
    "use .metadata.name, .metadata.namespace, .metadata.uid, .metadata.labels['key'], "
    ".metadata.annotations['key'] or a field path such as .spec.model.name"
)


def _service(
    name: str = "qwen-chat",
    *,
    namespace: str = NS,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    routing: r.RoutingConfig | None = None,
    **spec: Any,
) -> r.AIMService:
    return r.AIMService(
        api_version=r.V1ALPHA1,
        kind="AIMService",
        metadata=r.ObjectMeta(
            name=name, namespace=namespace, uid=UID, labels=labels, annotations=annotations
        ),
        spec=r.AIMServiceSpec(model=r.ServiceModel(name="qwen3-32b"), routing=routing, **spec),
    )


def _runtime(routing: r.RoutingConfig | None = None, **spec: Any) -> r.AIMRuntimeConfigSpec:
    return r.AIMRuntimeConfigSpec(routing=routing, **spec)


def _routing(
    gateway: r.GatewayReference | None = GATEWAY,
    path_template: str | None = None,
    request_timeout: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Routing:
    return Routing(gateway, path_template, request_timeout, annotations or {})


OWNER = {
    "apiVersion": "aim.eai.amd.com/v1alpha1",
    "kind": "AIMService",
    "name": "qwen-chat",
    "uid": UID,
    "controller": True,
}
LABELS = {
    "aim.eai.amd.com/service": "qwen-chat",
    "aim.eai.amd.com/service.name": "qwen-chat",
    "app.kubernetes.io/component": "routing",
    "app.kubernetes.io/managed-by": "aim-engine",
}
FILTERS = [
    {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
]
BACKENDS = [{"kind": "Service", "name": f"{ISVC}-predictor", "namespace": NS, "port": 80}]


def _manifest(
    *,
    path: str = f"/{NS}/{UID}",
    parent: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    timeout: str | None = None,
) -> dict[str, Any]:
    """The expected HTTPRoute, keys in Go's order."""
    metadata: dict[str, Any] = {"name": ROUTE, "namespace": NS, "labels": labels or LABELS}
    if annotations:
        metadata["annotations"] = annotations
    metadata["ownerReferences"] = [OWNER]
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "filters": FILTERS,
        "backendRefs": BACKENDS,
    }
    if timeout is not None:
        rule["timeouts"] = {"request": timeout}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata,
        "spec": {
            # An unset group and kind are written as the CRD would default them.
            "parentRefs": [parent or {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                      "namespace": "gateways", "name": "inference-gateway"}],
            "rules": [rule],
        },
    }


def _same(actual: Any, expected: Any) -> None:
    """Equal, and with keys in the same order (what a Go client would send)."""
    assert actual == expected
    assert json.dumps(actual) == json.dumps(expected)


# --- effective routing -----------------------------------------------------------------------


SHARED = r.RoutingConfig(
    enabled=True,
    gateway_ref=r.GatewayReference(name="shared-gateway"),
    path_template="/shared/{.metadata.name}",
    request_timeout="60s",
    annotations={"a.example.com/x": "runtime", "a.example.com/y": "runtime"},
)


@pytest.mark.parametrize(
    ("own", "shared", "expected"),
    [
        pytest.param(None, None, None, id="nowhere"),
        pytest.param(r.RoutingConfig(gateway_ref=GATEWAY), None, None, id="gateway-but-not-enabled"),
        pytest.param(r.RoutingConfig(enabled=False), SHARED, None, id="service-switches-off"),
        pytest.param(
            r.RoutingConfig(enabled=True, gateway_ref=GATEWAY),
            r.RoutingConfig(enabled=False),
            Routing(GATEWAY, None, None, {}),
            id="service-switches-on",
        ),
        pytest.param(
            None,
            SHARED,
            Routing(
                r.GatewayReference(name="shared-gateway"),
                "/shared/{.metadata.name}",
                "60s",
                {"a.example.com/x": "runtime", "a.example.com/y": "runtime"},
            ),
            id="all-from-runtime-config",
        ),
        pytest.param(
            r.RoutingConfig(
                gateway_ref=GATEWAY,
                path_template="",
                request_timeout="2m",
                annotations={"a.example.com/y": "service", "a.example.com/z": "service"},
            ),
            SHARED,
            Routing(
                GATEWAY,
                "/shared/{.metadata.name}",
                "2m",
                {"a.example.com/x": "runtime", "a.example.com/y": "service", "a.example.com/z": "service"},
            ),
            id="field-by-field-service-wins-empty-is-unset",
        ),
    ],
)
def test_effective_routing(
    own: r.RoutingConfig | None, shared: r.RoutingConfig | None, expected: Routing | None
) -> None:
    runtime = _runtime(shared) if shared is not None else None
    assert hr.effective_routing(_service(routing=own), runtime) == expected


def test_effective_routing_without_runtime_config() -> None:
    own = r.RoutingConfig(enabled=True, path_template="/x")
    assert hr.effective_routing(_service(routing=own), None) == Routing(None, "/x", None, {})


# --- the name (§1.4) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "namespace", "expected"),
    [
        ("qwen-chat", "ml-team", "qwen-chat-a04542d9"),
        ("test-service", "default", "test-service-1080a608"),
        ("my-service", "my-namespace", "my-service-783d2dc1"),
        (
            "very-long-service-name-that-might-exceed-kubernetes-limits",
            "default",
            "very-long-service-name-that-might-exceed-kubernetes-li-1080a608",
        ),
        ("svc", "a" * 42, "svc-49b568b6"),
        ("svc", "a" * 43, "svc-ff2f4f2c"),
    ],
)
def test_route_name_vectors(service: str, namespace: str, expected: str) -> None:
    assert hr.route_name(service, namespace) == expected


# --- the path (§5) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "labels", "annotations", "expected"),
    [
        pytest.param(None, None, None, f"/{NS}/{UID}", id="default"),
        pytest.param("", None, None, f"/{NS}/{UID}", id="empty-is-default"),
        pytest.param(
            "/{.metadata.namespace}/{.metadata.labels['aim.silogen.ai/workload-id']}/",
            {"aim.silogen.ai/workload-id": "workload-42"},
            None,
            "/ml-team/workload-42",
            id="reference-label-vector",
        ),
        pytest.param(
            "/{.metadata.annotations['team']}",
            None,
            {"team": "Team-A/B"},
            "/team-a/b",
            id="annotation-splits",
        ),
        pytest.param(
            "/{.metadata.labels['team']}", {"team": "Team-A/B"}, None, "/team-a-b", id="label-does-not"
        ),
        pytest.param(
            '/{.metadata.labels["aim.silogen.ai/workload-id"]}',
            {"aim.silogen.ai/workload-id": "w"},
            None,
            "/w",
            id="double-quoted-key",
        ),
        pytest.param(
            r"/{.metadata.labels.aim\.silogen\.ai/workload-id}",
            {"aim.silogen.ai/workload-id": "w"},
            None,
            "/w",
            id="escaped-dots",
        ),
        pytest.param("/{$.metadata.name}/v1", None, None, "/qwen-chat/v1", id="root-dollar"),
        pytest.param("{ .metadata.name }", None, None, "/qwen-chat", id="no-leading-slash-and-spaces"),
        pytest.param(
            "/Models//{.spec.model.name}///", None, None, "/models/qwen3-32b", id="literal-normalised"
        ),
        pytest.param("/r{.spec.replicas}", None, None, "/r3", id="number"),
        pytest.param("/{.spec.imagePullSecrets[1].name}", None, None, "/second", id="list-index"),
        pytest.param("/a.b_c}/{.metadata.uid}", None, None, f"/a-b-c/{UID}", id="lone-brace-is-text"),
        pytest.param("/_x_/{.metadata.labels['v']}", {"v": "--Ünïcode--"}, None, "/x/n-code", id="non-ascii"),
    ],
)
def test_route_path(
    template: str | None, labels: dict[str, str] | None, annotations: dict[str, str] | None, expected: str
) -> None:
    secrets = (r.LocalObjectReference(name="first"), r.LocalObjectReference(name="Second"))
    service = _service(labels=labels, annotations=annotations, replicas=3, image_pull_secrets=secrets)
    assert hr.route_path(service, template) == expected


LONG = "/" + "/".join(["s" * 60] * 4)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param(
            "/{.metadata.labels['aim.silogen.ai/workload-id']}",
            "path template \"/{.metadata.labels['aim.silogen.ai/workload-id']}\": "
            "{.metadata.labels['aim.silogen.ai/workload-id']} names the label "
            '"aim.silogen.ai/workload-id", which the service does not have: add the label to the service or '
            "change the template",
            id="missing-label",
        ),
        pytest.param(
            "/{.metadata.annotations['team']}",
            "path template \"/{.metadata.annotations['team']}\": {.metadata.annotations['team']} names the "
            'annotation "team", which the service does not have: add the annotation to the service or change '
            "the template",
            id="missing-annotation",
        ),
        pytest.param(
            "/{.spec.routing.pathTemplate}",
            'path template "/{.spec.routing.pathTemplate}": {.spec.routing.pathTemplate} names no field the '
            f"service has; {VALID}",
            id="missing-field",
        ),
        pytest.param(
            "/{.spec.imagePullSecrets[0].name}",
            'path template "/{.spec.imagePullSecrets[0].name}": {.spec.imagePullSecrets[0].name} names no '
            f"field the service has; {VALID}",
            id="index-out-of-range",
        ),
        pytest.param(
            "/{.metadata}",
            'path template "/{.metadata}": {.metadata} selects an object or a list, not one value; ' + VALID,
            id="object",
        ),
        pytest.param(
            LONG,
            f'path template "{LONG}" renders to a path of 244 characters; a route path may have at most 200: '
            "shorten the template",
            id="over-200",
        ),
        pytest.param(
            "/{.metadata.labels['v']}/",
            "path template \"/{.metadata.labels['v']}/\" renders to an empty path: it needs at least one "
            "segment with a letter or digit",
            id="empty",
        ),
        pytest.param(
            "/{.metadata.name",
            "path template \"/{.metadata.name\": invalid JSONPath {.metadata.name: the '{' is never closed; "
            + VALID,
            id="unclosed",
        ),
        pytest.param(
            "/{metadata.name}",
            "path template \"/{metadata.name}\": invalid JSONPath {metadata.name}: it must start with '.'; "
            + VALID,
            id="no-leading-dot",
        ),
        pytest.param(
            "/{..name}",
            "path template \"/{..name}\": invalid JSONPath {..name}: a '.' without a field name after it; "
            + VALID,
            id="recursive-descent",
        ),
        pytest.param(
            "/{.metadata.labels[*]}",
            "path template \"/{.metadata.labels[*]}\": invalid JSONPath {.metadata.labels[*]}: only ['key'] "
            f"and [n] subscripts are supported; {VALID}",
            id="wildcard",
        ),
        pytest.param(
            "/{.spec.env[?(@.name=='X')].value}",
            "path template \"/{.spec.env[?(@.name=='X')].value}\": invalid JSONPath "
            "{.spec.env[?(@.name=='X')].value}: only ['key'] and [n] subscripts are supported; " + VALID,
            id="filter",
        ),
        pytest.param(
            "/{.metadata.name}{}",
            f'path template "/{{.metadata.name}}{{}}": invalid JSONPath {{}}: it names no field; {VALID}',
            id="empty-expression",
        ),
        pytest.param(
            "/{.metadata.name | upper}",
            'path template "/{.metadata.name | upper}": invalid JSONPath {.metadata.name | upper}: '
            f"unexpected ' | upper'; {VALID}",
            id="trailing-junk",
        ),
    ],
)
def test_route_path_errors(template: str, message: str) -> None:
    service = _service(labels={"v": "___"})
    with pytest.raises(PathTemplateError) as raised:
        hr.route_path(service, template)
    assert str(raised.value) == message


def test_route_path_length_limit_is_inclusive() -> None:
    segments = ["a" * 63, "b" * 63, "c" * 63, "d" * 7]
    assert len("/" + "/".join(segments)) == 200
    assert hr.route_path(_service(), "/" + "/".join(segments)) == "/" + "/".join(segments)
    with pytest.raises(PathTemplateError, match="201 characters"):
        hr.route_path(_service(), "/" + "/".join([*segments[:3], "d" * 8]))


def test_segments_are_cut_to_one_label() -> None:
    assert (
        hr.route_path(_service(labels={"v": "x" * 70 + "-y"}), "/{.metadata.labels['v']}") == "/" + "x" * 63
    )


# --- Go durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("180s", "3m0s"),
        ("1m30s", "1m30s"),
        ("90s", "1m30s"),
        ("1.5h", "1h30m0s"),
        ("300ms", "300ms"),
        ("1500ms", "1.5s"),
        ("2h", "2h0m0s"),
        ("0", "0s"),
        ("0s", "0s"),
        ("-0", "0s"),
        ("+5s", "5s"),
        ("-2h45m", "-2h45m0s"),
        ("1ns", "1ns"),
        ("1.5us", "1.5\u00b5s"),
        ("2\u00b5s", "2\u00b5s"),
        ("2\u03bcs", "2\u00b5s"),
        (".5s", "500ms"),
        ("5.s", "5s"),
        ("1h0.000000001s", "1h0m0.000000001s"),
        ("0.1ns", "0s"),
        ("100000h", "100000h0m0s"),
        ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
        ("-2562047h47m16.854775808s", "-2562047h47m16.854775808s"),
    ],
)
def test_go_duration(text: str, expected: str) -> None:
    assert hr.go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("1", 'time: missing unit in duration "1"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1 s", 'time: unknown unit " s" in duration "1 s"'),
        (".s", 'time: invalid duration ".s"'),
        ("s", 'time: invalid duration "s"'),
        ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
    ],
)
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        hr.go_duration(text)
    assert str(raised.value) == message


# --- whole manifests -------------------------------------------------------------------------------


def test_gateway_ref_in_the_service_spec() -> None:
    routing = r.RoutingConfig(enabled=True, gateway_ref=GATEWAY)
    plan = hr.plan_route(_service(routing=routing), None, ISVC)
    assert plan == RoutePlan(Routing(GATEWAY, None, None, {}), _manifest(), f"/{NS}/{UID}", None)
    assert plan.manifest is not None
    _same(plan.manifest, _manifest())


def test_gateway_ref_and_annotations_from_the_runtime_config() -> None:
    """N: the runtime config's annotations, then the service's over them; keys sorted."""
    shared = r.RoutingConfig(
        enabled=True,
        gateway_ref=r.GatewayReference(
            group="gateway.networking.k8s.io",
            kind="Gateway",
            name="shared",
            namespace="gateways",
            section_name="https",
            port=443,
        ),
        path_template="/{.metadata.namespace}/{.metadata.name}",
        annotations={"z.example.com/owner": "platform", "cert-manager.io/issuer": "runtime"},
    )
    own = r.RoutingConfig(annotations={"cert-manager.io/issuer": "service"})
    plan = hr.plan_route(_service(routing=own), _runtime(shared), ISVC)
    parent = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "namespace": "gateways",
        "name": "shared",
        "sectionName": "https",
        "port": 443,
    }
    annotations = {"cert-manager.io/issuer": "service", "z.example.com/owner": "platform"}
    expected = _manifest(path="/ml-team/qwen-chat", parent=parent, annotations=annotations)
    assert plan.path == "/ml-team/qwen-chat"
    assert plan.problem is None
    _same(plan.manifest, expected)


@pytest.mark.parametrize(
    ("own", "shared", "expected"),
    [
        pytest.param("180s", None, "3m0s", id="service"),
        pytest.param(None, "1.5h", "1h30m0s", id="runtime-config"),
        pytest.param("300ms", "10m", "300ms", id="service-wins"),
        pytest.param(None, None, None, id="none"),
    ],
)
def test_timeouts(own: str | None, shared: str | None, expected: str | None) -> None:
    service = _service(routing=r.RoutingConfig(enabled=True, gateway_ref=GATEWAY, request_timeout=own))
    plan = hr.plan_route(service, _runtime(r.RoutingConfig(request_timeout=shared)), ISVC)
    _same(plan.manifest, _manifest(timeout=expected))


def test_label_propagation() -> None:
    """aim.eai.amd.com/* always; others by the runtime config's match (e2e label-propagation)."""
    labels = {
        "team-alpha": "yes",
        "cost-center": "42",
        "env": "prod",
        "aim.eai.amd.com/service.name": "given",
        "aim.eai.amd.com/project": "p1",
        "app.kubernetes.io/component": "user",
    }
    runtime = _runtime(label_propagation=r.LabelPropagation(enabled=True, match=("team-*", "cost-center")))
    service = _service(labels=labels, routing=r.RoutingConfig(enabled=True, gateway_ref=GATEWAY))
    expected_labels = {
        "aim.eai.amd.com/project": "p1",
        "aim.eai.amd.com/service": "qwen-chat",
        "aim.eai.amd.com/service.name": "given",
        "app.kubernetes.io/component": "routing",
        "app.kubernetes.io/managed-by": "aim-engine",
        "cost-center": "42",
        "team-alpha": "yes",
    }
    _same(hr.plan_route(service, runtime, ISVC).manifest, _manifest(labels=expected_labels))
    off = _runtime(label_propagation=r.LabelPropagation(enabled=False, match=("team-*", "cost-center")))
    without = {
        key: value for key, value in expected_labels.items() if key not in ("cost-center", "team-alpha")
    }
    _same(hr.plan_route(service, off, ISVC).manifest, _manifest(labels=without))


def test_service_label_is_sanitised_and_name_kept_verbatim() -> None:
    service = _service("Qwen.Chat_v2", routing=r.RoutingConfig(enabled=True, gateway_ref=GATEWAY))
    manifest = hr.http_route(service, None, _routing(), "/p", "isvc")
    assert manifest["metadata"]["name"] == "qwen-chat-v2-a04542d9"
    assert manifest["metadata"]["labels"] == {
        "aim.eai.amd.com/service": "qwen.chat_v2",
        "aim.eai.amd.com/service.name": "Qwen.Chat_v2",
        "app.kubernetes.io/component": "routing",
        "app.kubernetes.io/managed-by": "aim-engine",
    }
    assert manifest["spec"]["rules"][0]["backendRefs"] == [
        {"kind": "Service", "name": "isvc-predictor", "namespace": NS, "port": 80}
    ]


# --- plans with problems -----------------------------------------------------------------------------


def test_plan_without_routing() -> None:
    assert hr.plan_route(_service(), None, ISVC) == RoutePlan(None, None, None, None)


def test_plan_without_gateway() -> None:
    routing = r.RoutingConfig(enabled=True)
    expected = Component(
        "HTTPRouteReady",
        FAILED,
        "GatewayNotConfigured",
        "routing is enabled but no gateway is named: set spec.routing.gatewayRef on the service or "
        "routing.gatewayRef in its runtime config",
    )
    assert hr.plan_route(_service(), _runtime(routing), ISVC) == RoutePlan(
        _routing(None), None, None, expected
    )


def test_plan_with_a_bad_path_template() -> None:
    template = "/{.metadata.labels['team']}"
    routing = r.RoutingConfig(enabled=True, gateway_ref=GATEWAY, path_template=template)
    message = (
        "path template \"/{.metadata.labels['team']}\": {.metadata.labels['team']} names the label \"team\", "
        "which the service does not have: add the label to the service or change the template"
    )
    expected = Component("HTTPRouteReady", FAILED, "PathTemplateInvalid", message)
    plan = hr.plan_route(_service(routing=routing), None, ISVC)
    assert plan == RoutePlan(_routing(path_template=template), None, None, expected)


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (
            "1.5s",
            'request timeout "1.5s" is 1.5s in Go\'s form, which the Gateway API does not accept: use whole '
            "hours, minutes, seconds or milliseconds, such as 90s or 1500ms",
        ),
        (
            "-30s",
            'request timeout "-30s" is -30s in Go\'s form, which the Gateway API does not accept: use whole '
            "hours, minutes, seconds or milliseconds, such as 90s or 1500ms",
        ),
        (
            "3000000h",
            'request timeout "3000000h" is not a duration (time: invalid duration "3000000h"): use one such '
            "as 30s or 2m",
        ),
    ],
)
def test_plan_with_a_timeout_the_gateway_api_refuses(timeout: str, message: str) -> None:
    routing = r.RoutingConfig(enabled=True, gateway_ref=GATEWAY, request_timeout=timeout)
    expected = Component("HTTPRouteReady", FAILED, "RequestTimeoutInvalid", message)
    plan = hr.plan_route(_service(routing=routing), None, ISVC)
    assert plan == RoutePlan(_routing(request_timeout=timeout), None, None, expected)


# --- health (§3.1) --------------------------------------------------------------------------------------


def _observed(*parents: list[dict[str, Any]], generation: int = 2) -> dict[str, Any]:
    """An applied route whose status has one entry per parent, each with the conditions given."""
    entries = [
        {
            "parentRef": {"namespace": "gateways", "name": "inference-gateway"},
            "controllerName": "example.com/gateway-controller",
            "conditions": conditions,
        }
        for conditions in parents
    ]
    return {"metadata": {"name": ROUTE, "generation": generation}, "status": {"parents": entries}}


def _condition(kind: str, status: str, reason: str, message: str = "", generation: int = 2) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


ACCEPTED = _condition("Accepted", "True", "Accepted", "Route was valid")
RESOLVED = _condition("ResolvedRefs", "True", "ResolvedRefs", "All references resolved")
REFUSED = _condition("Accepted", "False", "NotAllowedByListeners", "No listener allows routes from ml-team")
UNRESOLVED = _condition("ResolvedRefs", "False", "BackendNotFound", "Service ml-team/x-predictor not found")
CREATING = Component("HTTPRouteReady", PROGRESSING, "HTTPRouteCreating", "HTTPRoute is being created")
PENDING = Component(
    "HTTPRouteReady", PROGRESSING, "HTTPRoutePending", "waiting for the gateway to accept the HTTPRoute"
)
ACCEPTED_COMPONENT = Component(
    "HTTPRouteReady", READY, "HTTPRouteAccepted", "HTTPRoute is accepted by the gateway"
)


@pytest.mark.parametrize(
    ("routing", "problem", "observed", "expected"),
    [
        pytest.param(None, "ignored", _observed([ACCEPTED]), None, id="not-enabled"),
        pytest.param(
            _routing(),
            "bad template",
            _observed([ACCEPTED]),
            Component("HTTPRouteReady", FAILED, "PathTemplateInvalid", "bad template"),
            id="problem",
        ),
        pytest.param(
            _routing(None),
            None,
            None,
            Component(
                "HTTPRouteReady",
                FAILED,
                "GatewayNotConfigured",
                "routing is enabled but no gateway is named: set spec.routing.gatewayRef on the service or "
                "routing.gatewayRef in its runtime config",
            ),
            id="no-gateway",
        ),
        pytest.param(_routing(), None, None, CREATING, id="not-observed"),
        pytest.param(_routing(), None, {"metadata": {"name": ROUTE}}, PENDING, id="no-status"),
        pytest.param(_routing(), None, _observed(), PENDING, id="no-parents"),
        pytest.param(_routing(), None, _observed([]), PENDING, id="no-conditions"),
        pytest.param(_routing(), None, _observed([ACCEPTED, RESOLVED]), ACCEPTED_COMPONENT, id="accepted"),
        pytest.param(_routing(), None, _observed([ACCEPTED]), ACCEPTED_COMPONENT, id="accepted-only"),
        pytest.param(
            _routing(),
            None,
            _observed([ACCEPTED, RESOLVED], [REFUSED]),
            Component(
                "HTTPRouteReady", FAILED, "NotAllowedByListeners", "No listener allows routes from ml-team"
            ),
            id="refused-by-one-parent",
        ),
        pytest.param(
            _routing(),
            None,
            _observed([REFUSED, UNRESOLVED]),
            Component(
                "HTTPRouteReady", FAILED, "NotAllowedByListeners", "No listener allows routes from ml-team"
            ),
            id="refusal-before-unresolved",
        ),
        pytest.param(
            _routing(),
            None,
            _observed([ACCEPTED, UNRESOLVED]),
            Component(
                "HTTPRouteReady", PROGRESSING, "BackendNotFound", "Service ml-team/x-predictor not found"
            ),
            id="backend-not-there-yet",
        ),
        pytest.param(
            _routing(),
            None,
            _observed([{"type": "Accepted", "status": "False"}]),
            Component("HTTPRouteReady", FAILED, "NotAccepted", ""),
            id="refused-without-reason",
        ),
        pytest.param(_routing(), None, _observed([ACCEPTED], [RESOLVED]), PENDING, id="one-parent-undecided"),
        pytest.param(
            _routing(),
            None,
            _observed([_condition("Accepted", "Unknown", "Pending")]),
            PENDING,
            id="accepted-unknown",
        ),
        pytest.param(
            _routing(),
            None,
            _observed([_condition("Accepted", "True", "Accepted", generation=1)]),
            PENDING,
            id="stale-acceptance",
        ),
        pytest.param(
            _routing(),
            None,
            _observed([_condition("Accepted", "False", "NoMatchingParent", generation=1), ACCEPTED]),
            ACCEPTED_COMPONENT,
            id="stale-refusal-replaced",
        ),
    ],
)
def test_route_health(
    routing: Routing | None, problem: str | None, observed: dict[str, Any] | None, expected: Component | None
) -> None:
    assert hr.route_health(routing, problem, observed) == expected
