"""The operator loop end to end against kmock, extended by tests/kube_support.py (FakeKube).

FakeKube supplies what kmock lacks and these tests rely on: uids and resourceVersions,
server-side apply that creates, the status subresource, uid-guarded deletes, garbage
collection through ownerReferences, watch history, Leases with resourceVersion
preconditions (PUT), and injected faults. There is no template controller in a test
cluster, so `TemplateController` stands in for it with adapters/memory.template_status,
as `aimcore simulate` does. Inspections are answered from fixtures/*.imagefacts.
Waiting uses generous timeouts on observed state; nothing asserts on durations.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.dependents import Change, dependents
from adapters.imagefacts import load_image_facts
from adapters.kubeapi import AIM_KINDS, SECRETS, Backoff, KubeApi
from adapters.kubeexec import Executor, NotLeader
from adapters.kubestore import Store
from adapters.leader import LeaderElector
from adapters.memory import template_status
from adapters.operator import (
    JsonLog,
    Operator,
    Settings,
    add_operator_arguments,
    kube_inspector,
    operator_command,
)
from adapters.workqueue import WorkQueue
from aimcore import codec
from aimcore import resources as r
from aimcore.facts import InspectResult
from aimcore.plan import Plan, UpdateStatus
from aimcore.snapshot import InspectKey, ObjectKey
from tests.kube_support import RunningFake
from tests.registry_server import BASIC_PASSWORD, BASIC_USER, RegistryProcess, push_image

ROOT = Path(__file__).resolve().parent.parent
QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
QWEN_TEMPLATES = [
    "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-6589",
    "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-44f1",
]
FAST = Backoff(base=0.001, cap=0.01, attempts=5)
LOGS: Any = io.StringIO()
AIM_PLURALS = {info.plural for info in AIM_KINDS.values()}


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


class FactsInspector:
    """Answers from an image facts file and counts the questions."""

    def __init__(self, path: str) -> None:
        self.facts, problems = load_image_facts(str(ROOT / path))
        assert problems == []
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        with self._lock:
            self.asked.extend(k.image for k in keys)
        return {k: self.facts.inspect(k) for k in keys}


@pytest.fixture
def cluster() -> Iterator[RunningFake]:
    with RunningFake() as running:
        yield running


@contextmanager
def running_operator(
    cluster: RunningFake, inspector: Any, identity: str = "op", logs: io.StringIO | None = None,
    **settings: Any,
) -> Iterator[Operator]:
    options: dict[str, Any] = {"leader_election": False, "backoff": FAST, "retry_base": 0.02}
    options.update(settings)
    operator = Operator(cluster.api(f"aimcore/{identity}"), inspector,
                        Settings(identity=identity, **options), JsonLog(logs or LOGS, "debug"))
    stop = threading.Event()
    thread = threading.Thread(target=operator.run, args=(stop,), name=f"operator-{identity}")
    thread.start()
    try:
        yield operator
    except BaseException:
        print((logs or LOGS).getvalue()[-6000:], file=sys.stderr)  # the operator's side of a failure
        raise
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive()


class TemplateController:
    """Stands in for the template controller: gives templates the status memory.py would."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def step(self) -> int:
        changed = 0
        for kind in ("AIMServiceTemplate", "AIMClusterServiceTemplate"):
            info = AIM_KINDS[kind]
            for doc in self.api.list(info)[0]:
                tpl = codec.load(r.KINDS[kind], doc)
                assert isinstance(tpl, r.AIMServiceTemplate | r.AIMClusterServiceTemplate)
                status = template_status(tpl, None, "2026-01-01T00:00:00Z", self._owner_image(tpl))
                if status != tpl.status:
                    self.api.apply(info, {"apiVersion": doc["apiVersion"], "kind": kind,
                                          "metadata": {k: v for k, v in doc["metadata"].items()
                                                       if k in ("name", "namespace")},
                                          "status": codec.dump(status)}, status=True)
                    changed += 1
        return changed

    def _owner_image(self, tpl: r.Template) -> str | None:
        if isinstance(tpl, r.AIMServiceTemplate):
            info, ns = AIM_KINDS["AIMModel"], tpl.metadata.namespace
        else:
            info, ns = AIM_KINDS["AIMClusterModel"], None
        for doc in self.api.list(info, ns)[0]:
            if doc["metadata"]["name"] == tpl.spec.model_name:
                return str(doc["spec"].get("image") or "") or None
        return None


