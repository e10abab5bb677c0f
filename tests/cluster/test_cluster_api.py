"""The Kubernetes adapter verb by verb on a real API server: list, watch, apply, status, delete,
garbage collection, permanent errors and re-lists.

These were kmock tests (tests/test_kube.py); the real server now shows what a fake could only
imitate: opaque resourceVersions, metadata-only Secret lists, server-side apply and the status
subresource, uid preconditions, a watch ended by its timeout, a real 410 Gone after a restart,
the garbage collector and admission refusals. Writes are counted from the API server's audit log.
What a real server cannot be made to produce on demand (transient 409/429/5xx faults, no server
at all) stays on kmock in tests/test_kube.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.common.dependents import Change
from aimcore.adapters.kube.api import (
    AIM_KINDS,
    APPLY_PATCH,
    SECRETS,
    ApiError,
    Backoff,
    KindInfo,
    KubeApi,
)
from aimcore.adapters.kube.executor import DEPENDENCIES_REACHABLE, Executor, apply_body
from aimcore.adapters.kube.store import Store, Watcher
from aimcore.plan import Apply, Delete, Plan, UpdateStatus
from aimcore.snapshot import ObjectKey
from tests.cluster.fixtures import CONFIGMAPS, KubeCluster, wait_for
from tests.cluster.support import GatedApi, audit_writes, refused_writes, write_summary

pytestmark = pytest.mark.cluster

MODELS = AIM_KINDS["AIMModel"]
TEMPLATES = AIM_KINDS["AIMServiceTemplate"]
FAST = Backoff(base=0.05, cap=0.5, attempts=4)
NOW = "2026-01-01T00:00:00Z"
#: base64 of a docker config: a real server checks that a dockerconfigjson Secret holds JSON.
DOCKER_CONFIG = "eyJhdXRocyI6IHsiZXhhbXBsZS5jb20iOiB7ImF1dGgiOiAiYzJWamNtVjAifX19"


def model_doc(namespace: str, name: str = "m", image: str = "example.com/aim:1") -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": image}}


def template(owner: dict[str, Any], name: str = "t", precision: str = "fp8", **spec: Any
             ) -> r.AIMServiceTemplate:
    meta = owner["metadata"]
    return codec.load(r.AIMServiceTemplate, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": name, "namespace": meta["namespace"],
                     "labels": {"aim.eai.amd.com/origin": "auto-generated"},
                     "ownerReferences": [{"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                                          "name": meta["name"], "uid": meta["uid"], "controller": True}]},
        "spec": {"modelName": meta["name"], "precision": precision, **spec},
    })


def loaded(api: KubeApi, namespace: str) -> Store:
    """A store listed as the operator lists it, limited to one namespace."""
    store = Store()
    for info in (MODELS, TEMPLATES, SECRETS):
        items, version = api.list(info, namespace)
        store.replace_kind(info, items, version, namespace)
    return store


def rv(doc: dict[str, Any]) -> int:
    """A resourceVersion as a number: opaque to clients, but the store orders events by it."""
    return int(doc["metadata"]["resourceVersion"])


def exists(api: KubeApi, info: KindInfo, namespace: str, name: str) -> bool:
    try:
        api.get(info, namespace, name)
    except ApiError as err:
        if err.status == 404:
            return False
        raise
    return True


def rows(kube: KubeCluster, agent: str, namespace: str) -> list[tuple[str, str, str, str, int]]:
    """The writes the API server recorded for `agent` in `namespace`, oldest first."""
    return [row for row in write_summary(audit_writes(kube, agent)) if row[2] == namespace]


class Recorder:
    """An `on_change` that keeps (key, had a before, has an after) per change, thread-safe."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, bool]] = []
        self._lock = threading.Lock()

    def __call__(self, changes: list[Change]) -> None:
        with self._lock:
            self.seen.extend((str(c.key), c.before is not None, c.after is not None) for c in changes)

    def count(self) -> int:
        with self._lock:
            return len(self.seen)


