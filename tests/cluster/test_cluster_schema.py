"""The CRDs and the offline validator against a real API server.

The API server is the judge of what a cluster accepts: structural schemas, pruning,
defaults, enums, patterns, bounds, unknown fields (with `fieldValidation=Strict`, as
`kubectl apply` sends) and which versions are served. These tests hold `aimcore crds`,
`aimcore simulate` and `aimcore validate` to it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from aimcore.adapters.cli.main import main as cli_main
from aimcore.adapters.kube.api import AIM_KINDS, SECRETS, ApiError, KubeApi
from aimcore.crds import crds
from tests.cluster.fixtures import CRDS, NAMESPACES, KubeCluster, delete_namespace, wait_for
from tests.cluster.support import comparable, ensure_namespaces, info_of, key_of, simulate, with_defaults
from tests.test_reference_api import RULE_CASES, UPDATE_CASES, reference_objects

pytestmark = pytest.mark.cluster

GROUP = "aim.eai.amd.com"


def test_every_crd_is_established_and_serves_its_versions(kube: KubeCluster, namespace: str) -> None:
    api = kube.api()
    expected = {doc["metadata"]["name"]: doc for doc in crds()}
    assert sorted(expected) == sorted(f"{info.plural}.{GROUP}" for info in AIM_KINDS.values())
    for name, doc in expected.items():
        served = api.get(CRDS, None, name)
        conditions = {c["type"]: c["status"] for c in served["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert conditions["NamesAccepted"] == "True"
        assert served["status"]["acceptedNames"]["kind"] == doc["spec"]["names"]["kind"]
        assert served["status"]["acceptedNames"].get("shortNames") == doc["spec"]["names"].get("shortNames")
        assert served["status"]["storedVersions"] == [
            v["name"] for v in doc["spec"]["versions"] if v["storage"]
        ]
        info = AIM_KINDS[doc["spec"]["names"]["kind"]]
        for version in doc["spec"]["versions"]:
            items, list_version = api.list(attrs.evolve(info, version=version["name"]),
                                           namespace if info.namespaced else None)
            assert items == [] or not info.namespaced
            assert list_version.isdigit()


# --- everything simulate produces is accepted and read back as written -------------------------

FIXTURE_SETS = {
    "fixtures": (["fixtures"], "fixtures/catalog.imagefacts"),
    "finetune": (["fixtures/finetune"], "fixtures/finetune.imagefacts"),
}


@pytest.fixture
def clean_namespaces(kube: KubeCluster) -> Iterator[list[str]]:
    """Namespaces a test creates by name; deleted, and waited for, afterwards."""
    created: list[str] = []
    yield created
    api = kube.api()
    for name in created:
        delete_namespace(api, name)

    def gone() -> bool:
        names = {item["metadata"]["name"] for item in api.list(NAMESPACES)[0]}
        return not names & set(created)

    wait_for(gone, 120, f"namespaces {created} to be deleted")


def _create_in_owner_order(api: KubeApi, docs: list[dict[str, Any]]) -> dict[str, str]:
    """Create every object (owners before what they own), then write its status; the real uids
    replace simulate's in ownerReferences, since the garbage collector deletes orphans."""
    uids: dict[str, str] = {}
    pending = list(docs)
    while pending:
        ready = [d for d in pending if all(
            _owner_key(d, ref) in uids for ref in d["metadata"].get("ownerReferences") or ())]
        assert ready, f"owners missing for {[key_of(d) for d in pending]}"
        for doc in ready:
            pending.remove(doc)
            meta = {k: v for k, v in doc["metadata"].items()
                    if k not in ("uid", "resourceVersion", "generation", "creationTimestamp")}
            if meta.get("ownerReferences"):
                meta["ownerReferences"] = [{**ref, "uid": uids[_owner_key(doc, ref)]}
                                           for ref in meta["ownerReferences"]]
            body = {k: v for k, v in doc.items() if k != "status"}
            created = api.create(info_of(doc), {**body, "metadata": meta}, field_validation="Strict")
            uids[key_of(doc)] = created["metadata"]["uid"]
            if "status" in doc:
                status_meta = {k: v for k, v in meta.items() if k in ("name", "namespace")}
                api.apply(info_of(doc), {"apiVersion": doc["apiVersion"], "kind": doc["kind"],
                                         "metadata": status_meta, "status": doc["status"]}, status=True)
    return uids


def _owner_key(doc: dict[str, Any], ref: dict[str, Any]) -> str:
    """The owner's "Kind ns/name": a namespaced owner lives in its child's namespace."""
    namespace = doc["metadata"].get("namespace", "") if AIM_KINDS[ref["kind"]].namespaced else ""
    return f"{ref['kind']} {namespace}/{ref['name']}"


