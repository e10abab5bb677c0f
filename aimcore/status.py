"""Conditions, template aggregation and the root status of models and services.

Time is an input: a condition's lastTransitionTime moves to `now` only when its
status changes (D12), so reconciling a steady object gives an identical status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from aimcore import resources as r

TRUE = r.ConditionStatus.TRUE
FALSE = r.ConditionStatus.FALSE
UNKNOWN = r.ConditionStatus.UNKNOWN

RUNTIME_CONFIG_READY = "RuntimeConfigReady"
IMAGE_METADATA_READY = "ImageMetadataReady"
SERVICE_TEMPLATES_READY = "ServiceTemplatesReady"
READY = "Ready"

#: Worst first: the root status is the worst of its components (reference-operator §5.5).
SEVERITY = (
    r.Status.FAILED,
    r.Status.DEGRADED,
    r.Status.PENDING,
    r.Status.PROGRESSING,
    r.Status.READY,
)


@attrs.frozen
class Component:
    """One part of an object's health: becomes the condition `type` and votes on the root status."""

    type: str
    state: r.Status
    reason: str
    message: str = ""
    #: Unknown rather than False while the outcome is still coming (an inspection under way).
    pending: bool = False

    @property
    def condition_status(self) -> r.ConditionStatus:
        if self.state is r.Status.READY:
            return TRUE
        return UNKNOWN if self.pending else FALSE


def worst(states: Iterable[r.Status]) -> r.Status:
    found = set(states)
    for state in SEVERITY:
        if state in found:
            return state
    return r.Status.READY


def conditions(
    previous: Sequence[r.Condition] | None,
    components: Sequence[Component],
    *,
    now: str,
    generation: int | None,
    ready_reason: str = "AllComponentsReady",
) -> tuple[tuple[r.Condition, ...], r.Status]:
    """The component conditions plus `Ready`, and the root status they add up to."""
    root = worst(c.state for c in components)
    blocking = next((c for c in components if c.state is root and root is not r.Status.READY), None)
    ready = Component(
        READY,
        root,
        blocking.reason if blocking else ready_reason,
        _ready_message(blocking),
        pending=bool(blocking and blocking.pending),
    )
    old = {c.type: c for c in previous or ()}
    result = tuple(condition(old.get(c.type), c, now, generation) for c in (*components, ready))
    return result, root


def _ready_message(blocking: Component | None) -> str:
    if blocking is None:
        return "All components are ready"
    return f"{blocking.type}: {blocking.message}" if blocking.message else blocking.type


def condition(
    old: r.Condition | None, component: Component, now: str, generation: int | None
) -> r.Condition:
    """The component's condition; its lastTransitionTime moves only when its status does (D12)."""
    status = component.condition_status
    changed = old is None or old.status is not status or old.last_transition_time is None
    return r.Condition(
        type=component.type,
        status=status,
        reason=component.reason,
        message=component.message,
        last_transition_time=now if changed else old.last_transition_time if old else now,
        observed_generation=generation,
    )


def find(conditions_: Sequence[r.Condition] | None, type_: str) -> r.Condition | None:
    return next((c for c in conditions_ or () if c.type == type_), None)


# --- templates ------------------------------------------------------------------------


@attrs.frozen
class Aggregate:
    state: r.Status
    reason: str
    message: str


def aggregate_templates(expects: bool | None, statuses: Sequence[r.TemplateStatus | None]) -> Aggregate:
    """Sum up a model's templates (reference-operator §5.3; NotAvailable maps to Degraded, D11)."""
    total = len(statuses)
    ready = sum(1 for s in statuses if s is r.TemplateStatus.READY)
    progressing = sum(1 for s in statuses if s in (r.TemplateStatus.PROGRESSING, r.TemplateStatus.PENDING))
    bad = sum(1 for s in statuses if s in (r.TemplateStatus.DEGRADED, r.TemplateStatus.FAILED))
    unavailable = sum(1 for s in statuses if s is r.TemplateStatus.NOT_AVAILABLE)
    if total == 0:
        if expects is None:
            return Aggregate(
                r.Status.PROGRESSING, "AwaitingMetadata", "Waiting for the model to fetch metadata"
            )
        if expects:
            return Aggregate(r.Status.PROGRESSING, "CreatingTemplates", "Creating templates for the model")
        return Aggregate(
            r.Status.READY, "NoTemplatesExpected", "The model does not have any recommended templates"
        )
    if ready == total:
        return Aggregate(r.Status.READY, "AllTemplatesReady", "All templates are ready")
    if bad == total:
        return Aggregate(r.Status.FAILED, "AllTemplatesFailed", "All templates are degraded or failed")
    if unavailable == total:
        return Aggregate(
            r.Status.DEGRADED,
            "NoTemplatesAvailable",
            "None of the model's templates are available (no matching GPUs in the cluster)",
        )
    if bad > 0:
        return Aggregate(r.Status.DEGRADED, "SomeTemplatesDegraded", "Some templates are degraded or failed")
    if progressing > 0:
        return Aggregate(r.Status.PROGRESSING, "TemplatesProgressing", "Templates are progressing")
    if ready > 0 and unavailable > 0:
        return Aggregate(
            r.Status.READY,
            "SomeTemplatesReady",
            "All templates have finished processing (some are not available)",
        )
    return Aggregate(r.Status.PROGRESSING, "TemplatesProgressing", "Waiting for templates to report a status")
