"""Discovery by dry run: the Job a template runs its model's image in, and reading its log back.

Faithful to the reference's template controller (reference-template-controller §2.2-2.4), so a
cluster can move between operators: the same Job name, labels, env and limits (D25), the same
reading of the log, the same health reasons, the same backoff. Where the reference has a defect
this module mends it as D26 rules: output that cannot be read is an error with a quote of the
output, never an empty Ready template; the wait before a retry is returned, so the caller can
requeue; the backoff never overflows.

Left out, as they need I/O the core does not do: the refinement of a Pending pod by its events
and the categorisation of a failed pod by its last log lines (§2.4). The Lease is replaced by the
operator's leader election; caching (§5) is not discovery's business.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from aimcore import codec, schema
from aimcore import resources as r
from aimcore.ownership import LABEL_MANAGED_BY, owner_reference
from aimcore.snapshot import DEFAULT_OPERATOR_NAMESPACE
from aimcore.status import Component

__all__ = [
    "ACTIVE_JOB_LIMIT",
    "ACTIVE_LIMIT_REQUEUE_SECONDS",
    "CATEGORIES",
    "DISCOVERY_JOB_READY",
    "DISCOVERY_PODS_READY",
    "JOB_SELECTOR",
    "LABEL_TEMPLATE",
    "OUTPUT_INVALID",
    "Category",
    "ContainerObservation",
    "DiscoveryState",
    "DryRunError",
    "DryRunMetadata",
    "DryRunModel",
    "DryRunProfile",
    "DryRunResult",
    "JobCondition",
    "JobObservation",
    "PodObservation",
    "active_discovery_jobs",
    "backoff_seconds",
    "binary_si",
    "category",
    "discovery_job",
    "discovery_job_name",
    "discovery_namespace",
    "failure_reason",
    "job_health",
    "model_sources_from_result",
    "newest_discovery_job",
    "next_discovery",
    "parse_dry_run",
    "pods_health",
    "profile_from_result",
    "record_failure",
    "record_success",
    "resolved_hardware_after_discovery",
    "retry_message",
    "size_quantity",
    "spec_hash",
]

# --- constants (reference constants.go, discovery.go) ----------------------------------

LABEL_TEMPLATE = f"{r.GROUP}/template"
#: The label selector of every discovery Job; the active-job counter depends on it (§2.1).
JOB_SELECTOR: Mapping[str, str] = {
    "app.kubernetes.io/name": "aim-discovery",
    "app.kubernetes.io/component": "discovery",
    LABEL_MANAGED_BY: "aim-controller",
}
CONTAINER_NAME = "discovery"
JOB_PREFIX = "discover-"
#: 63 - len("discover-") - len("-") - 8 hex digits.
JOB_TEMPLATE_NAME_MAX = 45
BACKOFF_LIMIT = 0
TTL_SECONDS_AFTER_FINISHED = 60
RUN_AS_USER = 65532
ACTIVE_JOB_LIMIT = 10
ACTIVE_LIMIT_REQUEUE_SECONDS = 5
BASE_BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 3600
DEFAULT_GPU_RESOURCE = "amd.com/gpu"

DISCOVERY_JOB_READY = "DiscoveryJobReady"
DISCOVERY_PODS_READY = "DiscoveryPodsReady"
#: D26: the reason a template gives when its discovery output cannot be read or stored.
OUTPUT_INVALID = "DiscoveryOutputInvalid"
#: D26: how much of an unreadable output a message quotes.
QUOTED_OUTPUT_MAX = 200


# --- hashes and names (§2.2, §2.4) -----------------------------------------------------


def _selection_inputs(spec: r.AIMServiceTemplateSpec) -> str:
    """The spec fields that reach the dry run's env; gpu counts even with requests 0."""
    text = (spec.metric.value if spec.metric else "") + (spec.precision.value if spec.precision else "")
    gpu = spec.hardware.gpu if spec.hardware else None
    if gpu is not None:
        text += (gpu.model or "") + str(gpu.requests or 0)
    return text + (spec.profile_id or "")


def spec_hash(template: r.Template, model_image: str) -> str:
    """What a finished discovery depended on, kept on status.discovery.specHash (§2.4, D26).

    The reference's formula: 16 hex digits of the SHA-256 of modelName, image, metric,
    precision, gpu model and requests, profileId, concatenated without separators.
    """
    spec = template.spec
    payload = spec.model_name + model_image + _selection_inputs(spec)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def discovery_job_name(
    template: r.Template,
    model_image: str,
    service_account: str,
    env: Sequence[r.EnvVar],
    pull_secret_names: Sequence[str],
) -> str:
    """`discover-<template name cut to 45>-<8 hex>` (§2.2): any change of the Job's inputs names a new Job.

    The hash covers modelName, image, service account, each env name+value (valueFrom counts as
    an empty value), each pull-secret name, then the spec fields of `spec_hash`. `env` is the
    template's spec.env for a namespaced template and empty for a cluster template.
    """
    spec = template.spec
    payload = spec.model_name + model_image + service_account
    payload += "".join(entry.name + (entry.value or "") for entry in env)
    payload += "".join(pull_secret_names) + _selection_inputs(spec)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]
    return f"{JOB_PREFIX}{(template.metadata.name or '')[:JOB_TEMPLATE_NAME_MAX]}-{digest}"


def discovery_namespace(template: r.Template, operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE) -> str:
    """Where its discovery Jobs and Pods live: its namespace, or the operator's for a cluster template."""
    if isinstance(template, r.AIMClusterServiceTemplate):
        return operator_namespace
    return template.metadata.namespace or ""


# --- the Job (§2.2) --------------------------------------------------------------------


