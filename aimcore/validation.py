"""Check manifests and report every problem at once, each at its camelCase path.

Two passes: the structural one walks the resource classes (types, enums,
patterns, required and unknown fields, bounds); the rules pass checks what spans
fields (DECISIONS D18, D19; reference-finetuned §9). The rules only run on a
document that is structurally sound, where they can trust the shape.
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

from aimcore import codec, schema
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


def _hardware_rules(hw: r.Hardware | None, path: Path) -> Iterator[Problem]:
    if hw is None:
        return
    if hw.gpu is None and hw.cpu is None:
        yield Problem(path, "hardware needs gpu or cpu (or both)")
    gpu = hw.gpu
    if gpu is None:
        return
    if gpu.model is not None and gpu.models is not None:
        yield Problem((*path, "gpu"), "give either model (one GPU model) or models (a list), not both")
    if gpu.model and gpu.min_vram is not None:
        yield Problem(
            (*path, "gpu", "minVram"),
            "minVram plans capacity when any GPU may be used; it cannot be combined with a single gpu.model",
        )


def _env_rules(env: tuple[r.EnvVar, ...] | None, path: Path) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, var in enumerate(env or ()):
        if var.value is not None and var.value_from is not None:
            yield Problem((*path, index), f"env {var.name!r} sets both value and valueFrom; keep one")
        if var.name in seen:
            yield Problem((*path, index, "name"), f"env {var.name!r} is listed twice; names must be unique")
        seen.add(var.name)


def _custom_template_rules(ct: r.CustomTemplate, path: Path) -> Iterator[Problem]:
    yield from _hardware_rules(ct.hardware, (*path, "hardware"))
    yield from _env_rules(ct.env, (*path, "env"))
    if ct.custom_profile is None:
        return
    required = (
        (("aimId",), ct.aim_id),
        (("modelId",), ct.model_id),
        (("hardware",), ct.hardware),
        (("profile", "metric"), ct.profile.metric if ct.profile else None),
        (("profile", "precision"), ct.profile.precision if ct.profile else None),
    )
    for sub, present in required:
        if not present:
            yield Problem((*path, *sub), f"{'.'.join(sub)} is required when customProfile is set (D19)")


def _model_rules(spec: r.AIMModelSpec) -> Iterator[Problem]:
    base: Path = ("spec",)
    custom = spec.custom
    policy = custom.version_policy if custom else None
    if custom is not None and custom.templates is not None and spec.custom_templates is not None:
        yield Problem(
            (*base, "customTemplates"),
            "custom templates are given twice: use spec.custom.templates or spec.customTemplates, not both",
        )
    if not spec.image and not (spec.aim_id and policy not in (None, r.VersionPolicy.PINNED)):
        if spec.aim_id:
            message = (
                "required: a fine-tuned model with versionPolicy pinned (the default) deploys spec.image; "
                "set spec.image, or set spec.custom.versionPolicy to latest, any or all"
            )
        else:
            message = "required: the container image that implements this model"
        yield Problem((*base, "image"), message)
    if custom is not None:
        yield from _hardware_rules(custom.hardware, (*base, "custom", "hardware"))
    yield from _env_rules(spec.env, (*base, "env"))
    entries, entries_path = _template_entries(spec)
    for index, ct in enumerate(entries):
        yield from _custom_template_rules(ct, (*entries_path, index))
    for index, source in enumerate(spec.model_sources or ()):
        yield from _env_rules(source.env, (*base, "modelSources", index, "env"))
    is_custom = bool(spec.model_sources) and not spec.aim_id
    has_shared_hw = custom is not None and custom.hardware is not None
    if is_custom and not has_shared_hw and (not entries or any(ct.hardware is None for ct in entries)):
        yield Problem(
            (*base, "custom", "hardware") if not entries else entries_path,
            "a custom model (spec.modelSources without spec.aimId) needs hardware: set spec.custom.hardware, "
            "or hardware on every custom template",
        )


def _template_entries(spec: r.AIMModelSpec) -> tuple[tuple[r.CustomTemplate, ...], Path]:
    if spec.custom is not None and spec.custom.templates is not None:
        return spec.custom.templates, ("spec", "custom", "templates")
    return spec.custom_templates or (), ("spec", "customTemplates")


def _template_rules(spec: r.AIMServiceTemplateSpec) -> Iterator[Problem]:
    base: Path = ("spec",)
    yield from _hardware_rules(spec.hardware, (*base, "hardware"))
    yield from _env_rules(spec.env, (*base, "env"))
    if spec.custom_profile is not None:
        for name, present in (
            ("aimId", spec.aim_id),
            ("modelId", spec.model_id),
            ("hardware", spec.hardware),
            ("metric", spec.metric),
            ("precision", spec.precision),
        ):
            if not present:
                yield Problem((*base, name), f"{name} is required when customProfile is set (D19)")


def _service_rules(svc: r.AIMService) -> Iterator[Problem]:
    model = svc.spec.model
    given = [
        name for name, v in (("name", model.name), ("image", model.image), ("custom", model.custom)) if v
    ]
    if len(given) != 1:
        detail = "none is set" if not given else f"{' and '.join(given)} are set"
        yield Problem(("spec", "model"), f"set exactly one of name, image or custom ({detail})")
    if model.custom is not None:
        path: Path = ("spec", "model", "custom")
        if model.custom.hardware is None:
            yield Problem((*path, "hardware"), "required: a custom model declares the hardware it needs")
        yield from _hardware_rules(model.custom.hardware, (*path, "hardware"))
        for index, source in enumerate(model.custom.model_sources):
            yield from _env_rules(source.env, (*path, "modelSources", index, "env"))
    yield from _env_rules(svc.spec.env, ("spec", "env"))
    if svc.spec.overrides is not None:
        yield from _hardware_rules(svc.spec.overrides.hardware, ("spec", "overrides", "hardware"))
    low, high = svc.spec.min_replicas, svc.spec.max_replicas
    if low is not None and high is not None and high < low:
        yield Problem(
            ("spec", "maxReplicas"),
            f"must be at least spec.minReplicas ({low}), not {high}: the autoscaler scales between the two",
        )
    name, namespace = svc.metadata.name or "", svc.metadata.namespace or ""
    if len(name) + len(namespace) > 62:
        yield Problem(
            ("metadata", "name"),
            "name and namespace together must be at most 62 characters (the serving runtime joins them)",
        )


def _rules(obj: r.Resource) -> Iterator[Problem]:
    if isinstance(obj, r.AIMModel | r.AIMClusterModel):
        yield from _model_rules(obj.spec)
    elif isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
        yield from _template_rules(obj.spec)
    elif isinstance(obj, r.AIMService):
        yield from _service_rules(obj)


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
    return Checked(obj, tuple(_rules(obj)))
