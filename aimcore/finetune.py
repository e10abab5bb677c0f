"""Fine-tuned models: copies of official templates with the model's own weights (issue 5).

A fine-tuned model (spec.aimId + spec.modelSources) owns one copy of every
official template that matches it (aim-models.txt "Fine-Tuned Models"). The copy
is built from the source's discovered profile (reference-finetuned §6.1, G3),
named as the reference names it (§6.3, D1) and stamped with the image it deploys
(§7). Candidates stay in the model's tenant (D20), versions follow the model's
policy (D21), and copies are reconciled, not only created (D22).

Pure: everything comes from the snapshot, through its indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs

from aimcore import naming
from aimcore import resources as r
from aimcore.images import (
    DeploymentImage,
    EffectivePolicy,
    Unresolved,
    UnresolvedReason,
    extract_tag,
    filter_versions,
    resolve_deployment_image,
    version_policy,
)
from aimcore.ownership import (
    ANNOTATION_DEPLOYMENT_IMAGE,
    LABEL_MODEL,
    LABEL_ORIGIN,
    ORIGIN_FINE_TUNED,
    child_metadata,
    is_controlled_by,
)
from aimcore.plan import Delete, Reason
from aimcore.resolution import lookup_model
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.status import Component

__all__ = [
    "FINE_TUNED_TEMPLATES_READY",
    "CopyPlan",
    "plan_copies",
    "prune_all_copies",
]

#: The condition a fine-tuned model reports about its copies, next to ServiceTemplatesReady
#: (which sums up the copies' own health): this one says whether every match has a copy.
FINE_TUNED_TEMPLATES_READY = "FineTunedTemplatesReady"

REASON_ALL_COPIES = "AllCopiesCreated"
REASON_AWAITING_IMAGE = "AwaitingSourceImage"
REASON_AWAITING_PROFILE = "AwaitingSourceProfile"
REASON_INCOMPLETE_PROFILE = "SourceProfileIncomplete"
REASON_NO_MATCH = "NoMatchingTemplates"
REASON_AWAITING_SOURCES = "AwaitingSourceTemplates"

COPY_API_VERSION = r.V1ALPHA1

#: What a user can do about each kind of unresolved image.
_IMAGE_FIX = {
    UnresolvedReason.OWNER_NOT_FOUND: "create that model or correct the source's spec.modelName",
    UnresolvedReason.NO_BASE_IMAGE: (
        "tag the owner's spec.image with a version, or clear its status.imageMetadata to inspect it again"
    ),
}

E = TypeVar("E", r.Metric, r.Precision, r.ProfileType)


@attrs.frozen
class CopyPlan:
    desired: tuple[r.Resource, ...] = ()
    deletes: tuple[Delete, ...] = ()
    reasons: tuple[Reason, ...] = ()
    components: tuple[Component, ...] = ()


@attrs.frozen
class _Match:
    """One (model source, source template) pair that passed the aimId, version and modelId filters."""

    template: r.Template
    source: r.ModelSource
    version: str
    owner: r.Model | None


@attrs.frozen
class _Deferred:
    """Why no copy spec can be built from a source; `transient` when discovery has simply not run yet."""

    why: str
    transient: bool


@attrs.frozen
class _Wait:
    """A match without a fresh copy: why, and how bad (a transient wait or a defect in the source)."""

    subject: str
    reason: str
    state: r.Status
    message: str


# ----------------------------------------------------------------------------- candidates


def _is_copy(template: r.Template) -> bool:
    return (template.metadata.labels or {}).get(LABEL_ORIGIN) == ORIGIN_FINE_TUNED


def _owned_by_model(template: r.Template, model: r.Model) -> bool:
    """A template of the fine-tuned model itself is not an official template."""
    same_scope = isinstance(template, r.AIMServiceTemplate) == isinstance(model, r.AIMModel)
    return (
        same_scope
        and template.spec.model_name == model.metadata.name
        and (template.metadata.namespace or "") == (model.metadata.namespace or "")
    )


def _candidate_lists(model: r.Model, snapshot: Snapshot) -> list[tuple[r.Template, ...]]:
    """The namespace list and the cluster list (D20): never another namespace's templates."""
    aim_id = model.spec.aim_id or ""
    lists: list[tuple[r.Template, ...]] = []
    if isinstance(model, r.AIMModel):
        lists.append(
            snapshot.templates_with_aim_id("AIMServiceTemplate", model.metadata.namespace or "", aim_id)
        )
    lists.append(snapshot.templates_with_aim_id("AIMClusterServiceTemplate", "", aim_id))
    return [
        tuple(
            t
            for t in found
            if not _is_copy(t) and not _owned_by_model(t, model) and not t.metadata.deletion_timestamp
        )
        for found in lists
    ]