def _controller_name(template: r.Template) -> str:
    return (
        "cluster-service-template"
        if isinstance(template, r.AIMClusterServiceTemplate)
        else "service-template"
    )


def discovery_job(
    template: r.Template,
    model: r.Model,
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE,
    *,
    label_propagation: r.LabelPropagation | None = None,
) -> dict[str, Any]:
    """The discovery Job for `template`, as the reference applies it (§2.2, D25).

    The tests pin this JSON: the manifest the reference's server-side apply stores, with keys
    in the order Go marshals them (struct field order; labels sorted like Go maps), and without
    the zero values Go's encoder adds and the API server drops (`creationTimestamp: null`,
    `resources: {}`, `status: {}`), the empty `value` of an env entry omitted as Go omits it.
    Labels are the builder's plus what the reference adds at apply time: the template's
    `aim.eai.amd.com/*` labels and those `label_propagation` (the merged runtime config's)
    matches, then `aim.eai.amd.com/[cluster-]service-template.name`; none overwrites another,
    and the pod template gets the same except managed-by. The owner reference is the apply
    helper's: controller true, no blockOwnerDeletion. Image, imagePullSecrets and
    serviceAccountName are the MODEL's (the template's own are ignored, as in the reference).
    Raises ValueError when the model has no image: the reference plans no Job then (§2.1).
    """
    image = model.spec.image
    if not image:
        raise ValueError(f"model {model.metadata.name} has no image: no discovery Job can run it")
    name = template.metadata.name or ""
    cluster = isinstance(template, r.AIMClusterServiceTemplate)
    template_env = () if cluster else tuple(template.spec.env or ())
    secrets = tuple(ref.name for ref in model.spec.image_pull_secrets or ())
    service_account = model.spec.service_account_name or ""

    labels = {**JOB_SELECTOR, LABEL_TEMPLATE: name}
    pod_labels = {LABEL_TEMPLATE: name}
    _propagate_labels(template.metadata.labels or {}, labels, pod_labels, label_propagation)
    controller = _controller_name(template)
    controller_labels = {
        LABEL_MANAGED_BY: f"aim-{controller}-controller",
        f"{r.GROUP}/{controller}.name": name,
    }
    for key, value in controller_labels.items():
        labels.setdefault(key, value)
        if key != LABEL_MANAGED_BY:
            pod_labels.setdefault(key, value)

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "args": ["dry-run", "--format=json"],
        "env": [_env_entry(entry) for entry in _job_env(template.spec, template_env)],
        "securityContext": {
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
        },
    }
    pod_spec: dict[str, Any] = {"containers": [container], "restartPolicy": "Never"}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    pod_spec["securityContext"] = {
        "runAsUser": RUN_AS_USER,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} if secret else {} for secret in secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": discovery_job_name(template, image, service_account, template_env, secrets),
            "namespace": discovery_namespace(template, operator_namespace),
            "labels": dict(sorted(labels.items())),
            "ownerReferences": [codec.dump(owner_reference(template))],
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "template": {"metadata": {"labels": dict(sorted(pod_labels.items()))}, "spec": pod_spec},
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
        },
    }


def _job_env(spec: r.AIMServiceTemplateSpec, template_env: Sequence[r.EnvVar]) -> list[r.EnvVar]:
    """Quiet logging first (clean JSON on stdout), then the template's env, then the selection."""
    env = [
        r.EnvVar(name="AIM_LOG_LEVEL_ROOT", value="CRITICAL"),
        r.EnvVar(name="AIM_LOG_LEVEL", value="CRITICAL"),
    ]
    env += template_env
    if spec.metric is not None:
        env.append(r.EnvVar(name="AIM_METRIC", value=spec.metric.value))
    if spec.precision is not None:
        env.append(r.EnvVar(name="AIM_PRECISION", value=spec.precision.value))
    gpu = spec.hardware.gpu if spec.hardware else None
    if gpu is not None and gpu.model:
        env.append(r.EnvVar(name="AIM_GPU_MODEL", value=gpu.model))
    if gpu is not None and (gpu.requests or 0) > 0:
        env.append(r.EnvVar(name="AIM_GPU_COUNT", value=str(gpu.requests)))
    if spec.profile_id:
        env.append(r.EnvVar(name="AIM_PROFILE_ID", value=spec.profile_id))
    return env


def _env_entry(entry: r.EnvVar) -> dict[str, Any]:
    """A core/v1 EnvVar as Go marshals it: empty value omitted, valueFrom's fields in Go's order."""
    out: dict[str, Any] = {"name": entry.name}
    if entry.value:
        out["value"] = entry.value
    source = entry.value_from
    if source is None:
        return out
    refs: dict[str, Any] = {}
    if source.field_ref is not None:
        field_ref: dict[str, Any] = {}
        if source.field_ref.api_version:
            field_ref["apiVersion"] = source.field_ref.api_version
        field_ref["fieldPath"] = source.field_ref.field_path
        refs["fieldRef"] = field_ref
    if source.resource_field_ref is not None:
        resource_ref: dict[str, Any] = {}
        if source.resource_field_ref.container_name:
            resource_ref["containerName"] = source.resource_field_ref.container_name
        resource_ref["resource"] = source.resource_field_ref.resource
        if source.resource_field_ref.divisor is not None:
            resource_ref["divisor"] = str(source.resource_field_ref.divisor)
        refs["resourceFieldRef"] = resource_ref
    for key, selector in (
        ("configMapKeyRef", source.config_map_key_ref),
        ("secretKeyRef", source.secret_key_ref),
    ):
        if selector is not None:
            ref: dict[str, Any] = {"name": selector.name} if selector.name else {}
            ref["key"] = selector.key
            if selector.optional is not None:
                ref["optional"] = selector.optional
            refs[key] = ref
    out["valueFrom"] = refs
    return out


