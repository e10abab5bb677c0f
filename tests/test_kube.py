"""The Kubernetes adapter where only a fake can show it: injected transient faults, and no server.

Everything else the adapter does (list, watch and re-list, server-side apply, the status
subresource, uid preconditions, garbage collection, permanent errors, versions) is tested
against a real API server in tests/cluster/test_cluster_api.py. What stays here is what a
real server cannot be made to produce on demand: a 409, 429, 500 or 503 answered to a
forced server-side apply a given number of times, then success (kmock extended by
tests/kube_support.py, FakeKube: `fail(...)`); and no server at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.kube.api import AIM_KINDS, ApiError, Backoff, KubeApi
from aimcore.adapters.kube.executor import Executor
from aimcore.adapters.kube.store import Store
from aimcore.plan import Apply, Plan
from aimcore.snapshot import ObjectKey
from tests.kube_support import RunningFake

MODELS = AIM_KINDS["AIMModel"]
FAST = Backoff(base=0.001, cap=0.01, attempts=4)


@pytest.fixture
def cluster() -> Iterator[RunningFake]:
    with RunningFake() as running:
        yield running


def model_doc() -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": "m", "namespace": "team"}, "spec": {"image": "example.com/aim:1"}}


def template(owner: dict[str, Any]) -> r.AIMServiceTemplate:
    return codec.load(r.AIMServiceTemplate, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "t", "namespace": "team",
                     "labels": {"aim.eai.amd.com/origin": "auto-generated"},
                     "ownerReferences": [{"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                                          "name": owner["metadata"]["name"],
                                          "uid": owner["metadata"]["uid"], "controller": True}]},
        "spec": {"modelName": owner["metadata"]["name"], "precision": "fp8"},
    })


def loaded(api: KubeApi) -> Store:
    store = Store()
    items, version = api.list(MODELS)
    store.replace_kind(MODELS, items, version)
    return store


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_transient_errors_are_retried(cluster: RunningFake, status: int) -> None:
    """A real API server cannot be made to answer a forced server-side apply with 409, 429, 500 or
    503 twice and then accept it: the fake does, and the executor's retries must carry it through."""
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    store = loaded(api)
    cluster.fake.fail("PATCH", "aimservicetemplates", status, times=2)
    executor = Executor(api, store, backoff=FAST)
    key = ObjectKey("AIMModel", "team", "m")
    outcome = executor.execute(Plan(key, (Apply(template(owner), "create"),)), "t")
    assert outcome.writes == [("apply", ObjectKey("AIMServiceTemplate", "team", "t"))]
    assert outcome.failures == []
    assert [a.verb for a in cluster.fake.attempts[1:]] == ["patch", "patch", "patch"]
    assert cluster.fake.count_writes() == 2  # the model's create and the one successful apply


def test_transient_errors_left_after_retries_are_raised(cluster: RunningFake) -> None:
    """A real API server cannot be made to answer 503 on demand, every time: the fake does, and
    the executor raises the last transient error once its attempts are spent."""
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    store = loaded(api)
    cluster.fake.fail("PATCH", "aimservicetemplates", 503, times=10)
    executor = Executor(api, store, backoff=FAST)
    with pytest.raises(ApiError) as raised:
        executor.execute(Plan(ObjectKey("AIMModel", "team", "m"), (Apply(template(owner), "x"),)), "t")
    assert raised.value.status == 503
    assert len(cluster.fake.attempts) == 1 + FAST.attempts


def test_no_answer_is_a_transient_error() -> None:
    """No server at all (nothing listens on the discard port): a transient error with status 0."""
    api = KubeApi.for_host("http://127.0.0.1:9")
    with pytest.raises(ApiError) as raised:
        api.list(MODELS)
    assert raised.value.status == 0
    assert raised.value.transient


def test_an_object_too_large_for_etcd_is_not_retried() -> None:
    """etcd's refusal comes back as a 500 that no retry can pass (seen on the real control plane in
    tests/cluster/test_cluster_status_size.py); other server errors may pass."""
    assert not ApiError(500, "InternalError", "etcdserver: request is too large").transient
    exhausted = "rpc error: code = ResourceExhausted desc = trying to send message larger than max"
    assert not ApiError(500, "InternalError", exhausted).transient
    assert ApiError(500, "InternalError", "something broke").transient
    assert ApiError(503, "ServiceUnavailable", "").transient
