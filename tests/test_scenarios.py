"""The reference operator's conformance cases (reference-operator.md §9, items 1-19), restated in
aimcore's terms: one test (or a small parametrised group) per item, named `test_sNN_...`.

Where a DECISIONS.md rule (D-number) or aim-models.txt changes the reference's outcome, the test
follows the rule and its docstring names the rule and the reference's behaviour. Where an item pins
reference internals with no counterpart here (dead code, pointer identity, the Go `Value` of a
component), the test restates the user-visible behaviour the item protects and says so.
Items 11-19 are the reference's e2e (chainsaw) suites; they run end to end through the in-memory
cluster (`aimcore.adapters.memory.cluster.MemoryCluster` + `aimcore.adapters.memory.simulate.run`), and one through `aimcore simulate`.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from aimcore import custom, labels, naming, templates
from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult
from aimcore.ownership import LABEL_MODEL, LABEL_ORIGIN, LABEL_TEMPLATE_ALIAS
from aimcore.plan import Apply, Inspect
from aimcore.reconcile import reconcile
from aimcore.services import reconcile_service
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from aimcore.status import aggregate_templates

NOW = "2026-11-29T00:00:00Z"
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
QWEN_KEY = "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
BASE = "amdenterpriseai/aim-base:latest"
DEPLOYMENTS = (
    '[{"gpuModel":"MI300X","gpuCount":1,"precision":"fp8","metric":"latency"},'
    '{"gpuModel":"MI300X","gpuCount":2,"precision":"fp16","metric":"throughput"}]'
)
QWEN_LABELS = {
    "com.amd.aim.model.canonicalName": "Qwen/Qwen3-32B",
    "com.amd.aim.model.recommendedDeployments": DEPLOYMENTS,
}
QWEN_FACTS = ImageFacts(labels=QWEN_LABELS, digest="sha256:ab")
#: The two discovered templates of QWEN for a model named `qwen-qwen3-32b` (reference-operator §3.3 vectors).
QWEN_LAT = "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-c381"
QWEN_THR = "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-8753"
CONDITION_TYPES = ["RuntimeConfigReady", "ImageMetadataReady", "ServiceTemplatesReady", "Ready"]
SOURCES = (r.ModelSource(model_id="Qwen/Qwen3-32B", source_uri="s3://bucket/models/qwen3-32b"),)
T = r.TemplateStatus


# --------------------------------------------------------------------------------- helpers


def ns_model(name: str = "qwen-qwen3-32b", namespace: str = "ml-team", **spec: Any) -> r.AIMModel:
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name=name, namespace=namespace, uid=f"uid-{name}", generation=1),
        spec=r.AIMModelSpec(image=spec.pop("image", QWEN), **spec),
    )


def cluster_model(name: str = "qwen-qwen3-32b", **spec: Any) -> r.AIMClusterModel:
    return r.AIMClusterModel(
        api_version=r.V1ALPHA1,
        kind="AIMClusterModel",
        metadata=r.ObjectMeta(name=name, uid=f"uid-{name}", generation=1),
        spec=r.AIMModelSpec(image=spec.pop("image", QWEN), **spec),
    )


class Registry:
    """A fake registry: answers from a table, records every image it was asked about."""

    def __init__(self, table: dict[str, InspectResult] | None = None) -> None:
        self.table = {QWEN_KEY: QWEN_FACTS} if table is None else table
        self.asked: list[str] = []

    def __call__(self, keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        self.asked.extend(k.image for k in keys)
        return {
            k: self.table.get(k.image, InspectFailure(FailureKind.NOT_FOUND, f"{k.image} not found"))
            for k in keys
        }


def simulate(
    *objects: r.Resource, registry: Registry | None = None, gpus: list[str] | None = None
) -> MemoryCluster:
    cluster = MemoryCluster(objects, now=NOW, operator_namespace="aim-system", gpus=gpus)
    outcome = run(cluster, registry or Registry(), max_rounds=20)
    assert outcome.converged
    return cluster


def objects_of(cluster: MemoryCluster, kind: type[Any]) -> list[Any]:
    return [o for _, o in sorted(cluster.objects.items()) if isinstance(o, kind)]


def by_name(cluster: MemoryCluster, kind: type[Any]) -> dict[str, Any]:
    return {o.metadata.name: o for o in objects_of(cluster, kind)}


def condition(obj: Any, type_: str) -> tuple[str, str | None, str | None]:
    found = next(c for c in obj.status.conditions if c.type == type_)
    return found.status.value, found.reason, found.message


def condition_types(status: Any) -> list[str]:
    return [c.type for c in status.conditions]


def plan_for(model: r.Model, *others: r.Resource, facts: dict[str, InspectResult] | None = None) -> Any:
    snap = Snapshot.build([model, *others], {InspectKey(k): v for k, v in (facts or {}).items()}, now=NOW)
    return reconcile(ObjectKey.of(model), snap)


def parse(labels_: dict[str, str]) -> r.ImageMetadata:
    return labels.parse_image_metadata(ImageFacts(labels=labels_))


def deployments_of(value: str) -> tuple[r.RecommendedDeployment, ...] | None:
    metadata = parse({"com.amd.aim.model.recommendedDeployments": value})
    assert metadata.model is not None
    return metadata.model.recommended_deployments


# ------------------------------------------------------------- §9.1 label parsing (§2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tag1 , tag2 , tag3", ("tag1", "tag2", "tag3")),
        (",tag1,tag2", ("tag1", "tag2")),
        ("tag1,tag2,", ("tag1", "tag2")),
        ("", None),
    ],
)
def test_s01_comma_separated_lists(value: str, expected: tuple[str, ...] | None) -> None:
    """§9.1 parseCommaSeparated: split on `,`, trim, drop empties. `""` gives no list: the reference's
    empty slice is omitted from JSON (omitempty), so both show no `tags` field."""
    metadata = parse({"com.amd.aim.model.tags": value})
    assert metadata.model is not None
    assert metadata.model.tags == expected


def test_s01_get_amd_label_falls_back_to_legacy_when_empty_or_missing() -> None:
    """§9.1 getAMDLabel: `com.amd.aim.<x>`, else `org.amd.silogen.<x>` when empty or missing."""
    metadata = parse(
        {
            "com.amd.aim.model.canonicalName": "",
            "org.amd.silogen.model.canonicalName": "legacy/name",
            "org.amd.silogen.title": "Legacy title",
            "com.amd.aim.model.source": "new-source",
            "org.amd.silogen.model.source": "old-source",
        }
    )
    assert metadata.model is not None
    assert metadata.model.canonical_name == "legacy/name"
    assert metadata.model.title == "Legacy title"
    assert metadata.model.source == "new-source"


def test_s01_recommended_deployments_pinned_inputs() -> None:
    """§9.1 parseRecommendedDeployments: Python-style quotes; bare comma-separated objects; a missing
    gpuCount is 0 (unset here: None). D5 keeps the quote swap for values that are not valid JSON."""
    assert deployments_of("[{'gpuModel': 'MI300X', 'gpuCount': 2, 'metric': 'latency'}]") == (
        r.RecommendedDeployment(gpu_model="MI300X", gpu_count=2, metric="latency"),
    )
    assert deployments_of('{"gpuModel":"MI300X","gpuCount":1}, {"gpuModel":"MI300X","gpuCount":2}') == (
        r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1),
        r.RecommendedDeployment(gpu_model="MI300X", gpu_count=2),
    )
    (only,) = deployments_of('[{"gpuModel":"MI300X"}]') or ()
    assert only == r.RecommendedDeployment(gpu_model="MI300X")
    assert only.gpu_count is None


def test_s01_invalid_json_is_an_error_naming_the_label() -> None:
    """§9.1 `{invalid json` ⇒ error. Here a MalformedLabel naming the label (D6)."""
    with pytest.raises(labels.MalformedLabel) as raised:
        deployments_of("{invalid json")
    assert raised.value.label == "com.amd.aim.model.recommendedDeployments"
    assert str(raised.value).startswith("label com.amd.aim.model.recommendedDeployments is not valid JSON: ")


def test_s01_hf_token_not_a_bool_is_ignored_without_error() -> None:
    """§9.1 hfToken `not-a-bool` ⇒ false, no error. Here the field stays unset (None), which is what the
    reference's false serialises to; `true` still parses."""
    metadata = parse({"com.amd.aim.hfToken.required": "not-a-bool"})
    assert metadata.model is not None and metadata.model.hf_token_required is None
    metadata = parse({"com.amd.aim.hfToken.required": "true"})
    assert metadata.model is not None and metadata.model.hf_token_required is True