def _propagate_labels(
    parent: Mapping[str, str],
    labels: dict[str, str],
    pod_labels: dict[str, str],
    propagation: r.LabelPropagation | None,
) -> None:
    """The reference's PropagateLabels: aim.eai.amd.com/* always, others by the runtime config's match."""
    patterns = (propagation.match or ()) if propagation is not None and propagation.enabled else ()
    for key, value in parent.items():
        if key in labels:
            continue
        if key.startswith(f"{r.GROUP}/") or any(_go_path_match(pattern, key) for pattern in patterns):
            labels[key] = value
            pod_labels.setdefault(key, value)


def _go_path_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (Unix separator); a malformed pattern matches nothing: the reference skips it."""
    try:
        return _path_match(pattern, name)
    except _MalformedPattern:
        return False


class _MalformedPattern(Exception):
    """filepath.ErrBadPattern."""


def _path_match(pattern: str, name: str) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it has a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if not star:
            return False
        for skip in range(len(name)):
            if name[skip] == "/":
                return False  # a star never skips a /
            rest = _match_chunk(chunk, name[skip + 1 :])
            if rest is not None and (rest == "" or pattern):
                name = rest
                break
        else:
            return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Leading stars, then the chunk up to the next star outside a character class."""
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, index = False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            break
        index += 1
    return star, pattern[:index], pattern[index:]


