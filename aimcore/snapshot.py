"""An immutable, indexed view of the observed world: the only input of a reconcile.

Every lookup a rule makes goes through an index built once per snapshot, so a
reconcile costs what its object touches, not the size of the cluster.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TypeVar

import attrs

from aimcore import resources as r
from aimcore.facts import InspectResult
from aimcore.images import InvalidImageReference, normalize_image

R = TypeVar("R", bound=r.Resource)

DEFAULT_OPERATOR_NAMESPACE = "aim-system"


@attrs.frozen(order=True)
class ObjectKey:
    """kind, namespace ("" for cluster-scoped kinds) and name of an object."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: r.Resource) -> ObjectKey:
        return cls(obj.kind, obj.metadata.namespace or "", obj.metadata.name or "")

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@attrs.frozen(order=True)
class SecretRef:
    namespace: str
    name: str


@attrs.frozen(order=True)
class InspectKey:
    """What an inspection depends on: the normalised image and the credentials offered."""

    image: str
    secrets: tuple[SecretRef, ...] = ()


def _by_kind_namespace(
    objects: Iterable[r.Resource], field: str
) -> dict[tuple[str, str, str], tuple[ObjectKey, ...]]:
    index: dict[tuple[str, str, str], list[ObjectKey]] = defaultdict(list)
    for obj in objects:
        value = getattr(obj.spec, field, None)  # type: ignore[union-attr]
        if value:
            index[(obj.kind, obj.metadata.namespace or "", value)].append(ObjectKey.of(obj))
    return {k: tuple(sorted(v)) for k, v in index.items()}


@attrs.frozen
class Snapshot:
    """Observed objects, inspection results, the operator namespace, the time and the GPUs."""

    objects: Mapping[ObjectKey, r.Resource]
    image_facts: Mapping[InspectKey, InspectResult] = attrs.field(factory=dict)
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE
    #: RFC 3339 time of this observation; condition timestamps use it.
    now: str = "1970-01-01T00:00:00Z"
    #: GPU models present in the cluster; None means any GPU may be scheduled.
    gpus: frozenset[str] | None = None
    _templates_by_model: Mapping[tuple[str, str, str], tuple[ObjectKey, ...]] = attrs.field(
        factory=dict, alias="_templates_by_model"
    )
    _templates_by_aim_id: Mapping[tuple[str, str, str], tuple[ObjectKey, ...]] = attrs.field(
        factory=dict, alias="_templates_by_aim_id"
    )
    _models_by_image: Mapping[tuple[str, str, str], tuple[ObjectKey, ...]] = attrs.field(
        factory=dict, alias="_models_by_image"
    )
    _children: Mapping[str, tuple[ObjectKey, ...]] = attrs.field(factory=dict, alias="_children")

    @classmethod
    def build(
        cls,
        objects: Iterable[r.Resource],
        image_facts: Mapping[InspectKey, InspectResult] | None = None,
        *,
        operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE,
        now: str = "1970-01-01T00:00:00Z",
        gpus: Iterable[str] | None = None,
    ) -> Snapshot:
        by_key = {ObjectKey.of(o): o for o in objects}
        templates = [
            o for o in by_key.values() if isinstance(o, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
        ]
        models = [o for o in by_key.values() if isinstance(o, r.AIMModel | r.AIMClusterModel)]
        images: dict[tuple[str, str, str], list[ObjectKey]] = defaultdict(list)
        for model in models:
            normalized = _normalized(model.spec.image)
            if normalized:
                images[(model.kind, model.metadata.namespace or "", normalized)].append(ObjectKey.of(model))
        children: dict[str, list[ObjectKey]] = defaultdict(list)
        for obj in by_key.values():
            for ref in obj.metadata.owner_references or ():
                if ref.controller:
                    children[ref.uid].append(ObjectKey.of(obj))
        return cls(
            objects=by_key,
            image_facts=dict(image_facts or {}),
            operator_namespace=operator_namespace,
            now=now,
            gpus=frozenset(gpus) if gpus is not None else None,
            _templates_by_model=_by_kind_namespace(templates, "model_name"),
            _templates_by_aim_id=_by_kind_namespace(templates, "aim_id"),
            _models_by_image={k: tuple(sorted(v)) for k, v in images.items()},
            _children={k: tuple(sorted(v)) for k, v in children.items()},
        )

    def get(self, kind: type[R], namespace: str | None, name: str) -> R | None:
        obj = self.objects.get(ObjectKey(kind.KIND, namespace or "", name))
        return obj if isinstance(obj, kind) else None

    def templates_for_model(self, kind: str, namespace: str, model_name: str) -> tuple[r.Template, ...]:
        """Templates of `kind` whose spec.modelName is `model_name` (user-created ones included)."""
        return _templates(self._lookup(self._templates_by_model, (kind, namespace, model_name)))

    def templates_with_aim_id(self, kind: str, namespace: str, aim_id: str) -> tuple[r.Template, ...]:
        return _templates(self._lookup(self._templates_by_aim_id, (kind, namespace, aim_id)))

    def models_with_image(self, kind: str, namespace: str, normalized_image: str) -> tuple[r.Model, ...]:
        found = self._lookup(self._models_by_image, (kind, namespace, normalized_image))
        return tuple(m for m in found if isinstance(m, r.AIMModel | r.AIMClusterModel))

    def children(self, owner_uid: str | None) -> tuple[r.Resource, ...]:
        """Objects whose controller ownerReference points at `owner_uid`."""
        if not owner_uid:
            return ()
        return tuple(self.objects[k] for k in self._children.get(owner_uid, ()))

    def secret_exists(self, namespace: str, name: str) -> bool:
        return ObjectKey("Secret", namespace, name) in self.objects

    def _lookup(
        self, index: Mapping[tuple[str, str, str], tuple[ObjectKey, ...]], key: tuple[str, str, str]
    ) -> tuple[r.Resource, ...]:
        return tuple(self.objects[k] for k in index.get(key, ()))


def _templates(found: Iterable[r.Resource]) -> tuple[r.Template, ...]:
    return tuple(t for t in found if isinstance(t, r.AIMServiceTemplate | r.AIMClusterServiceTemplate))


def _normalized(image: str | None) -> str | None:
    if not image:
        return None
    try:
        return normalize_image(image)
    except InvalidImageReference:
        return None
