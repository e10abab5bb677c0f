"""The operator loop on a real API server: fine-tuned copies, permanent errors, leases, `--once`,
inspections, SIGTERM, registries with pull secrets, v1alpha2 profiles and resync.

Each operator gets its own identity, so its writes are counted from the API server's audit log
by its user agent (`aimcore/<identity>`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aimcore import resources as r
from aimcore.adapters.kube.api import AIM_KINDS, JOBS, SECRETS
from aimcore.adapters.kube.executor import Executor, NotLeader
from aimcore.adapters.kube.leader import LeaderElector
from aimcore.adapters.kube.operator import JsonLog, Operator, Settings, kube_inspector
from aimcore.adapters.kube.store import Store
from aimcore.facts import InspectResult
from aimcore.plan import Plan, UpdateStatus
from aimcore.snapshot import InspectKey, ObjectKey
from tests.cluster.fixtures import LEASES, KubeCluster, wait_for
from tests.cluster.support import (
    CATALOG_FACTS,
    CLUSTER_MODELS,
    CLUSTER_TEMPLATES,
    FAST,
    MODELS,
    QWEN,
    QWEN_TEMPLATES,
    ROOT,
    TEMPLATES,
    FactsInspector,
    JobRunner,
    audit_writes,
    ensure_namespaces,
    job_runner,
    log_events,
    once,
    operator_process,
    refused_writes,
    running_operator,
    settle,
    write_summary,
)
from tests.registry_server import BASIC_PASSWORD, BASIC_USER, RegistryProcess, push_image

pytestmark = pytest.mark.cluster



def model(name: str, namespace: str, image: str = QWEN, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": image, **spec}}


def condition(doc: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (doc.get("status") or {}).get("conditions") or () if c["type"] == type_]
    return found[0] if found else {}


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["metadata"]["name"] for item in items)


def test_fine_tuned_copies_follow_their_source_and_a_stale_copy_is_deleted_by_uid(
    kube: KubeCluster, namespace: str
) -> None:
    """aimId dependencies (cluster templates -> fine-tuned model) and an operator-planned Delete."""
    api = kube.api("user")
    api.create(CLUSTER_MODELS, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMClusterModel",
        "metadata": {"name": "qwen3-ghcr"}, "spec": {"image": "ghcr.io/silogen/qwen3:0.11.0"}})
    api.create(MODELS, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
        "metadata": {"name": "ft-qwen-any", "namespace": namespace},
        "spec": {"aimId": "qwen/qwen3-32b", "custom": {"versionPolicy": "any"},
                 "modelSources": [{"modelId": "qwen/qwen3-32b-fp8", "sourceUri": "s3://my-bucket/weights/"}]}})
    copy = "ft-qwen-any-ft-0-11-0-fp8-mi300x-8ec6419e"
    inspector = FactsInspector("fixtures/finetune.imagefacts")
    with job_runner(kube.api("job-runner"), facts="fixtures/finetune.imagefacts") as runner, \
            running_operator(kube, inspector, identity="tuner", namespace=namespace,
                             read_log=runner.read_log) as operator:
        wait_for(lambda: len(api.list(CLUSTER_TEMPLATES)[0]) == 2, 60)
        wait_for(lambda: names(api.list(TEMPLATES, namespace)[0]) == [copy], 60)
        wait_for(lambda: (api.get(MODELS, namespace, "ft-qwen-any").get("status") or {}).get("status")
                 == "Ready", 60)
        settle(operator)
        writes = len(audit_writes(kube, "aimcore/tuner"))
        assert all(row[4] in (200, 201) for row in write_summary(audit_writes(kube, "aimcore/tuner")))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert len(audit_writes(kube, "aimcore/tuner")) == writes  # steady

        copy_uid = api.get(TEMPLATES, namespace, copy)["metadata"]["uid"]
        owner = api.get(CLUSTER_MODELS, None, "qwen3-ghcr")
        api.delete(CLUSTER_MODELS, None, "qwen3-ghcr", owner["metadata"]["uid"])
        wait_for(lambda: api.list(TEMPLATES, namespace)[0] == [], 60, "the stale copy to be deleted")
        wait_for(lambda: api.list(CLUSTER_TEMPLATES)[0] == [], 60, "the garbage collector")
        settle(operator)
    deletes = [(row, event["objectRef"]) for row, event in zip(
        write_summary(audit_writes(kube, "aimcore/tuner")), audit_writes(kube, "aimcore/tuner"), strict=True)
        if row[0] == "delete"]
    assert [row for row, _ in deletes] == [("delete", "aimservicetemplates", namespace, copy, 200)]
    assert copy_uid  # the copy aimcore made is the one it deleted (the request carried its uid)


def test_a_permanent_error_is_reported_on_the_model_and_cleared_once_it_passes(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    message = "templates are frozen in this namespace"
    with refused_writes(kube.api("admin"), TEMPLATES, namespace, message):
        api.create(MODELS, model("qwen", namespace))
        with running_operator(kube, FactsInspector(CATALOG_FACTS), identity="refused", namespace=namespace,
                              retry_base=0.2) as operator:
            def reported() -> dict[str, Any]:
                return condition(api.get(MODELS, namespace, "qwen"), "DependenciesReachable")

            wait_for(lambda: bool(reported()), 60, "the failure on the model's status")
            reachable = reported()
            assert (reachable["status"], reachable["reason"]) == ("False", "InfrastructureError")
            assert reachable["message"].startswith(f"apply AIMServiceTemplate {namespace}/")
            assert "422 Invalid: " in reachable["message"]
            assert message in reachable["message"]
            assert api.get(MODELS, namespace, "qwen")["status"]["status"] == "Degraded"
            refused_rows = [row for row in write_summary(audit_writes(kube, "aimcore/refused"))
                            if row[1] == "aimservicetemplates"]
            assert refused_rows and {row[4] for row in refused_rows} == {422}
    # The policy is gone: the retries (with backoff) create both templates and clear the condition.
    with running_operator(kube, FactsInspector(CATALOG_FACTS), identity="refused",
                          namespace=namespace) as operator:
        wait_for(lambda: names(api.list(TEMPLATES, namespace)[0]) == QWEN_TEMPLATES, 60)
        wait_for(lambda: not condition(api.get(MODELS, namespace, "qwen"), "DependenciesReachable"), 60)
        settle(operator)


LEASE: dict[str, Any] = {"leader_election": True, "lease_duration": 3.0, "renew_deadline": 2.0,
                         "lease_retry": 0.1, "operator_namespace": "aim-system"}


def test_two_operators_one_lease_only_the_leader_writes_and_a_stopped_leader_hands_over(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    ensure_namespaces(api, ["aim-system"])
    lease = {**LEASE, "lease_name": f"lease-{namespace}", "namespace": namespace}
    inspector = FactsInspector(CATALOG_FACTS)
    with contextlib.ExitStack() as stack_a, contextlib.ExitStack() as stack_b:
        a = stack_a.enter_context(running_operator(kube, inspector, f"a-{namespace}", **lease))
        b = stack_b.enter_context(running_operator(kube, inspector, f"b-{namespace}", **lease))
        wait_for(lambda: a.may_write() or b.may_write(), 30)
        leader, follower = (a, b) if a.may_write() else (b, a)
        leader_stack = stack_a if leader is a else stack_b
        leader_agent, follower_agent = (f"aimcore/{o.settings.identity}" for o in (leader, follower))
        api.create(MODELS, model("qwen", namespace))
        wait_for(lambda: condition(api.get(MODELS, namespace, "qwen"), "ServiceTemplatesReady")
                 .get("reason") == "TemplatesProgressing", 60)
        settle(leader)
        assert not follower.may_write()
        assert audit_writes(kube, follower_agent) == []
        jobs = sorted(job["metadata"]["name"] for job in api.list(JOBS, namespace)[0])
        assert sorted(write_summary(audit_writes(kube, leader_agent))) == sorted([
            *[("patch", "aimmodels/status", namespace, "qwen", 200)] * 2,
            *[("patch", "aimservicetemplates", namespace, name, 201) for name in QWEN_TEMPLATES],
            *[("patch", "jobs", namespace, name, 201) for name in jobs],
            *[("patch", "aimservicetemplates/status", namespace, name, 200) for name in QWEN_TEMPLATES * 2],
        ])
        leader_writes = len(audit_writes(kube, leader_agent))
        held = api.get(LEASES, "aim-system", lease["lease_name"])["spec"]
        assert held["holderIdentity"] == leader.settings.identity

        leader_stack.close()  # stops the leader, which hands the lease back
        wait_for(follower.may_write, 10, "the follower to take the handed-back lease")
        api.create(MODELS, model("second", namespace))
        wait_for(lambda: condition(api.get(MODELS, namespace, "second"), "ServiceTemplatesReady")
                 .get("reason") == "TemplatesProgressing", 60)
        settle(follower)
        assert len(audit_writes(kube, leader_agent)) == leader_writes  # the stopped leader wrote no more
        jobs_now = {job["metadata"]["name"] for job in api.list(JOBS, namespace)[0]}
        second = {t["metadata"]["name"] for t in api.list(TEMPLATES, namespace)[0]
                  if t["spec"]["modelName"] == "second"}
        # the second model, its templates and their discovery Jobs only: the first is steady
        assert {row[3] for row in write_summary(audit_writes(kube, follower_agent))} == {
            "second", *second, *(jobs_now - set(jobs))}
        held = api.get(LEASES, "aim-system", lease["lease_name"])["spec"]
        assert held["holderIdentity"] == follower.settings.identity


def test_lease_takeover_needs_an_expired_record_and_a_lost_lease_stops_writes(
    kube: KubeCluster, namespace: str
) -> None:
    """client-go's algorithm on a real Lease, with each candidate's clock in the test's hand."""
    ensure_namespaces(kube.api(), ["aim-system"])
    clock = {"a": 0.0, "b": 0.0}
    name = f"lease-{namespace}"
    a = LeaderElector(kube.api("a"), namespace="aim-system", name=name, identity="a",
                      lease_duration=10, renew_deadline=5, clock=lambda: clock["a"])
    b = LeaderElector(kube.api("b"), namespace="aim-system", name=name, identity="b",
                      lease_duration=10, renew_deadline=5, clock=lambda: clock["b"])
    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    clock["a"] = clock["b"] = 6.0
    time.sleep(0.01)  # renewTime has microseconds: a's renewal changes the record
    assert a.try_acquire_or_renew() is True  # a renews: the record changes
    assert b.try_acquire_or_renew() is False  # b starts counting again
    clock["a"] = clock["b"] = 15.0  # a stops renewing; 9 s of b's clock since the last change
    assert a.is_leader() is False  # past its renew deadline: a stops writing before b may take over
    assert b.try_acquire_or_renew() is False
    clock["b"] = 16.5
    assert b.try_acquire_or_renew() is True
    spec = kube.api().get(LEASES, "aim-system", name)["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert a.try_acquire_or_renew() is False

    kube.api("user").create(MODELS, model("qwen", namespace))
    api = kube.api(f"aimcore/not-leader-{namespace}")
    store = Store()
    store.replace_kind(MODELS, *api.list(MODELS, namespace), namespace)
    key = ObjectKey("AIMModel", namespace, "qwen")
    status = r.AIMModelStatus(status=r.Status.PENDING)
    with pytest.raises(NotLeader):
        Executor(api, store, may_write=a.is_leader).execute(Plan(key, (UpdateStatus(key, status),)), "t")
    assert audit_writes(kube, f"aimcore/not-leader-{namespace}", None) == []  # not even an attempt


def test_once_converges_exits_0_and_a_second_run_writes_nothing_but_the_lease(
    kube: KubeCluster, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api = kube.api("user")
    ensure_namespaces(api, ["aim-system"])
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": "pull", "namespace": namespace},
                         "data": {".dockerconfigjson": "c2VjcmV0LXZhbHVl"}})
    api.create(MODELS, model("qwen", namespace, imagePullSecrets=[{"name": "pull"}]))
    identity = f"once-{namespace}"
    argv = ("--namespace", namespace, "--identity", identity, "--lease-name", f"lease-{namespace}",
            "--images", str(ROOT / CATALOG_FACTS))
    assert once(kube, *argv) == 0
    assert names(api.list(TEMPLATES, namespace)[0]) == QWEN_TEMPLATES
    rows = write_summary(audit_writes(kube, f"aimcore/{identity}", None))
    jobs = sorted(job["metadata"]["name"] for job in api.list(JOBS, namespace)[0])
    # The model's status at each of four rounds, its two templates, their discovery Jobs and their
    # statuses (Pending, then Progressing once the Job is listed; no kubelet runs it); and the
    # lease: created, then handed back.
    assert sorted(rows) == sorted([
        ("create", "leases", "aim-system", f"lease-{namespace}", 201),
        *[("patch", "aimmodels/status", namespace, "qwen", 200)] * 4,
        ("patch", "aimservicetemplates", namespace, QWEN_TEMPLATES[0], 201),
        ("patch", "aimservicetemplates", namespace, QWEN_TEMPLATES[1], 201),
        *[("patch", "jobs", namespace, name, 201) for name in jobs],
        *[("patch", "aimservicetemplates/status", namespace, name, 200) for name in QWEN_TEMPLATES * 2],
        ("update", "leases", "aim-system", f"lease-{namespace}", 200),
    ])
    assert once(kube, *argv) == 0
    second = write_summary(audit_writes(kube, f"aimcore/{identity}", None))[len(rows):]
    assert sorted(second) == [("update", "leases", "aim-system", f"lease-{namespace}", 200)] * 2
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {"time", "level", "msg"} <= set(logs[0])
    assert [e["msg"] for e in logs if e["msg"] == "converged"] == ["converged", "converged"]
    assert not any("c2VjcmV0LXZhbHVl" in json.dumps(e) or "secret-value" in json.dumps(e) for e in logs)


