"""The operator's parts that need no real API server, and the faults a real one cannot make.

The operator end to end runs on a real control plane: tests/cluster/test_cluster_operator.py
and tests/cluster/test_cluster_operator_loop.py. What stays here: the work queue and the
dependency rules (pure), a missing kubeconfig (no server at all), and transient faults (409 on
an apply, 503 on a status write) that a real API server cannot be made to answer on demand, for
which kmock, extended in tests/kube_support.py (FakeKube), injects them.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from aimcore import codec, gpus
from aimcore import resources as r
from aimcore.adapters.common.dependents import Change, DependencyIndex, dependents, gpu_dependents
from aimcore.adapters.kube.api import AIM_KINDS, SECRETS, ApiError, Backoff, with_retries
from aimcore.adapters.kube.operator import (
    JsonLog,
    Operator,
    Settings,
    add_operator_arguments,
    kube_inspector,
    operator_command,
)
from aimcore.adapters.kube.workqueue import WorkQueue
from aimcore.discoveryjob import template_of
from aimcore.facts import FailureKind, ImageFacts, InspectFailure
from aimcore.snapshot import InspectKey, ObjectKey, SecretRef
from tests.cluster.support import FactsInspector
from tests.kube_support import RunningFake
from tests.registry_server import BASIC_PASSWORD, BASIC_USER, RegistryProcess, push_image
from tests.test_registry import pull_secret
from tests.test_registry_faults import Image, Misbehaving, serve  # noqa: F401 (serve: a fixture)

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


def model(name: str = "qwen", image: str = QWEN, namespace: str = "team") -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": image}}


def condition(doc: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (doc.get("status") or {}).get("conditions") or () if c["type"] == type_]
    return found[0] if found else {}


def test_conflicts_and_server_errors_are_retried_to_the_same_result(cluster: RunningFake) -> None:
    """kmock: a real API server answers no 409 to a forced apply, and no 503, on demand."""
    api = cluster.api("user")
    api.create(AIM_KINDS["AIMModel"], model())
    cluster.fake.fail("PATCH", "aimservicetemplates", 409, times=2)
    cluster.fake.fail("PATCH", "aimmodels", 503, times=1, subresource="status")
    with running_operator(cluster, FactsInspector("fixtures/catalog.imagefacts")) as operator:
        # The final state (kmock has no Nodes, so the templates are NotAvailable), not a passing one.
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "Ready").get("reason") == "NoTemplatesAvailable")
        wait_for(operator.idle)
        assert sorted(n for _, n in cluster.fake.objects("aimservicetemplates")) == QWEN_TEMPLATES
        # The model's status three times, its two templates, and their statuses (NotAvailable:
        # kmock has no Nodes, so no GPU and no discovery Job).
        assert operator.writes == 7
        assert cluster.fake.count_writes("aimcore/op") == 7
        assert cluster.fake.count_attempts("aimcore/op") == 7 + 3  # the three injected failures
        assert [f.times for f in cluster.fake.faults] == [0, 0]


def test_the_api_servers_retry_after_is_honoured(cluster: RunningFake) -> None:
    """kmock: a real API server answers 429 with Retry-After only under load it cannot be put in here."""
    api = cluster.api("reader")
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": "s", "namespace": "team"}})
    cluster.fake.fail("GET", "secrets", 429, times=1, name="s", retry_after=3)
    with pytest.raises(ApiError) as refused:
        api.get(SECRETS, "team", "s")
    assert (refused.value.status, refused.value.retry_after) == (429, 3.0)
    cluster.fake.fail("GET", "secrets", 429, times=1, name="s", retry_after=3)
    slept: list[float] = []
    doc = with_retries(lambda: api.get(SECRETS, "team", "s"), Backoff(base=0.01, cap=10, attempts=3),
                       sleep=slept.append)
    assert doc["metadata"]["name"] == "s"
    assert slept == [3.0]  # the server's wait, not the 10 ms backoff


def test_a_key_whose_writes_keep_failing_never_stalls_the_others(cluster: RunningFake) -> None:
    """The worker never sleeps on a failed write: the failing key comes back on its own backoff
    (at least the server's Retry-After) while every other key converges."""
    api = cluster.api("user")
    for name in ("stuck", "fine-1", "fine-2"):
        api.create(AIM_KINDS["AIMModel"], model(name))
    cluster.fake.fail("PATCH", "aimmodels", 409, times=10**6, subresource="status", name="stuck")
    logs = io.StringIO()
    inspector = FactsInspector("fixtures/catalog.imagefacts")
    with running_operator(cluster, inspector, logs=logs, backoff=Backoff(base=2.0, cap=10.0, attempts=6)):
        def settled(name: str) -> bool:  # kmock has no Nodes: its templates are NotAvailable
            doc = cluster.fake.objects("aimmodels")[("team", name)]
            return condition(doc, "Ready").get("reason") == "NoTemplatesAvailable"

        def retries() -> list[dict[str, Any]]:
            return [json.loads(line) for line in logs.getvalue().splitlines()
                    if '"reconcile failed, will retry"' in line]

        wait_for(lambda: settled("fine-1") and settled("fine-2") and len(retries()) >= 4)
    assert {r["key"] for r in retries()} == {"AIMModel team/stuck"}
    # Each retry of the stuck key waits longer than the one before (per-key backoff from the
    # 0.02 s base), and each is one attempt: the 2 s in-place backoff given above is never slept.
    delays = [r["retry_in"] for r in retries()][:4]
    assert delays == [0.02, 0.04, 0.08, 0.16]
    assert not (cluster.fake.objects("aimmodels")[("team", "stuck")].get("status") or {}).get("status")
    attempts = [w for w in cluster.fake.attempts if w.name == "stuck" and w.subresource == "status"]
    assert len(attempts) >= len(retries())  # one write attempt per reconcile, no in-place retries


def test_a_transient_error_reading_a_pull_secret_is_retried_and_the_registry_never_asked_without_it(
    cluster: RunningFake, basic_registry: RegistryProcess, open_registry: RegistryProcess
) -> None:
    push_image(open_registry.url, "private/model", "1", labels={"a": "b"})
    api = cluster.api("op")
    secret = pull_secret(basic_registry.host, BASIC_USER, BASIC_PASSWORD, namespace="team")
    api.create(SECRETS, secret)
    key = InspectKey(image=f"{basic_registry.host}/private/model:1", secrets=(SecretRef("team", "pull"),))
    inspect = kube_inspector(api, Backoff(base=0.001, cap=0.01, attempts=3))

    cluster.fake.fail("GET", "secrets", 503, times=3, name="pull")  # more than the in-place retries
    assert inspect([key])[key] == InspectFailure(
        FailureKind.UNREACHABLE,
        "could not read pull secret team/pull (503 Injected: injected 503); retrying",
    )
    assert not FailureKind.UNREACHABLE.permanent  # the model is Degraded and asks again soon, not Failed

    cluster.fake.fail("GET", "secrets", 503, times=2, name="pull")  # within the retries: not even seen
    found = inspect([key])[key]
    assert isinstance(found, ImageFacts) and found.labels == {"a": "b"}

    cluster.fake.fail("GET", "secrets", 403, times=1, name="pull")
    assert inspect([key])[key] == InspectFailure(
        FailureKind.UNAUTHORIZED,
        "the operator may not read pull secret team/pull (403 Injected): grant it get on secrets there")


def test_registries_that_hang_never_hold_up_a_healthy_one(
    cluster: RunningFake, serve: Callable[[Any], Misbehaving]  # noqa: F811 (the imported fixture)
) -> None:
    """Issue 20, fault 1: four registries that never answer, as many as the operator's inspection
    width, and a fifth that answers at once. Each registry has its own lanes, so the healthy model
    gets its metadata while the others still wait for their deadline."""
    stalled = [serve(lambda conn, request: conn.hold()) for _ in range(4)]
    image = Image({"com.amd.aim.model.canonicalName": "acme/healthy"})
    healthy = serve(lambda conn, request: image.answer(conn, request))
    api = cluster.api("user")
    for i, server in enumerate(stalled):
        api.create(AIM_KINDS["AIMModel"], model(f"slow-{i}", f"{server.host}/x/y:1"))
    logs = io.StringIO()
    with running_operator(cluster, kube_inspector(cluster.api("aimcore/op")), logs=logs,
                          max_concurrent_inspections=4):
        wait_for(lambda: all(s.requests for s in stalled))  # every lane of the slow ones is taken
        api.create(AIM_KINDS["AIMModel"], model("fine", f"{healthy.host}/x/y:1"))

        def has_metadata() -> bool:
            doc = cluster.fake.objects("aimmodels")[("team", "fine")]
            return condition(doc, "ImageMetadataReady").get("status") == "True"

        wait_for(has_metadata, 10)  # the stalled ones only give up after their 60 s deadline
        assert not any(line for line in logs.getvalue().splitlines() if '"result": "unreachable"' in line)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aimcore operator")
    add_operator_arguments(parser)
    return parser.parse_args(argv)


def test_bad_kubeconfig_is_a_usage_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert operator_command(_args("--kubeconfig", str(tmp_path / "missing"), "--once")) == 2
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert logs[-1]["msg"] == "cannot load the cluster configuration"


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
                     "spec": {"modelName": "base", "aimId": "qwen/qwen3-32b", "runtimeConfigName": "gpu"}})
    config = load({"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMRuntimeConfig",
                   "metadata": {"name": "gpu", "namespace": "team"}, "spec": {}})
    secret = codec.secret_from_manifest({"metadata": {"name": "pull", "namespace": "team"}})
    everything = [base, tuned, other, cluster_model, template, config, secret]

    def keys(obj: r.Resource) -> list[str]:
        change = Change(ObjectKey.of(obj), None, obj)
        return sorted(str(k) for k in dependents(change, everything, "aim-system"))

    # A template is reconciled itself (its status), and so are its model and the copies of its aimId.
    assert keys(template) == ["AIMModel team/base", "AIMModel team/tuned", "AIMServiceTemplate team/t"]
    assert keys(config) == ["AIMModel team/base", "AIMServiceTemplate team/t"]
    assert keys(secret) == ["AIMModel team/base"]
    # A model's templates read its image and state.
    assert keys(base) == ["AIMModel team/base", "AIMModel team/tuned", "AIMServiceTemplate team/t"]
    assert keys(cluster_model) == ["AIMClusterModel shared", "AIMModel team/tuned"]