def _owner(template: r.Template, snapshot: Snapshot) -> r.Model | None:
    """The source's owning model: spec.modelName, namespace model first, then cluster model (D16)."""
    namespace = template.metadata.namespace if isinstance(template, r.AIMServiceTemplate) else None
    return lookup_model(namespace, template.spec.model_name, snapshot)


def _version(template: r.Template, owner: r.Model | None) -> str:
    """The owner's image tag (reference-finetuned §4); the template's status while the owner is missing."""
    if owner is not None:
        return extract_tag(owner.spec.image or "")
    return (template.status.version if template.status else None) or ""


def _policy(model: r.Model) -> EffectivePolicy:
    custom = model.spec.custom
    chosen = custom.version_policy if custom else None
    return version_policy(chosen.value if chosen else None)


# ------------------------------------------------------------------------------- the copy


def _enum_value(cls: type[E], value: str | None) -> E | None:
    if not value:
        return None
    try:
        return cls(value.lower())
    except ValueError:
        return None


def _profile_is_empty(profile: r.TemplateProfile | None) -> bool:
    if profile is None:
        return True
    m = profile.metadata or r.ProfileMetadata()
    named = (m.aim_id, m.model_id, m.gpu, m.engine, m.metric, m.precision, m.type)
    return (
        not any(named) and not (m.gpus or 0) > 0 and profile.engine_args is None and not profile.env_vars
    )


def _merge_env(
    base: Sequence[r.EnvVar] | None, override: Sequence[r.EnvVar] | None
) -> tuple[r.EnvVar, ...] | None:
    """By name, the model wins: its endpoint or credentials beat what the template carried."""
    merged = {e.name: e for e in base or ()}
    for env in override or ():
        merged[env.name] = env
    return tuple(merged.values()) or None


def _copy_spec(model: r.Model, match: _Match) -> r.AIMServiceTemplateSpec | _Deferred:
    """The copy's spec from the source's status.profile (G3), or why it cannot be built yet."""
    source = match.template
    profile = source.status.profile if source.status else None
    if _profile_is_empty(profile):
        return _Deferred("has no discovered profile yet (status.profile is empty)", transient=True)
    assert profile is not None
    meta = profile.metadata or r.ProfileMetadata()
    hardware = None
    if meta.gpu or (meta.gpus or 0) > 0:
        count = meta.gpus if meta.gpus and meta.gpus > 0 else None
        hardware = r.Hardware(gpu=r.GpuRequirements(model=meta.gpu or None, requests=count))
    custom_profile = None
    if profile.engine_args is not None or profile.env_vars:
        custom_profile = r.CustomProfile(engine_args=profile.engine_args, env_vars=profile.env_vars or None)
    spec = r.AIMServiceTemplateSpec(
        model_name=model.metadata.name or "",
        aim_id=meta.aim_id or source.spec.aim_id,
        model_id=meta.model_id or source.spec.model_id,
        metric=_enum_value(r.Metric, meta.metric),
        precision=_enum_value(r.Precision, meta.precision),
        type=_enum_value(r.ProfileType, meta.type),
        hardware=hardware,
        resources=source.spec.resources,
        env=_merge_env(source.spec.env, model.spec.env),
        model_sources=(match.source,),
        image_pull_secrets=model.spec.image_pull_secrets or source.spec.image_pull_secrets,
        service_account_name=model.spec.service_account_name or source.spec.service_account_name,
        runtime_config_name=source.spec.runtime_config_name,
        custom_profile=custom_profile,
    )
    if custom_profile is not None:
        missing = [
            field
            for field, value in (
                ("aim_id", spec.aim_id),
                ("model_id", spec.model_id),
                ("gpu", hardware),
                ("metric", spec.metric),
                ("precision", spec.precision),
            )
            if not value
        ]
        if missing:
            return _Deferred(
                "has engine settings but its profile lacks "
                + ", ".join(missing)
                + " (a template with a custom profile needs aimId, modelId, hardware, metric and precision)",
                transient=False,
            )
    return spec


