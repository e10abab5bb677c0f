"""Read an image's labels and environment from an OCI distribution registry.

Only the manifest (or index) and the config blob are fetched, never a layer:
discovery needs the config alone, and images for models weigh gigabytes.
Every failure becomes a typed `InspectFailure` whose message a user can act on;
`inspect` never raises.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin, urlsplit

import attrs
import urllib3
from docker_image.reference import InvalidReference, Reference

from adapters.credentials import DOCKER_HUB, Credential, Keyring
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult

logger = logging.getLogger("aimcore.registry")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
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

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def error_codes(self) -> set[str]:
        try:
            doc = json.loads(self.body)
            return {str(e.get("code", "")).upper() for e in doc.get("errors", []) if isinstance(e, dict)}
        except (ValueError, AttributeError, TypeError):
            return set()


@attrs.define
class _Job:
    """One inspection's context: what errors must name, and the credential in use."""

    image: str
    ref: ImageRef
    base: str  # scheme://host
    credential: Credential | None
    fresh_tokens: set[tuple[str, str, str, Credential | None]] = attrs.field(factory=set)

    @property
    def host(self) -> str:
        return self.ref.registry

    @property
    def repo_url(self) -> str:
        return f"{self.base}/v2/{self.ref.repository}"

    def fail(self, kind: FailureKind, problem: str) -> NoReturn:
        raise _Failure(kind, f"image {self.image}: {problem}")


@attrs.frozen
class _Cached:
    labels: Mapping[str, str]
    env: tuple[str, ...]


