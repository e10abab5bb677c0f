"""Names of every object the operator derives from another (DECISIONS D1-D3).

They match the reference operator byte for byte, so a cluster can switch
operators without objects being renamed and recreated: the same sanitising,
the same Go-JSON hash encoding and the same shortening loop.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence

import attrs

from aimcore.images import normalize_image

__all__ = [
    "CustomTemplateKey",
    "HashInput",
    "auto_model_name",
    "custom_model_name",
    "custom_template_name",
    "derived_name",
    "finetuned_copy_name",
    "go_json",
    "is_valid_label",
    "profile_name",
    "reference_model_name",
    "rfc1123_part",
    "template_name",
]

HashInput = str | int | None

MAX_LABEL_LENGTH = 63
_EMPTY_PART = "part"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NOT_LABEL_CHAR = re.compile(r"[^a-z0-9-]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Printable ASCII that neither Python's json nor Go's encoder escapes (no ", &, <, >, \\).
_PLAIN_JSON = re.compile(r"[ !#-%'-;=?-\[\]-~]*")
# Go's encoding/json escapes these even with raw UTF-8 output; Python's json does not.
_GO_EXTRA_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


# ----------------------------------------------------------------------- primitives


def _go_lower(text: str) -> str:
    """Lowercase one code point at a time, as Go's strings.ToLower does (İ -> i, not i + dot)."""
    if text.isascii():
        return text.lower()  # the same answer, without a Python loop over the characters
    return "".join(lowered[0] if len(lowered := char.lower()) > 1 else lowered for char in text)


def rfc1123_part(text: str) -> str:
    """One name part made label-safe without collapsing runs, so `a__b` stays `a--b`."""
    part = _NOT_LABEL_CHAR.sub("-", _go_lower(text)).strip("-")
    part = part[:MAX_LABEL_LENGTH].rstrip("-")
    return part or _EMPTY_PART


def go_json(value: HashInput) -> str:
    """Go's json.Marshal of a string, int or nil: the hash is computed over this text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if _PLAIN_JSON.fullmatch(value):
        return f'"{value}"'  # nothing to escape: what both encoders below would give
    # A Go string cannot hold a lone surrogate; decoding one yields U+FFFD.
    text = _LONE_SURROGATE.sub("\ufffd", value)
    return json.dumps(text, ensure_ascii=False).translate(_GO_EXTRA_ESCAPES)


def _hash(inputs: Iterable[HashInput], length: int) -> str:
    payload = "|".join(go_json(value) for value in inputs).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:length]


def _joined_length(parts: Sequence[str], hash_suffix: str) -> int:
    length = sum(len(part) + 1 for part in parts)
    return length + len(hash_suffix) if hash_suffix else length - 1


def derived_name(
    parts: Sequence[str],
    hash_inputs: Sequence[HashInput] | None = None,
    hash_length: int = 8,
    max_length: int = MAX_LABEL_LENGTH,
) -> str:
    """`part-part-…[-hash]`, shortened by trimming the longest part (the first on ties).

    The hash keeps names unique after shortening; trimming the longest part
    first keeps the short, meaningful parts (GPU, precision) readable.
    """
    if not 1 <= max_length <= MAX_LABEL_LENGTH:
        raise ValueError(f"max_length must be between 1 and {MAX_LABEL_LENGTH}, got {max_length}")
    if not 1 <= hash_length <= 64:
        raise ValueError(f"hash_length must be between 1 and 64, got {hash_length}")
    names = [rfc1123_part(part) for part in parts]
    suffix = "" if hash_inputs is None else _hash(hash_inputs, hash_length)
    while names and _joined_length(names, suffix) > max_length:
        longest = max(range(len(names)), key=lambda index: len(names[index]))
        if len(names[longest]) <= 1:
            break
        names[longest] = names[longest][:-1].rstrip("-")
    name = "-".join(names)
    return f"{name}-{suffix}" if suffix else name


def is_valid_label(name: str) -> bool:
    """An RFC 1123 label: what Kubernetes accepts as a name for all our kinds."""
    return len(name) <= MAX_LABEL_LENGTH and _LABEL.fullmatch(name) is not None


# ----------------------------------------------------------------------- templates


def _metric_shorthand(metric: str) -> str:
    return {"latency": "lat", "throughput": "thr"}.get(metric, metric)


def _gpu_suffix(gpu_model: str, gpu_count: int) -> str:
    if gpu_count > 0 and gpu_model:
        return f"{gpu_count}x-{gpu_model}"
    if gpu_model:
        return gpu_model
    return f"x{gpu_count}" if gpu_count > 0 else ""


def template_name(
    model_name: str, image: str, gpu_model: str, gpu_count: int, metric: str, precision: str
) -> str:
    """Name of a template discovered from a recommended deployment (reference-operator §3.2)."""
    labels = [_gpu_suffix(gpu_model, gpu_count)]
    labels += [_metric_shorthand(metric) if metric else "", precision]
    suffix = "-".join(label for label in labels if label)
    source = f"{model_name}-{image}"
    source += f"-{gpu_model}" if gpu_model else ""
    source += f"-x{gpu_count}" if gpu_count > 0 else ""
    source += f"-{metric}" if metric else ""
    source += f"-{precision}" if precision else ""
    return derived_name([image, suffix], [source], hash_length=4)


@attrs.frozen
class CustomTemplateKey:
    """The fields of one `customTemplates[]` entry that its name depends on.

    `has_profile` / `has_gpu` say whether `profile` / `hardware.gpu` are present:
    presence, not just the values, changes the hash.
    """

    name: str | None = None
    has_profile: bool = False
    precision: str | None = None
    metric: str | None = None
    has_gpu: bool = False
    gpu_requests: int = 0
    gpu_model: str | None = None


def _custom_template_parts(model_name: str, entry: CustomTemplateKey | None) -> list[str]:
    parts = [model_name, "custom"]
    if entry is not None:
        parts += [entry.name or ""]
        parts += [(entry.precision or "") if entry.has_profile else ""]
        parts += [(entry.gpu_model or "") if entry.has_gpu else ""]
    return [part for part in parts if part]


def _custom_template_hash_inputs(
    model_name: str, index: int, entry: CustomTemplateKey | None
) -> list[HashInput]:
    inputs: list[HashInput] = [model_name, index]
    if entry is None:
        return inputs
    inputs.append(entry.name or "")
    if entry.has_profile:
        inputs += [entry.precision or "", entry.metric or ""]
    if entry.has_gpu:
        inputs += [entry.gpu_requests, entry.gpu_model or ""]
    return inputs


def custom_template_name(model_name: str, index: int, entry: CustomTemplateKey | None) -> str:
    """Name of a custom template; `entry` None is the single auto-generated one (§4.2)."""
    return derived_name(
        _custom_template_parts(model_name, entry),
        _custom_template_hash_inputs(model_name, index, entry),
    )


# ----------------------------------------------------------------------- models


def auto_model_name(image: str) -> str:
    """`auto-<12 hex>` of the normalised image (D2): spellings of one image share one model."""
    digest = hashlib.sha256(normalize_image(image).encode("utf-8")).hexdigest()
    return f"auto-{digest[:12]}"


def _sanitize_collapsed(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def _reference_image_parts(image: str) -> tuple[str, str]:
    """Repository name and tag as the reference's ExtractImageParts reads them."""
    head, slash, rest = image.partition("/")
    has_registry = bool(slash) and ("." in head or ":" in head or head == "localhost")
    repository = rest if has_registry else image
    repository, at, digest = repository.partition("@")
    name, colon, tag = repository.rsplit("/", 1)[-1].partition(":")
    if at:
        tag = digest.partition(":")[2][:6] if ":" in digest else digest[:6]
    elif not colon:
        tag = "latest"
    return name, tag