def test_s01_no_labels_still_give_model_and_oci_objects() -> None:
    """§9.1 labels {} ⇒ `oci` and `model` non-nil; `originalLabels` omitted when empty (§2.1)."""
    metadata = parse({})
    assert metadata == r.ImageMetadata(model=r.ModelMetadata(), oci=r.OCIMetadata())


# ------------------------------------------------ §9.2 metadataFormatError / transient errors


@pytest.mark.parametrize(
    ("kind", "permanent", "state"),
    [
        (FailureKind.UNAUTHORIZED, True, r.Status.FAILED),
        (FailureKind.NOT_FOUND, True, r.Status.FAILED),
        (FailureKind.MALFORMED, True, r.Status.FAILED),
        (FailureKind.UNREACHABLE, False, r.Status.DEGRADED),
        (FailureKind.REGISTRY_ERROR, False, r.Status.DEGRADED),
    ],
)
def test_s02_transient_and_permanent_metadata_errors(
    kind: FailureKind, permanent: bool, state: r.Status
) -> None:
    """§9.2 pins metadataFormatError and isTransientMetadataError, which are dead code in the reference
    (every registry failure there is Unknown ⇒ infra ⇒ Degraded, retried forever, §5.4).
    Restated as the behaviour they were meant for, ruled by D7: auth and not-found are permanent
    (Failed), an unreachable or 5xx registry is transient (Degraded); either way
    ImageMetadataReady=False/MetadataExtractionFailed with the registry's message."""
    assert kind.permanent is permanent
    plan = plan_for(cluster_model(), facts={QWEN_KEY: InspectFailure(kind, "the registry said no")})
    assert plan.status.status is state
    status, reason, message = condition(
        attrs.evolve(cluster_model(), status=plan.status), "ImageMetadataReady"
    )
    assert (status, reason) == ("False", "MetadataExtractionFailed")
    assert message.startswith("the registry said no (")
    assert not any(isinstance(a, Apply) for a in plan.actions)


def test_s02_malformed_metadata_message_names_the_label() -> None:
    """§9.2 metadataFormatError.Error() gives its Message (else "image metadata malformed"); dead code
    in the reference. Restated per D6: a malformed deployments label fails extraction with a message
    naming the image and the label, status Failed, nothing stored, no templates (the reference:
    Degraded and retried forever, §5.4)."""
    bad = ImageFacts(labels={"com.amd.aim.model.recommendedDeployments": "{invalid json"})
    cluster = simulate(ns_model(), registry=Registry({QWEN_KEY: bad}))
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.FAILED
    status, reason, message = condition(model, "ImageMetadataReady")
    assert (status, reason) == ("False", "MetadataExtractionFailed")
    assert message.startswith(f"{QWEN}: label com.amd.aim.model.recommendedDeployments is not valid JSON: ")
    assert condition(model, "Ready")[:2] == ("False", "MetadataExtractionFailed")
    assert model.status.image_metadata is None
    assert objects_of(cluster, r.AIMServiceTemplate) == []


# --------------------------------------------------------------- §9.3 shouldExtractMetadata


def _inspects(model: r.Model) -> bool:
    return any(isinstance(a, Inspect) for a in plan_for(model).actions)


def test_s03_should_extract_metadata() -> None:
    """§9.3 shouldExtractMetadata: no status ⇒ extract; a status without metadata ⇒ extract; metadata
    cached in status ⇒ not again (D8). D8 adds what the reference lacks: a cache read from another
    image than spec.image is not used, and the new image is inspected."""
    model = ns_model()
    assert _inspects(model)
    assert _inspects(attrs.evolve(model, status=r.AIMModelStatus()))
    cached = r.AIMModelStatus(image_metadata=parse(QWEN_LABELS), inspected_image=QWEN)
    assert not _inspects(attrs.evolve(model, status=cached))
    # metadata cached by an operator that did not record the image (the reference) counts as cached
    assert not _inspects(attrs.evolve(model, status=attrs.evolve(cached, inspected_image=None)))
    moved = attrs.evolve(
        model, spec=attrs.evolve(model.spec, image="amdenterpriseai/aim-qwen-qwen3-32b:0.9.0")
    )
    plan = plan_for(attrs.evolve(moved, status=cached))
    assert [a.request.image for a in plan.actions if isinstance(a, Inspect)] == [
        "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.9.0"
    ]


# ------------------------------------------------------- §9.4 aggregateTemplateStatuses (§5.3)


@pytest.mark.parametrize(
    ("expects", "statuses", "state", "reason", "message"),
    [
        (None, [], r.Status.PROGRESSING, "AwaitingMetadata", "Waiting for the model to fetch metadata"),
        (True, [], r.Status.PROGRESSING, "CreatingTemplates", "Creating templates for the model"),
        (
            False,
            [],
            r.Status.READY,
            "NoTemplatesExpected",
            "The model does not have any recommended templates",
        ),
        (True, [T.READY, T.READY], r.Status.READY, "AllTemplatesReady", "All templates are ready"),
        # pinned: [Degraded, Degraded] ⇒ Failed/AllTemplatesFailed
        (
            True,
            [T.DEGRADED, T.DEGRADED],
            r.Status.FAILED,
            "AllTemplatesFailed",
            "All templates are degraded or failed",
        ),
        (
            True,
            [T.DEGRADED, T.FAILED],
            r.Status.FAILED,
            "AllTemplatesFailed",
            "All templates are degraded or failed",
        ),
        # pinned: [Progressing, Degraded] ⇒ Degraded; [Ready, Failed] ⇒ Degraded
        (
            True,
            [T.PROGRESSING, T.DEGRADED],
            r.Status.DEGRADED,
            "SomeTemplatesDegraded",
            "Some templates are degraded or failed",
        ),
        (
            True,
            [T.READY, T.FAILED],
            r.Status.DEGRADED,
            "SomeTemplatesDegraded",
            "Some templates are degraded or failed",
        ),
        (
            True,
            [T.NOT_AVAILABLE, T.DEGRADED],
            r.Status.DEGRADED,
            "SomeTemplatesDegraded",
            "Some templates are degraded or failed",
        ),
        # pinned: [Ready, Progressing] / [Ready, Pending] ⇒ Progressing
        (
            True,
            [T.READY, T.PROGRESSING],
            r.Status.PROGRESSING,
            "TemplatesProgressing",
            "Templates are progressing",
        ),
        (
            True,
            [T.READY, T.PENDING],
            r.Status.PROGRESSING,
            "TemplatesProgressing",
            "Templates are progressing",
        ),
        # pinned: [Ready, NotAvailable] ⇒ Ready/SomeTemplatesReady
        (
            True,
            [T.READY, T.NOT_AVAILABLE],
            r.Status.READY,
            "SomeTemplatesReady",
            "All templates have finished processing (some are not available)",
        ),
    ],
)
def test_s04_template_aggregation_table(
    expects: bool | None, statuses: list[Any], state: r.Status, reason: str, message: str
) -> None:
    """§9.4 = the §5.3 table and its pins, rule for rule, reason and message included."""
    result = aggregate_templates(expects, statuses)
    assert (result.state, result.reason, result.message) == (state, reason, message)


