"""The discovery Job: the Job a template runs its model's image in, its health, and its retries.

Faithful to the reference's template controller (reference-template-controller §2.2, §2.4), so
a cluster can move between operators: the same Job name, labels, env and limits (D25), the same
health reasons, the same backoff. Where the reference has a defect this module mends it as D26
rules: the wait before a retry is returned, so the caller can requeue; the backoff never
overflows. Reading the Job's log back is aimcore.dryrun's concern.

Left out, as they need I/O the core does not do: the refinement of a Pending pod by its events
and the categorisation of a failed pod by its last log lines (§2.4). The Lease is replaced by the
operator's leader election; caching (§5) is not discovery's business.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.dryrun import OUTPUT_INVALID
from aimcore.ownership import LABEL_MANAGED_BY, owner_reference
from aimcore.status import Component

__all__ = [
    "ACTIVE_JOB_LIMIT",
    "ACTIVE_LIMIT_REQUEUE_SECONDS",
    "CATEGORIES",
    "DISCOVERY_JOB_READY",
    "DISCOVERY_PODS_READY",
    "JOB_SELECTOR",
    "LABEL_TEMPLATE",
    "SIMULATED_LABEL",
    "Category",
    "ContainerObservation",
    "DiscoveryObservation",
    "DiscoveryState",
    "JobCondition",
    "JobObservation",
    "PodObservation",
    "active_discovery_jobs",
    "backoff_seconds",
    "category",
    "discovery_job",
    "discovery_job_name",
    "discovery_job_ref",
    "discovery_namespace",
    "env_entry",
    "failure_reason",
    "job_health",
    "next_discovery",
    "pods_health",
    "propagate_labels",
    "record_failure",
    "record_success",
    "retry_message",
    "spec_hash",
    "template_of",
]

# --- constants (reference constants.go, discovery.go) ----------------------------------

LABEL_TEMPLATE = f"{r.GROUP}/template"
#: Set on a Job whose output was made up from the template's spec where no image ran (D28).
SIMULATED_LABEL = f"{r.GROUP}/discovery-simulated"
#: The label selector of every discovery Job; the active-job counter depends on it (§2.1).
JOB_SELECTOR: Mapping[str, str] = {
    "app.kubernetes.io/name": "aim-discovery",
    "app.kubernetes.io/component": "discovery",
    LABEL_MANAGED_BY: "aim-controller",
}
CONTAINER_NAME = "discovery"
JOB_PREFIX = "discover-"
#: 63 - len("discover-") - len("-") - 8 hex digits.
JOB_TEMPLATE_NAME_MAX = 45
BACKOFF_LIMIT = 0
TTL_SECONDS_AFTER_FINISHED = 60
RUN_AS_USER = 65532
ACTIVE_JOB_LIMIT = 10
ACTIVE_LIMIT_REQUEUE_SECONDS = 5
BASE_BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 3600

DISCOVERY_JOB_READY = "DiscoveryJobReady"
DISCOVERY_PODS_READY = "DiscoveryPodsReady"


# --- hashes and names (§2.2, §2.4) -----------------------------------------------------


def _selection_inputs(spec: r.AIMServiceTemplateSpec) -> str:
    """The spec fields that reach the dry run's env; gpu counts even with requests 0."""
    text = (spec.metric.value if spec.metric else "") + (spec.precision.value if spec.precision else "")
    gpu = spec.hardware.gpu if spec.hardware else None
    if gpu is not None:
        text += (gpu.model or "") + str(gpu.requests or 0)
    return text + (spec.profile_id or "")


def spec_hash(template: r.Template, model_image: str) -> str:
    """What a finished discovery depended on, kept on status.discovery.specHash (§2.4, D26).

    The reference's formula: 16 hex digits of the SHA-256 of modelName, image, metric,
    precision, gpu model and requests, profileId, concatenated without separators.
    """
    spec = template.spec
    payload = spec.model_name + model_image + _selection_inputs(spec)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def discovery_job_name(
    template: r.Template,
    model_image: str,
    service_account: str,
    env: Sequence[r.EnvVar],
    pull_secret_names: Sequence[str],
) -> str:
    """`discover-<template name cut to 45>-<8 hex>` (§2.2): any change of the Job's inputs names a new Job.

    The hash covers modelName, image, service account, each env name+value (valueFrom counts as
    an empty value), each pull-secret name, then the spec fields of `spec_hash`. `env` is the
    template's spec.env for a namespaced template and empty for a cluster template.
    """
    spec = template.spec
    payload = spec.model_name + model_image + service_account
    payload += "".join(entry.name + (entry.value or "") for entry in env)
    payload += "".join(pull_secret_names) + _selection_inputs(spec)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]
    return f"{JOB_PREFIX}{(template.metadata.name or '')[:JOB_TEMPLATE_NAME_MAX]}-{digest}"


