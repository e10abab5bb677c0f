"""The discovery Job (reference-template-controller §2.2, §2.4; DECISIONS D25-D26): the Job,
Job and Pod health, and the retry bookkeeping."""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcore import discoveryjob, dryrun
from aimcore import resources as r
from aimcore.naming import is_valid_label
from aimcore.status import Component

TRUE, FALSE = r.ConditionStatus.TRUE, r.ConditionStatus.FALSE
IMAGE = "ghcr.io/silogen/aim-dummy:0.1.8"
VECTOR_TEMPLATE = "test-template-discovery-namespace"
VECTOR_MODEL = "test-model-discovery-namespace"
T0 = "2026-01-01T00:00:00Z"
LABEL_MANAGED = "app.kubernetes.io/managed-by"

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def _spec(**kw: Any) -> r.AIMServiceTemplateSpec:
    kw.setdefault("model_name", VECTOR_MODEL)
    kw.setdefault("hardware", r.Hardware(gpu=r.GpuRequirements(requests=1, model="MI300X")))
    return r.AIMServiceTemplateSpec(**kw)


def _template(
    name: str = VECTOR_TEMPLATE, labels: dict[str, str] | None = None, **kw: Any
) -> r.AIMServiceTemplate:
    return r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name=name, namespace="team-a", uid="uid-t", labels=labels),
        spec=_spec(**kw),
    )


def _cluster_template(name: str = VECTOR_TEMPLATE, **kw: Any) -> r.AIMClusterServiceTemplate:
    return r.AIMClusterServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMClusterServiceTemplate",
        metadata=r.ObjectMeta(name=name, uid="uid-c", labels={f"{r.GROUP}/cluster-model.name": VECTOR_MODEL}),
        spec=_spec(**kw),
    )


def _model(
    image: str | None = IMAGE, secrets: tuple[str, ...] = (), account: str | None = None
) -> r.AIMModel:
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name=VECTOR_MODEL, namespace="team-a"),
        spec=r.AIMModelSpec(
            image=image,
            image_pull_secrets=tuple(r.LocalObjectReference(name=s) for s in secrets) or None,
            service_account_name=account,
        ),
    )


def _cluster_model(secrets: tuple[str, ...] = (), account: str | None = None) -> r.AIMClusterModel:
    model = _model(secrets=secrets, account=account)
    return r.AIMClusterModel(
        api_version=r.V1ALPHA1,
        kind="AIMClusterModel",
        metadata=r.ObjectMeta(name=VECTOR_MODEL),
        spec=model.spec,
    )


# --------------------------------------------------------------------- §2.2 / §2.4 vectors


def test_job_name_vector() -> None:
    assert (
        discoveryjob.discovery_job_name(_template(), IMAGE, "", (), ())
        == "discover-test-template-discovery-namespace-ee237b0c"
    )


def test_spec_hash_vector() -> None:
    assert discoveryjob.spec_hash(_template(), IMAGE) == "ee237b0c576eb704"


def test_job_name_cuts_the_template_name_to_45_characters() -> None:
    long = "t" * 60
    name = discoveryjob.discovery_job_name(_template(long), IMAGE, "", (), ())
    assert name == f"discover-{'t' * 45}-ee237b0c"
    assert len(name) == 63


def test_spec_hash_ignores_what_only_the_job_name_hashes() -> None:
    """Env, service account and pull secrets change the Job name but not the spec hash."""
    env = (r.EnvVar(name="A", value="1"),)
    plain = _template()
    assert discoveryjob.spec_hash(_template(env=env), IMAGE) == discoveryjob.spec_hash(plain, IMAGE)
    assert discoveryjob.discovery_job_name(plain, IMAGE, "", env, ()) != discoveryjob.discovery_job_name(
        plain, IMAGE, "", (), ()
    )
    assert discoveryjob.spec_hash(plain, IMAGE + "x") != discoveryjob.spec_hash(plain, IMAGE)


# --------------------------------------------------------------------- §2.2 the Job

