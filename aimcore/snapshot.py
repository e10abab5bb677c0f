"""An immutable, indexed view of the observed world: the only input of a reconcile.

Every lookup a rule makes goes through an index built once per snapshot, so a
reconcile costs what its object touches, not the size of the cluster.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from aimcore import resources as r
from aimcore.discoveryjob import DiscoveryObservation
from aimcore.facts import InspectResult
from aimcore.gpus import GpuInventory, cluster_inventory
from aimcore.images import InvalidImageReference, normalize_image
from aimcore.workloads import Workloads

R = TypeVar("R", bound=r.Resource)

DEFAULT_OPERATOR_NAMESPACE = r.DEFAULT_OPERATOR_NAMESPACE


@attrs.frozen(cache_hash=True)
class ObjectKey:
    """kind, namespace ("" for cluster-scoped kinds) and name of an object.

    Ordered by (kind, namespace, name), as attrs' `order=True` would order it; the
    comparisons are written out because keys are sorted by the hundred thousand and
    attrs' generic ones build two tuples through a generator per comparison.
    """

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: r.Resource) -> ObjectKey:
        return cls(obj.kind, obj.metadata.namespace or "", obj.metadata.name or "")

    def __lt__(self, other: ObjectKey) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name) < (other.kind, other.namespace, other.name)

    def __le__(self, other: ObjectKey) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name) <= (other.kind, other.namespace, other.name)

    def __gt__(self, other: ObjectKey) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name) > (other.kind, other.namespace, other.name)

    def __ge__(self, other: ObjectKey) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name) >= (other.kind, other.namespace, other.name)

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


K = TypeVar("K")


def _sorted_index(index: Mapping[K, list[ObjectKey]]) -> dict[K, tuple[ObjectKey, ...]]:
    return {k: tuple(sorted(v)) for k, v in index.items()}


@attrs.frozen
class Snapshot:
    """Observed objects, inspection results, the operator namespace, the time and the GPUs."""

    objects: Mapping[ObjectKey, r.Resource]
    image_facts: Mapping[InspectKey, InspectResult] = attrs.field(factory=dict)
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE
    #: RFC 3339 time of this observation; condition timestamps use it.
    now: str = "1970-01-01T00:00:00Z"
    #: GPU models present in the cluster; None means any GPU may be scheduled. Nodes win.
    gpus: frozenset[str] | None = None
    #: Node name -> labels, for the GPU inventory (labels are all the rules read of a Node);
    #: None when no Node was observed at all (simulate without Node objects: `gpus` decides).
    nodes: Mapping[str, Mapping[str, str]] | None = None
    #: Discovery Jobs, their Pods and the output of finished ones.
    discovery: DiscoveryObservation = attrs.field(factory=DiscoveryObservation)
    #: The InferenceServices and HTTPRoutes services own, and whether their CRDs are served.
    workloads: Workloads = attrs.field(factory=Workloads)
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
    #: (kind, namespace) -> image models not yet settled (no status, Pending or Progressing):
    #: their discovered templates may still appear.
    _unsettled: Mapping[tuple[str, str], tuple[ObjectKey, ...]] = attrs.field(
        factory=dict, alias="_unsettled"
    )

    #: Image text -> normalize_image(text) (None when invalid), for every image a model names.
    _images: Mapping[str, str | None] = attrs.field(factory=dict, alias="_images")
    #: The GPU inventory, computed on first use: every template of a snapshot reads the same one.
    _inventory: list[GpuInventory] = attrs.field(factory=list, init=False, eq=False, repr=False)

    @classmethod
    def build(
        cls,
        objects: Iterable[r.Resource],
        image_facts: Mapping[InspectKey, InspectResult] | None = None,
        *,
        operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE,
        now: str = "1970-01-01T00:00:00Z",
        gpus: Iterable[str] | None = None,
        nodes: Mapping[str, Mapping[str, str]] | None = None,
        discovery: DiscoveryObservation | None = None,
        workloads: Workloads | None = None,
    ) -> Snapshot:
        """Index `objects` in one pass."""
        by_key = {ObjectKey.of(o): o for o in objects}
        normalized_images: dict[str, str | None] = {}
        indexes: tuple[dict[Any, list[ObjectKey]], ...] = tuple(defaultdict(list) for _ in range(5))
        for key, obj in by_key.items():
            for which, entry in _entries(key, obj, normalized_images):
                indexes[which][entry].append(key)
        by_model, by_aim_id, images, children, unsettled = [_sorted_index(index) for index in indexes]
        return cls(
            objects=by_key,
            image_facts=dict(image_facts or {}),
            operator_namespace=operator_namespace,
            now=now,
            gpus=frozenset(gpus) if gpus is not None else None,
            nodes=dict(nodes) if nodes is not None else None,
            discovery=discovery or DiscoveryObservation(),
            workloads=workloads or Workloads(),
            _templates_by_model=by_model,
            _templates_by_aim_id=by_aim_id,
            _models_by_image=images,
            _children=children,
            _unsettled=unsettled,
            _images=normalized_images,
        )

    def with_changes(self, changed: Mapping[ObjectKey, r.Resource | None]) -> Snapshot:
        """This snapshot with some objects replaced, added or (None) removed.

        The same as building from scratch, at the cost of the changed objects plus
        copying the maps: what an operator does after each watch event or write.
        """
        objects = dict(self.objects)
        images = dict(self._images)
        indexes: list[dict[Any, tuple[ObjectKey, ...]]] = [
            dict(self._templates_by_model),
            dict(self._templates_by_aim_id),
            dict(self._models_by_image),
            dict(self._children),
            dict(self._unsettled),
        ]
        for key, new in changed.items():
            old = objects.pop(key, None)
            if old is not None:
                for which, entry in _entries(key, old, images):
                    remaining = tuple(k for k in indexes[which].get(entry, ()) if k != key)
                    if remaining:
                        indexes[which][entry] = remaining
                    else:
                        indexes[which].pop(entry, None)
            if new is not None:
                objects[key] = new
                for which, entry in _entries(key, new, images):
                    indexes[which][entry] = tuple(sorted((*indexes[which].get(entry, ()), key)))
        by_model, by_aim_id, by_image, children, unsettled = indexes
        return attrs.evolve(
            self,
            objects=objects,
            _templates_by_model=by_model,
            _templates_by_aim_id=by_aim_id,
            _models_by_image=by_image,
            _children=children,
            _unsettled=unsettled,
            _images=images,
        )

    def gpu_inventory(self) -> GpuInventory:
        """The cluster's GPUs from the observed Nodes, else from `gpus` (D28)."""
        if not self._inventory:
            self._inventory.append(cluster_inventory(self.nodes, self.gpus))
        return self._inventory[0]

    def normalized_image(self, image: str) -> str:
        """`normalize_image(image)`, answered from the index when a model names the same text."""
        found = self._images.get(image)
        return found if found is not None else normalize_image(image)

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

    def unsettled_models(self, kind: str, namespace: str) -> tuple[r.Model, ...]:
        """Image models of `kind` in `namespace` ("" for the cluster) that have not settled yet."""
        found = tuple(self.objects[k] for k in self._unsettled.get((kind, namespace), ()))
        return tuple(m for m in found if isinstance(m, r.AIMModel | r.AIMClusterModel))

    def secret_exists(self, namespace: str, name: str) -> bool:
        return ObjectKey("Secret", namespace, name) in self.objects

    def _lookup(
        self, index: Mapping[tuple[str, str, str], tuple[ObjectKey, ...]], key: tuple[str, str, str]
    ) -> tuple[r.Resource, ...]:
        return tuple(self.objects[k] for k in index.get(key, ()))