def _job_inputs(template: r.Template, model: r.Model) -> tuple[tuple[r.EnvVar, ...], tuple[str, ...], str]:
    """What the Job carries besides the template's selection: its env (none for a cluster
    template), the model's pull-secret names and the model's service account."""
    cluster = isinstance(template, r.AIMClusterServiceTemplate)
    template_env = () if cluster else tuple(template.spec.env or ())
    secrets = tuple(ref.name for ref in model.spec.image_pull_secrets or ())
    return template_env, secrets, model.spec.service_account_name or ""


def discovery_job_ref(
    template: r.Template, model: r.Model, operator_namespace: str = r.DEFAULT_OPERATOR_NAMESPACE
) -> r.ResolvedReference:
    """The name and namespace of the Job `discovery_job` would build, without building it."""
    env, secrets, service_account = _job_inputs(template, model)
    name = discovery_job_name(template, model.spec.image or "", service_account, env, secrets)
    return r.ResolvedReference(name=name, namespace=discovery_namespace(template, operator_namespace))


def discovery_namespace(template: r.Template, operator_namespace: str = r.DEFAULT_OPERATOR_NAMESPACE) -> str:
    """Where its discovery Jobs and Pods live: its namespace, or the operator's for a cluster template."""
    if isinstance(template, r.AIMClusterServiceTemplate):
        return operator_namespace
    return template.metadata.namespace or ""


# --- the Job (§2.2) --------------------------------------------------------------------


def _controller_name(template: r.Template) -> str:
    return (
        "cluster-service-template"
        if isinstance(template, r.AIMClusterServiceTemplate)
        else "service-template"
    )


