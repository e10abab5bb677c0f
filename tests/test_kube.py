"""The Kubernetes adapter verb by verb: list, watch, apply, status, delete, retries, re-list.

The API is kmock extended by tests/kube_support.py (FakeKube): uids, resourceVersions,
generation, 201 on create, server-side apply that creates, the status subresource,
uid preconditions, watch history and 410 Gone, injected faults and garbage collection
are the extension's, not kmock's. Nothing here relies on schema validation or defaults.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.dependents import Change
from adapters.kubeapi import AIM_KINDS, SECRETS, ApiError, Backoff, KubeApi
from adapters.kubeexec import DEPENDENCIES_REACHABLE, Executor, apply_body
from adapters.kubestore import Store, Watcher
from aimcore import codec
from aimcore import resources as r
from aimcore.plan import Apply, Delete, Plan, UpdateStatus
from aimcore.snapshot import ObjectKey
from tests.kube_support import RunningFake

MODELS = AIM_KINDS["AIMModel"]
TEMPLATES = AIM_KINDS["AIMServiceTemplate"]
FAST = Backoff(base=0.001, cap=0.01, attempts=4)


@pytest.fixture
def cluster() -> Iterator[RunningFake]:
    with RunningFake() as running:
        yield running


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for an event, generously; the assertion is on what happened, not on when."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def model_doc(name: str = "m", image: str = "example.com/aim:1") -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": "team"}, "spec": {"image": image}}


def template(owner: dict[str, Any], name: str = "t", precision: str = "fp8") -> r.AIMServiceTemplate:
    return codec.load(r.AIMServiceTemplate, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": name, "namespace": "team",
                     "labels": {"aim.eai.amd.com/origin": "auto-generated"},
                     "ownerReferences": [{"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                                          "name": owner["metadata"]["name"],
                                          "uid": owner["metadata"]["uid"], "controller": True}]},
        "spec": {"modelName": owner["metadata"]["name"], "precision": precision},
    })


def loaded(api: KubeApi) -> Store:
    store = Store()
    for info in (MODELS, TEMPLATES, SECRETS):
        items, version = api.list(info)
        store.replace_kind(info, items, version)
    return store


def test_list_gives_items_and_the_list_resource_version(cluster: RunningFake) -> None:
    api = cluster.api()
    created = api.create(MODELS, model_doc())
    items, version = api.list(MODELS)
    assert version == created["metadata"]["resourceVersion"] == "1"
    assert [i["metadata"]["name"] for i in items] == ["m"]
    assert items[0]["kind"] == "AIMModel"
    assert api.list(MODELS, "elsewhere") == ([], "1")


def test_store_keeps_secret_key_names_never_values(cluster: RunningFake) -> None:
    api = cluster.api()
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                         "metadata": {"name": "pull", "namespace": "team"},
                         "data": {".dockerconfigjson": "c2VjcmV0LXZhbHVl"}})
    store = loaded(api)
    secret = store.get(ObjectKey("Secret", "team", "pull"))
    assert isinstance(secret, r.Secret)
    assert secret.keys == (".dockerconfigjson",)
    assert secret.type == "kubernetes.io/dockerconfigjson"  # kmock ignores the metadata-only Accept
    assert "c2VjcmV0LXZhbHVl" not in repr(store.objects())
    partial = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    with cluster.fake.lock:
        accepts = {(path, accept) for method, path, accept in cluster.fake.accepts if method == "GET"}
    assert ("/api/v1/secrets", partial) in accepts  # a real server sends no values at all
    assert ("/apis/aim.eai.amd.com/v1alpha1/aimmodels", "application/json") in accepts


def test_store_drops_stale_events_and_duplicates(cluster: RunningFake) -> None:
    api = cluster.api()
    first = api.create(MODELS, model_doc())
    second = api.apply(MODELS, {**model_doc(), "spec": {"image": "example.com/aim:2"}})
    store = Store()
    assert store.upsert(second) is not None
    assert store.upsert(first) is None  # older resourceVersion
    assert store.upsert(second) is None  # same resourceVersion: nothing changed
    gone = store.remove({**second, "metadata": {**second["metadata"], "uid": "someone-else"}})
    assert gone is None  # a different object of the same name
    assert store.remove(second) == Change(ObjectKey("AIMModel", "team", "m"),
                                          store_get_none_guard(second), None)


def store_get_none_guard(doc: dict[str, Any]) -> r.Resource:
    obj = codec.load(r.AIMModel, doc)
    return obj


def test_watch_applies_added_modified_deleted(cluster: RunningFake) -> None:
    api = cluster.api()
    store = Store()
    seen: list[tuple[str, bool, bool]] = []
    lock = threading.Lock()

    def record(changes: list[Change]) -> None:
        with lock:
            seen.extend((str(c.key), c.before is not None, c.after is not None) for c in changes)

    watcher = Watcher(api, MODELS, store, record, backoff=FAST)
    watcher.start()
    try:
        wait_for(watcher.synced.is_set)
        created = api.create(MODELS, model_doc())
        api.apply(MODELS, {**model_doc(), "spec": {"image": "example.com/aim:2"}})
        wait_for(lambda: len(seen) == 2)
        api.delete(MODELS, "team", "m", created["metadata"]["uid"])
        wait_for(lambda: len(seen) == 3)
    finally:
        watcher.stop()
        watcher.join(5)
    assert seen == [("AIMModel team/m", False, True), ("AIMModel team/m", True, True),
                    ("AIMModel team/m", True, False)]
    assert store.get(ObjectKey("AIMModel", "team", "m")) is None
    assert store.versions["AIMModel"] == "3"  # the list's "0", moved on by each event
    assert watcher.lists == 1


def test_broken_watch_relists_and_catches_up(cluster: RunningFake) -> None:
    api = cluster.api()
    store = Store()
    watcher = Watcher(api, MODELS, store, lambda changes: None, backoff=FAST)
    watcher.start()
    try:
        wait_for(watcher.synced.is_set)
        wait_for(lambda: cluster.fake.watches == 1)
        cluster.fake.drop_watches(error=True)
        wait_for(lambda: watcher.lists == 2)
        api.create(MODELS, model_doc("after"))
        wait_for(lambda: store.get(ObjectKey("AIMModel", "team", "after")) is not None)
    finally:
        watcher.stop()
        watcher.join(5)
    assert watcher.lists == 2


def test_gone_watch_relists(cluster: RunningFake) -> None:
    """A clean end of the stream re-watches from the last version; 410 Gone forces a re-list."""
    api = cluster.api()
    store = Store()
    watcher = Watcher(api, MODELS, store, lambda changes: None, backoff=FAST)
    watcher.start()
    try:
        wait_for(lambda: cluster.fake.watches == 1)
        api.create(MODELS, model_doc("one"))
        wait_for(lambda: store.get(ObjectKey("AIMModel", "team", "one")) is not None)
        cluster.fake.drop_watches()  # clean end: re-watch, no list
        wait_for(lambda: cluster.fake.watches == 2)
        assert watcher.lists == 1
        api.create(MODELS, model_doc("two"))  # version 2
        cluster.fake.compact()
        cluster.fake.drop_watches()  # the re-watch from version 1 is Gone
        wait_for(lambda: watcher.lists == 2)
        wait_for(lambda: store.get(ObjectKey("AIMModel", "team", "two")) is not None)
    finally:
        watcher.stop()
        watcher.join(5)
    assert [k.name for k in store.all_keys()] == ["one", "two"]


def test_apply_creates_with_ssa_then_writes_nothing_when_unchanged(cluster: RunningFake) -> None:
    api = cluster.api("aimcore/test")
    owner = api.create(MODELS, model_doc())
    store = loaded(api)
    desired = template(owner)
    executor = Executor(api, store, backoff=FAST)
    plan = Plan(ObjectKey("AIMModel", "team", "m"), (Apply(desired, "create"),))
    first = executor.execute(plan, "2026-01-01T00:00:00Z")
    assert first.writes == [("apply", ObjectKey("AIMServiceTemplate", "team", "t"))]
    stored = cluster.fake.objects("aimservicetemplates")[("team", "t")]
    assert stored["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert stored["spec"] == {"modelName": "m", "precision": "fp8"}
    assert cluster.fake.attempts[-1].verb == "patch"
    second = executor.execute(plan, "2026-01-01T00:00:00Z")
    assert second.writes == []
    assert cluster.fake.count_attempts("aimcore/test") == 2  # the create above, and one apply
    body = apply_body(desired)
    assert set(body["metadata"]) == {"name", "namespace", "labels", "ownerReferences"}


def test_status_goes_through_the_subresource_only_when_changed(cluster: RunningFake) -> None:
    api = cluster.api()
    api.create(MODELS, model_doc())
    store = loaded(api)
    executor = Executor(api, store, backoff=FAST)
    key = ObjectKey("AIMModel", "team", "m")
    status = r.AIMModelStatus(status=r.Status.PROGRESSING, observed_generation=1)
    plan = Plan(key, (UpdateStatus(key, status),), status)
    assert executor.execute(plan, "t").writes == [("status", key)]
    stored = cluster.fake.objects("aimmodels")[("team", "m")]
    assert stored["status"] == {"observedGeneration": 1, "status": "Progressing"}
    assert stored["metadata"]["generation"] == 1
    assert cluster.fake.writes[-1].subresource == "status"
    assert executor.execute(plan, "t").writes == []


def test_delete_carries_the_uid_precondition(cluster: RunningFake) -> None:
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    child = api.apply(TEMPLATES, apply_body(template(owner)))
    with pytest.raises(ApiError) as refused:
        api.delete(TEMPLATES, "team", "t", "not-its-uid")
    assert refused.value.status == 409
    store = loaded(api)
    executor = Executor(api, store, backoff=FAST)
    key = ObjectKey("AIMServiceTemplate", "team", "t")
    stale = executor.execute(Plan(key, (Delete(key, "not-its-uid", "stale"),)), "t")
    assert stale.writes == []  # the store already shows another object: nothing to delete
    done = executor.execute(Plan(key, (Delete(key, child["metadata"]["uid"], "gone"),)), "t")
    assert done.writes == [("delete", key)]
    assert cluster.fake.objects("aimservicetemplates") == {}
    assert store.get(key) is None


def test_deleting_an_owner_collects_its_children(cluster: RunningFake) -> None:
    """Garbage collection is the FakeKube extension's (kmock has none)."""
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    api.apply(TEMPLATES, apply_body(template(owner)))
    api.delete(MODELS, "team", "m", owner["metadata"]["uid"])
    assert cluster.fake.objects("aimservicetemplates") == {}


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_transient_errors_are_retried(cluster: RunningFake, status: int) -> None:
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
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    store = loaded(api)
    cluster.fake.fail("PATCH", "aimservicetemplates", 503, times=10)
    executor = Executor(api, store, backoff=FAST)
    with pytest.raises(ApiError) as raised:
        executor.execute(Plan(ObjectKey("AIMModel", "team", "m"), (Apply(template(owner), "x"),)), "t")
    assert raised.value.status == 503
    assert len(cluster.fake.attempts) == 1 + FAST.attempts


