"""Reconcile one AIMModel or AIMClusterModel: discovery, generated children, status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from aimcore import celrules, custom, discovery, finetune, runtimeconfig, templates
from aimcore import resources as r
from aimcore.images import extract_tag
from aimcore.labels import cut_text
from aimcore.ownership import is_controlled_by, needs_apply
from aimcore.plan import Action, Apply, Delete, Plan, Reason, UpdateStatus
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.status import SERVICE_TEMPLATES_READY, Component, aggregate_templates, conditions

#: The longest condition message a model writes, as Kubernetes' own Condition type allows; with
#: status.imageMetadata bounded (labels.METADATA_LIMIT) this keeps the whole status bounded.
MESSAGE_LIMIT = 32 * 1024


def template_kind(model: r.Model) -> str:
    return "AIMServiceTemplate" if isinstance(model, r.AIMModel) else "AIMClusterServiceTemplate"


def is_fine_tuned(spec: r.AIMModelSpec) -> bool:
    return bool(spec.aim_id) and bool(spec.model_sources)


@attrs.frozen
class Children:
    """What the model wants to exist, what must go, and why."""

    desired: tuple[r.Resource, ...] = ()
    deletes: tuple[Delete, ...] = ()
    reasons: tuple[Reason, ...] = ()
    #: Extra components (fine-tuned copies) that vote on the model's status.
    components: tuple[Component, ...] = ()


def reconcile_model(model: r.Model, snapshot: Snapshot) -> Plan:
    key = ObjectKey.of(model)
    spec = model.spec
    namespace = model.metadata.namespace if isinstance(model, r.AIMModel) else None
    config = runtimeconfig.resolve(spec.runtime_config_name, namespace, snapshot)
    found = discovery.discover(model, config.image_pull_secrets, snapshot)
    components = [config.component, found.component]
    blocked = any(c.state is r.Status.FAILED for c in components)
    known = found.metadata is not None or found.never
    expects = templates.expects_templates(spec, found.metadata, known)

    children = Children()
    if expects and not blocked:
        children = _children(model, found.metadata, snapshot)
    actions: list[Action] = [found.inspect] if found.inspect else []
    reasons = list(children.reasons)
    deletes = list(children.deletes)
    applied: set[ObjectKey] = set()
    for child in children.desired:
        child_key = ObjectKey.of(child)
        observed = snapshot.objects.get(child_key)
        if observed is not None and not is_controlled_by(observed, model):
            reasons.append(Reason(str(child_key), "exists and is not owned by this model; left as it is"))
            continue
        applied.add(child_key)
        if not needs_apply(child, observed):
            continue
        fixed = _immutable_changes(observed, child)
        if observed is not None and fixed:
            why = f"{', '.join(fixed)} cannot change on {child_key}: delete it, to create it again"
            deletes.append(Delete(child_key, observed.metadata.uid, f"{why} for {key}"))
            reasons.append(Reason(str(child_key), why))
            continue
        verb = "create" if observed is None else "update"
        actions.append(Apply(child, f"{verb} {child_key} for {key}"))
    actions.extend(deletes)

    deleted = {d.key for d in deletes}
    statuses = _template_statuses(model, snapshot, applied, deleted)
    aggregate = aggregate_templates(expects, statuses)
    components.append(
        Component(SERVICE_TEMPLATES_READY, aggregate.state, aggregate.reason, aggregate.message)
    )
    components.extend(children.components)

    previous = model.status or r.AIMModelStatus()
    generation = model.metadata.generation
    conds, root = conditions(previous.conditions, components, now=snapshot.now, generation=generation)
    conds = tuple(_fitting(c) for c in conds)
    status = r.AIMModelStatus(
        observed_generation=generation,
        status=root,
        conditions=conds,
        source_type=r.SourceType.CUSTOM if spec.model_sources else r.SourceType.IMAGE,
        resolved_runtime_config=config.reference,
        image_metadata=found.stored,
        inspected_image=found.inspected_image,
        image_digest=found.digest,
        version=extract_tag(spec.image or "") or None,
    )
    if status != model.status:
        actions.append(UpdateStatus(key, status))
    return Plan(key, tuple(actions), status, tuple(reasons))


def _immutable_changes(observed: r.Resource | None, desired: r.Resource) -> list[str]:
    """The immutable fields (as the CRDs' transition rules say) an update of `observed` would change:
    the API server refuses such an update, so the child is deleted and created again instead."""
    before, after = getattr(observed, "spec", None), getattr(desired, "spec", None)
    if before is None or after is None:
        return []
    return [".".join(map(str, path)) for path, _ in celrules.changed(before, after, ("spec",))]


def _fitting(condition: r.Condition) -> r.Condition:
    """The condition with its message cut to MESSAGE_LIMIT (an image reference or a registry's
    answer can make one as long as anyone likes)."""
    if condition.message is None:
        return condition
    return attrs.evolve(condition, message=cut_text(condition.message, MESSAGE_LIMIT))


def _children(model: r.Model, metadata: r.ImageMetadata | None, snapshot: Snapshot) -> Children:
    if is_fine_tuned(model.spec):
        copies = finetune.plan_copies(model, snapshot)
        return Children(copies.desired, copies.deletes, copies.reasons, copies.components)
    desired: list[r.Resource] = []
    if not model.spec.model_sources:
        desired.extend(templates.discovered_templates(model, metadata))
        desired.extend(templates.discovered_profiles(model, metadata))
    desired.extend(custom.build_templates(model))
    deletes = finetune.prune_all_copies(model, snapshot)
    return Children(tuple(_unique(desired)), deletes, tuple(Reason(str(d.key), d.reason) for d in deletes))


def _unique(objects: Iterable[r.Resource]) -> list[r.Resource]:
    """Two deployments may name the same template; the first one stands."""
    seen: set[ObjectKey] = set()
    out = []
    for obj in objects:
        k = ObjectKey.of(obj)
        if k not in seen:
            seen.add(k)
            out.append(obj)
    return out


def _template_statuses(
    model: r.Model, snapshot: Snapshot, applied: set[ObjectKey], deleted: set[ObjectKey]
) -> Sequence[r.TemplateStatus | None]:
    """Observed templates of this model (user-created ones count too), plus ones being created as Pending."""
    kind = template_kind(model)
    observed = snapshot.templates_for_model(kind, model.metadata.namespace or "", model.metadata.name or "")
    statuses: list[r.TemplateStatus | None] = []
    seen: set[ObjectKey] = set()
    for template in observed:
        template_key = ObjectKey.of(template)
        if template_key in deleted:
            continue
        seen.add(template_key)
        statuses.append(template.status.status if template.status else None)
    statuses.extend(r.TemplateStatus.PENDING for k in sorted(applied - seen) if k.kind == kind)
    return statuses