def model(name: str = "qwen", image: str = QWEN, namespace: str = "team") -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": image}}


def condition(doc: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (doc.get("status") or {}).get("conditions") or () if c["type"] == type_]
    return found[0] if found else {}


def aim_writes(cluster: RunningFake, agent: str) -> int:
    with cluster.fake.lock:
        return sum(1 for w in cluster.fake.writes if w.agent == agent and w.plural in AIM_PLURALS)


def aim_attempts(cluster: RunningFake, agent: str) -> int:
    with cluster.fake.lock:
        return sum(1 for w in cluster.fake.attempts if w.agent == agent and w.plural in AIM_PLURALS)


def quiet(operator: Operator, cluster: RunningFake) -> None:
    """Reconcile every known key once more and wait until it is done."""
    before = operator.reconciles
    keys = [k for k in operator.store.all_keys() if k.kind in ("AIMModel", "AIMClusterModel", "AIMService")]
    for key in keys:
        operator.queue.add(key)
    wait_for(lambda: operator.reconciles >= before + len(keys) and operator.idle())


def test_model_gets_templates_and_status_and_a_steady_cluster_sees_no_writes(cluster: RunningFake) -> None:
    api = cluster.api("user")
    created = api.create(AIM_KINDS["AIMModel"], model())
    inspector = FactsInspector("fixtures/catalog.imagefacts")
    with running_operator(cluster, inspector) as operator:
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(operator.idle)
        templates = cluster.fake.objects("aimservicetemplates")
        assert sorted(name for _, name in templates) == QWEN_TEMPLATES
        for tpl in templates.values():
            assert tpl["metadata"]["ownerReferences"] == [{
                "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel", "name": "qwen",
                "uid": created["metadata"]["uid"], "controller": True}]
            assert tpl["metadata"]["labels"]["aim.eai.amd.com/origin"] == "auto-generated"
            assert tpl["spec"]["modelName"] == "qwen"
        status = cluster.fake.objects("aimmodels")[("team", "qwen")]["status"]
        assert status["status"] == "Progressing"
        assert status["imageMetadata"]["model"]["canonicalName"] == "Qwen/Qwen3-32B"
        # status (inspecting), two templates, status (metadata), status (templates counted)
        assert operator.writes == 5
        assert cluster.fake.count_attempts("aimcore/op") == 5  # no request wrote nothing
        assert cluster.fake.count_writes("aimcore/op") == 5
        assert inspector.asked == ["docker.io/" + QWEN]

        assert TemplateController(cluster.api("template-controller")).step() == 2
        wait_for(lambda: cluster.fake.objects("aimmodels")[("team", "qwen")]["status"]["status"] == "Ready")
        wait_for(operator.idle)
        assert condition(cluster.fake.objects("aimmodels")[("team", "qwen")], "Ready")["reason"] == \
            "AllComponentsReady"
        assert cluster.fake.count_attempts("aimcore/op") == 6

        quiet(operator, cluster)
        assert cluster.fake.count_attempts("aimcore/op") == 6  # a second pass writes nothing
        assert inspector.asked == ["docker.io/" + QWEN]