def test_permanent_error_is_recorded_on_the_owner_status(cluster: RunningFake) -> None:
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    store = loaded(api)
    cluster.fake.fail("PATCH", "aimservicetemplates", 422, times=1)
    executor = Executor(api, store, backoff=FAST)
    key = ObjectKey("AIMModel", "team", "m")
    status = r.AIMModelStatus(status=r.Status.PROGRESSING, conditions=(
        r.Condition(type="Ready", status=r.ConditionStatus.FALSE, reason="CreatingTemplates"),))
    plan = Plan(key, (Apply(template(owner), "create"), UpdateStatus(key, status)), status)
    outcome = executor.execute(plan, "2026-01-01T00:00:00Z")
    assert [(f.verb, f.error.status) for f in outcome.failures] == [("apply", 422)]
    written = cluster.fake.objects("aimmodels")[("team", "m")]["status"]
    assert written["status"] == "Degraded"
    assert written["conditions"][-1] == {
        "type": DEPENDENCIES_REACHABLE, "status": "False", "reason": "InfrastructureError",
        "message": "apply AIMServiceTemplate team/t: 422 Injected: injected 422",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def test_no_answer_is_a_transient_error() -> None:
    api = KubeApi.for_host("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ApiError) as raised:
        api.list(MODELS)
    assert raised.value.status == 0
    assert raised.value.transient


def test_apply_addresses_the_version_its_body_names(cluster: RunningFake) -> None:
    api = cluster.api()
    owner = api.create(MODELS, model_doc())
    body = {**apply_body(template(owner)), "apiVersion": "aim.eai.amd.com/v1alpha2"}
    api.apply(TEMPLATES, body)
    patches = [path for method, path in cluster.fake.calls if method == "PATCH"]
    assert patches == ["/apis/aim.eai.amd.com/v1alpha2/namespaces/team/aimservicetemplates/t"]
