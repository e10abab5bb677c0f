"""Check manifests and report every problem at once, each at its camelCase path.

Two passes: the structural one walks the resource classes (types, enums,
patterns, required and unknown fields, bounds); the rules pass checks what spans
fields: the rules the CRDs also carry as CEL (`celrules`: the reference's, D18, D19),
and those only this pass can check (env entries, the serving runtime's name length).
The rules only run on a document that is structurally sound, where they can trust the
shape. Notes name what is accepted but not acted on yet; they are never problems.
Given the object as it was (`check_update`), the immutable fields are checked too.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from aimcore import celrules, codec, schema
from aimcore import resources as r
from aimcore.crds import served_api_versions

Path = tuple[str | int, ...]


@attrs.frozen
class Problem:
    """One thing wrong with an input, where it is and what would be valid."""

    path: Path
    message: str

    @property
    def dotted(self) -> str:
        return render_path(self.path)


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def render_path(path: Path) -> str:
    """`spec.modelSources[0].sourceUri`; a map key that is no field name (a label such as
    `aim.eai.amd.com/origin`, a Secret key such as `.dockerconfigjson`) in brackets, as the API
    server writes `data[.dockerconfigjson]`."""
    out = ""
    for part in path:
        if isinstance(part, int) or not _FIELD_NAME.match(part):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --- structural pass ------------------------------------------------------------------


def _describe(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if attrs.has(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "a list"
    if origin in (Mapping, dict):
        return "a mapping"
    return "a value"


def _is_quantity(members: set[Any]) -> bool:
    return members == {str, int, float}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def check_value(value: Any, tp: Any, path: Path, meta: Mapping[str, Any]) -> Iterator[Problem]:
    """Every structural problem of `value` against the type `tp`."""
    if tp is Any:
        return
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        members = {m for m in typing.get_args(tp) if m is not type(None)}
        if _is_quantity(members):
            yield from _check_quantity(value, path)
            return
        (tp,) = members
    if tp is str:
        if not isinstance(value, str):
            yield Problem(path, f"must be a string, not {_type_name(value)}")
            return
        yield from _check_string(value, path, meta)
    elif tp is bool:
        if not isinstance(value, bool):
            yield Problem(path, f"must be true or false, not {_type_name(value)} {value!r}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            yield Problem(path, f"must be an integer, not {_type_name(value)} {value!r}")
            return
        minimum = meta.get(schema.MINIMUM)
        if minimum is not None and value < minimum:
            yield Problem(path, f"must be at least {minimum}, not {value}")
        maximum = meta.get(schema.MAXIMUM)
        if maximum is not None and value > maximum:
            yield Problem(path, f"must be at most {maximum}, not {value}")
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [str(e.value) for e in tp]
        if not isinstance(value, str) or value not in allowed:
            yield Problem(path, f"{value!r} is not valid: must be one of {', '.join(allowed)}")
    elif attrs.has(tp):
        yield from check_object(value, tp, path)
    elif typing.get_origin(tp) is tuple:
        yield from _check_list(value, typing.get_args(tp)[0], path, meta)
    elif typing.get_origin(tp) in (Mapping, dict):
        yield from _check_mapping(value, typing.get_args(tp)[1], path)
    else:  # pragma: no cover - a resource class uses a type this walker does not know
        raise TypeError(f"unsupported field type {tp!r} at {render_path(path)}")


def _check_string(value: str, path: Path, meta: Mapping[str, Any]) -> Iterator[Problem]:
    min_length = meta.get(schema.MIN_LENGTH)
    if min_length is not None and len(value) < min_length:
        yield Problem(
            path, "must not be empty" if min_length == 1 else f"must have at least {min_length} characters"
        )
    max_length = meta.get(schema.MAX_LENGTH)
    if max_length is not None and len(value) > max_length:
        yield Problem(path, f"must have at most {max_length} characters, not {len(value)}")
    pattern = meta.get(schema.PATTERN)
    if pattern is not None and not re.match(pattern, value):
        hint = meta.get(schema.PATTERN_HINT, f"the pattern {pattern}")
        yield Problem(path, f"{value!r} is not valid: expected {hint}")
    allowed = meta.get(schema.ENUM)
    if allowed is not None and value not in allowed:
        yield Problem(path, f"{value!r} is not valid: must be one of {', '.join(allowed)}")
    string_format = meta.get(schema.FORMAT)
    if string_format is not None and not schema.FORMATS[string_format].match(value):
        yield Problem(path, f"{value!r} is not valid: expected an RFC 3339 time such as 2026-01-01T00:00:00Z")


def _check_quantity(value: Any, path: Path) -> Iterator[Problem]:
    if isinstance(value, bool) or not isinstance(value, str | int):
        # A float is refused as the API server refuses it (int-or-string): 0.5 must be written "500m".
        yield Problem(
            path,
            f"must be a Kubernetes quantity: an integer or a quoted string such as \"500m\" or \"64Gi\", "
            f"not {_type_name(value)}",
        )
    elif isinstance(value, str) and not schema.QUANTITY_RE.match(value):
        yield Problem(path, f"{value!r} is not a Kubernetes quantity (for example 4, 500m, 64Gi)")


def _check_list(value: Any, item: Any, path: Path, meta: Mapping[str, Any]) -> Iterator[Problem]:
    if not isinstance(value, list):
        yield Problem(path, f"must be a list, not {_type_name(value)}")
        return
    max_items = meta.get(schema.MAX_ITEMS)
    if max_items is not None and len(value) > max_items:
        yield Problem(
            path, f"must have at most {max_items} item{'s' if max_items != 1 else ''}, not {len(value)}"
        )
    min_items = meta.get(schema.MIN_ITEMS)
    if min_items is not None and len(value) < min_items:
        yield Problem(path, f"must have at least {min_items} item{'s' if min_items != 1 else ''}")
    for index, element in enumerate(value):
        yield from check_value(element, item, (*path, index), {})


def _check_mapping(value: Any, item: Any, path: Path) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield Problem(path, f"must be a mapping, not {_type_name(value)}")
        return
    for key, element in value.items():
        if not isinstance(key, str):
            yield Problem((*path, str(key)), f"keys must be strings, not {_type_name(key)} {key!r}")
            continue
        yield from check_value(element, item, (*path, key), {})


def _wire_fields(cls: type) -> Mapping[str, attrs.Attribute[Any]]:
    """A class's fields by manifest key, in declaration order."""
    return types.MappingProxyType({schema.wire_name(f): f for f in attrs.fields(cls)})


