"""The operator on a real API server: the catalog end to end, server-side apply, deletes,
watches that break or expire, and leader election between two processes.

Writes are counted from the API server's own audit log (every create, update, patch and
delete, with the client's user agent), not from the operator's account of itself.
"""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aimcore.adapters.kube.api import AIM_KINDS, JOBS, KubeApi
from aimcore.adapters.kube.executor import Executor
from aimcore.adapters.kube.operator import JsonLog, Operator, Settings
from aimcore.adapters.kube.store import Store
from aimcore.plan import Delete, Plan
from aimcore.snapshot import ObjectKey
from tests.cluster.fixtures import LEASES, NAMESPACES, KubeCluster, delete_namespace, wait_for
from tests.cluster.support import (
    CATALOG_FACTS,
    MODELS,
    QWEN,
    QWEN_TEMPLATES,
    README_CATALOG,
    ROOT,
    TEMPLATES,
    WORKLOADS,
    FactsInspector,
    GatedApi,
    JobRunner,
    KServe,
    aim_state,
    audit_writes,
    comparable,
    create_all,
    differences,
    ensure_namespaces,
    job_runner,
    key_of,
    kserve,
    log_events,
    once,
    operator_process,
    running_job_runner,
    running_operator,
    settle,
    simulate,
    with_defaults,
    workload_comparable,
    workload_state,
    write_summary,
)

pytestmark = pytest.mark.cluster

PROPRIETARY = "private.registry/models/proprietary:v1"


def model(name: str, namespace: str, image: str = QWEN) -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": image}}


def templates_of(api: KubeApi, namespace: str, model_name: str) -> list[dict[str, Any]]:
    return sorted((t for t in api.list(TEMPLATES, namespace)[0] if t["spec"]["modelName"] == model_name),
                  key=lambda t: t["metadata"]["name"])


def model_status(api: KubeApi, namespace: str, name: str) -> str:
    return str((api.get(MODELS, namespace, name).get("status") or {}).get("status") or "")


def manifests(paths: list[str]) -> list[dict[str, Any]]:
    """The documents of fixture files, as `kubectl create -f` reads them (namespace default)."""
    docs = []
    for path in paths:
        target = ROOT / path
        files = sorted(target.rglob("*.yaml")) if target.is_dir() else [target]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                if not doc:
                    continue
                kind = doc["kind"]
                namespaced = kind == "Secret" or AIM_KINDS[kind].namespaced
                if namespaced:
                    doc["metadata"].setdefault("namespace", "default")
                docs.append(doc)
    return docs


@pytest.fixture
def catalog_namespaces(kube: KubeCluster) -> Iterator[list[str]]:
    """The bundled catalog uses fixed namespaces: emptied and deleted after the test."""
    created: list[str] = []
    yield created
    api = kube.api()
    for item in api.list(MODELS, "default")[0]:  # "default" itself cannot be deleted
        api.delete(MODELS, "default", item["metadata"]["name"], None)
    for name in created:
        if name != "default":
            delete_namespace(api, name)

    def gone() -> bool:
        names = {item["metadata"]["name"] for item in api.list(NAMESPACES)[0]}
        return not names & (set(created) - {"default"}) and not api.list(TEMPLATES, "default")[0]

    wait_for(gone, 120, "the catalog's namespaces to be deleted")


def namespaces_of(docs: list[dict[str, Any]]) -> list[str]:
    return sorted({d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]})


