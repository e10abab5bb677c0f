"""A kmock-based Kubernetes API for the operator's tests, extended where kmock falls short.

kmock serves the HTTP side: the loopback server, request parsing, discovery and Status
error bodies. Its object store (`KubernetesEmulator`) lacks what the operator relies on
(TESTING.md), so `FakeKube` extends `kmock.KubernetesScaffold` with its own store that
adds, and the tests that use it say so:

- uid, resourceVersion (one increasing counter), generation (bumped on spec changes),
  creationTimestamp, and 201 on create;
- server-side apply (`application/apply-patch+yaml`), creating a missing object, with a
  simplification: one applier only, so an apply merges metadata labels/annotations,
  replaces ownerReferences and replaces every other top-level field it sends;
- the status subresource (writes to it change only status; writes to the object
  never change status); PUT with a resourceVersion precondition (409 when stale);
- DELETE with a uid precondition (409 when it does not match), and background garbage
  collection through ownerReferences (also of objects created with a dangling owner);
- watch from a resourceVersion (history replayed), 410 Gone for versions older than
  `compact()`, and `drop_watches()` to break every open stream;
- `fail(...)`: the next N matching requests answer an error status (409, 429, 5xx, 422).

Nothing here validates schemas or applies CRD defaults: tests must not rely on that.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp.web
import attrs
import kmock

from aimcore.adapters.kube.api import KubeApi

ObjKey = tuple[str, str, str, str]  # group, plural, namespace, name


@attrs.define
class Fault:
    method: str
    plural: str
    status: int
    times: int
    subresource: str | None = None
    name: str | None = None
    #: Sent as the Retry-After header (whole seconds), as an API server does with 429.
    retry_after: int | None = None


@attrs.frozen
class Write:
    """One successful write, for counting: verb, plural, namespace, name, subresource, client."""

    verb: str
    plural: str
    namespace: str
    name: str
    subresource: str | None
    agent: str


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


@attrs.define(kw_only=True)
class FakeKube(kmock.KubernetesScaffold):
    """kmock's scaffold with a resourceVersioned object store (see the module docstring)."""

    store: dict[ObjKey, dict[str, Any]] = attrs.field(factory=dict, init=False)
    version: int = attrs.field(default=0, init=False)
    history: list[tuple[int, str, str, dict[str, Any]]] = attrs.field(factory=list, init=False)
    compacted: int = attrs.field(default=0, init=False)
    faults: list[Fault] = attrs.field(factory=list, init=False)
    writes: list[Write] = attrs.field(factory=list, init=False)
    #: Every write request, including no-ops and injected failures.
    attempts: list[Write] = attrs.field(factory=list, init=False)
    #: Every request to a resource: (method, path).
    calls: list[tuple[str, str]] = attrs.field(factory=list, init=False)
    #: (method, path, Accept header) of every request, to check what the client asked for.
    accepts: list[tuple[str, str, str]] = attrs.field(factory=list, init=False)
    watches: int = attrs.field(default=0, init=False)
    gone_next: bool = attrs.field(default=False, init=False)
    lock: threading.RLock = attrs.field(factory=threading.RLock, init=False)
    _subscribers: list[tuple[str, str, str | None, asyncio.Queue[Any]]] = attrs.field(
        factory=list, init=False
    )
    _loop: asyncio.AbstractEventLoop | None = attrs.field(default=None, init=False)

    # --- test controls (thread-safe) ------------------------------------------------

    def fail(self, method: str, plural: str, status: int, *, times: int = 1,
             subresource: str | None = None, name: str | None = None, retry_after: int | None = None) -> None:
        with self.lock:
            self.faults.append(Fault(method.upper(), plural, status, times, subresource, name, retry_after))

    def compact(self) -> None:
        """Forget history: watches from an older resourceVersion get 410 Gone, and so does
        the next watch from any version (as if compaction raced the client)."""
        with self.lock:
            self.compacted = self.version
            self.gone_next = True
            self.history.clear()

    def drop_watches(self, *, error: bool = False) -> None:
        """End every open watch stream: cleanly (a server-side timeout), or with an ERROR
        event (code 500) as a failing API server would."""
        with self.lock:
            subscribers = list(self._subscribers)
        broken = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                              "code": 500, "reason": "InternalError", "message": "dropped"}}
        for *_, queue in subscribers:
            if error:
                self._post(queue, broken)
            self._post(queue, None)

    def objects(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        with self.lock:
            return {(k[2], k[3]): copy.deepcopy(v) for k, v in self.store.items() if k[1] == plural}

    def count_writes(self, agent: str | None = None) -> int:
        """Writes that changed something."""
        with self.lock:
            return sum(1 for w in self.writes if agent is None or w.agent == agent)

    def count_attempts(self, agent: str | None = None) -> int:
        """Write requests, whether or not they changed anything."""
        with self.lock:
            return sum(1 for w in self.attempts if agent is None or w.agent == agent)

    # --- the API ----------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        resource = request.resource
        if resource is None or not resource.plural or resource.version is None:
            return await super()._handle(request)
        self._loop = asyncio.get_running_loop()
        method = str(request.method.value).upper()
        group, plural = resource.group or "", resource.plural
        namespace, name, sub = request.namespace or "", request.name, request.subresource
        with self.lock:
            self.calls.append((method, request.url.path))
            self.accepts.append((method, request.url.path, request.headers.get("Accept", "")))
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            with self.lock:
                self.attempts.append(Write(method.lower(), plural, namespace, name or "", sub,
                                           request.headers.get("User-Agent", "")))
        injected = self._inject_fault(method, plural, sub, name)
        if injected is not None:
            return injected
        api_version = f"{group}/{resource.version}" if group else resource.version
        if method == "GET" and request.params.get("watch") == "true":
            return await self._watch(request, group, plural, request.namespace, api_version)
        body = json.loads(request.body) if request.body else None
        agent = request.headers.get("User-Agent", "")
        with self.lock:
            if method == "GET" and name is None:
                return self._list(group, plural, request.namespace, api_version)
            if name is None and method != "POST":
                raise kmock.KubernetesError(405, "MethodNotAllowed", "not supported by FakeKube")
            if method == "GET":
                return _json(self._existing((group, plural, namespace, name or "")))
            if method == "POST":
                result, status = self._create(group, plural, namespace, body, agent), 201
            elif method == "PUT":
                result, status = self._replace((group, plural, namespace, name or ""), body, sub, agent), 200
            elif method == "PATCH":
                ctype = request.headers.get("Content-Type", "")
                result, status = self._patch(
                    (group, plural, namespace, name or ""), body, sub, ctype, api_version, agent
                )
            elif method == "DELETE":
                result, status = self._delete((group, plural, namespace, name or ""), body, agent), 200
            else:
                raise kmock.KubernetesError(405, "MethodNotAllowed", f"{method} is not supported")
        return _json(result, status)

    def _inject_fault(
        self, method: str, plural: str, sub: str | None, name: str | None
    ) -> aiohttp.web.Response | None:
        with self.lock:
            for fault in self.faults:
                if (fault.method == method and fault.plural == plural and fault.times > 0
                        and fault.subresource == sub and (fault.name is None or fault.name == name)):
                    fault.times -= 1
                    if fault.retry_after is None:
                        raise kmock.KubernetesError(fault.status, "Injected", f"injected {fault.status}")
                    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": fault.status,
                              "reason": "TooManyRequests", "message": f"injected {fault.status}"}
                    response = _json(status, fault.status)
                    response.headers["Retry-After"] = str(fault.retry_after)
                    return response
        return None

    def _existing(self, key: ObjKey) -> dict[str, Any]:
        obj = self.store.get(key)
        if obj is None:
            raise kmock.KubernetesError(404, "NotFound", f'{key[1]} "{key[3]}" not found')
        return obj

    def _list(
        self, group: str, plural: str, namespace: str | None, api_version: str
    ) -> aiohttp.web.Response:
        items = [
            copy.deepcopy(obj) for (g, p, ns, _), obj in sorted(self.store.items())
            if g == group and p == plural and (namespace is None or ns == namespace)
        ]
        for item in items:
            item["apiVersion"] = api_version
        return _json({"apiVersion": api_version, "kind": "List", "items": items,
                      "metadata": {"resourceVersion": str(self.version)}})

    def _stamp(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)

    def _emit(self, kind: str, group: str, plural: str, obj: dict[str, Any]) -> None:
        event = {"type": kind, "object": copy.deepcopy(obj)}
        self.history.append((self.version, group, plural, event))
        for g, p, ns, queue in list(self._subscribers):
            if g == group and p == plural and (ns is None or ns == obj["metadata"].get("namespace", "")):
                self._post(queue, event)

    def _post(self, queue: asyncio.Queue[Any], item: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            queue.put_nowait(item)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def _create(self, group: str, plural: str, namespace: str, body: Any, agent: str) -> dict[str, Any]:
        meta = body.get("metadata") or {}
        key = (group, plural, namespace or meta.get("namespace") or "", meta.get("name") or "")
        if key in self.store:
            raise kmock.KubernetesError(409, "AlreadyExists", f'{plural} "{key[3]}" already exists')
        obj = copy.deepcopy(body)
        obj["metadata"] = {**meta, "uid": str(uuid.uuid4()), "generation": 1,
                           "creationTimestamp": "2026-01-01T00:00:00Z"}
        if key[2]:
            obj["metadata"]["namespace"] = key[2]
        self._stamp(obj)
        self.store[key] = obj
        self.writes.append(Write("create", plural, key[2], key[3], None, agent))
        self._emit("ADDED", group, plural, obj)
        created: dict[str, Any] = copy.deepcopy(obj)
        uids = {o["metadata"]["uid"] for o in self.store.values()}
        if any(ref.get("uid") not in uids for ref in meta.get("ownerReferences") or ()):
            self._remove(key)  # the garbage collector takes objects whose owner is gone
        return created

    def _replace(self, key: ObjKey, body: Any, sub: str | None, agent: str) -> dict[str, Any]:
        current = self._existing(key)
        wanted = str((body.get("metadata") or {}).get("resourceVersion") or "")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise kmock.KubernetesError(409, "Conflict", "the object has been modified")
        obj = copy.deepcopy(body)
        obj["metadata"] = {**body.get("metadata", {}), **{
            k: current["metadata"][k] for k in ("uid", "creationTimestamp", "generation")
        }}
        return self._store(key, current, obj, sub, "replace", agent)

    def _patch(self, key: ObjKey, body: Any, sub: str | None, ctype: str, api_version: str,
               agent: str) -> tuple[dict[str, Any], int]:
        current = self.store.get(key)
        if current is None:
            if "apply-patch" not in ctype or sub:
                self._existing(key)
            created = self._create(key[0], key[1], key[2], {**body, "apiVersion": api_version}, agent)
            return created, 201
        if "apply-patch" in ctype:
            obj = copy.deepcopy(current)
            meta = body.get("metadata") or {}
            for field in ("labels", "annotations"):
                if meta.get(field):
                    obj["metadata"][field] = {**obj["metadata"].get(field, {}), **meta[field]}
            if "ownerReferences" in meta:
                obj["metadata"]["ownerReferences"] = meta["ownerReferences"]
            for field, value in body.items():
                if field not in ("metadata", "apiVersion", "kind"):
                    obj[field] = copy.deepcopy(value)
        else:
            obj = _merge_patch(current, body)
        return self._store(key, current, obj, sub, "patch", agent), 200

    def _store(self, key: ObjKey, current: dict[str, Any], obj: dict[str, Any], sub: str | None,
               verb: str, agent: str) -> dict[str, Any]:
        if sub == "status":
            obj = {**copy.deepcopy(current), "status": obj.get("status")}
        else:
            obj = {k: v for k, v in obj.items() if k != "status"}
            if "status" in current:
                obj["status"] = copy.deepcopy(current["status"])
            if obj.get("spec") != current.get("spec"):
                obj["metadata"]["generation"] = int(current["metadata"].get("generation") or 1) + 1
        if obj == current:
            return copy.deepcopy(current)  # a no-op write: no new resourceVersion, no event
        self._stamp(obj)
        self.store[key] = obj
        self.writes.append(Write(verb, key[1], key[2], key[3], sub, agent))
        self._emit("MODIFIED", key[0], key[1], obj)
        return copy.deepcopy(obj)

    def _delete(self, key: ObjKey, body: Any, agent: str) -> dict[str, Any]:
        current = self._existing(key)
        uid = ((body or {}).get("preconditions") or {}).get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise kmock.KubernetesError(
                409, "Conflict", f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {current['metadata']['uid']}"
            )
        self.writes.append(Write("delete", key[1], key[2], key[3], None, agent))
        self._remove(key)
        return {"apiVersion": "v1", "kind": "Status", "status": "Success"}

    def _remove(self, key: ObjKey) -> None:
        obj = self.store.pop(key)
        self._stamp(obj)
        self._emit("DELETED", key[0], key[1], obj)
        uid = obj["metadata"]["uid"]
        for child in [k for k, o in self.store.items()
                      if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or ())]:
            if child in self.store:
                self._remove(child)

    async def _watch(self, request: kmock.Request, group: str, plural: str, namespace: str | None,
                     api_version: str) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        assert request._raw_request is not None
        await response.prepare(request._raw_request)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        since = request.params.get("resourceVersion")
        with self.lock:
            self.watches += 1
            if since and (int(since) < self.compacted or self.gone_next):
                self.gone_next = False
                backlog: list[Any] = [{"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                    "reason": "Expired", "message": f"too old resource version: {since}"}}, None]
            elif since:
                backlog = [e for v, g, p, e in self.history
                           if v > int(since) and g == group and p == plural
                           and (namespace is None or e["object"]["metadata"].get("namespace") == namespace)]
            else:
                backlog = [{"type": "ADDED", "object": copy.deepcopy(o)} for (g, p, ns, _), o
                           in sorted(self.store.items())
                           if g == group and p == plural and (namespace is None or ns == namespace)]
            entry = (group, plural, namespace, queue)
            self._subscribers.append(entry)
        try:
            for item in backlog:
                queue.put_nowait(item)
            while True:
                event = await queue.get()
                if event is None:
                    break
                if event["type"] != "ERROR":
                    event = {**event, "object": {**event["object"], "apiVersion": api_version}}
                await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with self.lock:
                self._subscribers.remove(entry)
        await response.write_eof()
        return response


def _json(data: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.json_response(data, status=status)


class RunningFake:
    """FakeKube served on loopback by kmock, its event loop in a background thread."""

    def __init__(self) -> None:
        self.fake = FakeKube()
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-kube", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.fake, kmock.Server(self.fake) as server:
            self.url = f"http://{server.host}:{server.port}"
            self._ready.set()
            await self._stop.wait()
            self.fake.drop_watches()
            await asyncio.sleep(0.05)

    def __enter__(self) -> RunningFake:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake API server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def api(self, agent: str = "aimcore-test") -> KubeApi:
        return KubeApi.for_host(self.url, user_agent=agent)


def running_fake() -> Iterator[RunningFake]:
    """A pytest fixture body: `yield from running_fake()`."""
    with RunningFake() as running:
        yield running