class RegistryClient:
    """A thread-safe registry reader with token reuse and a digest-keyed cache.

    `clock` gives seconds (monotonic) and drives token expiry; `sleep` waits between retries. Both are
    injectable so tests need not wait.
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
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._deadline = request_deadline
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_max = retry_after_max
        self._manifest_limit = manifest_limit
        self._config_limit = config_limit
        self._cache_size = cache_size
        self._clock = clock
        self._sleep = sleep
        self._user_agent = user_agent
        self._http = urllib3.PoolManager(num_pools=32, maxsize=16, ca_certs=ca_certs)
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
        try:
            ref = ImageRef.parse(image)
        except (InvalidReference, TypeError, ValueError) as err:
            return InspectFailure(
                FailureKind.MALFORMED, f"image {image!r} is not a valid image reference: {err}"
            )
        creds = keyring.lookup(ref.registry, ref.repository) if keyring else ()
        candidates: Sequence[Credential | None] = creds or (None,)
        for index, cred in enumerate(candidates):
            job = _Job(image=image, ref=ref, base=self.base_url(ref.registry), credential=cred)
            try:
                return self._inspect(job)
            except _Failure as failure:
                if failure.kind is FailureKind.UNAUTHORIZED and index + 1 < len(candidates):
                    logger.info("%s: credentials from %s refused, trying the next", image, _source(cred))
                    continue
                logger.info("%s", failure.message)
                return InspectFailure(failure.kind, failure.message)
            except Exception:  # a defect here must not take the operator down
                logger.exception("unexpected error while inspecting %s", image)
                return InspectFailure(
                    FailureKind.REGISTRY_ERROR,
                    f"image {image}: unexpected error while reading from registry {ref.registry}; "
                    "see the operator log",
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def inspect_many(self, requests: Iterable[InspectRequest], concurrency: int = 8) -> list[InspectResult]:
        """Inspect in parallel, at most `concurrency` at once; results are in request order."""
        todo = list(requests)
        unique = list(dict.fromkeys(todo))  # one fetch for duplicates
        if not unique:
            return []
        workers = max(1, min(concurrency, len(unique)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aimcore-registry") as pool:
            done = dict(
                zip(unique, pool.map(lambda r: self.inspect(r.image, r.keyring), unique), strict=True)
            )
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
                logger.debug("%s: unchanged at %s, served from cache", job.image, known)
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
        if doc.get("schemaVersion") == 1 or media_type in _SCHEMA1_TYPES:
            job.fail(
                FailureKind.MALFORMED,
                f"registry {job.host} only has a schema-1 manifest, which is not supported; "
                "push the image again with a current tool",
            )
        if media_type not in _INDEX_TYPES and media_type not in _MANIFEST_TYPES:
            job.fail(
                FailureKind.MALFORMED,
                f"registry {job.host} sent a manifest of unsupported type {str(media_type)[:100]!r}; "
                "the reference must name a container image",
            )
        return doc, str(media_type), digest

    def _resolve_platform(self, job: _Job, doc: dict[str, Any], media_type: str) -> dict[str, Any]:
        for _ in range(_MAX_INDEX_DEPTH):
            if media_type in _MANIFEST_TYPES:
                return doc
            entries = doc.get("manifests")
            if not isinstance(entries, list):
                job.fail(FailureKind.MALFORMED, f"registry {job.host} sent an index without a manifest list")
            chosen = _pick_platform(entries)
            if chosen is None:
                found = sorted(
                    {_platform_name(e) for e in entries if isinstance(e, dict)} - {"unknown/unknown"}
                )
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
        if config_type not in _CONFIG_TYPES:
            job.fail(
                FailureKind.MALFORMED,
                f"the manifest on registry {job.host} is not a container image (config type "
                f"{str(config_type)[:100]!r}); the reference must name a container image",
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
        return _Cached(labels=dict(labels), env=tuple(env))

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
                f"registry {host} keeps refusing with HTTP 429 (rate limit) after {self._max_retries + 1} "
                "attempts; it will be tried again later",
            )
        if resp.status >= 500:
            job.fail(
                FailureKind.REGISTRY_ERROR,
                f"registry {host} answered HTTP {resp.status} after {self._max_retries + 1} attempts; "
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
        """Retry 5xx and 429 with exponential backoff (429: the server's Retry-After, capped)."""
        attempt = 0
        while True:
            resp = self._fetch(job, method, url, headers, limit=limit, body=body)
            retryable = resp.status == 429 or resp.status >= 500
            if not retryable or attempt >= self._max_retries:
                return resp
            delay = min(self._backoff_base * 2**attempt, self._backoff_max)
            if resp.status == 429:
                delay = _retry_after(resp.header("Retry-After"), default=delay, cap=self._retry_after_max)
            attempt += 1
            logger.info(
                "%s: registry %s answered HTTP %d, retry %d/%d in %.1fs",
                job.image,
                job.host,
                resp.status,
                attempt,
                self._max_retries,
                delay,
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
        """A single exchange, following redirects by hand so that credentials never leave their origin."""
        start = time.monotonic()
        for _ in range(_MAX_REDIRECTS + 1):
            host = urlsplit(url).netloc
            try:
                raw = self._http.request(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    timeout=self._timeout,
                )
            except urllib3.exceptions.HTTPError as err:
                self._raise_transport(job, host, err)
            try:
                data = self._read_body(job, raw, method, host, limit, start)
            finally:
                raw.release_conn()
            logger.debug("%s %s -> %d (%d bytes)", method, _loggable(url), raw.status, len(data))
            location = raw.headers.get("Location")
            if raw.status in (301, 302, 303, 307, 308) and location:
                target = urljoin(url, location)
                parts = urlsplit(target)
                if parts.scheme == "http" and not self._plain_http_ok(parts.netloc):
                    job.fail(
                        FailureKind.REGISTRY_ERROR,
                        f"registry {job.host} redirected to plain HTTP at {parts.hostname}; refusing",
                    )
                if parts.scheme not in ("http", "https"):
                    job.fail(FailureKind.REGISTRY_ERROR, f"registry {job.host} sent an invalid redirect")
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
        self, job: _Job, raw: urllib3.BaseHTTPResponse, method: str, host: str, limit: int, start: float
    ) -> bytes:
        error = raw.status >= 300
        cap = _ERROR_BODY_LIMIT if error else limit
        length = raw.headers.get("Content-Length")
        if method != "HEAD" and not error and length and length.isdigit() and int(length) > cap:
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
                if time.monotonic() - start > self._deadline:
                    raw.close()
                    job.fail(
                        FailureKind.UNREACHABLE,
                        f"registry {job.host} is too slow: gave up after "
                        f"{self._deadline:.0f}s; check the network path to it",
                    )
        except urllib3.exceptions.HTTPError as err:
            raw.close()
            self._raise_transport(job, host, err)
        return b"".join(chunks)

    def _raise_transport(self, job: _Job, host: str, err: Exception) -> NoReturn:
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
        with lock:  # one token request per key, however many threads want it
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

    def _fetch_token(self, job: _Job, challenge: _Challenge, scope: str) -> _Token:
        realm = urlsplit(challenge.realm)
        realm_host = realm.netloc
        if realm.scheme not in ("http", "https") or not realm_host:
            job.fail(FailureKind.MALFORMED, f"registry {job.host} names an invalid token service")
        cred = job.credential
        if realm.scheme == "http" and cred is not None and not self._plain_http_ok(realm_host):
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
        try:
            doc = json.loads(resp.body)
            value = doc.get("token") or doc.get("access_token")
            lifetime = doc.get("expires_in")
        except (ValueError, AttributeError):
            value, lifetime = None, None
        if not isinstance(value, str) or not value:
            job.fail(FailureKind.MALFORMED, f"the token service of registry {job.host} sent no token")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = 60
        logger.debug("token for %s from %s, valid %ss", scope, realm.hostname, lifetime)
        return _Token(value=value, expires_at=started + max(float(lifetime) - _TOKEN_SKEW, 1.0))


# -- helpers --------------------------------------------------------------------------------------------


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


def _parse_json(job: _Job, body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        job.fail(FailureKind.MALFORMED, f"registry {job.host} sent a {what} that is not a JSON object")
    return doc


def _platform_name(entry: dict[str, Any]) -> str:
    platform = entry.get("platform") or {}
    if not isinstance(platform, dict):
        return "unknown/unknown"
    name = f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"
    return f"{name}/{platform['variant']}" if platform.get("variant") else name


def _pick_platform(entries: list[Any]) -> dict[str, Any] | None:
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("mediaType") not in _INDEX_TYPES | _MANIFEST_TYPES | {
            None
        }:
            continue
        platform = entry.get("platform")
        if isinstance(platform, dict) and (platform.get("os"), platform.get("architecture")) == PLATFORM:
            return entry
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
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, min(when.timestamp() - time.time(), cap))