def _copy_name(model: r.Model, match: _Match, spec: r.AIMServiceTemplateSpec) -> str:
    gpu = spec.hardware.gpu if spec.hardware else None
    return naming.finetuned_copy_name(
        model.metadata.name or "",
        match.version,
        spec.precision.value if spec.precision else "",
        (gpu.model if gpu else None) or "",
        match.template.spec.aim_id or "",
        match.template.spec.model_id or "",
        match.template.spec.model_name,
        match.template.metadata.namespace or "",
        spec.metric.value if spec.metric else "",
    )


def _copy(model: r.Model, name: str, spec: r.AIMServiceTemplateSpec, image: str) -> r.Template:
    labels = {LABEL_MODEL: model.metadata.name or "", LABEL_ORIGIN: ORIGIN_FINE_TUNED}
    annotations = {ANNOTATION_DEPLOYMENT_IMAGE: image}
    if isinstance(model, r.AIMModel):
        return r.AIMServiceTemplate(
            api_version=COPY_API_VERSION,
            kind="AIMServiceTemplate",
            metadata=child_metadata(model, name, model.metadata.namespace, labels, annotations),
            spec=spec,
        )
    return r.AIMClusterServiceTemplate(
        api_version=COPY_API_VERSION,
        kind="AIMClusterServiceTemplate",
        metadata=child_metadata(model, name, None, labels, annotations),
        spec=spec,
    )


def _owner_key(template: r.Template, owner: r.Model | None) -> ObjectKey:
    """The owner as messages name it, also when it is missing."""
    if owner is not None:
        return ObjectKey.of(owner)
    if isinstance(template, r.AIMServiceTemplate):
        return ObjectKey("AIMModel", template.metadata.namespace or "", template.spec.model_name)
    return ObjectKey("AIMClusterModel", "", template.spec.model_name)


def _image(model: r.Model, policy: EffectivePolicy, match: _Match) -> DeploymentImage | Unresolved:
    """§7: spec.imageMetadata of the owner, when set, is used as is; else what inspection recorded."""
    owner = match.owner
    base_ref = None
    if owner is not None:
        metadata = owner.spec.image_metadata or (owner.status.image_metadata if owner.status else None)
        base_ref = metadata.base_image_ref if metadata else None
    return resolve_deployment_image(
        policy,
        model.spec.image or "",
        (owner.spec.image or "") if owner is not None else None,
        base_ref,
        owner=f"source owner {_owner_key(match.template, owner)}",
    )


# ------------------------------------------------------------------------------- planning


def _matches(model: r.Model, snapshot: Snapshot, policy: EffectivePolicy) -> tuple[list[_Match], str]:
    """Matches in the reference's order (sources outer, templates inner), or why there are none."""
    pinned_tag = extract_tag(model.spec.image or "")
    filtered: list[tuple[r.Template, str, r.Model | None]] = []
    seen_versions: list[str] = []
    total = 0
    for candidates in _candidate_lists(model, snapshot):
        owners = [_owner(t, snapshot) for t in candidates]
        versions = [_version(t, o) for t, o in zip(candidates, owners, strict=True)]
        total += len(candidates)
        seen_versions += versions
        if policy is EffectivePolicy.PINNED and not pinned_tag:
            continue
        for index in filter_versions(versions, policy, pinned_tag):
            filtered.append((candidates[index], versions[index], owners[index]))
    matches = [
        _Match(template, source, version, owner)
        for source in model.spec.model_sources or ()
        for template, version, owner in filtered
        if template.spec.model_id == source.model_id
    ]
    return matches, _why_none(model, policy, pinned_tag, total, seen_versions, filtered)


