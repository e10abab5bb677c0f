"""Helpers the laws share: plans as comparable text, and a simulation loop that shows its rounds."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
from hypothesis import settings

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import execute_action
from aimcore.plan import Apply, ApplyManifest, Delete, Inspect, Plan, UpdateStatus
from aimcore.reconcile import reconcile_all
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from property_tests.strategies import Catalog


def _key(key: ObjectKey) -> list[str]:
    return [key.kind, key.namespace, key.name]


def _request(request: InspectKey) -> dict[str, Any]:
    return {"image": request.image, "secrets": [[s.namespace, s.name] for s in request.secrets]}


def action_dump(action: Any) -> dict[str, Any]:
    """One action as plain data; objects and statuses go through the codec."""
    if isinstance(action, Apply):
        return {"apply": codec.dump(action.obj), "reason": action.reason}
    if isinstance(action, Delete):
        return {"delete": _key(action.key), "uid": action.uid, "reason": action.reason}
    if isinstance(action, Inspect):
        return {"inspect": action.image, "request": _request(action.request), "reason": action.reason}
    if isinstance(action, ApplyManifest):
        return {"applyJob": dict(action.manifest), "reason": action.reason}
    assert isinstance(action, UpdateStatus)
    return {"status": _key(action.key), "value": codec.dump(action.status)}


def plan_dump(plan: Plan) -> dict[str, Any]:
    """A plan as plain data: key, actions, status and reasons, in the plan's own order."""
    return {
        "key": _key(plan.key),
        "actions": [action_dump(a) for a in plan.actions],
        "status": codec.dump(plan.status) if plan.status is not None else None,
        "reasons": [[reason.subject, reason.message] for reason in plan.reasons],
    }


def plans_text(plans: Sequence[Plan]) -> str:
    """Plans as one JSON text, so equality is byte-for-byte equality."""
    return json.dumps([plan_dump(p) for p in plans], sort_keys=False)


def state_text(cluster: MemoryCluster, *, versions: bool = True) -> str:
    """The whole cluster as JSON text (objects in key order); resourceVersions optional."""
    out = []
    for _, obj in sorted(cluster.objects.items()):
        if not versions:
            obj = attrs.evolve(obj, metadata=attrs.evolve(obj.metadata, resource_version=None))
        out.append(codec.dump(obj))
    return json.dumps(out, sort_keys=False)


def new_cluster(catalog: Catalog, objects: Sequence[r.Resource] | None = None) -> MemoryCluster:
    """An in-memory cluster holding the catalog's objects (or `objects`)."""
    return MemoryCluster(
        catalog.objects if objects is None else objects,
        now=catalog.now,
        operator_namespace=catalog.operator_namespace,
        gpus=catalog.gpus,
    )


def execute(cluster: MemoryCluster, catalog: Catalog, plans: Sequence[Plan]) -> None:
    """Carry the plans out as `aimcore.adapters.memory.simulate` does: applies, deletes, statuses, then inspections."""
    wanted: list[InspectKey] = []
    for plan in plans:
        for action in plan.actions:
            execute_action(cluster, action, wanted)
    for request in sorted(set(wanted)):
        cluster.facts[request] = catalog.inspect(request)


def rounds(
    cluster: MemoryCluster, catalog: Catalog, max_rounds: int
) -> Iterator[tuple[Snapshot, list[Plan]]]:
    """Reconcile round by round like `simulate.run`, yielding each round's snapshot and plans."""
    for _ in range(max_rounds):
        snapshot = cluster.snapshot()
        plans = reconcile_all(snapshot)
        yield snapshot, plans
        execute(cluster, catalog, plans)
        if not any(p.actions for p in plans):
            return


def heavy() -> settings:
    """A quarter of the profile's examples, for laws that run a whole simulation per example."""
    current = settings.default
    assert current is not None
    return settings(max_examples=max(5, current.max_examples // 4))