def test_fine_tuned_copies_follow_their_source_and_are_deleted_with_the_uid(cluster: RunningFake) -> None:
    """aimId dependency (cluster templates -> fine-tuned model) and an operator-planned Delete."""
    api = cluster.api("user")
    api.create(AIM_KINDS["AIMClusterModel"], {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMClusterModel",
        "metadata": {"name": "qwen3-ghcr"}, "spec": {"image": "ghcr.io/silogen/qwen3:0.11.0"}})
    api.create(AIM_KINDS["AIMModel"], {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
        "metadata": {"name": "ft-qwen-any", "namespace": "ml-team"},
        "spec": {"aimId": "qwen/qwen3-32b", "custom": {"versionPolicy": "any"},
                 "modelSources": [{"modelId": "qwen/qwen3-32b-fp8", "sourceUri": "s3://my-bucket/weights/"}]}})
    controller = TemplateController(cluster.api("template-controller"))
    copy = ("ml-team", "ft-qwen-any-ft-0-11-0-fp8-mi300x-8ec6419e")
    with running_operator(cluster, FactsInspector("fixtures/finetune.imagefacts")) as operator:
        wait_for(lambda: len(cluster.fake.objects("aimclusterservicetemplates")) == 2)
        wait_for(lambda: controller.step() == 0 and copy in cluster.fake.objects("aimservicetemplates"))
        wait_for(lambda: controller.step() == 0 and cluster.fake.objects("aimmodels")[
            ("ml-team", "ft-qwen-any")]["status"]["status"] == "Ready")
        quiet(operator, cluster)
        writes = cluster.fake.count_attempts("aimcore/op")
        assert writes == cluster.fake.count_writes("aimcore/op")  # every write changed an object
        quiet(operator, cluster)
        assert cluster.fake.count_attempts("aimcore/op") == writes

        copy_uid = cluster.fake.objects("aimservicetemplates")[copy]["metadata"]["uid"]
        cluster_model = cluster.fake.objects("aimclustermodels")[("", "qwen3-ghcr")]
        api.delete(AIM_KINDS["AIMClusterModel"], None, "qwen3-ghcr", cluster_model["metadata"]["uid"])
        wait_for(lambda: copy not in cluster.fake.objects("aimservicetemplates"))
        deletes = [w for w in cluster.fake.writes if w.verb == "delete" and w.agent == "aimcore/op"]
        assert [(w.plural, w.namespace, w.name) for w in deletes] == [("aimservicetemplates", *copy)]
        assert cluster.fake.objects("aimclusterservicetemplates") == {}  # collected with their owner
        assert copy_uid


def test_conflicts_and_server_errors_are_retried_to_the_same_result(cluster: RunningFake) -> None:
    api = cluster.api("user")
    api.create(AIM_KINDS["AIMModel"], model())
    cluster.fake.fail("PATCH", "aimservicetemplates", 409, times=2)
    cluster.fake.fail("PATCH", "aimmodels", 503, times=1, subresource="status")
    with running_operator(cluster, FactsInspector("fixtures/catalog.imagefacts")) as operator:
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(operator.idle)
        assert sorted(n for _, n in cluster.fake.objects("aimservicetemplates")) == QWEN_TEMPLATES
        assert operator.writes == 5
        assert cluster.fake.count_writes("aimcore/op") == 5
        assert cluster.fake.count_attempts("aimcore/op") == 5 + 3  # the three injected failures
        assert [f.times for f in cluster.fake.faults] == [0, 0]


def test_a_broken_watch_is_relisted_and_later_objects_are_reconciled(cluster: RunningFake) -> None:
    api = cluster.api("user")
    with running_operator(cluster, FactsInspector("fixtures/catalog.imagefacts")) as operator:
        models = next(w for w in operator.watchers if w.info.kind == "AIMModel")
        wait_for(lambda: cluster.fake.watches == len(operator.watchers))  # every watch is open
        cluster.fake.drop_watches(error=True)
        wait_for(lambda: models.lists == 2)
        api.create(AIM_KINDS["AIMModel"], model())
        wait_for(lambda: len(cluster.fake.objects("aimservicetemplates")) == 2)
        assert models.lists == 2