def _match_chunk(chunk: str, text: str) -> str | None:
    """What is left of `text` after `chunk`, None when it does not match; raises on a malformed chunk.

    Like Go, the whole chunk is read even after a mismatch, so a malformed one always raises.
    """
    failed = False
    while chunk:
        failed = failed or not text
        head = chunk[0]
        if head == "[":
            char = "" if failed else text[0]
            text = text if failed else text[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            chunk = chunk[1:] if negated else chunk
            matched, ranges = False, 0
            while not (chunk.startswith("]") and ranges):
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                matched = matched or (not failed and low <= char <= high)
                ranges += 1
            chunk = chunk[1:]
            failed = failed or matched == negated
            continue
        if head == "?":
            if not failed:
                failed = text[0] == "/"
                text = text[1:]
            chunk = chunk[1:]
            continue
        if head == "\\":
            chunk = chunk[1:]
            if not chunk:
                raise _MalformedPattern
        if not failed:
            failed = chunk[0] != text[0]
            text = text[1:]
        chunk = chunk[1:]
    return None if failed else text


def _class_char(chunk: str) -> tuple[str, str]:
    """One (possibly escaped) character of a class and the rest, which must not be empty."""
    if not chunk or chunk[0] in "-]":
        raise _MalformedPattern
    if chunk[0] == "\\":
        chunk = chunk[1:]
    if len(chunk) < 2:
        raise _MalformedPattern
    return chunk[0], chunk[1:]


# --- reading the log (§2.3) ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DryRunMetadata:
    """`profile.metadata` of a dry-run result; Go's zero values ("" and 0) stand for absent."""

    engine: str = ""
    gpu: str = ""
    gpu_count: int = 0
    metric: str = ""
    precision: str = ""
    type: str = ""


@attrs.frozen(kw_only=True)
class DryRunProfile:
    model: str = ""
    quantized_model: str = ""
    metadata: DryRunMetadata = attrs.field(factory=DryRunMetadata)
    #: None when absent or null (the reference then stores JSON null); keys sorted as Go marshals a map.
    engine_args: Mapping[str, Any] | None = None
    env_vars: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class DryRunModel:
    name: str = ""
    source: str = ""
    size_gb: float = 0.0


@attrs.frozen(kw_only=True)
class DryRunResult:
    """The first element of the dry run's JSON array: the only one the reference uses."""

    filename: str = ""
    profile: DryRunProfile = attrs.field(factory=DryRunProfile)
    models: tuple[DryRunModel, ...] = ()


@attrs.frozen(kw_only=True)
class DryRunError:
    """Output that cannot be read, or could not be stored (D26): the template is Failed with this."""

    #: What went wrong, without the quote.
    cause: str
    #: The condition message: the cause and a quote of at most 200 characters of the output.
    message: str
    reason: str = OUTPUT_INVALID


class _NotJson(Exception):
    """Text Go's decoder rejects though Python's accepts it (NaN, Infinity)."""


class _Mismatch(Exception):
    """Go's UnmarshalTypeError: valid JSON of the wrong type for its field."""

    def __init__(self, path: str, value: object, go_type: str) -> None:
        kind = _json_kind(value)
        where = path.lstrip(".")[:120] or "the output"  # keys come from the output: keep it short
        super().__init__(f"json: cannot unmarshal {kind} into {where} of type {go_type}")


@attrs.frozen
class _Object:
    """A JSON object as its key/value pairs in order: Go assigns them one by one."""

    pairs: tuple[tuple[str, object], ...]


@attrs.frozen
class _Number:
    """A number literal, converted only where a field says how (as Go's decoder does)."""

    text: str


def _object_pairs(pairs: list[tuple[str, object]]) -> _Object:
    return _Object(tuple(pairs))


def _reject_constant(name: str) -> object:
    raise _NotJson(name)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_pairs, parse_int=_Number, parse_float=_Number, parse_constant=_reject_constant
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_LITERAL = re.compile(r"-?[0-9]+")
# Go matches keys case-insensitively; besides ASCII only the Kelvin sign and the long s fold
# onto an ASCII letter, and the field names are ASCII.
_GO_KEY_FOLD = str.maketrans(
    {chr(code): chr(code + 32) for code in range(ord("A"), ord("Z") + 1)} | {"\u212a": "k", "\u017f": "s"}
)

_Decode = Callable[[Any, object, str], Any]


def _json_kind(value: object) -> str:
    if isinstance(value, _Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, _Number):
        return f"number {value.text[:40]}"
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "null"


def _go_text(text: str) -> str:
    """Go decodes a lone surrogate escape to U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _string(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current  # Go leaves a field as it is for null
    if isinstance(value, str):
        return _go_text(value)
    raise _Mismatch(path, value, "string")


def _int32(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current
    if isinstance(value, _Number) and len(value.text) <= 11 and _INT_LITERAL.fullmatch(value.text):
        number = int(value.text)
        if -(2**31) <= number < 2**31:
            return number
    raise _Mismatch(path, value, "int32")  # "1", 1.0, 1e0 and out of range alike


def _float64(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current
    if isinstance(value, _Number) and math.isfinite(number := float(value.text)):
        return number
    raise _Mismatch(path, value, "float64")


def _go_number(value: _Number, path: str) -> int | float:
    """A number in engine_args: a float64 in Go, written back as Go writes it (1, not 1.0)."""
    number = float(value.text)
    if not math.isfinite(number):
        raise _Mismatch(path, value, "float64")
    if number.is_integer() and abs(number) < 1e21:
        return int(Decimal(repr(number)))  # Go prints the shortest digits, then zeros
    return number


def _any(value: object, path: str) -> Any:
    """A value decoded into Go's interface{}: maps, slices, strings, float64s, bools, nil."""
    if isinstance(value, _Object):
        members = {_go_text(key): _any(item, f"{path}.{key}") for key, item in value.pairs}
        return dict(sorted(members.items()))
    if isinstance(value, list):
        return [_any(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, _Number):
        return _go_number(value, path)
    return _go_text(value) if isinstance(value, str) else value


def _any_map(current: Any, value: object, path: str) -> Any:
    """map[string]any: null clears it, an object is merged into it (a duplicate key merges too)."""
    if value is None:
        return None
    if not isinstance(value, _Object):
        raise _Mismatch(path, value, "map[string]interface {}")
    merged = dict(current or {})
    for key, item in value.pairs:
        merged[_go_text(key)] = _any(item, f"{path}.{key}")
    return dict(sorted(merged.items()))


def _string_map(current: Any, value: object, path: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, _Object):
        raise _Mismatch(path, value, "map[string]string")
    merged = dict(current or {})
    for key, item in value.pairs:
        merged[_go_text(key)] = _string("", item, f"{path}.{key}")  # null becomes ""
    return dict(sorted(merged.items()))


def _struct(fields: Mapping[str, tuple[str, _Decode]]) -> _Decode:
    """A Go struct: known keys (exact, else case-folded) decode into their field, others are skipped."""
    folded = {key.translate(_GO_KEY_FOLD): entry for key, entry in fields.items()}

    def decode(current: Any, value: object, path: str) -> Any:
        if value is None:
            return current
        if not isinstance(value, _Object):
            raise _Mismatch(path, value, "object")
        merged = dict(current)
        for key, item in value.pairs:
            entry = fields.get(key) or folded.get(key.translate(_GO_KEY_FOLD))
            if entry is not None:
                attribute, inner = entry
                merged[attribute] = inner(merged[attribute], item, f"{path}.{attribute}")
        return merged

    return decode


def _slice(element: _Decode, zero: Mapping[str, Any]) -> _Decode:
    """A Go slice of structs: null clears it; an array replaces it, reusing elements Go would reuse."""

    def decode(current: Any, value: object, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Mismatch(path, value, "array")
        old = current or []
        return [
            element(old[index] if index < len(old) else zero, item, f"{path}[{index}]")
            for index, item in enumerate(value)
        ]

    return decode


_METADATA_ZERO = {"engine": "", "gpu": "", "gpu_count": 0, "metric": "", "precision": "", "type": ""}
_METADATA = _struct(
    {
        "engine": ("engine", _string),
        "gpu": ("gpu", _string),
        "precision": ("precision", _string),
        "gpu_count": ("gpu_count", _int32),
        "gpuCount": ("gpu_count", _int32),  # D27: the reference's status spelling is read too
        "metric": ("metric", _string),
        "type": ("type", _string),
    }
)
_PROFILE_ZERO = {
    "model": "",
    "quantized_model": "",
    "metadata": _METADATA_ZERO,
    "engine_args": None,
    "env_vars": None,
}
_PROFILE = _struct(
    {
        "model": ("model", _string),
        "quantized_model": ("quantized_model", _string),
        "metadata": ("metadata", _METADATA),
        "engine_args": ("engine_args", _any_map),
        "env_vars": ("env_vars", _string_map),
    }
)
_MODEL_ZERO = {"name": "", "source": "", "size_gb": 0.0}
_MODEL = _struct({"name": ("name", _string), "source": ("source", _string), "size_gb": ("size_gb", _float64)})
_RESULT_ZERO = {"filename": "", "profile": _PROFILE_ZERO, "models": None}
_RESULT = _struct(
    {
        "filename": ("filename", _string),
        "profile": ("profile", _PROFILE),
        "models": ("models", _slice(_MODEL, _MODEL_ZERO)),
    }
)
_RESULTS = _slice(_RESULT, _RESULT_ZERO)


def _results(document: object) -> list[dict[str, Any]]:
    """`[]discoveryResult` from a decoded document; raises _Mismatch as Go's Unmarshal fails."""
    decoded: list[dict[str, Any]] | None = _RESULTS(None, document, "")
    return decoded or []


def _whole(log: str) -> list[dict[str, Any]] | _Mismatch | None:
    """The whole log as the results array; None when it is not JSON at all."""
    try:
        return _results(_DECODER.decode(log))
    except _Mismatch as mismatch:
        return mismatch
    except (ValueError, RecursionError, _NotJson):
        return None


class _TooDeep(Exception):
    """Nesting beyond Python's recursion limit (Go's decoder allows 10000 levels)."""


#: Where a non-empty array of results can start: its first element is an object (then a key or
#: `}`) or null (then `,` or `]`); any other `[` fails Go's decode. Skipping those changes no
#: answer and spares noisy logs a decode per `[INFO]` or Python-repr `[{'a': 1}]`.
_CANDIDATE = re.compile(r'\[[ \t\n\r]*(?:\{[ \t\n\r]*["}]|null[ \t\n\r]*[,\]])')


def _last_array(log: str) -> list[dict[str, Any]] | None:
    """The reference's fallback: from the LAST `]` back to the nearest `[` giving a non-empty array."""
    end = log.rfind("]")
    if end < 0:
        return None
    for start in reversed([match.start() for match in _CANDIDATE.finditer(log, 0, end + 1)]):
        try:
            document, stop = _DECODER.raw_decode(log, start)
            if stop != end + 1:  # the slice must end exactly at that `]`, as Go parses it
                continue
            results = _results(document)
        except RecursionError:
            raise _TooDeep from None  # every candidate further left contains this one
        except (ValueError, _NotJson, _Mismatch):
            continue
        if results:
            return results
    return None


def parse_dry_run(log: str) -> DryRunResult | DryRunError:
    """The first result of a dry run's log (stdout and stderr as the logs API serves them), §2.3.

    As the reference: the whole log as a JSON array, else the slice from the last `]` back to
    the nearest `[` that parses as a non-empty array (so trailing noise containing `]` defeats
    it); an empty array is an error; only the first element counts; unknown keys are ignored,
    keys match case-insensitively and a type mismatch fails, as Go's decoder does. Additions:
    `gpuCount` is read like `gpu_count` (D27), and a result aimcore's CRDs would refuse to
    store (a model id or source URI off its pattern, a negative GPU count, a GPU name over 64
    characters, a size beyond int64 bytes) is an error too, where the reference would fail
    every status write. Errors quote at most 200 characters of the output (D26).
    """
    whole = _whole(log)
    if isinstance(whole, list):
        if not whole:
            return _error("it is an empty array", log)
        return _checked(_result(whole[0]), log)
    try:
        fallback = _last_array(log)
    except _TooDeep:
        return _error("it is nested too deeply", log)
    if fallback is not None:
        return _checked(_result(fallback[0]), log)
    if isinstance(whole, _Mismatch):
        return _error(str(whole), log)
    return _error("no JSON array of results found", log)


def _result(decoded: Mapping[str, Any]) -> DryRunResult:
    profile = decoded["profile"]
    return DryRunResult(
        filename=decoded["filename"],
        profile=DryRunProfile(
            model=profile["model"],
            quantized_model=profile["quantized_model"],
            metadata=DryRunMetadata(**profile["metadata"]),
            engine_args=profile["engine_args"],
            env_vars=profile["env_vars"],
        ),
        models=tuple(DryRunModel(**model) for model in decoded["models"] or ()),
    )


_GPU_MODEL_MAX = int(attrs.fields(r.GpuRequirements).model.metadata[schema.MAX_LENGTH])


def _checked(result: DryRunResult, log: str) -> DryRunResult | DryRunError:
    """The result, or why aimcore's CRDs would refuse the status it becomes."""
    metadata = result.profile.metadata
    if metadata.gpu_count < 0:
        return _error(f"profile.metadata.gpu_count is negative ({metadata.gpu_count})", log)
    if len(metadata.gpu) > _GPU_MODEL_MAX:
        return _error(f"profile.metadata.gpu is longer than {_GPU_MODEL_MAX} characters", log)
    for index, model in enumerate(result.models):
        if not _pattern_match(r.MODEL_ID_PATTERN, model.name):
            return _error(f"models[{index}].name {json.dumps(model.name[:80])} is not {{org}}/{{name}}", log)
        if not _pattern_match(r.SOURCE_URI_PATTERN, model.source):
            source = json.dumps(model.source[:80])
            return _error(f"models[{index}].source {source} is not hf://... or s3://...", log)
        if _size_bytes(model.size_gb) is None:
            return _error(f"models[{index}].size_gb {model.size_gb!r} is beyond int64 bytes", log)
    return result


def _pattern_match(pattern: str, text: str) -> bool:
    """An anchored CRD pattern as the API server reads it: `$` is the very end, not before a newline."""
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text) is not None


def _error(cause: str, log: str) -> DryRunError:
    """Quote the END of the output: a failing program's last lines say why."""
    if not log.strip():
        return DryRunError(cause=cause, message=f"Discovery output is invalid: {cause}. It is empty.")
    excerpt = log[-QUOTED_OUTPUT_MAX:]
    where = "Output" if len(excerpt) == len(log) else f"Its last {QUOTED_OUTPUT_MAX} of {len(log)} characters"
    quoted = json.dumps(_go_text(excerpt), ensure_ascii=False)
    return DryRunError(cause=cause, message=f"Discovery output is invalid: {cause}. {where}: {quoted}")


# --- the result as status (§2.3, §3.1) -------------------------------------------------


def profile_from_result(result: DryRunResult) -> r.TemplateProfile:
    """status.profile: engine_args, env_vars, metadata (gpu_count spelled as D27 says aimcore writes it).

    Empty strings, a zero count and empty env_vars are left out, as the reference's omitempty
    leaves them out; engine_args stays as read (None for null). filename, model and
    quantized_model are dropped, as in the reference; spec.type does not override the type.
    """
    metadata = result.profile.metadata
    return r.TemplateProfile(
        engine_args=result.profile.engine_args,
        env_vars=result.profile.env_vars or None,
        metadata=r.ProfileMetadata(
            engine=metadata.engine or None,
            gpu=metadata.gpu or None,
            gpu_count=metadata.gpu_count or None,
            metric=metadata.metric or None,
            precision=metadata.precision or None,
            type=metadata.type or None,
        ),
    )


def model_sources_from_result(result: DryRunResult) -> tuple[r.ModelSource, ...] | None:
    """status.modelSources: {modelId, sourceUri, size} per discovered model; None when there are none."""
    sources = tuple(
        r.ModelSource(model_id=model.name, source_uri=model.source, size=size_quantity(model.size_gb))
        for model in result.models
    )
    return sources or None


def _size_bytes(size_gb: float) -> int | None:
    """int64(size_gb * 1024^3) as Go converts it (toward zero); None beyond int64."""
    scaled = size_gb * 1024 * 1024 * 1024
    if not math.isfinite(scaled) or not -(2.0**63) <= scaled < 2.0**63:
        return None
    return int(scaled)


def size_quantity(size_gb: float) -> str:
    """A discovered size in GiB as the reference stores it: bytes, rendered BinarySI (0.5 -> "512Mi")."""
    size = _size_bytes(size_gb)
    if size is None:
        raise ValueError(f"size_gb {size_gb!r} is beyond int64 bytes")
    return binary_si(size)


_DECIMAL_SUFFIXES = {0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def binary_si(value: int) -> str:
    """apimachinery's canonical string of resource.NewQuantity(value, BinarySI).

    Multiples of 1024 take the largest binary suffix (536870912 -> "512Mi"); other values are
    plain integers; values between -1024 and 1024 are written DecimalSI (1000 -> "1k").
    """
    if value == 0:
        return "0"
    if value == -(2**63):
        return str(value)  # Go cannot negate it, so it is never divided
    magnitude, sign = abs(value), "-" if value < 0 else ""
    if -1024 < value < 1024:
        exponent = 0
        while magnitude >= 10 and magnitude % 10 == 0:
            magnitude, exponent = magnitude // 10, exponent + 1
        magnitude *= 10 ** (exponent % 3)
        return f"{sign}{magnitude}{_DECIMAL_SUFFIXES[exponent - exponent % 3]}"
    times = 0
    while magnitude >= 1024 and magnitude % 1024 == 0:
        magnitude, times = magnitude // 1024, times + 1
    return f"{sign}{magnitude}{_BINARY_SUFFIXES[times]}"


def resolved_hardware_after_discovery(
    spec_hardware: r.Hardware | None, result: DryRunResult
) -> r.Hardware | None:
    """status.resolvedHardware after discovery (§3.1): the DISCOVERED gpu and count, even 0 / "".

    resourceName and minVram come from spec.hardware.gpu (resourceName defaulted to amd.com/gpu,
    as the API server defaults it before the reference reads it, which makes a gpu block appear
    whenever the spec has one); cpu is copied; None when neither gpu nor cpu results.
    """
    spec_gpu = spec_hardware.gpu if spec_hardware else None
    resource_name = (spec_gpu.resource_name or DEFAULT_GPU_RESOURCE) if spec_gpu is not None else ""
    count, model = result.profile.metadata.gpu_count, result.profile.metadata.gpu
    gpu = None
    if count > 0 or model or resource_name:
        gpu = r.GpuRequirements(
            requests=count,
            model=model or None,
            resource_name=resource_name or None,
            min_vram=spec_gpu.min_vram if spec_gpu is not None else None,
        )
    cpu = spec_hardware.cpu if spec_hardware else None
    if gpu is None and cpu is None:
        return None
    return r.Hardware(gpu=gpu, cpu=cpu)


# --- observations and health (§2.4) ----------------------------------------------------


@attrs.frozen(kw_only=True)
class JobCondition:
    """One of a Job's status.conditions; only Complete and Failed mean anything here."""

    type: str
    status: r.ConditionStatus
    reason: str = ""
    message: str = ""


@attrs.frozen(kw_only=True)
class JobObservation:
    """A discovery Job as a snapshot holds it."""

    name: str
    namespace: str
    uid: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict)
    creation_timestamp: str | None = None
    conditions: tuple[JobCondition, ...] = ()

    def condition(self, type_: str) -> JobCondition | None:
        """The first condition of this type that is True, as the reference reads them."""
        return next(
            (c for c in self.conditions if c.type == type_ and c.status is r.ConditionStatus.TRUE), None
        )

    @property
    def succeeded(self) -> bool:
        return self.condition("Complete") is not None

    @property
    def failed(self) -> bool:
        return self.condition("Failed") is not None

    @property
    def finished(self) -> bool:
        """Complete or Failed: the reference then plans no new Job until this one is gone (§2.1)."""
        return self.succeeded or self.failed


@attrs.frozen(kw_only=True)
class ContainerObservation:
    """A container status: waiting_* set while waiting, exit_code (and terminated_*) once terminated."""

    name: str
    waiting_reason: str | None = None
    waiting_message: str = ""
    terminated_reason: str = ""
    terminated_message: str = ""
    exit_code: int | None = None


@attrs.frozen(kw_only=True)
class PodObservation:
    """A discovery Pod (label job-name=<job>) as a snapshot holds it."""

    name: str
    namespace: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict)
    phase: str = "Pending"
    #: The pod's Ready condition is True.
    ready: bool = False
    #: status.reason / status.message (Evicted, DeadlineExceeded, ...).
    reason: str = ""
    message: str = ""
    containers: tuple[ContainerObservation, ...] = ()
    init_containers: tuple[ContainerObservation, ...] = ()


class Category(enum.Enum):
    """The reference's error categories: they decide the root status and ConfigValid / AuthValid."""

    AUTH = "Auth"
    INVALID_SPEC = "InvalidSpec"
    MISSING_UPSTREAM = "MissingUpstream"
    INFRASTRUCTURE = "Infrastructure"
    RESOURCE_EXHAUSTION = "ResourceExhaustion"


#: The category of each error reason this module gives (§2.4; D26 for the output).
CATEGORIES: Mapping[str, Category] = {
    "JobBackoffLimitExceeded": Category.INVALID_SPEC,
    "JobDeadlineExceeded": Category.INVALID_SPEC,
    "JobEvicted": Category.INFRASTRUCTURE,
    "JobFailed": Category.INVALID_SPEC,
    "ImagePullAuthFailure": Category.AUTH,
    "ImageNotFound": Category.MISSING_UPSTREAM,
    "ImagePullBackOff": Category.INFRASTRUCTURE,
    "PodOOMKilled": Category.RESOURCE_EXHAUSTION,
    "PodEvicted": Category.INFRASTRUCTURE,
    "PodDeadlineExceeded": Category.INVALID_SPEC,
    "PodFailed": Category.INVALID_SPEC,
    OUTPUT_INVALID: Category.INVALID_SPEC,
}


def category(component: Component) -> Category | None:
    """The error category of an unhealthy component; None for a healthy or merely waiting one."""
    return None if component.state is r.Status.READY else CATEGORIES.get(component.reason)


def _error_state(reason: str) -> r.Status:
    """Infrastructure errors are Degraded (retried); the others are Failed (§3.3: MissingUpstream too)."""
    return r.Status.DEGRADED if CATEGORIES[reason] is Category.INFRASTRUCTURE else r.Status.FAILED


_JOB_FAILURES = {
    "BackoffLimitExceeded": "JobBackoffLimitExceeded",
    "DeadlineExceeded": "JobDeadlineExceeded",
    "Evicted": "JobEvicted",
}


def job_health(job: JobObservation | None) -> Component:
    """The DiscoveryJobReady component (§2.4): JobNotCreated, Ready, a failure by its reason, JobRunning."""
    if job is None:
        return Component(
            DISCOVERY_JOB_READY, r.Status.PENDING, "JobNotCreated", "Discovery job has not been created yet"
        )
    for condition in job.conditions:
        if condition.status is not r.ConditionStatus.TRUE:
            continue
        if condition.type == "Complete":
            return Component(DISCOVERY_JOB_READY, r.Status.READY, "Ready", "")
        if condition.type == "Failed":
            reason = _JOB_FAILURES.get(condition.reason, "JobFailed")
            return Component(
                DISCOVERY_JOB_READY, _error_state(reason), reason, condition.message or "Job failed"
            )
    return Component(DISCOVERY_JOB_READY, r.Status.PROGRESSING, "JobRunning", "Job is in progress")


_PULL_WAITING = ("ImagePullBackOff", "ErrImagePull")
_PULL_AUTH = (
    "unauthorized",
    "authentication required",
    "authentication failed",
    "401",
    "403",
    "forbidden",
    "denied",
    "permission denied",
    "access denied",
    "credentials",
    "authentication",
)
_PULL_NOT_FOUND = ("not found", "404", "manifest unknown", "name unknown", "image not found", "no such")


def pods_health(pods: Sequence[PodObservation]) -> Component | None:
    """The DiscoveryPodsReady component (§2.4), None while the Job has no pod.

    Image pull errors first (by the kubelet's message: auth, not found, else infrastructure),
    then a failed pod (by its container's termination), then Ready / Starting / Pending. Not
    done, as they need I/O: a failed pod's last 50 log lines are not scanned for patterns, and
    a Pending pod is not refined by its events (it stays PodsPending). There is no Starting
    status here: a running pod that is not ready is Progressing, reason PodsStarting.
    """
    if not pods:
        return None
    for pod in pods:
        for container in (*pod.containers, *pod.init_containers):
            if container.waiting_reason in _PULL_WAITING:
                return _pull_failure(container)
    for pod in pods:
        if pod.phase == "Failed":
            return _failed_pod(pod)
    if any(pod.phase == "Succeeded" or (pod.phase == "Running" and pod.ready) for pod in pods):
        return Component(DISCOVERY_PODS_READY, r.Status.READY, "PodsReady", "Pods are ready")
    if any(pod.phase == "Running" for pod in pods):
        return Component(
            DISCOVERY_PODS_READY,
            r.Status.PROGRESSING,
            "PodsStarting",
            "Pods are running, waiting for readiness",
        )
    if any(pod.phase == "Pending" for pod in pods):
        return Component(DISCOVERY_PODS_READY, r.Status.PENDING, "PodsPending", "Pods are pending")
    return Component(DISCOVERY_PODS_READY, r.Status.PROGRESSING, "PodsProgressing", "Pods are progressing")


def _pull_failure(container: ContainerObservation) -> Component:
    text = container.waiting_message.lower()
    if any(marker in text for marker in _PULL_AUTH):
        reason = "ImagePullAuthFailure"
    elif any(marker in text for marker in _PULL_NOT_FOUND):
        reason = "ImageNotFound"
    else:
        reason = "ImagePullBackOff"
    message = f"Container {container.name}: {container.waiting_message}"
    return Component(DISCOVERY_PODS_READY, _error_state(reason), reason, message)


def _failed_pod(pod: PodObservation) -> Component:
    """The first terminated container explains the failure, else an init container, else the pod."""
    reason, message = "", ""
    for container in pod.containers:
        if container.exit_code is not None:
            reason, message = container.terminated_reason, container.terminated_message
            if container.exit_code != 0:
                message = f"Container {container.name} failed with exit code {container.exit_code}: {message}"
            elif not message:
                message = f"Container {container.name} terminated with reason: {reason}"
            break
    if not reason:
        for container in pod.init_containers:
            if container.exit_code is not None:
                reason = container.terminated_reason
                if container.exit_code != 0:
                    message = (
                        f"Init container {container.name} failed with exit code {container.exit_code}: "
                        f"{container.terminated_message}"
                    )
                else:
                    message = f"Init container {container.name} terminated with reason: {reason}"
                break
    if not reason:
        reason, message = pod.reason, pod.message
    message = message or "Pod failed"
    component_reason = {
        "OOMKilled": "PodOOMKilled",
        "DeadlineExceeded": "PodDeadlineExceeded",
        "Evicted": "PodEvicted",
    }.get(reason, "PodFailed")
    return Component(DISCOVERY_PODS_READY, _error_state(component_reason), component_reason, message)


def newest_discovery_job(
    jobs: Iterable[JobObservation], namespace: str, template_name: str
) -> JobObservation | None:
    """The template's Job the reference looks at: label aim.eai.amd.com/template, newest creationTimestamp.

    Ties (the reference's order is then arbitrary) go to the greater name, so the answer is stable.
    """
    mine = [
        job for job in jobs if job.namespace == namespace and job.labels.get(LABEL_TEMPLATE) == template_name
    ]
    if not mine:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)
    return max(mine, key=lambda job: (_parse_time(job.creation_timestamp) or oldest, job.name))


