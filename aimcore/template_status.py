"""A service template's status, and the discovery Job it needs (D25-D27).

The reference's template controller, as one pure function: the template, its model (found
per D16), its runtime config (D14), the GPU inventory of the cluster's Nodes and what is
observed of discovery Jobs (their Pods, and the log of a finished one) go in; the status, the
Job to apply (if any) and when to look again come out. Time is an input, so backoff waits are
computed, not slept, and the caller is told when to come back (the reference never is, D26).

Differences from the reference, each on purpose: the model is looked up per D16; output that
cannot be parsed fails the template (`DiscoveryOutputInvalid`) instead of leaving it Ready and
empty; `Discovered` stays True after a successful discovery; a change of what the Job is built
from (the template's spec, the model's image, the pull secrets, env or service account) runs
discovery again; `discoveryJob` keeps naming the Job a profile came from (so a change of its
inputs is seen); conditions carry `observedGeneration`; a finished Job's conditions stay once
discovery succeeded (as the reference keeps them), but a component that no longer applies (the
Job of other inputs) loses its condition instead of leaving it stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from aimcore import discoveryjob, dryrun, gpus, runtimeconfig
from aimcore import resources as r
from aimcore.discoveryjob import DiscoveryObservation
from aimcore.images import extract_tag
from aimcore.plan import Action, ApplyManifest, Plan, UpdateStatus
from aimcore.resolution import lookup_model
from aimcore.runtimeconfig import RuntimeConfigResolution
from aimcore.snapshot import ObjectKey, Snapshot
from aimcore.status import Component, condition

READY = "Ready"
DISCOVERED = "Discovered"
CONFIG_VALID = "ConfigValid"
AUTH_VALID = "AuthValid"
DEPENDENCIES_REACHABLE = "DependenciesReachable"
#: Back after this long when the cluster-wide limit of active discovery Jobs is reached (§2.1).
BUSY_REQUEUE_SECONDS = discoveryjob.ACTIVE_LIMIT_REQUEUE_SECONDS
#: Back after this long when a failed Job still blocks its successor (its TTL deletes it).
FAILED_JOB_REQUEUE_SECONDS = 10

T = r.TemplateStatus
#: Best first (§3.3): the root is the worst state any part is in.
_PRIORITY = (T.READY, T.PROGRESSING, T.PENDING, T.DEGRADED, T.NOT_AVAILABLE, T.FAILED)
_ERRORS_THAT_FAIL = {
    discoveryjob.Category.AUTH: ("AuthError", "Authentication or authorization failure"),
    discoveryjob.Category.INVALID_SPEC: ("InvalidSpec", "Configuration validation failed"),
    discoveryjob.Category.MISSING_UPSTREAM: ("ReferenceNotFound", "Referenced resource not found"),
}
_CATEGORY_BY_REASON: Mapping[str, discoveryjob.Category] = {
    **discoveryjob.CATEGORIES,
    "ConfigNotFound": discoveryjob.Category.MISSING_UPSTREAM,
    "ReferenceNotFound": discoveryjob.Category.MISSING_UPSTREAM,
    "ImageNotSpecified": discoveryjob.Category.INVALID_SPEC,
}


@attrs.frozen
class Part:
    """One component of the template's health: a condition `<type>`, and a vote on the root."""

    type: str
    state: r.TemplateStatus
    reason: str
    message: str = ""

    @property
    def category(self) -> discoveryjob.Category | None:
        return None if self.state is T.READY else _CATEGORY_BY_REASON.get(self.reason)


@attrs.frozen
class TemplateOutcome:
    status: r.AIMServiceTemplateStatus
    #: The discovery Job to apply (a batch/v1 manifest), when one is due.
    job: Mapping[str, Any] | None = None
    #: Reconcile again after this many seconds, when nothing observable will say so.
    requeue_after: int | None = None


def _from_status(state: r.Status) -> r.TemplateStatus:
    return r.TemplateStatus(state.value)


def _part(component: Component) -> Part:
    return Part(component.type, _from_status(component.state), component.reason, component.message)


# --- the owning model and the runtime config -------------------------------------------------------