def test_a_permanent_error_is_reported_on_the_model(cluster: RunningFake) -> None:
    api = cluster.api("user")
    api.create(AIM_KINDS["AIMModel"], model())
    cluster.fake.fail("PATCH", "aimservicetemplates", 422, times=1)

    def reported() -> list[dict[str, Any]]:
        with cluster.fake.lock:
            events = [e for _, _, plural, e in cluster.fake.history if plural == "aimmodels"]
        return [c for e in events for c in [condition(e["object"], "DependenciesReachable")] if c]

    with running_operator(cluster, FactsInspector("fixtures/catalog.imagefacts")) as operator:
        wait_for(lambda: bool(reported()))
        reachable = reported()[0]
        assert (reachable["status"], reachable["reason"]) == ("False", "InfrastructureError")
        assert reachable["message"].startswith("apply AIMServiceTemplate team/")
        assert reachable["message"].endswith(": 422 Injected: injected 422")
        # retried with backoff: both templates exist in the end and the condition is gone
        wait_for(lambda: len(cluster.fake.objects("aimservicetemplates")) == 2 and not condition(
            cluster.fake.objects("aimmodels")[("team", "qwen")], "DependenciesReachable"))
        wait_for(operator.idle)
        assert cluster.fake.faults[0].times == 0


def test_two_operators_one_lease_only_the_leader_writes(cluster: RunningFake) -> None:
    api = cluster.api("user")
    inspector = FactsInspector("fixtures/catalog.imagefacts")
    lease: dict[str, Any] = {"leader_election": True, "lease_duration": 3.0, "renew_deadline": 2.0,
                             "lease_retry": 0.05, "operator_namespace": "aim-system"}
    with ExitStack() as stack_a, ExitStack() as stack_b:
        a = stack_a.enter_context(running_operator(cluster, inspector, "a", **lease))
        b = stack_b.enter_context(running_operator(cluster, inspector, "b", **lease))
        wait_for(lambda: a.may_write() or b.may_write())
        leader, follower = (a, b) if a.may_write() else (b, a)
        leader_stack = stack_a if leader is a else stack_b
        leader_agent, follower_agent = (f"aimcore/{o.settings.identity}" for o in (leader, follower))
        api.create(AIM_KINDS["AIMModel"], model())
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(leader.idle)
        assert not follower.may_write()
        assert aim_writes(cluster, follower_agent) == 0
        assert aim_writes(cluster, leader_agent) == 5
        held = cluster.fake.objects("leases")[("aim-system", "aimcore-operator")]["spec"]
        assert held["holderIdentity"] == leader.settings.identity

        leader_stack.close()  # stops the leader, which hands the lease back
        wait_for(follower.may_write)
        api.create(AIM_KINDS["AIMModel"], model("second"))
        wait_for(lambda: condition(cluster.fake.objects("aimmodels").get(("team", "second"), {}),
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(follower.idle)
        assert aim_writes(cluster, leader_agent) == 5
        assert aim_writes(cluster, follower_agent) == 5  # the second model only: the first is steady
        held = cluster.fake.objects("leases")[("aim-system", "aimcore-operator")]["spec"]
        assert held["holderIdentity"] == follower.settings.identity


def test_lease_takeover_needs_an_expired_record_and_a_lost_lease_stops_writes(cluster: RunningFake) -> None:
    clock = {"a": 0.0, "b": 0.0}
    a = LeaderElector(cluster.api("a"), namespace="aim-system", name="lease", identity="a",
                      lease_duration=10, renew_deadline=5, clock=lambda: clock["a"])
    b = LeaderElector(cluster.api("b"), namespace="aim-system", name="lease", identity="b",
                      lease_duration=10, renew_deadline=5, clock=lambda: clock["b"])
    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    clock["a"] = clock["b"] = 6.0
    assert a.try_acquire_or_renew() is True  # a renews: the record changes
    assert b.try_acquire_or_renew() is False  # b starts counting again
    clock["a"] = clock["b"] = 15.0  # a stops renewing; 9 s of b's clock since the last change
    assert a.is_leader() is False  # past its renew deadline: a stops writing before b may take over
    assert b.try_acquire_or_renew() is False
    clock["b"] = 16.5
    assert b.try_acquire_or_renew() is True
    spec = cluster.fake.objects("leases")[("aim-system", "lease")]["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert a.try_acquire_or_renew() is False

    api = cluster.api("aimcore/a")
    api.create(AIM_KINDS["AIMModel"], model())
    store = Store()
    items, version = api.list(AIM_KINDS["AIMModel"])
    store.replace_kind(AIM_KINDS["AIMModel"], items, version)
    key = ObjectKey("AIMModel", "team", "qwen")
    status = r.AIMModelStatus(status=r.Status.PENDING)
    before = cluster.fake.count_attempts()
    with pytest.raises(NotLeader):
        Executor(api, store, may_write=a.is_leader).execute(Plan(key, (UpdateStatus(key, status),)), "t")
    assert cluster.fake.count_attempts() == before


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aimcore operator")
    add_operator_arguments(parser)
    return parser.parse_args(argv)


def _kubeconfig(tmp_path: Path, url: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "nobody"}}],
    }))
    return str(path)


