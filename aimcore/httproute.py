"""The Gateway API HTTPRoute an AIMService gets when routing is enabled, and what its status means.

Faithful to the reference's generation N (reference-service §1.4, §1.5, §3.1, §5): the same name,
labels, annotations (the runtime config's, then the service's over them), path and rule, so a
cluster can move between operators without a renamed or re-routed HTTPRoute. The route is
independent of the template: it only needs routing enabled and a gateway.

Where aimcore differs, on purpose: a path template that cannot be rendered is an error the service
shows (Failed, PathTemplateInvalid) rather than the reference's silent fall-back to
`/<namespace>/<uid>`, which would publish the model at a path nobody asked for; and a request
timeout the Gateway API would refuse is reported the same way before anything is applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from aimcore import codec, naming
from aimcore import resources as r
from aimcore.discoveryjob import propagate_labels
from aimcore.inferenceservice import sanitize_label_value
from aimcore.ownership import LABEL_MANAGED_BY, LABEL_SERVICE, owner_reference
from aimcore.status import Component

__all__ = [
    "API_VERSION",
    "HTTP_ROUTE_READY",
    "KIND",
    "MAX_PATH_LENGTH",
    "PathTemplateError",
    "RoutePlan",
    "Routing",
    "effective_routing",
    "go_duration",
    "http_route",
    "plan_route",
    "route_health",
    "route_name",
    "route_path",
]

API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "HTTPRoute"
HTTP_ROUTE_READY = "HTTPRouteReady"

#: The longest path the reference accepts (§5 "HTTPRoute build", step 5).
MAX_PATH_LENGTH = 200
#: KServe's predictor Service in RawDeployment mode is `<isvc>-predictor`, serving on port 80.
PREDICTOR_SUFFIX = "-predictor"
PREDICTOR_PORT = 80

LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_SERVICE_NAME = f"{r.GROUP}/service.name"
MANAGED_BY = "aim-engine"

REASON_ACCEPTED = "HTTPRouteAccepted"
REASON_CREATING = "HTTPRouteCreating"
REASON_PENDING = "HTTPRoutePending"
REASON_GATEWAY_NOT_CONFIGURED = "GatewayNotConfigured"
REASON_PATH_TEMPLATE_INVALID = "PathTemplateInvalid"
REASON_REQUEST_TIMEOUT_INVALID = "RequestTimeoutInvalid"
REASON_NOT_ACCEPTED = "NotAccepted"


# --- the effective routing ---------------------------------------------------------------


@attrs.frozen
class Routing:
    """One service's routing once its own spec.routing and its runtime config's are merged."""

    gateway: r.GatewayReference | None
    path_template: str | None
    request_timeout: str | None
    annotations: Mapping[str, str]


def effective_routing(service: r.AIMService, runtime: r.AIMRuntimeConfigSpec | None) -> Routing | None:
    """The service's routing; None when it is not enabled (default off).

    `enabled` is the service's spec.routing.enabled when set, else its runtime config's. Every
    other field is the service's when set, else the runtime config's, so a namespace can
    name its gateway once; an empty string counts as unset, as Go's zero value does. Annotations
    merge key by key with the service's winning (N; M ignored the service's).
    """
    own = service.spec.routing or r.RoutingConfig()
    shared = (runtime.routing if runtime is not None else None) or r.RoutingConfig()
    enabled = own.enabled if own.enabled is not None else shared.enabled
    if not enabled:
        return None
    return Routing(
        gateway=own.gateway_ref if own.gateway_ref is not None else shared.gateway_ref,
        path_template=own.path_template or shared.path_template or None,
        request_timeout=own.request_timeout or shared.request_timeout or None,
        annotations={**(shared.annotations or {}), **(own.annotations or {})},
    )


# --- the name (§1.4) -----------------------------------------------------------------------


def route_name(service_name: str, namespace: str) -> str:
    """`derived_name([service], hash [namespace])`, at most 63: the reference's route name (M and N)."""
    return naming.derived_name([service_name], [namespace])


# --- the path (§5) -------------------------------------------------------------------------


class PathTemplateError(ValueError):
    """The path template cannot be rendered for this service; the message says what to change."""


