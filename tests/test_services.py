"""AIMService, the model side: model resolution (D2, D3, D16), template selection (D17),
deployment image (reference-finetuned §11), resources (D15), conditions and idempotence."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.files.manifests import load_catalog
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.ownership import ANNOTATION_DEPLOYMENT_IMAGE, LABEL_CUSTOM_MODEL, LABEL_ORIGIN, LABEL_SERVICE
from aimcore.plan import Apply, UpdateStatus
from aimcore.reconcile import reconcile_all
from aimcore.services import DEFAULT_BASE_IMAGE, reconcile_service
from aimcore.snapshot import ObjectKey, Snapshot

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "spec"
SERVICES = ROOT / "fixtures" / "services"
NOW = "2026-01-01T00:00:00Z"
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
QWEN_AUTO = "auto-76a317c3201a"
QWEN_LATENCY = "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-95a1"


def simulate(
    *paths: Path, extra: tuple[r.Resource, ...] = (), gpus: list[str] | None = None
) -> MemoryCluster:
    facts, problems = load_image_facts(str(ROOT / "fixtures" / "catalog.imagefacts"))
    assert problems == []
    catalog = load_catalog([str(p) for p in paths])
    assert catalog.problems == ()
    objects = [o for o, _ in catalog.objects] + list(extra)
    cluster = MemoryCluster(objects, now=NOW, operator_namespace="aim-system", gpus=gpus)
    outcome = run(cluster, lambda keys: {k: facts.inspect(k) for k in keys}, max_rounds=20)
    assert outcome.converged
    # idempotence: a reconcile after convergence plans nothing at all
    assert [p.actions for p in reconcile_all(cluster.snapshot()) if p.actions] == []
    return cluster


def service(cluster: MemoryCluster, name: str, namespace: str = "ml-team") -> r.AIMService:
    found = cluster.objects[ObjectKey("AIMService", namespace, name)]
    assert isinstance(found, r.AIMService)
    return found


def status(svc: r.AIMService) -> r.AIMServiceStatus:
    assert svc.status is not None
    return svc.status


def condition(svc: r.AIMService, type_: str) -> tuple[str, str | None, str | None]:
    found = next(c for c in status(svc).conditions or () if c.type == type_)
    return found.status.value, found.reason, found.message


def svc_doc(name: str, model: dict[str, Any], **spec: Any) -> r.AIMService:
    return codec.load(
        r.AIMService,
        {
            "apiVersion": r.V1ALPHA1,
            "kind": "AIMService",
            "metadata": {"name": name, "namespace": "ml-team", "uid": f"uid-{name}", "generation": 1},
            "spec": {"model": model, **spec},
        },
    )


def model_doc(name: str, image: str, *, cluster: bool = False, **spec: Any) -> r.Model:
    kind = "AIMClusterModel" if cluster else "AIMModel"
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{kind}-{name}"}
    if not cluster:
        metadata["namespace"] = "ml-team"
    doc = {"apiVersion": r.V1ALPHA1, "kind": kind, "metadata": metadata, "spec": {"image": image, **spec}}
    if cluster:
        return codec.load(r.AIMClusterModel, doc)
    return codec.load(r.AIMModel, doc)


# --------------------------------------------------------------------- spec examples


def test_auto_creation_from_image_05_with_runtime_config_04() -> None:
    cluster = simulate(SPEC / "04-private-image.yaml", SPEC / "05-auto-creation-service.yaml")
    digest = hashlib.sha256(f"docker.io/{QWEN}".encode()).hexdigest()[:12]
    assert f"auto-{digest}" == QWEN_AUTO
    model = cluster.objects[ObjectKey("AIMModel", "ml-team", QWEN_AUTO)]
    assert isinstance(model, r.AIMModel)
    assert model.spec == r.AIMModelSpec(
        image=QWEN,
        discovery=r.Discovery(extract_metadata=True, create_service_templates=True),
        runtime_config_name="default",
    )
    assert model.metadata.owner_references is None
    labels = model.metadata.labels or {}
    assert labels[LABEL_ORIGIN] == "auto-generated"
    assert labels[LABEL_SERVICE] == "my-service"
    assert model.status is not None and model.status.status is r.Status.READY

    svc = service(cluster, "my-service")
    st = status(svc)
    assert st.status is r.ServiceStatus.RUNNING
    assert st.resolved_model == r.ResolvedReference(
        name=QWEN_AUTO, namespace="ml-team", scope=r.Scope.NAMESPACE, kind="AIMModel", uid=model.metadata.uid
    )
    assert st.resolved_template is not None
    assert (st.resolved_template.name, st.resolved_template.scope) == (QWEN_LATENCY, r.Scope.NAMESPACE)
    assert st.resolved_runtime_config is not None and st.resolved_runtime_config.name == "default"
    assert st.resolved_image == QWEN
    assert st.resolved_resources == r.ResourceRequirements(
        requests={"amd.com/gpu": 1}, limits={"amd.com/gpu": 1}
    )
    assert condition(svc, "ModelReady") == (
        "True",
        "ModelResolved",
        f"Using AIMModel {QWEN_AUTO} (namespace)",
    )
    assert condition(svc, "TemplateReady") == ("True", "Resolved", f"{QWEN_LATENCY} (auto-selection)")
    assert condition(svc, "ImageResolved") == ("True", "ImageResolved", QWEN)
    assert condition(svc, "Ready")[0] == "True"
    assert all(c.last_transition_time == NOW and c.observed_generation == 1 for c in st.conditions or ())


def test_auto_creation_first_pass_and_auto_discovery_off() -> None:
    config = codec.load(
        r.AIMRuntimeConfig,
        {
            "apiVersion": r.V1ALPHA1,
            "kind": "AIMRuntimeConfig",
            "metadata": {"name": "default", "namespace": "ml-team"},
            "spec": {"model": {"autoDiscovery": False}, "imagePullSecrets": [{"name": "config-secret"}]},
        },
    )
    svc = svc_doc(
        "s",
        {"image": QWEN},
        imagePullSecrets=[{"name": "pull"}],
        serviceAccountName="runner",
        runtimeConfigName="default",
    )
    plan = reconcile_service(svc, Snapshot.build([config, svc], now=NOW))
    (apply,) = [a for a in plan.actions if isinstance(a, Apply)]
    assert isinstance(apply.obj, r.AIMModel)
    assert apply.obj.spec == r.AIMModelSpec(
        image=QWEN,
        discovery=r.Discovery(extract_metadata=False, create_service_templates=False),
        runtime_config_name="default",
        image_pull_secrets=(r.LocalObjectReference(name="pull"),),
        service_account_name="runner",
    )
    assert plan.status.status is r.ServiceStatus.PENDING
    ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert (ready.reason, ready.message) == (
        "CreatingModel",
        f"Model {QWEN_AUTO} will be created for image {QWEN}",
    )


def test_inline_custom_service_07() -> None:
    cluster = simulate(SPEC / "07-inline-custom-service.yaml")
    name = "qwen-qwen3-32b-06844ba1"
    model = cluster.objects[ObjectKey("AIMModel", "ml-team", name)]
    assert isinstance(model, r.AIMModel)
    assert model.spec == r.AIMModelSpec(
        image="amdenterpriseai/aim-base:latest",
        model_sources=(r.ModelSource(model_id="Qwen/Qwen3-32B", source_uri="hf://Qwen/Qwen3-32B"),),
        custom=r.CustomModelSpec(hardware=r.Hardware(gpu=r.GpuRequirements(requests=1))),
    )
    labels = model.metadata.labels or {}
    assert (labels[LABEL_ORIGIN], labels[LABEL_CUSTOM_MODEL], labels[LABEL_SERVICE]) == (
        "auto-generated",
        "true",
        "my-qwen-service",
    )
    assert model.metadata.owner_references is None
    assert model.status is not None and model.status.source_type is r.SourceType.CUSTOM
    st = status(service(cluster, "my-qwen-service"))
    assert st.status is r.ServiceStatus.RUNNING
    assert st.resolved_template is not None and st.resolved_template.name == f"{name}-custom-8d12416e"
    assert st.resolved_image == "amdenterpriseai/aim-base:latest"
    assert st.resolved_resources == r.ResourceRequirements(
        requests={"amd.com/gpu": 1}, limits={"amd.com/gpu": 1}
    )


def test_allow_unoptimized_10_with_my_custom_model() -> None:
    cluster = simulate(SPEC / "10-allow-unoptimized.yaml", SERVICES / "my-custom-model.yaml")
    allowed = service(cluster, "my-service-unoptimized")
    assert status(allowed).status is r.ServiceStatus.RUNNING
    assert status(allowed).resolved_template is not None
    assert status(allowed).resolved_template.name == "my-custom-model-custom-00f9783b"  # type: ignore[union-attr]
    explicit = service(cluster, "my-service-explicit")
    assert status(explicit).status is r.ServiceStatus.PENDING  # D32: a named template may still come
    assert condition(explicit, "TemplateReady") == (
        "False",
        "TemplateNotFound",
        "template 'my-custom-model-custom-abc123' not found in the service namespace or cluster scope: "
        "waiting for it to be created",
    )
    assert status(explicit).resolved_template is None


def test_full_custom_deployment_12_converges() -> None:
    cluster = simulate(SPEC / "12-full-custom-deployment.yaml")
    svc = service(cluster, "qwen-custom")
    st = status(svc)
    assert st.status is r.ServiceStatus.RUNNING
    model = cluster.objects[ObjectKey("AIMModel", "ml-team", "qwen-qwen3-32b-06844ba1")]
    assert isinstance(model, r.AIMModel)
    assert model.spec.image == DEFAULT_BASE_IMAGE
    assert model.spec.model_sources is not None and model.spec.model_sources[0].env is not None
    assert condition(svc, "ModelReady") == (
        "True",
        "ModelResolved",
        "Using AIMModel qwen-qwen3-32b-06844ba1 (namespace); "
        "no baseImage given; custom models run on amdenterpriseai/aim-base:latest",
    )
    assert st.resolved_image == DEFAULT_BASE_IMAGE


# --------------------------------------------------------------------- selection on custom models


def test_custom_model_needs_allow_unoptimized_and_says_why() -> None:
    plain = svc_doc("plain", {"name": "custom-templates-example"})
    cluster = simulate(SPEC / "08-custom-templates.yaml", extra=(plain,))
    svc = service(cluster, "plain")
    assert status(svc).status is r.ServiceStatus.PENDING  # D32, reference §3.4: templates may still change
    state, reason, message = condition(svc, "TemplateReady")
    why = "profile type is unoptimized; only optimized templates qualify without allowUnoptimized: true"
    assert (state, reason) == ("False", "TemplateSelectionFailed")
    assert message == (
        "no template of model custom-templates-example qualifies: "
        f"custom-templates-example-custom-high-memory-308e3cea (namespace): {why}; "
        f"custom-templates-example-custom-standard-bee9bc87 (namespace): {why}"
    )


def test_custom_model_allowed_and_explicit() -> None:
    allowed = svc_doc("allowed", {"name": "my-custom-model"}, template={"allowUnoptimized": True})
    named = svc_doc(
        "named", {"name": "my-custom-model"}, template={"name": "my-custom-model-custom-00f9783b"}
    )
    tied = svc_doc("tied", {"name": "custom-templates-example"}, template={"allowUnoptimized": True})
    picked = svc_doc(
        "picked",
        {"name": "custom-templates-example"},
        template={"name": "custom-templates-example-custom-high-memory-308e3cea"},
    )
    cluster = simulate(
        SERVICES / "my-custom-model.yaml",
        SPEC / "08-custom-templates.yaml",
        extra=(allowed, named, tied, picked),
    )
    for name in ("allowed", "named"):
        st = status(service(cluster, name))
        assert st.status is r.ServiceStatus.RUNNING
        assert (
            st.resolved_template is not None
            and st.resolved_template.name == "my-custom-model-custom-00f9783b"
        )
    assert condition(
        service(
            cluster,
            "named",
        ),
        "TemplateReady",
    )[2] == ("my-custom-model-custom-00f9783b (spec.template.name)")
    assert condition(service(cluster, "tied"), "TemplateReady") == (
        "False",
        "TemplateSelectionAmbiguous",
        "templates rank equally: custom-templates-example-custom-high-memory-308e3cea, "
        "custom-templates-example-custom-standard-bee9bc87; set spec.template.name or overrides",
    )
    st = status(service(cluster, "picked"))
    assert st.status is r.ServiceStatus.RUNNING
    assert st.resolved_resources == r.ResourceRequirements(
        requests={"amd.com/gpu": 2}, limits={"amd.com/gpu": 2}
    )


# --------------------------------------------------------------------- resources, image


def test_resource_precedence_per_key_end_to_end() -> None:
    owner = model_doc(
        "base",
        "amdenterpriseai/aim-base:latest",
        modelSources=[{"modelId": "org/m", "sourceUri": "s3://b/m"}],
        custom={"hardware": {"gpu": {"requests": 2, "model": "MI300X"}}, "type": "optimized"},
        resources={"requests": {"cpu": "2", "memory": "16Gi"}, "limits": {"memory": "32Gi", "cpu": 4}},
    )
    svc = svc_doc(
        "res",
        {"name": "base"},
        resources={"requests": {"memory": "64Gi"}, "limits": {"amd.com/gpu": "1"}},
    )
    cluster = simulate(extra=(owner, svc))
    st = status(service(cluster, "res"))
    assert st.status is r.ServiceStatus.RUNNING
    # The service's GPU limit sets the request too: a GPU request must equal its limit.
    assert st.resolved_resources == r.ResourceRequirements(
        requests={"memory": "64Gi", "cpu": "2", "amd.com/gpu": "1"},
        limits={"amd.com/gpu": "1", "memory": "32Gi", "cpu": 4},
    )


def test_deployment_image_annotation_wins() -> None:
    owner = model_doc("img", QWEN)
    template = codec.load(
        r.AIMServiceTemplate,
        {
            "apiVersion": r.V1ALPHA1,
            "kind": "AIMServiceTemplate",
            "metadata": {
                "name": "t",
                "namespace": "ml-team",
                "annotations": {ANNOTATION_DEPLOYMENT_IMAGE: "ghcr.io/silogen/aim-base:0.11"},
            },
            "spec": {"modelName": "img"},
            "status": {"status": "Ready", "profile": {"metadata": {"type": "optimized"}}},
        },
    )
    owner = attrs.evolve(owner, status=r.AIMModelStatus(status=r.Status.READY))
    svc = svc_doc("s", {"name": "img"})
    plan = reconcile_service(svc, Snapshot.build([owner, template, svc]))
    assert plan.status.resolved_image == "ghcr.io/silogen/aim-base:0.11"
    empty = attrs.evolve(
        template, metadata=attrs.evolve(template.metadata, annotations={ANNOTATION_DEPLOYMENT_IMAGE: ""})
    )
    plan = reconcile_service(svc, Snapshot.build([owner, empty, svc]))
    assert plan.status.resolved_image == QWEN


# --------------------------------------------------------------------- model resolution


def test_namespace_model_shadows_cluster_model() -> None:
    local = model_doc("shared-name", QWEN)
    global_ = model_doc("shared-name", QWEN, cluster=True)
    svc = svc_doc("s", {"name": "shared-name"})
    plan = reconcile_service(svc, Snapshot.build([local, global_, svc]))
    assert plan.status.resolved_model.scope is r.Scope.NAMESPACE
    assert plan.status.resolved_model.kind == "AIMModel"
    plan = reconcile_service(svc, Snapshot.build([global_, svc]))
    assert plan.status.resolved_model == r.ResolvedReference(
        name="shared-name",
        scope=r.Scope.CLUSTER,
        kind="AIMClusterModel",
        uid="uid-AIMClusterModel-shared-name",
    )
    plan = reconcile_service(svc, Snapshot.build([svc]))
    assert plan.status.status is r.ServiceStatus.PENDING  # D32: the model may still be created
    ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert (ready.reason, ready.message) == (
        "ModelNotFound",
        "model 'shared-name' not found in namespace ml-team or cluster scope: waiting for it to be created",
    )


def test_image_reuses_existing_model_namespace_then_cluster() -> None:
    svc = svc_doc("s", {"image": QWEN})
    local = model_doc("hand-made", f"docker.io/{QWEN}")
    global_ = model_doc("catalog", QWEN, cluster=True)
    plan = reconcile_service(svc, Snapshot.build([local, global_, svc]))
    assert not any(isinstance(a, Apply) for a in plan.actions)
    assert plan.status.resolved_model.name == "hand-made"
    plan = reconcile_service(svc, Snapshot.build([global_, svc]))
    assert not any(isinstance(a, Apply) for a in plan.actions)
    assert (plan.status.resolved_model.name, plan.status.resolved_model.scope) == ("catalog", r.Scope.CLUSTER)


def test_multiple_models_found() -> None:
    svc = svc_doc("s", {"image": QWEN})
    a, b = model_doc("a", QWEN), model_doc("b", f"docker.io/{QWEN}")
    plan = reconcile_service(svc, Snapshot.build([a, b, model_doc("c", QWEN, cluster=True), svc]))
    assert not any(isinstance(x, Apply) for x in plan.actions)
    assert plan.status.status is r.ServiceStatus.FAILED
    ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert ready.reason == "MultipleModelsFound"
    assert ready.message == (
        f"multiple models found with the image '{QWEN}': ml-team/a (namespace), ml-team/b (namespace); "
        "keep one or use spec.model.name"
    )


def test_invalid_image_reference() -> None:
    svc = svc_doc("s", {"image": "Not A/Valid::Image"})
    plan = reconcile_service(svc, Snapshot.build([svc]))
    assert plan.status.status is r.ServiceStatus.FAILED
    ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert ready.reason == "InvalidImageReference"
    assert not any(isinstance(x, Apply) for x in plan.actions)


def test_inline_custom_reuses_equal_model_only() -> None:
    sources = [
        {
            "modelId": "my-org/my-model",
            "sourceUri": "s3://bucket/model",
            "env": [{"name": "AWS_ENDPOINT_URL", "value": "https://minio-1.local"}],
        }
    ]
    base = "ghcr.io/silogen/aim-base:0.7.0"
    svc = svc_doc(
        "s", {"custom": {"baseImage": base, "modelSources": sources, "hardware": {"gpu": {"requests": 1}}}},
        env=[{"name": "A", "value": "1"}],
    )
    plan = reconcile_service(svc, Snapshot.build([svc]))
    (apply,) = [a for a in plan.actions if isinstance(a, Apply)]
    assert apply.obj.metadata.name == "my-org-my-model-4089a3ad"
    assert apply.obj.spec.env == (r.EnvVar(name="A", value="1"),)  # type: ignore[union-attr]
    existing = model_doc("someone-elses", base, modelSources=sources)
    plan = reconcile_service(svc, Snapshot.build([existing, svc]))
    assert not any(isinstance(a, Apply) for a in plan.actions)
    assert plan.status.resolved_model.name == "someone-elses"
    other_endpoint = model_doc(
        "other",
        base,
        modelSources=[{**sources[0], "env": [{"name": "AWS_ENDPOINT_URL", "value": "https://x"}]}],
    )
    plan = reconcile_service(svc, Snapshot.build([other_endpoint, svc]))
    assert [a.obj.metadata.name for a in plan.actions if isinstance(a, Apply)] == ["my-org-my-model-4089a3ad"]


def test_steady_service_plans_nothing() -> None:
    cluster = simulate(SPEC / "04-private-image.yaml", SPEC / "05-auto-creation-service.yaml")
    svc = service(cluster, "my-service")
    plan = reconcile_service(svc, cluster.snapshot())
    assert plan.actions == ()
    assert plan.status == svc.status
    later = attrs.evolve(cluster.snapshot(), now="2027-01-01T00:00:00Z")
    assert reconcile_service(svc, later).actions == ()
    assert not any(isinstance(a, UpdateStatus) for a in reconcile_service(svc, later).actions)
