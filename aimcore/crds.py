"""CustomResourceDefinitions generated from the typed resources, so that they cannot drift.

Every schema node comes from a resource class in `resources.py` and the field facts of
`schema.meta()`, the same facts `validation.py` reads; what the API server accepts and
what `aimcore validate` accepts are therefore one definition.

Versions: the kinds that v1alpha1 has are served as v1alpha1 and v1alpha2 with one
schema (the core models both with the same classes), so no conversion webhook is
needed (strategy None). v1alpha1 is their storage version: it is the version the
reference operator stores, so objects written by either operator stay readable by the
other, and a cluster can go back to the reference's v1alpha1-only CRDs without
objects stranded in a version it no longer serves. AIMProfile and AIMClusterProfile
exist only in v1alpha2 (D23), which is therefore their storage version.

Short names and categories are the reference operator's (aimmdl, aimclmdl, aimtpl,
aimcltpl, aimrc, aimclrc, aimsvc, aimtc, aimart, aimclsrc, and N's aimprf, aimclprf), so
`kubectl get` habits carry over; the runtime configs keep aimcore's earlier aimrcfg and
aimcrcfg as second names, which nothing else uses. Every kind is in the categories `aim`
(`kubectl get aim`) and `all` (`kubectl get all`), as the reference's are.

AIMTemplateCache, AIMArtifact and AIMClusterModelSource are served (v1alpha1, the reference's
only version) so that installing these CRDs over the reference's keeps those objects, and the
volumes of downloaded weights that hang off them; aimcore validates them and does not reconcile
them yet (D30).

The rules of `celrules` (cross-field, and `self == oldSelf` for immutable fields) are in
`x-kubernetes-validations`, so the API server checks what `aimcore validate` checks.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from aimcore import celrules, schema
from aimcore import resources as r

CRD_API_VERSION = "apiextensions.k8s.io/v1"
V1ALPHA1 = r.V1ALPHA1.split("/", 1)[1]
V1ALPHA2 = r.V1ALPHA2.split("/", 1)[1]
CATEGORIES = ("aim", "all")

#: Lists of these items are maps keyed by one field: the API server rejects duplicate
#: keys (as validation does for env) and server-side apply merges per entry.
LIST_MAP_KEYS: Mapping[type, str] = {r.EnvVar: "name", r.Condition: "type", r.ResourceClaim: "name"}
#: Kubernetes references that server-side apply replaces whole, never field by field (as core/v1 marks them).
ATOMIC: frozenset[type] = frozenset({
    r.LocalObjectReference, r.KeySelector, r.FieldSelector, r.ResourceFieldSelector, r.FileKeySelector,
    r.NodeSelector, r.NodeSelectorTerm,
})


@attrs.frozen(kw_only=True)
class Column:
    """One `kubectl get` column (additionalPrinterColumns)."""

    name: str
    type: str
    json_path: str
    description: str | None = None
    #: 0 shows always; 1 only with `-o wide`.
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


STATUS = Column(name="Status", type="string", json_path=".status.status")
AGE = Column(name="Age", type="date", json_path=".metadata.creationTimestamp")

MODEL_COLUMNS = (
    STATUS,
    Column(name="Source", type="string", json_path=".status.sourceType"),
    Column(name="Image", type="string", json_path=".spec.image"),
    Column(
        name="Canonical Name",
        type="string",
        json_path=".status.imageMetadata.model.canonicalName",
        description="The model the image serves, from its labels",
    ),
    AGE,
)
TEMPLATE_COLUMNS = (
    Column(name="Model", type="string", json_path=".spec.modelName"),
    STATUS,
    Column(name="Hardware", type="string", json_path=".status.hardwareSummary"),
    Column(name="Metric", type="string", json_path=".status.profile.metadata.metric"),
    Column(name="Precision", type="string", json_path=".status.profile.metadata.precision"),
    Column(name="GPU", type="string", json_path=".status.profile.metadata.gpu", priority=1),
    Column(name="GPUs", type="integer", json_path=".status.profile.metadata.gpu_count", priority=1),
    AGE,
)
RUNTIME_CONFIG_COLUMNS = (
    Column(name="Service Account", type="string", json_path=".spec.serviceAccountName"),
    Column(name="Storage Class", type="string", json_path=".spec.defaultStorageClassName"),
    AGE,
)
SERVICE_COLUMNS = (
    STATUS,
    Column(name="Model", type="string", json_path=".status.resolvedModel.name"),
    Column(name="Template", type="string", json_path=".status.resolvedTemplate.name"),
    Column(name="Replicas", type="string", json_path=".status.runtime.replicas"),
    Column(name="Image", type="string", json_path=".status.resolvedImage", priority=1),
    AGE,
)
TEMPLATE_CACHE_COLUMNS = (
    Column(name="Template", type="string", json_path=".spec.templateName"),
    Column(name="Mode", type="string", json_path=".spec.mode"),
    STATUS,
    Column(name="Kind", type="string", json_path=".status.resolvedTemplateKind"),
    AGE,
)
ARTIFACT_COLUMNS = (
    STATUS,
    Column(name="Mode", type="string", json_path=".status.mode"),
    Column(name="Model Size", type="string", json_path=".status.displaySize"),
    Column(name="Progress", type="string", json_path=".status.progress.displayPercentage"),
    Column(name="Protocol", type="string", json_path=".status.download.protocol", priority=1),
    Column(name="Attempt", type="integer", json_path=".status.download.attempt", priority=1),
    AGE,
)
MODEL_SOURCE_COLUMNS = (
    STATUS,
    Column(name="Models", type="integer", json_path=".status.discoveredModels"),
    Column(name="LastSync", type="date", json_path=".status.lastSyncTime"),
    AGE,
)
PROFILE_COLUMNS = (
    Column(name="AIM ID", type="string", json_path=".spec.aimId"),
    STATUS,
    Column(name="Hardware", type="string", json_path=".status.hardwareSummary"),
    Column(name="Metric", type="string", json_path=".spec.metric"),
    Column(name="Precision", type="string", json_path=".spec.precision"),
    Column(name="Primary", type="boolean", json_path=".spec.primary"),
    Column(name="Version", type="string", json_path=".status.version"),
    Column(name="Engine", type="string", json_path=".spec.engine", priority=1),
    Column(name="Type", type="string", json_path=".spec.type", priority=1),
    Column(name="Origin", type="string", json_path=".status.origin", priority=1),
    AGE,
)


@attrs.frozen(kw_only=True)
class KindFacts:
    """What a CRD says beyond the schema: names, versions, columns."""

    cls: type[r.Resource]
    short_names: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    versions: tuple[str, ...] = (V1ALPHA1, V1ALPHA2)
    storage: str = V1ALPHA1

    @property
    def kind(self) -> str:
        return self.cls.KIND

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    @property
    def scope(self) -> str:
        return "Namespaced" if self.cls.NAMESPACED else "Cluster"


KIND_FACTS: tuple[KindFacts, ...] = (
    KindFacts(
        cls=r.AIMModel,
        short_names=("aimmdl",),
        description="An AIM model in one namespace: an inference image, discovered or custom.",
        columns=MODEL_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMClusterModel,
        short_names=("aimclmdl",),
        description="An AIM model for the whole cluster: an inference image, discovered or custom.",
        columns=MODEL_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMServiceTemplate,
        short_names=("aimtpl",),
        description="One way to run a model in one namespace: GPU, metric, precision.",
        columns=TEMPLATE_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMClusterServiceTemplate,
        short_names=("aimcltpl",),
        description="One way to run a cluster model: GPU, metric, precision.",
        columns=TEMPLATE_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMRuntimeConfig,
        short_names=("aimrc", "aimrcfg"),
        description="Runtime settings for AIM objects in one namespace (merged over the cluster config).",
        columns=RUNTIME_CONFIG_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMClusterRuntimeConfig,
        short_names=("aimclrc", "aimcrcfg"),
        description="Runtime settings for AIM objects cluster-wide.",
        columns=RUNTIME_CONFIG_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMService,
        short_names=("aimsvc",),
        description="A deployed inference endpoint for a model.",
        columns=SERVICE_COLUMNS,
    ),
    KindFacts(
        cls=r.AIMTemplateCache,
        short_names=("aimtc",),
        description="Model sources of one template, downloaded ahead of use (served; not reconciled by "
        "aimcore yet).",
        columns=TEMPLATE_CACHE_COLUMNS,
        versions=(V1ALPHA1,),
    ),
    KindFacts(
        cls=r.AIMArtifact,
        short_names=("aimart",),
        description="One model source downloaded onto a volume (served; not reconciled by aimcore yet).",
        columns=ARTIFACT_COLUMNS,
        versions=(V1ALPHA1,),
    ),
    KindFacts(
        cls=r.AIMClusterModelSource,
        short_names=("aimclsrc",),
        description="A registry whose matching images become cluster models (served; not reconciled by "
        "aimcore yet).",
        columns=MODEL_SOURCE_COLUMNS,
        versions=(V1ALPHA1,),
    ),
    KindFacts(
        cls=r.AIMProfile,
        short_names=("aimprf",),
        description="A self-contained runtime profile of a model in one namespace (v1alpha2).",
        columns=PROFILE_COLUMNS,
        versions=(V1ALPHA2,),
        storage=V1ALPHA2,
    ),
    KindFacts(
        cls=r.AIMClusterProfile,
        short_names=("aimclprf",),
        description="A self-contained runtime profile of a cluster model (v1alpha2).",
        columns=PROFILE_COLUMNS,
        versions=(V1ALPHA2,),
        storage=V1ALPHA2,
    ),
)


def crds() -> list[dict[str, Any]]:
    """Every AIM CustomResourceDefinition, in a fixed order."""
    return [crd(facts) for facts in KIND_FACTS]


def served_api_versions(kind: str) -> tuple[str, ...]:
    """The apiVersions a kind is served in, e.g. for a validator to check manifests against."""
    for facts in KIND_FACTS:
        if facts.kind == kind:
            return tuple(f"{r.GROUP}/{version}" for version in facts.versions)
    raise KeyError(kind)


def crd(facts: KindFacts) -> dict[str, Any]:
    """One CustomResourceDefinition manifest."""
    return {
        "apiVersion": CRD_API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{facts.plural}.{r.GROUP}"},
        "spec": {
            "group": r.GROUP,
            "names": {
                "kind": facts.kind,
                "listKind": f"{facts.kind}List",
                "plural": facts.plural,
                "singular": facts.kind.lower(),
                "shortNames": list(facts.short_names),
                "categories": list(CATEGORIES),
            },
            "scope": facts.scope,
            "versions": [_version(facts, name) for name in facts.versions],
        },
    }


def _version(facts: KindFacts, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "served": True,
        "storage": name == facts.storage,
        "schema": {"openAPIV3Schema": openapi_schema(facts.cls, facts.description)},
        "subresources": {"status": {}},
        "additionalPrinterColumns": [column.as_dict() for column in facts.columns],
    }


# --- schemas --------------------------------------------------------------------------


def openapi_schema(cls: type, description: str) -> dict[str, Any]:
    """The root schema of a kind: apiVersion, kind, metadata (left to the API server), spec, status."""
    properties: dict[str, Any] = {
        "apiVersion": {"description": "The versioned schema of this object.", "type": "string"},
        "kind": {"description": "The REST resource this object represents.", "type": "string"},
        "metadata": {"type": "object"},
    }
    required: list[str] = []
    for field in attrs.fields(cls):
        wire = schema.wire_name(field)
        if wire in properties:
            continue
        properties[wire] = field_schema(field)
        if schema.is_required(field):
            required.append(wire)
    node: dict[str, Any] = {"description": description, "type": "object", "properties": properties}
    if required:
        node["required"] = required
    return node


def object_schema(cls: type) -> dict[str, Any]:
    """An attrs class as a closed object: its fields, and the ones without a default required."""
    node: dict[str, Any] = {}
    doc = _docstring(cls)
    if doc:
        node["description"] = doc
    node["type"] = "object"
    node["properties"] = {schema.wire_name(f): _member_schema(cls, f) for f in attrs.fields(cls)}
    required = [schema.wire_name(f) for f in attrs.fields(cls) if schema.is_required(f)]
    if required:
        node["required"] = required
    if cls in ATOMIC:
        node["x-kubernetes-map-type"] = "atomic"
    rules = celrules.RULES.get(cls)
    if rules:
        node["x-kubernetes-validations"] = [rule.as_validation() for rule in rules]
    return node


def _member_schema(cls: type, field: attrs.Attribute[Any]) -> dict[str, Any]:
    """A field's node, with the transition rule that keeps it unchanged when it is immutable."""
    node = field_schema(field)
    rule = celrules.immutable(cls, field)
    if rule is not None:
        node["x-kubernetes-validations"] = [*node.get("x-kubernetes-validations", ()), rule]
    return node