def test_once_converges_exits_0_and_a_second_run_writes_nothing(
    cluster: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = cluster.api("user")
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": "pull", "namespace": "team"},
                         "data": {".dockerconfigjson": "c2VjcmV0LXZhbHVl"}})
    api.create(AIM_KINDS["AIMModel"],
               {**model(), "spec": {"image": QWEN, "imagePullSecrets": [{"name": "pull"}]}})
    argv = ("--kubeconfig", _kubeconfig(tmp_path, cluster.url), "--once", "--identity", "once",
            "--images", str(ROOT / "fixtures/catalog.imagefacts"))
    assert operator_command(_args(*argv)) == 0
    assert sorted(n for _, n in cluster.fake.objects("aimservicetemplates")) == QWEN_TEMPLATES
    # status, two templates, status, status; and the lease: created, then handed back
    assert cluster.fake.count_attempts("aimcore/once") == cluster.fake.count_writes("aimcore/once") == 7
    assert aim_writes(cluster, "aimcore/once") == 5
    assert operator_command(_args(*argv)) == 0
    assert aim_attempts(cluster, "aimcore/once") == 5  # the second run: only the lease is written
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {"time", "level", "msg"} <= set(logs[0])
    assert [e["msg"] for e in logs if e["msg"] == "converged"] == ["converged", "converged"]
    assert not any("c2VjcmV0LXZhbHVl" in json.dumps(e) or "secret-value" in json.dumps(e) for e in logs)


def test_once_reports_not_converged_within_max_rounds(cluster: RunningFake, tmp_path: Path) -> None:
    cluster.api("user").create(AIM_KINDS["AIMModel"], model())
    argv = ("--kubeconfig", _kubeconfig(tmp_path, cluster.url), "--once", "--max-rounds", "1",
            "--no-leader-election", "--images", str(ROOT / "fixtures/catalog.imagefacts"))
    assert operator_command(_args(*argv)) == 1


def test_bad_kubeconfig_is_a_usage_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert operator_command(_args("--kubeconfig", str(tmp_path / "missing"), "--once")) == 2
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert logs[-1]["msg"] == "cannot load the cluster configuration"


def test_inspections_run_concurrently_within_the_bound(cluster: RunningFake) -> None:
    api = cluster.api("user")
    for index in range(4):
        api.create(AIM_KINDS["AIMModel"], model(f"m{index}", f"example.com/unknown/m{index}:1"))
    running = {"now": 0, "max": 0}
    lock = threading.Lock()
    facts = FactsInspector("fixtures/catalog.imagefacts")

    def slow(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.05)  # long enough for the other inspections to be submitted meanwhile
        with lock:
            running["now"] -= 1
        return facts(keys)

    with running_operator(cluster, slow, max_concurrent_inspections=2) as operator:
        wait_for(lambda: len(facts.asked) == 4)
        wait_for(operator.idle)
    assert running["max"] == 2
    assert sorted(facts.asked) == [f"example.com/unknown/m{i}:1" for i in range(4)]
    statuses = {n: d["status"]["status"] for (_, n), d in cluster.fake.objects("aimmodels").items()}
    assert set(statuses.values()) == {"Failed"}  # not in the facts file: not found in its registry


def test_workqueue_dedups_and_never_hands_a_key_to_two_workers() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.0)
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert queue.get(0) == "a"
    queue.add("a")  # while a is being worked on: it comes back after done, once
    assert queue.get(0) == "b"
    assert queue.get(0) is None
    queue.done("a")
    assert queue.get(0) == "a"
    queue.done("a")
    queue.done("b")
    assert queue.idle()
    assert queue.retry("c") == 0.0
    assert queue.get(1) == "c"