SELECTOR_LABELS = {
    "app.kubernetes.io/component": "discovery",
    "app.kubernetes.io/managed-by": "aim-controller",
    "app.kubernetes.io/name": "aim-discovery",
}
SECURE_CONTAINER = {
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
}
SECURE_POD = {"runAsUser": 65532, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
QUIET = [{"name": "AIM_LOG_LEVEL_ROOT", "value": "CRITICAL"}, {"name": "AIM_LOG_LEVEL", "value": "CRITICAL"}]

NAMESPACED_JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "discover-test-template-discovery-namespace-ee237b0c",
        "namespace": "team-a",
        "labels": {
            "aim.eai.amd.com/model": VECTOR_MODEL,
            "aim.eai.amd.com/model.name": VECTOR_MODEL,
            "aim.eai.amd.com/origin": "auto-generated",
            "aim.eai.amd.com/service-template.name": VECTOR_TEMPLATE,
            "aim.eai.amd.com/template": VECTOR_TEMPLATE,
            **SELECTOR_LABELS,
        },
        "ownerReferences": [
            {
                "apiVersion": "aim.eai.amd.com/v1alpha1",
                "kind": "AIMServiceTemplate",
                "name": VECTOR_TEMPLATE,
                "uid": "uid-t",
                "controller": True,
            }
        ],
    },
    "spec": {
        "backoffLimit": 0,
        "template": {
            "metadata": {
                "labels": {
                    "aim.eai.amd.com/model": VECTOR_MODEL,
                    "aim.eai.amd.com/model.name": VECTOR_MODEL,
                    "aim.eai.amd.com/origin": "auto-generated",
                    "aim.eai.amd.com/service-template.name": VECTOR_TEMPLATE,
                    "aim.eai.amd.com/template": VECTOR_TEMPLATE,
                }
            },
            "spec": {
                "containers": [
                    {
                        "name": "discovery",
                        "image": IMAGE,
                        "args": ["dry-run", "--format=json"],
                        "env": [
                            *QUIET,
                            {"name": "AIM_GPU_MODEL", "value": "MI300X"},
                            {"name": "AIM_GPU_COUNT", "value": "1"},
                        ],
                        "securityContext": SECURE_CONTAINER,
                    }
                ],
                "restartPolicy": "Never",
                "securityContext": SECURE_POD,
            },
        },
        "ttlSecondsAfterFinished": 60,
    },
}


def test_namespaced_job_manifest_is_the_references() -> None:
    """The §2.2 vector template: the whole manifest, key order included (json.dumps compares bytes)."""
    labels = {
        "aim.eai.amd.com/model": VECTOR_MODEL,
        "aim.eai.amd.com/model.name": VECTOR_MODEL,
        "aim.eai.amd.com/origin": "auto-generated",
        "app.kubernetes.io/managed-by": "aim-model-controller",  # the Job's own value wins
        "team": "blue",  # not an aim.eai.amd.com/ label, no propagation configured
    }
    job = discoveryjob.discovery_job(_template(labels=labels), _model())
    assert json.dumps(job) == json.dumps(NAMESPACED_JOB)


