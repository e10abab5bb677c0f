"""An in-memory cluster: what `plan` and `simulate` run the core against.

It does what an API server and the controllers aimcore does not model would do:
gives objects uids, generations and resourceVersions, merges applies, garbage-
collects children through ownerReferences, and stands in for the template
controller (DESIGN.md: Ready when its GPU is present, else NotAvailable).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import attrs

from adapters.dependents import Change
from aimcore import resources as r
from aimcore.facts import InspectResult
from aimcore.images import extract_tag
from aimcore.ownership import merged_with_observed
from aimcore.resolution import lookup_model
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from aimcore.status import READY, Component, condition, find

_UID_NAMESPACE = uuid.UUID("6f1c0a52-8a3e-4c59-9a4d-2f0e3b7d1a10")


def stable_uid(key: ObjectKey) -> str:
    """A uid derived from the object's identity, so runs are reproducible byte for byte."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{key.kind}/{key.namespace}/{key.name}"))


class MemoryCluster:
    """Objects by key, plus the inspection results the adapters gathered so far."""

    def __init__(
        self,
        objects: Iterable[r.Resource],
        *,
        now: str,
        operator_namespace: str,
        gpus: Iterable[str] | None = None,
    ) -> None:
        self.now = now
        self.operator_namespace = operator_namespace
        self.gpus = frozenset(gpus) if gpus is not None else None
        self.objects: dict[ObjectKey, r.Resource] = {}
        self.facts: dict[InspectKey, InspectResult] = {}
        self._version = 0
        #: Templates whose status the stand-in controller last found up to date, with what it
        #: depends on, so that an unchanged template is not recomputed every round.
        self._settled: dict[ObjectKey, tuple[r.Resource, str | None, str, frozenset[str] | None]] = {}
        self._changes: list[Change] = []
        # Admitted in key order, so resourceVersions do not depend on the order of the inputs.
        for obj in sorted(objects, key=ObjectKey.of):
            self.objects[ObjectKey.of(obj)] = self._admit(obj, None)

    def snapshot(self) -> Snapshot:
        return Snapshot.build(
            self.objects.values(),
            self.facts,
            operator_namespace=self.operator_namespace,
            now=self.now,
            gpus=self.gpus,
        )

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _admit(self, obj: r.Resource, previous: r.Resource | None) -> r.Resource:
        """Fill in what the API server owns: uid, generation, resourceVersion, creation time."""
        meta = obj.metadata
        key = ObjectKey.of(obj)
        generation = meta.generation or 1
        if previous is not None:
            generation = (previous.metadata.generation or 1) + (
                1 if getattr(previous, "spec", None) != getattr(obj, "spec", None) else 0
            )
        meta = attrs.evolve(
            meta,
            uid=meta.uid or (previous.metadata.uid if previous else None) or stable_uid(key),
            generation=generation,
            resource_version=self._next_version(),
            creation_timestamp=meta.creation_timestamp or self.now,
        )
        return attrs.evolve(obj, metadata=meta)

    def take_changes(self) -> list[Change]:
        """Every change since the last call, oldest first (what a watch would have reported)."""
        changes, self._changes = self._changes, []
        return changes

    def apply(self, desired: r.Resource) -> None:
        key = ObjectKey.of(desired)
        observed = self.objects.get(key)
        merged = merged_with_observed(desired, observed)
        self.objects[key] = self._admit(merged, observed)
        self._changes.append(Change(key, observed, self.objects[key]))

    def set_status(self, key: ObjectKey, status: Any) -> None:
        obj = self.objects.get(key)
        if obj is None:
            return
        meta = attrs.evolve(obj.metadata, resource_version=self._next_version())
        self.objects[key] = attrs.evolve(obj, status=status, metadata=meta)
        self._changes.append(Change(key, obj, self.objects[key]))

    def delete(self, key: ObjectKey, uid: str | None) -> list[ObjectKey]:
        """Delete (only when the uid still matches) and collect the garbage it leaves."""
        obj = self.objects.get(key)
        if obj is None or (uid is not None and obj.metadata.uid != uid):
            return []
        del self.objects[key]
        self._settled.pop(key, None)
        self._changes.append(Change(key, obj, None))
        gone = [key]
        orphans = [
            k
            for k, o in self.objects.items()
            if any(ref.uid == obj.metadata.uid for ref in o.metadata.owner_references or ())
        ]
        for orphan in orphans:
            gone.extend(self.delete(orphan, None))
        return gone

    def run_template_controller(self) -> int:
        """Give every template the status its controller would; returns how many changed."""
        changed = 0
        templates = [
            (key, obj)
            for key, obj in self.objects.items()
            if isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
        ]
        templates.sort(key=lambda item: item[0])
        objects = Snapshot(objects=self.objects)  # lookups by key only: no index needed
        for key, obj in templates:
            owner_image = self._owner_image(obj, objects)
            settled = self._settled.get(key)
            if (
                settled is not None
                and settled[0] is obj
                and settled[1] == owner_image
                and settled[2] == self.now
                and settled[3] == self.gpus
            ):
                continue  # template_status is pure: the same inputs give the same (current) status
            status = template_status(obj, self.gpus, self.now, owner_image)
            if status != obj.status:
                self.set_status(key, status)
                changed += 1
            else:
                self._settled[key] = (obj, owner_image, self.now, self.gpus)
        return changed

    def _owner_image(self, template: r.Template, objects: Snapshot) -> str | None:
        """The image of the template's model: the namespace model, else the cluster model (D16)."""
        namespace = template.metadata.namespace if isinstance(template, r.AIMServiceTemplate) else None
        owner = lookup_model(namespace, template.spec.model_name, objects)
        return owner.spec.image if owner is not None else None


