"""What a model's status may hold (issue 20, fault 2): labels stored once, long values cut with a
marker, and a condition that says what was cut, so the status is always one the API server takes."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult
from aimcore.labels import (
    LEFT_OUT_MARKER,
    METADATA_LIMIT,
    REPEAT_LIMIT,
    VALUE_LIMIT,
    bound_metadata,
    cut_notice,
    json_size,
    parse_image_metadata,
    text_size,
)
from aimcore.models import MESSAGE_LIMIT
from aimcore.plan import Apply, Inspect, Plan, UpdateStatus
from aimcore.reconcile import reconcile
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot

NOW = "2026-11-29T00:00:00Z"
MIB = 1024 * 1024
IMAGE = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
NORMALIZED = "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
DEPLOYMENTS = (
    '[{"gpuModel":"MI300X","gpuCount":1,"precision":"fp8","metric":"latency",'
    '"profileId":"vllm-mi300x-fp8-tp1-latency"},'
    '{"gpuModel":"MI300X","gpuCount":2,"precision":"fp16","metric":"throughput",'
    '"profileId":"vllm-mi300x-fp16-tp2-throughput"}]'
)
#: The labels of fixtures/catalog.imagefacts' Qwen image: a normal AIM label set.
AIM_LABELS = {
    "com.amd.aim.model.canonicalName": "Qwen/Qwen3-32B",
    "com.amd.aim.model.source": "https://huggingface.co/Qwen/Qwen3-32B",
    "com.amd.aim.title": "Qwen3 32B",
    "com.amd.aim.model.tags": "chat, reasoning",
    "com.amd.aim.model.recommendedDeployments": DEPLOYMENTS,
    "org.opencontainers.image.title": "aim-qwen-qwen3-32b",
    "org.opencontainers.image.version": "0.8.5",
}
DESCRIPTION = "com.amd.aim.description.full"
NOTES = "com.amd.aim.release.notes"
HUGE_LABELS = {**AIM_LABELS, DESCRIPTION: "d" * MIB, NOTES: "r" * MIB}
EXPECTED_DEPLOYMENTS = (
    r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1, precision="fp8", metric="latency",
                            profile_id="vllm-mi300x-fp8-tp1-latency"),
    r.RecommendedDeployment(gpu_model="MI300X", gpu_count=2, precision="fp16", metric="throughput",
                            profile_id="vllm-mi300x-fp16-tp2-throughput"),
)
CUT_1MIB = "...[aimcore: cut from 1048576 bytes]"
HUGE_NOTICE = (
    "Image metadata cut to fit the model's status (at most 16 KiB a value, 256 KiB in all): "
    "model.descriptionFull (1048576 bytes) and model.releaseNotes (1048576 bytes) are cut to 16 KiB"
)


def go_json(document: Any) -> bytes:
    """The document as Go's encoding/json writes it (what the API server stores): compact UTF-8,
    with <, > and & (and U+2028/9) escaped as \\u00XX; no \\b or \\f in these tests' data."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text.encode("utf-8")


def model(**spec: Any) -> r.AIMModel:
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name="qwen", namespace="ml-team", uid="uid-qwen", generation=1),
        spec=r.AIMModelSpec(image=spec.pop("image", IMAGE), **spec),
    )


def facts(labels: dict[str, str], image: str = NORMALIZED) -> dict[InspectKey, InspectResult]:
    return {InspectKey(image, ()): ImageFacts(labels=labels, digest="sha256:ab")}


def reconciled(obj: r.AIMModel, image_facts: dict[InspectKey, InspectResult] | None = None) -> Plan:
    return reconcile(ObjectKey.of(obj), Snapshot.build([obj], image_facts, now=NOW))


def status_of(plan: Plan) -> r.AIMModelStatus:
    assert isinstance(plan.status, r.AIMModelStatus)
    return plan.status


def condition(status: r.AIMModelStatus, type_: str) -> tuple[str, str | None, str | None]:
    found = next(c for c in status.conditions or () if c.type == type_)
    return found.status.value, found.reason, found.message


def applied_templates(plan: Plan) -> list[str]:
    return sorted(a.obj.metadata.name or "" for a in plan.actions if isinstance(a, Apply))


# --- the regression: two 1 MiB labels --------------------------------------------------------