def test_cluster_job_runs_in_the_operator_namespace_without_spec_env() -> None:
    template = _cluster_template(env=(r.EnvVar(name="IGNORED", value="yes"),), metric=r.Metric.LATENCY)
    model = _cluster_model(secrets=("regcred",), account="puller")
    job = discoveryjob.discovery_job(template, model)
    payload = VECTOR_MODEL + IMAGE + "puller" + "regcred" + "latency" + "MI300X" + "1"
    name = f"discover-{VECTOR_TEMPLATE}-{hashlib.sha256(payload.encode()).hexdigest()[:8]}"
    assert name == "discover-test-template-discovery-namespace-e6418f9c"
    expected = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "aim-system",
            "labels": {
                "aim.eai.amd.com/cluster-model.name": VECTOR_MODEL,
                "aim.eai.amd.com/cluster-service-template.name": VECTOR_TEMPLATE,
                "aim.eai.amd.com/template": VECTOR_TEMPLATE,
                **SELECTOR_LABELS,
            },
            "ownerReferences": [
                {
                    "apiVersion": "aim.eai.amd.com/v1alpha1",
                    "kind": "AIMClusterServiceTemplate",
                    "name": VECTOR_TEMPLATE,
                    "uid": "uid-c",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {
                    "labels": {
                        "aim.eai.amd.com/cluster-model.name": VECTOR_MODEL,
                        "aim.eai.amd.com/cluster-service-template.name": VECTOR_TEMPLATE,
                        "aim.eai.amd.com/template": VECTOR_TEMPLATE,
                    }
                },
                "spec": {
                    "containers": [
                        {
                            "name": "discovery",
                            "image": IMAGE,
                            "args": ["dry-run", "--format=json"],
                            "env": [
                                *QUIET,
                                {"name": "AIM_METRIC", "value": "latency"},
                                {"name": "AIM_GPU_MODEL", "value": "MI300X"},
                                {"name": "AIM_GPU_COUNT", "value": "1"},
                            ],
                            "securityContext": SECURE_CONTAINER,
                        }
                    ],
                    "restartPolicy": "Never",
                    "serviceAccountName": "puller",
                    "securityContext": SECURE_POD,
                    "imagePullSecrets": [{"name": "regcred"}],
                },
            },
            "ttlSecondsAfterFinished": 60,
        },
    }
    assert json.dumps(job) == json.dumps(expected)
    assert (
        discoveryjob.discovery_job(template, model, "aim-operators")["metadata"]["namespace"]
        == "aim-operators"
    )
    assert discoveryjob.discovery_namespace(template, "x") == "x"
    assert discoveryjob.discovery_namespace(_template(), "x") == "team-a"


