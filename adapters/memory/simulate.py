"""Run the core against the in-memory cluster, one round or until nothing changes."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.common.dependents import DependencyIndex, dependents_of, moves_dependencies
from aimcore.adapters.common.inspection import Inspector
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.plan import Action, Apply, ApplyManifest, Delete, Inspect, Plan, Reason, UpdateStatus, verb, why
from aimcore.reconcile import reconcile, reconcile_all
from aimcore.snapshot import InspectKey, ObjectKey


@attrs.frozen
class Recorded:
    round: int
    verb: str
    key: ObjectKey
    #: the action's own reason, and the reasons of the plan it belongs to
    reason: str = ""
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def of(cls, round_: int, plan: Plan, action: Action) -> Recorded:
        return cls(round_, verb(action), _subject(plan, action), why(action), plan.reasons)

    def as_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "verb": self.verb,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "reason": self.reason,
            "reasons": [{"subject": r.subject, "message": r.message} for r in self.reasons],
        }


@attrs.frozen
class Outcome:
    converged: bool
    rounds: int
    actions: tuple[Recorded, ...]
    plans: tuple[Plan, ...]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector, restoring its previous state afterwards.

    Process-wide, so the command line (which owns its process) uses it around a run;
    the library functions below never touch it.

    The rounds build no reference cycles (reference counting frees every snapshot and
    plan; a full collection after a run finds nothing), but they keep hundreds of
    thousands of objects alive, so each automatic full collection walks the whole
    cluster for nothing: at 8,000 models that was 40% of a simulation.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run(cluster: MemoryCluster, inspector: Inspector, *, max_rounds: int) -> Outcome:
    """Reconcile every object, carry out the plans, repeat until a round changes nothing.

    The first round reconciles everything; later rounds only the objects whose inputs
    changed (what an operator's watches would enqueue), which plan the same actions at a
    fraction of the cost: an object whose inputs did not change plans what it planned.
    """
    recorded: list[Recorded] = []
    last: list[Plan] = []
    index: DependencyIndex | None = None
    asked: set[ObjectKey] = set()
    for round_ in range(1, max_rounds + 1):
        changes = cluster.take_changes()
        touched = cluster.take_touched()
        snapshot = cluster.snapshot()
        if round_ == 1:
            plans = reconcile_all(snapshot)
        else:
            if index is None or any(moves_dependencies(c) for c in changes):
                index = DependencyIndex.build(cluster.objects.values())
            dirty = dependents_of(changes, index, cluster.operator_namespace) | asked | touched
            plans = [reconcile(key, snapshot) for key in sorted(dirty) if key in snapshot.objects]
        last = plans
        wanted: list[InspectKey] = []
        asked = set()
        for plan in plans:
            for action in plan.actions:
                recorded.append(Recorded.of(round_, plan, action))
                execute_action(cluster, action, wanted)
                if isinstance(action, Inspect):
                    asked.add(plan.key)
        if wanted:
            cluster.facts.update(inspector(sorted(set(wanted))))
        if not any(p.actions for p in plans):
            return Outcome(True, round_, tuple(recorded), tuple(plans))
    return Outcome(False, max_rounds, tuple(recorded), tuple(last))


def run_once(cluster: MemoryCluster, inspector: Inspector) -> Outcome:
    """`plan`: a single pass; the state after it is what the pass would leave."""
    plans = reconcile_all(cluster.snapshot())
    recorded: list[Recorded] = []
    wanted: list[InspectKey] = []
    for plan in plans:
        for action in plan.actions:
            recorded.append(Recorded.of(1, plan, action))
            execute_action(cluster, action, wanted)
    if wanted:
        cluster.facts.update(inspector(sorted(set(wanted))))
    converged = not any(p.actions for p in plans)
    return Outcome(converged, 1, tuple(recorded), tuple(plans))


def _subject(plan: Plan, action: Any) -> ObjectKey:
    if isinstance(action, Apply | ApplyManifest | Delete | UpdateStatus):
        return action.key
    return plan.key


def execute_action(cluster: MemoryCluster, action: Any, wanted: list[InspectKey]) -> None:
    """Carry one action out in the cluster; an inspection is collected in `wanted` for later."""
    if isinstance(action, Apply):
        cluster.apply(action.obj)
    elif isinstance(action, ApplyManifest):
        cluster.apply_manifest(action.manifest)
    elif isinstance(action, Delete):
        cluster.delete(action.key, action.uid)
    elif isinstance(action, UpdateStatus):
        cluster.set_status(action.key, action.status)
    elif isinstance(action, Inspect):
        wanted.append(action.request)


def final_objects(cluster: MemoryCluster) -> list[dict[str, Any]]:
    """The whole state, sorted by kind, namespace, name: the AIM objects with the InferenceServices
    and HTTPRoutes; Secrets are never shown."""
    shown: list[tuple[ObjectKey, dict[str, Any]]] = [
        (key, codec.dump(obj)) for key, obj in cluster.objects.items() if not isinstance(obj, r.Secret)
    ]
    shown.extend((key, dict(doc)) for key, doc in cluster.workloads.items())
    return [doc for _, doc in sorted(shown, key=lambda item: item[0])]
