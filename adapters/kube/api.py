"""The Kubernetes API as the operator uses it: a handful of verbs over the official client.

Objects travel as plain dictionaries (typed resources are the core's business), every
kind is addressed by a `KindInfo`, and every failure becomes an `ApiError` that says
whether retrying can help. `kubernetes` is the optional extra "kube", so it is imported
only when a client is built.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from aimcore import resources as r
from aimcore.adapters.common.retry import Backoff
from aimcore.discoveryjob import JOB_SELECTOR, LABEL_TEMPLATE

T = TypeVar("T")

FIELD_MANAGER = "aimcore"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@attrs.frozen
class KindInfo:
    """Where a kind lives in the API: group, version, plural and scope."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    #: A label selector lists and watches are narrowed to (None: every object of the kind).
    selector: str | None = None
    #: Another project's kind whose CRD a cluster may lack (KServe's, the Gateway API's): its
    #: absence is observed and reported, never a failure of the operator.
    optional: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """The REST path of the collection (namespace None: across namespaces) or of one object."""
        parts = [f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if sub:
            parts.append(sub)
        return "/".join(parts)


def _aim(cls: type[r.Resource]) -> KindInfo:
    version = (r.V1ALPHA2 if cls in (r.AIMProfile, r.AIMClusterProfile) else r.V1ALPHA1).split("/")[1]
    return KindInfo(cls.KIND, r.GROUP, version, cls.KIND.lower() + "s", cls.NAMESPACED)


def _accept(info: KindInfo, partial: str) -> str:
    """Secrets and Nodes are listed and watched as metadata only: the core needs to know a
    Secret exists (never its values) and a Node's labels (never its status, which changes all
    the time). A server without metadata-only responses answers the plain JSON that follows."""
    if info.kind not in ("Secret", "Node"):
        return "application/json"
    return f"application/json;as={partial};g=meta.k8s.io;v=v1,application/json"


#: Every AIM kind the core knows, in the order they are listed at start-up.
AIM_KINDS: Mapping[str, KindInfo] = {
    kind: _aim(cls) for kind, cls in r.KINDS.items() if cls is not r.Secret
}
SECRETS = KindInfo("Secret", "", "v1", "secrets", True)
LEASES = KindInfo("Lease", "coordination.k8s.io", "v1", "leases", True)
#: What the template reconciler observes (D25): Nodes (labels only), discovery Jobs and their Pods.
NODES = KindInfo("Node", "", "v1", "nodes", False)
JOBS = KindInfo("Job", "batch", "v1", "jobs", True)
PODS = KindInfo("Pod", "", "v1", "pods", True)
#: Only discovery Jobs, by the selector every one carries, and only their Pods (by the label the
#: Job's pod template sets): the operator never sees, nor keeps, anyone else's.
DISCOVERY_JOBS = attrs.evolve(JOBS, selector=",".join(f"{k}={v}" for k, v in sorted(JOB_SELECTOR.items())))
DISCOVERY_PODS = attrs.evolve(PODS, selector=LABEL_TEMPLATE)
#: The workloads services own (D29). All of them in scope, not only those labelled with their
#: service: someone else's object with the name a service's would have must be seen, so that the
#: service says so (InferenceServiceNotOwned, HTTPRouteNotOwned) and never tries to create it.
INFERENCE_SERVICES = KindInfo("InferenceService", "serving.kserve.io", "v1beta1", "inferenceservices", True,
                              optional=True)
HTTP_ROUTES = KindInfo("HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes", True, optional=True)
#: Everything the operator watches: not the kinds it serves but does not reconcile yet.
WATCHED: Mapping[str, KindInfo] = {
    **{kind: info for kind, info in AIM_KINDS.items() if kind not in r.UNRECONCILED_KINDS}, "Secret": SECRETS,
}
#: And what it observes for the template reconciler and for services.
OBSERVED: Mapping[str, KindInfo] = {
    "Node": NODES, "Job": DISCOVERY_JOBS, "Pod": DISCOVERY_PODS,
    "InferenceService": INFERENCE_SERVICES, "HTTPRoute": HTTP_ROUTES,
}


@attrs.frozen
class ApiError(Exception):
    """A failed call: the HTTP status (0: no answer at all), the API's reason and message."""

    status: int
    reason: str
    message: str
    #: Seconds the server asked to wait (its Retry-After header, sent with 429 and some 5xx).
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Conflicts, throttling, server errors and lost connections may pass on retry; an object
        etcd refuses as too large (a 500 too) never will."""
        too_large = "request is too large" in self.message or "ResourceExhausted" in self.message
        if self.status >= 500 and too_large:
            return False
        if self.status == 409 and self.reason == "AlreadyExists":
            return False  # a create that found someone else's object: it stays there
        return self.status in (0, 409, 429) or self.status >= 500

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}" if self.status else self.message


def _error(status: int, body: bytes, retry_after: str | None = None) -> ApiError:
    """The API server's Status as an ApiError. Its Retry-After is whole seconds (an API server
    never sends the HTTP-date form); anything else is ignored."""
    wait = float(retry_after.strip()) if retry_after and retry_after.strip().isdigit() else None
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    reason = str(doc.get("reason") or "Error")
    message = str(doc.get("message") or body[:200].decode("utf-8", "replace"))
    return ApiError(status, reason, message[:500], wait)


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get(name) if hasattr(headers, "get") else None
    return str(value) if value is not None else None


def retry_delay(err: ApiError, backoff: Backoff, attempt: int) -> float:
    """How long to wait before trying again: the backoff, or longer when the server asked (capped)."""
    return max(backoff.delay(attempt), min(err.retry_after or 0.0, backoff.cap))


def with_retries(
    call: Callable[[], T], backoff: Backoff, *, sleep: Callable[[float], Any] = time.sleep
) -> T:
    """Run `call`, retrying transient `ApiError`s; the last error (or a permanent one) is raised."""
    for attempt in range(backoff.attempts):
        try:
            return call()
        except ApiError as err:
            if not err.transient or attempt == backoff.attempts - 1:
                raise
            sleep(retry_delay(err, backoff, attempt))
    raise AssertionError("unreachable")  # pragma: no cover


class KubeApi:
    """A thin wrapper over `kubernetes.client.ApiClient`: auth, TLS and kubeconfig are its."""

    def __init__(self, api_client: Any, *, request_timeout: float = 30.0) -> None:
        self.client = api_client
        self.request_timeout = request_timeout

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, *, user_agent: str = "aimcore"
    ) -> KubeApi:
        """In-cluster config when no kubeconfig is given and one is available, else the kubeconfig."""
        from kubernetes import client
        from kubernetes import config as kubeconfig

        config: Any = kubeconfig  # untyped module
        configuration = client.Configuration()
        if path is None:
            try:
                config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException:
                config.load_kube_config(context=context, client_configuration=configuration)
        else:
            config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
        return cls._client(configuration, user_agent)

    @staticmethod
    def _client(configuration: Any, user_agent: str) -> KubeApi:
        import urllib3
        from kubernetes import client

        # One connection per open watch, plus room for the calls made meanwhile.
        configuration.connection_pool_maxsize = len(WATCHED) + 2 * len(OBSERVED) + 16
        # urllib3 would retry a 429 or 503 itself, sleeping its Retry-After inside the call (and so
        # inside the operator's one worker): answers come back as they are, and the caller decides
        # (with_retries in place, or the work queue's per-key backoff). A refused connection is
        # still tried again twice at once.
        configuration.retries = urllib3.Retry(
            total=None, connect=2, read=0, redirect=0, status=0, other=0, respect_retry_after_header=False
        )
        api_client = client.ApiClient(configuration)
        api_client.user_agent = user_agent
        return KubeApi(api_client)

    @classmethod
    def for_host(cls, host: str, *, user_agent: str = "aimcore") -> KubeApi:
        """A client for an unauthenticated API endpoint (tests, `kubectl proxy`)."""
        from kubernetes import client

        return cls._client(client.Configuration(host=host), user_agent)

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        stream: bool = False,
        timeout: float | None = None,
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        try:
            serialized = self.client.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body,
                auth_settings=["BearerToken"],
            )
            response = self.client.call_api(*serialized, _request_timeout=timeout or self.request_timeout)
        except ApiError:
            raise
        except Exception as err:  # urllib3 connection errors and the like: no answer at all
            raise ApiError(0, type(err).__name__, f"no answer from the API server: {err}") from None
        if stream:
            if not 200 <= response.status <= 299:
                raise _error(response.status, response.read() or b"", _header(response, "Retry-After"))
            return response.response
        data = response.read() or b""
        if not 200 <= response.status <= 299:
            raise _error(response.status, data, _header(response, "Retry-After"))
        return json.loads(data) if data else {}

    # --- reads ------------------------------------------------------------------------

    def list(self, info: KindInfo, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """All objects of a kind (in one namespace or all) and the list's resourceVersion."""
        query = [("labelSelector", info.selector)] if info.selector else []
        doc = self._call("GET", info.path(namespace), query=query,
                         accept=_accept(info, "PartialObjectMetadataList"))
        items = [dict(item) for item in doc.get("items") or ()]
        for item in items:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        return items, str((doc.get("metadata") or {}).get("resourceVersion") or "")

    def watch(
        self, info: KindInfo, namespace: str | None, resource_version: str, timeout_seconds: int
    ) -> WatchStream:
        """Open a watch of events after `resource_version`; it ends when the server ends it."""
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if info.selector:
            query.append(("labelSelector", info.selector))
        response = self._call(
            "GET", info.path(namespace), query=query, stream=True, timeout=timeout_seconds + 5,
            accept=_accept(info, "PartialObjectMetadata"),
        )
        return WatchStream(response)

    def get(self, info: KindInfo, namespace: str | None, name: str) -> dict[str, Any]:
        return dict(self._call("GET", info.path(namespace, name)))

    def pod_log(self, namespace: str, name: str, container: str, *, limit_bytes: int = 4 << 20) -> str:
        """A container's log (stdout and stderr as the kubelet keeps them), at most `limit_bytes`.
        A Pod that never ran on a node has none: the API server answers 204, read as ""."""
        query = [("container", container), ("limitBytes", str(limit_bytes))]
        # The log is plain text, yet the API server refuses `Accept: text/plain` (406): ask for anything.
        response = self._call("GET", PODS.path(namespace, name, "log"), query=query, stream=True,
                              accept="*/*")
        try:
            data = response.read() or b""
        finally:
            response.release_conn()
        return bytes(data).decode("utf-8", "replace")

    # --- writes -----------------------------------------------------------------------

    def apply(self, info: KindInfo, body: Mapping[str, Any], *, status: bool = False) -> dict[str, Any]:
        """Server-side apply as field manager "aimcore" (forced: the operator owns these fields)."""
        meta = body.get("metadata") or {}
        group, _, version = str(body.get("apiVersion") or "").rpartition("/")
        if group == info.group and version and version != info.version:
            info = attrs.evolve(info, version=version)  # an apply's URL must name its body's version
        path = info.path(meta.get("namespace"), meta["name"], "status" if status else None)
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        return dict(self._call("PATCH", path, query=query, body=dict(body), content_type=APPLY_PATCH))

    def delete(self, info: KindInfo, namespace: str | None, name: str, uid: str | None) -> None:
        """Delete in the background, only if the object still has `uid` (409 otherwise)."""
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"
        }
        if uid:
            body["preconditions"] = {"uid": uid}
        self._call("DELETE", info.path(namespace, name), body=body)

    def create(
        self, info: KindInfo, body: Mapping[str, Any], *, dry_run: bool = False,
        field_validation: str | None = None, field_manager: str | None = None,
    ) -> dict[str, Any]:
        """POST; `dry_run` validates and admits without storing, `field_validation` ("Strict")
        refuses unknown fields instead of dropping them, `field_manager` names the manager the
        fields are recorded for (as an "Update"; the server derives one from the user agent)."""
        namespace = (body.get("metadata") or {}).get("namespace")
        query = [("dryRun", "All")] if dry_run else []
        if field_validation:
            query.append(("fieldValidation", field_validation))
        if field_manager:
            query.append(("fieldManager", field_manager))
        return dict(self._call("POST", info.path(namespace), query=query, body=dict(body)))

    def json_patch(
        self, info: KindInfo, namespace: str | None, name: str, operations: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902) as field manager "aimcore"; its `test` operations make it
        all-or-nothing (422 when one fails)."""
        return dict(self._call("PATCH", info.path(namespace, name), query=[("fieldManager", FIELD_MANAGER)],
                               body=[dict(op) for op in operations], content_type=JSON_PATCH))

    def replace(self, info: KindInfo, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT: fails with 409 when metadata.resourceVersion is no longer current."""
        meta = body.get("metadata") or {}
        return dict(self._call("PUT", info.path(meta.get("namespace"), meta["name"]), body=dict(body)))