def template_of(labels: Mapping[str, str], namespace: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the template a discovery Job or Pod in `namespace` belongs to,
    from the labels `discovery_job` sets; None for anything else."""
    cluster = labels.get(f"{r.GROUP}/cluster-service-template.name")
    if cluster:
        return (r.AIMClusterServiceTemplate.KIND, "", cluster)
    namespaced = labels.get(f"{r.GROUP}/service-template.name")
    if namespaced:
        return (r.AIMServiceTemplate.KIND, namespace, namespaced)
    return None


def discovery_job(
    template: r.Template,
    model: r.Model,
    operator_namespace: str = r.DEFAULT_OPERATOR_NAMESPACE,
    *,
    label_propagation: r.LabelPropagation | None = None,
) -> dict[str, Any]:
    """The discovery Job for `template`, as the reference applies it (§2.2, D25).

    The tests pin this JSON: the manifest the reference's server-side apply stores, with keys
    in the order Go marshals them (struct field order; labels sorted like Go maps), and without
    the zero values Go's encoder adds and the API server drops (`creationTimestamp: null`,
    `resources: {}`, `status: {}`), the empty `value` of an env entry omitted as Go omits it.
    Labels are the builder's plus what the reference adds at apply time: the template's
    `aim.eai.amd.com/*` labels and those `label_propagation` (the merged runtime config's)
    matches, then `aim.eai.amd.com/[cluster-]service-template.name`; none overwrites another,
    and the pod template gets the same except managed-by. The owner reference is the apply
    helper's: controller true, no blockOwnerDeletion. Image, imagePullSecrets and
    serviceAccountName are the MODEL's (the template's own are ignored, as in the reference).
    Raises ValueError when the model has no image: the reference plans no Job then (§2.1).
    """
    image = model.spec.image
    if not image:
        raise ValueError(f"model {model.metadata.name} has no image: no discovery Job can run it")
    name = template.metadata.name or ""
    template_env, secrets, service_account = _job_inputs(template, model)

    labels = {**JOB_SELECTOR, LABEL_TEMPLATE: name}
    pod_labels = {LABEL_TEMPLATE: name}
    propagate_labels(template.metadata.labels or {}, labels, pod_labels, label_propagation)
    controller = _controller_name(template)
    controller_labels = {
        LABEL_MANAGED_BY: f"aim-{controller}-controller",
        f"{r.GROUP}/{controller}.name": name,
    }
    for key, value in controller_labels.items():
        labels.setdefault(key, value)
        if key != LABEL_MANAGED_BY:
            pod_labels.setdefault(key, value)

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "args": ["dry-run", "--format=json"],
        "env": [env_entry(entry) for entry in _job_env(template.spec, template_env)],
        "securityContext": {
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
        },
    }
    pod_spec: dict[str, Any] = {"containers": [container], "restartPolicy": "Never"}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    pod_spec["securityContext"] = {
        "runAsUser": RUN_AS_USER,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} if secret else {} for secret in secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": discovery_job_name(template, image, service_account, template_env, secrets),
            "namespace": discovery_namespace(template, operator_namespace),
            "labels": dict(sorted(labels.items())),
            "ownerReferences": [codec.dump(owner_reference(template))],
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "template": {"metadata": {"labels": dict(sorted(pod_labels.items()))}, "spec": pod_spec},
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
        },
    }


def _job_env(spec: r.AIMServiceTemplateSpec, template_env: Sequence[r.EnvVar]) -> list[r.EnvVar]:
    """Quiet logging first (clean JSON on stdout), then the template's env, then the selection."""
    env = [
        r.EnvVar(name="AIM_LOG_LEVEL_ROOT", value="CRITICAL"),
        r.EnvVar(name="AIM_LOG_LEVEL", value="CRITICAL"),
    ]
    env += template_env
    if spec.metric is not None:
        env.append(r.EnvVar(name="AIM_METRIC", value=spec.metric.value))
    if spec.precision is not None:
        env.append(r.EnvVar(name="AIM_PRECISION", value=spec.precision.value))
    gpu = spec.hardware.gpu if spec.hardware else None
    if gpu is not None and gpu.model:
        env.append(r.EnvVar(name="AIM_GPU_MODEL", value=gpu.model))
    if gpu is not None and (gpu.requests or 0) > 0:
        env.append(r.EnvVar(name="AIM_GPU_COUNT", value=str(gpu.requests)))
    if spec.profile_id:
        env.append(r.EnvVar(name="AIM_PROFILE_ID", value=spec.profile_id))
    return env


def env_entry(entry: r.EnvVar) -> dict[str, Any]:
    """A core/v1 EnvVar as Go marshals it: empty value omitted, valueFrom's fields in Go's order."""
    out: dict[str, Any] = {"name": entry.name}
    if entry.value:
        out["value"] = entry.value
    source = entry.value_from
    if source is None:
        return out
    refs: dict[str, Any] = {}
    if source.field_ref is not None:
        field_ref: dict[str, Any] = {}
        if source.field_ref.api_version:
            field_ref["apiVersion"] = source.field_ref.api_version
        field_ref["fieldPath"] = source.field_ref.field_path
        refs["fieldRef"] = field_ref
    if source.resource_field_ref is not None:
        resource_ref: dict[str, Any] = {}
        if source.resource_field_ref.container_name:
            resource_ref["containerName"] = source.resource_field_ref.container_name
        resource_ref["resource"] = source.resource_field_ref.resource
        if source.resource_field_ref.divisor is not None:
            resource_ref["divisor"] = str(source.resource_field_ref.divisor)
        refs["resourceFieldRef"] = resource_ref
    for key, selector in (
        ("configMapKeyRef", source.config_map_key_ref),
        ("secretKeyRef", source.secret_key_ref),
    ):
        if selector is not None:
            ref: dict[str, Any] = {"name": selector.name} if selector.name else {}
            ref["key"] = selector.key
            if selector.optional is not None:
                ref["optional"] = selector.optional
            refs[key] = ref
    out["valueFrom"] = refs
    return out