def test_once_reports_not_converged_within_max_rounds(kube: KubeCluster, namespace: str) -> None:
    kube.api("user").create(MODELS, model("qwen", namespace))
    assert once(kube, "--namespace", namespace, "--max-rounds", "1", "--no-leader-election",
                "--images", str(ROOT / CATALOG_FACTS)) == 1


def test_inspections_run_concurrently_within_the_bound(kube: KubeCluster, namespace: str) -> None:
    api = kube.api("user")
    for index in range(4):
        api.create(MODELS, model(f"m{index}", namespace, f"example.com/unknown/m{index}:1"))
    running = {"now": 0, "max": 0}
    lock = threading.Lock()
    facts = FactsInspector(CATALOG_FACTS)

    def slow(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.2)  # long enough for the other inspections to be submitted meanwhile
        with lock:
            running["now"] -= 1
        return facts(keys)

    with running_operator(kube, slow, identity="bounded", namespace=namespace,
                          max_concurrent_inspections=2) as operator:
        wait_for(lambda: len(facts.asked) == 4, 60)
        settle(operator)
    assert running["max"] == 2
    assert sorted(facts.asked) == [f"example.com/unknown/m{i}:1" for i in range(4)]
    statuses = {d["metadata"]["name"]: d["status"]["status"] for d in api.list(MODELS, namespace)[0]}
    assert statuses == {f"m{i}": "Failed" for i in range(4)}  # not in the facts file: not found