def test_a_gpu_inventory_change_reaches_only_the_templates_it_can_move() -> None:
    def template(name: str, gpu: dict[str, Any] | None, kind: str = "AIMServiceTemplate") -> r.Resource:
        namespaced = kind == "AIMServiceTemplate"
        meta: dict[str, Any] = {"name": name} | ({"namespace": "team"} if namespaced else {})
        spec: dict[str, Any] = {"modelName": "m"} | ({"hardware": {"gpu": gpu}} if gpu is not None else {})
        return codec.load(r.KINDS[kind], {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": kind,
                                          "metadata": meta, "spec": spec})

    index = DependencyIndex.build([
        template("mi300x", {"requests": 1, "model": "MI300X"}),
        template("either", {"requests": 1, "models": ["mi325x", "MI355X"]}, "AIMClusterServiceTemplate"),
        template("any", {"requests": 2}),
        template("vram", {"minVram": "100Gi"}),
        template("cpu", None),
    ])
    mi300x = {"amd.com/gpu.device-id": "74a1"}
    before = gpus.gpu_inventory([("a", mi300x)])

    def reached(*nodes: tuple[str, dict[str, str]]) -> list[str]:
        return sorted(str(k) for k in gpu_dependents(before, gpus.gpu_inventory(nodes), index))

    assert reached(("a", mi300x), ("b", mi300x)) == []  # a second MI300X node changes nothing
    assert reached(("a", {**mi300x, "team": "x"})) == []  # nor a label the rules do not read
    assert reached(("a", mi300x), ("b", {"amd.com/gpu.device-id": "74a5"})) == [
        "AIMClusterServiceTemplate either", "AIMServiceTemplate team/any"
    ]
    assert reached() == ["AIMServiceTemplate team/any", "AIMServiceTemplate team/mi300x"]
    assert reached(("a", {**mi300x, "amd.com/gpu.vram": "100G"})) == [  # VRAM fixed by label now
        "AIMServiceTemplate team/any", "AIMServiceTemplate team/mi300x"
    ]


def test_discovery_jobs_and_pods_name_their_template_by_label() -> None:
    assert template_of({"aim.eai.amd.com/service-template.name": "t"}, "team") == (
        "AIMServiceTemplate", "team", "t")
    assert template_of({"aim.eai.amd.com/cluster-service-template.name": "c"}, "aim-system") == (
        "AIMClusterServiceTemplate", "", "c")
    assert template_of({"job-name": "x"}, "team") is None