def test_s04_all_not_available_is_degraded_d11() -> None:
    """§5.3 row `notAvailable==total` ⇒ NotAvailable/NoTemplatesAvailable in the reference. D11 has no
    NotAvailable model status: the model is Degraded, same reason, end to end too."""
    result = aggregate_templates(True, [T.NOT_AVAILABLE, T.NOT_AVAILABLE])
    assert (result.state, result.reason, result.message) == (
        r.Status.DEGRADED,
        "NoTemplatesAvailable",
        "None of the model's templates are available (no matching GPUs in the cluster)",
    )
    cluster = simulate(ns_model(), gpus=["MI325X"])
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.DEGRADED
    assert condition(model, "ServiceTemplatesReady")[:2] == ("False", "NoTemplatesAvailable")
    assert condition(model, "Ready")[:2] == ("False", "NoTemplatesAvailable")


def test_s04_unreported_templates_count_in_no_bucket() -> None:
    """§5.3 last row: a status in none of the buckets ("" not yet reconciled) ⇒ Progressing/
    TemplatesProgressing. The message differs from the reference's "Unknown status" (messages are
    not pinned by any D-rule; the reason and state are)."""
    result = aggregate_templates(True, [T.READY, None])
    assert (result.state, result.reason, result.message) == (
        r.Status.PROGRESSING,
        "TemplatesProgressing",
        "Waiting for templates to report a status",
    )


# --------------------------------------------------------- §9.5 GetComponentHealth / fetch


def test_s05_three_components_and_the_ready_condition() -> None:
    """§9.5 GetComponentHealth returns 3 entries: here the conditions RuntimeConfigReady,
    ImageMetadataReady, ServiceTemplatesReady (D12), plus Ready, on every pass."""
    first = plan_for(ns_model())
    assert condition_types(first.status) == CONDITION_TYPES
    second = plan_for(ns_model(), facts={QWEN_KEY: QWEN_FACTS})
    assert condition_types(second.status) == CONDITION_TYPES


def test_s05_spec_metadata_is_used_as_is_without_inspection() -> None:
    """§9.5 fetchImageMetadata with spec metadata returns the same pointer. No pointers here: restated
    as the user-visible behaviour (D8): spec.imageMetadata is used as is, no Inspect is planned, and
    templates are built from it on the first pass."""
    metadata = r.ImageMetadata(
        model=r.ModelMetadata(
            canonical_name="Qwen/Qwen3-32B",
            recommended_deployments=(
                r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1, metric="latency"),
            ),
        )
    )
    plan = plan_for(ns_model(image_metadata=metadata))
    assert not any(isinstance(a, Inspect) for a in plan.actions)
    applied = [a.obj for a in plan.actions if isinstance(a, Apply)]
    assert [t.metadata.name for t in applied] == [
        "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-b19e"
    ]
    assert condition(attrs.evolve(ns_model(), status=plan.status), "ImageMetadataReady") == (
        "True",
        "ImageMetadataFound",
        "",
    )


def test_s05_cached_metadata_is_not_fetched_and_keeps_its_reason() -> None:
    """§9.5 cached ⇒ Value nil: the reference skips the fetch, and its reason flips from
    ImageMetadataFound to ImageFound on the next reconcile. Here (D6, D12) ImageFound means "reachable
    but no AIM labels", so cached AIM metadata keeps ImageMetadataFound; the fetch is skipped (D8)."""
    cached = r.AIMModelStatus(image_metadata=parse(QWEN_LABELS), inspected_image=QWEN)
    model = attrs.evolve(ns_model(), status=cached)
    plan = plan_for(model)
    assert not any(isinstance(a, Inspect) for a in plan.actions)
    assert condition(attrs.evolve(model, status=plan.status), "ImageMetadataReady") == (
        "True",
        "ImageMetadataFound",
        "",
    )
    assert plan.status.image_metadata == cached.image_metadata


def test_s05_registry_error_is_the_single_component_error() -> None:
    """§9.5 registry errors pass through as the single component error: only ImageMetadataReady fails,
    and it carries the registry's message (D7 sets its reason and the Failed status)."""
    plan = plan_for(ns_model(), facts={QWEN_KEY: InspectFailure(FailureKind.NOT_FOUND, "manifest unknown")})
    model = attrs.evolve(ns_model(), status=plan.status)
    assert condition(model, "RuntimeConfigReady")[:2] == ("True", "DefaultConfigNotFound")
    assert condition(model, "ImageMetadataReady") == (
        "False",
        "MetadataExtractionFailed",
        "manifest unknown (check the image name and tag in spec.image)",
    )
    assert condition(model, "ServiceTemplatesReady")[:2] == ("False", "AwaitingMetadata")
    assert condition(model, "Ready") == (
        "False",
        "MetadataExtractionFailed",
        "ImageMetadataReady: manifest unknown (check the image name and tag in spec.image)",
    )
    assert plan.status.status is r.Status.FAILED


# ------------------------------------------------------------- §9.6 ExpectsTemplates (§3.1)

WITH_DEPLOYMENTS = parse(QWEN_LABELS)
WITHOUT_DEPLOYMENTS = r.ImageMetadata(model=r.ModelMetadata(canonical_name="Qwen/Qwen3-32B"))
ENTRY = (
    r.CustomTemplate(name="extra", hardware=r.Hardware(gpu=r.GpuRequirements(requests=1, model="MI300X"))),
)
OFF = r.Discovery(create_service_templates=False)


@pytest.mark.parametrize(
    ("spec", "metadata", "known", "expected"),
    [
        (r.AIMModelSpec(image=QWEN, discovery=OFF), WITH_DEPLOYMENTS, True, False),
        (r.AIMModelSpec(image=BASE, discovery=OFF, model_sources=SOURCES), None, True, False),
        (r.AIMModelSpec(image=BASE, model_sources=SOURCES), None, True, True),
        (r.AIMModelSpec(image=BASE, model_sources=SOURCES), WITHOUT_DEPLOYMENTS, True, True),
        (r.AIMModelSpec(image=QWEN), None, False, None),
        (r.AIMModelSpec(image=QWEN), WITH_DEPLOYMENTS, True, True),
        (r.AIMModelSpec(image=QWEN), WITHOUT_DEPLOYMENTS, True, False),
        (r.AIMModelSpec(image=QWEN, custom_templates=ENTRY), WITHOUT_DEPLOYMENTS, True, True),
        (
            r.AIMModelSpec(image=QWEN, discovery=r.Discovery(create_service_templates=True)),
            WITH_DEPLOYMENTS,
            True,
            True,
        ),
    ],
)
def test_s06_expects_templates(
    spec: r.AIMModelSpec, metadata: r.ImageMetadata | None, known: bool, expected: bool | None
) -> None:
    """§9.6 ExpectsTemplates = §3.1: createServiceTemplates=false ⇒ false (custom models too);
    modelSources ⇒ true; unknown metadata ⇒ None; else deployments or customTemplates."""
    assert templates.expects_templates(spec, metadata, known) is expected


