"""What a change to one object can alter: the keys to reconcile again.

The operator enqueues them after watch events and its own writes; simulate
reconciles only them in the rounds after the first. A dependency missing here
would make a reconcile late, which the property suite's laws (a converged world
plans nothing) would catch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import attrs

from aimcore import gpus
from aimcore import resources as r
from aimcore.reconcile import RECONCILED_KINDS
from aimcore.snapshot import ObjectKey


@attrs.frozen
class Change:
    """One object's before and after (None: absent)."""

    key: ObjectKey
    before: r.Resource | None
    after: r.Resource | None


@attrs.frozen
class DependencyIndex:
    """Who depends on what, built once per batch of changes, so that a batch costs what it
    touches: the first list of a large cluster is thousands of changes at once."""

    #: namespace ("" for cluster-scoped) -> keys, for services and for fine-tuned models
    services: Mapping[str, tuple[ObjectKey, ...]]
    fine_tuned: Mapping[str, tuple[ObjectKey, ...]]
    #: aimId -> models with that spec.aimId
    by_aim_id: Mapping[str, tuple[tuple[ObjectKey, str], ...]]
    #: runtime config name -> models and services using it (their own or `default`)
    by_config: Mapping[str, tuple[ObjectKey, ...]]
    #: secret name -> models and services naming it, and runtime configs naming it
    by_secret: Mapping[str, tuple[ObjectKey, ...]]
    configs_by_secret: Mapping[str, frozenset[str]]
    #: model name -> templates naming it (either kind: a namespaced template may use a cluster model)
    templates_by_model: Mapping[str, tuple[ObjectKey, ...]] = attrs.field(factory=dict)
    #: GPU model (normalised) -> templates that name it; and the templates that take any GPU
    #: (requests or minVram without a model): what a change of the GPU inventory can reach.
    templates_by_gpu: Mapping[str, tuple[ObjectKey, ...]] = attrs.field(factory=dict)
    any_gpu_templates: tuple[ObjectKey, ...] = ()

    @classmethod
    def build(cls, objects: Iterable[r.Resource]) -> DependencyIndex:
        services: dict[str, list[ObjectKey]] = defaultdict(list)
        fine_tuned: dict[str, list[ObjectKey]] = defaultdict(list)
        by_aim_id: dict[str, list[tuple[ObjectKey, str]]] = defaultdict(list)
        by_config: dict[str, list[ObjectKey]] = defaultdict(list)
        by_secret: dict[str, list[ObjectKey]] = defaultdict(list)
        configs_by_secret: dict[str, set[str]] = defaultdict(set)
        templates_by_model: dict[str, list[ObjectKey]] = defaultdict(list)
        templates_by_gpu: dict[str, list[ObjectKey]] = defaultdict(list)
        any_gpu: list[ObjectKey] = []
        for obj in objects:
            key = ObjectKey.of(obj)
            if isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
                spec = obj.spec
                templates_by_model[spec.model_name].append(key)
                by_config[spec.runtime_config_name or "default"].append(key)
                gpu = spec.hardware.gpu if spec.hardware else None
                if gpus.requires_gpu(gpu):
                    assert gpu is not None
                    named = [m for m in (gpu.model, *(gpu.models or ())) if m and m.strip()]
                    for model in named:
                        templates_by_gpu[gpus.normalize_gpu_model(model)].append(key)
                    if not named:
                        any_gpu.append(key)
                continue
            if isinstance(obj, r.AIMRuntimeConfig | r.AIMClusterRuntimeConfig):
                for ref in (obj.spec.image_pull_secrets if obj.spec else None) or ():
                    configs_by_secret[ref.name].add(obj.metadata.name or "")
                continue
            if not isinstance(obj, r.AIMModel | r.AIMClusterModel | r.AIMService):
                continue
            by_config[obj.spec.runtime_config_name or "default"].append(key)
            for ref in obj.spec.image_pull_secrets or ():
                by_secret[ref.name].append(key)
            if isinstance(obj, r.AIMService):
                services[key.namespace].append(key)
                continue
            if obj.spec.aim_id:
                by_aim_id[obj.spec.aim_id].append((key, key.namespace))
                if obj.spec.model_sources:
                    fine_tuned[key.namespace].append(key)
        return cls(
            services={k: tuple(v) for k, v in services.items()},
            fine_tuned={k: tuple(v) for k, v in fine_tuned.items()},
            by_aim_id={k: tuple(v) for k, v in by_aim_id.items()},
            by_config={k: tuple(v) for k, v in by_config.items()},
            by_secret={k: tuple(v) for k, v in by_secret.items()},
            configs_by_secret={k: frozenset(v) for k, v in configs_by_secret.items()},
            templates_by_model={k: tuple(v) for k, v in templates_by_model.items()},
            templates_by_gpu={k: tuple(v) for k, v in templates_by_gpu.items()},
            any_gpu_templates=tuple(any_gpu),
        )


_INDEXED_KINDS = (
    "AIMModel", "AIMClusterModel", "AIMService", "AIMRuntimeConfig", "AIMClusterRuntimeConfig",
    "AIMServiceTemplate", "AIMClusterServiceTemplate",
)


def moves_dependencies(change: Change) -> bool:
    """Whether `change` can alter a DependencyIndex (statuses and templates cannot)."""
    if change.key.kind not in _INDEXED_KINDS:
        return False
    before, after = change.before, change.after
    return before is None or after is None or getattr(before, "spec", None) != getattr(after, "spec", None)