class Watching:
    """A Watcher of one kind (AIMModel unless told) in one namespace, started and stopped around
    a block; what it logs is kept as (level, message)."""

    def __init__(self, api: KubeApi, namespace: str, on_change: Callable[[list[Change]], None],
                 info: KindInfo = MODELS, **options: Any) -> None:
        self.store = Store()
        self.logs: list[tuple[str, str]] = []
        self.watcher = Watcher(api, info, self.store, on_change, namespace=namespace, backoff=FAST,
                               log=lambda level, msg, **_: self.logs.append((level, msg)), **options)

    def __enter__(self) -> Watcher:
        self.watcher.start()
        wait_for(self.watcher.synced.is_set, 30, "the first list")
        return self.watcher

    def __exit__(self, *exc: object) -> None:
        self.watcher.stop()
        self.watcher.join(10)


# --- list ---------------------------------------------------------------------------------------


def test_list_gives_items_and_the_list_resource_version(kube: KubeCluster, namespace: str) -> None:
    """A list has the namespace's objects, full and with their kind, and a resourceVersion at least theirs."""
    api = kube.api()
    created = api.create(MODELS, model_doc(namespace))
    items, version = api.list(MODELS, namespace)
    assert [i["metadata"]["name"] for i in items] == ["m"]
    assert items[0]["kind"] == "AIMModel"
    assert items[0]["apiVersion"] == "aim.eai.amd.com/v1alpha1"
    assert items[0]["spec"]["image"] == "example.com/aim:1"
    assert items[0]["metadata"]["uid"] == created["metadata"]["uid"]
    assert items[0]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert int(version) >= rv(created)
    empty, empty_version = api.list(MODELS, f"{namespace}-elsewhere")
    assert empty == []
    assert int(empty_version) >= rv(created)  # a list's version is the cluster's, not the namespace's


def test_store_keeps_neither_secret_values_nor_key_names_nor_type(kube: KubeCluster, namespace: str) -> None:
    """Secrets are listed as metadata only: the store has the Secret's name, and nothing of its contents."""
    api = kube.api()
    api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                         "metadata": {"name": "pull", "namespace": namespace, "labels": {"team": "ml"}},
                         "data": {".dockerconfigjson": DOCKER_CONFIG}})
    items, _ = api.list(SECRETS, namespace)
    assert [(i["apiVersion"], i["kind"], i["metadata"]["name"]) for i in items] == [
        ("meta.k8s.io/v1", "PartialObjectMetadata", "pull")]
    assert set(items[0]) == {"apiVersion", "kind", "metadata"}  # no data, no type
    assert DOCKER_CONFIG not in json.dumps(items)
    store = loaded(api, namespace)
    secret = store.get(ObjectKey("Secret", namespace, "pull"))
    assert isinstance(secret, r.Secret)
    assert (secret.api_version, secret.kind, secret.metadata.labels) == ("v1", "Secret", {"team": "ml"})
    assert secret.keys is None  # a real server sends no key names either
    assert secret.type is None  # nor the type
    assert DOCKER_CONFIG not in repr(store.objects())
    # A watch is metadata-only too: a Secret created meanwhile arrives the same way.
    with Watching(api, namespace, lambda changes: None, SECRETS) as watcher:
        api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": "later", "namespace": namespace},
                             "stringData": {"token": "plain-text-value"}})
        wait_for(lambda: watcher.store.get(ObjectKey("Secret", namespace, "later")) is not None, 30, "later")
    later = watcher.store.get(ObjectKey("Secret", namespace, "later"))
    assert isinstance(later, r.Secret) and (later.keys, later.type) == (None, None)
    assert "plain-text-value" not in repr(watcher.store.objects())


# --- the store ----------------------------------------------------------------------------------