def test_s06_spec_metadata_without_deployments_beats_status_with() -> None:
    """§9.6 GetEffectiveImageMetadata: spec.imageMetadata wins over status.imageMetadata even with zero
    deployments ⇒ no templates expected: nothing applied, ServiceTemplatesReady True/NoTemplatesExpected."""
    status = r.AIMModelStatus(image_metadata=WITH_DEPLOYMENTS, inspected_image=QWEN)
    model = attrs.evolve(ns_model(image_metadata=WITHOUT_DEPLOYMENTS), status=status)
    plan = plan_for(model)
    assert [a for a in plan.actions if isinstance(a, Apply | Inspect)] == []
    model = attrs.evolve(model, status=plan.status)
    assert condition(model, "ServiceTemplatesReady") == (
        "True",
        "NoTemplatesExpected",
        "The model does not have any recommended templates",
    )
    assert plan.status.status is r.Status.READY


# --------------------------------------------- §9.7 MergeHardware / GetEffectiveType / IsCustom


def _gpu(requests: int | None = None, model: str | None = None, **kw: Any) -> r.Hardware:
    return r.Hardware(gpu=r.GpuRequirements(requests=requests, model=model, **kw))


def test_s07_merge_hardware() -> None:
    """§9.7 MergeHardware = §4.3: a missing side gives the other as is; the entry's GPU requests,
    model and resourceName override only when set; CPU from the entry when the base has none.
    D18 differs: minVram is merged too (the reference always keeps the base's)."""
    base = _gpu(1, "MI300X", min_vram="64Gi", resource_name="amd.com/gpu")
    entry = _gpu(2)
    assert custom.merge_hardware(None, entry) is entry
    assert custom.merge_hardware(base, None) is base
    assert custom.merge_hardware(None, None) is None
    assert custom.merge_hardware(base, _gpu(0, "")) == base
    assert custom.merge_hardware(base, entry) == _gpu(
        2, "MI300X", min_vram="64Gi", resource_name="amd.com/gpu"
    )
    assert custom.merge_hardware(base, _gpu(None, "MI325X", resource_name="x.com/gpu")) == _gpu(
        1, "MI325X", min_vram="64Gi", resource_name="x.com/gpu"
    )
    # D18: the entry's minVram wins
    assert custom.merge_hardware(base, _gpu(min_vram="128Gi")) == _gpu(
        1, "MI300X", min_vram="128Gi", resource_name="amd.com/gpu"
    )
    cpu_only = r.Hardware(cpu=r.CpuRequirements(requests="4"))
    assert custom.merge_hardware(cpu_only, _gpu(2, "MI300X")) == r.Hardware(
        gpu=r.GpuRequirements(requests=2, model="MI300X"), cpu=r.CpuRequirements(requests="4")
    )
    assert custom.merge_hardware(_gpu(1), cpu_only) == r.Hardware(
        gpu=r.GpuRequirements(requests=1), cpu=r.CpuRequirements(requests="4")
    )


@pytest.mark.parametrize(
    ("custom_type", "entry_type", "expected"),
    [
        (None, None, r.ProfileType.UNOPTIMIZED),
        (r.ProfileType.OPTIMIZED, None, r.ProfileType.OPTIMIZED),
        (r.ProfileType.PREVIEW, r.ProfileType.OPTIMIZED, r.ProfileType.OPTIMIZED),
        (None, r.ProfileType.PREVIEW, r.ProfileType.PREVIEW),
    ],
)
def test_s07_effective_type(
    custom_type: r.ProfileType | None, entry_type: r.ProfileType | None, expected: r.ProfileType
) -> None:
    """§9.7 GetEffectiveType = §4.4: entry type, else custom.type, else unoptimized. D24: an entry
    without a type inherits custom.type (the reference's CRD default `unoptimized` on entries
    defeats that; here it is not copied), for every entry, not only the auto-generated template."""
    spec = r.CustomModelSpec(type=custom_type)
    assert custom.effective_type(spec, r.CustomTemplate(type=entry_type)) is expected
    model = ns_model(
        image=BASE,
        model_sources=SOURCES,
        custom=r.CustomModelSpec(type=custom_type, hardware=_gpu(1, "MI300X")),
        custom_templates=(r.CustomTemplate(name="a", type=entry_type),),
    )
    (template,) = custom.build_templates(model)
    assert template.spec.type is expected


@pytest.mark.parametrize(
    ("sources", "source_type"),
    [(SOURCES, r.SourceType.CUSTOM), (None, r.SourceType.IMAGE), ((), r.SourceType.IMAGE)],
)
def test_s07_is_custom_model(sources: tuple[r.ModelSource, ...] | None, source_type: r.SourceType) -> None:
    """§9.7 IsCustomModel ⇔ len(modelSources) > 0, seen as status.sourceType (§1.3, D13)."""
    model = ns_model(image=BASE, model_sources=sources, custom=r.CustomModelSpec(hardware=_gpu(1)))
    assert (
        plan_for(model, facts={"docker.io/amdenterpriseai/aim-base:latest": ImageFacts()}).status.source_type
        is source_type
    )


# ----------------------------------------------------- §9.8 buildTemplateComponents (§3.4)


def test_s08_discovered_template_content() -> None:
    """§9.8 = §3.4: modelName, imagePullSecrets, serviceAccountName, metric, precision, profileId,
    hardware.gpu {requests, model}; never type, runtimeConfigName, resources, env, modelSources.
    Labels model/origin plus the framework's managed-by and model.name; a controller ownerReference."""
    model = ns_model(
        image_pull_secrets=(r.LocalObjectReference(name="pull"),),
        service_account_name="runner",
        runtime_config_name="team",
        env=(r.EnvVar(name="A", value="1"),),
        resources=r.ResourceRequirements(requests={"cpu": "1"}),
    )
    metadata = parse(
        {
            "com.amd.aim.model.recommendedDeployments": '[{"gpuModel":"MI300X","gpuCount":1,'
            '"precision":"fp8","metric":"latency","profileId":"vllm-mi300x-fp8-tp1-latency","description":"d"}]'
        }
    )
    (template,) = templates.discovered_templates(model, metadata)
    assert isinstance(template, r.AIMServiceTemplate)
    assert template.metadata == r.ObjectMeta(
        name=QWEN_LAT,
        namespace="ml-team",
        labels={
            "aim.eai.amd.com/model": "qwen-qwen3-32b",
            "aim.eai.amd.com/origin": "auto-generated",
            "app.kubernetes.io/managed-by": "aim-model-controller",
            "aim.eai.amd.com/model.name": "qwen-qwen3-32b",
        },
        owner_references=(
            r.OwnerReference(
                api_version=r.V1ALPHA1,
                kind="AIMModel",
                name="qwen-qwen3-32b",
                uid="uid-qwen-qwen3-32b",
                controller=True,
            ),
        ),
    )
    assert template.spec == r.AIMServiceTemplateSpec(
        model_name="qwen-qwen3-32b",
        metric=r.Metric.LATENCY,
        precision=r.Precision.FP8,
        profile_id="vllm-mi300x-fp8-tp1-latency",
        hardware=_gpu(1, "MI300X"),
        image_pull_secrets=(r.LocalObjectReference(name="pull"),),
        service_account_name="runner",
    )


@pytest.mark.parametrize(
    ("deployment", "name"),
    [
        (r.RecommendedDeployment(), "test-image-v1-part-70ea"),
        (r.RecommendedDeployment(gpu_count=4), "test-image-v1-x4-36fa"),
        (r.RecommendedDeployment(gpu_model="MI300X"), None),
    ],
)
def test_s08_incomplete_deployment_has_no_hardware(
    deployment: r.RecommendedDeployment, name: str | None
) -> None:
    """§9.8 empty deployment ⇒ metric/precision/hardware nil, profileId "" (absent here). Hardware
    needs both gpuModel and gpuCount>0 (§3.4)."""
    model = ns_model(name="test-model", image="test-image:v1")
    metadata = r.ImageMetadata(model=r.ModelMetadata(recommended_deployments=(deployment,)))
    (template,) = templates.discovered_templates(model, metadata)
    assert template.spec == r.AIMServiceTemplateSpec(model_name="test-model")
    if name is not None:
        assert template.metadata.name == name


