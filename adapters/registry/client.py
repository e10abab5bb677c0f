"""Read an image's labels and environment from an OCI distribution registry.

Only the manifest (or index) and the config blob are fetched, never a layer:
discovery needs the config alone, and images for models weigh gigabytes.
Every failure becomes a typed `InspectFailure` whose message a user can act on;
`inspect` never raises, and writes nothing anywhere: its log records (debug and info, one line each,
never a traceback) reach a handler only when the program configures `logging`, which the operator and
the command line do not.

One inspection has a wall-clock deadline (`request_deadline`) that holds whatever the registry's pacing:
every socket read waits at most what remains of it (see `_PacedReader`), connecting and the TLS handshake
too, and retries never sleep past it.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import io
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

import attrs
import urllib3
import urllib3.connection
from docker_image.reference import InvalidReference, Reference

from aimcore.adapters.common.retry import Backoff
from aimcore.adapters.registry.credentials import DOCKER_HUB, Credential, Keyring
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger("aimcore.registry")
# A library's logger: records go to the program's handlers if it configured any, and otherwise nowhere
# (without this, Python's last-resort handler would print warnings and errors on stderr, which is the
# operator's JSON log).
logger.addHandler(logging.NullHandler())

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
_IMAGE_TYPES = _INDEX_TYPES | _MANIFEST_TYPES
_CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
_SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

DOCKER_HUB_API = "registry-1.docker.io"
PLATFORM = ("linux", "amd64")

_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_ERROR_BODY_LIMIT = 64 * 1024
_MAX_REDIRECTS = 5
_MAX_INDEX_DEPTH = 3
_TOKEN_SKEW = 5.0  # seconds: renew a token a little before the registry would refuse it
_TOKEN_LIFETIME_MAX = 24 * 3600.0  # seconds: a token service's expires_in is believed up to a day
_MAX_LANES = 64  # threads of one inspect_many, whatever the number of registries
_UNESCAPE_RE = re.compile(r"\\(.)")
_CHALLENGE_RE = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


class _Failure(Exception):
    """Carries a typed failure up to `inspect`, which turns it into a value."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@attrs.frozen
class ImageRef:
    """A normalised image reference and where its registry API lives."""

    registry: str  # as Docker names it: docker.io, quay.io, 127.0.0.1:5000
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        ref = Reference.parse_normalized_named(image.strip())
        tag, digest = ref["tag"], ref["digest"]
        if not tag and not digest:
            tag = "latest"
        return cls(registry=str(ref.domain()), repository=str(ref.path()), tag=tag, digest=digest)

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What to ask the registry for: a digest pins content, so it wins over a tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@attrs.frozen
class InspectRequest:
    image: str
    keyring: Keyring = attrs.field(factory=Keyring)