def test_store_drops_stale_events_and_duplicates(kube: KubeCluster, namespace: str) -> None:
    """Real resourceVersions order a store's updates: an older or an equal one changes nothing."""
    api = kube.api()
    first = api.create(MODELS, model_doc(namespace))
    second = api.apply(MODELS, model_doc(namespace, image="example.com/aim:2"))
    assert rv(second) > rv(first)
    assert first["metadata"]["uid"] == second["metadata"]["uid"]
    store = Store()
    key = ObjectKey("AIMModel", namespace, "m")
    assert store.upsert(second) is not None
    assert store.upsert(first) is None  # older resourceVersion
    assert store.upsert(second) is None  # same resourceVersion: nothing changed
    kept = store.get(key)
    assert isinstance(kept, r.AIMModel) and kept.spec.image == "example.com/aim:2"
    gone = store.remove({**second, "metadata": {**second["metadata"], "uid": "someone-else"}})
    assert gone is None  # a different object of the same name
    assert store.remove(second) == Change(key, kept, None)


def test_an_object_written_through_is_not_changed_again_by_its_own_watch_event(
    kube: KubeCluster, namespace: str
) -> None:
    """The executor's write-through and the watch event of the same write make one change, not two."""
    api = kube.api()
    recorder = Recorder()
    created = api.create(MODELS, model_doc(namespace))
    with Watching(api, namespace, recorder) as watcher:
        assert recorder.seen == [(f"AIMModel {namespace}/m", False, True)]
        answer = api.apply(MODELS, model_doc(namespace, image="example.com/aim:2"))
        through = watcher.store.upsert(answer)  # as the executor does with a write's answer
        wait_for(lambda: int(watcher.store.versions["AIMModel"]) >= rv(answer), 30, "the watch to catch up")
    from_watch = recorder.seen[1:]
    assert len(from_watch) + (through is not None) == 1
    assert rv(answer) > rv(created)
    stored = watcher.store.get(ObjectKey("AIMModel", namespace, "m"))
    assert stored is not None and stored.metadata.resource_version == answer["metadata"]["resourceVersion"]


# --- watch ----------------------------------------------------------------------------------------


def test_watch_applies_added_modified_deleted(kube: KubeCluster, namespace: str) -> None:
    """One list, then the server's ADDED, MODIFIED and DELETED events, each applied to the store."""
    api = kube.api()
    recorder = Recorder()
    key = ObjectKey("AIMModel", namespace, "m")
    with Watching(api, namespace, recorder) as watcher:
        listed = int(watcher.store.versions["AIMModel"])
        created = api.create(MODELS, model_doc(namespace))
        wait_for(lambda: recorder.count() == 1, 30, "ADDED")
        changed = api.apply(MODELS, model_doc(namespace, image="example.com/aim:2"))
        wait_for(lambda: recorder.count() == 2, 30, "MODIFIED")
        seen = watcher.store.get(key)
        assert isinstance(seen, r.AIMModel) and seen.spec.image == "example.com/aim:2"
        api.delete(MODELS, namespace, "m", created["metadata"]["uid"])
        wait_for(lambda: recorder.count() == 3, 30, "DELETED")
    assert recorder.seen == [(str(key), False, True), (str(key), True, True), (str(key), True, False)]
    assert watcher.store.get(key) is None
    assert listed < rv(created) < rv(changed) < int(watcher.store.versions["AIMModel"])
    assert watcher.lists == 1
    assert watcher.store.all_keys() == []


def test_a_broken_watch_relists_and_catches_up(kube: KubeCluster, namespace: str) -> None:
    """A restarted API server breaks the watch; the watcher re-lists once and sees what changed."""
    plane = kube.need_plane()
    api = kube.api()
    before = api.create(MODELS, model_doc(namespace, "before"))
    watching = Watching(api, namespace, lambda changes: None)
    with watching as watcher:
        assert [k.name for k in watcher.store.all_keys()] == ["before"]
        plane.restart_apiserver()
        api.delete(MODELS, namespace, "before", before["metadata"]["uid"])
        api.create(MODELS, model_doc(namespace, "after"))
        wait_for(lambda: [k.name for k in watcher.store.all_keys()] == ["after"], 60, "the store to catch up")
        wait_for(lambda: watcher.lists == 2, 30, "the re-list")
    assert watcher.lists == 2
    assert set(watching.logs) == {("warning", "watch broken: re-listing")}  # not a 410: the stream broke