def model_part(template: r.Template, model: r.Model | None) -> Part:
    """ModelReady / ClusterModelReady (reference §1.3, the newer generation's §8 for inline sources)."""
    cluster_template = isinstance(template, r.AIMClusterServiceTemplate)
    kind = "ClusterModel" if cluster_template or isinstance(model, r.AIMClusterModel) else "Model"
    type_ = "ClusterModelReady" if cluster_template else "ModelReady"
    if model is None:
        return Part(type_, T.FAILED, "ReferenceNotFound", "Upstream dependency not found")
    inline = bool(template.spec.model_sources)
    if not model.spec.image and not inline:
        what = "Cluster model" if kind == "ClusterModel" else "Model"
        return Part(type_, T.FAILED, "ImageNotSpecified", f"{what} does not specify an image")
    status = model.status
    if status is not None and status.status in (r.Status.FAILED, r.Status.DEGRADED):
        ignored = {READY, "ServiceTemplatesReady", "ClusterServiceTemplatesReady"}
        own_failure = any(
            c.type.endswith("Ready") and c.type not in ignored and c.status is r.ConditionStatus.FALSE
            for c in status.conditions or ()
        )
        if own_failure:  # a model failing only because of its templates does not fail them (the cycle)
            return Part(type_, _from_status(status.status), f"{kind}Failed",
                        f"AIM{kind} is in {status.status.value} state")
    return Part(type_, T.READY, f"{kind}Found", f"AIM{kind} found with valid image")


# --- what the status shows of hardware and profile -------------------------------------------------


def hardware_summary(hardware: r.Hardware | None) -> str | None:
    """The "Hardware" column (§3.1): `<n> x <model>`, `<model>`, or `CPU`; None without hardware."""
    if hardware is None:
        return None
    gpu = hardware.gpu
    model = (gpu.model or " | ".join(gpu.models or ())) if gpu else ""
    if gpu is not None and (gpu.requests or 0) > 0:
        return f"{gpu.requests} x {model or 'GPU'}"
    if gpu is not None and model:
        return model
    return "CPU"


def spec_profile(spec: r.AIMServiceTemplateSpec) -> r.TemplateProfile:
    """The profile of a template with inline sources: what its spec says (§3.1), with its identity (A1)."""
    gpu = spec.hardware.gpu if spec.hardware else None
    custom = spec.custom_profile
    return r.TemplateProfile(
        engine_args=custom.engine_args if custom else None,
        env_vars=custom.env_vars if custom else None,
        metadata=r.ProfileMetadata(
            gpu=(gpu.model or (gpu.models[0] if gpu.models else None)) if gpu else None,
            gpu_count=gpu.requests if gpu else None,
            metric=spec.metric.value if spec.metric else None,
            precision=spec.precision.value if spec.precision else None,
            type=spec.type.value if spec.type else None,
            aim_id=spec.aim_id,
            model_id=spec.model_id,
        ),
    )


def node_affinity(ids: Sequence[str] | None) -> r.NodeAffinity | None:
    if not ids:
        return None
    requirement = r.NodeSelectorRequirement(key=gpus.DEVICE_ID_LABEL, operator="In", values=tuple(ids))
    term = r.NodeSelectorTerm(match_expressions=(requirement,))
    return r.NodeAffinity(required_during_scheduling_ignored_during_execution=r.NodeSelector(
        node_selector_terms=(term,)))


# --- discovery -----------------------------------------------------------------------------------


@attrs.frozen
class _Discovery:
    parts: tuple[Part, ...] = ()
    discovered: Part | None = None
    profile: r.TemplateProfile | None = None
    model_sources: tuple[r.ModelSource, ...] | None = None
    resolved_hardware: r.Hardware | None = None
    state: r.DiscoveryState | None = None
    job_ref: r.ResolvedReference | None = None
    job: Mapping[str, Any] | None = None
    requeue_after: int | None = None


def _found_before(previous: r.AIMServiceTemplateStatus | None, **changes: Any) -> _Discovery:
    """What an earlier discovery found, kept on the status (and the Job it came from)."""
    if previous is None:
        return _Discovery(**changes)
    kept = _Discovery(
        profile=previous.profile, model_sources=previous.model_sources,
        resolved_hardware=previous.resolved_hardware, state=previous.discovery,
        job_ref=previous.discovery_job,
    )
    return attrs.evolve(kept, **changes)


