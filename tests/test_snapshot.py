"""Snapshots: an incrementally updated snapshot is the snapshot built from scratch."""

from __future__ import annotations

import attrs
from hypothesis import given, settings

from aimcore import resources as r
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.snapshot import ObjectKey, Snapshot
from property_tests.strategies import Catalog, catalogs


def _comparable(snapshot: Snapshot) -> Snapshot:
    """Everything but the memo of normalised images, which may keep entries for gone models."""
    return attrs.evolve(snapshot, _images={})


def _diff(
    before: dict[ObjectKey, r.Resource], after: dict[ObjectKey, r.Resource]
) -> dict[ObjectKey, r.Resource | None]:
    changed: dict[ObjectKey, r.Resource | None] = {k: None for k in before if k not in after}
    changed.update({k: v for k, v in after.items() if before.get(k) != v})
    return changed


@settings(max_examples=25)
@given(catalogs(finetuned=None))
def test_with_changes_equals_a_fresh_build(catalog: Catalog) -> None:
    cluster = MemoryCluster(catalog.objects, now=catalog.now, operator_namespace=catalog.operator_namespace)
    initial = dict(cluster.objects)
    assert run(cluster, catalog.inspector(), max_rounds=10).converged
    final = dict(cluster.objects)
    for start, end in ((initial, final), (final, initial), (final, {})):
        updated = Snapshot.build(start.values()).with_changes(_diff(start, end))
        assert _comparable(updated) == _comparable(Snapshot.build(end.values()))
        assert updated.objects == end


def test_with_changes_moves_a_template_between_index_entries() -> None:
    def template(model: str, aim_id: str) -> r.AIMServiceTemplate:
        return r.AIMServiceTemplate(
            api_version=r.V1ALPHA1,
            kind="AIMServiceTemplate",
            metadata=r.ObjectMeta(name="t", namespace="ns"),
            spec=r.AIMServiceTemplateSpec(model_name=model, aim_id=aim_id),
        )

    old, new = template("a", "x"), template("b", "y")
    snapshot = Snapshot.build([old]).with_changes({ObjectKey.of(old): new})
    assert snapshot.templates_for_model("AIMServiceTemplate", "ns", "a") == ()
    assert snapshot.templates_for_model("AIMServiceTemplate", "ns", "b") == (new,)
    assert snapshot.templates_with_aim_id("AIMServiceTemplate", "ns", "x") == ()
    assert snapshot.templates_with_aim_id("AIMServiceTemplate", "ns", "y") == (new,)