def test_a_watch_that_ends_rewatches_and_an_expired_one_relists(kube: KubeCluster, namespace: str) -> None:
    """A watch the server ends at its timeout resumes without a list; a real 410 Gone forces one."""
    plane = kube.need_plane()
    api = kube.api()
    gated = GatedApi(kube.api())
    watching = Watching(gated, namespace, lambda changes: None, watch_timeout=1)

    def names() -> list[str]:
        return [k.name for k in watching.store.all_keys()]

    with watching as watcher:
        api.create(MODELS, model_doc(namespace, "one"))
        wait_for(lambda: names() == ["one"], 30, "one")
        wait_for(lambda: gated.watches >= 3, 30, "two clean ends of the watch")
        assert watcher.lists == 1
        assert watching.logs == []
        gated.gate.clear()
        wait_for(lambda: gated.waiting == 1, 30, "the watcher to wait between two watches")
        # The cluster moves on where this watch does not look; a restarted API server's watch
        # cache then starts after the watcher's resourceVersion.
        api.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "moves-on", "namespace": namespace}})
        plane.restart_apiserver()
        api.create(MODELS, model_doc(namespace, "two"))
        gated.gate.set()
        wait_for(lambda: watcher.lists == 2, 30, "the re-list")
        wait_for(lambda: names() == ["one", "two"], 30, "two")
    assert watching.logs == [("info", "watch expired (410 Gone): re-listing")]
    assert watcher.lists == 2


# --- apply and status -----------------------------------------------------------------------------


def test_apply_creates_with_ssa_then_writes_nothing_when_unchanged(kube: KubeCluster, namespace: str) -> None:
    """The first apply creates (201) by server-side apply; the same plan again, against what the
    server stored (its schema defaults filled in), sends nothing."""
    api = kube.api()
    owner = api.create(MODELS, model_doc(namespace))
    agent = "aimcore-api-test/apply"
    executor = Executor(kube.api(agent), loaded(api, namespace), backoff=FAST)
    desired = template(owner, hardware={"gpu": {"requests": 1, "model": "MI300X"}})
    key = ObjectKey("AIMServiceTemplate", namespace, "t")
    plan = Plan(ObjectKey("AIMModel", namespace, "m"), (Apply(desired, "create"),))
    assert executor.execute(plan, NOW).writes == [("apply", key)]
    stored = api.get(TEMPLATES, namespace, "t")
    assert stored["metadata"]["ownerReferences"] == [{
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel", "name": "m",
        "uid": owner["metadata"]["uid"], "controller": True}]
    assert stored["metadata"]["labels"] == {"aim.eai.amd.com/origin": "auto-generated"}
    assert stored["spec"] == {"modelName": "m", "precision": "fp8", "hardware": {"gpu": {
        "requests": 1, "model": "MI300X", "resourceName": "amd.com/gpu"}}}  # the CRD's default, filled in
    assert apply_body(desired)["spec"]["hardware"] == {"gpu": {"requests": 1, "model": "MI300X"}}
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["aimcore"]
    assert executor.execute(plan, NOW).writes == []  # the store holds the answer (written through)
    relisted = Executor(kube.api(agent), loaded(api, namespace), backoff=FAST)
    assert relisted.execute(plan, NOW).writes == []  # and a fresh list shows the same
    assert rows(kube, agent, namespace) == [("patch", "aimservicetemplates", namespace, "t", 201)]
    assert set(apply_body(desired)["metadata"]) == {"name", "namespace", "labels", "ownerReferences"}


