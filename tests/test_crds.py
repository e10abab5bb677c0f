"""The generated CRDs: names and versions, schema facts, structural rules, and the examples validate.

The OpenAPI v3 validator below is deliberately small: it knows what the generator emits (types,
enums, required, patterns, bounds, additionalProperties, items, list maps, int-or-string,
preserve-unknown-fields) and words its messages the way the API server does, so that a test
failure reads like `kubectl apply` would.
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from aimcore import crds
from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.schema import meta

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted({*ROOT.joinpath("fixtures").rglob("*.yaml"), ROOT / "tests/data/model-specification.yaml"})
GENERATED = crds.crds()
BY_KIND = {doc["spec"]["names"]["kind"]: doc for doc in GENERATED}

# --- a small OpenAPI v3 validator -----------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _has_type(value: Any, expected: str) -> bool:
    actual = _json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def validate(value: Any, node: Mapping[str, Any], path: str = "") -> list[str]:
    """Every violation of `value` against a structural schema node, in the API server's words."""
    if node.get("x-kubernetes-int-or-string"):
        return list(_int_or_string(value, node, path))
    expected = node.get("type")
    if expected is None:
        return []  # preserve-unknown-fields without a type: anything goes
    if not _has_type(value, expected):
        actual = _json_type(value)
        return [f'{path}: Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"']
    problems = list(_enum(value, node, path))
    checks: dict[str, Callable[[Any, Mapping[str, Any], str], Iterator[str]]] = {
        "string": _string,
        "integer": _number,
        "number": _number,
        "array": _array,
        "object": _object,
    }
    if expected in checks:
        problems.extend(checks[expected](value, node, path))
    return problems


def _int_or_string(value: Any, node: Mapping[str, Any], path: str) -> Iterator[str]:
    if not (_has_type(value, "integer") or isinstance(value, str)):
        actual = _json_type(value)
        yield f'{path}: Invalid value: "{actual}": {path} in body must be of type integer,string: "{actual}"'
    elif isinstance(value, str):
        yield from _string(value, node, path)


def _enum(value: Any, node: Mapping[str, Any], path: str) -> Iterator[str]:
    allowed = node.get("enum")
    if allowed is not None and value not in allowed:
        listed = ", ".join(json.dumps(a) for a in allowed)
        yield f"{path}: Unsupported value: {json.dumps(value)}: supported values: {listed}"


def _string(value: str, node: Mapping[str, Any], path: str) -> Iterator[str]:
    pattern = node.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        yield f"{path}: Invalid value: {json.dumps(value)}: {path} in body should match '{pattern}'"
    if "minLength" in node and len(value) < node["minLength"]:
        yield (
            f"{path}: Invalid value: {json.dumps(value)}: {path} in body should be at least "
            f"{node['minLength']} chars long"
        )
    if "maxLength" in node and len(value) > node["maxLength"]:
        yield f"{path}: Too long: may not be more than {node['maxLength']} bytes"


def _number(value: float, node: Mapping[str, Any], path: str) -> Iterator[str]:
    if "minimum" in node and value < node["minimum"]:
        minimum = node["minimum"]
        yield f"{path}: Invalid value: {value}: {path} in body should be greater than or equal to {minimum}"
    if "maximum" in node and value > node["maximum"]:
        maximum = node["maximum"]
        yield f"{path}: Invalid value: {value}: {path} in body should be less than or equal to {maximum}"


def _array(value: list[Any], node: Mapping[str, Any], path: str) -> Iterator[str]:
    if "maxItems" in node and len(value) > node["maxItems"]:
        yield f"{path}: Too many: {len(value)}: must have at most {node['maxItems']} items"
    if "minItems" in node and len(value) < node["minItems"]:
        least = node["minItems"]
        yield f"{path}: Invalid value: {len(value)}: {path} in body should have at least {least} items"
    for index, item in enumerate(value):
        yield from validate(item, node["items"], _child(path, index))
    if node.get("x-kubernetes-list-type") == "map":
        yield from _list_map(value, node["x-kubernetes-list-map-keys"], path)


def _list_map(value: list[Any], keys: list[str], path: str) -> Iterator[str]:
    seen: set[tuple[Any, ...]] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            continue
        key = tuple(item.get(k) for k in keys)
        if key in seen:
            shown = json.dumps(dict(zip(keys, key, strict=True)), separators=(",", ":"))
            yield f"{_child(path, index)}: Duplicate value: {shown}"
        seen.add(key)