def test_two_1mib_labels_give_a_bounded_status_that_says_what_was_cut() -> None:
    plan = reconciled(model(), facts(HUGE_LABELS))
    status = status_of(plan)
    document = codec.dump(status)
    # The whole status, as the API server would store it: 35 KiB, not 4 MB.
    assert len(go_json(document)) == json_size(document) == 35197
    metadata = status.image_metadata
    assert metadata is not None and metadata.model is not None
    assert json_size(codec.dump(metadata)) == 34088 <= METADATA_LIMIT

    # The parsed fields keep their first bytes and end with the marker, 16 KiB in all.
    assert metadata.model.description_full == "d" * (VALUE_LIMIT - len(CUT_1MIB)) + CUT_1MIB
    assert metadata.model.release_notes == "r" * (VALUE_LIMIT - len(CUT_1MIB)) + CUT_1MIB
    assert text_size(metadata.model.description_full) == VALUE_LIMIT
    # Stored once: originalLabels keeps every label, but does not repeat what a field holds.
    assert metadata.original_labels == {
        **AIM_LABELS,
        DESCRIPTION: "[aimcore: not repeated, see model.descriptionFull (1048576 bytes)]",
        NOTES: "[aimcore: not repeated, see model.releaseNotes (1048576 bytes)]",
    }
    # Everything else as read: the deployments intact, and the templates made from them.
    assert metadata.model.recommended_deployments == EXPECTED_DEPLOYMENTS
    assert metadata.model.canonical_name == "Qwen/Qwen3-32B"
    assert metadata.model.tags == ("chat", "reasoning")
    assert metadata.oci == r.OCIMetadata(title="aim-qwen-qwen3-32b", version="0.8.5")
    assert applied_templates(plan) == [
        "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-6589",
        "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-44f1",
    ]
    assert condition(status, "ImageMetadataReady") == ("True", "ImageMetadataFound", HUGE_NOTICE)
    assert (status.inspected_image, status.image_digest) == (IMAGE, "sha256:ab")


def test_the_status_read_back_is_kept_as_it_is_and_still_says_what_was_cut() -> None:
    """The next pass reads the metadata from the status (D8): the same status, so no write."""
    first = status_of(reconciled(model(), facts(HUGE_LABELS)))
    written = attrs.evolve(model(), status=first)
    again = reconciled(written)  # no facts: the registry is not asked again
    assert not [a for a in again.actions if isinstance(a, UpdateStatus | Inspect)]
    assert again.status == first
    assert applied_templates(again) == applied_templates(reconciled(model(), facts(HUGE_LABELS)))


