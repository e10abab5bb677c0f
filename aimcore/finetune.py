"""Fine-tuned models: copies of official templates with the model's weights (issue 5, in progress)."""

from __future__ import annotations

import attrs

from aimcore import resources as r
from aimcore.plan import Delete, Reason
from aimcore.snapshot import Snapshot
from aimcore.status import Component


@attrs.frozen
class CopyPlan:
    desired: tuple[r.Resource, ...] = ()
    deletes: tuple[Delete, ...] = ()
    reasons: tuple[Reason, ...] = ()
    components: tuple[Component, ...] = ()


def plan_copies(model: r.Model, snapshot: Snapshot) -> CopyPlan:
    return CopyPlan()
