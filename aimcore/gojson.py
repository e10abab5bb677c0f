"""Documents decoded as Go's encoding/json decodes them.

The reference operator is Go, so a document it decodes (an image's deployments label, a dry
run's output) must mean the same here. Python's json module accepts NaN and Infinity, converts
numbers at once and keeps the last of duplicate keys; here objects stay ordered pairs (Go
assigns them one by one), numbers stay literal text until a field says how to convert them,
keys find their field case-insensitively, and each `Decode` fills a value as Go fills a field
of its type, raising Mismatch where Go's Unmarshal fails.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

import attrs

__all__ = [
    "Decode",
    "Mismatch",
    "NotJson",
    "Number",
    "Object",
    "any_map",
    "decode",
    "field_lookup",
    "float64",
    "int32",
    "raw_decode",
    "slice_of",
    "string",
    "string_map",
    "struct",
    "utf8",
]


class NotJson(Exception):
    """Text Go's decoder rejects though Python's accepts it (NaN, Infinity)."""


class Mismatch(Exception):
    """Go's UnmarshalTypeError: valid JSON of the wrong type for its field."""

    def __init__(self, path: str, value: object, go_type: str) -> None:
        where = path.lstrip(".")[:120] or "the output"  # keys come from the document: keep it short
        super().__init__(f"json: cannot unmarshal {_kind(value)} into {where} of type {go_type}")


@attrs.frozen
class Object:
    """A JSON object as its key/value pairs in order: Go assigns them one by one."""

    pairs: tuple[tuple[str, object], ...]


@attrs.frozen
class Number:
    """A number literal as written: Go converts it only once a field says to what."""

    text: str

    @property
    def integral(self) -> bool:
        """Without fraction or exponent: Go fills an integer field with nothing else."""
        return not any(char in ".eE" for char in self.text)

    @property
    def integer(self) -> int | None:
        """The integer it spells; None for a float or one longer than any Go integer (20 characters)."""
        return int(self.text) if self.integral and len(self.text) <= 20 else None


def _object(pairs: list[tuple[str, object]]) -> Object:
    return Object(tuple(pairs))


def _reject(name: str) -> object:
    raise NotJson(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=Number, parse_float=Number, parse_constant=_reject
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Go matches keys by case folding; besides ASCII, only the Kelvin sign and the long s fold
# onto an ASCII letter, and field names are ASCII.
_KEY_FOLD = str.maketrans(
    {chr(code): chr(code + 32) for code in range(ord("A"), ord("Z") + 1)} | {"\u212a": "k", "\u017f": "s"}
)


def decode(text: str) -> object:
    """The whole of `text` as Objects, Numbers, lists, strings, bools and None.

    Raises json.JSONDecodeError (a ValueError) for bad syntax, NotJson for NaN or Infinity,
    RecursionError for nesting deeper than Python's stack.
    """
    return _DECODER.decode(text)


def raw_decode(text: str, start: int) -> tuple[object, int]:
    """The document beginning at `start` and the index after it; raises as `decode` does."""
    document, end = _DECODER.raw_decode(text, start)
    return document, end


def utf8(text: str) -> str:
    """A string as Go holds it once decoded: a lone surrogate escape becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


_T = TypeVar("_T")


def field_lookup(fields: Mapping[str, _T]) -> Callable[[str], _T | None]:
    """What a key sets, found as Go finds a field: its exact name first, then case-insensitively."""
    folded = {name.translate(_KEY_FOLD): entry for name, entry in fields.items()}

    def find(key: str) -> _T | None:
        entry = fields.get(key)
        return entry if entry is not None else folded.get(key.translate(_KEY_FOLD))

    return find


def _kind(value: object) -> str:
    if isinstance(value, Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Number):
        return f"number {value.text[:40]}"
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "null"


# --- decoding into Go types ----------------------------------------------------------------

#: (what the field holds, the decoded JSON value, its path for messages) -> what it holds after.
#: Go decodes into the existing value, so a null or a later duplicate key depends on it.
Decode: TypeAlias = Callable[[Any, object, str], Any]


def string(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current  # Go leaves a field as it is for null
    if isinstance(value, str):
        return utf8(value)
    raise Mismatch(path, value, "string")


def int32(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current
    if isinstance(value, Number) and (number := value.integer) is not None and -(2**31) <= number < 2**31:
        return number
    raise Mismatch(path, value, "int32")  # "1", 1.0, 1e0 and out of range alike


def float64(current: Any, value: object, path: str) -> Any:
    if value is None:
        return current
    if isinstance(value, Number) and math.isfinite(number := float(value.text)):
        return number
    raise Mismatch(path, value, "float64")


def _float_any(value: Number, path: str) -> int | float:
    """A number decoded into interface{}: a float64, written back as Go writes it (1, not 1.0)."""
    number = float(value.text)
    if not math.isfinite(number):
        raise Mismatch(path, value, "float64")
    if number.is_integer() and abs(number) < 1e21:
        return int(Decimal(repr(number)))  # Go prints the shortest digits, then zeros
    return number


def _any(value: object, path: str) -> Any:
    """A value decoded into Go's interface{}: maps, slices, strings, float64s, bools, nil."""
    if isinstance(value, Object):
        members = {utf8(key): _any(item, f"{path}.{key}") for key, item in value.pairs}
        return dict(sorted(members.items()))
    if isinstance(value, list):
        return [_any(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Number):
        return _float_any(value, path)
    return utf8(value) if isinstance(value, str) else value


def any_map(current: Any, value: object, path: str) -> Any:
    """map[string]any: null clears it, an object is merged into it (a duplicate key merges too)."""
    if value is None:
        return None
    if not isinstance(value, Object):
        raise Mismatch(path, value, "map[string]interface {}")
    merged = dict(current or {})
    for key, item in value.pairs:
        merged[utf8(key)] = _any(item, f"{path}.{key}")
    return dict(sorted(merged.items()))


def string_map(current: Any, value: object, path: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, Object):
        raise Mismatch(path, value, "map[string]string")
    merged = dict(current or {})
    for key, item in value.pairs:
        merged[utf8(key)] = string("", item, f"{path}.{key}")  # null becomes ""
    return dict(sorted(merged.items()))


def struct(fields: Mapping[str, tuple[str, Decode]]) -> Decode:
    """A Go struct as a dict: known keys decode into their field (the attribute named), others are skipped."""
    find = field_lookup(fields)

    def fill(current: Any, value: object, path: str) -> Any:
        if value is None:
            return current
        if not isinstance(value, Object):
            raise Mismatch(path, value, "object")
        merged = dict(current)
        for key, item in value.pairs:
            entry = find(key)
            if entry is not None:
                attribute, inner = entry
                merged[attribute] = inner(merged[attribute], item, f"{path}.{attribute}")
        return merged

    return fill


def slice_of(element: Decode, zero: Mapping[str, Any]) -> Decode:
    """A Go slice of structs: null clears it; an array replaces it, reusing elements Go would reuse."""

    def fill(current: Any, value: object, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise Mismatch(path, value, "array")
        old = current or []
        return [
            element(old[index] if index < len(old) else zero, item, f"{path}[{index}]")
            for index, item in enumerate(value)
        ]

    return fill
