"""Laws of `reconcile` over whole catalogs: determinism, order independence, idempotence,
convergence, valid generated names, and never deleting what the operator did not create.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.adapters.memory.simulate import run
from aimcore.facts import InspectResult
from aimcore.naming import is_valid_label
from aimcore.ownership import LABEL_MANAGED_BY, LABEL_MODEL, LABEL_ORIGIN, ORIGIN_FINE_TUNED
from aimcore.plan import Apply, Delete, Plan, verb
from aimcore.reconcile import reconcile_all
from aimcore.snapshot import InspectKey, ObjectKey, Snapshot
from property_tests.strategies import Catalog, catalogs
from property_tests.support import execute, heavy, new_cluster, plans_text, rounds, state_text

#: The longest chain of reactions in a catalog: a service creates a model, the model is
#: inspected, it creates templates, their controller reports, a fine-tuned model copies them,
#: statuses settle; then one quiet round. Anything longer is a loop.
CONVERGENCE_BOUND = 8


def _rebuilt(
    snapshot: Snapshot, objects: Sequence[r.Resource], facts: Sequence[tuple[InspectKey, InspectResult]]
) -> Snapshot:
    return Snapshot.build(
        objects,
        dict(facts),
        operator_namespace=snapshot.operator_namespace,
        now=snapshot.now,
        gpus=snapshot.gpus,
        nodes=snapshot.nodes,
        discovery=snapshot.discovery,
    )


@heavy()
@given(catalogs())
def test_same_snapshot_gives_identical_plans(catalog: Catalog) -> None:
    """The core is pure: at every round, a second snapshot of the same world plans byte for byte the same."""
    cluster = new_cluster(catalog)
    for snapshot, plans in rounds(cluster, catalog, CONVERGENCE_BOUND):
        again = _rebuilt(snapshot, list(snapshot.objects.values()), list(snapshot.image_facts.items()))
        assert plans_text(reconcile_all(again)) == plans_text(plans)


@heavy()
@given(catalogs(), st.randoms(use_true_random=False))
def test_plans_do_not_depend_on_input_order(catalog: Catalog, rnd: random.Random) -> None:
    """Objects and inspection results in any order give the same plans, at every round."""
    cluster = new_cluster(catalog)
    for snapshot, plans in rounds(cluster, catalog, CONVERGENCE_BOUND):
        objects = list(snapshot.objects.values())
        facts = list(snapshot.image_facts.items())
        rnd.shuffle(objects)
        rnd.shuffle(facts)
        assert plans_text(reconcile_all(_rebuilt(snapshot, objects, facts))) == plans_text(plans)


@heavy()
@given(catalogs(), st.randoms(use_true_random=False))
def test_simulation_does_not_depend_on_input_order(catalog: Catalog, rnd: random.Random) -> None:
    """The whole simulated outcome (state and actions) is the same for permuted inputs."""
    permuted = list(catalog.objects)
    rnd.shuffle(permuted)
    first, second = new_cluster(catalog), new_cluster(catalog, permuted)
    one = run(first, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    two = run(second, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    assert one.actions == two.actions
    assert state_text(first) == state_text(second)


@heavy()
@given(catalogs())
def test_simulation_converges_within_the_bound(catalog: Catalog) -> None:
    """Every generated catalog settles within CONVERGENCE_BOUND rounds, whatever its registry says."""
    outcome = run(new_cluster(catalog), catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    assert outcome.converged, f"not converged after {outcome.rounds} rounds"


@heavy()
@given(catalogs())
def test_a_converged_world_plans_nothing(catalog: Catalog) -> None:
    """Idempotence: once converged, reconciling again plans no action for any object."""
    cluster = new_cluster(catalog)
    assert run(cluster, catalog.inspector(), max_rounds=CONVERGENCE_BOUND).converged
    assert [(str(p.key), p.actions) for p in reconcile_all(cluster.snapshot()) if p.actions] == []


@heavy()
@given(catalogs())
def test_carrying_out_a_plan_twice_is_carrying_it_out_once(catalog: Catalog) -> None:
    """Idempotence of plans: executing a pass's plans again changes nothing (bar resourceVersions)."""
    once, twice = new_cluster(catalog), new_cluster(catalog)
    plans = reconcile_all(once.snapshot())
    execute(once, catalog, plans)
    execute(twice, catalog, plans)
    execute(twice, catalog, plans)
    assert state_text(twice, versions=False) == state_text(once, versions=False)