@pytest.mark.parametrize("fixture_set", sorted(FIXTURE_SETS))
def test_every_object_simulate_produces_is_accepted_and_read_back_unchanged(
    kube: KubeCluster, clean_namespaces: list[str], fixture_set: str
) -> None:
    paths, images = FIXTURE_SETS[fixture_set]
    objects = simulate(paths, images)["objects"]
    assert len(objects) > 10
    api = kube.api()
    namespaces = sorted({d["metadata"]["namespace"] for d in objects if d["metadata"].get("namespace")})
    clean_namespaces.extend(namespaces)
    ensure_namespaces(api, namespaces)
    _create_in_owner_order(api, objects)
    for doc in objects:
        info = info_of(doc)
        read = api.get(info, doc["metadata"].get("namespace"), doc["metadata"]["name"])
        assert read["apiVersion"] == doc["apiVersion"]
        assert comparable(read) == comparable(with_defaults(doc)), key_of(doc)


# --- the offline validator and the API server agree on what is wrong ----------------------------

MODEL = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AIMModel", "metadata": {"name": "m"}}
TEMPLATE = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "t"}}
SERVICE = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AIMService", "metadata": {"name": "s"}}
SOURCE = {"modelId": "acme/model", "sourceUri": "s3://bucket/weights"}
BASE_IMAGE = "amdenterpriseai/aim-base:0.8"


def custom(**spec: Any) -> dict[str, Any]:
    """A custom model's spec: a base image and one source, then `spec`."""
    return {"image": BASE_IMAGE, "modelSources": [SOURCE], **spec}


#: id -> (manifest, the field both must name, the API server's status code). Where the two
#: spell a field differently, the entry is a pair (aimcore's path, the API server's).
BAD_MANIFESTS: dict[str, tuple[dict[str, Any], str | tuple[str, str | None], int]] = {
    "template metric not in the enum": (
        {**TEMPLATE, "spec": {"modelName": "m", "metric": "fastest"}}, "spec.metric", 422),
    "template precision not in the enum": (
        {**TEMPLATE, "spec": {"modelName": "m", "precision": "fp12"}}, "spec.precision", 422),
    "template without modelName": ({**TEMPLATE, "spec": {"metric": "latency"}}, "spec.modelName", 422),
    "template with an empty modelName": ({**TEMPLATE, "spec": {"modelName": ""}}, "spec.modelName", 422),
    "template with an unknown field": (
        {**TEMPLATE, "spec": {"modelName": "m", "fast": True}}, "spec.fast", 400),
    "model name not a DNS subdomain": (
        {**MODEL, "metadata": {"name": "Bad_Name"}, "spec": {"image": "x/y:1"}}, "metadata.name", 422),
    "model without spec": (MODEL, "spec", 422),
    "model spec not an object": ({**MODEL, "spec": "image"}, "spec", 422),
    "model source uri not hf or s3": (
        {**MODEL, "spec": custom(modelSources=[{**SOURCE, "sourceUri": "ftp://host/weights"}])},
        "spec.modelSources[0].sourceUri", 422),
    "model source id without an org": (
        {**MODEL, "spec": custom(modelSources=[{**SOURCE, "modelId": "model"}])},
        "spec.modelSources[0].modelId", 422),
    "model source without sourceUri": (
        {**MODEL, "spec": custom(modelSources=[{"modelId": "acme/model"}])},
        "spec.modelSources[0].sourceUri", 422),
    "model with two sources": (
        {**MODEL, "spec": custom(modelSources=[SOURCE, {**SOURCE, "modelId": "acme/other"}])},
        "spec.modelSources", 422),
    "model gpu requests a string": (
        {**MODEL, "spec": custom(custom={"hardware": {"gpu": {"requests": "two"}}})},
        "spec.custom.hardware.gpu.requests", 422),
    "model gpu requests negative": (
        {**MODEL, "spec": custom(custom={"hardware": {"gpu": {"requests": -1}}})},
        "spec.custom.hardware.gpu.requests", 422),
    "model minVram a float": (
        {**MODEL, "spec": custom(custom={"hardware": {"gpu": {"minVram": 1.5}}})},
        "spec.custom.hardware.gpu.minVram", 422),
    "model minVram not a quantity": (
        {**MODEL, "spec": custom(custom={"hardware": {"gpu": {"minVram": "lots"}}})},
        "spec.custom.hardware.gpu.minVram", 422),
    "model cpu without requests": (
        {**MODEL, "spec": custom(custom={"hardware": {"cpu": {"limits": "4"}}})},
        "spec.custom.hardware.cpu.requests", 422),
    "model version policy not in the enum": (
        {**MODEL, "spec": custom(custom={"versionPolicy": "newest"})},
        "spec.custom.versionPolicy", 422),
    "model custom template name too long": (
        {**MODEL, "spec": {"image": "x/y:1", "customTemplates": [{"name": "n" * 64}]}},
        "spec.customTemplates[0].name", 422),
    "model env without a name": (
        {**MODEL, "spec": {"image": "x/y:1", "env": [{"value": "1"}]}}, "spec.env[0].name", 422),
    "model pull secret without a name": (
        {**MODEL, "spec": {"image": "x/y:1", "imagePullSecrets": [{}]}},
        "spec.imagePullSecrets[0].name", 422),
    "service without model": ({**SERVICE, "spec": {"replicas": 1}}, "spec.model", 422),
    "service negative replicas": (
        {**SERVICE, "spec": {"model": {"name": "m"}, "replicas": -1}}, "spec.replicas", 422),
    "service gpu count negative": (
        {**SERVICE, "spec": {"model": {"name": "m"}, "overrides": {"gpuSelector": {"count": -2}}}},
        "spec.overrides.gpuSelector.count", 422),
    "service precision override not in the enum": (
        {**SERVICE, "spec": {"model": {"name": "m"}, "overrides": {"precision": "fp12"}}},
        "spec.overrides.precision", 422),
    "service inline custom model without sources": (
        {**SERVICE, "spec": {"model": {"custom": {"hardware": {"gpu": {"requests": 1}}}}}},
        "spec.model.custom.modelSources", 422),
    "secret data not base64": (
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"},
         "data": {"token": "not base64!"}},
        ("data.token", None), 400),  # the server's decoding error names no field
    "secret key name with a slash": (
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"}, "stringData": {"a/b": "x"}},
        ("stringData[a/b]", "data[a/b]"), 422),  # the server checks stringData merged into data
    "pull secret without its docker config": (
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"},
         "type": "kubernetes.io/dockerconfigjson", "stringData": {"token": "x"}},
        ("data", "data[.dockerconfigjson]"), 422),
    "pull secret whose docker config is not JSON": (
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"},
         "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "BASE64_CONFIG"}},
        "data[.dockerconfigjson]", 422),
    "model in a version that is not served": (
        {**MODEL, "apiVersion": f"{GROUP}/v1", "spec": {"image": "x/y:1"}}, "apiVersion", 404),
    "profile in v1alpha1, which profiles are not served in": (
        {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AIMProfile", "metadata": {"name": "p"}, "spec": {}},
        "apiVersion", 404),
}