def test_status_goes_through_the_subresource_only_when_changed(kube: KubeCluster, namespace: str) -> None:
    """A status is written once, to the status subresource, and does not bump the generation."""
    api = kube.api()
    created = api.create(MODELS, model_doc(namespace))
    agent = "aimcore-api-test/status"
    executor = Executor(kube.api(agent), loaded(api, namespace), backoff=FAST)
    key = ObjectKey("AIMModel", namespace, "m")
    status = r.AIMModelStatus(status=r.Status.PROGRESSING, observed_generation=1)
    plan = Plan(key, (UpdateStatus(key, status),), status)
    assert executor.execute(plan, NOW).writes == [("status", key)]
    stored = api.get(MODELS, namespace, "m")
    assert stored["status"] == {"observedGeneration": 1, "status": "Progressing"}
    assert stored["metadata"]["generation"] == created["metadata"]["generation"] == 1
    assert rv(stored) > rv(created)
    assert stored["spec"] == created["spec"]
    assert executor.execute(plan, NOW).writes == []
    assert rows(kube, agent, namespace) == [("patch", "aimmodels/status", namespace, "m", 200)]


def test_apply_addresses_the_version_its_body_names(kube: KubeCluster, namespace: str) -> None:
    """An apply of a v1alpha2 body goes to the v1alpha2 URL, which a real server requires."""
    api = kube.api()
    owner = api.create(MODELS, model_doc(namespace))
    body = {**apply_body(template(owner)), "apiVersion": "aim.eai.amd.com/v1alpha2"}
    with pytest.raises(ApiError) as mismatched:  # the body's version at the storage version's URL
        api._call("PATCH", TEMPLATES.path(namespace, "t"), query=[("fieldManager", "aimcore")],
                  body=body, content_type=APPLY_PATCH)
    assert mismatched.value.status == 400
    assert not exists(api, TEMPLATES, namespace, "t")
    assert (mismatched.value.reason, mismatched.value.message) == (
        "BadRequest", "invalid object type: aim.eai.amd.com/v1alpha2, Kind=AIMServiceTemplate")
    agent = "aimcore-api-test/version"
    answer = kube.api(agent).apply(TEMPLATES, body)
    assert answer["apiVersion"] == "aim.eai.amd.com/v1alpha2"
    [event] = [e for e in audit_writes(kube, agent) if e["objectRef"].get("namespace") == namespace]
    ref = event["objectRef"]
    assert (ref["apiGroup"], ref["apiVersion"]) == ("aim.eai.amd.com", "v1alpha2")
    assert event["requestURI"].startswith(f"/apis/aim.eai.amd.com/v1alpha2/namespaces/{namespace}/"
                                          "aimservicetemplates/t?")
    read = api.get(TEMPLATES, namespace, "t")  # read at the kind's own version: the same object
    assert read["apiVersion"] == "aim.eai.amd.com/v1alpha1"
    assert read["metadata"]["uid"] == answer["metadata"]["uid"]


# --- delete and garbage collection ------------------------------------------------------------------


def test_delete_carries_the_uid_precondition(kube: KubeCluster, namespace: str) -> None:
    """A delete names the uid: the server refuses a wrong one (409); the executor sends only the right one."""
    api = kube.api()
    owner = api.create(MODELS, model_doc(namespace))
    child = api.apply(TEMPLATES, apply_body(template(owner)))
    with pytest.raises(ApiError) as refused:
        api.delete(TEMPLATES, namespace, "t", "not-its-uid")
    assert (refused.value.status, refused.value.reason) == (409, "Conflict")
    assert refused.value.message == (
        'Operation cannot be fulfilled on AIMServiceTemplate.aim.eai.amd.com "t": the UID in the '
        f'precondition (not-its-uid) does not match the UID in record ({child["metadata"]["uid"]}). '
        "The object might have been deleted and then recreated")
    assert exists(api, TEMPLATES, namespace, "t")
    agent = "aimcore-api-test/delete"
    store = loaded(api, namespace)
    executor = Executor(kube.api(agent), store, backoff=FAST)
    key = ObjectKey("AIMServiceTemplate", namespace, "t")
    stale = executor.execute(Plan(key, (Delete(key, "not-its-uid", "stale"),)), NOW)
    assert stale.writes == []  # the store already shows another object: nothing to delete
    done = executor.execute(Plan(key, (Delete(key, child["metadata"]["uid"], "gone"),)), NOW)
    assert done.writes == [("delete", key)]
    assert store.get(key) is None
    assert not exists(api, TEMPLATES, namespace, "t")
    assert rows(kube, agent, namespace) == [("delete", "aimservicetemplates", namespace, "t", 200)]


