"""Issue 16: a cluster moves from the reference operator to aimcore and back.

Every field of the reference's CRDs (tests/data/reference-fields.tsv, from reference-api.md §2) is in
aimcore's CRDs with the reference's type, enum, default, bounds and required flag, except the listed
deviations, each with its reason; objects as the reference writes them (tests/data/reference-objects.yaml)
pass `aimcore validate` with a note for what aimcore does not act on, and reconcile without failing or
flapping; the reference's cross-field and immutability rules are CEL in the CRDs and checks of `validate`,
each with a good and a bad example (`RULE_CASES`, `UPDATE_CASES`; the real API server is held to the same
table in tests/cluster/test_cluster_schema.py).
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from aimcore import celrules, codec, crds, dryrun, models, selection
from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.adapters.kube import api as kubeapi
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run, run_once
from aimcore.plan import Apply, Delete
from aimcore.reconcile import RECONCILED_KINDS, reconcile
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.validation import check_document
from tests.test_crds import validate_manifest

ROOT = Path(__file__).resolve().parent.parent
OBJECTS = ROOT / "tests/data/reference-objects.yaml"
FIELDS = ROOT / "tests/data/reference-fields.tsv"
NOW = "2026-02-01T12:00:00Z"
BY_KIND = {doc["spec"]["names"]["kind"]: doc for doc in crds.crds()}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def reference_objects() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(OBJECTS.read_text()) if doc]


# --- 1. every field, with the reference's facts -----------------------------------------------------

#: Where aimcore's CRDs differ from the reference on purpose: (kind or "*", path, aspect) -> why.
#: The README's "Stricter than the reference" and "Rulings" sections say the same.
DEVIATIONS: Mapping[tuple[str, str, str], str] = {
    ("*", "spec", "required"): "stricter: every object aimcore reconciles has a spec; one without cannot be "
    "reconciled by either operator",
    ("*", "spec.imagePullSecrets[].name", "required"): "stricter: a nameless pull secret names no Secret; "
    "aimcore looks each name up (D9) and copies it into the InferenceService",
    ("*", "spec.imagePullSecrets[].name", "default"): "the same: no default \"\" for a required name",
    ("*", "spec.imagePullSecrets[].name", "bounds"): "the same: minLength 1",
    ("*", "spec.customTemplates[].type", "default"): "ruling D24: the type is inherited from custom.type",
    ("*", "spec.image", "required"): "looser: a fine-tuned model (aimId, non-pinned versionPolicy) deploys "
    "its source templates' images (N, the document's fine-tuned models); validate requires it otherwise",
    ("*", "spec.model.custom.baseImage", "required"): "looser: ruling D3, without a baseImage the model runs "
    "amdenterpriseai/aim-base:latest",
    ("*", "spec.replicas", "bounds"): "stricter: minimum 0; KServe refuses a negative replica count, so "
    "such a service could never run",
    ("*", "spec.routing.requestTimeout", "bounds"): "stricter: a Go duration (the reference parses it as one "
    "when it builds the route); anything else could only fail the service",
}
#: The kinds whose `spec` the reference does not require and aimcore does.
SPEC_REQUIRED = {
    "AIMModel", "AIMClusterModel", "AIMServiceTemplate", "AIMClusterServiceTemplate", "AIMService"
}


@attrs.frozen
class Field:
    kind: str
    path: str
    type: str
    enum: tuple[str, ...]
    default: str
    required: bool
    bounds: tuple[str, ...]


def reference_fields() -> list[Field]:
    rows = []
    for line in FIELDS.read_text().splitlines():
        if line.startswith("#"):
            continue
        kind, path, type_, enum, default, required, bounds = line.split("\t")
        enums = tuple(enum.split(",")) if enum else ()
        rows.append(Field(kind, path, type_, enums, default, required == "yes",
                          tuple(bounds.split("; ")) if bounds else ()))
    return rows


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _find(kind: str, path: str) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
    """The node at a reference path, its parent object and its key there."""
    node: dict[str, Any] | None = _schema(kind)
    parent: dict[str, Any] = {}
    key = ""
    for part in re.findall(r"\[\]|\{\*\}|[^.\[\]{}]+", path):
        if node is None:
            break
        if part == "[]":
            node = node.get("items")
        elif part == "{*}":
            node = node.get("additionalProperties")
        else:
            parent, key = node, part
            node = node.get("properties", {}).get(part)
    return node, parent, key


_PLAIN = {"string": "string", "boolean": "boolean", "int32": "integer", "int64": "integer",
          "integer": "integer", "object": "object", "[]object": "array", "[]string": "array",
          "map of string": "object", "map of object": "object", "date-time": "string"}


def _differences(field: Field) -> list[str]:
    """How aimcore's node differs from the reference's facts: type, enum, default, required, bounds."""
    node, parent, key = _find(field.kind, field.path)
    if node is None:
        return ["missing"]
    found: list[str] = []
    if field.type == "quantity":
        if not node.get("x-kubernetes-int-or-string"):
            found.append("type")
    elif field.type == "free-form JSON":
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            found.append("type")
    elif field.type in ("EnvVar list", "Condition list"):
        wanted = "name" if field.type == "EnvVar list" else "type"
        if node.get("x-kubernetes-list-map-keys") != [wanted]:
            found.append("type")
    elif field.type == "ResourceRequirements":
        if set(node["properties"]) != {"limits", "requests", "claims"}:
            found.append("type")
    elif field.type == "NodeAffinity":
        if set(node["properties"]) != {"requiredDuringSchedulingIgnoredDuringExecution",
                                       "preferredDuringSchedulingIgnoredDuringExecution"}:
            found.append("type")
    elif node.get("type") != _PLAIN[field.type] or (field.type == "date-time") != ("format" in node):
        found.append("type")
    if sorted(field.enum) != sorted(node.get("enum", ())):
        found.append("enum")
    wanted_default = "" if field.default == '""' else (field.default or None)
    actual = node.get("default")
    if (str(actual).lower() if actual is not None else None) != (
        wanted_default.lower() if wanted_default is not None else None
    ):
        found.append("default")
    if field.required != (key in parent.get("required", ())):
        found.append("required")
    bounds = {"minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "pattern"}
    quantity = node.get("x-kubernetes-int-or-string")
    ours = sorted(f"{k} {node[k]}" for k in bounds if k in node and not quantity)
    theirs = sorted(_bound(b) for b in field.bounds if not b.startswith("list-map key"))
    if ours != theirs:
        found.append("bounds")
    return found


def _bound(text: str) -> str:
    name, _, value = text.partition(" ")
    return f"{ {'min': 'minimum', 'max': 'maximum'}.get(name, name)} {value}"


def test_the_fields_file_is_the_reference_s_658_paths() -> None:
    fields = reference_fields()
    assert len(fields) == 658
    assert {f.kind for f in fields} == {k for k in BY_KIND if k not in ("AIMProfile", "AIMClusterProfile")}


def test_every_reference_field_is_in_the_crds_with_the_reference_s_facts() -> None:
    found = {}
    for field in reference_fields():
        for aspect in _differences(field):
            general = ("*", field.path, aspect)
            if general in DEVIATIONS and (field.path != "spec" or field.kind in SPEC_REQUIRED):
                found[general] = DEVIATIONS[general]
            else:
                found[(field.kind, field.path, aspect)] = "not explained"
    assert found == DEVIATIONS


def test_the_crds_keep_the_reference_s_building_blocks() -> None:
    env = _find("AIMService", "spec.env")[0]
    assert env is not None
    source = env["items"]["properties"]["valueFrom"]["properties"]
    assert source["fileKeyRef"]["properties"]["optional"] == {"type": "boolean", "default": False}
    assert source["configMapKeyRef"]["properties"]["name"] == {"type": "string", "default": ""}
    affinity = _find("AIMServiceTemplate", "status.resolvedNodeAffinity")[0]
    assert affinity is not None
    preferred = affinity["properties"]["preferredDuringSchedulingIgnoredDuringExecution"]["items"]
    assert preferred["required"] == ["weight", "preference"]
    term = preferred["properties"]["preference"]
    assert set(term["properties"]) == {"matchExpressions", "matchFields"}
    assert term["x-kubernetes-map-type"] == "atomic"


def test_short_names_and_categories_are_the_reference_s() -> None:
    names = {kind: doc["spec"]["names"] for kind, doc in BY_KIND.items()}
    assert {kind: n["shortNames"][0] for kind, n in names.items()} == {
        "AIMModel": "aimmdl", "AIMClusterModel": "aimclmdl", "AIMServiceTemplate": "aimtpl",
        "AIMClusterServiceTemplate": "aimcltpl", "AIMRuntimeConfig": "aimrc",
        "AIMClusterRuntimeConfig": "aimclrc",
        "AIMService": "aimsvc", "AIMTemplateCache": "aimtc", "AIMArtifact": "aimart",
        "AIMClusterModelSource": "aimclsrc", "AIMProfile": "aimprf", "AIMClusterProfile": "aimclprf",
    }
    assert all(n["categories"] == ["aim", "all"] for n in names.values())


#: The reference's printer columns (reference-api §4), by kind: name -> jsonPath.
REFERENCE_COLUMNS = {
    "AIMModel": {"Status": ".status.status", "Source": ".status.sourceType", "Image": ".spec.image",
                 "Model": ".status.imageMetadata.model.canonicalName", "Age": ".metadata.creationTimestamp"},
    "AIMServiceTemplate": {"Model": ".spec.modelName", "Status": ".status.status",
                           "Hardware": ".status.hardwareSummary", "Metric": ".status.profile.metadata.metric",
                           "Precision": ".status.profile.metadata.precision"},
    "AIMService": {"Status": ".status.status", "Model": ".status.resolvedModel.name",
                   "Template": ".status.resolvedTemplate.name", "Replicas": ".status.runtime.replicas",
                   "Age": ".metadata.creationTimestamp"},
    "AIMTemplateCache": {"Template": ".spec.templateName", "Mode": ".spec.mode", "Status": ".status.status",
                         "Kind": ".status.resolvedTemplateKind", "Age": ".metadata.creationTimestamp"},
    "AIMArtifact": {"Status": ".status.status", "Mode": ".status.mode", "Model Size": ".status.displaySize",
                    "Progress": ".status.progress.displayPercentage", "Protocol": ".status.download.protocol",
                    "Attempt": ".status.download.attempt", "Age": ".metadata.creationTimestamp"},
    "AIMClusterModelSource": {"Status": ".status.status", "Models": ".status.discoveredModels",
                              "LastSync": ".status.lastSyncTime", "Age": ".metadata.creationTimestamp"},
}


@pytest.mark.parametrize("kind", sorted(REFERENCE_COLUMNS))
def test_every_reference_column_is_shown(kind: str) -> None:
    """Every path the reference shows is shown (the model's is titled Canonical Name)."""
    columns = BY_KIND[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert set(REFERENCE_COLUMNS[kind].values()) <= {c["jsonPath"] for c in columns}


# --- objects written by the reference -----------------------------------------------------------------

def test_reference_objects_pass_validate_with_notes_for_what_aimcore_does_not_act_on() -> None:
    code, out, err = run_cli("validate", str(OBJECTS))
    assert (code, out) == (0, "")
    at = f"{OBJECTS}:"
    caches = "accepted, not acted on: aimcore does not build template caches yet (D30)"
    storage = "accepted, not acted on: storage for template caches; " + caches.split(": ", 1)[1]
    secrets = ("accepted, not used (as by the reference): discovery pulls with the model's secrets, the "
               "InferenceService with the service's")
    account = ("accepted, not used (as by the reference): discovery runs as the model's service account, the "
               "InferenceService as the service's")
    service = [
        "spec.cacheModel: accepted, not acted on: deprecated in favour of spec.caching "
        "(the reference ignores it too)",
        f"spec.caching: {caches}; the model server downloads the weights when it starts",
        "spec.overrides.hardware: accepted, not acted on yet: template selection reads metric, precision and "
        "gpuSelector",
        f"spec.storage: {storage}",
    ]
    unreconciled = "is served and validated; aimcore does not reconcile it yet and leaves it as it is"
    assert err.splitlines() == [
        f"{at}494: note: spec.imagePullSecrets: {secrets}",
        f"{at}514: note: spec.serviceAccountName: {account}",
        f"{at}515: note: spec.caching: {caches}",
        f"{at}663: note: spec.imagePullSecrets: {secrets}",
        f"{at}683: note: spec.serviceAccountName: {account}",
        f"{at}781: note: spec.defaultStorageClassName: {storage}",
        f"{at}798: note: spec.pvcHeadroomPercent: {storage}",
        f"{at}812: note: spec.storage: {storage}",
        f"{at}830: note: spec.defaultStorageClassName: {storage}",
        f"{at}847: note: spec.pvcHeadroomPercent: {storage}",
        f"{at}861: note: spec.storage: {storage}",
        *(f"{at}{line}: note: {text}" for line, text in zip((896, 897, 938, 974), service, strict=True)),
        *(f"{at}{line}: note: {text}" for line, text in zip((1047, 1048, 1089, 1125), service, strict=True)),
        *(f"{at}{line}: note: {text}" for line, text in zip((1198, 1199, 1256, 1292), service, strict=True)),
        f"{at}1343: note: AIMTemplateCache {unreconciled}",
        f"{at}1399: note: AIMArtifact {unreconciled}",
        f"{at}1451: note: AIMClusterModelSource {unreconciled}",
        "12 documents checked, 0 problems",
    ]


@pytest.mark.parametrize("doc", reference_objects(), ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_reference_objects_pass_the_crds_and_load_back_unchanged(doc: dict[str, Any]) -> None:
    assert validate_manifest(doc) == []
    checked = check_document(doc)
    assert checked.problems == ()
    assert checked.obj is not None and codec.dump(checked.obj) == doc


def test_reference_statuses_are_read() -> None:
    """NotAvailable on a model, gpuCount and the discovery fields on a template, Running on a service."""
    docs = {(d["kind"], d["metadata"]["name"]): d for d in reference_objects()}
    model = codec.load(r.AIMModel, docs[("AIMModel", "qwen3")])
    assert model.status is not None and model.status.status is r.Status.NOT_AVAILABLE
    template = codec.load(r.AIMServiceTemplate, docs[("AIMServiceTemplate", "qwen3-latency")])
    status = template.status
    assert status is not None and status.profile is not None and status.profile.metadata is not None
    assert (status.profile.metadata.gpu_count, status.profile.metadata.gpus) == (None, 1)
    assert status.discovery == r.DiscoveryState(attempts=1, last_attempt_time="2026-02-01T09:59:00Z",
                                                last_failure_reason="", spec_hash="5f2c9a")
    assert status.resolved_cache is not None and status.resolved_cache.kind == "AIMTemplateCache"
    assert status.resolved_node_affinity is not None
    assert status.resolved_node_affinity.preferred_during_scheduling_ignored_during_execution == (
        r.PreferredSchedulingTerm(weight=10, preference=r.NodeSelectorTerm(match_expressions=(
            r.NodeSelectorRequirement(key="zone", operator="Exists"),))),
    )
    assert selection.template_gpu_count(template) == 1
    service = codec.load(r.AIMService, docs[("AIMService", "qwen3-chat")])
    assert service.status is not None and service.status.status is r.ServiceStatus.RUNNING


# --- reconciling what the reference wrote: no failure, no flapping ------------------------------------

REGISTRY_SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry-cred"},
                   "type": "kubernetes.io/dockerconfigjson", "keys": [".dockerconfigjson"]}


def _cluster(docs: list[dict[str, Any]]) -> MemoryCluster:
    objects: list[r.Resource] = [codec.load(r.KINDS[d["kind"]], d) for d in docs]
    for namespace in ("ml-team", "aim-system"):
        objects.append(r.Secret(api_version="v1", kind="Secret", type="kubernetes.io/dockerconfigjson",
                                keys=(".dockerconfigjson",),
                                metadata=r.ObjectMeta(name="registry-cred", namespace=namespace)))
    return MemoryCluster(objects, now=NOW, operator_namespace="aim-system", gpus=["MI300X"])


def _discovered_template(kind: str) -> dict[str, Any]:
    """A template the reference discovered (no inline sources): its specHash is not aimcore's."""
    doc = next(d for d in reference_objects() if d["kind"] == kind)
    spec = {k: v for k, v in doc["spec"].items() if k != "modelSources"}
    return {**doc, "metadata": {**doc["metadata"], "name": "qwen3-discovered"}, "spec": spec}


#: Each status shape of reference-api §2: kind, name, and its status word once aimcore has converged
#: (None: aimcore does not reconcile the kind, and the reference's status stays as it was).
SHAPES: Mapping[str, tuple[str, str, str | None]] = {
    "model NotAvailable": ("AIMModel", "qwen3", "Ready"),
    "cluster model NotAvailable": ("AIMClusterModel", "qwen3", "Ready"),
    "template Ready, gpuCount, discovery, resolvedCache": ("AIMServiceTemplate", "qwen3-latency", "Ready"),
    "cluster template": ("AIMClusterServiceTemplate", "qwen3-latency", "Ready"),
    "discovered template": ("AIMServiceTemplate", "qwen3-discovered", "Ready"),
    "discovered cluster template": ("AIMClusterServiceTemplate", "qwen3-discovered", "Ready"),
    "runtime config": ("AIMRuntimeConfig", "default", None),
    "cluster runtime config": ("AIMClusterRuntimeConfig", "default", None),
    "service Running": ("AIMService", "qwen3-chat", "Running"),
    "service Starting": ("AIMService", "qwen3-image", "Running"),
    "service Pending": ("AIMService", "qwen3-custom", "Running"),
    "template cache": ("AIMTemplateCache", "qwen3-latency", None),
    "artifact": ("AIMArtifact", "qwen3-latency-qwen-qwen3-32b", None),
    "cluster model source": ("AIMClusterModelSource", "amd-models", None),
}


def _every_reference_object() -> list[dict[str, Any]]:
    return [*reference_objects(), _discovered_template("AIMServiceTemplate"),
            _discovered_template("AIMClusterServiceTemplate")]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_status_the_reference_wrote_reconciles_without_failing_or_flapping(shape: str) -> None:
    kind, name, word = SHAPES[shape]
    cluster = _cluster(_every_reference_object())
    key = ObjectKey(kind, "" if kind.startswith("AIMCluster") else "ml-team", name)
    before = cluster.objects[key]
    first = reconcile(key, cluster.snapshot())  # never raises
    outcome = run(cluster, lambda keys: {}, max_rounds=20)
    assert outcome.converged, shape
    after = cluster.objects[key]
    assert run_once(cluster, lambda keys: {}).actions == ()  # a second reconcile plans nothing
    assert reconcile(key, cluster.snapshot()).actions == ()
    if word is None:
        assert (first.actions, after) == ((), before)  # served, never touched
    else:
        status: Any = after.status
        assert status.status.value == word
        assert [(c.status.value, c.reason) for c in status.conditions if c.type == "Ready"] == [
            ("True", "AllComponentsReady")
        ]


def test_after_the_switch_aimcore_s_words_replace_the_reference_s() -> None:
    cluster = _cluster(_every_reference_object())
    assert run(cluster, lambda keys: {}, max_rounds=20).converged
    model = cluster.objects[ObjectKey("AIMModel", "ml-team", "qwen3")]
    assert isinstance(model, r.AIMModel) and model.status is not None
    assert model.status.status is not r.Status.NOT_AVAILABLE  # D11: aimcore never writes it
    template = cluster.objects[ObjectKey("AIMServiceTemplate", "ml-team", "qwen3-latency")]
    assert isinstance(template, r.AIMServiceTemplate) and template.status is not None
    assert template.status.resolved_cache == r.ResolvedReference(
        kind="AIMTemplateCache", name="qwen3-latency", namespace="ml-team", scope=r.Scope.NAMESPACE,
        uid="8d5c1f0e-2f7a-4c53-9f27-6c0a8e7d1b01")  # the reference's cache stays named


# --- the kinds aimcore serves and does not reconcile ------------------------------------------------

def test_the_unreconciled_kinds_are_served_validated_and_never_watched() -> None:
    assert set(r.UNRECONCILED_KINDS) <= set(r.KINDS) & set(BY_KIND)
    assert not set(r.UNRECONCILED_KINDS) & set(RECONCILED_KINDS)
    assert set(r.UNRECONCILED_KINDS) <= set(kubeapi.AIM_KINDS)
    assert not set(r.UNRECONCILED_KINDS) & set(kubeapi.WATCHED)
    assert set(kubeapi.WATCHED) == {*(k for k in r.KINDS if k not in r.UNRECONCILED_KINDS)}
    artifacts = kubeapi.AIM_KINDS["AIMArtifact"].path("ml-team")
    assert artifacts == "/apis/aim.eai.amd.com/v1alpha1/namespaces/ml-team/aimartifacts"
    for kind in r.UNRECONCILED_KINDS:
        assert [v["name"] for v in BY_KIND[kind]["spec"]["versions"]] == ["v1alpha1"]


# --- 5. custom models without hardware ------------------------------------------------------------------

def test_a_custom_model_without_hardware_gets_a_template_without_hardware() -> None:
    """As the reference: M1 passes, the template asks for no GPU (and validate says so in a note)."""
    doc = {"apiVersion": r.V1ALPHA1, "kind": "AIMModel", "metadata": {"name": "m", "namespace": "ml-team"},
           "spec": {"image": "amdenterpriseai/aim-base:0.8.5",
                    "modelSources": [{"modelId": "acme/model", "sourceUri": "s3://bucket/weights"}]}}
    cluster = _cluster([doc])
    assert run(cluster, lambda keys: {}, max_rounds=10).converged
    (template,) = [o for o in cluster.objects.values() if isinstance(o, r.AIMServiceTemplate)]
    assert template.spec.hardware is None
    assert template.status is not None and template.status.status is r.TemplateStatus.READY


# --- 6. CEL: the same rules on the API server and in validate -----------------------------------------


@attrs.frozen
class RuleCase:
    """A rule's good and bad manifest; the bad one is refused at `line` (of the bad text), `path`."""

    good: str
    bad: str
    line: int
    path: str
    message: str


MODEL_HEAD = """\
    apiVersion: aim.eai.amd.com/v1alpha1
    kind: AIMModel
    metadata: {name: m, namespace: ml-team}
    spec:
    """
SERVICE_HEAD = """\
    apiVersion: aim.eai.amd.com/v1alpha1
    kind: AIMService
    metadata: {name: s, namespace: ml-team}
    spec:
    """
TEMPLATE_HEAD = """\
    apiVersion: aim.eai.amd.com/v1alpha1
    kind: AIMServiceTemplate
    metadata: {name: t, namespace: ml-team}
    spec:
    """
SOURCES = "  modelSources: [{modelId: acme/model, sourceUri: 's3://bucket/weights'}]\n"
IMAGE = "  image: amdenterpriseai/aim-base:0.8.5\n"
M1 = ("with spec.modelSources, every custom template needs hardware: set spec.custom.hardware "
      "(every template inherits it) or hardware on each template")


def _text(head: str, body: str) -> str:
    """A manifest: the head as written (dedented), the body's lines under `spec:` as they are."""
    return textwrap.dedent(head) + body


RULE_CASES: Mapping[str, RuleCase] = {
    "H1 hardware needs gpu or cpu": RuleCase(
        _text(MODEL_HEAD, IMAGE + "  custom: {hardware: {cpu: {requests: 4}}}\n"),
        _text(MODEL_HEAD, IMAGE + "  custom: {hardware: {}}\n"),
        6, "spec.custom.hardware", "hardware needs gpu or cpu (or both)"),
    "H2 gpu model or minVram": RuleCase(
        _text(MODEL_HEAD, IMAGE + "  custom: {hardware: {gpu: {minVram: 64Gi}}}\n"),
        _text(MODEL_HEAD, IMAGE + "  custom: {hardware: {gpu: {model: MI300X, minVram: 64Gi}}}\n"),
        6, "spec.custom.hardware.gpu.minVram",
        "minVram plans capacity when any GPU may be used; it cannot be combined with a single gpu.model"),
    "H1 on a template's status": RuleCase(
        _text(TEMPLATE_HEAD, "  modelName: m\nstatus: {resolvedHardware: {gpu: {requests: 1}}}\n"),
        _text(TEMPLATE_HEAD, "  modelName: m\nstatus: {resolvedHardware: {}}\n"),
        6, "status.resolvedHardware", "hardware needs gpu or cpu (or both)"),
    "D18 gpu model or models": RuleCase(
        _text(TEMPLATE_HEAD, "  modelName: m\n  hardware: {gpu: {models: [MI300X, MI325X]}}\n"),
        _text(TEMPLATE_HEAD, "  modelName: m\n  hardware: {gpu: {model: MI300X, models: [MI300X]}}\n"),
        6, "spec.hardware.gpu", "give either model (one GPU model) or models (a list), not both"),
    "D18 custom templates in one spelling": RuleCase(
        _text(MODEL_HEAD, IMAGE + "  customTemplates: [{name: a}]\n"),
        _text(MODEL_HEAD, IMAGE + "  custom: {templates: [{name: a}]}\n  customTemplates: [{name: b}]\n"),
        7, "spec.customTemplates",
        "custom templates are given twice: use spec.custom.templates or spec.customTemplates, not both"),
    "a model has an image": RuleCase(
        _text(MODEL_HEAD, IMAGE),
        _text(MODEL_HEAD, "  runtimeConfigName: default\n"),
        4, "spec.image", "required: the container image that implements this model"),
    "a pinned fine-tuned model has an image": RuleCase(
        _text(MODEL_HEAD, "  aimId: qwen/qwen3-32b\n  custom: {versionPolicy: latest}\n" + SOURCES),
        _text(MODEL_HEAD, "  aimId: qwen/qwen3-32b\n" + SOURCES),
        4, "spec.image",
        "required: a fine-tuned model with versionPolicy pinned (the default) deploys spec.image; "
        "set spec.image, or set spec.custom.versionPolicy to latest, any or all"),
    "M1 customTemplates with sources": RuleCase(
        _text(MODEL_HEAD, IMAGE + SOURCES + "  custom: {hardware: {gpu: {requests: 1}}}\n"
              "  customTemplates: [{name: a}]\n"),
        _text(MODEL_HEAD, IMAGE + SOURCES + "  customTemplates: [{name: a}]\n"),
        7, "spec.customTemplates", M1),
    "M1 custom.templates with sources": RuleCase(
        _text(MODEL_HEAD, IMAGE + SOURCES
              + "  custom: {templates: [{name: a, hardware: {cpu: {requests: 1}}}]}\n"),
        _text(MODEL_HEAD, IMAGE + SOURCES + "  custom: {templates: [{name: a}]}\n"),
        7, "spec.custom.templates", M1),
    "D19 a custom template's customProfile": RuleCase(
        _text(MODEL_HEAD, IMAGE + "  customTemplates:\n  - {aimId: a/b, modelId: a/b, customProfile: {}, "
              "hardware: {gpu: {requests: 1}}, profile: {metric: latency, precision: fp8}}\n"),
        _text(MODEL_HEAD, IMAGE + "  customTemplates:\n  - {modelId: a/b, customProfile: {}, "
              "hardware: {gpu: {requests: 1}}, profile: {metric: latency, precision: fp8}}\n"),
        7, "spec.customTemplates[0].aimId", "aimId is required when customProfile is set (D19)"),
    "D19 a template's customProfile": RuleCase(
        _text(TEMPLATE_HEAD, "  {modelName: m, aimId: a/b, modelId: a/b, customProfile: {}, metric: latency, "
              "precision: fp8, hardware: {gpu: {requests: 1}}}\n"),
        _text(TEMPLATE_HEAD, "  {modelName: m, aimId: a/b, modelId: a/b, customProfile: {}, metric: latency, "
              "hardware: {gpu: {requests: 1}}}\n"),
        4, "spec.precision", "precision is required when customProfile is set (D19)"),
    "S1 exactly one model": RuleCase(
        _text(SERVICE_HEAD, "  model: {name: qwen3}\n"),
        _text(SERVICE_HEAD, "  model: {name: qwen3, image: 'amdenterpriseai/aim-qwen-qwen3-32b:0.8.5'}\n"),
        5, "spec.model", "set exactly one of name, image or custom"),
    "S2 an inline model has a source": RuleCase(
        _text(SERVICE_HEAD, "  model: {custom: {hardware: {gpu: {requests: 1}}, "
              "modelSources: [{modelId: acme/model, sourceUri: 's3://b/w'}]}}\n"),
        _text(SERVICE_HEAD, "  model: {custom: {hardware: {gpu: {requests: 1}}, modelSources: []}}\n"),
        5, "spec.model.custom.modelSources", "must have at least 1 item"),
    "the replica range": RuleCase(
        _text(SERVICE_HEAD, "  model: {name: qwen3}\n  minReplicas: 2\n  maxReplicas: 2\n"),
        _text(SERVICE_HEAD, "  model: {name: qwen3}\n  minReplicas: 3\n  maxReplicas: 2\n"),
        7, "spec.maxReplicas", "must be at least spec.minReplicas: the autoscaler scales between the two"),
}


def _validate(tmp_path: Path, text: str, *, against: str | None = None) -> tuple[int, list[str], Path]:
    path = tmp_path / "new.yaml"
    path.write_text(text)
    argv = ["validate", str(path)]
    if against is not None:
        old = tmp_path / "old.yaml"
        old.write_text(against)
        argv += ["--against", str(old)]
    code, out, _ = run_cli(*argv)
    return code, out.splitlines(), path


@pytest.mark.parametrize("case", list(RULE_CASES))
def test_each_rule_good_and_bad_through_validate(tmp_path: Path, case: str) -> None:
    rule = RULE_CASES[case]
    assert _validate(tmp_path, rule.good)[:2] == (0, [])
    code, lines, path = _validate(tmp_path, rule.bad)
    assert (code, lines) == (1, [f"{path}:{rule.line}: {rule.path}: {rule.message}"])


def test_every_cel_rule_has_a_case() -> None:
    """The table covers each rule class of the CRDs (H1, H2, D18, M1, D19, S1, the image, the replicas)."""
    messages = {rule.message for rules in celrules.RULES.values() for rule in rules}
    covered = {case.message for case in RULE_CASES.values()}
    d19 = {m for m in messages if m.endswith("(D19)")}
    assert messages - covered == d19 - covered  # the other D19 fields: tests/test_validation.py


def test_rules_are_cel_on_the_classes_they_check() -> None:
    assert _find("AIMModel", "spec.custom.hardware")[0]["x-kubernetes-validations"] == [  # type: ignore[index]
        {"rule": "has(self.gpu) || has(self.cpu)", "message": "hardware needs gpu or cpu (or both)"}
    ]
    assert _find("AIMService", "spec.model")[0]["x-kubernetes-validations"] == [  # type: ignore[index]
        {"rule": "((has(self.name) && self.name != '') ? 1 : 0) + "
                 "((has(self.image) && self.image != '') ? 1 : 0) + (has(self.custom) ? 1 : 0) == 1",
         "message": "set exactly one of name, image or custom"},
        {"rule": "self == oldSelf",
         "message": "cannot change once the service exists; create another service for another model"},
    ]
    gpu = _find("AIMServiceTemplate", "status.resolvedHardware.gpu")[0]
    assert gpu is not None
    assert [v.get("fieldPath") for v in gpu["x-kubernetes-validations"]] == [None, ".minVram"]
    transitions = sorted(
        f"{kind} {path}" for kind in BY_KIND for path in _transition_paths(_schema(kind), "")
    )
    assert transitions == sorted([
        *(f"{k} spec.{f}" for k in ("AIMServiceTemplate", "AIMClusterServiceTemplate")
          for f in ("modelName", "metric", "precision", "hardware")),
        *(f"AIMService spec.{f}" for f in ("model", "template", "caching", "overrides.metric",
                                           "overrides.precision", "overrides.hardware")),
        "AIMArtifact spec.sourceUri",
    ])


def _transition_paths(node: Mapping[str, Any], path: str) -> list[str]:
    found = [path] if any("oldSelf" in v["rule"] for v in node.get("x-kubernetes-validations", ())) else []
    for name, child in node.get("properties", {}).items():
        found.extend(_transition_paths(child, f"{path}.{name}" if path else name))
    if isinstance(node.get("items"), dict):
        found.extend(_transition_paths(node["items"], f"{path}[]"))
    return found


@attrs.frozen
class UpdateCase:
    """An object as it is, a change the API server accepts, and one it refuses at `line`, `path`."""

    old: str
    good: str
    bad: str
    line: int
    path: str
    message: str


ANOTHER_TEMPLATE = "create another template instead"
ONE_WAY = f"cannot change: a template is one way to run its model; {ANOTHER_TEMPLATE}"
NEW_SERVICE = "cannot change once the service exists; create another service"
TEMPLATE = _text(TEMPLATE_HEAD, "  modelName: m\n  metric: latency\n  precision: fp8\n"
                                "  hardware: {gpu: {requests: 1, model: MI300X}}\n")
SERVICE = _text(SERVICE_HEAD, "  model: {name: qwen3}\n  template: {name: qwen3-latency}\n"
                              "  caching: {mode: Shared}\n  overrides:\n    metric: latency\n"
                              "    precision: fp8\n    hardware: {gpu: {requests: 1}}\n")
ARTIFACT = _text("""\
    apiVersion: aim.eai.amd.com/v1alpha1
    kind: AIMArtifact
    metadata: {name: a, namespace: ml-team}
    spec:
    """, "  sourceUri: hf://Qwen/Qwen3-32B\n  storageClassName: fast\n")

UPDATE_CASES: Mapping[str, UpdateCase] = {
    "I1 template modelName": UpdateCase(
        TEMPLATE, TEMPLATE.replace("  metric: latency\n", "  metric: latency\n  profileId: p\n"),
        TEMPLATE.replace("modelName: m", "modelName: m2"), 5, "spec.modelName",
        f"cannot change: a template belongs to the model it was made for; {ANOTHER_TEMPLATE}"),
    "I2 template metric": UpdateCase(
        TEMPLATE, TEMPLATE,
        TEMPLATE.replace("metric: latency", "metric: throughput"), 6, "spec.metric", ONE_WAY),
    "I3 template precision": UpdateCase(
        TEMPLATE, TEMPLATE, TEMPLATE.replace("precision: fp8", "precision: fp16"), 7, "spec.precision",
        ONE_WAY),
    "I4 template hardware": UpdateCase(
        TEMPLATE,
        TEMPLATE.replace("model: MI300X}", "model: MI300X, resourceName: amd.com/gpu}"),  # its default
        TEMPLATE.replace("requests: 1", "requests: 2"), 8, "spec.hardware", ONE_WAY),
    "I5 service model": UpdateCase(
        SERVICE, SERVICE.replace("  caching", "  replicas: 2\n  caching"),
        SERVICE.replace("name: qwen3}", "name: llama}"), 5, "spec.model", f"{NEW_SERVICE} for another model"),
    "I6 service template": UpdateCase(
        SERVICE, SERVICE.replace("  caching", "  env: [{name: A, value: '1'}]\n  caching"),
        SERVICE.replace("qwen3-latency", "qwen3-throughput"), 6, "spec.template",
        f"{NEW_SERVICE} to choose another template"),
    "I7 service caching": UpdateCase(
        SERVICE, SERVICE.replace("caching: {mode: Shared}", "caching: {}"),  # Shared is its default
        SERVICE.replace("mode: Shared", "mode: Dedicated"), 7, "spec.caching",
        f"{NEW_SERVICE} to cache differently"),
    "I8 service metric override": UpdateCase(
        SERVICE, SERVICE, SERVICE.replace("metric: latency", "metric: throughput"), 9,
        "spec.overrides.metric",
        f"{NEW_SERVICE} with other overrides"),
    "I9 service precision override": UpdateCase(
        SERVICE, SERVICE.replace("    precision: fp8\n", ""),  # removing it is no change
        SERVICE.replace("precision: fp8", "precision: bf16"), 10, "spec.overrides.precision",
        f"{NEW_SERVICE} with other overrides"),
    "I10 service hardware override": UpdateCase(
        SERVICE, SERVICE, SERVICE.replace("requests: 1}", "requests: 1}, cpu: {requests: 4}"), 11,
        "spec.overrides.hardware", f"{NEW_SERVICE} with other overrides"),
    "I11 artifact sourceUri": UpdateCase(
        ARTIFACT, ARTIFACT.replace("fast", "slow"), ARTIFACT.replace("Qwen3-32B", "Qwen3-8B"), 5,
        "spec.sourceUri",
        "cannot change: an artifact holds the weights of one source; create another artifact"),
}


@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_each_immutable_field_good_and_bad_through_validate_against(tmp_path: Path, case: str) -> None:
    update = UPDATE_CASES[case]
    assert _validate(tmp_path, update.good, against=update.old)[:2] == (0, [])
    code, lines, path = _validate(tmp_path, update.bad, against=update.old)
    assert (code, lines) == (1, [f"{path}:{update.line}: {update.path}: {update.message}"])
    assert _validate(tmp_path, update.bad)[:2] == (0, [])  # without the old object: a valid creation


def test_validate_against_contract(tmp_path: Path) -> None:
    """Problems of the old objects are problems too; objects without an old one are new; the summary says
    how many old documents were read; a directory works as for the new manifests."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "a.yaml").write_text(TEMPLATE)
    (tmp_path / "old" / "b.yaml").write_text(TEMPLATE.replace("metric: latency", "metric: fast"))
    new = tmp_path / "new.yaml"
    new.write_text(TEMPLATE.replace("fp8", "fp16") + "---\n" + TEMPLATE.replace("name: t", "name: other"))
    code, out, err = run_cli("validate", str(new), "--against", str(tmp_path / "old"))
    assert code == 1
    assert out.splitlines() == [
        f"{tmp_path / 'old' / 'b.yaml'}:6: spec.metric: 'fast' is not valid: must be one of latency, "
        "throughput",
        f"{new}:7: spec.precision: {ONE_WAY}",
    ]
    assert err.splitlines()[-1] == "2 documents checked against 2 earlier, 2 problems"


def test_validate_without_against_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    assert run_cli("validate", str(path)) == (0, "", "1 document checked, 0 problems\n")


def test_a_rule_in_defaults_compares_as_the_api_server_does() -> None:
    """`self == oldSelf` runs after defaulting: an explicit default is no change."""
    old = r.Hardware(gpu=r.GpuRequirements(requests=1))
    new = r.Hardware(gpu=r.GpuRequirements(requests=1, resource_name="amd.com/gpu"))
    assert celrules.defaulted(old) == new
    spec = r.AIMServiceTemplateSpec(model_name="m", hardware=old)
    assert list(celrules.changed(spec, attrs.evolve(spec, hardware=new))) == []
    assert list(celrules.changed(spec, attrs.evolve(spec, hardware=None))) == []  # removed: allowed
    assert list(celrules.changed(attrs.evolve(spec, hardware=None), spec)) == []  # added: allowed
    assert list(celrules.changed(spec, attrs.evolve(spec, model_name="n"))) == [(
        ("modelName",),
        "cannot change: a template belongs to the model it was made for; create another template instead",
    )]


# --- aimcore's own updates never change an immutable field ------------------------------------------

def test_a_generated_template_whose_immutable_fields_change_is_recreated() -> None:
    """The API server refuses an update of a template's hardware, so the model deletes the template and
    creates it again (the name hashes only part of the hardware)."""
    doc = {"apiVersion": r.V1ALPHA1, "kind": "AIMModel", "metadata": {"name": "m", "namespace": "ml-team"},
           "spec": {"image": "amdenterpriseai/aim-base:0.8.5",
                    "modelSources": [{"modelId": "acme/model", "sourceUri": "s3://bucket/weights"}],
                    "custom": {"hardware": {"gpu": {"requests": 1, "model": "MI300X"},
                                            "cpu": {"requests": 4}}}}}
    cluster = _cluster([doc])
    assert run(cluster, lambda keys: {}, max_rounds=10).converged
    (template,) = [o for o in cluster.objects.values() if isinstance(o, r.AIMServiceTemplate)]
    key = ObjectKey.of(template)
    doc["spec"]["custom"]["hardware"]["cpu"] = {"requests": 8}
    changed = codec.load(r.AIMModel, doc)
    model = cluster.objects[ObjectKey("AIMModel", "ml-team", "m")]
    changed = attrs.evolve(changed, metadata=model.metadata, status=model.status)
    snapshot = Snapshot.build([*cluster.objects.values()], now=NOW)
    snapshot = attrs.evolve(snapshot, objects={**snapshot.objects, ObjectKey.of(changed): changed})
    plan = models.reconcile_model(changed, snapshot)
    assert [a for a in plan.actions if isinstance(a, Apply)] == []
    (delete,) = [a for a in plan.actions if isinstance(a, Delete)]
    assert (delete.key, delete.uid) == (key, template.metadata.uid)
    assert delete.reason == (f"spec.hardware cannot change on {key}: delete it, to create it again "
                             f"for AIMModel ml-team/m")


# --- D27 and the discovery output -------------------------------------------------------------------

def test_a_gpu_count_override_reads_the_reference_s_gpu_count() -> None:
    metadata = r.ProfileMetadata(gpu="MI300X", gpu_count_camel=2, type="optimized", metric="latency",
                                 precision="fp8")
    template = r.AIMServiceTemplate(
        api_version=r.V1ALPHA1, kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name="t", namespace="ml-team"),
        spec=r.AIMServiceTemplateSpec(model_name="m"),
        status=r.AIMServiceTemplateStatus(status=r.TemplateStatus.READY,
                                          profile=r.TemplateProfile(metadata=metadata)))
    by_count = r.ServiceOverrides(gpu_selector=r.GpuSelector(count=2))
    assert selection.template_gpu_count(template) == 2
    assert selection.auto_select([template], overrides=by_count).template == template
    other = r.ServiceOverrides(gpu_selector=r.GpuSelector(count=1))
    assert selection.auto_select([template], overrides=other).template is None


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("metric", "fastest", "latency, throughput"),
    ("precision", "fp12", "auto, fp4, fp8, fp16, fp32, bf16, int4, int8"),
    ("type", "general", "optimized, preview, unoptimized"),
])
def test_discovery_output_outside_the_status_enums_is_invalid(key: str, value: str, allowed: str) -> None:
    """The reference's enums on status.profile.metadata: a value the CRDs refuse fails discovery (D26)."""
    metadata = {"gpu": "MI300X", "gpu_count": 1, key: value}
    log = json.dumps([{"filename": "p.yaml", "profile": {"metadata": metadata}, "models": []}])
    result = dryrun.parse_dry_run(log)
    assert isinstance(result, dryrun.DryRunError)
    assert result.cause == f'profile.metadata.{key} "{value}" is not one of {allowed}'