def test_s08_cluster_model_gets_cluster_templates() -> None:
    """§3.4: a cluster model's templates are AIMClusterServiceTemplates, no namespace, cluster labels."""
    (template,) = templates.discovered_templates(
        cluster_model(),
        r.ImageMetadata(model=r.ModelMetadata(recommended_deployments=(r.RecommendedDeployment(),))),
    )
    assert isinstance(template, r.AIMClusterServiceTemplate)
    assert template.metadata.namespace is None
    assert template.metadata.labels == {
        "aim.eai.amd.com/model": "qwen-qwen3-32b",
        "aim.eai.amd.com/origin": "auto-generated",
        "app.kubernetes.io/managed-by": "aim-cluster-model-controller",
        "aim.eai.amd.com/cluster-model.name": "qwen-qwen3-32b",
    }
    assert template.metadata.owner_references is not None
    assert template.metadata.owner_references[0].kind == "AIMClusterModel"


# ------------------------------------------------------------- §9.9 GenerateTemplateName


def _name(
    model: str = "test-model",
    image: str = "test-image:v1",
    gpu: str = "MI300X",
    count: int = 2,
    metric: str = "latency",
    precision: str = "fp8",
) -> str:
    return naming.template_name(model, image, gpu, count, metric, precision)


def test_s09_template_name_contains_gpu_metric_precision() -> None:
    """§9.9 the name holds `2x-mi300x`, `lat` and `fp8`; throughput is `thr`."""
    name = _name()
    assert "2x-mi300x" in name and "-lat-" in name and "fp8" in name
    assert "-thr-" in _name(metric="throughput")


def test_s09_template_name_gpu_only_and_count_only() -> None:
    """§9.9 GPU-only ⇒ `mi300x` (no count), count-only ⇒ `x4`."""
    gpu_only = _name(count=0, metric="", precision="")
    assert gpu_only.startswith("test-image-v1-mi300x-") and len(gpu_only) == len("test-image-v1-mi300x-") + 4
    assert _name(gpu="", count=4, metric="", precision="") == "test-image-v1-x4-36fa"


def test_s09_template_name_bounded_deterministic_and_distinct() -> None:
    """§9.9 ≤63 chars, deterministic, differs by precision and by model name; a long image keeps
    `2x-mi300x` (the image part is the one shortened)."""
    assert _name() == _name()
    assert _name(precision="fp16") != _name()
    assert _name(model="other-model") != _name()
    long = _name(image="ghcr.io/amd/" + "very-long-model-name-" * 6 + ":1.0.0", count=2)
    assert len(long) <= 63 and "2x-mi300x" in long and naming.is_valid_label(long)


def test_s09_metric_shorthand_unknown_is_itself() -> None:
    """§9.9 getMetricShorthand: latency→lat, throughput→thr, anything else verbatim."""
    assert _name(image="test:latest", gpu="", count=0, metric="custom_metric", precision="") == (
        "test-latest-custom-metric-2c13"
    )


@pytest.mark.parametrize(
    ("model", "image", "deployment", "expected"),
    [
        (
            "test-model",
            "test-image:v1",
            ("MI300X", 2, "throughput", "fp16"),
            "test-image-v1-2x-mi300x-thr-fp16-c6bf",
        ),
        ("qwen-qwen3-32b", QWEN, ("MI300X", 1, "latency", "fp8"), QWEN_LAT),
        ("qwen-qwen3-32b", QWEN, ("MI300X", 2, "throughput", "fp16"), QWEN_THR),
        (
            "my-model",
            "ghcr.io/amd/very-long-model-name-that-exceeds-kubernetes-limits-by-quite-a-lot:1.0.0",
            ("MI300X", 8, "latency", "bf16"),
            "ghcr-io-amd-very-long-model-name-that-e-8x-mi300x-lat-bf16-936f",
        ),
        (
            "llama",
            "Registry.IO/Org/Llama_3:V1",
            ("MI300X", 1, "latency", "fp16"),
            "registry-io-org-llama-3-v1-1x-mi300x-lat-fp16-df95",
        ),
    ],
)
def test_s09_template_name_vectors_d1(
    model: str, image: str, deployment: tuple[str, int, str, str], expected: str
) -> None:
    """§9.9 with the §3.3 vectors, byte for byte (D1)."""
    assert naming.template_name(model, image, *deployment) == expected


# ------------------------------------------- §9.10 model names, fetchModel, ComposeState (§6, §7)


def _service(model: dict[str, Any], name: str = "svc") -> r.AIMService:
    return r.AIMService(
        api_version=r.V1ALPHA1,
        kind="AIMService",
        metadata=r.ObjectMeta(name=name, namespace="ml-team", uid=f"uid-{name}", generation=1),
        spec=r.AIMServiceSpec(model=r.ServiceModel(**model)),
    )


def test_s10_compose_state_creates_auto_named_model_d2() -> None:
    """§9.10 ComposeState for `ghcr.io/amd/llama:v1` with no model ⇒ needsCreation, name
    `llama-v1-b1033728`. D2 differs: the name is `auto-<sha256(normalised image)[:12]>`; the model is
    in the service's namespace, labelled origin=auto-generated, and not owned by the service (D3)."""
    svc = _service({"image": "ghcr.io/amd/llama:v1"})
    plan = reconcile_service(svc, Snapshot.build([svc], now=NOW))
    (apply,) = [a for a in plan.actions if isinstance(a, Apply)]
    expected = "auto-" + hashlib.sha256(b"ghcr.io/amd/llama:v1").hexdigest()[:12]
    assert naming.auto_model_name("ghcr.io/amd/llama:v1") == expected
    assert (apply.obj.kind, apply.obj.metadata.namespace, apply.obj.metadata.name) == (
        "AIMModel",
        "ml-team",
        expected,
    )
    assert apply.obj.spec.image == "ghcr.io/amd/llama:v1"
    assert apply.obj.metadata.owner_references is None
    assert (apply.obj.metadata.labels or {})[LABEL_ORIGIN] == "auto-generated"
    model_ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert (model_ready.reason, model_ready.message) == (
        "CreatingModel",
        f"Model {expected} will be created for image ghcr.io/amd/llama:v1",
    )


def test_s10_fetch_model_namespace_then_cluster_then_not_found() -> None:
    """§9.10 fetchModel: TrimSpace, AIMModel in the namespace, else AIMClusterModel (D16);
    both missing ⇒ ModelNotFound."""
    ready = r.AIMModelStatus(status=r.Status.READY)
    local = attrs.evolve(ns_model(name="m"), status=ready)
    shared = attrs.evolve(cluster_model(name="m"), status=ready)
    svc = _service({"name": " m "})
    for objects, kind in (([svc, local, shared], "AIMModel"), ([svc, shared], "AIMClusterModel")):
        plan = reconcile_service(svc, Snapshot.build(objects, now=NOW))
        assert plan.status.resolved_model.kind == kind
    plan = reconcile_service(svc, Snapshot.build([svc], now=NOW))
    model_ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert (model_ready.status.value, model_ready.reason, model_ready.message) == (
        "False",
        "ModelNotFound",
        "model 'm' not found in namespace ml-team or cluster scope: waiting for it to be created",
    )
    assert plan.status.status is r.ServiceStatus.PENDING  # D32: the model may still be created


