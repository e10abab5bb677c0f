"""Rules across fields, and fields that never change: CEL for the API server, Python for `validate`.

Each rule is stated twice, as a CEL expression the CRDs carry in `x-kubernetes-validations` and as
a predicate over the typed object, with one message for both, so that the API server and
`aimcore validate` refuse the same manifests in the same words (the real-cluster schema tests hold
them to that). The reference's rules (reference-api §6: H1, H2, M1, S1 and the eleven immutable
fields) are here, with aimcore's own cross-field rules that CEL can state (D18, D19, the image a
model needs, the replica range). Env rules stay in `validation` only: env lists are unbounded, and
a CEL rule on every entry of every list would exceed the API server's cost budget.

An immutable field is checked on update only, and only when the old and the new object both have
it (`self == oldSelf` as a transition rule), after the CRD's defaults are filled in on both sides,
as the API server compares them.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from aimcore import resources as r
from aimcore import schema

Path = tuple[str | int, ...]


@attrs.frozen
class Rule:
    """One rule on the objects of one class: it holds, or the message is reported at `field_path`."""

    cel: str
    message: str
    holds: Callable[[Any], bool]
    #: Where a violation is reported, below the object the rule is on (".minVram"); None: the object.
    field_path: str | None = None

    @property
    def path(self) -> Path:
        return tuple(self.field_path.strip(".").split(".")) if self.field_path else ()

    def as_validation(self) -> dict[str, Any]:
        """The rule as one entry of `x-kubernetes-validations`."""
        entry: dict[str, Any] = {"rule": self.cel, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


#: A transition rule: on update, a field present before and after holds the same value.
UNCHANGED = "self == oldSelf"


def _given(text: str | None) -> bool:
    return bool(text)


def _set(field: str) -> str:
    """CEL for "the string field is present and not empty"."""
    return f"(has(self.{field}) && self.{field} != '')"


# --- hardware (H1, H2, D18) ----------------------------------------------------------------------

_HARDWARE = (
    Rule(
        "has(self.gpu) || has(self.cpu)",
        "hardware needs gpu or cpu (or both)",
        lambda hw: hw.gpu is not None or hw.cpu is not None,
    ),
)
_GPU = (
    Rule(
        "!(has(self.model) && has(self.models))",
        "give either model (one GPU model) or models (a list), not both",
        lambda gpu: gpu.model is None or gpu.models is None,
    ),
    Rule(
        f"!({_set('model')} && has(self.minVram))",
        "minVram plans capacity when any GPU may be used; it cannot be combined with a single gpu.model",
        lambda gpu: not (_given(gpu.model) and gpu.min_vram is not None),
        ".minVram",
    ),
)


# --- models (M1, D18, D19, the image) ------------------------------------------------------------

_NEEDS_NO_HARDWARE = (
    "!has(self.modelSources) || size(self.modelSources) == 0 || "
    f"{_set('aimId')} || (has(self.custom) && has(self.custom.hardware))"
)
_M1_MESSAGE = (
    "with spec.modelSources, every custom template needs hardware: set spec.custom.hardware "
    "(every template inherits it) or hardware on each template"
)


def _needs_no_hardware(spec: r.AIMModelSpec) -> bool:
    """M1 (with N's relaxation for fine-tuned models, which copy their templates' hardware)."""
    shared = spec.custom is not None and spec.custom.hardware is not None
    return not spec.model_sources or _given(spec.aim_id) or shared


def _all_have_hardware(entries: tuple[r.CustomTemplate, ...] | None) -> bool:
    return all(entry.hardware is not None for entry in entries or ())


def _pinned(spec: r.AIMModelSpec) -> bool:
    policy = spec.custom.version_policy if spec.custom else None
    return policy in (None, r.VersionPolicy.PINNED)


_MODEL_SPEC = (
    Rule(
        f"{_set('image')} || {_set('aimId')}",
        "required: the container image that implements this model",
        lambda spec: _given(spec.image) or _given(spec.aim_id),
        ".image",
    ),
    Rule(
        f"!{_set('aimId')} || {_set('image')} || "
        "(has(self.custom) && has(self.custom.versionPolicy) && self.custom.versionPolicy != 'pinned')",
        "required: a fine-tuned model with versionPolicy pinned (the default) deploys spec.image; "
        "set spec.image, or set spec.custom.versionPolicy to latest, any or all",
        lambda spec: not _given(spec.aim_id) or _given(spec.image) or not _pinned(spec),
        ".image",
    ),
    Rule(
        "!(has(self.custom) && has(self.custom.templates) && has(self.customTemplates))",
        "custom templates are given twice: use spec.custom.templates or spec.customTemplates, not both",
        lambda spec: spec.custom is None or spec.custom.templates is None or spec.custom_templates is None,
        ".customTemplates",
    ),
    Rule(
        f"{_NEEDS_NO_HARDWARE} || !has(self.customTemplates) || self.customTemplates.all(t, has(t.hardware))",
        _M1_MESSAGE,
        lambda spec: _needs_no_hardware(spec) or _all_have_hardware(spec.custom_templates),
        ".customTemplates",
    ),
    Rule(
        f"{_NEEDS_NO_HARDWARE} || !has(self.custom) || !has(self.custom.templates) || "
        "self.custom.templates.all(t, has(t.hardware))",
        _M1_MESSAGE,
        lambda spec: _needs_no_hardware(spec)
        or _all_have_hardware(spec.custom.templates if spec.custom else None),
        ".custom.templates",
    ),
)


def _needs_with_profile(field: str, present: str, holds: Callable[[Any], bool], shown: str) -> Rule:
    """D19: with a customProfile, `shown` must be set."""
    return Rule(
        f"!has(self.customProfile) || {present}",
        f"{shown} is required when customProfile is set (D19)",
        lambda obj: obj.custom_profile is None or holds(obj),
        f".{field}",
    )


_CUSTOM_TEMPLATE = (
    _needs_with_profile("aimId", _set("aimId"), lambda t: _given(t.aim_id), "aimId"),
    _needs_with_profile("modelId", _set("modelId"), lambda t: _given(t.model_id), "modelId"),
    _needs_with_profile("hardware", "has(self.hardware)", lambda t: t.hardware is not None, "hardware"),
    _needs_with_profile(
        "profile.metric", "(has(self.profile) && has(self.profile.metric))",
        lambda t: t.profile is not None and t.profile.metric is not None, "profile.metric",
    ),
    _needs_with_profile(
        "profile.precision", "(has(self.profile) && has(self.profile.precision))",
        lambda t: t.profile is not None and t.profile.precision is not None, "profile.precision",
    ),
)
_TEMPLATE_SPEC = (
    _needs_with_profile("aimId", _set("aimId"), lambda s: _given(s.aim_id), "aimId"),
    _needs_with_profile("modelId", _set("modelId"), lambda s: _given(s.model_id), "modelId"),
    _needs_with_profile("hardware", "has(self.hardware)", lambda s: s.hardware is not None, "hardware"),
    _needs_with_profile("metric", "has(self.metric)", lambda s: s.metric is not None, "metric"),
    _needs_with_profile("precision", "has(self.precision)", lambda s: s.precision is not None, "precision"),
)


# --- services (S1, the replica range) ------------------------------------------------------------


def _one_model(model: r.ServiceModel) -> bool:
    return [_given(model.name), _given(model.image), model.custom is not None].count(True) == 1


_SERVICE_MODEL = (
    Rule(
        f"({_set('name')} ? 1 : 0) + ({_set('image')} ? 1 : 0) + (has(self.custom) ? 1 : 0) == 1",
        "set exactly one of name, image or custom",
        _one_model,
    ),
)
_SCALES_BETWEEN = "the autoscaler scales between the two"
_SERVICE_SPEC = (
    Rule(
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.maxReplicas >= self.minReplicas",
        f"must be at least spec.minReplicas: {_SCALES_BETWEEN}",
        lambda spec: spec.min_replicas is None or spec.max_replicas is None
        or spec.max_replicas >= spec.min_replicas,
        ".maxReplicas",
    ),
)

#: Every rule, by the class whose objects it is on.
RULES: Mapping[type, tuple[Rule, ...]] = {
    r.Hardware: _HARDWARE,
    r.GpuRequirements: _GPU,
    r.AIMModelSpec: _MODEL_SPEC,
    r.CustomTemplate: _CUSTOM_TEMPLATE,
    r.AIMServiceTemplateSpec: _TEMPLATE_SPEC,
    r.ServiceModel: _SERVICE_MODEL,
    r.AIMServiceSpec: _SERVICE_SPEC,
}

_ANOTHER_TEMPLATE = "create another template instead"
_NEW_SERVICE = "cannot change once the service exists; create another service"

#: Fields that cannot change once set (I1-I11), by class and attribute name: the message.
IMMUTABLE: Mapping[type, Mapping[str, str]] = {
    r.AIMServiceTemplateSpec: {
        "model_name": f"cannot change: a template belongs to the model it was made for; {_ANOTHER_TEMPLATE}",
        "metric": f"cannot change: a template is one way to run its model; {_ANOTHER_TEMPLATE}",
        "precision": f"cannot change: a template is one way to run its model; {_ANOTHER_TEMPLATE}",
        "hardware": f"cannot change: a template is one way to run its model; {_ANOTHER_TEMPLATE}",
    },
    r.AIMServiceSpec: {
        "model": f"{_NEW_SERVICE} for another model",
        "template": f"{_NEW_SERVICE} to choose another template",
        "caching": f"{_NEW_SERVICE} to cache differently",
    },
    r.ServiceOverrides: {
        "metric": f"{_NEW_SERVICE} with other overrides",
        "precision": f"{_NEW_SERVICE} with other overrides",
        "hardware": f"{_NEW_SERVICE} with other overrides",
    },
    r.AIMArtifactSpec: {
        "source_uri": "cannot change: an artifact holds the weights of one source; create another artifact",
    },
}


def immutable(cls: type, field: attrs.Attribute[Any]) -> dict[str, Any] | None:
    """The transition rule of a field, when it is immutable."""
    message = IMMUTABLE.get(cls, {}).get(field.name)
    return {"rule": UNCHANGED, "message": message} if message is not None else None


# --- checking typed objects ----------------------------------------------------------------------


def _classes(tp: Any) -> Iterator[type]:
    """The resource classes a field's type can hold (through None, tuples and mappings)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        for member in typing.get_args(tp):
            yield from _classes(member)
    elif typing.get_origin(tp) is tuple:
        yield from _classes(typing.get_args(tp)[0])
    elif typing.get_origin(tp) in (Mapping, dict):
        yield from _classes(typing.get_args(tp)[1])
    elif isinstance(tp, type) and attrs.has(tp):
        yield tp