def hardware_summary(hardware: r.Hardware | None) -> str | None:
    gpu = hardware.gpu if hardware else None
    if gpu is not None and (gpu.requests or gpu.model or gpu.models):
        model = gpu.model or " | ".join(gpu.models or ()) or "GPU"
        return f"{gpu.requests or 0} x {model}"
    if hardware is not None and hardware.cpu is not None:
        return "CPU"
    return None


def template_status(
    template: r.Template, gpus: frozenset[str] | None, now: str, owner_image: str | None
) -> r.AIMServiceTemplateStatus:
    """The stand-in template controller: availability from --gpus, profile from the spec."""
    spec = template.spec
    gpu = spec.hardware.gpu if spec.hardware else None
    wanted = [m for m in ((gpu.model,) if gpu and gpu.model else (gpu.models or ()) if gpu else ()) if m]
    available = gpus is None or not wanted or any(m in gpus for m in wanted)
    profile_type = spec.type.value if spec.type else r.ProfileType.OPTIMIZED.value
    metadata = r.ProfileMetadata(
        gpu=wanted[0] if wanted else None,
        gpu_count=gpu.requests if gpu and gpu.requests is not None else None,
        metric=spec.metric.value if spec.metric else None,
        precision=spec.precision.value if spec.precision else None,
        type=profile_type,
        aim_id=spec.aim_id,
        model_id=spec.model_id,
    )
    custom = spec.custom_profile
    profile = r.TemplateProfile(
        engine_args=custom.engine_args if custom else None,
        env_vars=custom.env_vars if custom else None,
        metadata=metadata,
    )
    state = r.TemplateStatus.READY if available else r.TemplateStatus.NOT_AVAILABLE
    reason = "TemplateReady" if available else "GpuNotAvailable"
    message = (
        "" if available else f"No node has {' or '.join(wanted)} (present: {', '.join(sorted(gpus or ()))})"
    )
    # The condition is True when Ready, False otherwise; the template's own state says NotAvailable.
    ready = Component(READY, r.Status.READY if available else r.Status.DEGRADED, reason, message)
    previous = find(template.status.conditions if template.status else None, READY)
    ready_condition = condition(previous, ready, now, template.metadata.generation)
    return r.AIMServiceTemplateStatus(
        observed_generation=template.metadata.generation,
        status=state,
        conditions=(ready_condition,),
        hardware_summary=hardware_summary(spec.hardware),
        model_sources=spec.model_sources,
        profile=profile,
        version=extract_tag(owner_image) or None if owner_image else None,
    )