def _object(value: dict[str, Any], node: Mapping[str, Any], path: str) -> Iterator[str]:
    # The API server prunes nulls of non-nullable fields before validating: null is absent.
    present = {k: v for k, v in value.items() if v is not None}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for key, item in present.items():
            yield from validate(item, extra, _child(path, key))
        return
    if "properties" not in node:
        return  # metadata: the API server checks ObjectMeta itself
    properties = node["properties"]
    open_ended = node.get("x-kubernetes-preserve-unknown-fields") is True
    for key, item in present.items():
        if key in properties:
            yield from validate(item, properties[key], _child(path, key))
        elif not open_ended:
            yield f'unknown field "{_child(path, key)}"'
    for name in node.get("required", ()):
        if name not in present:
            yield f"{_child(path, name)}: Required value"


def version_schema(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema a manifest is checked against: its kind's CRD, at the version it names."""
    crd = BY_KIND[doc["kind"]]
    group, _, version = doc["apiVersion"].partition("/")
    assert group == crd["spec"]["group"], doc["apiVersion"]
    served = {v["name"]: v for v in crd["spec"]["versions"] if v["served"]}
    if version not in served:
        raise LookupError(f"{doc['kind']} is not served in {doc['apiVersion']}")
    schema: Mapping[str, Any] = served[version]["schema"]["openAPIV3Schema"]
    return schema


def validate_manifest(doc: Mapping[str, Any]) -> list[str]:
    return validate(doc, version_schema(doc))


# --- the structural-schema rules ------------------------------------------------------

_KEYWORD_TYPES = {
    "properties": "object",
    "additionalProperties": "object",
    "required": "object",
    "items": "array",
    "minItems": "array",
    "maxItems": "array",
    "x-kubernetes-list-type": "array",
    "minLength": "string",
    "maxLength": "string",
    "minimum": "integer",
    "maximum": "integer",
}
_KNOWN_KEYWORDS = {
    *_KEYWORD_TYPES,
    "type",
    "description",
    "enum",
    "default",
    "pattern",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "format",
}


def structural_violations(node: Any, path: str) -> Iterator[str]:
    """Kubernetes' structural-schema rules (and the v1 restrictions) over a whole schema tree."""
    if not isinstance(node, dict):
        yield f"{path}: a schema node must be a mapping"
        return
    yield from (f"{path}: unknown keyword {k!r}" for k in node if k not in _KNOWN_KEYWORDS)
    if node.get("x-kubernetes-int-or-string"):
        yield from _int_or_string_rules(node, path)
    elif not node.get("type") and node.get("x-kubernetes-preserve-unknown-fields") is not True:
        yield f"{path}: no type (only int-or-string and preserve-unknown-fields nodes may omit it)"
    if node.get("x-kubernetes-preserve-unknown-fields", True) is not True:
        yield f"{path}: x-kubernetes-preserve-unknown-fields must be true when set"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: additionalProperties and properties are mutually exclusive"
    if node.get("additionalProperties") is False:
        yield f"{path}: additionalProperties must not be false"
    yield from _keyword_types(node, path)
    yield from _object_rules(node, path)
    yield from _array_rules(node, path)
    if "default" in node:
        yield from (f"{path}: default is invalid: {p}" for p in validate(node["default"], node, path))
    if "enum" in node and len(set(map(json.dumps, node["enum"]))) != len(node["enum"]):
        yield f"{path}: enum values repeat"


INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def _int_or_string_rules(node: Mapping[str, Any], path: str) -> Iterator[str]:
    if "type" in node:
        yield f"{path}: an int-or-string node has no type"
    if node.get("anyOf", INT_OR_STRING) != INT_OR_STRING:
        yield f"{path}: int-or-string allows only anyOf [integer, string]"


def _keyword_types(node: Mapping[str, Any], path: str) -> Iterator[str]:
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        yield f"{path}: anyOf is only used for int-or-string"
    if "pattern" in node and node.get("type") != "string" and not node.get("x-kubernetes-int-or-string"):
        yield f"{path}: pattern on a non-string node"
    if "format" in node and node.get("type") != "string":
        yield f"{path}: format on a non-string node"
    if node.get("x-kubernetes-map-type", "atomic") != "atomic" or (
        "x-kubernetes-map-type" in node and node.get("type") != "object"
    ):
        yield f"{path}: x-kubernetes-map-type is atomic, on an object"
    for rule in node.get("x-kubernetes-validations", ()):
        if set(rule) - {"rule", "message", "fieldPath"} or not rule.get("rule") or not rule.get("message"):
            yield f"{path}: a validation rule has a rule and a message (and may have a fieldPath): {rule}"
    for keyword, wanted in _KEYWORD_TYPES.items():
        if keyword in node and node.get("type") != wanted:
            yield f"{path}: {keyword} belongs on type {wanted}, not {node.get('type')!r}"


def _object_rules(node: Mapping[str, Any], path: str) -> Iterator[str]:
    if node.get("type") != "object":
        return
    closed = "properties" in node or "additionalProperties" in node
    if not closed and not node.get("x-kubernetes-preserve-unknown-fields") and path != "metadata":
        yield f"{path}: an object without properties, additionalProperties or preserve-unknown-fields"
    properties = node.get("properties", {})
    for name in node.get("required", ()):
        if name not in properties:
            yield f"{path}: required {name!r} is not a property"
    for name, child in properties.items():
        yield from structural_violations(child, _child(path, name))
    if isinstance(node.get("additionalProperties"), dict):
        yield from structural_violations(node["additionalProperties"], f"{path}[*]")


def _array_rules(node: Mapping[str, Any], path: str) -> Iterator[str]:
    if node.get("type") != "array":
        return
    if "items" not in node:
        yield f"{path}: an array without items"
        return
    items = node["items"]
    yield from structural_violations(items, f"{path}[*]")
    if node.get("x-kubernetes-list-type") == "map":
        if items.get("type") != "object":
            yield f"{path}: a list map holds objects"
        for key in node.get("x-kubernetes-list-map-keys", ()):
            if key not in items.get("required", ()) and "default" not in items["properties"].get(key, {}):
                yield f"{path}: list map key {key!r} must be required or defaulted"


def root_violations(schema: Mapping[str, Any]) -> Iterator[str]:
    """The root rules: an object; apiVersion and kind strings; metadata left undescribed."""
    yield from structural_violations(schema, "")
    properties = schema.get("properties", {})
    if properties.get("metadata") != {"type": "object"}:
        yield "metadata: must be only {type: object}"
    for name in ("apiVersion", "kind"):
        if properties.get(name, {}).get("type") != "string":
            yield f"{name}: must be a string"


def _schema_at(schema: Mapping[str, Any], json_path: str) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for part in json_path.strip(".").split("."):
        node = (node or {}).get("properties", {}).get(part)
    return node


# --- the CRDs: names, scope, versions -------------------------------------------------

EXPECTED_NAMES = {
    # kind: (scope, plural, short names, [(version, storage)])
    "AIMModel": ("Namespaced", "aimmodels", ["aimmdl"], [("v1alpha1", True), ("v1alpha2", False)]),
    "AIMClusterModel": (
        "Cluster",
        "aimclustermodels",
        ["aimclmdl"],
        [("v1alpha1", True), ("v1alpha2", False)],
    ),
    "AIMServiceTemplate": (
        "Namespaced",
        "aimservicetemplates",
        ["aimtpl"],
        [("v1alpha1", True), ("v1alpha2", False)],
    ),
    "AIMClusterServiceTemplate": (
        "Cluster",
        "aimclusterservicetemplates",
        ["aimcltpl"],
        [("v1alpha1", True), ("v1alpha2", False)],
    ),
    "AIMRuntimeConfig": (
        "Namespaced",
        "aimruntimeconfigs",
        ["aimrc", "aimrcfg"],
        [("v1alpha1", True), ("v1alpha2", False)],
    ),
    "AIMClusterRuntimeConfig": (
        "Cluster",
        "aimclusterruntimeconfigs",
        ["aimclrc", "aimcrcfg"],
        [("v1alpha1", True), ("v1alpha2", False)],
    ),
    "AIMService": ("Namespaced", "aimservices", ["aimsvc"], [("v1alpha1", True), ("v1alpha2", False)]),
    "AIMTemplateCache": ("Namespaced", "aimtemplatecaches", ["aimtc"], [("v1alpha1", True)]),
    "AIMArtifact": ("Namespaced", "aimartifacts", ["aimart"], [("v1alpha1", True)]),
    "AIMClusterModelSource": ("Cluster", "aimclustermodelsources", ["aimclsrc"], [("v1alpha1", True)]),
    "AIMProfile": ("Namespaced", "aimprofiles", ["aimprf"], [("v1alpha2", True)]),
    "AIMClusterProfile": ("Cluster", "aimclusterprofiles", ["aimclprf"], [("v1alpha2", True)]),
}


def test_every_aim_kind_has_one_crd_in_a_fixed_order() -> None:
    assert [doc["spec"]["names"]["kind"] for doc in GENERATED] == list(EXPECTED_NAMES)
    assert set(EXPECTED_NAMES) == set(r.KINDS) - {"Secret"}


@pytest.mark.parametrize("kind", list(EXPECTED_NAMES))
def test_names_scope_and_versions(kind: str) -> None:
    scope, plural, short_names, versions = EXPECTED_NAMES[kind]
    doc = BY_KIND[kind]
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
    assert doc["kind"] == "CustomResourceDefinition"
    assert doc["metadata"] == {"name": f"{plural}.aim.eai.amd.com"}
    assert doc["spec"]["group"] == "aim.eai.amd.com" == r.GROUP
    assert doc["spec"]["scope"] == scope
    assert doc["spec"]["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
        "shortNames": short_names,
        "categories": ["aim", "all"],
    }
    assert [(v["name"], v["storage"]) for v in doc["spec"]["versions"]] == versions
    assert all(v["served"] for v in doc["spec"]["versions"])
    assert sum(v["storage"] for v in doc["spec"]["versions"]) == 1
    assert all(v["subresources"] == {"status": {}} for v in doc["spec"]["versions"])


def test_served_api_versions() -> None:
    assert crds.served_api_versions("AIMModel") == ("aim.eai.amd.com/v1alpha1", "aim.eai.amd.com/v1alpha2")
    assert crds.served_api_versions("AIMClusterProfile") == ("aim.eai.amd.com/v1alpha2",)
    assert set(crds.served_api_versions("AIMService")) == set(r.AIM_API_VERSIONS)
    with pytest.raises(KeyError):
        crds.served_api_versions("Secret")


@pytest.mark.parametrize("kind", list(EXPECTED_NAMES))
def test_versions_share_one_schema_so_no_conversion_is_needed(kind: str) -> None:
    versions = BY_KIND[kind]["spec"]["versions"]
    assert all(v["schema"] == versions[0]["schema"] for v in versions)
    assert all(v["additionalPrinterColumns"] == versions[0]["additionalPrinterColumns"] for v in versions)
    assert "conversion" not in BY_KIND[kind]["spec"]


def test_short_names_are_unique() -> None:
    names = [n for doc in GENERATED for n in doc["spec"]["names"]["shortNames"]]
    assert len(names) == len(set(names)) == 14


# --- printer columns ------------------------------------------------------------------


def _columns(kind: str) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = BY_KIND[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    return columns


def test_model_columns() -> None:
    expected = [
        {"name": "Status", "type": "string", "jsonPath": ".status.status"},
        {"name": "Source", "type": "string", "jsonPath": ".status.sourceType"},
        {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
        {
            "name": "Canonical Name",
            "type": "string",
            "jsonPath": ".status.imageMetadata.model.canonicalName",
            "description": "The model the image serves, from its labels",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    assert _columns("AIMModel") == expected
    assert _columns("AIMClusterModel") == expected


def test_other_kinds_columns_by_name() -> None:
    names = {kind: [c["name"] for c in _columns(kind)] for kind in EXPECTED_NAMES}
    assert names["AIMServiceTemplate"] == [
        "Model", "Status", "Hardware", "Metric", "Precision", "GPU", "GPUs", "Age"
    ]
    assert names["AIMClusterServiceTemplate"] == names["AIMServiceTemplate"]
    assert names["AIMRuntimeConfig"] == ["Service Account", "Storage Class", "Age"]
    assert names["AIMService"] == ["Status", "Model", "Template", "Replicas", "Image", "Age"]
    assert names["AIMTemplateCache"] == ["Template", "Mode", "Status", "Kind", "Age"]
    assert names["AIMArtifact"] == ["Status", "Mode", "Model Size", "Progress", "Protocol", "Attempt", "Age"]
    assert names["AIMClusterModelSource"] == ["Status", "Models", "LastSync", "Age"]
    assert names["AIMProfile"] == [
        "AIM ID",
        "Status",
        "Hardware",
        "Metric",
        "Precision",
        "Primary",
        "Version",
        "Engine",
        "Type",
        "Origin",
        "Age",
    ]
    assert {"name": "Image", "type": "string", "jsonPath": ".status.resolvedImage", "priority": 1} in (
        _columns("AIMService")
    )
    assert {"name": "Replicas", "type": "string", "jsonPath": ".status.runtime.replicas"} in (
        _columns("AIMService")
    )
    assert {"name": "Hardware", "type": "string", "jsonPath": ".status.hardwareSummary"} in (
        _columns("AIMServiceTemplate")
    )
    wide = {c["name"] for kind in EXPECTED_NAMES for c in _columns(kind) if c.get("priority") == 1}
    assert wide == {"Image", "GPU", "GPUs", "Engine", "Type", "Origin", "Protocol", "Attempt"}


@pytest.mark.parametrize("kind", list(EXPECTED_NAMES))
def test_columns_point_into_the_schema_with_matching_types(kind: str) -> None:
    schema = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    columns = _columns(kind)
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    for column in columns[:-1]:
        node = _schema_at(schema, column["jsonPath"])
        assert node is not None, column
        if column["type"] == "date":  # a date column reads an RFC 3339 string
            assert (node["type"], node["format"]) == ("string", "date-time"), column
        else:
            assert node["type"] == column["type"], column


# --- schema facts ---------------------------------------------------------------------


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _node(kind: str, path: str) -> dict[str, Any]:
    node: dict[str, Any] = _schema(kind)
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


def test_enums_come_from_the_enum_classes() -> None:
    assert _node("AIMServiceTemplate", "spec.precision") == {
        "type": "string",
        "enum": ["auto", "fp4", "fp8", "fp16", "fp32", "bf16", "int4", "int8"],
        "x-kubernetes-validations": [{
            "rule": "self == oldSelf",
            "message": "cannot change: a template is one way to run its model; create another template "
            "instead",
        }],
    }
    assert _node("AIMService", "spec.overrides.metric")["enum"] == ["latency", "throughput"]
    assert _node("AIMModel", "spec.custom.versionPolicy") == {
        "type": "string",
        "enum": ["pinned", "latest", "any", "all"],
        "default": "pinned",
    }
    assert _node("AIMModel", "status.status") == {
        "type": "string",
        "enum": ["Pending", "Progressing", "Ready", "Degraded", "Failed", "NotAvailable"],
        "default": "Pending",
    }
    assert _node("AIMService", "status.status")["enum"] == [
        "Pending", "Starting", "Running", "Degraded", "Failed"
    ]
    assert _node("AIMServiceTemplate", "status.profile.metadata.type") == {
        "type": "string", "enum": ["optimized", "preview", "unoptimized"]
    }
    assert _node("AIMClusterServiceTemplate", "status.status")["enum"][-1] == "NotAvailable"
    assert _node("AIMModel", "status.conditions.[].status")["enum"] == ["True", "False", "Unknown"]


def test_patterns_bounds_and_hints() -> None:
    assert _node("AIMModel", "spec.modelSources")["maxItems"] == 1
    assert _node("AIMModel", "spec.modelSources.[].modelId") == {
        "description": "Format: {org}/{name}, for example Qwen/Qwen3-32B.",
        "type": "string",
        "pattern": "^[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+$",
    }
    assert _node("AIMModel", "spec.modelSources.[].sourceUri")["pattern"] == r"^(hf|s3)://[^ \t\r\n]+$"
    assert _node("AIMService", "spec.model.custom.modelSources") | {"items": None} == {
        "type": "array",
        "items": None,
        "minItems": 1,
        "maxItems": 1,
    }
    assert _node("AIMModel", "spec.customTemplates")["maxItems"] == 16
    assert _node("AIMModel", "spec.customTemplates.[].name") == {"type": "string", "maxLength": 63}
    assert _node("AIMModel", "spec.customTemplates.[].env")["maxItems"] == 64
    assert _node("AIMServiceTemplate", "spec.modelName") == {
        "type": "string",
        "minLength": 1,
        "x-kubernetes-validations": [{
            "rule": "self == oldSelf",
            "message": "cannot change: a template belongs to the model it was made for; create another "
            "template instead",
        }],
    }
    assert _node("AIMService", "spec.replicas") == {"type": "integer", "minimum": 0, "default": 1}


def test_required_lists_and_defaults() -> None:
    assert _schema("AIMModel")["required"] == ["spec"]
    assert "required" not in _schema("AIMRuntimeConfig")
    assert _node("AIMServiceTemplate", "spec")["required"] == ["modelName"]
    assert _node("AIMService", "spec")["required"] == ["model"]
    assert _node("AIMModel", "spec.modelSources.[]")["required"] == ["modelId", "sourceUri"]
    assert _node("AIMModel", "spec.custom.hardware.cpu")["required"] == ["requests"]
    assert _node("AIMModel", "status.conditions.[]")["required"] == ["type", "status"]
    assert "required" not in _node("AIMModel", "spec")
    assert _node("AIMModel", "spec.discovery") == {
        "type": "object",
        "properties": {
            "extractMetadata": {"type": "boolean", "default": True},
            "createServiceTemplates": {"type": "boolean", "default": True},
        },
    }
    assert _node("AIMModel", "spec.custom.hardware.gpu.resourceName") == {
        "type": "string",
        "default": "amd.com/gpu",
    }
    assert _node("AIMRuntimeConfig", "spec.model.autoDiscovery") == {"type": "boolean"}
    assert _node("AIMRuntimeConfig", "spec.labelPropagation.enabled") == {"type": "boolean", "default": False}
    assert _node("AIMRuntimeConfig", "spec.storage.pvcHeadroomPercent") == {
        "type": "integer", "minimum": 0, "default": 10
    }
    assert _node("AIMArtifact", "spec.modelDownloadImage") == {
        "type": "string", "default": "ghcr.io/silogen/aim-artifact-downloader:0.2.0"
    }
    assert _node("AIMClusterModelSource", "spec.maxModels") == {
        "type": "integer", "minimum": 1, "maximum": 10000, "default": 100
    }
    assert _node("AIMClusterModelSource", "status.lastSyncTime") == {"type": "string", "format": "date-time"}
    assert _node("AIMService", "spec.model.custom")["required"] == ["modelSources", "hardware"]
    assert "required" not in _schema("AIMArtifact")
    assert _node("AIMArtifact", "spec")["required"] == ["sourceUri"]
    assert _node("AIMTemplateCache", "spec")["required"] == ["templateName", "templateScope"]


def test_quantities_maps_and_free_form_values() -> None:
    quantity = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        "pattern": r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$",
    }
    assert _node("AIMModel", "spec.custom.hardware.cpu.requests") == quantity
    assert _node("AIMService", "spec.resources.limits") == {
        "type": "object",
        "additionalProperties": quantity,
    }
    assert _node("AIMModel", "spec.customTemplates.[].customProfile.engineArgs") == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert _node("AIMModel", "spec.customTemplates.[].customProfile.envVars") == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    assert set(_node("AIMServiceTemplate", "status.profile")["properties"]) == {
        "engine_args",
        "env_vars",
        "metadata",
        "originalDiscoveryOutput",
    }
    assert _node("AIMServiceTemplate", "status.profile.originalDiscoveryOutput") == {
        "x-kubernetes-preserve-unknown-fields": True
    }
    metadata = _node("AIMServiceTemplate", "status.profile.metadata")["properties"]
    assert {"gpu_count", "gpuCount"} <= set(metadata)
    assert _schema("AIMModel")["properties"]["metadata"] == {"type": "object"}


def test_env_and_conditions_are_list_maps() -> None:
    env = _node("AIMService", "spec.env")
    assert (env["x-kubernetes-list-type"], env["x-kubernetes-list-map-keys"]) == ("map", ["name"])
    conditions = _node("AIMService", "status.conditions")
    assert (conditions["x-kubernetes-list-type"], conditions["x-kubernetes-list-map-keys"]) == (
        "map",
        ["type"],
    )
    assert "x-kubernetes-list-type" not in _node("AIMService", "spec.imagePullSecrets")
    claims = _node("AIMService", "spec.resources.claims")
    assert (claims["x-kubernetes-list-type"], claims["x-kubernetes-list-map-keys"]) == ("map", ["name"])


def test_references_are_atomic_as_core_v1_marks_them() -> None:
    assert _node("AIMService", "spec.imagePullSecrets.[]")["x-kubernetes-map-type"] == "atomic"
    source = _node("AIMService", "spec.env.[].valueFrom")["properties"]
    assert {name: node.get("x-kubernetes-map-type") for name, node in source.items()} == {
        "secretKeyRef": "atomic", "configMapKeyRef": "atomic", "fieldRef": "atomic",
        "resourceFieldRef": "atomic", "fileKeyRef": "atomic",
    }
    assert source["fileKeyRef"]["required"] == ["volumeName", "path", "key"]
    assert source["secretKeyRef"]["properties"]["name"] == {"type": "string", "default": ""}


def test_descriptions_come_from_the_kind_facts_and_class_docstrings() -> None:
    assert _schema("AIMService")["description"] == "A deployed inference endpoint for a model."
    assert _node("AIMService", "status.resolvedModel")["description"] == (
        "Which object a resolution settled on (runtime config, model, template)."
    )
    assert "description" not in _node("AIMService", "spec")


def test_a_bound_on_the_wrong_type_fails_loudly() -> None:
    @attrs.frozen(kw_only=True)
    class Broken:
        name: str | None = attrs.field(default=None, metadata=meta(max_items=2))

    attrs.resolve_types(Broken)
    with pytest.raises(TypeError, match="field name: maxItems needs type array, not 'string'"):
        crds.field_schema(attrs.fields(Broken).name)


# --- structural rules -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EXPECTED_NAMES))
def test_schemas_are_structural(kind: str) -> None:
    for version in BY_KIND[kind]["spec"]["versions"]:
        assert list(root_violations(version["schema"]["openAPIV3Schema"])) == []


def test_the_structural_checker_catches_what_the_api_server_rejects() -> None:
    broken = copy.deepcopy(_schema("AIMService"))
    spec = broken["properties"]["spec"]
    del spec["properties"]["replicas"]["type"]
    spec["properties"]["env"]["items"]["additionalProperties"] = {"type": "string"}
    spec["properties"]["runtimeConfigName"]["default"] = 3
    spec["required"].append("nothing")
    spec["properties"]["resources"]["properties"]["limits"]["additionalProperties"]["type"] = "string"
    spec["properties"]["overrides"]["x-kubernetes-preserve-unknown-fields"] = False
    broken["properties"]["metadata"]["additionalProperties"] = {"type": "string"}
    assert list(root_violations(broken)) == [
        "spec: required 'nothing' is not a property",
        "spec.overrides: x-kubernetes-preserve-unknown-fields must be true when set",
        "spec.resources.limits[*]: an int-or-string node has no type",
        'spec.runtimeConfigName: default is invalid: spec.runtimeConfigName: Invalid value: "integer": '
        'spec.runtimeConfigName in body must be of type string: "integer"',
        "spec.env[*]: additionalProperties and properties are mutually exclusive",
        "spec.replicas: no type (only int-or-string and preserve-unknown-fields nodes may omit it)",
        "spec.replicas: minimum belongs on type integer, not None",
        "metadata: must be only {type: object}",
    ]


# --- manifests validate ---------------------------------------------------------------


def _aim_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") in BY_KIND]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_manifests_validate(path: Path) -> None:
    for doc in _aim_documents(path):
        assert validate_manifest(doc) == [], doc["metadata"]


def test_the_examples_cover_the_kinds_users_write() -> None:
    kinds = {doc["kind"] for path in MANIFESTS for doc in _aim_documents(path)}
    assert kinds >= {
        "AIMModel",
        "AIMClusterModel",
        "AIMService",
        "AIMRuntimeConfig",
        "AIMClusterRuntimeConfig",
    }


def _simulated(paths: list[str], images: str) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    assert main(["simulate", *paths, "--images", images, "-o", "json"], out, err) == 0, err.getvalue()
    objects: list[dict[str, Any]] = json.loads(out.getvalue())["objects"]
    return objects


@pytest.mark.parametrize(
    ("paths", "images"),
    [(["fixtures"], "fixtures/catalog.imagefacts"), (["fixtures/finetune"], "fixtures/finetune.imagefacts")],
)
def test_what_the_core_writes_validates_status_included(paths: list[str], images: str) -> None:
    objects = _simulated([str(ROOT / p) for p in paths], str(ROOT / images))
    assert any(o.get("status") for o in objects)
    assert any(o["kind"].endswith("ServiceTemplate") for o in objects)
    for obj in objects:
        if obj["kind"] in ("InferenceService", "HTTPRoute"):
            continue  # KServe's and the Gateway API's kinds: their manifests have tests of their own
        assert validate_manifest(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_v1alpha2_profiles_the_core_creates_validate(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "fixtures/spec/02-cluster-model-with-discovery.yaml").read_text())
    doc["apiVersion"] = r.V1ALPHA2
    del doc["spec"]["runtimeConfigName"]
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(doc))
    objects = _simulated([str(tmp_path)], str(ROOT / "fixtures/catalog.imagefacts"))
    profiles = [o for o in objects if o["kind"] == "AIMClusterProfile"]
    assert len(profiles) == 2
    for obj in objects:
        assert validate_manifest(obj) == [], (obj["kind"], obj["metadata"]["name"])


def _service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": r.V1ALPHA1,
        "kind": "AIMService",
        "metadata": {"name": "svc", "namespace": "team"},
        "spec": {"model": {"name": "qwen"}, **spec},
    }


@pytest.mark.parametrize(
    ("doc", "problems"),
    [
        (
            _service(overrides={"metric": "fast"}),
            ['spec.overrides.metric: Unsupported value: "fast": supported values: "latency", "throughput"'],
        ),
        ({**_service(), "spec": {"replicas": 1}}, ["spec.model: Required value"]),
        (
            _service(replicas="two"),
            [
                'spec.replicas: Invalid value: "string": '
                'spec.replicas in body must be of type integer: "string"'
            ],
        ),
        (
            _service(replicas=-1),
            ["spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"],
        ),
        (_service(colour="blue"), ['unknown field "spec.colour"']),
        (
            _service(resources={"limits": {"cpu": "lots", "memory": 1.5}}),
            [
                'spec.resources.limits.cpu: Invalid value: "lots": '
                "spec.resources.limits.cpu in body should match "
                "'^[+-]?(\\d+\\.?\\d*|\\.\\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\\d+)?$'",
                'spec.resources.limits.memory: Invalid value: "number": spec.resources.limits.memory in body '
                'must be of type integer,string: "number"',
            ],
        ),
        (
            _service(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"value": "3"}]),
            ["spec.env[2].name: Required value", 'spec.env[1]: Duplicate value: {"name":"A"}'],
        ),
        (
            _service(model={"custom": {"modelSources": [], "hardware": {"cpu": {"requests": 1}}}}),
            [
                "spec.model.custom.modelSources: Invalid value: 0: "
                "spec.model.custom.modelSources in body should have at least 1 items"
            ],
        ),
        (
            _service(model={"custom": {"modelSources": [{"modelId": "a/b", "sourceUri": "hf://a/b"}]}}),
            ["spec.model.custom.hardware: Required value"],
        ),
    ],
)
def test_the_validator_rejects_wrong_manifests(doc: dict[str, Any], problems: list[str]) -> None:
    assert validate_manifest(doc) == problems