_NOT_LABEL_CHAR = re.compile(r"[^a-z0-9-]")
_FIELD_NAME = re.compile(r"(?:[A-Za-z0-9_/-]|\\.)+")
_UNESCAPE = re.compile(r"\\(.)")
_VALID_EXPRESSIONS = (
    "use .metadata.name, .metadata.namespace, .metadata.uid, .metadata.labels['key'], "
    ".metadata.annotations['key'] or a field path such as .spec.model.name"
)

Step = str | int


def _rfc1123(text: str) -> str:
    """One RFC 1123 label, as the reference's path normaliser asks (§5) without spelling out.

    The rule chosen is aimcore's name-part rule (naming.rfc1123_part): lowercase one code point
    at a time like Go, every character outside [a-z0-9-] becomes '-' (runs are not collapsed),
    '-' trimmed at both ends, cut to 63 and trimmed again. Unlike a name part, an empty result
    stays empty: the caller drops that segment.
    """
    lowered = "".join(char.lower()[0] for char in text)
    label = _NOT_LABEL_CHAR.sub("-", lowered).strip("-")
    return label[: naming.MAX_LABEL_LENGTH].rstrip("-")


def _normalise(path: str) -> str:
    """Each '/' segment made a label and empty ones dropped, so the path starts with '/' and has no
    trailing or doubled '/'; "" when no segment is left."""
    segments = [label for label in (_rfc1123(part) for part in path.split("/")) if label]
    return "/" + "/".join(segments) if segments else ""


def route_path(service: r.AIMService, template: str | None) -> str:
    """The route's path: `/<namespace>/<uid>` without a template, else the rendered template (§5).

    Each `{expr}` is a JSONPath (client-go's syntax, the subset a path needs: `.field`, `['key']`,
    `["key"]`, `[n]`, a leading `$`, `\\.` inside a field name) on the service's wire form.
    Values other than annotations are made RFC 1123 labels first, so a '/' in them cannot add
    segments; an annotation's '/' does (`Team-A/B` gives `/team-a/b`). Then every segment is made
    a label, empty segments are dropped (the reference only trims a trailing '/'; a doubled or
    emptied one is dropped too here) and the path must be 1 to 200 characters. Raises
    PathTemplateError for an invalid or unsupported expression, a missing label, annotation or
    field, a value that is an object or list, and a path that is empty or too long.
    """
    if not template:
        namespace, uid = service.metadata.namespace or "", service.metadata.uid or ""
        return _normalise(f"/{namespace}/{uid}") or "/"
    document = codec.dump(service)
    rendered: list[str] = []
    for is_expression, text in _pieces(template):
        rendered.append(_render(document, text, template) if is_expression else text)
    path = _normalise("".join(rendered))
    if not path:
        raise PathTemplateError(
            f'path template "{template}" renders to an empty path: it needs at least one segment '
            "with a letter or digit"
        )
    if len(path) > MAX_PATH_LENGTH:
        raise PathTemplateError(
            f'path template "{template}" renders to a path of {len(path)} characters; a route path '
            f"may have at most {MAX_PATH_LENGTH}: shorten the template"
        )
    return path


def _pieces(template: str) -> list[tuple[bool, str]]:
    """The template cut into literal text and `{...}` expressions (braces included).

    A '}' inside a quoted key does not close the expression; a lone '}' is literal text, as in
    client-go's templates.
    """
    pieces: list[tuple[bool, str]] = []
    start = index = 0
    while index < len(template):
        if template[index] != "{":
            index += 1
            continue
        end = _closing_brace(template, index)
        if end < 0:
            raise _invalid(template, template[index:], "the '{' is never closed")
        pieces.append((False, template[start:index]))
        pieces.append((True, template[index : end + 1]))
        start = index = end + 1
    pieces.append((False, template[start:]))
    return pieces