def _why_none(
    model: r.Model,
    policy: EffectivePolicy,
    pinned_tag: str,
    total: int,
    versions: Sequence[str],
    filtered: Sequence[tuple[r.Template, str, r.Model | None]],
) -> str:
    """Say what was looked for, what was found, and what to change."""
    aim_id = model.spec.aim_id or ""
    wanted = ", ".join(s.model_id for s in model.spec.model_sources or ())
    where = (
        f"namespace {model.metadata.namespace} or the cluster"
        if isinstance(model, r.AIMModel)
        else "cluster templates"
    )
    if total == 0:
        return (
            f"no template in {where} has spec.aimId {aim_id}: create the base model whose templates "
            f"carry that aimId, or correct spec.aimId"
        )
    found = ", ".join(sorted({v or "(none)" for v in versions}))
    if policy is EffectivePolicy.PINNED and not pinned_tag:
        return (
            f"versionPolicy pinned needs a tagged spec.image to pick a version ({total} template(s) with "
            f"aimId {aim_id} have versions {found}): set spec.image or custom.versionPolicy latest or any"
        )
    if not filtered:
        target = f"version {pinned_tag}" if policy is EffectivePolicy.PINNED else "a semver version"
        return (
            f"{total} template(s) with aimId {aim_id} in {where}, none at {target} (policy {policy.value}; "
            f"versions found: {found}): change the spec.image tag or custom.versionPolicy"
        )
    offered = ", ".join(sorted({t.spec.model_id or "(none)" for t, _, _ in filtered}))
    kept = ", ".join(sorted({v or "(none)" for _, v, _ in filtered}))
    return (
        f"templates with aimId {aim_id} at version {kept} (policy {policy.value}) have modelId {offered}, "
        f"none is {wanted}: correct spec.modelSources[].modelId"
    )


def plan_copies(model: r.Model, snapshot: Snapshot) -> CopyPlan:
    """Desired copies, stale copies to delete, and the model's FineTunedTemplatesReady component."""
    policy = _policy(model)
    matches, why_none = _matches(model, snapshot, policy)
    copy_kind = "AIMServiceTemplate" if isinstance(model, r.AIMModel) else "AIMClusterServiceTemplate"
    namespace = model.metadata.namespace or "" if isinstance(model, r.AIMModel) else ""

    desired: list[r.Resource] = []
    reasons: list[Reason] = []
    waits: list[_Wait] = []
    names: dict[str, str] = {}  # copy name -> source it was derived from
    names_known = True
    for match in matches:
        subject = str(ObjectKey.of(match.template))
        spec = _copy_spec(model, match)
        if isinstance(spec, _Deferred):
            names_known = False
            waits.append(
                _Wait(
                    subject,
                    REASON_AWAITING_PROFILE if spec.transient else REASON_INCOMPLETE_PROFILE,
                    r.Status.PROGRESSING if spec.transient else r.Status.DEGRADED,
                    f"{subject} {spec.why}",
                )
            )
            reasons.append(Reason(subject, f"no copy yet: the source {spec.why}"))
            continue
        name = _copy_name(model, match, spec)
        if name in names:
            reasons.append(
                Reason(subject, f"gives the same copy name {name} as {names[name]}; the first stands")
            )
            continue
        names[name] = subject
        image = _image(model, policy, match)
        if isinstance(image, Unresolved):
            existing = snapshot.objects.get(ObjectKey(copy_kind, namespace, name))
            kept = existing is not None and is_controlled_by(existing, model)
            action = f"copy {name} kept as it is" if kept else f"copy {name} not created"
            message = f"{action}: {image.message} ({_IMAGE_FIX[image.reason]})"
            waits.append(_Wait(subject, REASON_AWAITING_IMAGE, r.Status.PROGRESSING, f"{subject}: {message}"))
            reasons.append(Reason(subject, message))
            continue
        desired.append(_copy(model, name, spec, image.image))

    deletes = _stale(model, snapshot, copy_kind, set(names)) if names_known else []
    if not names_known:
        reasons.append(
            Reason(str(ObjectKey.of(model)), "stale copies are not pruned while a source has no profile")
        )
    reasons += [Reason(str(d.key), d.reason) for d in deletes]
    made = [f"{o.metadata.name} from {names[o.metadata.name or '']}" for o in desired]
    # Only a model without a match waits on unsettled sources: look them up only then.
    unsettled = () if matches else _unsettled_sources(model, snapshot)
    component = _component(policy, made, waits, matches, why_none, unsettled)
    return CopyPlan(tuple(desired), tuple(deletes), tuple(reasons), (component,))


