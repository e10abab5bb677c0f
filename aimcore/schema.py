"""Field constraints carried on the resource classes themselves.

Validation and the CRD generator both read these, so the manifest rules, the
error messages and the OpenAPI schemas cannot drift apart.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs

WIRE = "aimcore.wire"
PATTERN = "aimcore.pattern"
PATTERN_HINT = "aimcore.pattern_hint"
MINIMUM = "aimcore.minimum"
MAXIMUM = "aimcore.maximum"
MAX_ITEMS = "aimcore.max_items"
MIN_ITEMS = "aimcore.min_items"
MAX_LENGTH = "aimcore.max_length"
MIN_LENGTH = "aimcore.min_length"
DESCRIPTION = "aimcore.description"
DEFAULT = "aimcore.default"
ENUM = "aimcore.enum"
FORMAT = "aimcore.format"

#: Kubernetes quantity syntax (apimachinery's resource.Quantity grammar).
QUANTITY_RE = re.compile(
    r"^[+-]?(\d+\.?\d*|\.\d+)"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)


def meta(
    *,
    wire: str | None = None,
    pattern: str | None = None,
    pattern_hint: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    description: str | None = None,
    schema_default: Any = None,
    one_of: type[enum.Enum] | None = None,
    string_format: str | None = None,
) -> dict[str, Any]:
    """Schema facts for `attrs.field(metadata=...)`.

    `schema_default` is what the API server would fill in; it goes into the CRD and
    is never applied by the core, whose rules read None as "not set". `one_of` restricts a
    string field the core keeps as text (a value it copies, never branches on) to the values
    of an enum class; `string_format` is an OpenAPI string format the API server checks (date-time).
    """
    facts = {
        WIRE: wire,
        PATTERN: pattern,
        PATTERN_HINT: pattern_hint,
        MINIMUM: minimum,
        MAXIMUM: maximum,
        MIN_ITEMS: min_items,
        MAX_ITEMS: max_items,
        MIN_LENGTH: min_length,
        MAX_LENGTH: max_length,
        DESCRIPTION: description,
        DEFAULT: schema_default,
        ENUM: tuple(str(member.value) for member in one_of) if one_of is not None else None,
        FORMAT: string_format,
    }
    return {key: value for key, value in facts.items() if value is not None}


#: RFC 3339 date-time, as the API server checks `format: date-time` (a `T` or space between date and
#: time, optional fraction, `Z` or an offset).
DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
FORMATS = {"date-time": DATE_TIME_RE}


def is_required(field: attrs.Attribute[Any]) -> bool:
    """Required fields are the ones without a default."""
    return field.default is attrs.NOTHING


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The manifest key of a field: explicit, else the attribute name in camelCase."""
    explicit = field.metadata.get(WIRE)
    return explicit if isinstance(explicit, str) else camel(field.name)