def propagate_labels(
    parent: Mapping[str, str],
    labels: dict[str, str],
    pod_labels: dict[str, str],
    propagation: r.LabelPropagation | None,
) -> None:
    """The reference's PropagateLabels: aim.eai.amd.com/* always, others by the runtime config's match."""
    patterns = (propagation.match or ()) if propagation is not None and propagation.enabled else ()
    for key, value in parent.items():
        if key in labels:
            continue
        if key.startswith(f"{r.GROUP}/") or any(_go_path_match(pattern, key) for pattern in patterns):
            labels[key] = value
            pod_labels.setdefault(key, value)


def _go_path_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (Unix separator); a malformed pattern matches nothing: the reference skips it."""
    try:
        return _path_match(pattern, name)
    except _MalformedPattern:
        return False


class _MalformedPattern(Exception):
    """filepath.ErrBadPattern."""


def _path_match(pattern: str, name: str) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it has a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if not star:
            return False
        for skip in range(len(name)):
            if name[skip] == "/":
                return False  # a star never skips a /
            rest = _match_chunk(chunk, name[skip + 1 :])
            if rest is not None and (rest == "" or pattern):
                name = rest
                break
        else:
            return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Leading stars, then the chunk up to the next star outside a character class."""
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, index = False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            break
        index += 1
    return star, pattern[:index], pattern[index:]


def _match_chunk(chunk: str, text: str) -> str | None:
    """What is left of `text` after `chunk`, None when it does not match; raises on a malformed chunk.

    Like Go, the whole chunk is read even after a mismatch, so a malformed one always raises.
    """
    failed = False
    while chunk:
        failed = failed or not text
        head = chunk[0]
        if head == "[":
            char = "" if failed else text[0]
            text = text if failed else text[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            chunk = chunk[1:] if negated else chunk
            matched, ranges = False, 0
            while not (chunk.startswith("]") and ranges):
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                matched = matched or (not failed and low <= char <= high)
                ranges += 1
            chunk = chunk[1:]
            failed = failed or matched == negated
            continue
        if head == "?":
            if not failed:
                failed = text[0] == "/"
                text = text[1:]
            chunk = chunk[1:]
            continue
        if head == "\\":
            chunk = chunk[1:]
            if not chunk:
                raise _MalformedPattern
        if not failed:
            failed = chunk[0] != text[0]
            text = text[1:]
        chunk = chunk[1:]
    return None if failed else text


def _class_char(chunk: str) -> tuple[str, str]:
    """One (possibly escaped) character of a class and the rest, which must not be empty."""
    if not chunk or chunk[0] in "-]":
        raise _MalformedPattern
    if chunk[0] == "\\":
        chunk = chunk[1:]
    if len(chunk) < 2:
        raise _MalformedPattern
    return chunk[0], chunk[1:]


# --- observations and health (§2.4) ----------------------------------------------------


@attrs.frozen(kw_only=True)
class JobCondition:
    """One of a Job's status.conditions; only Complete and Failed mean anything here."""

    type: str
    status: r.ConditionStatus
    reason: str = ""
    message: str = ""


@attrs.frozen(kw_only=True)
class JobObservation:
    """A discovery Job as a snapshot holds it."""

    name: str
    namespace: str
    uid: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict)
    creation_timestamp: str | None = None
    conditions: tuple[JobCondition, ...] = ()

    def condition(self, type_: str) -> JobCondition | None:
        """The first condition of this type that is True, as the reference reads them."""
        return next(
            (c for c in self.conditions if c.type == type_ and c.status is r.ConditionStatus.TRUE), None
        )

    @property
    def succeeded(self) -> bool:
        return self.condition("Complete") is not None

    @property
    def failed(self) -> bool:
        return self.condition("Failed") is not None

    @property
    def finished(self) -> bool:
        """Complete or Failed: the reference then plans no new Job until this one is gone (§2.1)."""
        return self.succeeded or self.failed


@attrs.frozen(kw_only=True)
class ContainerObservation:
    """A container status: waiting_* set while waiting, exit_code (and terminated_*) once terminated."""

    name: str
    waiting_reason: str | None = None
    waiting_message: str = ""
    terminated_reason: str = ""
    terminated_message: str = ""
    exit_code: int | None = None