def test_dependents_follow_owners_model_names_aim_ids_configs_and_secrets() -> None:
    def load(doc: dict[str, Any]) -> r.Resource:
        obj = codec.load(r.KINDS[doc["kind"]], doc)
        assert not isinstance(obj, r.Secret)
        return obj

    base = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                 "metadata": {"name": "base", "namespace": "team", "uid": "u1"},
                 "spec": {"image": QWEN, "runtimeConfigName": "gpu", "imagePullSecrets": [{"name": "pull"}]}})
    tuned = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                  "metadata": {"name": "tuned", "namespace": "team"},
                  "spec": {"aimId": "qwen/qwen3-32b",
                           "modelSources": [{"modelId": "a/b", "sourceUri": "s3://bucket/w"}]}})
    other = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                  "metadata": {"name": "other", "namespace": "elsewhere"}, "spec": {"image": QWEN}})
    cluster_model = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMClusterModel",
                          "metadata": {"name": "shared"}, "spec": {"image": QWEN}})
    template = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
                     "metadata": {"name": "t", "namespace": "team", "ownerReferences": [
                         {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel", "name": "base",
                          "uid": "u1", "controller": True}]},
                     "spec": {"modelName": "base", "aimId": "qwen/qwen3-32b"}})
    config = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMRuntimeConfig",
                   "metadata": {"name": "gpu", "namespace": "team"}, "spec": {}})
    secret = codec.secret_from_manifest({"metadata": {"name": "pull", "namespace": "team"}})
    everything = [base, tuned, other, cluster_model, template, config, secret]

    def keys(obj: r.Resource) -> list[str]:
        change = Change(ObjectKey.of(obj), None, obj)
        return sorted(str(k) for k in dependents(change, everything, "aim-system"))

    assert keys(template) == ["AIMModel team/base", "AIMModel team/tuned"]
    assert keys(config) == ["AIMModel team/base"]
    assert keys(secret) == ["AIMModel team/base"]
    assert keys(base) == ["AIMModel team/base", "AIMModel team/tuned"]
    assert keys(cluster_model) == ["AIMClusterModel shared", "AIMModel team/tuned"]


def test_sigterm_stops_the_operator_cleanly_and_hands_the_lease_back(
    cluster: RunningFake, tmp_path: Path
) -> None:
    code = (
        "import argparse, sys\n"
        "from adapters.operator import add_operator_arguments, operator_command\n"
        "parser = argparse.ArgumentParser()\n"
        "add_operator_arguments(parser)\n"
        "sys.exit(operator_command(parser.parse_args(sys.argv[1:])))\n"
    )
    argv = ["--kubeconfig", _kubeconfig(tmp_path, cluster.url), "--identity", "pod-1",
            "--images", str(ROOT / "fixtures/catalog.imagefacts")]
    process = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: cluster.fake.objects("leases").get(("aim-system", "aimcore-operator"), {})
                 .get("spec", {}).get("holderIdentity") == "pod-1", timeout=30)
        process.terminate()
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    logs = [json.loads(line) for line in err.splitlines()]
    assert [e["msg"] for e in logs if e["msg"] in ("shutting down", "operator stopped")] == \
        ["shutting down", "operator stopped"]
    assert cluster.fake.objects("leases")[("aim-system", "aimcore-operator")]["spec"]["holderIdentity"] == ""


def test_once_does_not_write_while_another_replica_holds_the_lease(cluster: RunningFake) -> None:
    cluster.api("user").create(AIM_KINDS["AIMModel"], model())
    holder = LeaderElector(cluster.api("holder"), namespace="aim-system", name="aimcore-operator",
                           identity="holder", lease_duration=30, renew_deadline=20, retry=0.05)
    assert holder.try_acquire_or_renew()
    holder.start()  # keeps renewing, as a running replica does
    try:
        operator = Operator(cluster.api("aimcore/once"), FactsInspector("fixtures/catalog.imagefacts"),
                            Settings(identity="once", lease_duration=0.3, lease_retry=0.05, backoff=FAST),
                            JsonLog(LOGS))
        assert operator.run_once(5) == 1
    finally:
        holder.stop(release=True)
    assert aim_attempts(cluster, "aimcore/once") == 0