def _reaching(ruled: set[type]) -> frozenset[type]:
    """Every resource class from which a ruled class can be reached (the ruled ones included)."""
    classes = [v for v in vars(r).values() if isinstance(v, type) and attrs.has(v)]
    reach = set(ruled)
    grew = True
    while grew:
        grew = False
        for cls in classes:
            if cls not in reach and any(
                sub in reach for f in attrs.fields(cls) for sub in _classes(f.type)
            ):
                reach.add(cls)
                grew = True
    return frozenset(reach)


def descent(targets: set[type]) -> Mapping[type, tuple[tuple[str, str], ...]]:
    """For each class from which a target class can be reached: the fields (attribute and manifest
    key) that lead there. A walk that follows only these visits nothing it could skip."""
    reach = _reaching(targets)
    return {
        cls: tuple(
            (field.name, schema.wire_name(field))
            for field in attrs.fields(cls) if any(sub in reach for sub in _classes(field.type))
        )
        for cls in reach
    }


_DESCENT = descent(set(RULES))


def broken(obj: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every rule `obj` (a typed object) and what it holds break: where, and the message."""
    cls = type(obj)
    fields = _DESCENT.get(cls)
    if fields is None:
        return
    for rule in RULES.get(cls, ()):
        if not rule.holds(obj):
            yield (*path, *rule.path), rule.message
    for name, wire in fields:
        value = getattr(obj, name)
        if value is None:
            continue
        here = (*path, wire)
        if attrs.has(type(value)):
            yield from broken(value, here)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                yield from broken(item, (*here, index))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield from broken(item, (*here, str(key)))


def changed(old: Any, new: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Immutable fields whose value `new` changes from `old` (two typed objects of one class)."""
    cls = type(new)
    if type(old) is not cls or not attrs.has(cls):
        return
    fixed = IMMUTABLE.get(cls, {})
    for field in attrs.fields(cls):
        before, after = getattr(old, field.name), getattr(new, field.name)
        if before is None or after is None:
            continue
        here = (*path, schema.wire_name(field))
        if field.name in fixed:
            if defaulted(before) != defaulted(after):
                yield here, fixed[field.name]
        elif attrs.has(type(after)):
            yield from changed(before, after, here)


def defaulted(value: Any) -> Any:
    """`value` with the CRD's defaults filled in where a present object leaves them out."""
    if isinstance(value, tuple):
        return tuple(defaulted(item) for item in value)
    if not attrs.has(type(value)):
        return value
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        current = getattr(value, field.name)
        if current is None and schema.DEFAULT in field.metadata:
            changes[field.name] = _typed_default(field)
        elif current is not None and (attrs.has(type(current)) or isinstance(current, tuple)):
            changes[field.name] = defaulted(current)
    return attrs.evolve(value, **changes) if changes else value


def _typed_default(field: attrs.Attribute[Any]) -> Any:
    default = field.metadata[schema.DEFAULT]
    for member in _members(field.type):
        if isinstance(member, type) and issubclass(member, enum.Enum):
            return member(default)
    return default


def _members(tp: Any) -> tuple[Any, ...]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return (tp,)