def _awaiting(message: str = "Waiting for discovery to complete") -> Part:
    return Part(DISCOVERED, T.PENDING, "AwaitingDiscovery", message)


def _discover(
    template: r.Template,
    model: r.Model,
    runtime: RuntimeConfigResolution,
    seen: DiscoveryObservation,
    now: str,
    operator_namespace: str,
) -> _Discovery:
    """Run, wait for, or read the discovery Job (§2.1-§2.4 with D26)."""
    previous = template.status
    image = model.spec.image or ""
    current_hash = discoveryjob.spec_hash(template, image)
    prior = previous.discovery if previous else None
    job_ref = discoveryjob.discovery_job_ref(template, model, operator_namespace)
    name, namespace = job_ref.name or "", job_ref.namespace or ""
    if (
        previous is not None and previous.status is T.READY and previous.profile is not None
        and prior is not None and prior.spec_hash == current_hash
        and previous.discovery_job is not None and previous.discovery_job.name == name
    ):  # discovered for exactly these inputs: nothing to run, and the same story to tell
        told = next((c for c in previous.conditions or () if c.type == DISCOVERED), None)
        # The finished Job's conditions stay as they were when it went (its TTL deletes it).
        kept = tuple(
            Part(c.type, T.READY, c.reason or "", c.message or "") for c in previous.conditions or ()
            if c.type in (discoveryjob.DISCOVERY_JOB_READY, discoveryjob.DISCOVERY_PODS_READY)
            and c.status is r.ConditionStatus.TRUE
        )
        return _found_before(previous, parts=kept, discovered=(
            Part(DISCOVERED, T.READY, told.reason or "", told.message or "")
            if told is not None and told.status is r.ConditionStatus.TRUE
            else Part(DISCOVERED, T.READY, "DiscoveryComplete", "Discovery job completed successfully")
        ))
    # The Job named for these inputs, not merely the newest of the template's (the reference's
    # choice): after a spec goes A -> B -> A, A's Job is found again, not planned again for ever.
    job = seen.job(namespace, name)
    if job is None:
        def build() -> Mapping[str, Any]:
            return discoveryjob.discovery_job(
                template, model, operator_namespace,
                label_propagation=runtime.spec.label_propagation if runtime.spec else None,
            )

        return _no_job(build, job_ref, prior, current_hash, seen, now)
    parts = [_part(discoveryjob.job_health(job))]
    pods = discoveryjob.pods_health(seen.pods.get((namespace, name), ()))
    if pods is not None:
        parts.append(_part(pods))
    if job.failed:
        state = discoveryjob.record_failure(prior, job, now, current_hash)
        wait = discoveryjob.next_discovery(state, current_hash, now)
        attempts = state.attempts or 0 if state else 0
        return _Discovery(
            tuple(parts), _awaiting(discoveryjob.retry_message(attempts, wait)), state=state,
            job_ref=job_ref, requeue_after=max(wait, FAILED_JOB_REQUEUE_SECONDS),
        )
    if not job.succeeded:
        return _Discovery(tuple(parts), _awaiting(), state=prior, job_ref=job_ref)
    log = seen.logs.get((namespace, name, job.uid))
    if log is None:  # the adapter reads it next: the Job said Complete a moment ago
        return _Discovery(tuple(parts), _awaiting("Reading the discovery output"),
                          state=prior, job_ref=job_ref)
    result = dryrun.parse_dry_run(log)
    if isinstance(result, dryrun.DryRunError):
        failed = Part(DISCOVERED, T.FAILED, result.reason, result.message)
        return _Discovery(tuple(parts), failed, state=prior, job_ref=job_ref)
    hardware = dryrun.resolved_hardware_after_discovery(template.spec.hardware, result)
    discovered = (
        Part(DISCOVERED, T.READY, "DiscoverySimulated",
             "No image ran: the profile is made up from the template's own spec, not a dry run (D28)")
        if job.labels.get(discoveryjob.SIMULATED_LABEL) == "true"
        else Part(DISCOVERED, T.READY, "DiscoveryComplete", "Discovery job completed successfully")
    )
    return _Discovery(
        tuple(parts), discovered,
        profile=dryrun.profile_from_result(result), model_sources=dryrun.model_sources_from_result(result),
        resolved_hardware=hardware, state=discoveryjob.record_success(prior, current_hash), job_ref=job_ref,
    )


