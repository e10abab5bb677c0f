"""The discovery Job's dry-run output: reading its log back, and the status it becomes.

Faithful to the reference's template controller (reference-template-controller §2.3, §3.1), so a
cluster can move between operators: the same reading of the log, the same profile, model sources
and resolved hardware. Where the reference has a defect this module mends it as D26 rules:
output that cannot be read is an error with a quote of the output, never an empty Ready
template. The Job itself, its health and its retries are aimcore.discoveryjob's concern.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from aimcore import gojson, schema
from aimcore import resources as r

__all__ = [
    "OUTPUT_INVALID",
    "DryRunError",
    "DryRunMetadata",
    "DryRunModel",
    "DryRunProfile",
    "DryRunResult",
    "binary_si",
    "model_sources_from_result",
    "parse_dry_run",
    "profile_from_result",
    "resolved_hardware_after_discovery",
    "size_quantity",
]

#: What the API server defaults spec.hardware.gpu.resourceName to.
DEFAULT_GPU_RESOURCE = "amd.com/gpu"
#: D26: the reason a template gives when its discovery output cannot be read or stored.
OUTPUT_INVALID = "DiscoveryOutputInvalid"
#: D26: how much of an unreadable output a message quotes.
QUOTED_OUTPUT_MAX = 200


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


# The reference's []discoveryResult, decoded field by field as Go decodes it.
_METADATA_ZERO = {"engine": "", "gpu": "", "gpu_count": 0, "metric": "", "precision": "", "type": ""}
_METADATA = gojson.struct(
    {
        "engine": ("engine", gojson.string),
        "gpu": ("gpu", gojson.string),
        "precision": ("precision", gojson.string),
        "gpu_count": ("gpu_count", gojson.int32),
        "gpuCount": ("gpu_count", gojson.int32),  # D27: the reference's status spelling is read too
        "metric": ("metric", gojson.string),
        "type": ("type", gojson.string),
    }
)
_PROFILE_ZERO = {
    "model": "",
    "quantized_model": "",
    "metadata": _METADATA_ZERO,
    "engine_args": None,
    "env_vars": None,
}
_PROFILE = gojson.struct(
    {
        "model": ("model", gojson.string),
        "quantized_model": ("quantized_model", gojson.string),
        "metadata": ("metadata", _METADATA),
        "engine_args": ("engine_args", gojson.any_map),
        "env_vars": ("env_vars", gojson.string_map),
    }
)
_MODEL_ZERO = {"name": "", "source": "", "size_gb": 0.0}
_MODEL = gojson.struct(
    {
        "name": ("name", gojson.string),
        "source": ("source", gojson.string),
        "size_gb": ("size_gb", gojson.float64),
    }
)
_RESULT_ZERO = {"filename": "", "profile": _PROFILE_ZERO, "models": None}
_RESULT = gojson.struct(
    {
        "filename": ("filename", gojson.string),
        "profile": ("profile", _PROFILE),
        "models": ("models", gojson.slice_of(_MODEL, _MODEL_ZERO)),
    }
)
_RESULTS = gojson.slice_of(_RESULT, _RESULT_ZERO)


def _results(document: object) -> list[dict[str, Any]]:
    """`[]discoveryResult` from a decoded document; raises gojson.Mismatch as Go's Unmarshal fails."""
    decoded: list[dict[str, Any]] | None = _RESULTS(None, document, "")
    return decoded or []


def _whole(log: str) -> list[dict[str, Any]] | gojson.Mismatch | None:
    """The whole log as the results array; None when it is not JSON at all."""
    try:
        return _results(gojson.decode(log))
    except gojson.Mismatch as mismatch:
        return mismatch
    except (ValueError, RecursionError, gojson.NotJson):
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
            document, stop = gojson.raw_decode(log, start)
            if stop != end + 1:  # the slice must end exactly at that `]`, as Go parses it
                continue
            results = _results(document)
        except RecursionError:
            raise _TooDeep from None  # every candidate further left contains this one
        except (ValueError, gojson.NotJson, gojson.Mismatch):
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
    characters, a metric, precision or type outside its enum, a size beyond int64 bytes) is an
    error too, where the reference would fail every status write. Errors quote at most 200
    characters of the output (D26).
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
    if isinstance(whole, gojson.Mismatch):
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
#: The values the CRDs allow in status.profile.metadata (the reference's enums).
_METADATA_VALUES: dict[str, tuple[str, ...]] = {
    field.name: field.metadata[schema.ENUM] for field in attrs.fields(r.ProfileMetadata)
    if schema.ENUM in field.metadata
}


def _checked(result: DryRunResult, log: str) -> DryRunResult | DryRunError:
    """The result, or why aimcore's CRDs would refuse the status it becomes."""
    metadata = result.profile.metadata
    if metadata.gpu_count < 0:
        return _error(f"profile.metadata.gpu_count is negative ({metadata.gpu_count})", log)
    if len(metadata.gpu) > _GPU_MODEL_MAX:
        return _error(f"profile.metadata.gpu is longer than {_GPU_MODEL_MAX} characters", log)
    for name in ("metric", "precision", "type"):
        value, allowed = getattr(metadata, name), _METADATA_VALUES[name]
        if value and value not in allowed:
            shown = json.dumps(value[:80])
            return _error(f"profile.metadata.{name} {shown} is not one of {', '.join(allowed)}", log)
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
    quoted = json.dumps(gojson.utf8(excerpt), ensure_ascii=False)
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
    whenever the spec has one); cpu is copied; None when neither gpu nor cpu results. minVram is
    dropped once a GPU model is discovered: a model with minVram breaks the CRDs' rule H2 on
    status.resolvedHardware, which the reference's status write would fail on.
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
            min_vram=spec_gpu.min_vram if spec_gpu is not None and not model else None,
        )
    cpu = spec_hardware.cpu if spec_hardware else None
    if gpu is None and cpu is None:
        return None
    return r.Hardware(gpu=gpu, cpu=cpu)