@attrs.frozen(kw_only=True)
class PodObservation:
    """A discovery Pod (label job-name=<job>) as a snapshot holds it."""

    name: str
    namespace: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict)
    phase: str = "Pending"
    #: The pod's Ready condition is True.
    ready: bool = False
    #: status.reason / status.message (Evicted, DeadlineExceeded, ...).
    reason: str = ""
    message: str = ""
    containers: tuple[ContainerObservation, ...] = ()
    init_containers: tuple[ContainerObservation, ...] = ()


class Category(enum.Enum):
    """The reference's error categories: they decide the root status and ConfigValid / AuthValid."""

    AUTH = "Auth"
    INVALID_SPEC = "InvalidSpec"
    MISSING_UPSTREAM = "MissingUpstream"
    INFRASTRUCTURE = "Infrastructure"
    RESOURCE_EXHAUSTION = "ResourceExhaustion"


#: The category of each error reason discovery gives (§2.4; D26 for aimcore.dryrun's output).
CATEGORIES: Mapping[str, Category] = {
    "JobBackoffLimitExceeded": Category.INVALID_SPEC,
    "JobDeadlineExceeded": Category.INVALID_SPEC,
    "JobEvicted": Category.INFRASTRUCTURE,
    "JobFailed": Category.INVALID_SPEC,
    "ImagePullAuthFailure": Category.AUTH,
    "ImageNotFound": Category.MISSING_UPSTREAM,
    "ImagePullBackOff": Category.INFRASTRUCTURE,
    "PodOOMKilled": Category.RESOURCE_EXHAUSTION,
    "PodEvicted": Category.INFRASTRUCTURE,
    "PodDeadlineExceeded": Category.INVALID_SPEC,
    "PodFailed": Category.INVALID_SPEC,
    OUTPUT_INVALID: Category.INVALID_SPEC,
}


def category(component: Component) -> Category | None:
    """The error category of an unhealthy component; None for a healthy or merely waiting one."""
    return None if component.state is r.Status.READY else CATEGORIES.get(component.reason)


def _error_state(reason: str) -> r.Status:
    """Infrastructure errors are Degraded (retried); the others are Failed (§3.3: MissingUpstream too)."""
    return r.Status.DEGRADED if CATEGORIES[reason] is Category.INFRASTRUCTURE else r.Status.FAILED


_JOB_FAILURES = {
    "BackoffLimitExceeded": "JobBackoffLimitExceeded",
    "DeadlineExceeded": "JobDeadlineExceeded",
    "Evicted": "JobEvicted",
}


def job_health(job: JobObservation | None) -> Component:
    """The DiscoveryJobReady component (§2.4): JobNotCreated, Ready, a failure by its reason, JobRunning."""
    if job is None:
        return Component(
            DISCOVERY_JOB_READY, r.Status.PENDING, "JobNotCreated", "Discovery job has not been created yet"
        )
    for condition in job.conditions:
        if condition.status is not r.ConditionStatus.TRUE:
            continue
        if condition.type == "Complete":
            return Component(DISCOVERY_JOB_READY, r.Status.READY, "Ready", "")
        if condition.type == "Failed":
            reason = _JOB_FAILURES.get(condition.reason, "JobFailed")
            return Component(
                DISCOVERY_JOB_READY, _error_state(reason), reason, condition.message or "Job failed"
            )
    return Component(DISCOVERY_JOB_READY, r.Status.PROGRESSING, "JobRunning", "Job is in progress")


_PULL_WAITING = ("ImagePullBackOff", "ErrImagePull")
_PULL_AUTH = (
    "unauthorized",
    "authentication required",
    "authentication failed",
    "401",
    "403",
    "forbidden",
    "denied",
    "permission denied",
    "access denied",
    "credentials",
    "authentication",
)
_PULL_NOT_FOUND = ("not found", "404", "manifest unknown", "name unknown", "image not found", "no such")