#: Every resource class's fields by manifest key, computed once at import (a constant, never
#: written afterwards): spelling the keys again for every object was half of validation's time.
_WIRE_FIELDS: Mapping[type, Mapping[str, attrs.Attribute[Any]]] = types.MappingProxyType(
    {
        value: _wire_fields(value)
        for value in vars(r).values()
        if isinstance(value, type) and attrs.has(value) and value.__module__ == r.__name__
    }
)


def check_object(value: Any, cls: type, path: Path) -> Iterator[Problem]:
    """Structural problems of one mapping against a resource class."""
    if not isinstance(value, dict):
        yield Problem(path, f"must be a mapping, not {_type_name(value)}")
        return
    known = _WIRE_FIELDS.get(cls) or _wire_fields(cls)
    for key in value:
        if key not in known:
            valid = ", ".join(sorted(known))
            yield Problem((*path, str(key)), f"unknown field {key!r}; valid fields here: {valid}")
    for wire, field in known.items():
        if wire not in value or value[wire] is None:
            if schema.is_required(field):
                yield Problem((*path, wire), "required field is missing")
            continue
        yield from check_value(value[wire], field.type, (*path, wire), field.metadata)


# --- rules that span fields -----------------------------------------------------------


def _env_rules(env: tuple[r.EnvVar, ...] | None, path: Path) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, var in enumerate(env or ()):
        if var.value is not None and var.value_from is not None:
            yield Problem((*path, index), f"env {var.name!r} sets both value and valueFrom; keep one")
        if var.name in seen:
            yield Problem((*path, index, "name"), f"env {var.name!r} is listed twice; names must be unique")
        seen.add(var.name)


#: The fields that lead to env lists, by class (computed once).
_TO_ENV = celrules.descent({r.EnvVar})


def _env_lists(obj: Any, path: Path) -> Iterator[tuple[tuple[r.EnvVar, ...], Path]]:
    """Every env list in a typed object, with its path."""
    for name, wire in _TO_ENV.get(type(obj), ()):
        value = getattr(obj, name)
        here = (*path, wire)
        if isinstance(value, tuple) and value and isinstance(value[0], r.EnvVar):
            yield value, here
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                yield from _env_lists(item, (*here, index))
        elif value is not None:
            yield from _env_lists(value, here)