def is_loopback(host: str) -> bool:
    name = _hostname(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    """`host[:port]` or `[v6]:port` without the port, lower case."""
    host = host.lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


@attrs.frozen
class _Challenge:
    scheme: str  # "basic" or "bearer"
    realm: str = ""
    service: str = ""


@attrs.frozen
class _Token:
    value: str
    expires_at: float


@attrs.frozen
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    attempts: int = 1  # how many times it was asked (5xx and 429 are retried)

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def error_codes(self) -> set[str]:
        doc, _ = _load_json(self.body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if not isinstance(errors, list):
            return set()
        return {e["code"].upper() for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)}


@attrs.define
class _Job:
    """One inspection's context: what errors must name, and the credential in use."""

    image: str
    ref: ImageRef
    base: str  # scheme://host
    credential: Credential | None
    deadline: float  # time.monotonic() by which the whole inspection is over, answered or not
    fresh_tokens: set[tuple[str, str, str, Credential | None]] = attrs.field(factory=set)

    @property
    def host(self) -> str:
        return self.ref.registry

    @property
    def repo_url(self) -> str:
        return f"{self.base}/v2/{self.ref.repository}"

    def fail(self, kind: FailureKind, problem: str) -> NoReturn:
        raise _Failure(kind, _one_line(f"image {self.image}: {problem}"))

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@attrs.frozen
class _Cached:
    labels: Mapping[str, str]
    env: tuple[str, ...]


# -- reads bounded by the deadline -------------------------------------------------------------------------
#
# A socket timeout bounds one wait, not a request: a registry that sends a byte a second (in the status
# line, the headers or the body) never lets one expire. So each of the client's connections reads its
# responses through `_PacedReader`, which sets the socket's timeout before every read to the read timeout
# or what remains of the inspection's deadline, whichever is less, and refuses to read once the deadline
# has passed. The deadline travels from `_fetch` to the response in a thread-local: the request runs
# synchronously in the thread that asked, and the response captures it when it is created. Connecting
# and the TLS handshake are bounded by the connect timeout, which `_fetch` also clips to what remains
# (Python's handshake treats the socket timeout as a bound on the whole handshake).


@attrs.frozen
class _Pace:
    deadline: float  # time.monotonic()
    read_timeout: float


_PACE = threading.local()


class _PacedReader(io.RawIOBase):
    """A response's socket, read with the timeout recomputed from the deadline before every read."""

    def __init__(self, sock: socket.socket, pace: _Pace) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._pace = pace

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int | None:
        remaining = self._pace.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the deadline of the inspection has passed")
        self._sock.settimeout(min(self._pace.read_timeout, remaining))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _PacedResponse(http.client.HTTPResponse):
    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        pace: _Pace | None = getattr(_PACE, "pace", None)
        if pace is not None:
            self.fp.close()  # nothing was read through it yet
            self.fp = io.BufferedReader(_PacedReader(sock, pace))


class _PacedHTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _PacedResponse


class _PacedHTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _PacedResponse


class _PacedHTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PacedHTTPConnection


class _PacedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PacedHTTPSConnection


class RegistryClient:
    """A thread-safe registry reader with token reuse and a digest-keyed cache.

    `request_deadline` is the wall-clock time one inspection may take in all (every exchange, token,
    redirect, retry and wait between retries; every credential tried), whatever the registry's pacing;
    `read_timeout` bounds one wait for data and `connect_timeout` connecting (TLS included).
    `clock` gives seconds (monotonic) and drives token expiry; `sleep` waits between retries. Both are
    injectable so tests need not wait; deadlines always run on the real monotonic clock.
    """

    def __init__(
        self,
        *,
        insecure_registries: Iterable[str] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        request_deadline: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_max: float = 30.0,
        manifest_limit: int = 4 * 1024 * 1024,
        config_limit: int = 8 * 1024 * 1024,
        cache_size: int = 1024,
        ca_certs: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "aimcore-registry/1",
    ) -> None:
        self._insecure = frozenset(h.strip().lower() for h in insecure_registries if h.strip())
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._deadline = request_deadline
        self._max_retries = max(0, max_retries)
        # The shared schedule, without jitter: one inspection's retries are few and deadline-bound.
        self._backoff = Backoff(base=backoff_base, cap=backoff_max, attempts=self._max_retries + 1,
                                jitter=False)
        self._retry_after_max = retry_after_max
        self._manifest_limit = manifest_limit
        self._config_limit = config_limit
        self._cache_size = cache_size
        self._clock = clock
        self._sleep = sleep
        self._user_agent = user_agent
        self._http = urllib3.PoolManager(num_pools=32, maxsize=16, ca_certs=ca_certs)
        self._http.pool_classes_by_scheme = {
            "http": _PacedHTTPConnectionPool,
            "https": _PacedHTTPSConnectionPool,
        }
        self._lock = threading.Lock()
        self._challenges: dict[str, _Challenge] = {}
        self._tokens: dict[tuple[str, str, str, Credential | None], _Token] = {}
        self._token_locks: dict[tuple[str, str, str, Credential | None], threading.Lock] = {}
        self._facts: OrderedDict[str, _Cached] = OrderedDict()
        self._resolved: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    def __repr__(self) -> str:
        return f"RegistryClient(insecure_registries={sorted(self._insecure)!r})"

    def close(self) -> None:
        self._http.clear()

    # -- public -----------------------------------------------------------------------------------

    def base_url(self, registry: str) -> str:
        """Plain HTTP only for loopback and registries the operator listed as insecure."""
        host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        return f"{'http' if self._plain_http_ok(host) else 'https'}://{host}"

    def inspect(self, image: str, keyring: Keyring | None = None) -> InspectResult:
        """The image's facts or a typed failure, within `request_deadline` seconds; never raises."""
        deadline = time.monotonic() + self._deadline
        try:
            ref = ImageRef.parse(image)
        except (InvalidReference, TypeError, ValueError) as err:
            return InspectFailure(
                FailureKind.MALFORMED, _one_line(f"image {image!r} is not a valid image reference: {err}")
            )
        creds = keyring.lookup(ref.registry, ref.repository) if keyring else ()
        candidates: Sequence[Credential | None] = creds or (None,)
        for index, cred in enumerate(candidates):
            job = _Job(
                image=image, ref=ref, base=self.base_url(ref.registry), credential=cred, deadline=deadline
            )
            try:
                return self._inspect(job)
            except _Failure as failure:
                if failure.kind is FailureKind.UNAUTHORIZED and index + 1 < len(candidates):
                    _log(logging.INFO, f"{image}: credentials from {_source(cred)} refused, trying the next")
                    continue
                _log(logging.INFO, failure.message)
                return InspectFailure(failure.kind, failure.message)
            except Exception as err:  # a defect here must not take the operator down, nor print a traceback
                message = _one_line(
                    f"image {image}: unexpected error ({type(err).__name__}) while reading from registry "
                    f"{ref.registry}; it will be tried again later"
                )
                _log(logging.INFO, message)
                return InspectFailure(FailureKind.REGISTRY_ERROR, message)
        raise AssertionError("unreachable")  # pragma: no cover

    def inspect_many(self, requests: Iterable[InspectRequest], concurrency: int = 8) -> list[InspectResult]:
        """Inspect in parallel; results are in request order, and duplicates are fetched once.

        Each registry gets its own lanes, at most `concurrency` of them (so at most that many of its
        images are read at once), and registries never wait for each other's lanes: a registry that
        hangs holds only its own, each for at most `request_deadline`, while the images of healthy
        registries are read at once. (Past 64 lanes in all, lanes wait for a thread, the first lane of
        every registry ahead of any second.)
        """
        todo = list(requests)
        unique = list(dict.fromkeys(todo))  # one fetch for duplicates
        if not unique:
            return []
        queues: dict[str, deque[InspectRequest]] = {}
        for request in unique:
            queues.setdefault(_registry_of(request.image), deque()).append(request)
        per_registry = max(1, concurrency)
        lanes = [queue for rank in range(per_registry) for queue in queues.values() if rank < len(queue)]
        done: dict[InspectRequest, InspectResult] = {}
        lock = threading.Lock()

        def lane(queue: deque[InspectRequest]) -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    request = queue.popleft()
                result = self.inspect(request.image, request.keyring)
                with lock:
                    done[request] = result

        workers = min(len(lanes), _MAX_LANES)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aimcore-registry") as pool:
            for future in [pool.submit(lane, queue) for queue in lanes]:
                future.result()
        return [done[r] for r in todo]

    # -- the protocol -----------------------------------------------------------------------------

    def _inspect(self, job: _Job) -> ImageFacts:
        ref = job.ref
        seen_key = (ref.api_host, ref.repository, ref.reference)
        with self._lock:
            known = ref.digest or self._resolved.get(seen_key)
            cached = self._facts.get(known) if known else None
            if known and cached:
                self._facts.move_to_end(known)
        if known and cached:
            # HEAD, not GET: it answers the only question (did the tag move?) and Docker Hub does not
            # count it against the pull rate limit.
            head = self._send(
                job, "HEAD", f"{job.repo_url}/manifests/{ref.reference}", accept=ACCEPT, limit=0
            )
            if head.status == 200 and head.header("Docker-Content-Digest") == known:
                _log(logging.DEBUG, f"{job.image}: unchanged at {known}, served from cache")
                return ImageFacts(labels=dict(cached.labels), env=cached.env, digest=known)
        body, media_type, digest = self._get_manifest(job, ref.reference, pinned=ref.digest)
        with self._lock:
            self._remember(self._resolved, seen_key, digest)
            cached = self._facts.get(digest)
        if cached:
            return ImageFacts(labels=dict(cached.labels), env=cached.env, digest=digest)
        manifest = self._resolve_platform(job, body, media_type)
        facts = self._read_config(job, manifest)
        with self._lock:
            self._remember(self._facts, digest, facts)
        return ImageFacts(labels=dict(facts.labels), env=facts.env, digest=digest)

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _get_manifest(
        self, job: _Job, reference: str, *, pinned: str | None
    ) -> tuple[dict[str, Any], str, str]:
        """GET a manifest; returns (document, media type, verified digest)."""
        if pinned is not None:
            _check_digest_syntax(job, pinned)
        resp = self._send(
            job, "GET", f"{job.repo_url}/manifests/{reference}", accept=ACCEPT, limit=self._manifest_limit
        )
        if resp.status != 200:
            self._raise_for(job, resp, what="manifest", reference=reference)
        claimed = pinned or resp.header("Docker-Content-Digest").strip()
        if claimed and _DIGEST_RE.match(claimed):
            if _digest(resp.body, claimed.partition(":")[0]) != claimed:
                job.fail(
                    FailureKind.MALFORMED,
                    f"registry {job.host} sent a manifest whose content does not match digest {claimed}; "
                    "the registry or a proxy in between is corrupting data",
                )
            digest = claimed
        else:
            digest = _digest(resp.body, "sha256")
        doc = _parse_json(job, resp.body, "manifest")
        media_type = doc.get("mediaType") or resp.header("Content-Type").partition(";")[0].strip()
        if not isinstance(media_type, str):
            job.fail(
                FailureKind.MALFORMED, f"registry {job.host} sent a manifest whose mediaType is not a string"
            )
        if doc.get("schemaVersion") == 1 or media_type in _SCHEMA1_TYPES:
            job.fail(
                FailureKind.MALFORMED,
                f"registry {job.host} only has a schema-1 manifest, which is not supported; "
                "push the image again with a current tool",
            )
        if media_type not in _INDEX_TYPES and media_type not in _MANIFEST_TYPES:
            job.fail(
                FailureKind.MALFORMED,
                f"registry {job.host} sent a manifest of unsupported type {media_type[:100]!r}; "
                "the reference must name a container image",
            )
        return doc, media_type, digest

    def _resolve_platform(self, job: _Job, doc: dict[str, Any], media_type: str) -> dict[str, Any]:
        for _ in range(_MAX_INDEX_DEPTH):
            if media_type in _MANIFEST_TYPES:
                return doc
            entries = doc.get("manifests")
            if not isinstance(entries, list):
                job.fail(FailureKind.MALFORMED, f"registry {job.host} sent an index without a manifest list")
            chosen = _pick_platform(entries)
            if chosen is None:
                found = sorted({_platform_name(e) for e in entries if _is_image_entry(e)} - {_UNKNOWN})
                job.fail(
                    FailureKind.NOT_FOUND,
                    f"no {'/'.join(PLATFORM)} image in the index on registry {job.host} "
                    f"(it has: {', '.join(found) or 'none'}); use an image built for {'/'.join(PLATFORM)}",
                )
            digest = _descriptor_digest(job, chosen, "manifest")
            doc, media_type, _ = self._get_manifest(job, digest, pinned=digest)
        job.fail(FailureKind.MALFORMED, f"registry {job.host} sent indexes nested too deeply")

    def _read_config(self, job: _Job, manifest: dict[str, Any]) -> _Cached:
        config = manifest.get("config")
        if not isinstance(config, dict):
            job.fail(FailureKind.MALFORMED, f"registry {job.host} sent a manifest without a config")
        config_type = config.get("mediaType")
        if not isinstance(config_type, str) or config_type not in _CONFIG_TYPES:
            kind = _json_kind(config_type)
            shown = repr(config_type[:100]) if isinstance(config_type, str) else f"a JSON {kind}"
            job.fail(
                FailureKind.MALFORMED,
                f"the manifest on registry {job.host} is not a container image (config type "
                f"{shown}); the reference must name a container image",
            )
        digest = _descriptor_digest(job, config, "config")
        size = config.get("size")
        if isinstance(size, int) and size > self._config_limit:
            job.fail(
                FailureKind.MALFORMED, f"the image config on registry {job.host} is too large ({size} bytes)"
            )
        resp = self._send(
            job, "GET", f"{job.repo_url}/blobs/{digest}", accept="*/*", limit=self._config_limit
        )
        if resp.status != 200:
            self._raise_for(job, resp, what="config blob", reference=digest)
        if _digest(resp.body, digest.partition(":")[0]) != digest:
            job.fail(
                FailureKind.MALFORMED,
                f"the image config from registry {job.host} does not match its digest {digest}; "
                "the registry or a proxy in between is corrupting data",
            )
        doc = _parse_json(job, resp.body, "image config")
        inner = doc.get("config") or {}
        labels = inner.get("Labels") or {} if isinstance(inner, dict) else None
        env = inner.get("Env") or [] if isinstance(inner, dict) else None
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            job.fail(
                FailureKind.MALFORMED,
                f"the image config on registry {job.host} has labels that are not strings",
            )
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            job.fail(
                FailureKind.MALFORMED, f"the image config on registry {job.host} has an invalid Env list"
            )
        # JSON may escape half a surrogate pair (\ud800), which no text encoding can carry: Go (the
        # reference, and aimcore.gojson for label values) reads each as U+FFFD, and so does this.
        return _Cached(
            labels={_go_text(k): _go_text(v) for k, v in labels.items()}, env=tuple(_go_text(e) for e in env)
        )

    def _raise_for(self, job: _Job, resp: _Response, *, what: str, reference: str) -> NoReturn:
        codes = resp.error_codes()
        ref, host = job.ref, job.host
        if resp.status in (401, 403) or codes & {"UNAUTHORIZED", "DENIED"}:
            self._raise_unauthorized(job, resp.status)
        if resp.status == 404 or codes & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"}:
            if what == "config blob":
                job.fail(
                    FailureKind.NOT_FOUND,
                    f"registry {host} lacks the image config {reference} of repository '{ref.repository}'; "
                    "the image is incomplete, push it again",
                )
            if "NAME_UNKNOWN" in codes or (
                ref.digest is None and reference == ref.tag and self._repo_missing(job)
            ):
                job.fail(
                    FailureKind.NOT_FOUND,
                    f"repository '{ref.repository}' not found on registry {host}; check the image name",
                )
            if reference.startswith(("sha256:", "sha512:")):
                job.fail(
                    FailureKind.NOT_FOUND,
                    f"digest {reference} not found in repository '{ref.repository}' on registry {host}; "
                    "check the digest",
                )
            job.fail(
                FailureKind.NOT_FOUND,
                f"tag '{reference}' not found in repository '{ref.repository}' on registry {host}; "
                "check the tag",
            )
        if resp.status == 429 or codes & {"TOOMANYREQUESTS"}:
            job.fail(
                FailureKind.REGISTRY_ERROR,
                f"registry {host} keeps refusing with HTTP 429 (rate limit) after {_attempts(resp)}; "
                "it will be tried again later",
            )
        if resp.status >= 500:
            job.fail(
                FailureKind.REGISTRY_ERROR,
                f"registry {host} answered HTTP {resp.status} after {_attempts(resp)}; "
                "it will be tried again later",
            )
        job.fail(FailureKind.REGISTRY_ERROR, f"registry {host} answered HTTP {resp.status} for the {what}")

    def _raise_unauthorized(self, job: _Job, status: int) -> NoReturn:
        host = job.host
        if job.credential is None:
            job.fail(
                FailureKind.UNAUTHORIZED,
                f"registry {host} requires authentication (HTTP {status}) and no pull secret has credentials "
                f"for it, or the repository does not exist; add an imagePullSecret for {host}",
            )
        job.fail(
            FailureKind.UNAUTHORIZED,
            f"registry {host} refused the credentials from {_source(job.credential)} (HTTP {status}); "
            f"check them and that they may pull '{job.ref.repository}'",
        )

    def _repo_missing(self, job: _Job) -> bool:
        """Tell a missing repository from a missing tag: many registries say MANIFEST_UNKNOWN for both."""
        try:
            resp = self._send(
                job,
                "GET",
                f"{job.repo_url}/tags/list?n=1",
                accept="application/json",
                limit=_ERROR_BODY_LIMIT,
            )
        except _Failure:
            return False
        return resp.status == 404 and "NAME_UNKNOWN" in resp.error_codes()

    # -- HTTP, auth, retries ------------------------------------------------------------------------

    def _send(self, job: _Job, method: str, url: str, *, accept: str, limit: int) -> _Response:
        """One registry call with auth, retries and redirects; error statuses are returned, not raised."""
        api_host = job.ref.api_host
        with self._lock:
            challenge = self._challenges.get(api_host)
        auth, reused = self._authorization(job, challenge) if challenge else (None, False)
        resp = self._send_retrying(job, method, url, _headers(self._user_agent, accept, auth), limit=limit)
        if resp.status != 401:
            return resp
        fresh = _parse_challenge(resp.header("Www-Authenticate"))
        if fresh is None:
            return resp
        if auth is not None and fresh == challenge and not reused:
            return resp  # what was just obtained was refused: asking again would be refused again
        with self._lock:
            self._challenges[api_host] = fresh
        if reused:
            self._forget_token(job, fresh)  # revoked or expired early: get one fresh token
        retry_auth, _ = self._authorization(job, fresh)
        if retry_auth is None or retry_auth == auth:
            return resp
        return self._send_retrying(
            job, method, url, _headers(self._user_agent, accept, retry_auth), limit=limit
        )

    def _send_retrying(
        self,
        job: _Job,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        limit: int,
        body: bytes | None = None,
    ) -> _Response:
        """Retry 5xx and 429 with exponential backoff (429: the server's Retry-After, capped).

        A wait that would end past the inspection's deadline is not begun: the last answer is returned.
        """
        attempt = 0
        while True:
            resp = self._fetch(job, method, url, headers, limit=limit, body=body)
            if attempt:
                resp = attrs.evolve(resp, attempts=attempt + 1)
            retryable = resp.status == 429 or resp.status >= 500
            if not retryable or attempt >= self._max_retries:
                return resp
            delay = self._backoff.delay(attempt)
            if resp.status == 429:
                delay = _retry_after(resp.header("Retry-After"), default=delay, cap=self._retry_after_max)
            if delay >= job.remaining():
                return resp
            attempt += 1
            _log(
                logging.INFO,
                f"{job.image}: registry {job.host} answered HTTP {resp.status}, "
                f"retry {attempt}/{self._max_retries} in {delay:.1f}s",
            )
            self._sleep(delay)

    def _fetch(
        self,
        job: _Job,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        limit: int,
        body: bytes | None = None,
    ) -> _Response:
        """A single exchange, following redirects by hand so that credentials never leave their origin.

        Every wait in it (connecting, the TLS handshake, each read of the status line, headers and body)
        ends by the inspection's deadline.
        """
        for _ in range(_MAX_REDIRECTS + 1):
            host = urlsplit(url).netloc
            remaining = job.remaining()
            if remaining <= 0:
                self._too_slow(job, host)
            timeout = urllib3.Timeout(
                connect=min(self._connect_timeout, remaining), read=min(self._read_timeout, remaining)
            )
            _PACE.pace = _Pace(job.deadline, self._read_timeout)
            try:
                raw = self._http.request(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    timeout=timeout,
                )
            except urllib3.exceptions.HTTPError as err:
                self._raise_transport(job, host, err)
            finally:
                _PACE.pace = None
            try:
                data = self._read_body(job, raw, method, host, limit)
            finally:
                raw.release_conn()
            _log(logging.DEBUG, f"{method} {_loggable(url)} -> {raw.status} ({len(data)} bytes)")
            location = raw.headers.get("Location")
            if raw.status in (301, 302, 303, 307, 308) and location:
                parts = _split_url(location, base=url)
                if parts is None or parts.scheme not in ("http", "https"):
                    job.fail(FailureKind.REGISTRY_ERROR, f"registry {job.host} sent an invalid redirect")
                target = urljoin(url, location)
                if parts.scheme == "http" and not self._plain_http_ok(parts.netloc):
                    job.fail(
                        FailureKind.REGISTRY_ERROR,
                        f"registry {job.host} redirected to plain HTTP at {parts.hostname}; refusing",
                    )
                if _origin(target) != _origin(url):
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                if raw.status == 303:
                    method, body = ("HEAD" if method == "HEAD" else "GET"), None
                url = target
                continue
            return _Response(
                status=raw.status, headers=urllib3.HTTPHeaderDict(raw.headers), body=data, url=url
            )
        job.fail(FailureKind.REGISTRY_ERROR, f"registry {job.host} redirected too many times")

    def _read_body(
        self, job: _Job, raw: urllib3.BaseHTTPResponse, method: str, host: str, limit: int
    ) -> bytes:
        error = raw.status >= 300
        cap = _ERROR_BODY_LIMIT if error else limit
        length = (raw.headers.get("Content-Length") or "").strip()
        if method != "HEAD" and not error and _over(length, cap):
            raw.close()
            job.fail(
                FailureKind.MALFORMED,
                f"registry {job.host} announced a response of {length} bytes, over the {cap}-byte limit",
            )
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                chunk = raw.read(64 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raw.close()
                    if error:
                        return b"".join(chunks)
                    job.fail(
                        FailureKind.MALFORMED, f"registry {job.host} sent more than the {cap}-byte limit"
                    )
                chunks.append(chunk)
                if job.remaining() <= 0:
                    raw.close()
                    self._too_slow(job, host)
        except urllib3.exceptions.HTTPError as err:
            raw.close()
            self._raise_transport(job, host, err)
        return b"".join(chunks)

    def _too_slow(self, job: _Job, host: str) -> NoReturn:
        own = host.lower() in (job.host.lower(), job.ref.api_host.lower())
        waiting = "" if own else f" waiting for {host}"
        job.fail(
            FailureKind.UNREACHABLE,
            f"registry {job.host} is too slow: gave up after {self._deadline:g}s{waiting}; "
            "check the network path to it",
        )

    def _raise_transport(self, job: _Job, host: str, err: Exception) -> NoReturn:
        if job.remaining() <= 0:  # whatever broke off, the deadline is why nothing more was waited for
            self._too_slow(job, host)
        reason: object = err
        while isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
            reason = reason.reason
        exc = urllib3.exceptions
        if isinstance(reason, exc.NameResolutionError):
            what = f"cannot resolve the host name of registry {host}"
        elif isinstance(reason, exc.NewConnectionError):
            what = f"cannot connect to registry {host} (connection refused or no route)"
        elif isinstance(reason, exc.ConnectTimeoutError):
            what = f"timed out connecting to registry {host}"
        elif isinstance(reason, exc.ReadTimeoutError | TimeoutError):
            what = f"registry {host} did not answer in time"
        elif isinstance(reason, exc.SSLError):
            detail = "certificate not trusted" if "CERTIFICATE_VERIFY_FAILED" in str(reason) else "TLS failed"
            what = (
                f"TLS connection to registry {host} failed ({detail}); if it serves plain HTTP, list it "
                "among the insecure registries, or give the operator its CA"
            )
            job.fail(FailureKind.UNREACHABLE, what)
        elif isinstance(reason, exc.ProtocolError):
            what = f"the connection to registry {host} broke off"
        else:
            what = f"cannot talk to registry {host} ({type(reason).__name__})"
        job.fail(
            FailureKind.UNREACHABLE, f"{what}; check the address and the operator's network access to it"
        )

    def _plain_http_ok(self, host: str) -> bool:
        host = host.lower()
        return is_loopback(host) or host in self._insecure or _hostname(host) in self._insecure

    def _authorization(self, job: _Job, challenge: _Challenge) -> tuple[str | None, bool]:
        """The Authorization value for a challenge, and whether it is a token reused from the cache."""
        cred = job.credential
        if cred is not None and cred.registry_token:
            return f"Bearer {cred.registry_token}", False
        if challenge.scheme == "basic":
            return (cred.basic_header() if cred is not None and cred.can_basic else None), False
        token, reused = self._token(job, challenge)
        return f"Bearer {token}", reused

    def _token_key(self, job: _Job, challenge: _Challenge) -> tuple[str, str, str, Credential | None]:
        return (challenge.realm, challenge.service, f"repository:{job.ref.repository}:pull", job.credential)

    def _forget_token(self, job: _Job, challenge: _Challenge) -> None:
        with self._lock:
            self._tokens.pop(self._token_key(job, challenge), None)

    def _token(self, job: _Job, challenge: _Challenge) -> tuple[str, bool]:
        """A pull token for the repository, reused until it is about to expire."""
        key = self._token_key(job, challenge)
        with self._lock:
            lock = self._token_locks.setdefault(key, threading.Lock())
        # One token request per key, however many threads want it; waiting for another thread's request
        # counts against this inspection's deadline too.
        if not lock.acquire(timeout=max(0.0, job.remaining())):
            realm = _split_url(challenge.realm)
            self._too_slow(job, realm.netloc if realm is not None else job.host)
        try:
            with self._lock:
                token = self._tokens.get(key)
            if token is not None and self._clock() < token.expires_at:
                return token.value, key not in job.fresh_tokens
            token = self._fetch_token(job, challenge, key[2])
            job.fresh_tokens.add(key)
            now = self._clock()
            with self._lock:
                if len(self._tokens) >= self._cache_size:
                    for stale in [k for k, t in self._tokens.items() if t.expires_at <= now]:
                        del self._tokens[stale]
                self._tokens[key] = token
            return token.value, False
        finally:
            lock.release()

    def _fetch_token(self, job: _Job, challenge: _Challenge, scope: str) -> _Token:
        realm = _split_url(challenge.realm)
        if realm is None or realm.scheme not in ("http", "https") or not realm.netloc:
            job.fail(FailureKind.MALFORMED, f"registry {job.host} names an invalid token service")
        cred = job.credential
        if realm.scheme == "http" and cred is not None and not self._plain_http_ok(realm.netloc):
            job.fail(
                FailureKind.UNAUTHORIZED,
                f"the token service of registry {job.host} ({realm.hostname}) is plain HTTP; credentials "
                "are not sent over it unless it is listed among the insecure registries",
            )
        params = {"service": challenge.service, "scope": scope} if challenge.service else {"scope": scope}
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        started = self._clock()
        if cred is not None and cred.identity_token:
            form = {
                **params,
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "client_id": "aimcore",
            }
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            resp = self._send_retrying(
                job, "POST", challenge.realm, headers, limit=_ERROR_BODY_LIMIT, body=urlencode(form).encode()
            )
        else:
            if cred is not None and cred.can_basic:
                headers["Authorization"] = cred.basic_header()
            sep = "&" if realm.query else "?"
            resp = self._send_retrying(
                job, "GET", f"{challenge.realm}{sep}{urlencode(params)}", headers, limit=_ERROR_BODY_LIMIT
            )
        if resp.status in (401, 403):
            self._raise_unauthorized(job, resp.status)
        if resp.status != 200:
            job.fail(
                FailureKind.REGISTRY_ERROR,
                f"the token service of registry {job.host} ({realm.hostname}) answered HTTP {resp.status}; "
                "it will be tried again later",
            )
        doc, problem = _load_json(resp.body)
        if not isinstance(doc, dict):
            job.fail(
                FailureKind.MALFORMED,
                f"the token service of registry {job.host} sent an answer that is not a JSON object"
                + (f" ({problem})" if problem else ""),
            )
        value = doc.get("token") or doc.get("access_token")
        lifetime = doc.get("expires_in")
        if not isinstance(value, str) or not value:
            job.fail(FailureKind.MALFORMED, f"the token service of registry {job.host} sent no token")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or not lifetime > 0:
            lifetime = 60  # NaN too
        seconds = float(min(lifetime, _TOKEN_LIFETIME_MAX))  # a 400-digit integer is no float
        _log(logging.DEBUG, f"token for {scope} from {realm.hostname}, valid {seconds:g}s")
        return _Token(value=value, expires_at=started + max(seconds - _TOKEN_SKEW, 1.0))


# -- helpers --------------------------------------------------------------------------------------------


def _log(level: int, text: str) -> None:
    """One line, never a traceback (and nowhere at all unless the program configured logging)."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", _one_line(text))


def _headers(user_agent: str, accept: str, auth: str | None) -> dict[str, str]:
    headers = {"Accept": accept, "User-Agent": user_agent}
    if auth:
        headers["Authorization"] = auth
    return headers


def _source(cred: Credential | None) -> str:
    if cred is None:
        return "no credentials"
    return cred.source or "the given credentials"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _loggable(url: str) -> str:
    """URLs here never carry secrets, but a registry's redirect might: log without the query."""
    return url.partition("?")[0]


def _digest(data: bytes, algorithm: str) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _check_digest_syntax(job: _Job, digest: str) -> None:
    if not _DIGEST_RE.match(digest):
        job.fail(
            FailureKind.MALFORMED, f"unsupported or invalid digest {digest[:80]!r} (sha256 or sha512 only)"
        )


def _descriptor_digest(job: _Job, descriptor: dict[str, Any], what: str) -> str:
    digest = descriptor.get("digest")
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        job.fail(
            FailureKind.MALFORMED, f"registry {job.host} sent a {what} descriptor with an invalid digest"
        )
    return digest


def _load_json(body: bytes) -> tuple[Any, str]:
    """The document, or None and why it cannot be read. Never raises, whatever the bytes: strict UTF-8
    (RFC 8259; json.loads would guess UTF-16 and UTF-32 too), nesting deeper than Python's stack
    (RecursionError), integers longer than Python converts."""
    try:
        return json.loads(body.decode("utf-8")), ""
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8 at byte {err.start}"
    except RecursionError:
        return None, "nested too deeply"
    except json.JSONDecodeError as err:
        return None, f"invalid JSON at line {err.lineno}, column {err.colno}"
    except ValueError:  # the only other one: int() refuses an integer this long
        return None, f"a number in it has more than {sys.get_int_max_str_digits()} digits"


def _parse_json(job: _Job, body: bytes, what: str) -> dict[str, Any]:
    doc, problem = _load_json(body)
    if not isinstance(doc, dict):
        job.fail(
            FailureKind.MALFORMED,
            f"registry {job.host} sent {_article(what)} {what} that is not a JSON object"
            + (f" ({problem})" if problem else ""),
        )
    return doc


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def _json_kind(value: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _one_line(text: str) -> str:
    """Control characters (a registry's newline, say) escaped: a message is one line of printable text."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _go_text(text: str) -> str:
    return _SURROGATE_RE.sub("\ufffd", text)


def _split_url(url: str, *, base: str = "") -> SplitResult | None:
    """The parts of `url` (resolved against `base`), or None if it is no URL: "http://[::1", "h:port"."""
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def _over(length: str, cap: int) -> bool:
    """Whether a Content-Length value announces more than `cap` bytes (ASCII digits only)."""
    if not length.isascii() or not length.isdigit():
        return False
    return len(length.lstrip("0")) > len(str(cap)) or int(length) > cap


def _attempts(resp: _Response) -> str:
    return "1 attempt" if resp.attempts == 1 else f"{resp.attempts} attempts"


def _registry_of(image: str) -> str:
    try:
        return ImageRef.parse(image).api_host
    except (InvalidReference, TypeError, ValueError):
        return ""


def _text_field(entry: Mapping[str, Any], name: str, default: str) -> str:
    value = entry.get(name)
    return _one_line(value[:40]) if isinstance(value, str) and value else default


_UNKNOWN = "unknown/unknown"


def _platform_name(entry: dict[str, Any]) -> str:
    platform = entry.get("platform") or {}
    if not isinstance(platform, dict):
        return _UNKNOWN
    name = f"{_text_field(platform, 'os', 'unknown')}/{_text_field(platform, 'architecture', 'unknown')}"
    variant = _text_field(platform, "variant", "")
    return f"{name}/{variant}" if variant else name


def _is_image_entry(entry: object) -> bool:
    """An index entry that names an image or another index (no mediaType: assumed so)."""
    if not isinstance(entry, dict):
        return False
    media_type = entry.get("mediaType")
    return media_type is None or (isinstance(media_type, str) and media_type in _IMAGE_TYPES)


def _pick_platform(entries: list[Any]) -> dict[str, Any] | None:
    for entry in entries:
        if not _is_image_entry(entry):
            continue
        platform = entry.get("platform")
        if isinstance(platform, dict) and (platform.get("os"), platform.get("architecture")) == PLATFORM:
            return dict(entry)
    return None


def _parse_challenge(header: str) -> _Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return _Challenge("basic")
    if scheme != "bearer":
        return None
    params = {
        m.group(1).lower(): (_UNESCAPE_RE.sub(r"\1", m.group(2)) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_RE.finditer(rest)
    }
    realm = params.get("realm") or ""
    if not realm:
        return None
    return _Challenge("bearer", realm=realm, service=params.get("service") or "")


def _retry_after(value: str, *, default: float, cap: float) -> float:
    value = value.strip()
    if not value:
        return default
    if value.isascii() and value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, min(when.timestamp() - time.time(), cap))