@heavy()
@given(catalogs())
def test_every_generated_name_is_a_valid_label(catalog: Catalog) -> None:
    """Every object the operator creates is named by an RFC 1123 label of at most 63 characters."""
    cluster = new_cluster(catalog)
    inputs = {ObjectKey.of(o) for o in catalog.objects}
    run(cluster, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    created = sorted(k.name for k in cluster.objects if k not in inputs)
    assert [name for name in created if not is_valid_label(name)] == []


def _managed(obj: r.Resource) -> bool:
    return (obj.metadata.labels or {}).get(LABEL_MANAGED_BY, "").startswith("aim-")


def _check_deletes(snapshot: Snapshot, plans: list[Plan], user: set[ObjectKey]) -> int:
    """Each Delete targets an operator object (controlled by the reconciled object, or managed),
    and no Apply overwrites a user's object."""
    count = 0
    for plan in plans:
        reconciled = snapshot.objects[plan.key]
        for action in plan.actions:
            if isinstance(action, Apply):
                assert action.key not in user, f"{plan.key} overwrites user object {action.key}"
            if not isinstance(action, Delete):
                continue
            count += 1
            assert action.key not in user, f"{plan.key} deletes user object {action.key}"
            target = snapshot.objects[action.key]
            controlled = any(
                ref.controller and ref.uid == reconciled.metadata.uid
                for ref in target.metadata.owner_references or ()
            )
            assert controlled or _managed(target), f"{plan.key} deletes {action.key}, not its own"
            assert action.uid == target.metadata.uid
    return count


def _mimic(model: r.Model) -> r.Template:
    """A user's template that looks like a fine-tuned copy of `model` (labels), but is not owned by it."""
    labels = {LABEL_MODEL: model.metadata.name or "", LABEL_ORIGIN: ORIGIN_FINE_TUNED}
    meta = r.ObjectMeta(
        name=f"{model.metadata.name}-ft-mine", namespace=model.metadata.namespace, labels=labels
    )
    spec = r.AIMServiceTemplateSpec(model_name=model.metadata.name or "", aim_id=model.spec.aim_id)
    if isinstance(model, r.AIMModel):
        return r.AIMServiceTemplate(
            api_version=r.V1ALPHA1, kind="AIMServiceTemplate", metadata=meta, spec=spec
        )
    return r.AIMClusterServiceTemplate(
        api_version=r.V1ALPHA1, kind="AIMClusterServiceTemplate", metadata=meta, spec=spec
    )


@heavy()
@given(catalogs(finetuned=True), st.data())
def test_the_operator_never_deletes_what_it_did_not_create(catalog: Catalog, data: st.DataObject) -> None:
    """Deletes (and applies), before and after users remove objects or change version policies,
    hit only the operator's own objects, never a user's, not even user templates labelled as copies."""
    mimics = [_mimic(model) for model in catalog.objects if isinstance(model, r.AIMModel | r.AIMClusterModel)]
    chosen = (
        data.draw(st.lists(st.sampled_from(mimics), max_size=2, unique_by=ObjectKey.of)) if mimics else []
    )
    catalog = attrs.evolve(catalog, objects=(*catalog.objects, *chosen))
    user = {ObjectKey.of(o) for o in catalog.objects if not _managed(o)}
    cluster = new_cluster(catalog)
    for snapshot, plans in rounds(cluster, catalog, CONVERGENCE_BOUND):
        _check_deletes(snapshot, plans, user)
    inputs = sorted(ObjectKey.of(o) for o in catalog.objects)
    for key in data.draw(st.lists(st.sampled_from(inputs), max_size=3, unique=True)):
        cluster.delete(key, None)
        user.discard(key)
    for key, obj in sorted(cluster.objects.items()):
        if isinstance(obj, r.AIMModel | r.AIMClusterModel) and obj.spec.aim_id and key in user:
            # A pinned fine-tuned model needs an image (validation); others may go without.
            allowed = [p for p in r.VersionPolicy if obj.spec.image or p is not r.VersionPolicy.PINNED]
            policy = data.draw(st.sampled_from(allowed))
            custom = attrs.evolve(obj.spec.custom or r.CustomModelSpec(), version_policy=policy)
            cluster.apply(attrs.evolve(obj, spec=attrs.evolve(obj.spec, custom=custom)))
    for snapshot, plans in rounds(cluster, catalog, CONVERGENCE_BOUND):
        _check_deletes(snapshot, plans, user)


@heavy()
@given(catalogs())
def test_time_passing_alone_changes_nothing(catalog: Catalog) -> None:
    """D12: timestamps move only with a condition's status, so a later clock over a converged
    world plans no action (no status churn from time alone)."""
    cluster = new_cluster(catalog)
    assert run(cluster, catalog.inspector(), max_rounds=CONVERGENCE_BOUND).converged
    cluster.now = "2031-01-01T00:00:00Z"
    assert [(str(p.key), p.actions) for p in reconcile_all(cluster.snapshot()) if p.actions] == []


@heavy()
@given(catalogs())
def test_reconciling_only_what_changed_plans_what_reconciling_everything_plans(catalog: Catalog) -> None:
    """`simulate.run` reconciles only the objects whose inputs changed after its first round;
    a dependency it missed would show here as an action that a full pass plans and it does not."""
    incremental = new_cluster(catalog)
    outcome = run(incremental, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    full = new_cluster(catalog)
    everything = [
        (round_, verb(action))
        for round_, (_, plans) in enumerate(rounds(full, catalog, CONVERGENCE_BOUND), start=1)
        for plan in plans
        for action in plan.actions
    ]
    assert [(a.round, a.verb) for a in outcome.actions] == everything
    assert state_text(incremental) == state_text(full)