def prune_all_copies(model: r.Model, snapshot: Snapshot) -> tuple[Delete, ...]:
    """A model that is no longer fine-tuned keeps none of its copies (D22): they deploy weights it dropped."""
    copy_kind = "AIMServiceTemplate" if isinstance(model, r.AIMModel) else "AIMClusterServiceTemplate"
    why = "the model is no longer fine-tuned (spec.aimId or spec.modelSources removed)"
    return tuple(_stale(model, snapshot, copy_kind, set(), why))


_STALE = "its source template is gone or no longer matches the model's aimId, policy or modelId"


def _stale(
    model: r.Model, snapshot: Snapshot, copy_kind: str, wanted: set[str], why: str = _STALE
) -> list[Delete]:
    """The model's own fine-tuned copies whose source is gone or no longer matches (D22)."""
    out = []
    for child in snapshot.children(model.metadata.uid):
        if child.kind != copy_kind or (child.metadata.labels or {}).get(LABEL_ORIGIN) != ORIGIN_FINE_TUNED:
            continue
        if not is_controlled_by(child, model) or (child.metadata.name or "") in wanted:
            continue
        out.append(
            Delete(ObjectKey.of(child), child.metadata.uid, why)
        )
    return out


def _unsettled_sources(model: r.Model, snapshot: Snapshot) -> tuple[r.Model, ...]:
    """Image models whose discovered templates could still become this model's sources (D20)."""
    found = snapshot.unsettled_models("AIMClusterModel", "")
    if isinstance(model, r.AIMModel):
        found = snapshot.unsettled_models("AIMModel", model.metadata.namespace or "") + found
    return found


def _component(
    policy: EffectivePolicy,
    made: Sequence[str],
    waits: Sequence[_Wait],
    matches: Sequence[_Match],
    why_none: str,
    unsettled: Sequence[r.Model] = (),
) -> Component:
    """Ready when every match has a copy; otherwise which copies wait and why, worst first."""
    if not matches and unsettled:
        # A base model still being discovered may yet bring the templates: not a fault so far.
        names = ", ".join(str(ObjectKey.of(m)) for m in unsettled[:3])
        more = f" and {len(unsettled) - 3} more" if len(unsettled) > 3 else ""
        message = f"{why_none}; waiting for models still being discovered ({names}{more})"
        return Component(FINE_TUNED_TEMPLATES_READY, r.Status.PROGRESSING, REASON_AWAITING_SOURCES, message)
    if not matches:
        # Degraded, not Progressing: every base model in scope has settled, so nothing the
        # operator does will produce a match; a user has to fix the spec or create the base
        # model. It clears by itself once a match appears.
        return Component(FINE_TUNED_TEMPLATES_READY, r.Status.DEGRADED, REASON_NO_MATCH, why_none)
    listed = "; ".join(made) or "none"
    if not waits:
        message = f"every matching template has a copy (policy {policy.value}): {listed}"
        return Component(FINE_TUNED_TEMPLATES_READY, r.Status.READY, REASON_ALL_COPIES, message)
    worst = next((w for w in waits if w.state is r.Status.DEGRADED), waits[0])
    message = "; ".join(w.message for w in waits)
    if made:
        message = f"{message}. Ready: {listed}"
    return Component(FINE_TUNED_TEMPLATES_READY, worst.state, worst.reason, message)