def _closing_brace(template: str, opening: int) -> int:
    quote = ""
    for index in range(opening + 1, len(template)):
        char = template[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "}":
            return index
    return -1


def _invalid(template: str, expression: str, detail: str) -> PathTemplateError:
    return PathTemplateError(
        f'path template "{template}": invalid JSONPath {expression}: {detail}; {_VALID_EXPRESSIONS}'
    )


def _parse(expression: str, template: str) -> tuple[Step, ...]:
    """The steps of one `{...}` expression: field names and keys as text, list indexes as ints."""
    text = expression[1:-1].strip()
    text = text[1:] if text.startswith("$") else text
    if not text:
        raise _invalid(template, expression, "it names no field")
    if text[0] not in ".[":
        raise _invalid(template, expression, "it must start with '.'")
    steps: list[Step] = []
    index = 0
    while index < len(text):
        if text[index] == ".":
            match = _FIELD_NAME.match(text, index + 1)
            if match is None:
                raise _invalid(template, expression, "a '.' without a field name after it")
            steps.append(_UNESCAPE.sub(r"\1", match.group()))
            index = match.end()
        elif text[index] == "[":
            step, index = _subscript(text, index, expression, template)
            steps.append(step)
        else:
            raise _invalid(template, expression, f"unexpected {text[index:]!r}")
    return tuple(steps)


def _subscript(text: str, opening: int, expression: str, template: str) -> tuple[Step, int]:
    """`['key']`, `["key"]` or `[n]` at `opening`; wildcards, slices and filters are not supported."""
    closing = text.find("]", opening)
    quote = text[opening + 1 : opening + 2]
    if quote in ("'", '"'):
        end = text.find(quote, opening + 2)
        if end > 0 and text[end + 1 : end + 2] == "]":
            return text[opening + 2 : end], end + 2
    elif closing > 0 and text[opening + 1 : closing].isdecimal() and text[opening + 1 : closing].isascii():
        return int(text[opening + 1 : closing]), closing + 1
    raise _invalid(template, expression, "only ['key'] and [n] subscripts are supported")


def _render(document: Mapping[str, Any], expression: str, template: str) -> str:
    """The value one expression selects, as path text; annotations verbatim, others as a label."""
    steps = _parse(expression, template)
    value = _lookup(document, steps)
    metadata_map = len(steps) == 3 and steps[0] == "metadata" and isinstance(steps[2], str)
    kind = steps[1] if metadata_map and steps[1] in ("labels", "annotations") else None
    if value is None:
        if kind is not None:
            noun = "label" if kind == "labels" else "annotation"
            raise PathTemplateError(
                f'path template "{template}": {expression} names the {noun} "{steps[2]}", which the '
                f"service does not have: add the {noun} to the service or change the template"
            )
        raise PathTemplateError(
            f'path template "{template}": {expression} names no field the service has; {_VALID_EXPRESSIONS}'
        )
    if isinstance(value, Mapping | list | tuple):
        raise PathTemplateError(
            f'path template "{template}": {expression} selects an object or a list, not one value; '
            f"{_VALID_EXPRESSIONS}"
        )
    text = _scalar_text(value)
    return text if kind == "annotations" else _rfc1123(text)


def _lookup(document: Mapping[str, Any], steps: Sequence[Step]) -> Any:
    """The value at `steps`, or None when a step is missing (an absent field is null in the wire form)."""
    value: Any = document
    for step in steps:
        if isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list | tuple) and step < len(value):
            value = value[step]
        else:
            return None
    return value