_BY_MODEL, _BY_AIM_ID, _BY_IMAGE, _CHILDREN, _UNSETTLED = range(5)
_SETTLED = (r.Status.READY, r.Status.DEGRADED, r.Status.FAILED)


def _entries(
    key: ObjectKey,
    obj: r.Resource,
    normalized: dict[str, str | None],
) -> Iterator[tuple[int, Any]]:
    """The index entries one object makes: (which index, entry key).

    `normalized` memoises image references, so each spelling is parsed once per snapshot.
    """
    if isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
        spec = obj.spec
        if spec.model_name:
            yield _BY_MODEL, (key.kind, key.namespace, spec.model_name)
        if spec.aim_id:
            yield _BY_AIM_ID, (key.kind, key.namespace, spec.aim_id)
    elif isinstance(obj, r.AIMModel | r.AIMClusterModel):
        image = obj.spec.image
        if image:
            if image in normalized:
                found = normalized[image]
            else:
                found = normalized[image] = _normalized(image)
            if found:
                yield _BY_IMAGE, (key.kind, key.namespace, found)
        status = obj.status.status if obj.status else None
        if not obj.spec.model_sources and status not in _SETTLED:
            yield _UNSETTLED, (key.kind, key.namespace)
    for ref in obj.metadata.owner_references or ():
        if ref.controller:
            yield _CHILDREN, ref.uid


def _templates(found: Iterable[r.Resource]) -> tuple[r.Template, ...]:
    return tuple(t for t in found if isinstance(t, r.AIMServiceTemplate | r.AIMClusterServiceTemplate))


def _normalized(image: str | None) -> str | None:
    if not image:
        return None
    try:
        return normalize_image(image)
    except InvalidImageReference:
        return None