def _docstring(cls: type) -> str | None:
    """A class's own docstring (not an inherited one), for `kubectl explain`."""
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else None


def field_schema(field: attrs.Attribute[Any]) -> dict[str, Any]:
    """A field's node: its type's schema with the field's facts (bounds, default, description)."""
    node = type_schema(field.type)
    facts = field.metadata
    description = facts.get(schema.DESCRIPTION)
    hint = facts.get(schema.PATTERN_HINT)
    if description is None and hint is not None:
        description = f"Format: {hint}."
    if description is not None:
        node = {"description": description, **{k: v for k, v in node.items() if k != "description"}}
    _apply_bounds(node, facts, field.name)
    for fact, keyword in ((schema.ENUM, "enum"), (schema.FORMAT, "format")):
        if fact in facts:
            if node.get("type") != "string":
                raise TypeError(f"field {field.name}: {keyword} needs type string, not {node.get('type')!r}")
            node[keyword] = list(facts[fact]) if fact == schema.ENUM else facts[fact]
    if schema.DEFAULT in facts:
        node["default"] = _wire_value(facts[schema.DEFAULT])
    return node


_BOUNDS: Mapping[str, tuple[str, str]] = {
    schema.PATTERN: ("string", "pattern"),
    schema.MIN_LENGTH: ("string", "minLength"),
    schema.MAX_LENGTH: ("string", "maxLength"),
    schema.MINIMUM: ("integer", "minimum"),
    schema.MAXIMUM: ("integer", "maximum"),
    schema.MIN_ITEMS: ("array", "minItems"),
    schema.MAX_ITEMS: ("array", "maxItems"),
}