def _scalar_text(value: Any) -> str:
    """A value as client-go's template prints it: JSON's true/false, numbers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Go durations (§5: timeouts.request) -----------------------------------------------------


_NANOSECOND = 1
_MICROSECOND = 1000 * _NANOSECOND
_MILLISECOND = 1000 * _MICROSECOND
_SECOND = 1000 * _MILLISECOND
_UNITS = {
    "ns": _NANOSECOND,
    "us": _MICROSECOND,
    "\u00b5s": _MICROSECOND,  # micro sign
    "\u03bcs": _MICROSECOND,  # Greek mu
    "ms": _MILLISECOND,
    "s": _SECOND,
    "m": 60 * _SECOND,
    "h": 3600 * _SECOND,
}
_UINT64 = 1 << 64
_INT64_LIMIT = 1 << 63
#: What the Gateway API v1 Duration type accepts (GEP-2257): up to four whole-number units.
_GATEWAY_DURATION = re.compile(r"([0-9]{1,5}(h|m|s|ms)){1,4}")


def go_duration(text: str) -> str:
    """Go's `time.ParseDuration(text).String()`: the form the reference writes to timeouts.request.

    "180s" gives "3m0s", "1.5h" "1h30m0s", "300ms" "300ms". Raises ValueError with Go's message
    for what Go rejects (no unit, an unknown unit, overflow, no digits).
    """
    return _duration_string(_parse_duration(text))


def _parse_duration(text: str) -> int:
    """Nanoseconds, computed as Go's ParseDuration does: uint64 sums, fractions through float64."""
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise ValueError(f'time: invalid duration "{text}"')
        whole, rest, had_whole = _leading_int(rest, text)
        fraction, scale, had_fraction = 0, 1.0, False
        if rest[:1] == ".":
            fraction, scale, rest, had_fraction = _leading_fraction(rest[1:])
        if not had_whole and not had_fraction:
            raise ValueError(f'time: invalid duration "{text}"')
        end = 0
        while end < len(rest) and not (rest[end] == "." or "0" <= rest[end] <= "9"):
            end += 1
        if end == 0:
            raise ValueError(f'time: missing unit in duration "{text}"')
        unit_name, rest = rest[:end], rest[end:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f'time: unknown unit "{unit_name}" in duration "{text}"')
        if whole > _INT64_LIMIT // unit:
            raise ValueError(f'time: invalid duration "{text}"')
        value = whole * unit
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))
            if value > _INT64_LIMIT:
                raise ValueError(f'time: invalid duration "{text}"')
        total = (total + value) % _UINT64  # uint64 arithmetic, as Go's
        if total > _INT64_LIMIT:
            raise ValueError(f'time: invalid duration "{text}"')
    if negative:
        return -total
    if total > _INT64_LIMIT - 1:
        raise ValueError(f'time: invalid duration "{text}"')
    return total


def _leading_int(text: str, original: str) -> tuple[int, str, bool]:
    value, index = 0, 0
    while index < len(text) and "0" <= text[index] <= "9":
        if value > _INT64_LIMIT // 10:
            raise ValueError(f'time: invalid duration "{original}"')
        value = value * 10 + int(text[index])
        if value > _INT64_LIMIT:
            raise ValueError(f'time: invalid duration "{original}"')
        index += 1
    return value, text[index:], index > 0


def _leading_fraction(text: str) -> tuple[int, float, str, bool]:
    """Digits after the point; past uint64's reach further digits are read and ignored, as in Go."""
    value, scale, index, overflow = 0, 1.0, 0, False
    while index < len(text) and "0" <= text[index] <= "9":
        if not overflow:
            grown = value * 10 + int(text[index])
            if value > (_INT64_LIMIT - 1) // 10 or grown > _INT64_LIMIT:
                overflow = True
            else:
                value, scale = grown, scale * 10
        index += 1
    return value, scale, text[index:], index > 0


def _duration_string(nanoseconds: int) -> str:
    """Go's Duration.String(): `72h3m0.5s`; below a second the largest of ns, µs, ms; zero is 0s."""
    sign = "-" if nanoseconds < 0 else ""
    amount = abs(nanoseconds)
    if amount < _SECOND:
        if amount == 0:
            return "0s"
        if amount < _MICROSECOND:
            digits, unit = 0, "ns"
        elif amount < _MILLISECOND:
            digits, unit = 3, "\u00b5s"
        else:
            digits, unit = 6, "ms"
        whole, fraction = _split(amount, digits)
        return f"{sign}{whole}{fraction}{unit}"
    seconds, fraction = _split(amount, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _split(amount: int, digits: int) -> tuple[int, str]:
    """The whole part and the fraction `.ddd` without trailing zeros ("" when it is zero)."""
    whole, part = divmod(amount, 10**digits)
    return whole, f".{part:0{digits}d}".rstrip("0") if part else ""


# --- the manifest (§1.3, §1.5, §5) ------------------------------------------------------------


def http_route(
    service: r.AIMService,
    runtime: r.AIMRuntimeConfigSpec | None,
    routing: Routing,
    path: str,
    isvc_name: str,
) -> dict[str, Any]:
    """The HTTPRoute sending `path` on the routing's gateway to the InferenceService `isvc_name`.

    The one rule strips the path prefix (the model server serves at `/`) and targets KServe's
    predictor Service on port 80. Keys are in the order Go marshals gateway-api v1 structs, labels
    and annotations sorted like Go maps, unset fields left out. `path` comes from `route_path`;
    raises ValueError for a request timeout Go cannot parse (see `plan_route`, which checks first).
    """
    namespace = service.metadata.namespace or ""
    metadata: dict[str, Any] = {
        "name": route_name(service.metadata.name or "", namespace),
        "namespace": namespace,
        "labels": _labels(service, runtime),
    }
    if routing.annotations:
        metadata["annotations"] = dict(sorted(routing.annotations.items()))
    metadata["ownerReferences"] = [codec.dump(owner_reference(service))]
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
        ],
        "backendRefs": [
            {
                "kind": "Service",
                "name": f"{isvc_name}{PREDICTOR_SUFFIX}",
                "namespace": namespace,
                "port": PREDICTOR_PORT,
            }
        ],
    }
    if routing.request_timeout:
        rule["timeouts"] = {"request": go_duration(routing.request_timeout)}
    parents = [_parent_ref(routing.gateway)] if routing.gateway is not None else []
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"parentRefs": parents, "rules": [rule]},
    }