def _no_job(
    build: Callable[[], Mapping[str, Any]],
    job_ref: r.ResolvedReference,
    prior: r.DiscoveryState | None,
    current_hash: str,
    seen: DiscoveryObservation,
    now: str,
) -> _Discovery:
    """No Job for these inputs yet: start one unless a backoff or the cluster-wide limit says wait."""
    not_created = _part(discoveryjob.job_health(None))
    wait = discoveryjob.next_discovery(prior, current_hash, now)
    if wait > 0:
        attempts = prior.attempts or 0 if prior else 0
        return _Discovery((not_created,),
                          _awaiting(discoveryjob.retry_message(attempts, wait)),
                          state=prior, job_ref=job_ref, requeue_after=wait)
    if seen.active >= discoveryjob.ACTIVE_JOB_LIMIT:
        return _Discovery((not_created,), _awaiting(), state=prior, job_ref=job_ref,
                          requeue_after=BUSY_REQUEUE_SECONDS)
    return _Discovery((not_created,), _awaiting(), state=prior, job_ref=job_ref, job=build())


# --- the whole status ------------------------------------------------------------------------------


def _root(parts: Iterable[Part]) -> tuple[r.TemplateStatus, str, str]:
    """The root status (§3.3) and the Ready condition's reason and message."""
    parts = list(parts)
    for category, (reason, message) in _ERRORS_THAT_FAIL.items():
        if any(p.category is category for p in parts):
            return T.FAILED, reason, message
    root = max((p.state for p in parts), key=_PRIORITY.index, default=T.READY)
    infrastructure = any(p.category is discoveryjob.Category.INFRASTRUCTURE for p in parts)
    if infrastructure and root is not T.READY:
        return T.DEGRADED, "InfrastructureError", "Infrastructure error - waiting for retry"
    if root is T.READY:
        return T.READY, "AllComponentsReady", "All components are ready"
    blocking = next(p for p in parts if p.state is root)
    if root in (T.PENDING, T.PROGRESSING):
        return root, "Progressing", "Waiting for components to become ready"
    component = blocking.type.removesuffix("Ready") or blocking.type
    return root, blocking.reason, f"Component {component} is not ready: {blocking.message}"


def _condition(
    old: Sequence[r.Condition] | None, part: Part, now: str, generation: int | None
) -> r.Condition:
    state = r.Status.READY if part.state is T.READY else r.Status.DEGRADED
    previous = next((c for c in old or () if c.type == part.type), None)
    return condition(previous, Component(part.type, state, part.reason, part.message), now, generation)


def _validity(parts: Sequence[Part]) -> list[Part]:
    """ConfigValid and AuthValid, False while an error of their kind stands (§3.2)."""
    categories = {p.category for p in parts}
    config = (
        Part(CONFIG_VALID, T.FAILED, "InvalidSpec", "Configuration validation failed")
        if discoveryjob.Category.INVALID_SPEC in categories
        else Part(CONFIG_VALID, T.FAILED, "ReferenceNotFound", "Referenced resource not found")
        if discoveryjob.Category.MISSING_UPSTREAM in categories
        else Part(CONFIG_VALID, T.READY, "ConfigurationValid", "")
    )
    auth = (
        Part(AUTH_VALID, T.FAILED, "AuthError", "Authentication or authorization failure")
        if discoveryjob.Category.AUTH in categories
        else Part(AUTH_VALID, T.READY, "AuthenticationValid", "")
    )
    return [config, auth]


