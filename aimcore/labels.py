"""An image's config (labels and Env) as typed ImageMetadata: discovery's only parser.

Reading follows the reference operator (reference-operator §2), so an image means the same
to both operators, except where DECISIONS D5/D6 rule otherwise:

- deployments are also read from `com.amd.aim.model.deployments`, the document's name;
- single quotes are swapped for double quotes only when the value is not valid JSON as
  written, so an apostrophe inside valid JSON is never corrupted;
- a deployment the operator could not turn into a valid template (null, a non-integer or
  negative gpuCount, an unknown metric or precision) is a malformed label, not an empty one.

Failure is raised, not returned: the caller turns it into a condition in exactly one place,
while the checks sit several helpers deep, where a result type would have to be threaded
through each of them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aimcore import gojson
from aimcore.facts import ImageFacts
from aimcore.resources import (
    ImageMetadata,
    Metric,
    ModelMetadata,
    OCIMetadata,
    Precision,
    RecommendedDeployment,
)

__all__ = [
    "AIM_PREFIX",
    "BASE_IMAGE_ENV",
    "DEPLOYMENTS_LABELS",
    "LEGACY_PREFIX",
    "OCI_PREFIX",
    "MalformedLabel",
    "has_aim_labels",
    "parse_image_metadata",
]

AIM_PREFIX = "com.amd.aim."
LEGACY_PREFIX = "org.amd.silogen."
OCI_PREFIX = "org.opencontainers.image."
BASE_IMAGE_ENV = "AIM_BASE_IMAGE_REF"

#: Where the deployments list is read from, first non-empty value wins (D5).
DEPLOYMENTS_LABELS = (
    AIM_PREFIX + "model.recommendedDeployments",
    AIM_PREFIX + "model.deployments",
    LEGACY_PREFIX + "model.recommendedDeployments",
    LEGACY_PREFIX + "model.deployments",
)

_OCI_FIELDS = (
    "title",
    "description",
    "licenses",
    "vendor",
    "authors",
    "source",
    "documentation",
    "created",
    "revision",
    "version",
)

# Go's strings.TrimSpace set (unicode.IsSpace); Python's str.strip() also drops \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" + (
    "\u2028\u2029\u202f\u205f\u3000"
)
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT32_MAX = 2**31 - 1
_SHOWN_MAX = 60


class MalformedLabel(ValueError):
    """A label the operator cannot use; `message` names the label and is safe to show (D6)."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(label, message)
        self.label = label
        self.message = message

    def __str__(self) -> str:
        return self.message


def has_aim_labels(metadata: ImageMetadata) -> bool:
    """Whether the image is an AIM image (ImageMetadataFound) or just an image (ImageFound, D6)."""
    return metadata.model is not None and metadata.model.canonical_name is not None


def parse_image_metadata(facts: ImageFacts) -> ImageMetadata:
    """The metadata of an inspected image; raises MalformedLabel when its deployments are unusable."""
    labels = facts.labels
    return ImageMetadata(
        model=ModelMetadata(
            canonical_name=_aim_label(labels, "model.canonicalName") or None,
            source=_aim_label(labels, "model.source") or None,
            tags=_comma_list(_aim_label(labels, "model.tags")),
            versions=_comma_list(_aim_label(labels, "model.versions")),
            variants=_comma_list(_aim_label(labels, "model.variants")),
            hf_token_required=_go_bool(_aim_label(labels, "hfToken.required")),
            title=_aim_label(labels, "title") or None,
            description_full=_aim_label(labels, "description.full") or None,
            release_notes=_aim_label(labels, "release.notes") or None,
            recommended_deployments=_deployments(labels),
        ),
        oci=OCIMetadata(**{name: labels.get(OCI_PREFIX + name) or None for name in _OCI_FIELDS}),
        original_labels=dict(labels) or None,
        base_image_ref=_base_image_ref(facts.env),
    )


# ----------------------------------------------------------------------- plain labels


def _aim_label(labels: Mapping[str, str], suffix: str) -> str:
    """An empty AIM label counts as missing, so the legacy one still applies."""
    return labels.get(AIM_PREFIX + suffix) or labels.get(LEGACY_PREFIX + suffix) or ""


def _go_trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def _comma_list(text: str) -> tuple[str, ...] | None:
    """Nothing left after dropping blanks is the same as no label: None."""
    items = tuple(item for part in text.split(",") if (item := _go_trim(part)))
    return items or None


def _go_bool(text: str) -> bool | None:
    """strconv.ParseBool; anything else is ignored, as the reference ignores it, not an error."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def _base_image_ref(env: Iterable[str]) -> str | None:
    """The first AIM_BASE_IMAGE_REF entry decides, even when empty (reference-finetuned §10)."""
    prefix = BASE_IMAGE_ENV + "="
    for entry in env:
        if entry.startswith(prefix):
            return entry[len(prefix) :] or None
    return None


# ------------------------------------------------------------------------ deployments


class _Invalid(Exception):
    """A problem inside the deployments value, before it is given the label's name."""