def _labels(service: r.AIMService, runtime: r.AIMRuntimeConfigSpec | None) -> dict[str, str]:
    """The builder's labels (§1.5), then the service's propagated ones, then the controller's (§1.3)."""
    labels = {
        LABEL_COMPONENT: "routing",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_SERVICE: sanitize_label_value(service.metadata.name or ""),
    }
    propagation = runtime.label_propagation if runtime is not None else None
    propagate_labels(service.metadata.labels or {}, labels, {}, propagation)
    labels.setdefault(LABEL_SERVICE_NAME, service.metadata.name or "")
    return dict(sorted(labels.items()))


#: What the AIMService CRD (and the Gateway API) default an unset group and kind to.
DEFAULT_PARENT_GROUP = "gateway.networking.k8s.io"
DEFAULT_PARENT_KIND = "Gateway"


def _parent_ref(gateway: r.GatewayReference) -> dict[str, Any]:
    """The gateway as a ParentReference, in that struct's field order (namespace before name).

    An unset group or kind is written as its default, as the API server fills it into the service:
    the route is then the same whether the service was read from a cluster or from a file."""
    fields: list[tuple[str, Any]] = [
        ("group", DEFAULT_PARENT_GROUP if gateway.group is None else gateway.group),
        ("kind", gateway.kind or DEFAULT_PARENT_KIND),
        ("namespace", gateway.namespace),
        ("name", gateway.name),
        ("sectionName", gateway.section_name),
        ("port", gateway.port),
    ]
    return {key: value for key, value in fields if value is not None}


# --- the plan -------------------------------------------------------------------------------


@attrs.frozen
class RoutePlan:
    """What routing asks for one service: nothing (routing None), a route, or a problem.

    With routing enabled exactly one of `manifest` (with its `path`) and `problem` is set.
    """

    routing: Routing | None
    manifest: dict[str, Any] | None
    path: str | None
    problem: Component | None


def plan_route(service: r.AIMService, runtime: r.AIMRuntimeConfigSpec | None, isvc_name: str) -> RoutePlan:
    """The HTTPRoute to apply for `service`, or the Failed HTTPRouteReady component saying why not.

    Misconfigurations are the user's to fix, so Failed with what to change (§7.2 style), where the
    reference applies nothing for a missing gateway, falls back silently for a bad path and has the
    API server refuse a timeout the Gateway API does not accept.
    """
    routing = effective_routing(service, runtime)
    if routing is None:
        return RoutePlan(None, None, None, None)
    if routing.gateway is None:
        return RoutePlan(routing, None, None, _gateway_not_configured())
    try:
        path = route_path(service, routing.path_template)
    except PathTemplateError as err:
        return RoutePlan(routing, None, None, _path_problem(str(err)))
    problem = _timeout_problem(routing.request_timeout)
    if problem is not None:
        return RoutePlan(routing, None, None, problem)
    return RoutePlan(routing, http_route(service, runtime, routing, path, isvc_name), path, None)