def active_discovery_jobs(jobs: Iterable[JobObservation]) -> int:
    """Discovery Jobs cluster-wide (by the §2.1 selector) that are neither Complete nor Failed.

    A new Job may start while this is below ACTIVE_JOB_LIMIT; otherwise the reference waits
    ACTIVE_LIMIT_REQUEUE_SECONDS and tries again.
    """
    return sum(
        1
        for job in jobs
        if not job.finished and all(job.labels.get(key) == value for key, value in JOB_SELECTOR.items())
    )


# --- retries (§2.4, D26) ---------------------------------------------------------------


#: status.discovery (attempts, lastAttemptTime, lastFailureReason, specHash).
DiscoveryState = r.DiscoveryState


def failure_reason(job: JobObservation) -> str:
    """The Failed condition's message, else its reason, else "Unknown failure"; "" if the Job did not fail."""
    condition = job.condition("Failed")
    if condition is None:
        return ""
    return condition.message or condition.reason or "Unknown failure"


def backoff_seconds(attempts: int) -> int:
    """60 s * 2^(attempts-1), at most 3600 s; 0 before any failure.

    The reference shifts an int64 and overflows from the 59th attempt on; this stays at 3600.
    """
    if attempts <= 0:
        return 0
    if attempts > 7:
        return MAX_BACKOFF_SECONDS
    return min(BASE_BACKOFF_SECONDS << (attempts - 1), MAX_BACKOFF_SECONDS)