def _validate(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    """What `aimcore validate FILE` prints, one problem a line."""
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc))
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["validate", str(path)], out, err)
    lines = [line for line in out.getvalue().splitlines() if line.startswith(str(path))]
    assert (code == 0) == (lines == []), out.getvalue() + err.getvalue()
    return lines


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_validate_and_the_api_server_refuse_the_same_manifests(
    kube: KubeCluster, namespace: str, tmp_path: Path, case: str
) -> None:
    doc, field, code = BAD_MANIFESTS[case]
    ours, theirs = field if isinstance(field, tuple) else (field, field)
    doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
    problems = _validate(doc, tmp_path)
    assert [line.split(": ")[1] for line in problems] == [ours], problems  # that field, and only it

    info = SECRETS if doc["kind"] == "Secret" else AIM_KINDS[doc["kind"]]
    target = attrs.evolve(info, version=doc["apiVersion"].rsplit("/", 1)[-1])
    with pytest.raises(ApiError) as refused:
        kube.api().create(target, doc, dry_run=True, field_validation="Strict")
    assert refused.value.status == code, str(refused.value)
    if code != 404 and theirs is not None:  # a version that is not served has no fields to name
        assert theirs in refused.value.message, str(refused.value)


def test_a_valid_manifest_passes_both(kube: KubeCluster, namespace: str, tmp_path: Path) -> None:
    """The table's base documents are valid, so each bad case fails for its one field."""
    for doc in (
        {**MODEL, "spec": custom(custom={"hardware": {"gpu": {"requests": 1}}, "versionPolicy": "latest"})},
        {**TEMPLATE, "spec": {"modelName": "m", "metric": "latency", "precision": "fp8"}},
        {**SERVICE, "spec": {"model": {"name": "m"}, "replicas": 2}},
    ):
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        assert _validate(doc, tmp_path) == []
        created = kube.api().create(AIM_KINDS[doc["kind"]], doc, dry_run=True, field_validation="Strict")
        assert created["metadata"]["name"] == doc["metadata"]["name"]