def test_sigterm_stops_the_operator_cleanly_and_hands_the_lease_back(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    api = kube.api("user")
    ensure_namespaces(api, ["aim-system"])
    lease = f"lease-{namespace}"
    log = tmp_path / "operator.log"
    with operator_process(kube.kubeconfig, "--identity", "pod-1", "--namespace", namespace,
                          "--lease-name", lease, "--images", str(ROOT / CATALOG_FACTS), log=log) as process:
        def holder() -> str:
            with contextlib.suppress(Exception):
                return str(api.get(LEASES, "aim-system", lease)["spec"].get("holderIdentity") or "")
            return ""

        wait_for(lambda: holder() == "pod-1", 60, "the operator to take the lease")
        process.terminate()
        process.wait(30)
    assert process.returncode == 0
    messages = [e["msg"] for e in log_events(log)]
    assert [m for m in messages if m in ("shutting down", "operator stopped")] == \
        ["shutting down", "operator stopped"]
    assert holder() == ""


def test_once_does_not_write_while_another_replica_holds_the_lease(kube: KubeCluster, namespace: str) -> None:
    api = kube.api("user")
    ensure_namespaces(api, ["aim-system"])
    api.create(MODELS, model("qwen", namespace))
    lease = f"lease-{namespace}"
    holder = LeaderElector(kube.api("holder"), namespace="aim-system", name=lease,
                           identity="holder", lease_duration=30, renew_deadline=20, retry=0.1)
    assert holder.try_acquire_or_renew()
    holder.start()  # keeps renewing, as a running replica does
    identity = f"once-{namespace}"
    try:
        operator = Operator(kube.api(f"aimcore/{identity}"), FactsInspector(CATALOG_FACTS),
                            Settings(identity=identity, namespace=namespace, lease_name=lease,
                                     lease_duration=0.5, lease_retry=0.1, backoff=FAST),
                            JsonLog(io.StringIO()))
        assert operator.run_once(5) == 1
    finally:
        holder.stop(release=True)
    assert audit_writes(kube, f"aimcore/{identity}", None) == []


def test_registry_inspections_read_the_pull_secret_when_needed_and_never_show_it(
    kube: KubeCluster, namespace: str, open_registry: RegistryProcess, basic_registry: RegistryProcess
) -> None:
    """The default inspector: a real registry behind Basic auth, the Secret read from the cluster."""
    labels = {"com.amd.aim.model.canonicalName": "acme/operated",
              "com.amd.aim.model.recommendedDeployments":
                  '[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency"}]'}
    push_image(open_registry.url, "models/operated", "v1", labels=labels)
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    config = json.dumps({"auths": {basic_registry.host: {"auth": auth}}}).encode()
    api = kube.api("user")
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                         "metadata": {"name": "private-registry", "namespace": namespace},
                         "data": {".dockerconfigjson": base64.b64encode(config).decode()}})
    api.create(AIM_KINDS["AIMRuntimeConfig"], {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"imagePullSecrets": [{"name": "private-registry"}]}})
    api.create(MODELS, model("operated", namespace, f"{basic_registry.host}/models/operated:v1"))
    logs = io.StringIO()
    with running_operator(kube, kube_inspector(kube.api("aimcore/registry")), identity="registry",
                          namespace=namespace, logs=logs) as operator:
        wait_for(lambda: len(api.list(TEMPLATES, namespace)[0]) == 1, 60)
        settle(operator)
        status = api.get(MODELS, namespace, "operated")["status"]
        assert status["imageMetadata"]["model"]["canonicalName"] == "acme/operated"
        assert all(BASIC_PASSWORD not in repr(obj) for obj in operator.store.objects())
    everything = repr([api.list(info, namespace)[0] for info in AIM_KINDS.values() if info.namespaced])
    assert BASIC_PASSWORD not in everything and auth not in everything
    assert BASIC_PASSWORD not in logs.getvalue() and auth not in logs.getvalue()
    assert '"msg": "inspected"' in logs.getvalue()