def test_simulate_converges_with_huge_labels() -> None:
    def inspector(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        return {key: ImageFacts(labels=HUGE_LABELS, digest="sha256:ab") for key in keys}

    cluster = MemoryCluster([model()], now=NOW, operator_namespace="aim-system")
    assert run(cluster, inspector, max_rounds=20).converged
    stored = next(o for o in cluster.objects.values() if isinstance(o, r.AIMModel))
    assert stored.status is not None
    assert condition(stored.status, "ImageMetadataReady") == ("True", "ImageMetadataFound", HUGE_NOTICE)
    assert len(go_json(codec.dump(stored.status))) < METADATA_LIMIT


def test_before_the_bound_the_same_image_made_a_4mb_status() -> None:
    """What the API server refused (413 over 3 MiB): both labels twice."""
    unbounded = parse_image_metadata(ImageFacts(labels=HUGE_LABELS))
    assert json_size(codec.dump(unbounded)) == 4195495
    assert bound_metadata(unbounded).size == 34088


# --- the rules one by one --------------------------------------------------------------------


def test_sizes_are_counted_as_the_api_server_writes_json() -> None:
    assert text_size("abc") == 3
    assert text_size("é") == 2 and text_size("€") == 3 and text_size("🙂") == 4
    assert text_size('"\\') == 4 and text_size("\n\t\r") == 6
    assert text_size("<>&") == 18  # \u003c\u003e\u0026, as the API server stored them (measured)
    assert text_size("\x01\u2028") == 12
    doc = {"a": ["<b>", None, True, False, 12], "c": {"d": "é\n"}}
    assert json_size(doc) == len(go_json(doc)) == 59


def test_a_short_label_a_field_holds_is_still_repeated() -> None:
    """Up to REPEAT_LIMIT a label is copied as the reference operator copies it."""
    text = "x" * REPEAT_LIMIT
    metadata = bound_metadata(parse_image_metadata(ImageFacts(labels={DESCRIPTION: text}))).metadata
    assert metadata is not None and metadata.original_labels == {DESCRIPTION: text}
    longer = text + "x"
    metadata = bound_metadata(parse_image_metadata(ImageFacts(labels={DESCRIPTION: longer}))).metadata
    assert metadata is not None and metadata.model is not None
    assert metadata.model.description_full == longer
    reference = "[aimcore: not repeated, see model.descriptionFull (1025 bytes)]"
    assert metadata.original_labels == {DESCRIPTION: reference}
    assert cut_notice(metadata) == ""  # nothing is lost: the field holds the whole value


def test_a_label_no_field_holds_is_cut_in_original_labels() -> None:
    labels = {**AIM_LABELS, "com.example.sbom": "s" * MIB, "com.example.legal": "<" * 3000}
    metadata = bound_metadata(parse_image_metadata(ImageFacts(labels=labels))).metadata
    assert metadata is not None and metadata.original_labels is not None
    assert metadata.original_labels["com.example.sbom"] == "s" * (VALUE_LIMIT - len(CUT_1MIB)) + CUT_1MIB
    # 3000 '<' take 18000 bytes as JSON: cut to 2725 of them (16350 bytes) and the marker (34).
    marker = "...[aimcore: cut from 18000 bytes]"
    assert metadata.original_labels["com.example.legal"] == "<" * 2725 + marker
    assert text_size("<" * 2725 + marker) == VALUE_LIMIT
    assert cut_notice(metadata) == (
        "Image metadata cut to fit the model's status (at most 16 KiB a value, 256 KiB in all): "
        "originalLabels[com.example.sbom] (1048576 bytes) and originalLabels[com.example.legal] "
        "(18000 bytes) are cut to 16 KiB"
    )


def test_every_text_value_is_cut_but_the_deployments_are_not() -> None:
    long = "t" * (VALUE_LIMIT + 1)
    marker = f"...[aimcore: cut from {VALUE_LIMIT + 1} bytes]"
    cut = "t" * (VALUE_LIMIT - len(marker)) + marker
    deployment = r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1, description=long)
    given = r.ImageMetadata(
        model=r.ModelMetadata(canonical_name="org/m", title=long, tags=("a", long),
                              recommended_deployments=(deployment,)),
        oci=r.OCIMetadata(description=long),
        base_image_ref=long,
    )
    metadata = bound_metadata(given).metadata
    assert metadata == r.ImageMetadata(
        model=r.ModelMetadata(canonical_name="org/m", title=cut, tags=("a", cut),
                              recommended_deployments=(deployment,)),
        oci=r.OCIMetadata(description=cut),
        base_image_ref=cut,
    )
    assert cut_notice(metadata) == (
        "Image metadata cut to fit the model's status (at most 16 KiB a value, 256 KiB in all): "
        "model.title (16385 bytes), oci.description (16385 bytes), baseImageRef (16385 bytes) and "
        "model.tags[1] (16385 bytes) are cut to 16 KiB"
    )


def test_over_the_limit_the_largest_original_labels_are_left_out_first() -> None:
    labels = {f"com.example.l{index:02}": str(index % 10) * (10_000 + index) for index in range(30)}
    bounded = bound_metadata(parse_image_metadata(ImageFacts(labels=labels)))
    metadata = bounded.metadata
    assert metadata is not None and metadata.original_labels is not None
    left = [k for k, v in metadata.original_labels.items() if v.startswith("[aimcore: left out")]
    # 30 labels of 10 KB are 300 KB; leaving out the four largest brings them under 256 KiB.
    assert left == [f"com.example.l{index}" for index in range(26, 30)]
    assert metadata.original_labels["com.example.l29"] == LEFT_OUT_MARKER.format(size=10_029)
    assert metadata.original_labels["com.example.l25"] == "5" * 10_025
    assert bounded.size == json_size(codec.dump(metadata)) == 261_123 <= METADATA_LIMIT
    assert cut_notice(metadata) == (
        "Image metadata cut to fit the model's status (at most 16 KiB a value, 256 KiB in all): "
        "originalLabels leaves out the value of com.example.l26 (10026 bytes), com.example.l27 "
        "(10027 bytes), com.example.l28 (10028 bytes) and com.example.l29 (10029 bytes)"
    )
    assert bound_metadata(metadata) == bounded  # idempotent: a status read back stays as it is


def test_bounding_is_idempotent_for_cut_and_repeated_values() -> None:
    bounded = bound_metadata(parse_image_metadata(ImageFacts(labels=HUGE_LABELS)))
    assert bounded.metadata is not None
    assert bound_metadata(bounded.metadata) == bounded
    assert cut_notice(bounded.metadata) == HUGE_NOTICE