def test_the_validator_rejects_patterns_and_bounds_on_models() -> None:
    model = yaml.safe_load((ROOT / "fixtures/spec/06-custom-model.yaml").read_text())
    source = {"modelId": "no-slash", "sourceUri": "hf://org/model"}
    model["spec"]["modelSources"] = [source, source]
    model["spec"]["customTemplates"] = [{"name": "x" * 64}]
    assert validate_manifest(model) == [
        "spec.modelSources: Too many: 2: must have at most 1 items",
        'spec.modelSources[0].modelId: Invalid value: "no-slash": '
        "spec.modelSources[0].modelId in body should match '^[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+$'",
        'spec.modelSources[1].modelId: Invalid value: "no-slash": '
        "spec.modelSources[1].modelId in body should match '^[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+$'",
        "spec.customTemplates[0].name: Too long: may not be more than 63 bytes",
    ]


def test_nulls_are_absent_and_profiles_are_not_served_in_v1alpha1() -> None:
    assert validate_manifest(_service(template=None)) == []
    assert validate_manifest({**_service(), "spec": {"model": None}}) == ["spec.model: Required value"]
    profile = {"apiVersion": r.V1ALPHA1, "kind": "AIMProfile", "metadata": {"name": "p"}, "spec": {}}
    with pytest.raises(LookupError, match=r"AIMProfile is not served in aim\.eai\.amd\.com/v1alpha1"):
        validate_manifest(profile)
    assert validate_manifest({**profile, "apiVersion": r.V1ALPHA2}) == []
    with pytest.raises(KeyError, match="AIMWidget"):
        validate_manifest({**profile, "kind": "AIMWidget"})


# --- the command ----------------------------------------------------------------------


def test_aimcore_crds_prints_yaml_documents() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["crds"], out, err) == 0
    assert err.getvalue() == ""
    assert out.getvalue().startswith(
        "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    )
    assert list(yaml.safe_load_all(out.getvalue())) == GENERATED
    assert "&id" not in out.getvalue() and "*id" not in out.getvalue()  # no YAML anchors or aliases
    again = io.StringIO()
    assert main(["crds", "-o", "yaml"], again, io.StringIO()) == 0
    assert again.getvalue() == out.getvalue()


def test_aimcore_crds_json_is_a_list_kubectl_applies() -> None:
    out = io.StringIO()
    assert main(["crds", "-o", "json"], out, io.StringIO()) == 0
    assert json.loads(out.getvalue()) == {"apiVersion": "v1", "kind": "List", "items": GENERATED}


def test_aimcore_crds_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["crds", "-o", "table"])
    assert exit_.value.code == 2
    assert "invalid choice: 'table'" in capsys.readouterr().err