def pods_health(pods: Sequence[PodObservation]) -> Component | None:
    """The DiscoveryPodsReady component (§2.4), None while the Job has no pod.

    Image pull errors first (by the kubelet's message: auth, not found, else infrastructure),
    then a failed pod (by its container's termination), then Ready / Starting / Pending. Not
    done, as they need I/O: a failed pod's last 50 log lines are not scanned for patterns, and
    a Pending pod is not refined by its events (it stays PodsPending). There is no Starting
    status here: a running pod that is not ready is Progressing, reason PodsStarting.
    """
    if not pods:
        return None
    for pod in pods:
        for container in (*pod.containers, *pod.init_containers):
            if container.waiting_reason in _PULL_WAITING:
                return _pull_failure(container)
    for pod in pods:
        if pod.phase == "Failed":
            return _failed_pod(pod)
    if any(pod.phase == "Succeeded" or (pod.phase == "Running" and pod.ready) for pod in pods):
        return Component(DISCOVERY_PODS_READY, r.Status.READY, "PodsReady", "Pods are ready")
    if any(pod.phase == "Running" for pod in pods):
        return Component(
            DISCOVERY_PODS_READY,
            r.Status.PROGRESSING,
            "PodsStarting",
            "Pods are running, waiting for readiness",
        )
    if any(pod.phase == "Pending" for pod in pods):
        return Component(DISCOVERY_PODS_READY, r.Status.PENDING, "PodsPending", "Pods are pending")
    return Component(DISCOVERY_PODS_READY, r.Status.PROGRESSING, "PodsProgressing", "Pods are progressing")


def _pull_failure(container: ContainerObservation) -> Component:
    text = container.waiting_message.lower()
    if any(marker in text for marker in _PULL_AUTH):
        reason = "ImagePullAuthFailure"
    elif any(marker in text for marker in _PULL_NOT_FOUND):
        reason = "ImageNotFound"
    else:
        reason = "ImagePullBackOff"
    message = f"Container {container.name}: {container.waiting_message}"
    return Component(DISCOVERY_PODS_READY, _error_state(reason), reason, message)


def _failed_pod(pod: PodObservation) -> Component:
    """The first terminated container explains the failure, else an init container, else the pod."""
    reason, message = "", ""
    for container in pod.containers:
        if container.exit_code is not None:
            reason, message = container.terminated_reason, container.terminated_message
            if container.exit_code != 0:
                message = f"Container {container.name} failed with exit code {container.exit_code}: {message}"
            elif not message:
                message = f"Container {container.name} terminated with reason: {reason}"
            break
    if not reason:
        for container in pod.init_containers:
            if container.exit_code is not None:
                reason = container.terminated_reason
                if container.exit_code != 0:
                    message = (
                        f"Init container {container.name} failed with exit code {container.exit_code}: "
                        f"{container.terminated_message}"
                    )
                else:
                    message = f"Init container {container.name} terminated with reason: {reason}"
                break
    if not reason:
        reason, message = pod.reason, pod.message
    message = message or "Pod failed"
    component_reason = {
        "OOMKilled": "PodOOMKilled",
        "DeadlineExceeded": "PodDeadlineExceeded",
        "Evicted": "PodEvicted",
    }.get(reason, "PodFailed")
    return Component(DISCOVERY_PODS_READY, _error_state(component_reason), component_reason, message)


def active_discovery_jobs(jobs: Iterable[JobObservation]) -> int:
    """Discovery Jobs cluster-wide (by the §2.1 selector) that are neither Complete nor Failed.

    A new Job may start while this is below ACTIVE_JOB_LIMIT; otherwise the reference waits
    ACTIVE_LIMIT_REQUEUE_SECONDS and tries again.
    """
    return sum(
        1
        for job in jobs
        if not job.finished and all(job.labels.get(key) == value for key, value in JOB_SELECTOR.items())
    )


# --- retries (§2.4, D26) ---------------------------------------------------------------


#: status.discovery (attempts, lastAttemptTime, lastFailureReason, specHash).
DiscoveryState = r.DiscoveryState


def failure_reason(job: JobObservation) -> str:
    """The Failed condition's message, else its reason, else "Unknown failure"; "" if the Job did not fail."""
    condition = job.condition("Failed")
    if condition is None:
        return ""
    return condition.message or condition.reason or "Unknown failure"


def backoff_seconds(attempts: int) -> int:
    """60 s * 2^(attempts-1), at most 3600 s; 0 before any failure.

    The reference shifts an int64 and overflows from the 59th attempt on; this stays at 3600.
    """
    if attempts <= 0:
        return 0
    if attempts > 7:
        return MAX_BACKOFF_SECONDS
    return min(BASE_BACKOFF_SECONDS << (attempts - 1), MAX_BACKOFF_SECONDS)