def _expected_catalog(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """simulate's final state: the AIM objects as the API server stores them, and the service's
    InferenceService and HTTPRoute as aimcore builds them (their status is KServe's and the Gateway's).

    simulate is given the catalog as the API server stores it, with its CRDs' defaults: the
    operator reads the service so, and the defaults reach the HTTPRoute (the gatewayRef's group
    and kind become the parentRef's; the Gateway API's own CRD would default them the same way)."""
    docs = [doc if doc["kind"] == "Secret" else with_defaults(doc) for doc in manifests(README_CATALOG)]
    path = tmp_path / "catalog-as-stored.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    objects = simulate([str(path)], CATALOG_FACTS)["objects"]
    expected = {key_of(doc): workload_comparable(doc) if doc["kind"] in WORKLOADS
                else comparable(with_defaults(doc)) for doc in objects}
    assert {key.split()[0] for key in expected} >= {"AIMService", "InferenceService", "HTTPRoute"}
    return expected


def _observed(api: KubeApi, namespaces: list[str]) -> dict[str, dict[str, Any]]:
    observed = {key: comparable(doc) for key, doc in aim_state(api, namespaces).items()}
    observed.update({key: workload_comparable(doc) for key, doc in workload_state(api, namespaces).items()})
    return observed


def test_once_takes_the_bundled_catalog_to_the_state_simulate_prints(
    kube: KubeCluster, catalog_namespaces: list[str], tmp_path: Path
) -> None:
    expected = _expected_catalog(tmp_path)
    api = kube.api()
    docs = manifests(README_CATALOG)
    catalog_namespaces.extend(namespaces_of(docs))
    create_all(api, docs)
    runner, player = JobRunner(kube.api("job-runner")), KServe(kube.api("kserve"))
    for _ in range(8):
        assert once(kube, "--images", str(ROOT / CATALOG_FACTS), "--no-leader-election",
                    "--identity", "once") == 0
        # The discovery Jobs of this pass run, KServe and the Gateway mark what it created, and
        # the next pass reads them.
        if runner.step() + player.step() == 0:
            break
    else:
        raise AssertionError("discovery Jobs or workloads kept coming")
    assert sorted(player.marked) == sorted(key for key in expected if key.split()[0] in WORKLOADS)
    observed = _observed(api, catalog_namespaces)
    assert sorted(observed) == sorted(expected)
    assert {k: differences(expected[k], observed[k]) for k in expected} == {k: [] for k in expected}

    # A converged catalog sees no write (other tests' namespaces may still be going away).
    before = len(audit_writes(kube, "aimcore/once", namespaces=catalog_namespaces))
    assert once(kube, "--images", str(ROOT / CATALOG_FACTS), "--no-leader-election",
                "--identity", "once") == 0
    assert audit_writes(kube, "aimcore/once", namespaces=catalog_namespaces)[before:] == []


def test_the_watching_operator_takes_the_bundled_catalog_to_the_same_state(
    kube: KubeCluster, catalog_namespaces: list[str], tmp_path: Path
) -> None:
    expected = _expected_catalog(tmp_path)
    api = kube.api()
    docs = manifests(README_CATALOG)
    catalog_namespaces.extend(namespaces_of(docs))
    log = tmp_path / "operator.log"
    with operator_process(kube.kubeconfig, "--images", str(ROOT / CATALOG_FACTS), "--no-leader-election",
                          "--identity", "watcher", log=log), \
            job_runner(kube.api("job-runner")), kserve(kube.api("kserve")):
        create_all(api, docs)
        try:
            wait_for(lambda: _observed(api, catalog_namespaces) == expected, 120,
                     "the cluster to reach simulate's final state")
        except AssertionError:
            observed = _observed(api, catalog_namespaces)
            differing = sorted(k for k in expected.keys() | observed.keys()
                               if expected.get(k) != observed.get(k))
            raise AssertionError(f"differing objects: {differing}\n{log.read_text()[-4000:]}") from None
        writes = len(audit_writes(kube, "aimcore/watcher", namespaces=catalog_namespaces))
        time.sleep(3)  # a steady cluster: nothing more is written
        assert len(audit_writes(kube, "aimcore/watcher", namespaces=catalog_namespaces)) == writes
    events = log_events(log)
    assert [e["msg"] for e in events][-1] == "operator stopped"
    assert not [e for e in events if e["level"] == "error"]


# --- server-side apply -----------------------------------------------------------------------------


def test_other_managers_fields_survive_and_owned_fields_are_put_back(
    kube: KubeCluster, namespace: str
) -> None:
    api, user = kube.api("user"), kube.api("kubectl-like")
    api.create(MODELS, model("qwen", namespace))
    with running_operator(kube, FactsInspector(CATALOG_FACTS), namespace=namespace) as operator:
        wait_for(lambda: len(templates_of(api, namespace, "qwen")) == 2)
        settle(operator)
        name = QWEN_TEMPLATES[1]
        generated = api.get(TEMPLATES, namespace, name)
        profile = generated["spec"]["profileId"]
        assert profile == "vllm-mi300x-fp8-tp1-latency"
        # Another manager adds a label aimcore does not own, and takes over spec.profileId by force
        # (a field that may change: the metric, precision and hardware of a template may not).
        _apply_as(user, "team-tools", {"metadata": {"name": name, "namespace": namespace,
                                                    "labels": {"cost-center": "ml-42"}}})
        _apply_as(user, "hotfix", {"metadata": {"name": name, "namespace": namespace},
                                   "spec": {"modelName": "qwen", "profileId": "hotfix-profile"}})

        def restored() -> bool:
            doc = api.get(TEMPLATES, namespace, name)
            return bool(doc["spec"]["profileId"] == profile)

        wait_for(restored, 30, "aimcore to put spec.profileId back")
        settle(operator)
        doc = api.get(TEMPLATES, namespace, name)
        assert doc["metadata"]["labels"]["cost-center"] == "ml-42"  # survives aimcore's applies
        # aimcore manages the object and, as a second entry, its status subresource.
        managers = {m["manager"]: m for m in doc["metadata"]["managedFields"] if not m.get("subresource")}
        assert "f:profileId" in str(managers["aimcore"]["fieldsV1"])
        assert "f:cost-center" in str(managers["team-tools"]["fieldsV1"])
        assert "f:cost-center" not in str(managers["aimcore"]["fieldsV1"])

        before = len(audit_writes(kube, "aimcore/op"))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert audit_writes(kube, "aimcore/op")[before:] == []  # steady: nothing written


def _apply_as(api: KubeApi, manager: str, partial: dict[str, Any]) -> None:
    body = {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate", **partial}
    meta = body["metadata"]
    path = TEMPLATES.path(meta["namespace"], meta["name"])
    api._call("PATCH", path, query=[("fieldManager", manager), ("force", "true")], body=body,
              content_type="application/apply-patch+yaml")


def test_writes_counted_by_the_api_server(kube: KubeCluster, namespace: str) -> None:
    """One model: its status, templates, their discovery Jobs and statuses; once the Jobs have run,
    the templates' and the model's readiness; then nothing."""
    api = kube.api("user")
    created = api.create(MODELS, model("qwen", namespace))
    inspector = FactsInspector(CATALOG_FACTS)
    runner = JobRunner(kube.api("job-runner"), hold=True)
    with running_operator(kube, inspector, identity="counted", namespace=namespace,
                          read_log=runner.read_log) as operator:
        wait_for(lambda: len(templates_of(api, namespace, "qwen")) == 2)
        settle(operator)
        for template in templates_of(api, namespace, "qwen"):
            assert template["metadata"]["ownerReferences"] == [{
                "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel", "name": "qwen",
                "uid": created["metadata"]["uid"], "controller": True}]
            assert template["metadata"]["labels"]["aim.eai.amd.com/origin"] == "auto-generated"
            assert template["status"]["status"] == "Progressing"  # its discovery Job has not run
        status = api.get(MODELS, namespace, "qwen")["status"]
        assert status["status"] == "Progressing"
        assert status["imageMetadata"]["model"]["canonicalName"] == "Qwen/Qwen3-32B"
        rows = write_summary(audit_writes(kube, "aimcore/counted"))
        jobs = sorted(job["metadata"]["name"] for job in api.list(JOBS, namespace)[0])
        assert len(jobs) == 2
        # The model's status twice and its two templates; each template's discovery Job and its
        # status twice (Pending as the Job is applied, Progressing once it is seen running).
        assert sorted(rows) == sorted([
            ("patch", "aimmodels/status", namespace, "qwen", 200),
            ("patch", "aimmodels/status", namespace, "qwen", 200),
            ("patch", "aimservicetemplates", namespace, QWEN_TEMPLATES[0], 201),
            ("patch", "aimservicetemplates", namespace, QWEN_TEMPLATES[1], 201),
            ("patch", "jobs", namespace, jobs[0], 201),
            ("patch", "jobs", namespace, jobs[1], 201),
            *[("patch", "aimservicetemplates/status", namespace, name, 200) for name in QWEN_TEMPLATES * 2],
        ])
        assert inspector.asked == ["docker.io/" + QWEN]

        runner.hold = False
        assert runner.step() == 2
        wait_for(lambda: model_status(api, namespace, "qwen") == "Ready")
        settle(operator)
        assert sorted(read[2] for read in runner.reads) == [f"{job}-run" for job in jobs]  # once each
        # Only statuses: the templates' as their Jobs' Pods and Jobs move (how many steps the
        # watches show depends on timing) and then Ready with a profile, and the model's Ready.
        later = write_summary(audit_writes(kube, "aimcore/counted"))[len(rows):]
        assert set(later) == {
            *[("patch", "aimservicetemplates/status", namespace, name, 200) for name in QWEN_TEMPLATES],
            ("patch", "aimmodels/status", namespace, "qwen", 200),
        }
        # The model turns Ready after both templates have been written at least once more (a
        # template may still be written after it, as its Job's own status arrives late).
        ready = later.index(("patch", "aimmodels/status", namespace, "qwen", 200))
        assert {row[3] for row in later[:ready]} == set(QWEN_TEMPLATES)
        writes = len(audit_writes(kube, "aimcore/counted"))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert len(audit_writes(kube, "aimcore/counted")) == writes  # a second pass writes nothing
        assert inspector.asked == ["docker.io/" + QWEN]


# --- deletes ---------------------------------------------------------------------------------------


def test_deleting_a_model_collects_its_templates_and_never_a_users_template(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    created = api.create(MODELS, model("qwen", namespace))
    mine = api.create(TEMPLATES, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "my-qwen-template", "namespace": namespace},
        "spec": {"modelName": "qwen", "metric": "latency", "precision": "fp8"}})
    with running_operator(kube, FactsInspector(CATALOG_FACTS), identity="deleter",
                          namespace=namespace) as operator:
        wait_for(lambda: len(templates_of(api, namespace, "qwen")) == 3)
        settle(operator)
        api.delete(MODELS, namespace, "qwen", created["metadata"]["uid"])
        # The real garbage collector removes what the model owned ...
        wait_for(lambda: [t["metadata"]["name"] for t in templates_of(api, namespace, "qwen")]
                 == ["my-qwen-template"], 60, "the garbage collector")
        settle(operator)
    left = api.get(TEMPLATES, namespace, "my-qwen-template")
    assert left["metadata"]["uid"] == mine["metadata"]["uid"]  # ... and nothing the user made
    deletes = [row for row in write_summary(audit_writes(kube, "aimcore/deleter")) if row[0] == "delete"]
    assert deletes == []  # collection is the garbage collector's, not aimcore's


def test_a_delete_carries_the_uid_so_a_recreated_object_survives(kube: KubeCluster, namespace: str) -> None:
    api = kube.api("user")
    first = api.create(TEMPLATES, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "recreated", "namespace": namespace}, "spec": {"modelName": "m"}})
    store = Store()
    store.replace_kind(TEMPLATES, *api.list(TEMPLATES, namespace), namespace)  # the operator's view
    api.delete(TEMPLATES, namespace, "recreated", first["metadata"]["uid"])
    wait_for(lambda: not api.list(TEMPLATES, namespace)[0])
    second = api.create(TEMPLATES, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "recreated", "namespace": namespace}, "spec": {"modelName": "m"}})
    key = ObjectKey("AIMServiceTemplate", namespace, "recreated")
    executor = Executor(kube.api("aimcore/stale"), store)
    plan = Plan(key, (Delete(key, first["metadata"]["uid"], "stale"),))
    outcome = executor.execute(plan, "2026-01-01T00:00:00Z")
    assert outcome.failures == []
    # The server refused the delete (uid precondition, 409): the new object is still there.
    assert api.get(TEMPLATES, namespace, "recreated")["metadata"]["uid"] == second["metadata"]["uid"]
    assert write_summary(audit_writes(kube, "aimcore/stale")) == [
        ("delete", "aimservicetemplates", namespace, "recreated", 409)]