def reference_model_name(image: str) -> str:
    """The reference's `{name}-{tag}-{hash8}` auto-model name (§7.1), which D2 replaces.

    Kept so tooling can recognise models that the reference operator created.
    """
    text = image.strip()
    if not text:
        raise ValueError("image reference is empty")
    raw_name, raw_tag = _reference_image_parts(text)
    name, tag = _sanitize_collapsed(raw_name), _sanitize_collapsed(raw_tag)
    if not name:
        raise ValueError("image name is empty after sanitization")
    if not tag:
        raise ValueError("image tag is empty after sanitization")
    return derived_name([name, tag], [text])


def custom_model_name(base_image: str, sources: Sequence[tuple[str, str, str]]) -> str:
    """Name of a model auto-created from `spec.model.custom` (D3, reference-operator §7.2).

    `sources` are (modelId, sourceUri, AWS endpoint or "") in spec order.
    """
    inputs: list[HashInput] = [base_image]
    for model_id, source_uri, endpoint in sources:
        inputs += [model_id, source_uri] + ([endpoint] if endpoint else [])
    first = sources[0][0] if sources else "custom-model"
    return derived_name([first], inputs)


# ----------------------------------------------------------------------- fine-tuned, profiles


def finetuned_copy_name(
    model_name: str,
    version: str,
    precision: str,
    gpu_model: str,
    aim_id: str,
    model_id: str,
    owner_name: str,
    owner_namespace: str,
    metric: str,
) -> str:
    """Name of a fine-tuned model's copy of a template (reference-finetuned §6.3).

    The source's owner and namespace are hashed so copies of same-named
    templates from different owners or namespaces never collide.
    """
    parts = [model_name, "ft"] + [part for part in (version, precision, gpu_model) if part]
    inputs: list[HashInput] = [model_name, aim_id, model_id, version, owner_name, owner_namespace]
    inputs += [value for value in (metric, precision) if value]
    return derived_name(parts, inputs)


def profile_name(model_name: str, profile_id: str) -> str:
    """Name of a v1alpha2 AIMProfile discovered for a model (reference-finetuned §12.1, D23)."""
    return derived_name([model_name, profile_id], [model_name, profile_id])