# --- issue 16: what the reference wrote, its CEL rules, its immutable fields --------------------------

def _moved(doc: dict[str, Any], namespace: str, suffix: str) -> dict[str, Any]:
    """A reference object in this test's namespace; a cluster-scoped one under a name of its own."""
    meta = dict(doc["metadata"])
    if "namespace" in meta:
        meta["namespace"] = namespace
    else:
        meta["name"] = f"{meta['name']}-{suffix}"
    return {**doc, "metadata": meta}


def test_reference_objects_are_accepted_and_read_back_unchanged(kube: KubeCluster, namespace: str) -> None:
    """Every field the reference writes, status included, survives aimcore's CRDs: none pruned or refused."""
    api = kube.api()
    cluster_scoped: list[tuple[Any, str, str]] = []
    for original in reference_objects():
        doc = _moved(original, namespace, namespace)
        info = AIM_KINDS[doc["kind"]]
        created = api.create(info, {k: v for k, v in doc.items() if k != "status"}, field_validation="Strict")
        meta = {k: doc["metadata"][k] for k in ("name", "namespace") if k in doc["metadata"]}
        api.apply(info, {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": meta,
                         "status": doc["status"]}, status=True)
        read = api.get(info, meta.get("namespace"), meta["name"])
        assert comparable(read) == comparable(with_defaults(doc)), key_of(doc)
        if not info.namespaced:
            cluster_scoped.append((info, meta["name"], created["metadata"]["uid"]))
    for info, name, uid in cluster_scoped:
        api.delete(info, None, name, uid)


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_the_api_server_and_validate_agree_on_each_rule(
    kube: KubeCluster, namespace: str, tmp_path: Path, case: str
) -> None:
    """The good manifest passes both; the bad one is refused by both, at the same field, in the same words."""
    rule = RULE_CASES[case]
    api = kube.api()
    good, bad = (_moved(yaml.safe_load(text), namespace, namespace) for text in (rule.good, rule.bad))
    info = AIM_KINDS[good["kind"]]
    assert _validate(good, tmp_path) == []
    created = api.create(info, good, dry_run=True, field_validation="Strict")
    assert created["metadata"]["name"] == good["metadata"]["name"]
    problems = _validate(bad, tmp_path)
    assert [line.split(": ", 1)[1] for line in problems] == [f"{rule.path}: {rule.message}"]
    with pytest.raises(ApiError) as refused:
        if "status" in bad:  # written through its subresource, as a controller writes it
            created = api.create(info, {k: v for k, v in bad.items() if k != "status"})
            api._call("PUT", info.path(namespace, created["metadata"]["name"], "status"),
                      query=[("fieldValidation", "Strict")], body={**created, "status": bad["status"]})
        else:
            api.create(info, bad, dry_run=True, field_validation="Strict")
    assert refused.value.status == 422, str(refused.value)
    assert f"{rule.path}: " in refused.value.message, str(refused.value)
    if not rule.message.startswith("must have at least"):  # the schema's own words for minItems
        assert rule.message in refused.value.message, str(refused.value)


@pytest.mark.parametrize("case", sorted(UPDATE_CASES))
def test_the_api_server_and_validate_agree_on_each_immutable_field(
    kube: KubeCluster, namespace: str, tmp_path: Path, case: str
) -> None:
    """Created as `old`, the object takes the good update and refuses the bad one, as `validate --against`."""
    update = UPDATE_CASES[case]
    api = kube.api()
    old, good, bad = (_moved(yaml.safe_load(text), namespace, namespace)
                      for text in (update.old, update.good, update.bad))
    info = AIM_KINDS[old["kind"]]
    created = api.create(info, old, field_validation="Strict")
    with pytest.raises(ApiError) as refused:
        api.replace(info, {**bad, "metadata": {
            **bad["metadata"], "resourceVersion": created["metadata"]["resourceVersion"]}})
    assert refused.value.status == 422, str(refused.value)
    assert f"{update.path}: " in refused.value.message and update.message in refused.value.message, str(
        refused.value)
    replaced = api.replace(info, {**good, "metadata": {
        **good["metadata"], "resourceVersion": created["metadata"]["resourceVersion"]}})
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    for doc, expected in ((good, []), (bad, [f"{update.path}: {update.message}"])):
        path = tmp_path / "new.yaml"
        path.write_text(yaml.safe_dump(doc))
        out = io.StringIO()
        cli_main(["validate", str(path), "--against", str(tmp_path / "old.yaml")], out, io.StringIO())
        assert [line.split(": ", 1)[1] for line in out.getvalue().splitlines()] == expected