# --- watches -----------------------------------------------------------------------------------------


def _simulated_state(docs: list[dict[str, Any]], tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The clean run: what `aimcore simulate` makes of the same objects."""
    path = tmp_path / "inputs.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return {key_of(d): comparable(with_defaults(d)) for d in simulate([str(path)], CATALOG_FACTS)["objects"]}


def test_the_operator_recovers_from_a_restarted_api_server(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    plane = kube.need_plane()
    api = kube.api("user")
    docs = [model("before", namespace)]
    create_all(api, docs)
    with job_runner(kube.api("job-runner")) as runner, \
            running_operator(kube, FactsInspector(CATALOG_FACTS), identity="restarts",
                             namespace=namespace, read_log=runner.read_log) as operator:
        wait_for(lambda: model_status(api, namespace, "before") == "Ready", 60)
        settle(operator)
        plane.restart_apiserver(down_for=2.0)
        docs.append(model("after", namespace, PROPRIETARY))
        create_all(api, docs[1:])
        wait_for(lambda: model_status(api, namespace, "after") == "Ready", 90,
                 "the model created after the restart to be Ready")
        settle(operator)
        assert all(w._thread.is_alive() for w in operator.watchers)
    observed = {k: comparable(v) for k, v in aim_state(api, [namespace]).items() if namespace in k}
    expected = {k: v for k, v in _simulated_state(docs, tmp_path).items() if namespace in k}
    assert observed == expected


def test_an_expired_resource_version_is_relisted_with_nothing_lost(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    """A restarted API server's watch cache starts at its own resourceVersion: a watch from an
    older one is answered 410 Gone (Expired), and only a re-list can resume."""
    plane = kube.need_plane()
    api = kube.api("user")
    docs = [model("first", namespace)]
    create_all(api, docs)
    logs = io.StringIO()
    gated = GatedApi(kube.api("aimcore/gated"))
    settings = Settings(identity="gated", namespace=namespace, leader_election=False, watch_timeout=1,
                        retry_base=0.05)
    runner = JobRunner(kube.api("job-runner"))
    operator = Operator(gated, FactsInspector(CATALOG_FACTS), settings, JsonLog(logs, "debug"),
                        read_log=runner.read_log)
    stop = threading.Event()
    thread = threading.Thread(target=operator.run, args=(stop,))
    thread.start()
    try:
        with running_job_runner(runner):
            wait_for(lambda: model_status(api, namespace, "first") == "Ready", 60)
            settle(operator)
            gated.gate.clear()
            wait_for(lambda: gated.waiting == len(operator.watchers), 30, "every watch to end at the gate")
            plane.restart_apiserver()
            docs.append(model("second", namespace))
            create_all(api, docs[1:])
            api.delete(MODELS, namespace, "first", None)
            gated.gate.set()
            wait_for(lambda: model_status(api, namespace, "second") == "Ready", 60)
            settle(operator)
    finally:
        stop.set()
        thread.join(30)
    events = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    expired = {e["kind"] for e in events if e["msg"] == "watch expired (410 Gone): re-listing"}
    assert "AIMModel" in expired, logs.getvalue()[-3000:]
    assert "first" not in {k.name for k in operator.store.all_keys() if k.kind == "AIMModel"}
    wait_for(lambda: templates_of(api, namespace, "first") == [], 60, "the first model's templates to go")
    observed = {k: comparable(v) for k, v in aim_state(api, [namespace]).items() if namespace in k}
    expected = {k: v for k, v in _simulated_state(docs[1:], tmp_path).items() if namespace in k}
    assert observed == expected


# --- leader election ---------------------------------------------------------------------------------

LEASE_DURATION = 15.0  # README: a standby takes over when the Lease has not been renewed for 15 s
LEASE_RETRY = 2.0  # README: the holder renews it every 2 s


def test_two_operator_processes_one_lease_exactly_one_writes_and_a_killed_leader_hands_over(
    kube: KubeCluster, namespace: str, tmp_path: Path
) -> None:
    api = kube.api("user")
    ensure_namespaces(api, ["aim-system"])
    lease_name = f"lease-{namespace}"
    common = ("--images", str(ROOT / CATALOG_FACTS), "--namespace", namespace, "--lease-name", lease_name)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    with operator_process(kube.kubeconfig, *common, "--identity", "a", log=logs["a"]) as a, \
            operator_process(kube.kubeconfig, *common, "--identity", "b", log=logs["b"]) as b:
        processes = {"a": a, "b": b}

        def holder() -> str:
            try:
                return str(api.get(LEASES, "aim-system", lease_name)["spec"].get("holderIdentity") or "")
            except Exception:
                return ""

        wait_for(lambda: holder() in ("a", "b"), 60, "one replica to take the lease")
        leader = holder()
        follower = "b" if leader == "a" else "a"
        api.create(MODELS, model("first", namespace))
        wait_for(lambda: len(templates_of(api, namespace, "first")) == 2, 60)
        time.sleep(2)
        assert audit_writes(kube, f"aimcore/{follower}") == []
        assert len(audit_writes(kube, f"aimcore/{leader}")) >= 3

        processes[leader].send_signal(signal.SIGKILL)  # no hand-over: the lease must expire
        processes[leader].wait(10)
        killed = time.monotonic()
        api.create(MODELS, model("second", namespace))
        wait_for(lambda: holder() == follower, LEASE_DURATION + 3 * LEASE_RETRY + 10,
                 "the standby to take over")
        took_over = time.monotonic() - killed
        wait_for(lambda: len(templates_of(api, namespace, "second")) == 2, 30)
        assert took_over <= LEASE_DURATION + 2 * LEASE_RETRY + 2, f"took over after {took_over:.1f} s"
        follower_writes = write_summary(audit_writes(kube, f"aimcore/{follower}"))
        assert {row[3] for row in follower_writes if row[1].startswith("aimservicetemplates")} == set(
            t["metadata"]["name"] for t in templates_of(api, namespace, "second"))
        lease = api.get(LEASES, "aim-system", lease_name)["spec"]
        assert lease["leaseTransitions"] >= 1