def test_s10_compose_state_reuses_one_match_and_rejects_two() -> None:
    """§9.10 ComposeState by image: one model with the image is reused (namespace first); two in one
    scope ⇒ an error naming them (D2; images compared after normalisation)."""
    ready = r.AIMModelStatus(status=r.Status.READY)
    a = attrs.evolve(ns_model(name="a", image=f"docker.io/{QWEN}"), status=ready)
    b = attrs.evolve(ns_model(name="b"), status=ready)
    svc = _service({"image": QWEN})
    plan = reconcile_service(svc, Snapshot.build([svc, a], now=NOW))
    assert plan.status.resolved_model.name == "a"
    assert not any(isinstance(x, Apply) for x in plan.actions)
    plan = reconcile_service(svc, Snapshot.build([svc, a, b], now=NOW))
    model_ready = next(c for c in plan.status.conditions if c.type == "ModelReady")
    assert model_ready.reason == "MultipleModelsFound"
    assert "ml-team/a" in (model_ready.message or "") and "ml-team/b" in (model_ready.message or "")
    assert plan.status.status is r.ServiceStatus.FAILED


@pytest.mark.parametrize(
    ("base", "sources", "expected"),
    [
        (
            "ghcr.io/silogen/aim-base:0.7.0",
            [("my-org/my-model", "s3://bucket/model", "")],
            "my-org-my-model-770ab756",
        ),
        (
            "ghcr.io/silogen/aim-base:0.7.0",
            [("my-org/my-model", "s3://bucket/model", "https://minio-1.local")],
            "my-org-my-model-4089a3ad",
        ),
        (
            "ghcr.io/silogen/aim-base:0.7.0",
            [("Meta-Llama/Llama-3.1-70B", "hf://Meta-Llama/Llama-3.1-70B", "")],
            "meta-llama-llama-3-1-70b-f10237e2",
        ),
        ("ghcr.io/silogen/aim-base:0.7.0", [], "custom-model-75f5d0d1"),
        (BASE, [("Qwen/Qwen3-32B", "hf://Qwen/Qwen3-32B", "")], "qwen-qwen3-32b-06844ba1"),
    ],
)
def test_s10_custom_model_name_vectors_d3(
    base: str, sources: list[tuple[str, str, str]], expected: str
) -> None:
    """§9.10 GenerateCustomModelName: the §7.2 vectors (D3 follows the reference)."""
    assert naming.custom_model_name(base, sources) == expected


def test_s10_inline_custom_service_creates_the_reference_name_d3() -> None:
    """§9.10 ComposeState for spec.model.custom: `{modelId}-{hash8}`, labels origin/custom-model/service."""
    source = r.ModelSource(model_id="Qwen/Qwen3-32B", source_uri="hf://Qwen/Qwen3-32B")
    svc = _service(
        {"custom": r.InlineCustomModel(base_image=BASE, model_sources=(source,), hardware=_gpu(1))}
    )
    plan = reconcile_service(svc, Snapshot.build([svc], now=NOW))
    (apply,) = [a for a in plan.actions if isinstance(a, Apply)]
    assert apply.obj.metadata.name == "qwen-qwen3-32b-06844ba1"
    assert apply.obj.metadata.labels == {
        "aim.eai.amd.com/origin": "auto-generated",
        "aim.eai.amd.com/custom-model": "true",
        "aim.eai.amd.com/service": "svc",
        "app.kubernetes.io/managed-by": "aim-service-controller",
        "aim.eai.amd.com/service.name": "svc",
    }
    assert apply.obj.metadata.owner_references is None


# ------------------------------------------------------------ §9.11 spec-provided-metadata (e2e)

SPEC_METADATA = r.ImageMetadata(
    model=r.ModelMetadata(
        canonical_name="Qwen/Qwen3-32B",
        recommended_deployments=(
            r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1, metric="latency", precision="fp8"),
        ),
    ),
    oci=r.OCIMetadata(title="provided"),
)


def test_s11_spec_metadata_with_unreachable_image_is_ready() -> None:
    """§9.11 e2e spec-provided-metadata: an unreachable image plus spec.imageMetadata ⇒
    ImageMetadataReady True (ImageMetadataFound: it has a canonicalName); the registry is never asked
    (D8); templates come from the spec's deployments and the model is Ready."""
    registry = Registry({})
    model = ns_model(image="unreachable.example/x:1", image_metadata=SPEC_METADATA)
    cluster = simulate(model, registry=registry)
    assert registry.asked == []
    (done,) = objects_of(cluster, r.AIMModel)
    assert condition(done, "ImageMetadataReady") == ("True", "ImageMetadataFound", "")
    assert done.status.status is r.Status.READY
    assert condition(done, "Ready") == ("True", "AllComponentsReady", "All components are ready")
    assert [t.spec.precision for t in objects_of(cluster, r.AIMServiceTemplate)] == [r.Precision.FP8]


def test_s11_spec_metadata_is_recorded_in_status() -> None:
    """§9.11 e2e spec-provided-metadata: status.imageMetadata == spec's. DecorateStatus stores every
    non-nil fetch result, and spec metadata is returned on every reconcile (§5.2, §5.5.4); D8 only
    says it is used as is and the registry is not asked, so the reference's status is kept. Nothing
    was inspected, so inspectedImage and imageDigest stay unset."""
    model = ns_model(image="unreachable.example/x:1", image_metadata=SPEC_METADATA)
    cluster = simulate(model, registry=Registry({}))
    (done,) = objects_of(cluster, r.AIMModel)
    assert done.status.image_metadata == SPEC_METADATA
    assert (done.status.inspected_image, done.status.image_digest) == (None, None)


# ------------------------------------------- §9.12 auto-create-templates / cluster-scoped (e2e)


def test_s12_auto_created_templates_namespace_model() -> None:
    """§9.12 e2e auto-create-templates: one AIMServiceTemplate per deployment, labels
    origin=auto-generated and model=<name>, spec.modelName, hardware.gpu.model MI300X; model Ready."""
    cluster = simulate(ns_model())
    found = by_name(cluster, r.AIMServiceTemplate)
    assert sorted(found) == [QWEN_THR, QWEN_LAT]
    for template in found.values():
        assert template.metadata.namespace == "ml-team"
        assert template.metadata.labels[LABEL_ORIGIN] == "auto-generated"
        assert template.metadata.labels[LABEL_MODEL] == "qwen-qwen3-32b"
        assert template.spec.model_name == "qwen-qwen3-32b"
        assert template.spec.hardware.gpu.model == "MI300X"
        assert template.status.status is T.READY
    assert found[QWEN_THR].spec.hardware == _gpu(2, "MI300X")
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.READY
    assert [condition(model, t)[:2] for t in CONDITION_TYPES] == [
        ("True", "DefaultConfigNotFound"),
        ("True", "ImageMetadataFound"),
        ("True", "AllTemplatesReady"),
        ("True", "AllComponentsReady"),
    ]


