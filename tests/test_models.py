"""Image models: discovery, generated templates, status, through the core and `simulate`."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import attrs
import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult
from aimcore.plan import Apply, Inspect, UpdateStatus
from aimcore.reconcile import reconcile, reconcile_all
from aimcore.snapshot import InspectKey, ObjectKey, SecretRef, Snapshot
from aimcore.status import aggregate_templates

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-29T00:00:00Z"
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
DEPLOYMENTS = (
    '[{"gpuModel":"MI300X","gpuCount":1,"precision":"fp8","metric":"latency"},'
    '{"gpuModel":"MI300X","gpuCount":2,"precision":"fp16","metric":"throughput"}]'
)
LABELS = {
    "com.amd.aim.model.canonicalName": "Qwen/Qwen3-32B",
    "com.amd.aim.model.recommendedDeployments": DEPLOYMENTS,
}


def cluster_model(name: str = "qwen-qwen3-32b", **spec: Any) -> r.AIMClusterModel:
    return r.AIMClusterModel(
        api_version=r.V1ALPHA1,
        kind="AIMClusterModel",
        metadata=r.ObjectMeta(name=name, uid=f"uid-{name}", generation=1),
        spec=r.AIMModelSpec(image=spec.pop("image", QWEN), **spec),
    )


def ns_model(name: str = "m", namespace: str = "ml-team", **spec: Any) -> r.AIMModel:
    return r.AIMModel(
        api_version=spec.pop("api_version", r.V1ALPHA1),
        kind="AIMModel",
        metadata=r.ObjectMeta(name=name, namespace=namespace, uid=f"uid-{name}", generation=1),
        spec=r.AIMModelSpec(image=spec.pop("image", QWEN), **spec),
    )


def secret(name: str, namespace: str) -> r.Secret:
    return r.Secret(api_version="v1", kind="Secret", metadata=r.ObjectMeta(name=name, namespace=namespace))


def facts_for(*entries: tuple[str, InspectResult]) -> Any:
    table = dict(entries)

    def inspect(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        return {
            k: table.get(k.image, InspectFailure(FailureKind.NOT_FOUND, f"{k.image} not found")) for k in keys
        }

    return inspect


QWEN_FACTS = (
    "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5",
    ImageFacts(labels=LABELS, digest="sha256:ab"),
)


def simulate(*objects: r.Resource, inspector: Any = None, gpus: list[str] | None = None) -> MemoryCluster:
    cluster = MemoryCluster(objects, now=NOW, operator_namespace="aim-system", gpus=gpus)
    outcome = run(cluster, inspector or facts_for(QWEN_FACTS), max_rounds=20)
    assert outcome.converged
    return cluster


def condition(obj: Any, type_: str) -> tuple[str, str, str]:
    found = next(c for c in obj.status.conditions if c.type == type_)
    return found.status.value, found.reason, found.message


def models(cluster: MemoryCluster, kind: type[Any]) -> list[Any]:
    return [o for _, o in sorted(cluster.objects.items()) if isinstance(o, kind)]


# --- discovery -------------------------------------------------------------------------


def test_first_pass_asks_for_an_inspection_and_waits() -> None:
    model = cluster_model()
    plan = reconcile(ObjectKey.of(model), Snapshot.build([model], now=NOW))
    inspect = plan.actions[0]
    assert inspect == Inspect(
        QWEN,
        InspectKey("docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5", ()),
        f"AIMClusterModel qwen-qwen3-32b needs the labels of {QWEN}",
    )
    assert plan.status.status is r.Status.PROGRESSING
    assert condition(attrs.evolve(model, status=plan.status), "ImageMetadataReady") == (
        "Unknown",
        "InspectingImage",
        f"Reading the labels of {QWEN}",
    )


def test_d9_pull_secrets_model_first_then_runtime_config_from_the_right_namespace() -> None:
    config = r.AIMRuntimeConfig(
        api_version=r.V1ALPHA1,
        kind="AIMRuntimeConfig",
        metadata=r.ObjectMeta(name="default", namespace="ml-team"),
        spec=r.AIMRuntimeConfigSpec(
            image_pull_secrets=(r.LocalObjectReference(name="b"), r.LocalObjectReference(name="a"))
        ),
    )
    model = ns_model(image_pull_secrets=(r.LocalObjectReference(name="a"),))
    snap = Snapshot.build([model, config, secret("a", "ml-team"), secret("b", "ml-team")], now=NOW)
    inspect = reconcile(ObjectKey.of(model), snap).actions[0]
    assert isinstance(inspect, Inspect)
    assert inspect.request.secrets == (SecretRef("ml-team", "a"), SecretRef("ml-team", "b"))

    cluster = cluster_model(image_pull_secrets=(r.LocalObjectReference(name="reg"),))
    snap = Snapshot.build([cluster, secret("reg", "ml-team")], now=NOW)
    plan = reconcile(ObjectKey.of(cluster), snap)
    assert plan.status.status is r.Status.FAILED
    assert condition(attrs.evolve(cluster, status=plan.status), "ImageMetadataReady") == (
        "False",
        "MetadataExtractionFailed",
        'imagePullSecret "reg" not found in namespace "aim-system" (cluster models read secrets from the operator '
        "namespace): create it or fix the reference",
    )


def test_spec_catalog_simulates_to_ready_with_reference_names() -> None:
    model = cluster_model(discovery=r.Discovery(extract_metadata=True, create_service_templates=True))
    cluster = simulate(model)
    (done,) = models(cluster, r.AIMClusterModel)
    assert done.status.status is r.Status.READY
    assert done.status.source_type is r.SourceType.IMAGE
    assert done.status.inspected_image == QWEN
    assert done.status.image_digest == "sha256:ab"
    names = [t.metadata.name for t in models(cluster, r.AIMClusterServiceTemplate)]
    assert names == [
        "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-8753",
        "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-c381",
    ]
    template = models(cluster, r.AIMClusterServiceTemplate)[1]
    assert template.metadata.labels == {
        "aim.eai.amd.com/model": "qwen-qwen3-32b",
        "aim.eai.amd.com/origin": "auto-generated",
        "app.kubernetes.io/managed-by": "aim-cluster-model-controller",
        "aim.eai.amd.com/cluster-model.name": "qwen-qwen3-32b",
    }
    assert template.metadata.owner_references == (
        r.OwnerReference(
            api_version=r.V1ALPHA1,
            kind="AIMClusterModel",
            name="qwen-qwen3-32b",
            uid="uid-qwen-qwen3-32b",
            controller=True,
        ),
    )
    assert template.spec == r.AIMServiceTemplateSpec(
        model_name="qwen-qwen3-32b",
        metric=r.Metric.LATENCY,
        precision=r.Precision.FP8,
        aim_id="Qwen/Qwen3-32B",
        model_id="Qwen/Qwen3-32B",
        hardware=r.Hardware(gpu=r.GpuRequirements(requests=1, model="MI300X")),
    )
    assert [
        condition(done, t)[1]
        for t in ("RuntimeConfigReady", "ImageMetadataReady", "ServiceTemplatesReady", "Ready")
    ] == [
        "DefaultConfigNotFound",
        "ImageMetadataFound",
        "AllTemplatesReady",
        "AllComponentsReady",
    ]


@pytest.mark.parametrize(
    ("failure", "state"),
    [
        (FailureKind.UNAUTHORIZED, r.Status.FAILED),
        (FailureKind.NOT_FOUND, r.Status.FAILED),
        (FailureKind.UNREACHABLE, r.Status.DEGRADED),
        (FailureKind.REGISTRY_ERROR, r.Status.DEGRADED),
    ],
)
def test_d7_registry_failures(failure: FailureKind, state: r.Status) -> None:
    inspector = facts_for((QWEN_FACTS[0], InspectFailure(failure, "the registry said no")))
    cluster = simulate(cluster_model(), inspector=inspector)
    (done,) = models(cluster, r.AIMClusterModel)
    assert done.status.status is state
    status, reason, message = condition(done, "ImageMetadataReady")
    assert (status, reason) == ("False", "MetadataExtractionFailed")
    assert message.startswith("the registry said no (")
    assert condition(done, "Ready")[1] == "MetadataExtractionFailed"
    assert models(cluster, r.AIMClusterServiceTemplate) == []


def test_d6_malformed_deployments_label_fails_without_templates() -> None:
    bad = ImageFacts(labels={"com.amd.aim.model.recommendedDeployments": "[{invalid"})
    cluster = simulate(cluster_model(), inspector=facts_for((QWEN_FACTS[0], bad)))
    (done,) = models(cluster, r.AIMClusterModel)
    assert done.status.status is r.Status.FAILED
    status, reason, message = condition(done, "ImageMetadataReady")
    assert (status, reason) == ("False", "MetadataExtractionFailed")
    assert "com.amd.aim.model.recommendedDeployments" in message
    assert done.status.image_metadata is None
    assert models(cluster, r.AIMClusterServiceTemplate) == []


def test_d6_image_without_aim_labels_is_found_with_no_templates() -> None:
    cluster = simulate(cluster_model(), inspector=facts_for((QWEN_FACTS[0], ImageFacts(labels={"x": "y"}))))
    (done,) = models(cluster, r.AIMClusterModel)
    assert done.status.status is r.Status.READY
    assert condition(done, "ImageMetadataReady")[:2] == ("True", "ImageFound")
    assert condition(done, "ServiceTemplatesReady")[:2] == ("True", "NoTemplatesExpected")


def test_d8_cached_metadata_is_not_fetched_again_but_a_new_image_is() -> None:
    cluster = simulate(cluster_model())
    (done,) = models(cluster, r.AIMClusterModel)
    steady = Snapshot.build(cluster.objects.values(), now=NOW)
    assert reconcile(ObjectKey.of(done), steady).actions == ()

    moved = attrs.evolve(done, spec=attrs.evolve(done.spec, image="amdenterpriseai/aim-qwen-qwen3-32b:0.9.0"))
    plan = reconcile(ObjectKey.of(moved), Snapshot.build([moved], now=NOW))
    assert isinstance(plan.actions[0], Inspect)
    assert plan.actions[0].request.image == "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.9.0"


def test_spec_image_metadata_is_used_as_is() -> None:
    metadata = r.ImageMetadata(
        model=r.ModelMetadata(
            canonical_name="Qwen/Qwen3-32B",
            recommended_deployments=(
                r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1, metric="latency"),
            ),
        )
    )
    cluster = simulate(
        cluster_model(image="unreachable.example/x:1", image_metadata=metadata), inspector=facts_for()
    )
    (done,) = models(cluster, r.AIMClusterModel)
    assert done.status.status is r.Status.READY
    assert condition(done, "ImageMetadataReady")[:2] == ("True", "ImageMetadataFound")
    assert len(models(cluster, r.AIMClusterServiceTemplate)) == 1


def test_d10_toggles_skip_and_never_delete() -> None:
    off = r.Discovery(extract_metadata=False, create_service_templates=False)
    cluster = simulate(ns_model(discovery=off), inspector=facts_for())
    (done,) = models(cluster, r.AIMModel)
    assert done.status.status is r.Status.READY
    assert condition(done, "ImageMetadataReady")[:2] == ("True", "DiscoverySkipped")
    assert condition(done, "ServiceTemplatesReady")[:2] == ("True", "NoTemplatesExpected")

    cluster = simulate(ns_model())
    assert len(models(cluster, r.AIMServiceTemplate)) == 2
    (done,) = models(cluster, r.AIMModel)
    turned_off = attrs.evolve(done, spec=attrs.evolve(done.spec, discovery=off))
    cluster.objects[ObjectKey.of(turned_off)] = turned_off
    run(cluster, facts_for(), max_rounds=5)
    assert len(models(cluster, r.AIMServiceTemplate)) == 2


def test_missing_named_runtime_config_fails_then_recovers() -> None:
    model = ns_model(runtime_config_name="team")
    cluster = simulate(model)
    (done,) = models(cluster, r.AIMModel)
    assert done.status.status is r.Status.FAILED
    assert condition(done, "RuntimeConfigReady") == (
        "False",
        "ConfigNotFound",
        "RuntimeConfig team not found in namespace ml-team or cluster scope: create the AIMRuntimeConfig or "
        "AIMClusterRuntimeConfig 'team' or fix spec.runtimeConfigName",
    )
    config = r.AIMClusterRuntimeConfig(
        api_version=r.V1ALPHA1, kind="AIMClusterRuntimeConfig", metadata=r.ObjectMeta(name="team", uid="c1")
    )
    cluster.objects[ObjectKey.of(config)] = config
    run(cluster, facts_for(QWEN_FACTS), max_rounds=10)
    (done,) = models(cluster, r.AIMModel)
    assert done.status.status is r.Status.READY
    assert done.status.resolved_runtime_config == r.ResolvedReference(
        name="team", scope=r.Scope.CLUSTER, kind="AIMClusterRuntimeConfig", uid="c1"
    )


def test_templates_not_available_make_the_model_degraded() -> None:
    cluster = simulate(ns_model(), gpus=["MI325X"])
    (done,) = models(cluster, r.AIMModel)
    assert done.status.status is r.Status.DEGRADED
    assert condition(done, "ServiceTemplatesReady")[:2] == ("False", "NoTemplatesAvailable")


def test_d23_v1alpha2_models_get_profiles() -> None:
    cluster = simulate(ns_model(api_version=r.V1ALPHA2))
    profiles = models(cluster, r.AIMProfile)
    assert len(profiles) == 2
    assert profiles[0].metadata.labels["aim.eai.amd.com/profile-origin"] == "discovered"
    assert profiles[0].metadata.labels["aim.eai.amd.com/source-model-scope"] == "namespace"


# --- aggregation (reference-operator §5.3 pins, with D11) -------------------------------

T = r.TemplateStatus


@pytest.mark.parametrize(
    ("expects", "statuses", "state", "reason"),
    [
        (None, [], r.Status.PROGRESSING, "AwaitingMetadata"),
        (True, [], r.Status.PROGRESSING, "CreatingTemplates"),
        (False, [], r.Status.READY, "NoTemplatesExpected"),
        (True, [T.READY, T.READY], r.Status.READY, "AllTemplatesReady"),
        (True, [T.DEGRADED, T.DEGRADED], r.Status.FAILED, "AllTemplatesFailed"),
        (True, [T.PROGRESSING, T.DEGRADED], r.Status.DEGRADED, "SomeTemplatesDegraded"),
        (True, [T.READY, T.FAILED], r.Status.DEGRADED, "SomeTemplatesDegraded"),
        (True, [T.READY, T.PROGRESSING], r.Status.PROGRESSING, "TemplatesProgressing"),
        (True, [T.READY, T.PENDING], r.Status.PROGRESSING, "TemplatesProgressing"),
        (True, [T.READY, T.NOT_AVAILABLE], r.Status.READY, "SomeTemplatesReady"),
        (True, [T.NOT_AVAILABLE], r.Status.DEGRADED, "NoTemplatesAvailable"),
        (True, [None], r.Status.PROGRESSING, "TemplatesProgressing"),
    ],
)
def test_template_aggregation(
    expects: bool | None, statuses: list[Any], state: r.Status, reason: str
) -> None:
    result = aggregate_templates(expects, statuses)
    assert (result.state, result.reason) == (state, reason)


# --- determinism and steady state -------------------------------------------------------


def simulate_cli(*paths: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        [
            "simulate",
            *paths,
            "--images",
            str(ROOT / "fixtures" / "catalog.imagefacts"),
            "--now",
            NOW,
            "-o",
            "json",
        ],
        out,
        io.StringIO(),
    )
    return code, out.getvalue()


CATALOG = [
    str(ROOT / "fixtures" / "spec" / "02-cluster-model-with-discovery.yaml"),
    str(ROOT / "fixtures" / "spec" / "03-namespace-model-without-discovery.yaml"),
    str(ROOT / "fixtures" / "spec" / "04-private-image.yaml"),
    str(ROOT / "fixtures" / "catalog"),
]


def test_same_inputs_in_any_order_give_identical_output() -> None:
    code, first = simulate_cli(*CATALOG)
    assert code == 0
    shuffled = CATALOG[:]
    random.Random(7).shuffle(shuffled)
    assert simulate_cli(*shuffled) == (0, first)


def test_plan_on_converged_objects_plans_nothing(tmp_path: Path) -> None:
    _, output = simulate_cli(*CATALOG)
    converged = tmp_path / "converged.json"
    converged.write_text(json.dumps({"apiVersion": "v1", "kind": "List"}))
    state = tmp_path / "state"
    state.mkdir()
    for i, obj in enumerate(json.loads(output)["objects"]):
        (state / f"{i:03}.json").write_text(json.dumps(obj))
    out = io.StringIO()
    code = main(
        [
            "plan",
            str(state),
            "--images",
            str(ROOT / "fixtures" / "catalog.imagefacts"),
            "--now",
            NOW,
            "-o",
            "json",
        ],
        out,
        io.StringIO(),
    )
    report = json.loads(out.getvalue())
    assert code == 0
    assert report["actions"] == []
    assert report["converged"] is True


def test_condition_times_move_only_when_status_changes() -> None:
    cluster = simulate(cluster_model())
    (done,) = models(cluster, r.AIMClusterModel)
    later = Snapshot.build(cluster.objects.values(), now="2027-01-01T00:00:00Z")
    assert reconcile(ObjectKey.of(done), later).actions == ()
    failing = Snapshot.build(
        [attrs.evolve(done, status=attrs.evolve(done.status, image_metadata=None))],
        {InspectKey(QWEN_FACTS[0]): InspectFailure(FailureKind.NOT_FOUND, "gone")},
        now="2027-01-01T00:00:00Z",
    )
    plan = reconcile(ObjectKey.of(done), failing)
    times = {c.type: c.last_transition_time for c in plan.status.conditions}
    assert times == {
        "RuntimeConfigReady": NOW,
        "ImageMetadataReady": "2027-01-01T00:00:00Z",
        "ServiceTemplatesReady": "2027-01-01T00:00:00Z",
        "Ready": "2027-01-01T00:00:00Z",
    }


def test_every_action_kind_appears_in_a_plan() -> None:
    model = cluster_model()
    snap = Snapshot.build([model], {InspectKey(QWEN_FACTS[0]): QWEN_FACTS[1]}, now=NOW)
    plans = reconcile_all(snap)
    kinds = {type(a) for p in plans for a in p.actions}
    assert kinds == {Apply, UpdateStatus}
    assert codec.dump(plans[0].status)["status"] == "Progressing"


def test_schema_defaults_filled_by_an_api_server_need_no_apply() -> None:
    """A steady cluster sees no writes: an API server defaults resourceName to amd.com/gpu (CRD)."""
    from aimcore.ownership import needs_apply

    gpu = r.GpuRequirements(requests=1, model="MI300X")
    desired = r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name="t", namespace="ns"),
        spec=r.AIMServiceTemplateSpec(model_name="m", hardware=r.Hardware(gpu=gpu)),
    )
    defaulted = attrs.evolve(
        desired,
        spec=attrs.evolve(
            desired.spec, hardware=r.Hardware(gpu=attrs.evolve(gpu, resource_name="amd.com/gpu"))
        ),
    )
    assert not needs_apply(desired, defaulted)
    other = attrs.evolve(
        desired,
        spec=attrs.evolve(desired.spec, hardware=r.Hardware(gpu=attrs.evolve(gpu, resource_name="x.com/gpu"))),
    )
    assert needs_apply(desired, other)
    assert needs_apply(desired, attrs.evolve(desired, spec=attrs.evolve(desired.spec, metric=r.Metric.LATENCY)))