def _parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time; one without an offset is read as UTC; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def next_discovery(state: DiscoveryState | None, spec_hash: str, now: str) -> int:
    """Seconds to wait before the next discovery Job; 0: it may run now.

    The wait is lastAttemptTime + backoff(attempts) - now, rounded up so a requeue after it
    never wakes early (D26: the caller requeues; the reference never wakes up). A spec hash
    other than the stored one means the inputs changed: no wait. An unreadable
    lastAttemptTime counts as none; an unreadable `now` raises ValueError.
    """
    current = _parse_time(now)
    if current is None:
        raise ValueError(f"now is not an RFC 3339 time: {now!r}")
    if state is None or (state.spec_hash and state.spec_hash != spec_hash):
        return 0
    last = _parse_time(state.last_attempt_time)
    attempts = state.attempts or 0
    if last is None or attempts <= 0:
        return 0
    remaining = last + timedelta(seconds=backoff_seconds(attempts)) - current
    return max(0, math.ceil(remaining.total_seconds()))


def record_failure(
    previous: DiscoveryState | None, job: JobObservation, now: str, spec_hash: str
) -> DiscoveryState | None:
    """status.discovery once `job` is seen Failed (§2.4); `previous` unchanged for a Job that did not fail.

    A stored spec hash other than `spec_hash` restarts the count. A Job created after
    lastAttemptTime is a new attempt: attempts + 1, lastAttemptTime = now, its failure
    reason, the current hash. An older Job was counted already: it changes nothing more, so
    reconciling a failed Job again never counts twice.
    """
    if not job.failed:
        return previous
    state = previous or DiscoveryState()
    attempts = state.attempts or 0
    if state.spec_hash and state.spec_hash != spec_hash:
        attempts = 0
    last = _parse_time(state.last_attempt_time)
    created = _parse_time(job.creation_timestamp)
    if last is None or (created is not None and created > last):
        return DiscoveryState(
            attempts=attempts + 1,
            last_attempt_time=now,
            last_failure_reason=failure_reason(job),
            spec_hash=spec_hash,
        )
    return attrs.evolve(state, attempts=attempts)


def record_success(previous: DiscoveryState | None, spec_hash: str) -> DiscoveryState:
    """status.discovery after a readable result: the hash it was produced for, so a change re-runs it (D26).

    The reference stores the hash only on failure; the failure history is kept as it was.
    """
    return attrs.evolve(previous or DiscoveryState(), spec_hash=spec_hash)


def _go_duration(seconds: int) -> str:
    """Go's Duration.String for whole seconds: 59s, 1m0s, 1h0m0s."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def retry_message(attempts: int, wait_seconds: int) -> str:
    """The Discovered=False/AwaitingDiscovery message while a retry waits (§2.4)."""
    return f"Waiting {_go_duration(wait_seconds)} before retry (attempt {attempts} failed)"
