"""AIMService reconciliation, the model side (issue 4, in progress)."""

from __future__ import annotations

from aimcore import resources as r
from aimcore.plan import Plan
from aimcore.snapshot import ObjectKey, Snapshot


def reconcile_service(service: r.AIMService, snapshot: Snapshot) -> Plan:
    return Plan(ObjectKey.of(service))
