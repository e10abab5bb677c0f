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

from adapters.dependents import Change, DependencyIndex, dependents, gpu_dependents
from adapters.kubeapi import AIM_KINDS, Backoff
from adapters.operator import (
    JsonLog,
    Operator,
    Settings,
    add_operator_arguments,
    operator_command,
)
from adapters.workqueue import WorkQueue
from aimcore import codec, gpus
from aimcore import resources as r
from aimcore.discoveryjob import template_of
from aimcore.snapshot import ObjectKey
from tests.cluster.support import FactsInspector
from tests.kube_support import RunningFake

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
        wait_for(lambda: condition(cluster.fake.objects("aimmodels")[("team", "qwen")],
                                   "ServiceTemplatesReady").get("reason") == "TemplatesProgressing")
        wait_for(operator.idle)
        assert sorted(n for _, n in cluster.fake.objects("aimservicetemplates")) == QWEN_TEMPLATES
        # The model's status three times, its two templates, and their statuses (NotAvailable:
        # kmock has no Nodes, so no GPU and no discovery Job).
        assert operator.writes == 7
        assert cluster.fake.count_writes("aimcore/op") == 7
        assert cluster.fake.count_attempts("aimcore/op") == 7 + 3  # the three injected failures
        assert [f.times for f in cluster.fake.faults] == [0, 0]


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

