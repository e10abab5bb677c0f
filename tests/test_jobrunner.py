"""The simulated discovery Job runner (D28): the log a template's discovery Pod would print."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from aimcore import codec, discoveryjob, dryrun, gpus
from aimcore import resources as r
from aimcore.adapters.common.jobrunner import FROM_SPEC, discovery_log
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.discoveryjob import DiscoveryObservation, JobCondition, JobObservation
from aimcore.runtimeconfig import resolve
from aimcore.snapshot import Snapshot
from aimcore.template_status import reconcile_template

RESULTS = [
    {
        "filename": "fp8-latency.yaml",
        "profile": {"metadata": {"gpu": "MI300X", "gpu_count": 1, "metric": "latency", "precision": "fp8"}},
        "models": [],
    },
    {
        "filename": "fp16-throughput.yaml",
        "profile": {
            "metadata": {"gpu": "MI300X", "gpu_count": 2, "metric": "throughput", "precision": "fp16"}
        },
        "models": [],
    },
]


def template(**spec: object) -> r.AIMServiceTemplate:
    return codec.load(
        r.AIMServiceTemplate,
        {
            "apiVersion": "aim.eai.amd.com/v1alpha1",
            "kind": "AIMServiceTemplate",
            "metadata": {"name": "t", "namespace": "team", "uid": "u", "generation": 1},
            "spec": {"modelName": "m", **spec},
        },
    )


def filenames(text: str) -> list[str]:
    return [item["filename"] for item in json.loads(text)]


def test_results_are_those_the_image_would_select_for_the_template() -> None:
    latency = template(metric="latency", hardware={"gpu": {"requests": 1, "model": "MI300X"}})
    assert filenames(discovery_log(latency, RESULTS).text) == ["fp8-latency.yaml"]
    anything = template()  # what the template leaves unset agrees with anything
    assert filenames(discovery_log(anything, RESULTS).text) == ["fp8-latency.yaml", "fp16-throughput.yaml"]
    none = template(precision="bf16")
    assert discovery_log(none, RESULTS).text == "[]"  # the core then reports DiscoveryOutputInvalid
    assert discovery_log(none, "raw text\n[]").text == "raw text\n[]"  # a string is the log itself
    assert not discovery_log(latency, RESULTS).from_spec


def test_without_a_dry_run_entry_the_result_comes_from_the_spec_and_says_so() -> None:
    tpl = template(
        metric="throughput",
        precision="fp16",
        hardware={"gpu": {"requests": 2, "model": "MI325X"}},
        customProfile={"engineArgs": {"max-model-len": 8192}, "envVars": {"A": "1"}},
    )
    log = discovery_log(tpl, None)
    assert log.from_spec and log.labels() == {discoveryjob.SIMULATED_LABEL: "true"}
    parsed = dryrun.parse_dry_run(log.text)
    assert isinstance(parsed, dryrun.DryRunResult)
    assert parsed.filename == FROM_SPEC
    profile = codec.dump(dryrun.profile_from_result(parsed))
    assert profile == {
        "engine_args": {"max-model-len": 8192},
        "env_vars": {"A": "1"},
        "metadata": {"gpu": "MI325X", "gpu_count": 2, "metric": "throughput", "precision": "fp16",
                     "type": "optimized"},
    }


def test_a_template_answered_from_its_spec_says_discovery_simulated() -> None:
    tpl = template(hardware={"gpu": {"requests": 1, "model": "MI300X"}})
    model = codec.load(
        r.AIMModel,
        {
            "apiVersion": "aim.eai.amd.com/v1alpha1",
            "kind": "AIMModel",
            "metadata": {"name": "m", "namespace": "team"},
            "spec": {"image": "x/y:1"},
        },
    )
    common = dict(
        model=model,
        runtime=resolve(None, "team", Snapshot(objects={})),
        inventory=gpus.cluster_inventory(None, None),
        now="2026-03-01T10:00:00Z",
        operator_namespace="aim-system",
    )
    first = reconcile_template(tpl, discovery=DiscoveryObservation(), **common)  # type: ignore[arg-type]
    assert first.job is not None
    log = discovery_log(tpl, None)
    job = JobObservation(
        name=first.job["metadata"]["name"],
        namespace="team",
        uid="j",
        labels={**first.job["metadata"]["labels"], **log.labels()},
        conditions=(JobCondition(type="Complete", status=r.ConditionStatus.TRUE),),
    )
    seen = DiscoveryObservation(jobs=(job,), logs={("team", job.name, "j"): log.text})
    done = reconcile_template(attrs.evolve(tpl, status=first.status), discovery=seen, **common)  # type: ignore[arg-type]
    discovered = next(c for c in done.status.conditions or () if c.type == "Discovered")
    assert (discovered.status, discovered.reason) == (r.ConditionStatus.TRUE, "DiscoverySimulated")
    assert done.status.status is r.TemplateStatus.READY
    steady = reconcile_template(
        attrs.evolve(tpl, status=done.status), discovery=DiscoveryObservation(), **common
    )  # type: ignore[arg-type]
    assert steady.status == done.status and steady.job is None  # it keeps saying so


def test_the_image_facts_file_reads_dry_run_entries_and_refuses_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "facts.imagefacts"
    path.write_text(
        "amdenterpriseai/x:1:\n  config: {Labels: {}}\n  dryRun:\n    - filename: a.yaml\n"
        "amdenterpriseai/y:1:\n  config: {Labels: {}}\n  dryRun: 'raw log'\n"
        "amdenterpriseai/z:1:\n  config: {Labels: {}}\n  dryRun: 42\n"
    )
    facts, problems = load_image_facts(str(path))
    assert facts.dry_runs == {
        "docker.io/amdenterpriseai/x:1": [{"filename": "a.yaml"}],
        "docker.io/amdenterpriseai/y:1": "raw log",
    }
    assert [(p.line, p.message) for p in problems] == [
        (10, "must be a list of dry-run result objects, or a string (the raw log)")
    ]
