"""Discovery: which image metadata a model has, and whether to ask a registry for it.

Metadata comes from spec.imageMetadata (used as is), else from status.imageMetadata
when it was read from the current spec.image (D8), else from a finished
inspection in the snapshot. Otherwise the plan asks for an inspection with the
pull secrets of D9. Custom and fine-tuned models are never inspected.

Whatever its source, the metadata is bounded (`labels.bound_metadata`) before it is used or
stored, so a model's status never outgrows what the API server accepts, and the templates are
made from exactly what the status holds (a later pass reads it back from there).
"""

from __future__ import annotations

import attrs

from aimcore import resources as r
from aimcore.facts import FailureKind, ImageFacts, InspectFailure
from aimcore.images import InvalidImageReference
from aimcore.labels import (
    METADATA_LIMIT,
    VALUE_LIMIT,
    Bounded,
    MalformedLabel,
    bound_metadata,
    cut_notice,
    has_aim_labels,
    parse_image_metadata,
)
from aimcore.plan import Inspect
from aimcore.snapshot import InspectKey, SecretRef, Snapshot
from aimcore.status import IMAGE_METADATA_READY, Component


@attrs.frozen
class DiscoveryOutcome:
    #: Metadata the templates are built from; None while unknown.
    metadata: r.ImageMetadata | None
    component: Component
    inspect: Inspect | None = None
    #: What status.imageMetadata, status.inspectedImage and status.imageDigest become.
    stored: r.ImageMetadata | None = None
    inspected_image: str | None = None
    digest: str | None = None
    #: True when extraction is off and no metadata will ever arrive (so nothing is awaited).
    never: bool = False


def _ready(reason: str, message: str = "") -> Component:
    return Component(IMAGE_METADATA_READY, r.Status.READY, reason, message)


def _found(metadata: r.ImageMetadata, note: str = "") -> Component:
    """Ready; the message says what of the metadata was cut to fit the status, if anything."""
    notice = note or cut_notice(metadata)
    if has_aim_labels(metadata):
        return _ready("ImageMetadataFound", notice)
    message = "The image has no AIM labels (com.amd.aim.model.canonicalName); no templates from it"
    return _ready("ImageFound", f"{message}; {notice}" if notice else message)


def _too_large(bounded: Bounded, metadata: r.ImageMetadata) -> str:
    model = metadata.model or r.ModelMetadata()
    listed = sum(len(items or ()) for items in (model.tags, model.versions, model.variants))
    return (
        f"takes {bounded.size} bytes in the status even with every value cut to {VALUE_LIMIT // 1024} KiB "
        f"and every originalLabels value left out, more than the {METADATA_LIMIT} bytes "
        f"({METADATA_LIMIT // 1024} KiB) status.imageMetadata may hold "
        f"({len(model.recommended_deployments or ())} recommended deployments, {listed} tags, versions "
        f"and variants, {len(metadata.original_labels or {})} labels)"
    )


def _failed(message: str, *, transient: bool = False) -> Component:
    state = r.Status.DEGRADED if transient else r.Status.FAILED
    return Component(IMAGE_METADATA_READY, state, "MetadataExtractionFailed", message)


def pull_secrets(
    model: r.Model, config_secrets: tuple[r.LocalObjectReference, ...], snapshot: Snapshot
) -> tuple[SecretRef, ...]:
    """D9: the model's secrets, then its runtime config's, from the model's namespace or the operator's."""
    namespace = model.metadata.namespace if isinstance(model, r.AIMModel) else snapshot.operator_namespace
    names: list[str] = []
    for ref in (*(model.spec.image_pull_secrets or ()), *config_secrets):
        if ref.name not in names:
            names.append(ref.name)
    return tuple(SecretRef(namespace or "", name) for name in names)