def _ours(entry: Mapping[str, Any], operation: str) -> bool:
    return bool(entry.get("manager") == FIELD_MANAGER and entry.get("operation") == operation
                and not entry.get("subresource"))


def unclaimed(doc: Mapping[str, Any]) -> bool:
    """Whether fields of `doc` are recorded for aimcore's "Update" manager (set by a create or
    an update, not by server-side apply): such fields stay when a later apply leaves them out."""
    return any(_ours(entry, "Update") for entry in (doc.get("metadata") or {}).get("managedFields") or ())


def _union(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two FieldsV1 trees (nested objects, `{}` leaves) as one."""
    merged = dict(a)
    for key, value in b.items():
        here = merged.get(key)
        merged[key] = _union(here, value) if isinstance(here, Mapping) and isinstance(value, Mapping) \
            else value
    return merged


def ownership_claim(doc: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The JSON patch that hands the fields aimcore's "Update" manager holds in `doc` to its
    server-side apply manager, as client-go's csaupgrade does; None when there are none.

    A create (POST, so that someone else's object of the name is never taken over) records its
    fields for an "Update" manager. Server-side apply removes a field it stops applying only when
    no other manager holds it, so without this a field the create set (an autoscaling annotation,
    say) would stay for ever, and every reconcile would apply again to remove it. The patch
    replaces metadata.managedFields whole, guarded by the uid and by the resourceVersion (409 when
    the object changed meanwhile: read it again and retry); it changes no field of the object.
    """
    meta = doc.get("metadata") or {}
    entries = [dict(entry) for entry in meta.get("managedFields") or ()]
    updates = [entry for entry in entries if _ours(entry, "Update")]
    if not updates:
        return None
    applied = next((entry for entry in entries if _ours(entry, "Apply")), None)
    version = (applied or updates[0]).get("apiVersion")
    claimed = [entry for entry in updates if entry.get("apiVersion") == version]
    fields: dict[str, Any] = dict((applied or {}).get("fieldsV1") or {})
    for entry in claimed:
        fields = _union(fields, entry.get("fieldsV1") or {})
    times = [str(entry.get("time")) for entry in (applied, *claimed) if entry and entry.get("time")]
    owner = {"manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": version, "fieldsType": "FieldsV1",
             "fieldsV1": fields, **({"time": max(times)} if times else {})}
    kept = [entry for entry in entries if entry is not applied and not any(entry is c for c in claimed)]
    return [
        {"op": "test", "path": "/metadata/uid", "value": meta.get("uid")},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
        {"op": "replace", "path": "/metadata/managedFields", "value": [*kept, owner]},
    ]


class WatchStream:
    """Events of one watch request; `close` may be called from another thread to end it."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        try:
            for chunk in self._response.stream(None, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        if isinstance(event, dict):
                            yield event
        except Exception as err:
            raise ApiError(0, type(err).__name__, f"watch stream broken: {err}") from None
        finally:
            self._response.release_conn()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already closed: nothing to wake up
            self._response.shutdown()