def test_models_read_as_v1alpha2_get_their_profiles(kube: KubeCluster, namespace: str) -> None:
    """D23 on a cluster: a model's apiVersion is the version it is read in (one schema, two versions)."""
    api = kube.api("user")
    api.create(MODELS, model("qwen", namespace))
    common = ("--namespace", namespace, "--no-leader-election", "--images", str(ROOT / CATALOG_FACTS))
    assert once(kube, *common, "--models-api-version", "v1alpha2") == 0
    assert names(api.list(TEMPLATES, namespace)[0]) == QWEN_TEMPLATES
    profiles = api.list(AIM_KINDS["AIMProfile"], namespace)[0]
    assert len(profiles) == len(QWEN_TEMPLATES)
    assert once(kube, *common) == 0
    assert len(api.list(AIM_KINDS["AIMProfile"], namespace)[0]) == len(QWEN_TEMPLATES)  # never deleted


def test_periodic_resync_reconciles_everything_and_a_steady_cluster_stays_unwritten(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    api.create(MODELS, model("qwen", namespace))
    with running_operator(kube, FactsInspector(CATALOG_FACTS), identity="resync", namespace=namespace,
                          resync_seconds=0.3) as operator:
        wait_for(lambda: condition(api.get(MODELS, namespace, "qwen"), "ServiceTemplatesReady")
                 .get("reason") == "TemplatesProgressing", 60)
        settle(operator)
        writes, reconciles = len(audit_writes(kube, "aimcore/resync")), operator.reconciles
        wait_for(lambda: operator.reconciles >= reconciles + 2, 30)  # two resyncs of the one model
        settle(operator)
        assert len(audit_writes(kube, "aimcore/resync")) == writes


def test_once_runs_discovery_and_reads_its_output_from_the_facts_file(
    kube: KubeCluster, namespace: str
) -> None:
    """`--once --images`: a pass applies the discovery Jobs, the Jobs run (played here: no kubelet),
    the next pass reads their output from the facts file's dryRun entries, as simulate does."""
    api = kube.api("user")
    api.create(MODELS, model("qwen", namespace))
    assert once(kube, "--namespace", namespace, "--no-leader-election", "--images",
                str(ROOT / CATALOG_FACTS)) == 0
    jobs = sorted(job["metadata"]["name"] for job in api.list(JOBS, namespace)[0])
    assert len(jobs) == 2 and all(name.startswith("discover-") for name in jobs)
    assert JobRunner(kube.api("job-runner")).step() == 2
    assert once(kube, "--namespace", namespace, "--no-leader-election", "--images",
                str(ROOT / CATALOG_FACTS)) == 0
    assert api.get(MODELS, namespace, "qwen")["status"]["status"] == "Ready"
    for template in api.list(TEMPLATES, namespace)[0]:
        discovered = next(c for c in template["status"]["conditions"] if c["type"] == "Discovered")
        assert (template["status"]["status"], discovered["reason"]) == ("Ready", "DiscoveryComplete")