def test_s12_cluster_scoped_templates_through_the_command_line(tmp_path: Path) -> None:
    """§9.12 e2e cluster-scoped-templates, through `aimcore simulate -o json`: a cluster model gets
    AIMClusterServiceTemplates with the same labels and spec.modelName, hardware.gpu.model MI300X."""
    (tmp_path / "model.yaml").write_text(
        "apiVersion: aim.eai.amd.com/v1alpha1\nkind: AIMClusterModel\n"
        f"metadata:\n  name: qwen-qwen3-32b\nspec:\n  image: {QWEN}\n"
    )
    facts = {QWEN: {"config": {"Labels": QWEN_LABELS}}}
    (tmp_path / "images.json").write_text(json.dumps(facts))
    out = io.StringIO()
    code = main(
        [
            "simulate",
            str(tmp_path / "model.yaml"),
            "--images",
            str(tmp_path / "images.json"),
            "--now",
            NOW,
            "-o",
            "json",
        ],
        out,
        io.StringIO(),
    )
    report = json.loads(out.getvalue())
    assert (code, report["converged"], report["problems"]) == (0, True, [])
    found = {o["metadata"]["name"]: o for o in report["objects"] if o["kind"] == "AIMClusterServiceTemplate"}
    assert sorted(found) == [QWEN_THR, QWEN_LAT]
    for template in found.values():
        assert "namespace" not in template["metadata"]
        assert template["metadata"]["labels"]["aim.eai.amd.com/origin"] == "auto-generated"
        assert template["metadata"]["labels"]["aim.eai.amd.com/model"] == "qwen-qwen3-32b"
        assert template["spec"]["modelName"] == "qwen-qwen3-32b"
        assert template["spec"]["hardware"]["gpu"]["model"] == "MI300X"
        assert template["metadata"]["ownerReferences"][0]["kind"] == "AIMClusterModel"
    (model,) = [o for o in report["objects"] if o["kind"] == "AIMClusterModel"]
    assert model["status"]["status"] == "Ready"


# ---------------------------------------------------------- §9.13 additive-custom-templates (e2e)


def test_s13_additive_custom_templates_on_an_image_model() -> None:
    """§9.13 e2e additive-custom-templates: an image model with 2 customTemplates gets them in addition
    to its discovered templates (>2), each with its alias label; env MAX_MODEL_LEN=16384, type optimized,
    metric latency, precision fp16; the model is Ready with sourceType Image. The reference's entries
    have no modelSources (image weights); neither do these."""
    entries = (
        r.CustomTemplate(
            name="long-context",
            type=r.ProfileType.OPTIMIZED,
            env=(r.EnvVar(name="MAX_MODEL_LEN", value="16384"),),
            hardware=_gpu(1, "MI300X"),
            profile=r.ProfileSelection(metric=r.Metric.LATENCY, precision=r.Precision.FP16),
        ),
        r.CustomTemplate(name="wide", type=r.ProfileType.OPTIMIZED, hardware=_gpu(4, "MI300X")),
    )
    cluster = simulate(ns_model(custom_templates=entries))
    found = by_name(cluster, r.AIMServiceTemplate)
    long_name = custom.template_name("qwen-qwen3-32b", 0, entries[0])
    wide_name = custom.template_name("qwen-qwen3-32b", 1, entries[1])
    assert (long_name, wide_name) == (
        "qwen-qwen3-32b-custom-long-context-fp16-mi300x-" + long_name[-8:],
        "qwen-qwen3-32b-custom-wide-mi300x-" + wide_name[-8:],
    )
    assert sorted(found) == sorted([QWEN_LAT, QWEN_THR, long_name, wide_name])
    long = found[long_name]
    assert long.metadata.labels[LABEL_TEMPLATE_ALIAS] == "long-context"
    assert found[wide_name].metadata.labels[LABEL_TEMPLATE_ALIAS] == "wide"
    assert LABEL_TEMPLATE_ALIAS not in found[QWEN_LAT].metadata.labels
    assert long.spec.env == (r.EnvVar(name="MAX_MODEL_LEN", value="16384"),)
    assert (long.spec.type, long.spec.metric, long.spec.precision) == (
        r.ProfileType.OPTIMIZED,
        r.Metric.LATENCY,
        r.Precision.FP16,
    )
    assert long.spec.model_sources is None
    assert long.spec.hardware == _gpu(1, "MI300X")
    assert long.status.profile.metadata.type == "optimized"
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.READY
    assert model.status.source_type is r.SourceType.IMAGE
    assert condition(model, "ServiceTemplatesReady")[:2] == ("True", "AllTemplatesReady")


# ------------------------------------------------- §9.14 custom-models/template-creation (e2e)


def test_s14_custom_model_template_creation() -> None:
    """§9.14 e2e custom-models/template-creation: 6 templates; inherited hardware {1, MI300X}; type
    unoptimized when none is given; modelSources copied; hardwareSummary `1 x MI300X`; the MI250X one
    is NotAvailable while the model stays Ready (SomeTemplatesReady); profile.metadata.type = spec.type.
    Custom models are not inspected (aim-models.txt: custom models skip discovery)."""
    hardware = _gpu(1, "MI300X")
    single = ns_model(
        name="single", image=BASE, model_sources=SOURCES, custom=r.CustomModelSpec(hardware=hardware)
    )
    entries = (
        r.CustomTemplate(name="inherit"),
        r.CustomTemplate(name="two", hardware=_gpu(2)),
        r.CustomTemplate(name="preview", type=r.ProfileType.PREVIEW),
        r.CustomTemplate(
            name="fast", profile=r.ProfileSelection(metric=r.Metric.LATENCY, precision=r.Precision.FP8)
        ),
        r.CustomTemplate(name="old", hardware=_gpu(None, "MI250X")),
    )
    multi = ns_model(
        name="multi",
        image=BASE,
        model_sources=SOURCES,
        custom=r.CustomModelSpec(hardware=hardware),
        custom_templates=entries,
    )
    registry = Registry({})
    cluster = simulate(single, multi, registry=registry, gpus=["MI300X"])
    assert registry.asked == []
    found = by_name(cluster, r.AIMServiceTemplate)
    assert len(found) == 6
    assert sorted(found) == sorted(
        [custom.template_name("single", 0, None)]
        + [custom.template_name("multi", i, e) for i, e in enumerate(entries)]
    )
    for template in found.values():
        assert template.spec.model_sources == SOURCES
        assert template.status.model_sources == SOURCES
        assert template.status.profile.metadata.type == template.spec.type.value
        assert template.metadata.labels[LABEL_ORIGIN] == "auto-generated"
    auto = found[custom.template_name("single", 0, None)]
    inherit = found[custom.template_name("multi", 0, entries[0])]
    for template in (auto, inherit):
        assert template.spec.hardware == hardware
        assert template.spec.type is r.ProfileType.UNOPTIMIZED
        assert template.status.hardware_summary == "1 x MI300X"
        assert template.status.status is T.READY
    assert found[custom.template_name("multi", 1, entries[1])].spec.hardware == _gpu(2, "MI300X")
    assert found[custom.template_name("multi", 2, entries[2])].status.profile.metadata.type == "preview"
    old = found[custom.template_name("multi", 4, entries[4])]
    assert old.spec.hardware == _gpu(1, "MI250X")
    assert old.status.status is T.NOT_AVAILABLE
    models = by_name(cluster, r.AIMModel)
    assert models["multi"].status.status is r.Status.READY
    assert condition(models["multi"], "ServiceTemplatesReady") == (
        "True",
        "SomeTemplatesReady",
        "All templates have finished processing (some are not available)",
    )
    assert models["single"].status.status is r.Status.READY
    assert all(m.status.source_type is r.SourceType.CUSTOM for m in models.values())


# ------------------------------------------------------------- §9.15 custom-models/cpu-only (e2e)