def test_metadata_too_large_even_when_cut_fails_the_model_in_a_condition_that_fits() -> None:
    many = json.dumps([{"gpuModel": "MI300X", "gpuCount": 1 + n % 8, "metric": "latency"}
                       for n in range(6000)])
    labels = {**AIM_LABELS, "com.amd.aim.model.recommendedDeployments": many, DESCRIPTION: "d" * MIB}
    plan = reconciled(model(), facts(labels))
    status = status_of(plan)
    assert status.image_metadata is None
    assert status.status is r.Status.FAILED
    assert applied_templates(plan) == []
    assert condition(status, "ImageMetadataReady") == (
        "False",
        "MetadataTooLarge",
        f"{IMAGE}: the image's metadata takes 341108 bytes in the status even with every value cut to "
        "16 KiB and every originalLabels value left out, more than the 262144 bytes (256 KiB) "
        "status.imageMetadata may hold (6000 recommended deployments, 2 tags, versions and variants, "
        "8 labels)",
    )
    assert len(go_json(codec.dump(status))) == 1419
    # Stable: the next pass, with the same facts, plans the same status and no write.
    again = reconciled(attrs.evolve(model(), status=status), facts(labels))
    assert again.status == status
    assert not [a for a in again.actions if isinstance(a, UpdateStatus)]


def test_spec_image_metadata_is_recorded_bounded_or_not_at_all() -> None:
    given = parse_image_metadata(ImageFacts(labels=HUGE_LABELS))
    status = status_of(reconciled(model(image_metadata=given)))
    assert status.image_metadata == bound_metadata(given).metadata
    assert condition(status, "ImageMetadataReady") == ("True", "ImageMetadataFound", HUGE_NOTICE)

    deployments = tuple(
        r.RecommendedDeployment(gpu_model="MI300X", gpu_count=1 + n % 8, metric="latency")
        for n in range(6000)
    )
    too_many = r.ImageMetadata(model=r.ModelMetadata(canonical_name="org/m",
                                                     recommended_deployments=deployments))
    plan = reconciled(model(image_metadata=too_many))
    status = status_of(plan)
    assert status.image_metadata is None
    assert condition(status, "ImageMetadataReady") == (
        "True",
        "ImageMetadataFound",
        "spec.imageMetadata takes 324062 bytes in the status even with every value cut to 16 KiB and "
        "every originalLabels value left out, more than the 262144 bytes (256 KiB) status.imageMetadata "
        "may hold (6000 recommended deployments, 0 tags, versions and variants, 0 labels); it is not "
        "copied there",
    )
    assert len(applied_templates(plan)) == 8  # the spec still holds them: eight distinct templates


def test_a_status_an_older_aimcore_stored_unbounded_is_bounded_without_asking_again() -> None:
    unbounded = parse_image_metadata(ImageFacts(labels={**AIM_LABELS, DESCRIPTION: "d" * 300_000}))
    old = r.AIMModelStatus(image_metadata=unbounded, inspected_image=IMAGE, image_digest="sha256:ab")
    plan = reconciled(attrs.evolve(model(), status=old))
    assert not [a for a in plan.actions if isinstance(a, Inspect)]
    status = status_of(plan)
    assert status.image_metadata == bound_metadata(unbounded).metadata
    assert status.image_metadata is not None and status.image_metadata.original_labels is not None
    assert status.image_metadata.original_labels[DESCRIPTION] == (
        "[aimcore: not repeated, see model.descriptionFull (300000 bytes)]"
    )


HINT = " (the registry answered with an error; retrying with backoff)"


@pytest.mark.parametrize("length", [100, MESSAGE_LIMIT - len(HINT), MESSAGE_LIMIT - len(HINT) + 1, MIB])
def test_condition_messages_are_cut_to_the_message_limit(length: int) -> None:
    """A registry's answer (or an image reference) can be as long as anyone likes."""
    failure = InspectFailure(FailureKind.REGISTRY_ERROR, "e" * length)
    status = status_of(reconciled(model(), {InspectKey(NORMALIZED, ()): failure}))
    full = "e" * length + HINT
    marker = f"...[aimcore: cut from {len(full)} bytes]"
    expected = full if len(full) <= MESSAGE_LIMIT else full[: MESSAGE_LIMIT - len(marker)] + marker
    assert condition(status, "ImageMetadataReady") == ("False", "MetadataExtractionFailed", expected)
    ready = f"ImageMetadataReady: {full}"
    marker = f"...[aimcore: cut from {len(ready)} bytes]"
    expected = ready if len(ready) <= MESSAGE_LIMIT else ready[: MESSAGE_LIMIT - len(marker)] + marker
    assert condition(status, "Ready") == ("False", "MetadataExtractionFailed", expected)
    assert status.status is r.Status.DEGRADED