def test_deleting_an_owner_lets_the_garbage_collector_collect_its_children(
    kube: KubeCluster, namespace: str
) -> None:
    """The real garbage collector removes a deleted model's templates, and nothing else."""
    api = kube.api()
    owner = api.create(MODELS, model_doc(namespace))
    other = api.create(MODELS, model_doc(namespace, "other"))
    api.apply(TEMPLATES, apply_body(template(owner)))
    api.apply(TEMPLATES, apply_body(template(other, "kept")))
    api.delete(MODELS, namespace, "m", owner["metadata"]["uid"])
    wait_for(lambda: not exists(api, TEMPLATES, namespace, "t"), 60, "the garbage collector")
    assert [t["metadata"]["name"] for t in api.list(TEMPLATES, namespace)[0]] == ["kept"]


# --- permanent errors ---------------------------------------------------------------------------------


def test_permanent_error_is_recorded_on_the_owner_status(kube: KubeCluster, namespace: str) -> None:
    """A child write the server refuses (422) is not raised: the owner's status carries its message."""
    api = kube.api()
    owner = api.create(MODELS, model_doc(namespace))
    executor = Executor(kube.api("aimcore-api-test/refused"), loaded(api, namespace), backoff=FAST)
    key = ObjectKey("AIMModel", namespace, "m")
    status = r.AIMModelStatus(status=r.Status.PROGRESSING, conditions=(
        r.Condition(type="Ready", status=r.ConditionStatus.FALSE, reason="CreatingTemplates"),))
    plan = Plan(key, (Apply(template(owner), "create"), UpdateStatus(key, status)), status)
    with refused_writes(api, TEMPLATES, namespace, "templates are frozen here"):
        outcome = executor.execute(plan, NOW)
    [failure] = outcome.failures
    assert (failure.verb, failure.key, failure.error.status, failure.error.reason) == (
        "apply", ObjectKey("AIMServiceTemplate", namespace, "t"), 422, "Invalid")
    assert outcome.writes == [("status", key)]
    assert not exists(api, TEMPLATES, namespace, "t")
    written = api.get(MODELS, namespace, "m")["status"]
    assert written["status"] == "Degraded"
    assert written["conditions"] == [
        {"type": "Ready", "status": "False", "reason": "CreatingTemplates"},
        {"type": DEPENDENCIES_REACHABLE, "status": "False", "reason": "InfrastructureError",
         "message": f"apply AIMServiceTemplate {namespace}/t: 422 Invalid: {failure.error.message}",
         "lastTransitionTime": NOW},
    ]
    assert rows(kube, "aimcore-api-test/refused", namespace) == [  # refused once, not retried
        ("patch", "aimservicetemplates", namespace, "t", 422),
        ("patch", "aimmodels/status", namespace, "m", 200),
    ]
    assert failure.error.message == (
        f'aimservicetemplates.aim.eai.amd.com "t" is forbidden: ValidatingAdmissionPolicy '
        f"'refuse-aimservicetemplates-{namespace}' with binding 'refuse-aimservicetemplates-{namespace}' "
        "denied request: templates are frozen here")