def _gateway_not_configured() -> Component:
    return Component(
        HTTP_ROUTE_READY,
        r.Status.FAILED,
        REASON_GATEWAY_NOT_CONFIGURED,
        "routing is enabled but no gateway is named: set spec.routing.gatewayRef on the service or "
        "routing.gatewayRef in its runtime config",
    )


def _path_problem(message: str) -> Component:
    return Component(HTTP_ROUTE_READY, r.Status.FAILED, REASON_PATH_TEMPLATE_INVALID, message)


def _timeout_problem(timeout: str | None) -> Component | None:
    """Failed RequestTimeoutInvalid for a timeout Go cannot parse or whose Go form (`1.5s`, `-3m0s`)
    the Gateway API's Duration pattern refuses; None when it is fine or unset."""
    if not timeout:
        return None
    try:
        rendered = go_duration(timeout)
    except ValueError as err:
        message = f'request timeout "{timeout}" is not a duration ({err}): use one such as 30s or 2m'
        return Component(HTTP_ROUTE_READY, r.Status.FAILED, REASON_REQUEST_TIMEOUT_INVALID, message)
    if _GATEWAY_DURATION.fullmatch(rendered):
        return None
    message = (
        f'request timeout "{timeout}" is {rendered} in Go\'s form, which the Gateway API does not '
        "accept: use whole hours, minutes, seconds or milliseconds, such as 90s or 1500ms"
    )
    return Component(HTTP_ROUTE_READY, r.Status.FAILED, REASON_REQUEST_TIMEOUT_INVALID, message)


# --- observed health (§3.1) -------------------------------------------------------------------


def route_health(
    routing: Routing | None, problem: str | None, observed: Mapping[str, Any] | None
) -> Component | None:
    """The HTTPRouteReady component; None when routing is not enabled.

    `problem` is a path template error the caller found (Failed, PathTemplateInvalid). Otherwise the
    route's `status.parents[].conditions` decide: a gateway that refuses it (Accepted=False) fails
    it with the gateway's reason; a backend not resolved yet (ResolvedRefs=False, typically before
    KServe made the predictor Service) keeps it Progressing; every parent Accepted=True is Ready.
    Conditions about an older generation of the route (their observedGeneration below its
    metadata.generation) are stale and ignored.
    """
    if routing is None:
        return None
    if problem is not None:
        return _path_problem(problem)
    if routing.gateway is None:
        return _gateway_not_configured()
    if observed is None:
        return Component(
            HTTP_ROUTE_READY, r.Status.PROGRESSING, REASON_CREATING, "HTTPRoute is being created"
        )
    generation = (observed.get("metadata") or {}).get("generation")
    parents = [_current(parent, generation) for parent in (observed.get("status") or {}).get("parents") or ()]
    for conditions in parents:
        refused = conditions.get("Accepted")
        if refused is not None and refused.get("status") == "False":
            reason = refused.get("reason") or REASON_NOT_ACCEPTED
            return Component(HTTP_ROUTE_READY, r.Status.FAILED, reason, str(refused.get("message") or ""))
    for conditions in parents:
        unresolved = conditions.get("ResolvedRefs")
        if unresolved is not None and unresolved.get("status") == "False":
            reason = unresolved.get("reason") or "ResolvedRefs"
            message = str(unresolved.get("message") or "")
            return Component(HTTP_ROUTE_READY, r.Status.PROGRESSING, reason, message)
    if parents and all((c.get("Accepted") or {}).get("status") == "True" for c in parents):
        return Component(
            HTTP_ROUTE_READY, r.Status.READY, REASON_ACCEPTED, "HTTPRoute is accepted by the gateway"
        )
    return Component(
        HTTP_ROUTE_READY,
        r.Status.PROGRESSING,
        REASON_PENDING,
        "waiting for the gateway to accept the HTTPRoute",
    )


def _current(parent: Mapping[str, Any], generation: Any) -> dict[str, Mapping[str, Any]]:
    """One parent's conditions by type, without those observed for an older generation."""
    current: dict[str, Mapping[str, Any]] = {}
    for condition in parent.get("conditions") or ():
        seen = condition.get("observedGeneration")
        stale = isinstance(seen, int) and isinstance(generation, int) and seen < generation
        if not stale:
            current[str(condition.get("type"))] = condition
    return current