def test_env_order_with_every_optional_entry() -> None:
    secret = r.EnvVarSource(secret_key_ref=r.KeySelector(name="hf", key="token", optional=True))
    field = r.EnvVarSource(field_ref=r.FieldSelector(field_path="metadata.name"))
    template = _template(
        env=(
            r.EnvVar(name="FIRST", value="1"),
            r.EnvVar(name="HF_TOKEN", value_from=secret),
            r.EnvVar(name="EMPTY", value=""),
            r.EnvVar(name="POD", value_from=field),
        ),
        metric=r.Metric.THROUGHPUT,
        precision=r.Precision.FP8,
        hardware=r.Hardware(gpu=r.GpuRequirements(requests=2, model="MI325X")),
        profile_id="vllm-mi325x-fp8-tp2-throughput",
    )
    env = discoveryjob.discovery_job(template, _model())["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        *QUIET,
        {"name": "FIRST", "value": "1"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token", "optional": True}}},
        {"name": "EMPTY"},  # Go omits an empty value
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "AIM_METRIC", "value": "throughput"},
        {"name": "AIM_PRECISION", "value": "fp8"},
        {"name": "AIM_GPU_MODEL", "value": "MI325X"},
        {"name": "AIM_GPU_COUNT", "value": "2"},
        {"name": "AIM_PROFILE_ID", "value": "vllm-mi325x-fp8-tp2-throughput"},
    ]
    # valueFrom hashes as an empty value, in spec order
    payload = (
        VECTOR_MODEL + IMAGE + "FIRST1HF_TOKENEMPTYPOD" + "throughputfp8MI325X2vllm-mi325x-fp8-tp2-throughput"
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()[:8]
    assert discoveryjob.discovery_job(template, _model())["metadata"]["name"].endswith(digest)


def test_gpu_with_zero_requests_and_no_model_sets_no_env_but_is_hashed() -> None:
    zero = _template(hardware=r.Hardware(gpu=r.GpuRequirements(requests=0)))
    none = _template(hardware=None)
    env = discoveryjob.discovery_job(zero, _model())["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == QUIET
    assert discoveryjob.discovery_job_name(zero, IMAGE, "", (), ()) != discoveryjob.discovery_job_name(
        none, IMAGE, "", (), ()
    )


def test_the_models_pull_secrets_and_service_account_are_used_not_the_templates() -> None:
    template = _template(
        image_pull_secrets=(r.LocalObjectReference(name="template-secret"),),
        service_account_name="template-sa",
    )
    job = discoveryjob.discovery_job(template, _model(secrets=("a", "b"), account="model-sa"))
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-sa"
    assert pod["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}]
    assert job["metadata"]["name"] == discoveryjob.discovery_job_name(
        template, IMAGE, "model-sa", (), ("a", "b")
    )


@pytest.mark.parametrize(
    ("match", "propagated"),
    [
        (("team",), {"team"}),
        (("org.io/*",), {"org.io/cost"}),
        (("*",), {"team"}),  # a star never crosses the /
        (("te?m", "nothing"), {"team"}),
        (("[st]eam",), {"team"}),
        (("[^s]eam",), {"team"}),
        (("[a-",), set()),  # malformed: skipped, as the reference skips it
        (("org.io/co*", "\\team"), {"org.io/cost", "team"}),
    ],
)
def test_runtime_config_label_propagation(match: tuple[str, ...], propagated: set[str]) -> None:
    labels = {"team": "blue", "org.io/cost": "42", f"{r.GROUP}/template": "not-this"}
    template = _template(labels=labels)
    job = discoveryjob.discovery_job(
        template, _model(), label_propagation=r.LabelPropagation(enabled=True, match=match)
    )
    extra = set(job["metadata"]["labels"]) - set(NAMESPACED_JOB["metadata"]["labels"])
    assert extra == propagated
    assert (
        set(job["spec"]["template"]["metadata"]["labels"])
        - {
            f"{r.GROUP}/template",
            f"{r.GROUP}/service-template.name",
        }
        == propagated
    )
    assert job["metadata"]["labels"][f"{r.GROUP}/template"] == VECTOR_TEMPLATE  # never overwritten
    disabled = discoveryjob.discovery_job(
        template, _model(), label_propagation=r.LabelPropagation(enabled=False, match=match)
    )
    assert set(disabled["metadata"]["labels"]) - set(NAMESPACED_JOB["metadata"]["labels"]) == set()


def test_a_model_without_image_runs_no_job() -> None:
    with pytest.raises(ValueError, match="no image"):
        discoveryjob.discovery_job(_template(), _model(image=None))


# --------------------------------------------------------------------- §2.4 Job and Pod health


def _job(
    *conditions: discoveryjob.JobCondition,
    name: str = "discover-x-1",
    namespace: str = "team-a",
    created: str | None = T0,
    labels: dict[str, str] | None = None,
) -> discoveryjob.JobObservation:
    return discoveryjob.JobObservation(
        name=name,
        namespace=namespace,
        uid=f"uid-{name}",
        labels={**SELECTOR_LABELS, f"{r.GROUP}/template": "x"} if labels is None else labels,
        creation_timestamp=created,
        conditions=conditions,
    )


def _failed(
    reason: str = "BackoffLimitExceeded", message: str = "Job has reached the specified backoff limit"
) -> discoveryjob.JobCondition:
    return discoveryjob.JobCondition(type="Failed", status=TRUE, reason=reason, message=message)


COMPLETE = discoveryjob.JobCondition(type="Complete", status=TRUE)
P, G, READY, D, F = r.Status.PENDING, r.Status.PROGRESSING, r.Status.READY, r.Status.DEGRADED, r.Status.FAILED


@pytest.mark.parametrize(
    ("job", "state", "reason", "message"),
    [
        (None, P, "JobNotCreated", "Discovery job has not been created yet"),
        (_job(), G, "JobRunning", "Job is in progress"),
        (_job(discoveryjob.JobCondition(type="Failed", status=FALSE)), G, "JobRunning", "Job is in progress"),
        (_job(COMPLETE), READY, "Ready", ""),
        (_job(_failed()), F, "JobBackoffLimitExceeded", "Job has reached the specified backoff limit"),
        (_job(_failed("DeadlineExceeded", "")), F, "JobDeadlineExceeded", "Job failed"),
        (_job(_failed("Evicted", "evicted")), D, "JobEvicted", "evicted"),
        (_job(_failed("PodFailurePolicy", "rule")), F, "JobFailed", "rule"),
        (
            _job(_failed(), COMPLETE),
            F,
            "JobBackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ),
    ],
)
def test_job_health(
    job: discoveryjob.JobObservation | None, state: r.Status, reason: str, message: str
) -> None:
    assert discoveryjob.job_health(job) == Component("DiscoveryJobReady", state, reason, message)


def _pod(
    phase: str = "Pending", *containers: discoveryjob.ContainerObservation, **kw: Any
) -> discoveryjob.PodObservation:
    return discoveryjob.PodObservation(name="discover-x-1-abcde", phase=phase, containers=containers, **kw)


def _waiting(reason: str, message: str, name: str = "discovery") -> discoveryjob.ContainerObservation:
    return discoveryjob.ContainerObservation(name=name, waiting_reason=reason, waiting_message=message)


def _terminated(reason: str, exit_code: int, message: str = "") -> discoveryjob.ContainerObservation:
    return discoveryjob.ContainerObservation(
        name="discovery", terminated_reason=reason, terminated_message=message, exit_code=exit_code
    )


AUTH_PULL = 'failed to pull "x": unexpected status from HEAD request: 401 Unauthorized'
MISSING_PULL = 'failed to pull "x": manifest unknown'
SLOW_PULL = "Back-off pulling image x: context deadline exceeded"


@pytest.mark.parametrize(
    ("pods", "state", "reason", "message"),
    [
        (
            [_pod("Pending", _waiting("ErrImagePull", AUTH_PULL))],
            F,
            "ImagePullAuthFailure",
            f"Container discovery: {AUTH_PULL}",
        ),
        (
            [_pod("Pending", _waiting("ImagePullBackOff", MISSING_PULL))],
            F,
            "ImageNotFound",
            f"Container discovery: {MISSING_PULL}",
        ),
        (
            [_pod("Pending", _waiting("ImagePullBackOff", SLOW_PULL))],
            D,
            "ImagePullBackOff",
            f"Container discovery: {SLOW_PULL}",
        ),
        (
            [_pod("Pending", init_containers=(_waiting("ErrImagePull", "Forbidden", "init"),))],
            F,
            "ImagePullAuthFailure",
            "Container init: Forbidden",
        ),
        ([_pod("Pending", _waiting("ContainerCreating", ""))], P, "PodsPending", "Pods are pending"),
        (
            [_pod("Failed", _terminated("Error", 127, "exec: dry-run: not found"))],
            F,
            "PodFailed",
            "Container discovery failed with exit code 127: exec: dry-run: not found",
        ),
        (
            [_pod("Failed", _terminated("Error", 1))],
            F,
            "PodFailed",
            "Container discovery failed with exit code 1: ",
        ),
        (
            [_pod("Failed", _terminated("OOMKilled", 137))],
            F,
            "PodOOMKilled",
            "Container discovery failed with exit code 137: ",
        ),
        (
            [_pod("Failed", _terminated("Completed", 0))],
            F,
            "PodFailed",
            "Container discovery terminated with reason: Completed",
        ),
        ([_pod("Failed", reason="Evicted", message="low on memory")], D, "PodEvicted", "low on memory"),
        ([_pod("Failed", reason="DeadlineExceeded")], F, "PodDeadlineExceeded", "Pod failed"),
        (
            [
                _pod(
                    "Failed",
                    init_containers=(
                        discoveryjob.ContainerObservation(
                            name="init", terminated_reason="Error", exit_code=2
                        ),
                    ),
                )
            ],
            F,
            "PodFailed",
            "Init container init failed with exit code 2: ",
        ),
        ([_pod("Succeeded")], READY, "PodsReady", "Pods are ready"),
        ([_pod("Running", ready=True)], READY, "PodsReady", "Pods are ready"),
        ([_pod("Running")], G, "PodsStarting", "Pods are running, waiting for readiness"),
        ([_pod("Unknown")], G, "PodsProgressing", "Pods are progressing"),
        (
            [_pod("Succeeded"), _pod("Failed", _terminated("Error", 1))],
            F,
            "PodFailed",
            "Container discovery failed with exit code 1: ",
        ),
    ],
)
def test_pods_health(
    pods: list[discoveryjob.PodObservation], state: r.Status, reason: str, message: str
) -> None:
    assert discoveryjob.pods_health(pods) == Component("DiscoveryPodsReady", state, reason, message)


def test_no_pods_no_component() -> None:
    assert discoveryjob.pods_health([]) is None


def test_categories() -> None:
    assert (
        discoveryjob.category(discoveryjob.job_health(_job(_failed()))) is discoveryjob.Category.INVALID_SPEC
    )
    assert (
        discoveryjob.category(discoveryjob.job_health(_job(_failed("Evicted"))))
        is discoveryjob.Category.INFRASTRUCTURE
    )
    pull = discoveryjob.pods_health([_pod("Pending", _waiting("ErrImagePull", AUTH_PULL))])
    assert pull is not None and discoveryjob.category(pull) is discoveryjob.Category.AUTH
    assert discoveryjob.category(discoveryjob.job_health(None)) is None
    assert discoveryjob.category(discoveryjob.job_health(_job(COMPLETE))) is None
    assert discoveryjob.CATEGORIES[dryrun.OUTPUT_INVALID] is discoveryjob.Category.INVALID_SPEC


# --------------------------------------------------------------------- §2.1 Jobs in the snapshot


def test_active_discovery_jobs_count_by_the_selector_cluster_wide() -> None:
    jobs = [
        _job(name="a"),
        _job(name="b", namespace="aim-system"),
        _job(COMPLETE, name="c"),
        _job(_failed(), name="d"),
        _job(name="e", labels={**SELECTOR_LABELS, LABEL_MANAGED: "aim-service-template-controller"}),
        _job(name="f", labels={"app.kubernetes.io/name": "aim-discovery"}),
        _job(discoveryjob.JobCondition(type="Complete", status=FALSE), name="g"),
    ]
    assert discoveryjob.active_discovery_jobs(jobs) == 3
    assert discoveryjob.active_discovery_jobs(jobs[:3] * 4) < discoveryjob.ACTIVE_JOB_LIMIT
    assert (
        discoveryjob.active_discovery_jobs([_job(name=str(i)) for i in range(10)])
        == discoveryjob.ACTIVE_JOB_LIMIT
    )


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [
        (-1, 0),
        (0, 0),
        (1, 60),
        (2, 120),
        (3, 240),
        (4, 480),
        (5, 960),
        (6, 1920),
        (7, 3600),
        (8, 3600),
        (59, 3600),
        (10**6, 3600),
    ],
)
def test_backoff_seconds(attempts: int, seconds: int) -> None:
    assert discoveryjob.backoff_seconds(attempts) == seconds


HASH = "ee237b0c576eb704"


def _state(attempts: int, last: str | None = T0, spec_hash: str | None = HASH) -> discoveryjob.DiscoveryState:
    return discoveryjob.DiscoveryState(
        attempts=attempts, last_attempt_time=last, last_failure_reason="x", spec_hash=spec_hash
    )


@pytest.mark.parametrize(
    ("state", "now", "wait"),
    [
        (None, T0, 0),
        (discoveryjob.DiscoveryState(), T0, 0),
        (_state(0), T0, 0),
        (_state(1), "2026-01-01T00:00:10Z", 50),
        (_state(1), "2026-01-01T00:00:59.5Z", 1),  # rounded up: a requeue never wakes early
        (_state(1), "2026-01-01T00:01:00Z", 0),
        (_state(2), "2026-01-01T00:00:00Z", 120),
        (_state(3), "2026-01-01T01:00:00+01:00", 240),  # the same instant, another offset
        (_state(12), "2026-01-01T00:30:00Z", 1800),
        (_state(3, last=None), T0, 0),
        (_state(3, last="yesterday"), T0, 0),
        (_state(3, spec_hash="0000000000000000"), T0, 0),  # the inputs changed: run now
        (_state(3, spec_hash=None), T0, 240),
        (_state(1, last="2026-01-01T00:00:00"), "2026-01-01T00:00:30Z", 30),  # no offset: UTC
    ],
)
def test_next_discovery(state: discoveryjob.DiscoveryState | None, now: str, wait: int) -> None:
    assert discoveryjob.next_discovery(state, HASH, now) == wait


def test_next_discovery_needs_a_readable_now() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        discoveryjob.next_discovery(None, HASH, "now")


def test_backoff_doubles_over_failed_jobs_and_never_counts_one_twice() -> None:
    """Each Job fails, is TTL-deleted, and the next starts when the wait is over: 60, 120, 240 s."""
    state: discoveryjob.DiscoveryState | None = None
    now = T0
    waits = []
    for attempt in range(1, 5):
        job = _job(_failed(message=f"failure {attempt}"), name=f"j{attempt}", created=now)
        now = _plus(now, 5)  # the Job fails a few seconds after it was created
        state = discoveryjob.record_failure(state, job, now, HASH)
        for later in (1, 2):  # the failed Job is seen again on later reconciles
            assert discoveryjob.record_failure(state, job, _plus(now, later), HASH) == state
        assert state is not None
        assert (state.attempts, state.last_attempt_time, state.last_failure_reason) == (
            attempt,
            now,
            f"failure {attempt}",
        )
        wait = discoveryjob.next_discovery(state, HASH, now)
        waits.append(wait)
        assert discoveryjob.next_discovery(state, HASH, _plus(now, wait - 1)) == 1
        now = _plus(now, wait)
        assert discoveryjob.next_discovery(state, HASH, now) == 0
    assert waits == [60, 120, 240, 480]
    assert discoveryjob.retry_message(4, 480) == "Waiting 8m0s before retry (attempt 4 failed)"


def _plus(moment: str, seconds: int) -> str:
    return (datetime.fromisoformat(moment) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_record_failure_resets_on_a_spec_hash_change() -> None:
    previous = _state(3, last="2026-01-01T00:10:00Z")
    new_job = _job(_failed(), created="2026-01-01T00:20:00Z")
    state = discoveryjob.record_failure(previous, new_job, "2026-01-01T00:21:00Z", "1111111111111111")
    assert state == discoveryjob.DiscoveryState(
        attempts=1,
        last_attempt_time="2026-01-01T00:21:00Z",
        last_failure_reason="Job has reached the specified backoff limit",
        spec_hash="1111111111111111",
    )
    # The old Job, seen after the change: the count restarts, nothing else moves (as the reference)
    old_job = _job(_failed(), created="2026-01-01T00:05:00Z")
    state = discoveryjob.record_failure(previous, old_job, "2026-01-01T00:21:00Z", "1111111111111111")
    assert state == discoveryjob.DiscoveryState(
        attempts=0, last_attempt_time="2026-01-01T00:10:00Z", last_failure_reason="x", spec_hash=HASH
    )
    assert discoveryjob.next_discovery(state, "1111111111111111", "2026-01-01T00:21:00Z") == 0


def test_record_failure_reason_and_non_failed_jobs() -> None:
    assert discoveryjob.record_failure(None, _job(COMPLETE), T0, HASH) is None
    assert discoveryjob.record_failure(_state(2), _job(), T0, HASH) == _state(2)
    for condition, reason in [
        (_failed("BackoffLimitExceeded", ""), "BackoffLimitExceeded"),
        (discoveryjob.JobCondition(type="Failed", status=TRUE), "Unknown failure"),
    ]:
        state = discoveryjob.record_failure(None, _job(condition), T0, HASH)
        assert state is not None and state.last_failure_reason == reason
    undated = discoveryjob.record_failure(
        _state(1), _job(_failed(), created=None), "2026-01-01T01:00:00Z", HASH
    )
    assert undated == _state(1)  # a Job without creationTimestamp is never "after" the last attempt
    assert discoveryjob.failure_reason(_job()) == ""


def test_record_success_keeps_the_history_and_stores_the_hash() -> None:
    assert discoveryjob.record_success(None, HASH) == discoveryjob.DiscoveryState(spec_hash=HASH)
    assert discoveryjob.record_success(_state(2, spec_hash="old"), HASH) == _state(2)


@pytest.mark.parametrize(
    ("attempts", "seconds", "message"),
    [
        (1, 59, "Waiting 59s before retry (attempt 1 failed)"),
        (1, 60, "Waiting 1m0s before retry (attempt 1 failed)"),
        (3, 125, "Waiting 2m5s before retry (attempt 3 failed)"),
        (9, 3600, "Waiting 1h0m0s before retry (attempt 9 failed)"),
        (1, 0, "Waiting 0s before retry (attempt 1 failed)"),
    ],
)
def test_retry_message(attempts: int, seconds: int, message: str) -> None:
    assert discoveryjob.retry_message(attempts, seconds) == message


# --------------------------------------------------------------------- properties

LABELS = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-./:_", max_size=30)
OPTIONAL_TEXT = st.one_of(st.none(), TEXT.filter(bool))


@st.composite
def _inputs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "model_name": draw(TEXT.filter(bool)),
        "image": draw(TEXT),
        "account": draw(TEXT),
        "env": draw(st.lists(st.tuples(TEXT.filter(bool), TEXT), max_size=3)),
        "secrets": draw(st.lists(TEXT.filter(bool), max_size=3)),
        "metric": draw(st.one_of(st.none(), st.sampled_from(r.Metric))),
        "precision": draw(st.one_of(st.none(), st.sampled_from(r.Precision))),
        "gpu": draw(st.one_of(st.none(), st.tuples(OPTIONAL_TEXT, st.integers(0, 64)))),
        "profile_id": draw(OPTIONAL_TEXT),
    }


def _name(template_name: str, inputs: dict[str, Any]) -> str:
    gpu = inputs["gpu"]
    hardware = None if gpu is None else r.Hardware(gpu=r.GpuRequirements(model=gpu[0], requests=gpu[1]))
    template = _template(
        template_name,
        model_name=inputs["model_name"],
        metric=inputs["metric"],
        precision=inputs["precision"],
        hardware=hardware,
        profile_id=inputs["profile_id"],
    )
    env = tuple(r.EnvVar(name=name, value=value) for name, value in inputs["env"])
    return discoveryjob.discovery_job_name(
        template, inputs["image"], inputs["account"], env, tuple(inputs["secrets"])
    )


@SETTINGS
@given(LABELS, _inputs())
def test_job_name_is_deterministic_short_and_a_dns_label(template_name: str, inputs: dict[str, Any]) -> None:
    name = _name(template_name, inputs)
    assert name == _name(template_name, inputs)
    assert len(name) <= 63
    assert is_valid_label(name)
    assert name.startswith(f"discover-{template_name[:45]}-")


def _changed(draw: Callable[[st.SearchStrategy[Any]], Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs with exactly one hashed value changed."""
    changed = dict(inputs)
    field = draw(st.sampled_from(sorted(inputs)))
    if field in ("model_name", "image", "account"):
        changed[field] = inputs[field] + draw(TEXT.filter(bool))
    elif field == "env":
        changed["env"] = [*inputs["env"], (draw(TEXT.filter(bool)), draw(TEXT))]
    elif field == "secrets":
        changed["secrets"] = [*inputs["secrets"], draw(TEXT.filter(bool))]
    elif field in ("metric", "precision"):
        kind = r.Metric if field == "metric" else r.Precision
        changed[field] = draw(st.sampled_from([m for m in kind if m is not inputs[field]]))
    elif field == "gpu":
        model, requests = inputs["gpu"] or (None, 0)
        changed["gpu"] = (model, requests + draw(st.integers(1, 5))) if inputs["gpu"] else (None, 0)
    else:
        changed["profile_id"] = (inputs["profile_id"] or "") + draw(TEXT.filter(bool))
    return changed


@SETTINGS
@given(LABELS, _inputs(), st.data())
def test_any_change_of_one_hashed_input_changes_the_name(
    template_name: str, inputs: dict[str, Any], data: st.DataObject
) -> None:
    changed = _changed(data.draw, inputs)
    assert _name(template_name, changed) != _name(template_name, inputs)
