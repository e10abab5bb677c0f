"""The single entry point: `reconcile(key, snapshot) -> Plan`.

Pure: the same snapshot gives the same plan, byte for byte.
"""

from __future__ import annotations

from aimcore import resources as r
from aimcore.models import reconcile_model
from aimcore.plan import Plan, Reason
from aimcore.services import reconcile_service
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.template_status import plan_template

#: Kinds reconciled here; profiles are reconciled by their owners.
RECONCILED_KINDS = (
    "AIMClusterModel", "AIMModel", "AIMService", "AIMServiceTemplate", "AIMClusterServiceTemplate"
)


#: D33: an AIM object annotated so is not reconciled at all (no writes, status untouched).
PAUSED_ANNOTATION = f"{r.GROUP}/reconciliation-paused"


def reconcile(key: ObjectKey, snapshot: Snapshot) -> Plan:
    obj = snapshot.objects.get(key)
    if obj is not None and (obj.metadata.annotations or {}).get(PAUSED_ANNOTATION) == "true":
        return Plan(key, status=getattr(obj, "status", None), reasons=(Reason(
            str(key), f"paused: the annotation {PAUSED_ANNOTATION}: \"true\" stops every reconcile (D33)"
        ),))
    if isinstance(obj, r.AIMModel | r.AIMClusterModel):
        return reconcile_model(obj, snapshot)
    if isinstance(obj, r.AIMService):
        return reconcile_service(obj, snapshot)
    if isinstance(obj, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
        return plan_template(obj, snapshot)
    return Plan(key)


def reconcile_all(snapshot: Snapshot) -> list[Plan]:
    """One pass over every reconciled object, in key order."""
    keys = sorted(k for k in snapshot.objects if k.kind in RECONCILED_KINDS)
    return [reconcile(k, snapshot) for k in keys]