def discover(
    model: r.Model, config_secrets: tuple[r.LocalObjectReference, ...], snapshot: Snapshot
) -> DiscoveryOutcome:
    spec = model.spec
    status = model.status or r.AIMModelStatus()
    kept = DiscoveryOutcome(
        None,
        _ready("ImageFound"),
        stored=status.image_metadata,
        inspected_image=status.inspected_image,
        digest=status.image_digest,
    )
    if spec.model_sources:
        why = "fine-tuned" if spec.aim_id else "custom"
        component = _ready(
            "DiscoverySkipped",
            f"A {why} model takes its weights from spec.modelSources; its image is not inspected",
        )
        return attrs.evolve(kept, component=component, never=True)
    if spec.image_metadata is not None:
        # Recorded on the status as if it had been read (reference §9.11): readers of the status
        # see the metadata in use, wherever it came from. What cannot fit is not recorded; the
        # spec still holds it, so the model still works from it.
        given = bound_metadata(spec.image_metadata)
        if given.metadata is None:
            note = f"spec.imageMetadata {_too_large(given, spec.image_metadata)}; it is not copied there"
            return DiscoveryOutcome(spec.image_metadata, _found(spec.image_metadata, note))
        return DiscoveryOutcome(given.metadata, _found(given.metadata), stored=given.metadata)
    cached = status.image_metadata is not None and status.inspected_image in (None, spec.image)
    extraction_on = spec.discovery is None or spec.discovery.extract_metadata is not False
    if cached and status.image_metadata is not None:
        # Bounding is idempotent: this is what a former pass stored, unless an older aimcore
        # stored more; metadata that no longer fits is read from the image again.
        held = bound_metadata(status.image_metadata).metadata
        if held is not None:
            return attrs.evolve(kept, metadata=held, component=_found(held), stored=held)
    if not extraction_on:
        component = _ready(
            "DiscoverySkipped",
            "Metadata extraction is disabled (spec.discovery.extractMetadata: false); "
            "the image is not inspected",
        )
        return attrs.evolve(kept, component=component, never=True)
    image = spec.image or ""
    try:
        normalized = snapshot.normalized_image(image)
    except InvalidImageReference as err:
        return attrs.evolve(kept, component=_failed(f"spec.image is not a valid image reference: {err}"))
    secrets = pull_secrets(model, config_secrets, snapshot)
    missing = [s for s in secrets if not snapshot.secret_exists(s.namespace, s.name)]
    if missing:
        names = ", ".join(f'"{s.name}"' for s in missing)
        where = missing[0].namespace
        hint = (
            " (cluster models read secrets from the operator namespace)"
            if isinstance(model, r.AIMClusterModel)
            else ""
        )
        message = (
            f'imagePullSecret {names} not found in namespace "{where}"{hint}: create it or fix the reference'
        )
        return attrs.evolve(kept, component=_failed(message))
    request = InspectKey(normalized, secrets)
    result = snapshot.image_facts.get(request)
    if result is None:
        pending = Component(
            IMAGE_METADATA_READY,
            r.Status.PROGRESSING,
            "InspectingImage",
            f"Reading the labels of {image}",
            pending=True,
        )
        inspect = Inspect(image, request, f"{model.kind} {model.metadata.name} needs the labels of {image}")
        return attrs.evolve(kept, component=pending, inspect=inspect)
    if isinstance(result, InspectFailure):
        return attrs.evolve(kept, component=_failure_component(image, result))
    return _from_facts(image, result, kept)


def _from_facts(image: str, facts: ImageFacts, kept: DiscoveryOutcome) -> DiscoveryOutcome:
    try:
        metadata = parse_image_metadata(facts)
    except MalformedLabel as err:
        return attrs.evolve(kept, component=_failed(f"{image}: {err}"))
    bounded = bound_metadata(metadata)
    if bounded.metadata is None:
        # Nothing of it is stored (no templates without the status to read them back from), so a
        # status written before, from another image, goes too.
        failed = Component(
            IMAGE_METADATA_READY,
            r.Status.FAILED,
            "MetadataTooLarge",
            f"{image}: the image's metadata {_too_large(bounded, metadata)}",
        )
        return DiscoveryOutcome(None, failed)
    return DiscoveryOutcome(
        bounded.metadata, _found(bounded.metadata), stored=bounded.metadata, inspected_image=image,
        digest=facts.digest,
    )


_FAILURE_HINTS = {
    FailureKind.UNAUTHORIZED: (
        "check spec.imagePullSecrets (or the runtime config's) and the credentials they hold"
    ),
    FailureKind.NOT_FOUND: "check the image name and tag in spec.image",
    FailureKind.UNREACHABLE: "the registry could not be reached; retrying with backoff",
    FailureKind.REGISTRY_ERROR: "the registry answered with an error; retrying with backoff",
    FailureKind.MALFORMED: "the registry's answer could not be read",
}


def _failure_component(image: str, failure: InspectFailure) -> Component:
    message = f"{failure.message} ({_FAILURE_HINTS[failure.kind]})"
    if not failure.message:
        message = f"inspecting {image} failed: {failure.kind.value} ({_FAILURE_HINTS[failure.kind]})"
    return _failed(message, transient=not failure.kind.permanent)