def _rules(obj: r.Resource) -> Iterator[Problem]:
    for section in ("spec", "status"):
        for path, message in celrules.broken(getattr(obj, section, None), (section,)):
            yield Problem(path, message)
    for env, path in _env_lists(getattr(obj, "spec", None), ("spec",)):
        yield from _env_rules(env, path)
    if isinstance(obj, r.AIMService):
        name, namespace = obj.metadata.name or "", obj.metadata.namespace or ""
        if len(name) + len(namespace) > 62:
            yield Problem(
                ("metadata", "name"),
                "name and namespace together must be at most 62 characters (the serving runtime joins them)",
            )


def check_update(old: r.Resource, new: r.Resource) -> tuple[Problem, ...]:
    """What the API server refuses when `old` is replaced by `new`: a change of an immutable field
    (two objects of one kind and name, both structurally sound)."""
    before, after = getattr(old, "spec", None), getattr(new, "spec", None)
    if before is None or after is None:
        return ()
    return tuple(Problem(path, message) for path, message in celrules.changed(before, after, ("spec",)))


# --- notes: accepted, not acted on yet ----------------------------------------------------

_CACHES = "aimcore does not build template caches yet (D30)"
_STORAGE = f"storage for template caches; {_CACHES}"
#: Fields aimcore accepts and does not act on yet, by class and attribute name: why.
NOT_ACTED_ON: Mapping[type, Mapping[str, str]] = {
    r.AIMServiceSpec: {
        "caching": f"accepted, not acted on: {_CACHES}; the model server downloads the weights when it "
        "starts",
        "cache_model": "accepted, not acted on: deprecated in favour of spec.caching "
        "(the reference ignores it too)",
        "storage": f"accepted, not acted on: {_STORAGE}",
    },
    r.ServiceOverrides: {
        "hardware": "accepted, not acted on yet: template selection reads metric, precision and gpuSelector",
    },
    r.AIMServiceTemplateSpec: {
        "caching": f"accepted, not acted on: {_CACHES}",
        "image_pull_secrets": "accepted, not used (as by the reference): discovery pulls with the model's "
        "secrets, the InferenceService with the service's",
        "service_account_name": "accepted, not used (as by the reference): discovery runs as the model's "
        "service account, the InferenceService as the service's",
    },
    r.AIMRuntimeConfigSpec: {
        "default_storage_class_name": f"accepted, not acted on: {_STORAGE}",
        "pvc_headroom_percent": f"accepted, not acted on: {_STORAGE}",
        "storage": f"accepted, not acted on: {_STORAGE}",
    },
}


def _notes(obj: r.Resource) -> Iterator[Problem]:
    if isinstance(obj, r.AIMTemplateCache | r.AIMArtifact | r.AIMClusterModelSource):
        yield Problem((), f"{obj.kind} is served and validated; aimcore does not reconcile it yet and leaves "
                          "it as it is")
        return
    spec = getattr(obj, "spec", None)
    if spec is None:
        return
    yield from _unused(spec, ("spec",))
    if isinstance(obj, r.AIMModel | r.AIMClusterModel) and _without_hardware(obj.spec):
        where: Path = ("spec", "modelSources")
        yield Problem(where, "no hardware is declared (spec.custom.hardware): the template made from these "
                             "sources asks for no GPU, and the model server gets one only if resources ask")


_TO_UNUSED = celrules.descent(set(NOT_ACTED_ON))


def _unused(obj: Any, path: Path) -> Iterator[Problem]:
    """A note for each field of NOT_ACTED_ON that `obj` sets (objects only: none of them is in a list)."""
    notes = NOT_ACTED_ON.get(type(obj), {})
    wires = {schema.wire_name(field): field.name for field in attrs.fields(type(obj)) if field.name in notes}
    for wire, name in wires.items():
        if getattr(obj, name) is not None:
            yield Problem((*path, wire), notes[name])
    for name, wire in _TO_UNUSED.get(type(obj), ()):
        value = getattr(obj, name)
        if name not in notes and attrs.has(type(value)):
            yield from _unused(value, (*path, wire))


def _without_hardware(spec: r.AIMModelSpec) -> bool:
    """A custom model whose one generated template gets no hardware (the reference's M1 allows it)."""
    custom = spec.custom
    listed = (custom.templates if custom else None) or spec.custom_templates
    shared = custom.hardware if custom else None
    return bool(spec.model_sources) and not spec.aim_id and not listed and shared is None


# --- documents ------------------------------------------------------------------------

SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: Secret types whose one key the API server parses as JSON (a docker config).
DOCKER_CONFIG_KEYS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


