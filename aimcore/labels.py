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

`bound_metadata` decides what of the metadata a model's status may hold (README, "Choices"):
etcd refuses an object over 1.5 MiB and the API server a request over 3 MiB, and an image's
labels have no size limit at all. Sizes are counted as the API server writes JSON (UTF-8, with
Go's escapes: `<`, `>` and `&` take six bytes each), so a bound here holds on the server.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from aimcore import codec, gojson
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
    "LEFT_OUT_MARKER",
    "LEGACY_PREFIX",
    "METADATA_LIMIT",
    "OCI_PREFIX",
    "REPEAT_LIMIT",
    "REPEAT_MARKER",
    "VALUE_LIMIT",
    "Bounded",
    "MalformedLabel",
    "bound_metadata",
    "cut_notice",
    "cut_text",
    "has_aim_labels",
    "json_size",
    "parse_image_metadata",
    "text_size",
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


# ------------------------------------------------------------- what the status may hold

#: The most status.imageMetadata may take, as JSON the API server writes it: the size Kubernetes
#: allows all of an object's annotations together, well inside etcd's 1.5 MiB per object.
METADATA_LIMIT = 256 * 1024
#: The most one text value may take (a parsed field, a list item, an originalLabels value).
VALUE_LIMIT = 16 * 1024
#: An originalLabels value longer than this that a parsed text field holds verbatim is not repeated.
REPEAT_LIMIT = 1024
#: What ends a cut value; the value keeps as many of its first characters as fit in VALUE_LIMIT.
CUT_MARKER = "...[aimcore: cut from {size} bytes]"
#: What an originalLabels value becomes when the field named holds it already.
REPEAT_MARKER = "[aimcore: not repeated, see {field} ({size} bytes)]"
#: What an originalLabels value becomes when the metadata would not fit in METADATA_LIMIT otherwise.
LEFT_OUT_MARKER = "[aimcore: left out, {size} bytes]"

_CUT = re.compile(r"\.\.\.\[aimcore: cut from (\d+) bytes\]\Z")
_REPEATED = re.compile(r"\[aimcore: not repeated, see [A-Za-z.]+ \(\d+ bytes\)\]\Z")
_LEFT_OUT = re.compile(r"\[aimcore: left out, (\d+) bytes\]\Z")
# Characters Go's encoding/json writes as more than their UTF-8 bytes: quote and backslash as two,
# control characters as two or six (counted six), <, > and & as six (\u003c), U+2028/9 as six.
_ESCAPED = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')
_MODEL_TEXT = (
    ("canonical_name", "canonicalName"),
    ("source", "source"),
    ("title", "title"),
    ("description_full", "descriptionFull"),
    ("release_notes", "releaseNotes"),
)
_MODEL_LISTS = (("tags", "tags"), ("versions", "versions"), ("variants", "variants"))
_NAMED_MAX = 5


@attrs.frozen
class Bounded:
    """What status.imageMetadata may hold of some metadata: `metadata` is None when even its
    smallest form (every value cut, every originalLabels value left out) takes more than
    METADATA_LIMIT; `size` is the JSON size of that form."""

    metadata: ImageMetadata | None
    size: int


def _char_size(char: str) -> int:
    if char in '"\\\n\r\t':
        return 2
    if char < " " or char in "<>&\u2028\u2029":
        return 6
    return len(char.encode("utf-8", "surrogatepass"))


def text_size(text: str) -> int:
    """The bytes of a string inside the JSON the API server writes (without its quotes)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    for char in _ESCAPED.findall(text):
        size += _char_size(char) - len(char.encode("utf-8"))
    return size


def json_size(value: object) -> int:
    """The bytes of a dumped document (codec.dump) as the API server writes it, compact."""
    if isinstance(value, str):
        return text_size(value) + 2
    if isinstance(value, Mapping):
        items = [json_size(str(key)) + 1 + json_size(item) for key, item in value.items()]
        return 2 + sum(items) + max(len(items) - 1, 0)
    if isinstance(value, list | tuple):
        return 2 + sum(json_size(item) for item in value) + max(len(value) - 1, 0)
    if value is None:
        return 4
    if isinstance(value, bool):
        return 4 if value else 5
    return len(json.dumps(value))


def cut_text(text: str, limit: int) -> str:
    """`text` when it takes at most `limit` bytes; else its first characters and CUT_MARKER, in
    `limit` bytes at most. A cut text is never cut again, so bounding is idempotent."""
    size = text_size(text)
    if size <= limit:
        return text
    marker = CUT_MARKER.format(size=size)
    room = limit - text_size(marker)
    used = end = 0
    while used + _char_size(text[end]) <= room:  # the text is longer than room: this stops in it
        used += _char_size(text[end])
        end += 1
    return text[:end] + marker


def _cut(text: str | None) -> str | None:
    return None if text is None else cut_text(text, VALUE_LIMIT)


def _cut_all(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if items is None else tuple(cut_text(item, VALUE_LIMIT) for item in items)


def _text_fields(metadata: ImageMetadata) -> list[tuple[str, str | None]]:
    """Every single-valued text field as (status path, value), in the order references prefer."""
    model = metadata.model or ModelMetadata()
    oci = metadata.oci or OCIMetadata()
    fields = [(f"model.{wire}", getattr(model, name)) for name, wire in _MODEL_TEXT]
    fields += [(f"oci.{name}", getattr(oci, name)) for name in _OCI_FIELDS]
    return [*fields, ("baseImageRef", metadata.base_image_ref)]


def _all_texts(metadata: ImageMetadata) -> list[tuple[str, str]]:
    """Every text value bound_metadata may cut, as (status path, value)."""
    texts = [(path, value) for path, value in _text_fields(metadata) if value is not None]
    model = metadata.model or ModelMetadata()
    for name, wire in _MODEL_LISTS:
        items: tuple[str, ...] = getattr(model, name) or ()
        texts += [(f"model.{wire}[{index}]", item) for index, item in enumerate(items)]
    labels = metadata.original_labels or {}
    return texts + [(f"originalLabels[{key}]", value) for key, value in labels.items()]


def _with_texts_cut(metadata: ImageMetadata) -> ImageMetadata:
    model = metadata.model
    if model is not None:
        changes: dict[str, Any] = {name: _cut(getattr(model, name)) for name, _ in _MODEL_TEXT}
        changes.update({name: _cut_all(getattr(model, name)) for name, _ in _MODEL_LISTS})
        model = attrs.evolve(model, **changes)
    oci = metadata.oci
    if oci is not None:
        oci = attrs.evolve(oci, **{name: _cut(getattr(oci, name)) for name in _OCI_FIELDS})
    return attrs.evolve(metadata, model=model, oci=oci, base_image_ref=_cut(metadata.base_image_ref))


def _stored_labels(metadata: ImageMetadata) -> dict[str, str]:
    """originalLabels with each label stored once: a long value a text field holds verbatim
    becomes a reference to that field, any other value is cut to VALUE_LIMIT."""
    holders: dict[str, str] = {}
    for path, value in _text_fields(metadata):
        if value is not None:
            holders.setdefault(value, path)
    stored: dict[str, str] = {}
    for key, value in (metadata.original_labels or {}).items():
        size = text_size(value)
        holder = holders.get(value) if size > REPEAT_LIMIT else None
        if holder is not None:
            stored[key] = REPEAT_MARKER.format(field=holder, size=size)
        else:
            stored[key] = cut_text(value, VALUE_LIMIT)
    return stored


def bound_metadata(metadata: ImageMetadata) -> Bounded:
    """What status.imageMetadata may hold of `metadata` (README, "Choices").

    1. originalLabels stores each label once: a value over REPEAT_LIMIT that a text field
       (model.title, model.descriptionFull, an oci field, ...) holds verbatim becomes REPEAT_MARKER.
    2. Every text value over VALUE_LIMIT (parsed fields, list items, originalLabels values, but not
       the recommended deployments, which templates are made of) is cut with CUT_MARKER.
    3. While the whole takes more than METADATA_LIMIT, the largest remaining originalLabels value
       (the first key on a tie) becomes LEFT_OUT_MARKER; label names are never cut or dropped.
    4. If it is still too large, nothing is stored (`metadata` None).

    Idempotent: bounding what it returns gives the same metadata again.
    """
    labels = _stored_labels(metadata)
    bounded = attrs.evolve(_with_texts_cut(metadata), original_labels=labels or None)
    size = json_size(codec.dump(bounded))
    if size <= METADATA_LIMIT:
        return Bounded(bounded, size)
    originals = metadata.original_labels or {}
    largest = sorted(
        (
            (text_size(value), key)
            for key, value in labels.items()
            if not (_REPEATED.match(value) or _LEFT_OUT.match(value))
        ),
        key=lambda pair: (-pair[0], pair[1]),
    )
    for value_size, key in largest:
        if size <= METADATA_LIMIT:
            break
        marker = LEFT_OUT_MARKER.format(size=_original_size(originals[key]))
        saved = value_size - text_size(marker)
        if saved <= 0:
            break  # the rest are no larger: nothing more to gain
        labels[key] = marker
        size -= saved
    bounded = attrs.evolve(bounded, original_labels=labels or None)
    size = json_size(codec.dump(bounded))
    return Bounded(bounded if size <= METADATA_LIMIT else None, size)


def _original_size(value: str) -> int:
    """A value's size before any cut (a value cut before says how large it was)."""
    cut = _CUT.search(value)
    return int(cut.group(1)) if cut else text_size(value)


def cut_notice(metadata: ImageMetadata) -> str:
    """What bound_metadata cut from this stored metadata, read from its markers ("" if nothing),
    so the condition says the same whether the metadata was just read or taken from the status."""
    cut: list[str] = []
    left_out: list[str] = []
    for path, value in _all_texts(metadata):
        if found := _CUT.search(value):
            cut.append(f"{_shown_name(path)} ({found.group(1)} bytes)")
        elif path.startswith("originalLabels[") and (found := _LEFT_OUT.match(value)):
            left_out.append(f"{_shown_name(path[len('originalLabels[') : -1])} ({found.group(1)} bytes)")
    parts = []
    if cut:
        parts.append(f"{_listing(cut)} {'is' if len(cut) == 1 else 'are'} cut to {VALUE_LIMIT // 1024} KiB")
    if left_out:
        parts.append(f"originalLabels leaves out the value of {_listing(left_out)}")
    if not parts:
        return ""
    return (
        f"Image metadata cut to fit the model's status (at most {VALUE_LIMIT // 1024} KiB a value, "
        f"{METADATA_LIMIT // 1024} KiB in all): " + "; ".join(parts)
    )


def _shown_name(name: str) -> str:
    return name if len(name) <= 2 * _SHOWN_MAX else name[: 2 * _SHOWN_MAX - 3] + "..."


def _listing(items: list[str]) -> str:
    """"a", "a and b", "a, b and c", at most _NAMED_MAX named: "a, b, c, d, e and 3 more"."""
    named = items[:_NAMED_MAX]
    more = len(items) - len(named)
    if more:
        return f"{', '.join(named)} and {more} more"
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