def _in_scope(index: Mapping[str, tuple[ObjectKey, ...]], namespace: str) -> Iterable[ObjectKey]:
    """What an object in `namespace` can affect: that namespace, or everything for "" (cluster)."""
    if namespace == "":
        return (key for keys in index.values() for key in keys)
    return index.get(namespace, ())


def dependents(change: Change, objects: Iterable[r.Resource], operator_namespace: str) -> set[ObjectKey]:
    """The reconciled keys whose plan may differ because `change` happened."""
    return dependents_of([change], DependencyIndex.build(objects), operator_namespace)


def dependents_of(
    changes: Iterable[Change], index: DependencyIndex, operator_namespace: str
) -> set[ObjectKey]:
    """The reconciled keys whose plan may differ because `changes` happened.

    Broad dependencies (every service of a namespace, every fine-tuned model of an aimId)
    are gathered as scopes first and expanded once, so a batch of a thousand template
    changes costs a thousand lookups, not a thousand times the services.
    """
    found: set[ObjectKey] = set()
    scopes = _Scopes()
    for change in changes:
        for obj in (change.before, change.after):
            if obj is None:
                continue
            key = change.key
            if key.kind in RECONCILED_KINDS:
                found.add(key)
            for ref in obj.metadata.owner_references or ():
                owner_cls = r.KINDS.get(ref.kind)
                if owner_cls is not None and ref.kind in RECONCILED_KINDS:
                    found.add(ObjectKey(ref.kind, key.namespace if owner_cls.NAMESPACED else "", ref.name))
            _related(obj, key, scopes, found, index, operator_namespace)
    found.update(_in_scopes(index.services, scopes.services))
    found.update(_in_scopes(index.fine_tuned, scopes.fine_tuned))
    for aim_id, ns in scopes.aim_ids:
        found.update(k for k, k_ns in index.by_aim_id.get(aim_id, ()) if ns in ("", k_ns))
    for name, ns in scopes.configs:
        found.update(k for k in index.by_config.get(name, ()) if ns in ("", k.namespace))
    for name, ns in scopes.models:  # a cluster model serves templates of every namespace (D16)
        found.update(k for k in index.templates_by_model.get(name, ()) if ns in ("", k.namespace))
    return found


def gpu_dependents(
    before: gpus.GpuInventory, after: gpus.GpuInventory, index: DependencyIndex
) -> set[ObjectKey]:
    """The templates whose availability or node affinity a change of the GPU inventory can move:
    those naming a model that appeared, went or changed its VRAM, and those taking any GPU.
    A Node whose labels change without changing the inventory reaches none."""
    models = set(before.gpus) | set(after.gpus)
    changed = {model for model in models if before.gpus.get(model) != after.gpus.get(model)}
    if not changed:
        return set()
    found = set(index.any_gpu_templates)
    for model in changed:
        found.update(index.templates_by_gpu.get(model, ()))
    return found


@attrs.define
class _Scopes:
    """Namespaces ("" for all) whose services or fine-tuned models, and the (aimId, namespace)
    and (runtime config, namespace) pairs whose users, a batch of changes reaches."""

    services: set[str] = attrs.field(factory=set)
    fine_tuned: set[str] = attrs.field(factory=set)
    aim_ids: set[tuple[str, str]] = attrs.field(factory=set)
    configs: set[tuple[str, str]] = attrs.field(factory=set)
    models: set[tuple[str, str]] = attrs.field(factory=set)


def _in_scopes(index: Mapping[str, tuple[ObjectKey, ...]], namespaces: set[str]) -> Iterable[ObjectKey]:
    if "" in namespaces:
        return _in_scope(index, "")
    return (key for ns in namespaces for key in index.get(ns, ()))


def _related(
    obj: r.Resource,
    key: ObjectKey,
    scopes: _Scopes,
    found: set[ObjectKey],
    index: DependencyIndex,
    operator_ns: str,
) -> None:
    ns = key.namespace
    if isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
        model_kind = "AIMModel" if isinstance(obj, r.AIMServiceTemplate) else "AIMClusterModel"
        found.add(ObjectKey(model_kind, ns, obj.spec.model_name))
        if obj.spec.aim_id:  # fine-tuned models copy the templates of their aimId
            scopes.aim_ids.add((obj.spec.aim_id, ns))
        scopes.services.add(ns)  # services select among templates
    elif isinstance(obj, r.AIMModel | r.AIMClusterModel):
        # Services resolve models; fine-tuned copies take their version from the source's owner;
        # templates read their model's image and state.
        scopes.services.add(ns)
        scopes.fine_tuned.add(ns)
        scopes.models.add((obj.metadata.name or "", ns))
    elif isinstance(obj, r.AIMRuntimeConfig | r.AIMClusterRuntimeConfig):
        scopes.configs.add((obj.metadata.name or "", ns))
    elif isinstance(obj, r.Secret):
        name = obj.metadata.name or ""
        users = set(index.by_secret.get(name, ()))
        for config in index.configs_by_secret.get(name, ()):
            users.update(index.by_config.get(config, ()))
        for other_key in users:
            if other_key.namespace == ns or (other_key.namespace == "" and ns == operator_ns):
                found.add(other_key)