def reconcile_template(
    template: r.Template,
    *,
    model: r.Model | None,
    runtime: RuntimeConfigResolution,
    inventory: gpus.GpuInventory,
    discovery: DiscoveryObservation,
    now: str,
    operator_namespace: str,
) -> TemplateOutcome:
    """The template's status, the discovery Job to apply (if any), and when to look again."""
    spec = template.spec
    previous = template.status
    generation = template.metadata.generation
    gpu = spec.hardware.gpu if spec.hardware else None
    parts = [_part(runtime.component), model_part(template, model)]
    verdict = gpus.gpu_availability(gpu, inventory)
    if verdict is not None:
        parts.append(Part(gpus.GPU_READY, verdict.state, verdict.reason, verdict.message))
    usable = model is not None and all(p.state is T.READY for p in parts[1:])
    found = _discovery_for(template, model, runtime, discovery, now, operator_namespace, usable)
    parts.extend(found.parts)
    # Discovered votes once it is settled; while it waits, the Job's own condition says how far it is.
    settled = found.discovered is not None and found.discovered.state in (T.READY, T.FAILED)
    voting = [*parts, *((found.discovered,) if found.discovered and settled else ())]
    shown = [*voting, *((found.discovered,) if found.discovered and not settled else ())]
    root, ready_reason, ready_message = _root(voting)
    ready = Part(READY, T.READY if root is T.READY else T.FAILED, ready_reason, ready_message)
    old = previous.conditions if previous else None
    conditions = [_condition(old, p, now, generation) for p in (*shown, *_validity(voting), ready)]
    hardware = found.resolved_hardware if found.resolved_hardware is not None else spec.hardware
    image = model.spec.image if model is not None else None
    status = r.AIMServiceTemplateStatus(
        observed_generation=generation,
        status=root,
        conditions=tuple(conditions),
        resolved_model=_resolved_model(model),
        resolved_hardware=hardware,
        hardware_summary=hardware_summary(hardware),
        model_sources=found.model_sources,
        profile=found.profile,
        version=(extract_tag(image) or None) if image else None,
        resolved_node_affinity=node_affinity(gpus.node_affinity(gpu, inventory)),
        discovery_job=found.job_ref,
        discovery=found.state,
        resolved_cache=previous.resolved_cache if previous else None,  # the reference's cache, kept (D30)
    )
    return TemplateOutcome(status, found.job if root is not T.FAILED else None, found.requeue_after)


def _discovery_for(
    template: r.Template,
    model: r.Model | None,
    runtime: RuntimeConfigResolution,
    seen: DiscoveryObservation,
    now: str,
    operator_namespace: str,
    usable: bool,
) -> _Discovery:
    spec = template.spec
    previous = template.status
    if spec.model_sources:
        return _Discovery(

            discovered=Part(
                DISCOVERED, T.READY, "InlineModelSources", "Model sources provided in-line in spec"
            ),
            profile=spec_profile(spec), model_sources=spec.model_sources, resolved_hardware=spec.hardware,
        )
    if model is None or not usable:
        return _found_before(previous)  # nothing can run: what was found stays
    return _discover(template, model, runtime, seen, now, operator_namespace)


def _resolved_model(model: r.Model | None) -> r.ResolvedReference | None:
    if model is None:
        return None
    return r.ResolvedReference(name=model.metadata.name or "", namespace=model.metadata.namespace or None)


def plan_template(template: r.Template, snapshot: Snapshot) -> Plan:
    """`reconcile_template` on what a snapshot holds: the model per D16, the runtime config per
    D14, the inventory of its Nodes (or of its GPU list), and its discovery observations."""
    namespace = template.metadata.namespace if isinstance(template, r.AIMServiceTemplate) else None
    outcome = reconcile_template(
        template,
        model=lookup_model(namespace, template.spec.model_name, snapshot),
        runtime=runtimeconfig.resolve(template.spec.runtime_config_name, namespace, snapshot),
        inventory=snapshot.gpu_inventory(),
        discovery=snapshot.discovery,
        now=snapshot.now,
        operator_namespace=snapshot.operator_namespace,
    )
    key = ObjectKey.of(template)
    actions: list[Action] = []
    if outcome.job is not None:
        actions.append(ApplyManifest(outcome.job, "discover the template's profile: a dry run of the image"))
    if outcome.status != template.status:
        actions.append(UpdateStatus(key, outcome.status))
    return Plan(key, tuple(actions), outcome.status, requeue_after=outcome.requeue_after)