def _apply_bounds(node: dict[str, Any], facts: Mapping[str, Any], name: str) -> None:
    """Copy each bound onto the node; a bound on a node of the wrong type is a bug in resources.py."""
    for fact, (node_type, keyword) in _BOUNDS.items():
        if fact not in facts:
            continue
        if node.get("type") != node_type:
            raise TypeError(f"field {name}: {keyword} needs type {node_type}, not {node.get('type')!r}")
        node[keyword] = facts[fact]


def _wire_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def type_schema(tp: Any) -> dict[str, Any]:
    """The schema of one Python type as the resource classes use them."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return _union_schema(tp)
    if tp is Any:
        return {"x-kubernetes-preserve-unknown-fields": True}
    simple = {str: "string", bool: "boolean", int: "integer"}.get(tp)
    if simple is not None:
        return {"type": simple}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [str(member.value) for member in tp]}
    if attrs.has(tp):
        return object_schema(tp)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return _array_schema(typing.get_args(tp)[0])
    if origin in (Mapping, dict):
        return _map_schema(typing.get_args(tp)[1])
    raise TypeError(f"no schema for the type {tp!r}")


def _union_schema(tp: Any) -> dict[str, Any]:
    members = {m for m in typing.get_args(tp) if m is not type(None)}
    if members == {str, int, float}:
        return quantity_schema()
    if len(members) != 1:
        raise TypeError(f"no schema for the union {tp!r}")
    (member,) = members
    return type_schema(member)


def quantity_schema() -> dict[str, Any]:
    """A Kubernetes quantity as Kubernetes itself describes one: int-or-string, with the quantity grammar.

    A fresh dict each time, so that YAML output has no anchors and aliases.
    """
    return {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        "pattern": schema.QUANTITY_RE.pattern,
    }


def _array_schema(item: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "array", "items": type_schema(item)}
    key = LIST_MAP_KEYS.get(item)
    if key is not None:
        node["x-kubernetes-list-type"] = "map"
        node["x-kubernetes-list-map-keys"] = [key]
    return node


def _map_schema(value: Any) -> dict[str, Any]:
    if value is Any:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "additionalProperties": type_schema(value)}
