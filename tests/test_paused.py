"""D33: an AIM object annotated `aim.eai.amd.com/reconciliation-paused: "true"` is not reconciled."""

from __future__ import annotations

from typing import Any

import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.memory.cluster import MemoryCluster
from aimcore.adapters.memory.simulate import run
from aimcore.facts import ImageFacts
from aimcore.reconcile import PAUSED_ANNOTATION, reconcile
from aimcore.snapshot import ObjectKey, Snapshot

QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
NOW = "2026-11-29T00:00:00Z"


def load(kind: str, spec: dict[str, Any], paused: str | None = "true", **meta: Any) -> r.Resource:
    metadata: dict[str, Any] = {"name": "x", "namespace": "team", **meta}
    if paused is not None:
        metadata["annotations"] = {PAUSED_ANNOTATION: paused}
    return codec.load(r.KINDS[kind], {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": kind,
                                      "metadata": metadata, "spec": spec})


@pytest.mark.parametrize("obj", [
    load("AIMModel", {"image": QWEN}),
    load("AIMServiceTemplate", {"modelName": "m", "hardware": {"gpu": {"requests": 1, "model": "MI300X"}}}),
    load("AIMService", {"model": {"image": QWEN}}),
], ids=["model", "template", "service"])
def test_a_paused_object_plans_nothing_and_says_why(obj: r.Resource) -> None:
    key = ObjectKey.of(obj)
    plan = reconcile(key, Snapshot.build([obj], now=NOW))
    assert plan.actions == ()
    assert plan.status is None  # untouched: it had none
    assert [(reason.subject, reason.message) for reason in plan.reasons] == [(
        str(key),
        'paused: the annotation aim.eai.amd.com/reconciliation-paused: "true" stops every reconcile (D33)',
    )]


def test_only_the_value_true_pauses() -> None:
    for value in ("false", "True", "yes", None):
        obj = load("AIMModel", {"image": QWEN}, paused=value)
        assert reconcile(ObjectKey.of(obj), Snapshot.build([obj], now=NOW)).actions != ()


def test_simulate_leaves_a_paused_model_as_it_is_and_reconciles_the_rest() -> None:
    paused = load("AIMModel", {"image": QWEN}, name="paused")
    running = load("AIMModel", {"image": QWEN}, paused=None, name="running")
    cluster = MemoryCluster([paused, running], now=NOW, operator_namespace="aim-system")
    facts = ImageFacts(labels={"com.amd.aim.model.canonicalName": "Qwen/Qwen3-32B"})
    outcome = run(cluster, lambda keys: {k: facts for k in keys}, max_rounds=10)
    assert outcome.converged
    assert cluster.objects[ObjectKey("AIMModel", "team", "paused")].status is None
    after = cluster.objects[ObjectKey("AIMModel", "team", "running")].status
    assert isinstance(after, r.AIMModelStatus) and after.status is r.Status.READY
    assert {a.key.name for a in outcome.actions} == {"running"}