def _deployments(labels: Mapping[str, str]) -> tuple[RecommendedDeployment, ...] | None:
    """() when a label is present with zero deployments, None when there is no label."""
    for key in DEPLOYMENTS_LABELS:
        value = labels.get(key)
        if value:
            return tuple(_deployment(key, index, item) for index, item in enumerate(_decode(key, value)))
    return None


def _decode(key: str, value: str) -> list[object]:
    """The value as a JSON array, accepting Python-style quotes only where JSON fails (D5)."""
    text = _go_trim(value)
    wrapped = not text.startswith("[")
    try:
        return _load(key, text, wrapped)
    except json.JSONDecodeError as as_written:
        failure = as_written
    if "'" in text:
        try:
            return _load(key, text.replace("'", '"'), wrapped)
        except json.JSONDecodeError as swapped:
            # The swap keeps every position, so the attempt that read further explains best.
            failure = swapped if swapped.pos > failure.pos else failure
    # Report the position in the label as the user wrote it, not in the wrapped copy.
    position = len(value) - len(value.lstrip(_GO_SPACE)) + failure.pos - (1 if wrapped else 0)
    position = max(0, min(position, len(value)))
    line = value.count("\n", 0, position) + 1
    column = position - value.rfind("\n", 0, position)
    raise MalformedLabel(
        key, f"label {key} is not valid JSON: {failure.msg} at line {line} column {column}"
    ) from None


def _load(key: str, text: str, wrapped: bool) -> list[object]:
    """One strict JSON read; only a syntax error (JSONDecodeError) leaves room for a retry."""
    try:
        decoded = gojson.decode(f"[{text}]" if wrapped else text)
    except gojson.NotJson as err:
        raise MalformedLabel(key, f"label {key} is not valid JSON: {err}") from None
    except RecursionError:
        raise MalformedLabel(key, f"label {key} is not valid JSON: it is nested too deeply") from None
    assert isinstance(decoded, list)  # the text is a JSON array: it starts with "[" or was wrapped
    return decoded


def _deployment(key: str, index: int, item: object) -> RecommendedDeployment:
    if item is None:
        raise MalformedLabel(key, f"label {key}: deployment {index} is null")
    if not isinstance(item, gojson.Object):
        raise MalformedLabel(key, f"label {key}: deployment {index} must be an object, not {_shown(item)}")
    fields: dict[str, Any] = {}
    for name, value in item.pairs:
        field = _field(name)
        # Go leaves a field untouched for null and for unknown keys; a later duplicate wins.
        if field is None or value is None:
            continue
        attribute, parse = _FIELDS[field]
        try:
            fields[attribute] = parse(field, value)
        except _Invalid as err:
            raise MalformedLabel(key, f"label {key}: deployment {index}: {err}") from None
    return RecommendedDeployment(**fields)


def _text(field: str, value: object) -> str | None:
    """Empty is unset, as in the reference; lone surrogates become U+FFFD, as Go decodes them."""
    if not isinstance(value, str):
        raise _Invalid(f"{field} must be a string, not {_shown(value)}")
    return gojson.utf8(value) or None


def _count(field: str, value: object) -> int | None:
    """An int32 like the reference's, but never negative: a template cannot request -1 GPUs."""
    if not isinstance(value, gojson.Number) or not value.integral:
        raise _Invalid(f"{field} must be an integer, not {_shown(value)}")
    count = value.integer
    if count is None or not 0 <= count <= _INT32_MAX:
        raise _Invalid(f"{field} must be an integer from 0 to {_INT32_MAX}, not {_shown(value)}")
    return count or None  # 0 is the reference's unset count


def _choice(kind: type[enum.Enum]) -> Callable[[str, object], str | None]:
    """A parser accepting the enum's values in any case, giving them in lowercase."""
    valid = [str(member.value) for member in kind]

    def parse(field: str, value: object) -> str | None:
        text = _text(field, value)
        if text is None:
            return None
        if text.lower() not in valid:
            raise _Invalid(f"{field} must be one of {', '.join(valid)}, not {_shown(text)}")
        return text.lower()

    return parse


def _shown(value: object) -> str:
    """A value as JSON would spell it, shortened: messages end up in conditions."""
    if isinstance(value, gojson.Object):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, gojson.Number):
        integer = value.integer
        shown = value.text if integer is None else str(integer)  # -0 is the count 0
    else:
        shown = gojson.utf8(json.dumps(value, ensure_ascii=False))
    return shown if len(shown) <= _SHOWN_MAX else shown[: _SHOWN_MAX - 3] + "..."


_FIELDS: dict[str, tuple[str, Callable[[str, object], object]]] = {
    "gpuModel": ("gpu_model", _text),
    "gpuCount": ("gpu_count", _count),
    "precision": ("precision", _choice(Precision)),
    "metric": ("metric", _choice(Metric)),
    "profileId": ("profile_id", _text),
    "description": ("description", _text),
    "modelId": ("model_id", _text),
}
#: The JSON field a key sets: exact match first, then Go's case-insensitive one.
_field = gojson.field_lookup({name: name for name in _FIELDS})