def _secret_rules(doc: Mapping[str, Any]) -> Iterator[Problem]:
    """What the API server checks of a Secret: key names, base64 `data`, and the docker config
    that a pull-secret type must carry. Messages name keys, never values."""
    decoded: dict[str, bytes] = {}
    # `keys` is how aimcore writes a Secret it knows by key names only (the core's view).
    present = {str(k) for k in doc.get("keys") or ()} if isinstance(doc.get("keys"), list) else set()
    for section in ("data", "stringData"):
        values = doc.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            yield Problem((section,), f"must be a mapping of key names to strings, not {_type_name(values)}")
            continue
        for key, value in values.items():
            present.add(str(key))
            path: Path = (section, str(key))
            if not SECRET_KEY.match(str(key)):
                yield Problem(path, f"{key!r} is not a valid key name: letters, digits, '-', '_' and '.'")
            if not isinstance(value, str):
                yield Problem(path, f"must be a string, not {_type_name(value)}")
            elif section == "stringData":
                decoded[str(key)] = value.encode()
            else:
                try:
                    decoded.setdefault(str(key), base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    yield Problem(path, "is not valid base64: `data` holds base64-encoded values "
                                        "(use stringData for plain text)")
    secret_type = doc.get("type")
    key = DOCKER_CONFIG_KEYS.get(secret_type) if isinstance(secret_type, str) else None
    if key is None:
        return
    if key not in present:
        yield Problem(("data",), f"a {secret_type} Secret needs the key {key!r}")
    if key not in decoded:  # absent, or not base64 (said above)
        return
    try:
        json.loads(decoded[key])
    except ValueError:
        yield Problem(("data", key), f"must hold a docker config in JSON ({secret_type})")


def _metadata_rules(doc: Mapping[str, Any], cls: type[r.Resource]) -> Iterator[Problem]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return
    name = meta.get("name")
    if isinstance(name, str) and (len(name) > 253 or not DNS_SUBDOMAIN.match(name)):
        yield Problem(
            ("metadata", "name"),
            f"{name!r} is not a valid name: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters",
        )
    elif name is None:
        yield Problem(("metadata", "name"), "required field is missing")
    namespace = meta.get("namespace")
    if not cls.NAMESPACED and namespace is not None:
        yield Problem(("metadata", "namespace"), f"{cls.KIND} is cluster-scoped: remove metadata.namespace")
    elif isinstance(namespace, str) and (len(namespace) > 63 or not DNS_LABEL.match(namespace)):
        yield Problem(
            ("metadata", "namespace"), f"{namespace!r} is not a valid namespace name (an RFC 1123 label)"
        )


@attrs.frozen
class Checked:
    """The outcome of checking one document: the object when it is sound, and every problem."""

    obj: r.Resource | None
    problems: tuple[Problem, ...]
    #: Set when the document is of a kind aimcore does not handle (skipped, not an error).
    skipped_kind: str | None = None
    #: What is accepted and not acted on yet (a sound document only).
    notes: tuple[Problem, ...] = ()


def check_document(doc: Any) -> Checked:
    """Check one manifest; build the typed object when nothing structural is wrong."""
    if not isinstance(doc, dict):
        return Checked(None, (Problem((), f"a manifest must be a mapping, not {_type_name(doc)}"),))
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        return Checked(
            None, (Problem(("kind",), "required field is missing: every manifest names its kind"),)
        )
    cls = r.KINDS.get(kind)
    if cls is None:
        if isinstance(doc.get("apiVersion"), str) and doc["apiVersion"].startswith(r.GROUP + "/"):
            known = ", ".join(k for k in r.KINDS if k != "Secret")
            return Checked(None, (Problem(("kind",), f"unknown AIM kind {kind!r}; known kinds: {known}"),))
        return Checked(None, (), skipped_kind=kind)
    problems = list(_metadata_rules(doc, cls))
    if cls is r.Secret:
        problems.extend(check_object(doc.get("metadata"), r.ObjectMeta, ("metadata",)))
        problems.extend(_secret_rules(doc))
        return Checked(None if problems else codec.secret_from_manifest(doc), tuple(problems))
    api_version = doc.get("apiVersion")
    served = served_api_versions(kind)
    if api_version not in served:
        problems.append(
            Problem(("apiVersion",), f"{api_version!r} is not served for {kind}: use {' or '.join(served)}")
        )
    problems.extend(check_object(doc, cls, ()))
    if problems:
        return Checked(None, tuple(problems))
    obj = codec.load(cls, doc)
    return Checked(obj, tuple(_rules(obj)), notes=tuple(_notes(obj)))