def test_registry_inspections_read_the_pull_secret_when_needed_and_never_show_it(
    cluster: RunningFake, open_registry: RegistryProcess, basic_registry: RegistryProcess
) -> None:
    """The default inspector: a real registry behind Basic auth, the Secret read from the cluster."""
    labels = {"com.amd.aim.model.canonicalName": "acme/operated",
              "com.amd.aim.model.recommendedDeployments":
                  '[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency"}]'}
    push_image(open_registry.url, "models/operated", "v1", labels=labels)
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    config = json.dumps({"auths": {basic_registry.host: {"auth": auth}}}).encode()
    api = cluster.api("user")
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                         "metadata": {"name": "private-registry", "namespace": "ml-team"},
                         "data": {".dockerconfigjson": base64.b64encode(config).decode()}})
    api.create(AIM_KINDS["AIMRuntimeConfig"], {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": "ml-team"},
        "spec": {"imagePullSecrets": [{"name": "private-registry"}]}})
    api.create(AIM_KINDS["AIMModel"],
               model("operated", f"{basic_registry.host}/models/operated:v1", "ml-team"))
    logs = io.StringIO()
    with running_operator(cluster, kube_inspector(cluster.api("aimcore/op")), logs=logs) as operator:
        wait_for(lambda: len(cluster.fake.objects("aimservicetemplates")) == 1)
        wait_for(operator.idle)
        status = cluster.fake.objects("aimmodels")[("ml-team", "operated")]["status"]
        assert status["imageMetadata"]["model"]["canonicalName"] == "acme/operated"
        assert all(BASIC_PASSWORD not in repr(obj) for obj in operator.store.objects())
    everything = repr([cluster.fake.objects(p) for p in AIM_PLURALS])
    assert BASIC_PASSWORD not in everything and auth not in everything
    assert BASIC_PASSWORD not in logs.getvalue() and auth not in logs.getvalue()
    assert '"msg": "inspected"' in logs.getvalue()


def test_models_read_as_v1alpha2_get_their_profiles(cluster: RunningFake, tmp_path: Path) -> None:
    """D23 on a cluster: a model's apiVersion is the version it is read in (one schema, two versions)."""
    cluster.api("user").create(AIM_KINDS["AIMModel"], model())
    argv = ("--kubeconfig", _kubeconfig(tmp_path, cluster.url), "--once", "--identity", "v2",
            "--images", str(ROOT / "fixtures/catalog.imagefacts"), "--models-api-version", "v1alpha2")
    assert operator_command(_args(*argv)) == 0
    assert len(cluster.fake.objects("aimservicetemplates")) == len(QWEN_TEMPLATES)
    profiles = cluster.fake.objects("aimprofiles")
    assert len(profiles) == len(QWEN_TEMPLATES)
    assert {ns for ns, _ in profiles} == {"team"}
    without = ("--kubeconfig", _kubeconfig(tmp_path, cluster.url), "--once", "--identity", "v1",
               "--images", str(ROOT / "fixtures/catalog.imagefacts"))
    assert operator_command(_args(*without)) == 0
    assert len(cluster.fake.objects("aimprofiles")) == len(QWEN_TEMPLATES)  # never deleted for that


def test_periodic_resync_reconciles_everything_and_a_steady_cluster_stays_unwritten(
    cluster: RunningFake,
) -> None:
    cluster.api("user").create(AIM_KINDS["AIMModel"], model())
    inspector = FactsInspector("fixtures/catalog.imagefacts")
    with running_operator(cluster, inspector, resync_seconds=0.2) as operator:
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(operator.idle)
        writes, reconciles = operator.writes, operator.reconciles
        wait_for(lambda: operator.reconciles >= reconciles + 2)  # two resyncs of the one model
        wait_for(operator.idle)
        assert operator.writes == writes
