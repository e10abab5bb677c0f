"""The one converter between resource objects and Kubernetes dictionaries.

Keys are renamed to the manifest's camelCase spelling, absent fields are left
out on the way back, enums travel by value, and quantities and free-form maps
pass through untouched, so that `dump(load(doc)) == doc` for any valid document.
Structuring assumes the document passed `validation.check_document`; that is
where the user-facing messages come from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from aimcore import resources as r
from aimcore.schema import wire_name

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)


def _passthrough(value: Any, _: Any) -> Any:
    return value


converter.register_structure_hook(r.Quantity, _passthrough)
converter.register_structure_hook(r.Quantity | None, _passthrough)
converter.register_structure_hook(Any, _passthrough)
converter.register_unstructure_hook(enum.Enum, lambda e: e.value)


def _is_resource_class(cls: type) -> bool:
    return attrs.has(cls) and cls.__module__ == r.__name__


def _structure_factory(cls: type) -> Any:
    renames: dict[str, Any] = {f.name: override(rename=wire_name(f)) for f in attrs.fields(cls)}
    return make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **renames)


def _unstructure_factory(cls: type) -> Any:
    renames: dict[str, Any] = {
        f.name: override(rename=wire_name(f), omit_if_default=True) for f in attrs.fields(cls) if f.init
    }
    return make_dict_unstructure_fn(cls, converter, **renames)


converter.register_structure_hook_factory(_is_resource_class, _structure_factory)
converter.register_unstructure_hook_factory(_is_resource_class, _unstructure_factory)


def load(cls: type[T], document: Mapping[str, Any]) -> T:
    """Structure a validated document into `cls`."""
    return converter.structure(document, cls)


def dump(obj: Any) -> dict[str, Any]:
    """Unstructure an object into a Kubernetes dictionary (absent fields omitted)."""
    result = converter.unstructure(obj)
    assert isinstance(result, dict)
    return result


def secret_from_manifest(document: Mapping[str, Any]) -> r.Secret:
    """Keep a Secret's identity and key names; its values never enter the core. A Secret seen
    as metadata only (the operator's view) has neither section: its keys are unknown (None)."""
    keys: set[str] | None = None
    for section in ("data", "stringData"):
        values = document.get(section)
        if isinstance(values, Mapping):
            keys = (keys or set()) | {str(k) for k in values}
    secret_type = document.get("type")
    return r.Secret(
        api_version=str(document.get("apiVersion", "v1")),
        kind="Secret",
        metadata=load(r.ObjectMeta, document.get("metadata") or {}),
        type=secret_type if isinstance(secret_type, str) else None,
        keys=tuple(sorted(keys)) if keys is not None else None,
    )