def test_s15_cpu_only_custom_model() -> None:
    """§9.15 e2e custom-models/cpu-only: cpu {requests 500m, limits 2000m} ⇒ template hardware cpu
    and resources cpu {500m, limits 2000m}, hardwareSummary `CPU`, model Ready with sourceType Custom.
    The reference asserts limits "2": that is the API server's canonical spelling of 2000m, which
    the in-memory cluster does not imitate; the quantity is the same."""
    hardware = r.Hardware(cpu=r.CpuRequirements(requests="500m", limits="2000m"))
    model = ns_model(
        name="cpu", image=BASE, model_sources=SOURCES, custom=r.CustomModelSpec(hardware=hardware)
    )
    cluster = simulate(model, registry=Registry({}), gpus=["MI300X"])
    (template,) = objects_of(cluster, r.AIMServiceTemplate)
    assert template.metadata.name == custom.template_name("cpu", 0, None)
    assert template.spec.hardware == hardware
    assert template.spec.resources == r.ResourceRequirements(
        requests={"cpu": "500m"}, limits={"cpu": "2000m"}
    )
    assert template.status.hardware_summary == "CPU"
    assert template.status.status is T.READY
    (done,) = objects_of(cluster, r.AIMModel)
    assert done.status.status is r.Status.READY
    assert done.status.source_type is r.SourceType.CUSTOM
    assert condition(done, "Ready") == ("True", "AllComponentsReady", "All components are ready")


# ------------------------------------------------------------ §9.16 invalid-image-pull-secret (e2e)


@pytest.mark.parametrize("scope", ["namespace", "cluster"])
def test_s16_invalid_image_pull_secret(scope: str) -> None:
    """§9.16 e2e invalid-image-pull-secret ⇒ Failed, Ready False. The reference reports
    ConfigValid False/ReferenceNotFound; D12 has no ConfigValid condition and D7 reports the missing
    secret on ImageMetadataReady (MetadataExtractionFailed), by name and namespace (D9: the operator
    namespace for a cluster model). Nothing is inspected and no template is created."""
    secrets = (r.LocalObjectReference(name="missing-secret"),)
    model: r.Model = (
        ns_model(image_pull_secrets=secrets)
        if scope == "namespace"
        else cluster_model(image_pull_secrets=secrets)
    )
    registry = Registry()
    cluster = simulate(model, registry=registry)
    assert registry.asked == []
    (done,) = objects_of(cluster, type(model))
    assert done.status.status is r.Status.FAILED
    where = "ml-team" if scope == "namespace" else "aim-system"
    hint = "" if scope == "namespace" else " (cluster models read secrets from the operator namespace)"
    message = (
        f'imagePullSecret "missing-secret" not found in namespace "{where}"{hint}: '
        "create it or fix the reference"
    )
    assert condition(done, "ImageMetadataReady") == ("False", "MetadataExtractionFailed", message)
    assert condition(done, "Ready") == ("False", "MetadataExtractionFailed", f"ImageMetadataReady: {message}")
    assert objects_of(cluster, r.AIMServiceTemplate) == objects_of(cluster, r.AIMClusterServiceTemplate) == []


# ------------------------------------------------------------------- §9.17 error-recovery (e2e)


def test_s17_missing_runtime_config_fails_then_recovers() -> None:
    """§9.17 e2e error-recovery: a missing runtimeConfigName ⇒ Failed; creating an
    AIMClusterRuntimeConfig ⇒ Ready with Ready True. The reference reports ConfigValid
    False/ReferenceNotFound, then True; D12 reports it on RuntimeConfigReady (ConfigNotFound, then
    ConfigFound), and D13 records the config found in status.resolvedRuntimeConfig."""
    registry = Registry()
    cluster = simulate(ns_model(runtime_config_name="team"), registry=registry)
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.FAILED
    assert condition(model, "RuntimeConfigReady")[:2] == ("False", "ConfigNotFound")
    assert condition(model, "Ready")[:2] == ("False", "ConfigNotFound")
    assert objects_of(cluster, r.AIMServiceTemplate) == []

    config = r.AIMClusterRuntimeConfig(
        api_version=r.V1ALPHA1, kind="AIMClusterRuntimeConfig", metadata=r.ObjectMeta(name="team", uid="cfg")
    )
    cluster.objects[ObjectKey.of(config)] = config
    assert run(cluster, registry, max_rounds=20).converged
    (model,) = objects_of(cluster, r.AIMModel)
    assert model.status.status is r.Status.READY
    assert condition(model, "RuntimeConfigReady") == ("True", "ConfigFound", "")
    assert condition(model, "Ready") == ("True", "AllComponentsReady", "All components are ready")
    assert model.status.resolved_runtime_config == r.ResolvedReference(
        name="team", scope=r.Scope.CLUSTER, kind="AIMClusterRuntimeConfig", uid="cfg"
    )
    assert sorted(by_name(cluster, r.AIMServiceTemplate)) == [QWEN_THR, QWEN_LAT]


# ------------------------------------------------------ §9.18 custom-models/nonexistent-image (e2e)


def test_s18_custom_model_with_nonexistent_image_is_not_inspected() -> None:
    """§9.18 e2e custom-models/nonexistent-image: the reference inspects custom models too (a
    pullability check), so a nonexistent base image makes the model Degraded (ImageMetadataReady False,
    retried forever) and its template Degraded. aim-models.txt overrides it: custom models skip
    discovery ("no image metadata extraction needed"), so the image is never inspected:
    ImageMetadataReady True/DiscoverySkipped, the template is created and Ready, the model Ready.
    "A template ignores template-only model failure" concerns the template controller, which aimcore
    does not implement (the in-memory cluster stands in for it)."""
    registry = Registry({})
    model = ns_model(
        name="ghost",
        image="ghcr.io/silogen/does-not-exist:0.0.0",
        model_sources=SOURCES,
        custom=r.CustomModelSpec(hardware=_gpu(1, "MI300X")),
    )
    cluster = simulate(model, registry=registry)
    assert registry.asked == []
    (done,) = objects_of(cluster, r.AIMModel)
    assert condition(done, "ImageMetadataReady") == (
        "True",
        "DiscoverySkipped",
        "A custom model takes its weights from spec.modelSources; its image is not inspected",
    )
    assert done.status.status is r.Status.READY
    assert done.status.image_metadata is None
    (template,) = objects_of(cluster, r.AIMServiceTemplate)
    assert template.status.status is T.READY


# --------------------------------------------------------- §9.19 template-garbage-collection (e2e)


@pytest.mark.parametrize("scope", ["namespace", "cluster"])
def test_s19_deleting_the_model_collects_its_templates(scope: str) -> None:
    """§9.19 e2e template-garbage-collection: deleting the model removes its templates through their
    controller ownerReference (D4). A user-created template naming the model, without an
    ownerReference, is not garbage and stays; nothing is recreated afterwards."""
    model: r.Model = ns_model() if scope == "namespace" else cluster_model()
    kind = r.AIMServiceTemplate if scope == "namespace" else r.AIMClusterServiceTemplate
    user = kind(
        api_version=r.V1ALPHA1,
        kind=kind.KIND,
        metadata=r.ObjectMeta(name="hand-made", namespace="ml-team" if scope == "namespace" else None),
        spec=r.AIMServiceTemplateSpec(model_name="qwen-qwen3-32b", hardware=_gpu(1, "MI300X")),
    )
    cluster = simulate(model, user)
    assert sorted(by_name(cluster, kind)) == sorted([QWEN_THR, QWEN_LAT, "hand-made"])
    key = ObjectKey.of(model)
    gone = cluster.delete(key, cluster.objects[key].metadata.uid)
    assert sorted(k.name for k in gone) == sorted(["qwen-qwen3-32b", QWEN_THR, QWEN_LAT])
    assert sorted(by_name(cluster, kind)) == ["hand-made"]
    assert run(cluster, Registry(), max_rounds=20).converged
    assert sorted(by_name(cluster, kind)) == ["hand-made"]
