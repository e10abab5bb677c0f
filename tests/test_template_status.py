"""The template reconciler (D25-D27): availability, inline sources, and the discovery Job's life.

Vectors from reference-template-controller.md: the §2.2 Job name, the §6 e2e cases (inline
sources, minVram 64Gi / 1Ti, a GPU no node has, aim-dummy's dry-run output), §2.4 retries.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aimcore import codec, discoveryjob, gpus
from aimcore import resources as r
from aimcore.plan import Plan
from aimcore.runtimeconfig import resolve
from aimcore.snapshot import Snapshot
from aimcore.template_status import DiscoveryObservation, TemplateOutcome, reconcile_template

NOW = "2026-03-01T10:00:00Z"
KIND_NODES = [
    ("worker-1", {"amd.com/gpu.device-id": "74a1", "amd.com/gpu.vram": "192G"}),
    ("worker-2", {"amd.com/gpu.device-id": "75a0", "amd.com/gpu.vram": "288G"}),
]
INVENTORY = gpus.gpu_inventory(KIND_NODES)
SOURCE = {
    "modelId": "HuggingFaceTB/SmolLM2-135M",
    "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M",
    "size": "9094593249",
}
AIM_DUMMY_OUTPUT = [
    {
        "filename": "vllm-mi300x-fp8-tp1-latency.yaml",
        "profile": {
            "model": "HuggingFaceTB/SmolLM2-135M",
            "metadata": {
                "engine": "vllm",
                "gpu": "MI300X",
                "gpu_count": 1,
                "metric": "latency",
                "precision": "fp8",
                "type": "optimized",
            },
            "engine_args": {
                "distributed_executor_backend": "mp",
                "gpu-memory-utilization": 0.95,
                "tensor-parallel-size": 1,
            },
            "env_vars": {"HIP_FORCE_DEV_KERNARG": "1", "VLLM_USE_V1": "0"},
        },
        "models": [
            {
                "name": "HuggingFaceTB/SmolLM2-135M",
                "source": "hf://HuggingFaceTB/SmolLM2-135M",
                "size_gb": 0.5,
            }
        ],
    }
]


def template(name: str = "test-template-discovery-namespace", **spec: Any) -> r.AIMServiceTemplate:
    body = {
        "modelName": "test-model-discovery-namespace",
        "hardware": {"gpu": {"requests": 1, "model": "MI300X"}},
        **spec,
    }
    return codec.load(
        r.AIMServiceTemplate,
        {
            "apiVersion": "aim.eai.amd.com/v1alpha1",
            "kind": "AIMServiceTemplate",
            "metadata": {"name": name, "namespace": "team", "uid": "tpl-uid", "generation": 1},
            "spec": body,
        },
    )


def model(image: str | None = "ghcr.io/silogen/aim-dummy:0.1.8") -> r.AIMModel:
    spec = {"image": image} if image else {}
    return codec.load(
        r.AIMModel,
        {
            "apiVersion": "aim.eai.amd.com/v1alpha1",
            "kind": "AIMModel",
            "metadata": {"name": "test-model-discovery-namespace", "namespace": "team"},
            "spec": spec,
        },
    )


def run(
    tpl: r.Template,
    *,
    owner: r.Model | None = None,
    seen: DiscoveryObservation | None = None,
    inventory: gpus.GpuInventory = INVENTORY,
    now: str = NOW,
    no_model: bool = False,
) -> TemplateOutcome:
    return reconcile_template(
        tpl,
        model=None if no_model else owner or model(),
        runtime=resolve(None, "team", Snapshot(objects={})),
        inventory=inventory,
        discovery=seen or DiscoveryObservation(),
        now=now,
        operator_namespace="aim-system",
    )


def conditions(outcome: TemplateOutcome) -> dict[str, tuple[str, str, str]]:
    return {
        c.type: (c.status.value, c.reason or "", c.message or "") for c in outcome.status.conditions or ()
    }


def with_status(tpl: r.AIMServiceTemplate, outcome: TemplateOutcome) -> r.AIMServiceTemplate:
    return attrs.evolve(tpl, status=outcome.status)


def job(
    name: str, *, created: str = NOW, state: str | None = None, reason: str = "", message: str = ""
) -> discoveryjob.JobObservation:
    conds = (
        (
            discoveryjob.JobCondition(
                type=state, status=r.ConditionStatus.TRUE, reason=reason, message=message
            ),
        )
        if state
        else ()
    )
    return discoveryjob.JobObservation(
        name=name,
        namespace="team",
        uid=f"uid-{name}",
        creation_timestamp=created,
        conditions=conds,
        labels={"aim.eai.amd.com/template": "test-template-discovery-namespace", **discoveryjob.JOB_SELECTOR},
    )


JOB = "discover-test-template-discovery-namespace-ee237b0c"


def test_inline_sources_are_ready_at_once_without_a_job() -> None:
    outcome = run(template(modelSources=[SOURCE], metric="latency", precision="fp8"))
    assert outcome.job is None and outcome.requeue_after is None
    status = outcome.status
    assert status.status is r.TemplateStatus.READY
    assert conditions(outcome)["Discovered"] == (
        "True",
        "InlineModelSources",
        "Model sources provided in-line in spec",
    )
    assert conditions(outcome)["GPUReady"] == ("True", "GPUAvailable", "GPU model 'MI300X' is available")
    assert conditions(outcome)["Ready"] == ("True", "AllComponentsReady", "All components are ready")
    assert codec.dump(status.model_sources[0]) == SOURCE if status.model_sources else False
    assert codec.dump(status.profile) == {
        "metadata": {"gpu": "MI300X", "gpu_count": 1, "metric": "latency", "precision": "fp8"}
    }
    assert status.hardware_summary == "1 x MI300X"
    assert status.observed_generation == 1
    assert status.resolved_model == r.ResolvedReference(
        name="test-model-discovery-namespace", namespace="team"
    )
    assert status.discovery is None and status.discovery_job is None
    affinity = codec.dump(status.resolved_node_affinity)
    assert affinity == {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "amd.com/gpu.device-id",
                            "operator": "In",
                            "values": ["74a1", "74a9", "74b5", "74bd"],
                        }
                    ]
                }
            ]
        }
    }


def test_min_vram_within_and_beyond_the_cluster() -> None:
    fits = run(template(modelSources=[SOURCE], hardware={"gpu": {"requests": 1, "minVram": "64Gi"}}))
    assert fits.status.status is r.TemplateStatus.READY
    assert conditions(fits)["GPUReady"][:2] == ("True", "GPUAvailable")
    too_big = run(template(modelSources=[SOURCE], hardware={"gpu": {"requests": 1, "minVram": "1Ti"}}))
    assert too_big.status.status is r.TemplateStatus.NOT_AVAILABLE
    assert conditions(too_big)["GPUReady"] == (
        "False",
        "VRAMNotAvailable",
        "Required minimum VRAM (1024Gi) exceeds available GPUs. Highest available: MI350X (288Gi)",
    )
    assert conditions(too_big)["Ready"] == (
        "False",
        "VRAMNotAvailable",
        "Component GPU is not ready: Required minimum VRAM (1024Gi) exceeds available GPUs. "
        "Highest available: MI350X (288Gi)",
    )


def test_a_gpu_no_node_has_is_not_available_and_runs_no_job() -> None:
    outcome = run(template(hardware={"gpu": {"requests": 1, "model": "MI355X"}}))
    assert outcome.status.status is r.TemplateStatus.NOT_AVAILABLE
    assert outcome.job is None
    assert conditions(outcome)["GPUReady"] == (
        "False",
        "GPUNotAvailable",
        "Required GPU model 'MI355X' not available in cluster. Available: MI300X, MI350X",
    )
    labelled = gpus.gpu_inventory([*KIND_NODES, ("worker-3", {"amd.com/gpu.device-id": "75a3"})])
    assert (
        run(template(hardware={"gpu": {"requests": 1, "model": "MI355X"}}), inventory=labelled).job
        is not None
    )


def test_cpu_only_templates_have_no_gpu_condition() -> None:
    outcome = run(template(modelSources=[SOURCE], hardware={"cpu": {"requests": "4"}}))
    assert "GPUReady" not in conditions(outcome)
    assert outcome.status.status is r.TemplateStatus.READY
    assert outcome.status.hardware_summary == "CPU"


def test_a_missing_model_fails_the_template() -> None:
    outcome = run(template(), no_model=True)
    assert outcome.status.status is r.TemplateStatus.FAILED
    assert conditions(outcome)["ModelReady"] == (
        "False",
        "ReferenceNotFound",
        "Upstream dependency not found",
    )
    assert conditions(outcome)["ConfigValid"] == (
        "False",
        "ReferenceNotFound",
        "Referenced resource not found",
    )
    assert conditions(outcome)["Ready"] == ("False", "ReferenceNotFound", "Referenced resource not found")
    assert outcome.job is None


def test_a_model_without_an_image_fails_a_template_that_needs_discovery() -> None:
    outcome = run(template(), owner=model(image=None))
    assert conditions(outcome)["ModelReady"] == (
        "False",
        "ImageNotSpecified",
        "Model does not specify an image",
    )
    assert outcome.status.status is r.TemplateStatus.FAILED
    inline = run(template(modelSources=[SOURCE]), owner=model(image=None))
    assert inline.status.status is r.TemplateStatus.READY  # fine-tuned copies need no image (§8)


def test_first_pass_plans_the_discovery_job_with_the_reference_name() -> None:
    outcome = run(template())
    assert outcome.job is not None and outcome.job["metadata"]["name"] == JOB
    assert outcome.status.status is r.TemplateStatus.PENDING
    assert conditions(outcome)["DiscoveryJobReady"] == (
        "False",
        "JobNotCreated",
        "Discovery job has not been created yet",
    )
    assert conditions(outcome)["Discovered"] == (
        "False",
        "AwaitingDiscovery",
        "Waiting for discovery to complete",
    )
    assert outcome.status.discovery_job == r.ResolvedReference(name=JOB, namespace="team")


def test_a_running_job_is_waited_for_and_not_applied_again() -> None:
    outcome = run(template(), seen=DiscoveryObservation(jobs=(job(JOB),)))
    assert outcome.job is None
    assert outcome.status.status is r.TemplateStatus.PROGRESSING
    assert conditions(outcome)["DiscoveryJobReady"] == ("False", "JobRunning", "Job is in progress")


def test_a_finished_job_gives_the_discovered_profile_and_sources() -> None:
    done = job(JOB, state="Complete")
    seen = DiscoveryObservation(
        jobs=(done,), logs={("team", JOB, done.uid): "INFO starting\n" + json.dumps(AIM_DUMMY_OUTPUT)}
    )
    tpl = template()
    outcome = run(tpl, seen=seen)
    status = outcome.status
    assert status.status is r.TemplateStatus.READY
    assert conditions(outcome)["Discovered"] == (
        "True",
        "DiscoveryComplete",
        "Discovery job completed successfully",
    )
    assert codec.dump(status.profile)["metadata"] == {
        "engine": "vllm",
        "gpu": "MI300X",
        "gpu_count": 1,
        "metric": "latency",
        "precision": "fp8",
        "type": "optimized",
    }
    assert status.profile and status.profile.engine_args == {
        "distributed_executor_backend": "mp",
        "gpu-memory-utilization": 0.95,
        "tensor-parallel-size": 1,
    }
    assert [codec.dump(s) for s in status.model_sources or ()] == [
        {
            "modelId": "HuggingFaceTB/SmolLM2-135M",
            "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M",
            "size": "512Mi",
        }
    ]
    assert status.discovery == r.DiscoveryState(spec_hash="ee237b0c576eb704")
    assert status.discovery_job == r.ResolvedReference(name=JOB, namespace="team")  # where it came from

    # Ready for exactly these inputs: the Job (gone after its TTL) is not needed again.
    again = run(with_status(tpl, outcome), seen=DiscoveryObservation())
    assert again.job is None and again.status.status is r.TemplateStatus.READY
    assert again.status.profile == status.profile
    # The model's image changes: discovery runs again (D26).
    changed = run(with_status(tpl, outcome), owner=model("ghcr.io/silogen/aim-dummy:0.1.10"))
    assert changed.job is not None and changed.job["metadata"]["name"] != JOB


def test_unreadable_output_fails_the_template_instead_of_a_silent_ready() -> None:
    done = job(JOB, state="Complete")
    seen = DiscoveryObservation(jobs=(done,), logs={("team", JOB, done.uid): "Error: no profile matches"})
    outcome = run(template(), seen=seen)
    assert outcome.status.status is r.TemplateStatus.FAILED
    status, reason, message = conditions(outcome)["Discovered"]
    assert (status, reason) == ("False", "DiscoveryOutputInvalid")
    assert "no profile matches" in message
    assert conditions(outcome)["ConfigValid"] == ("False", "InvalidSpec", "Configuration validation failed")


def test_a_failed_job_is_counted_once_and_retried_after_the_backoff() -> None:
    failed = job(
        JOB,
        created="2026-03-01T09:59:00Z",
        state="Failed",
        reason="BackoffLimitExceeded",
        message="Job has reached the specified backoff limit",
    )
    tpl = template()
    outcome = run(tpl, seen=DiscoveryObservation(jobs=(failed,)))
    assert outcome.status.status is r.TemplateStatus.FAILED
    assert conditions(outcome)["DiscoveryJobReady"] == (
        "False",
        "JobBackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert outcome.status.discovery == r.DiscoveryState(
        attempts=1,
        last_attempt_time=NOW,
        last_failure_reason="Job has reached the specified backoff limit",
        spec_hash="ee237b0c576eb704",
    )
    assert outcome.requeue_after == 60
    assert conditions(outcome)["Discovered"][2] == "Waiting 1m0s before retry (attempt 1 failed)"
    # Seen again, the same Job is not a second attempt.
    assert (
        run(
            with_status(tpl, outcome), seen=DiscoveryObservation(jobs=(failed,)), now="2026-03-01T10:00:20Z"
        ).status.discovery
        == outcome.status.discovery
    )
    # Its TTL removed it: the backoff still runs, and then a new Job is applied.
    waiting = run(with_status(tpl, outcome), now="2026-03-01T10:00:30Z")
    assert waiting.job is None and waiting.requeue_after == 30
    assert waiting.status.status is r.TemplateStatus.PENDING
    assert run(with_status(tpl, outcome), now="2026-03-01T10:01:00Z").job is not None


def test_at_most_ten_discovery_jobs_run_at_once() -> None:
    others = tuple(
        attrs.evolve(job(f"discover-other-{i}"), labels=dict(discoveryjob.JOB_SELECTOR)) for i in range(10)
    )
    outcome = run(template(), seen=DiscoveryObservation(jobs=others))
    assert outcome.job is None and outcome.requeue_after == 5
    nine = run(template(), seen=DiscoveryObservation(jobs=others[:9]))
    assert nine.job is not None


def test_a_job_built_from_other_inputs_is_ignored() -> None:
    stale = job("discover-test-template-discovery-namespace-00000000", state="Complete")
    outcome = run(template(), seen=DiscoveryObservation(jobs=(stale,)))
    assert outcome.job is not None and outcome.job["metadata"]["name"] == JOB


@given(st.permutations(KIND_NODES), st.sampled_from(["MI300X", "MI350X", "MI355X", ""]))
def test_the_outcome_depends_on_the_inputs_only(nodes: list[tuple[str, dict[str, str]]], gpu: str) -> None:
    tpl = template(hardware={"gpu": {"requests": 1, **({"model": gpu} if gpu else {})}})
    first = run(tpl, inventory=gpus.gpu_inventory(nodes))
    assert first == run(tpl, inventory=INVENTORY)
    steady = run(with_status(tpl, first), inventory=INVENTORY)
    assert steady.status == first.status  # time does not move a steady status (D12)


def test_plan_template_reads_the_snapshot() -> None:
    """The snapshot supplies the model (D16), Nodes and discovery; the plan applies the Job."""
    from aimcore.plan import ApplyManifest, UpdateStatus, verb
    from aimcore.snapshot import ObjectKey
    from aimcore.template_status import plan_template

    def reconcile(key: ObjectKey, snapshot: Snapshot) -> Plan:
        obj = snapshot.objects[key]
        assert isinstance(obj, r.AIMServiceTemplate)
        return plan_template(obj, snapshot)

    tpl = template()
    snapshot = Snapshot.build([tpl, model()], now=NOW, nodes=dict(KIND_NODES))
    plan = reconcile(ObjectKey.of(tpl), snapshot)
    assert [type(a) for a in plan.actions] == [ApplyManifest, UpdateStatus]
    assert [verb(a) for a in plan.actions] == ["apply", "status"]
    job_action = plan.actions[0]
    assert isinstance(job_action, ApplyManifest) and job_action.key == ObjectKey("Job", "team", JOB)
    assert plan.status is not None and plan.status.status is r.TemplateStatus.PENDING
    # Without Nodes, simulate's GPU list decides; without either, any GPU is there.
    only_mi325x = Snapshot.build([tpl, model()], now=NOW, gpus=["MI325X"])
    unavailable = reconcile(ObjectKey.of(tpl), only_mi325x)
    assert unavailable.status is not None and unavailable.status.status is r.TemplateStatus.NOT_AVAILABLE
    anything = reconcile(ObjectKey.of(tpl), Snapshot.build([tpl, model()], now=NOW))
    assert anything.status is not None and anything.status.status is r.TemplateStatus.PENDING