def _parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time; one without an offset is read as UTC; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def next_discovery(state: DiscoveryState | None, spec_hash: str, now: str) -> int:
    """Seconds to wait before the next discovery Job; 0: it may run now.

    The wait is lastAttemptTime + backoff(attempts) - now, rounded up so a requeue after it
    never wakes early (D26: the caller requeues; the reference never wakes up). A spec hash
    other than the stored one means the inputs changed: no wait. An unreadable
    lastAttemptTime counts as none; an unreadable `now` raises ValueError.
    """
    current = _parse_time(now)
    if current is None:
        raise ValueError(f"now is not an RFC 3339 time: {now!r}")
    if state is None or (state.spec_hash and state.spec_hash != spec_hash):
        return 0
    last = _parse_time(state.last_attempt_time)
    attempts = state.attempts or 0
    if last is None or attempts <= 0:
        return 0
    remaining = last + timedelta(seconds=backoff_seconds(attempts)) - current
    return max(0, math.ceil(remaining.total_seconds()))


def record_failure(
    previous: DiscoveryState | None, job: JobObservation, now: str, spec_hash: str
) -> DiscoveryState | None:
    """status.discovery once `job` is seen Failed (§2.4); `previous` unchanged for a Job that did not fail.

    A stored spec hash other than `spec_hash` restarts the count. A Job created after
    lastAttemptTime is a new attempt: attempts + 1, lastAttemptTime = now, its failure
    reason, the current hash. An older Job was counted already: it changes nothing more, so
    reconciling a failed Job again never counts twice.
    """
    if not job.failed:
        return previous
    state = previous or DiscoveryState()
    attempts = state.attempts or 0
    if state.spec_hash and state.spec_hash != spec_hash:
        attempts = 0
    last = _parse_time(state.last_attempt_time)
    created = _parse_time(job.creation_timestamp)
    if last is None or (created is not None and created > last):
        return DiscoveryState(
            attempts=attempts + 1,
            last_attempt_time=now,
            last_failure_reason=failure_reason(job),
            spec_hash=spec_hash,
        )
    return attrs.evolve(state, attempts=attempts)


def record_success(previous: DiscoveryState | None, spec_hash: str) -> DiscoveryState:
    """status.discovery after a readable result: the hash it was produced for, so a change re-runs it (D26).

    The reference stores the hash only on failure; the failure history is kept as it was.
    """
    return attrs.evolve(previous or DiscoveryState(), spec_hash=spec_hash)


def _go_duration(seconds: int) -> str:
    """Go's Duration.String for whole seconds: 59s, 1m0s, 1h0m0s."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def retry_message(attempts: int, wait_seconds: int) -> str:
    """The Discovered=False/AwaitingDiscovery message while a retry waits (§2.4)."""
    return f"Waiting {_go_duration(wait_seconds)} before retry (attempt {attempts} failed)"


@attrs.frozen
class DiscoveryObservation:
    """What the adapters saw of discovery: every discovery Job, the Pods of each (by namespace
    and Job name), and the log of each finished Job's succeeded Pod (by namespace, Job name, uid)."""

    jobs: tuple[JobObservation, ...] = ()
    pods: Mapping[tuple[str, str], tuple[PodObservation, ...]] = attrs.field(factory=dict)
    logs: Mapping[tuple[str, str, str], str] = attrs.field(factory=dict)
    #: Jobs by (namespace, name) and how many are active, computed once: every template of a
    #: snapshot asks, and a scan per template would make a round quadratic in the catalog.
    _by_name: Mapping[tuple[str, str], JobObservation] = attrs.field(init=False, eq=False, repr=False)
    _active: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {(job.namespace, job.name): job for job in self.jobs})
        object.__setattr__(self, "_active", active_discovery_jobs(self.jobs))

    def job(self, namespace: str, name: str) -> JobObservation | None:
        return self._by_name.get((namespace, name))

    @property
    def active(self) -> int:
        """Discovery Jobs cluster-wide that are neither Complete nor Failed (§2.1)."""
        return self._active
