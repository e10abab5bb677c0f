"""Registries that misbehave on purpose (issue 20): slow pacing (fault 1) and hostile JSON (fault 4).

Each registry here is a raw TCP server on loopback whose connections are played by a small function,
byte by byte when the test needs it: a byte a second, a status line and then silence, a body that stops
half way, a token service that dawdles, answers nested deeper than Python's stack. No part of the client
is replaced. Timing checks are generous bounds on behaviour (an inspection is over by its deadline plus a
few seconds; a healthy registry is asked at once), never benchmarks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from aimcore.adapters.registry.client import InspectRequest, RegistryClient
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ROOT = Path(__file__).resolve().parent.parent
SLACK = 3.0  # seconds an inspection may run past its deadline in these tests (thread start, a loaded CI)
DEEP = b"[" * 100_000 + b"]" * 100_000  # far deeper than Python's recursion limit (DEEP[:60000]: too)


# -- a registry that misbehaves on purpose ---------------------------------------------------------------


@attrs.frozen
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    at: float  # time.monotonic() when it arrived


class Conn:
    """The server's side of one connection, with ways to answer slowly or not at all."""

    def __init__(self, sock: socket.socket, server: Misbehaving) -> None:
        self.sock = sock
        self.server = server

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError:
            self.server.hung_up()
            return False
        return True

    def answer(
        self, request: Request, status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> bool:
        """A whole answer at once; True: the connection serves the next request."""
        head = f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\n"
        for name, value in {**(headers or {}), "Content-Length": str(len(body))}.items():
            head += f"{name}: {value}\r\n"
        return self.send(head.encode("latin-1") + b"\r\n" + (b"" if request.method == "HEAD" else body))

    def trickle(self, data: bytes, every: float) -> bool:
        """One byte, then a pause of `every` seconds, and so on; False once the client hangs up."""
        sent = 0
        while sent < len(data) and self.send(data[sent : sent + 1]) and not self.gone(every):
            sent += 1
        return sent == len(data)

    def hold(self) -> bool:
        """Say nothing more until the client hangs up (or the test ends)."""
        while not self.gone(0.1):
            if self.server.stopping.is_set():
                return False
        return False

    def gone(self, seconds: float) -> bool:
        """Wait up to `seconds`; True if the client closed the connection meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.server.stopping.is_set():
            readable, _, _ = select.select([self.sock], [], [], min(left, 0.1))
            if readable:
                try:
                    closed = self.sock.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    closed = True
                if closed:
                    self.server.hung_up()
                    return True
                time.sleep(min(left, 0.05))  # the client sent more: not our business here
        return self.server.stopping.is_set()


Behaviour = Callable[[Conn, Request], bool]  # True: keep the connection for the next request


class Misbehaving:
    """A raw HTTP/1.1 server on loopback: every request is answered by `behave`, in its connection's thread.

    `requests` records what was asked and when; `hangups` when the client closed a connection that the
    server was still answering (or holding).
    """

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.requests: list[Request] = []
        self.hangups: list[float] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> Misbehaving:
        thread = threading.Thread(target=self._accept, name="misbehaving-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in list(self._threads):
            thread.join(5)
        self.listener.close()

    def hung_up(self) -> None:
        with self._lock:
            self.hangups.append(time.monotonic())

    def saw_hangup_by(self, moment: float) -> bool:
        """Whether a client closed its connection by `moment` (waiting until then to find out)."""
        while not self.hangups and time.monotonic() < moment:
            time.sleep(0.02)
        with self._lock:
            return bool(self.hangups) and self.hangups[0] <= moment

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), name="misbehaving", daemon=True)
            thread.start()
            with self._lock:
                self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self)
        try:
            while (request := self._read_request(sock)) is not None:
                with self._lock:
                    self.requests.append(request)
                if not self.behave(conn, request):
                    return
        finally:
            sock.close()

    def _read_request(self, sock: socket.socket) -> Request | None:
        sock.settimeout(0.1)
        data = b""
        while b"\r\n\r\n" not in data:
            if self.stopping.is_set():
                return None
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:  # a token request's form; small
            rest += sock.recv(65536)
        sock.settimeout(None)
        return Request(method, path, headers, time.monotonic())


class TLSMisbehaving(Misbehaving):
    """The same, over TLS (what registries speak, and their token services)."""

    def __init__(self, behave: Behaviour, context: ssl.SSLContext) -> None:
        super().__init__(behave)
        self.context = context

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        try:
            tls = self.context.wrap_socket(sock, server_side=True)
        except OSError:  # the client gave up during the handshake
            sock.close()
            return
        super()._serve(tls)


class Relay:
    """Passes bytes to `upstream` at once, and its answers back one byte every `every` seconds."""

    def __init__(self, upstream: str, every: float) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.every = every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, name="relay", daemon=True)]
        self._threads[0].start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def stop(self) -> None:
        self.stopping.set()
        for sock in self._sockets:
            sock.close()
        for thread in self._threads:
            thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            for source, sink, every in ((client, upstream, 0.0), (upstream, client, self.every)):
                thread = threading.Thread(target=self._pipe, args=(source, sink, every), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pipe(self, source: socket.socket, sink: socket.socket, every: float) -> None:
        try:
            while not self.stopping.is_set() and (data := source.recv(1 if every else 65536)):
                sink.sendall(data)
                if every:
                    self.stopping.wait(every)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found: the TLS test needs it (apt-get install -y openssl)", pytrace=False)
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], Misbehaving]]:
    servers: list[Misbehaving] = []

    def start(behave: Behaviour) -> Misbehaving:
        server = Misbehaving(behave).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Image:
    """An image served from memory: an OCI manifest and its config blob, whatever bytes the config holds."""

    def __init__(self, labels: Mapping[str, str] | None = None, *, config: bytes | None = None) -> None:
        doc = {"architecture": "amd64", "os": "linux", "config": {"Labels": dict(labels or {}), "Env": []}}
        self.config = json.dumps(doc).encode() if config is None else config
        self.manifest = self.manifest_for(
            {"mediaType": OCI_CONFIG, "digest": sha256(self.config), "size": len(self.config)}
        )

    @staticmethod
    def manifest_for(config: Mapping[str, Any]) -> bytes:
        return json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": dict(config), "layers": []}
        ).encode()

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def answer(self, conn: Conn, request: Request, *, manifest: bytes | None = None) -> bool:
        if "/manifests/" in request.path:
            body = self.manifest if manifest is None else manifest
            headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(body)}
            return conn.answer(request, 200, headers, body)
        if "/blobs/" in request.path:
            return conn.answer(request, 200, {"Content-Type": "application/octet-stream"}, self.config)
        return conn.answer(request, 404, {"Content-Type": "application/json"}, b'{"errors": []}')


def timed(call: Callable[[], InspectResult]) -> tuple[InspectResult, float, float]:
    """The result, the seconds it took, and time.monotonic() when it returned."""
    start = time.monotonic()
    result = call()
    end = time.monotonic()
    return result, end - start, end


def too_slow(image: str, host: str, deadline: str, waiting: str = "") -> InspectFailure:
    return InspectFailure(
        FailureKind.UNREACHABLE,
        f"image {image}: registry {host} is too slow: gave up after {deadline}s{waiting}; "
        "check the network path to it",
    )


# -- fault 1: a slow registry holds an inspection to its deadline, never past it --------------------------


def test_a_body_sent_a_byte_a_second_fails_at_the_deadline(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    """The issue's case: Content-Length 600, then one byte a second, under a 2 s read timeout."""

    def behave(conn: Conn, request: Request) -> bool:
        conn.send(f"HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: 600\r\n\r\n".encode())
        return conn.trickle(b"{" + b" " * 599, every=1.0)

    server = serve(behave)
    image = f"{server.host}/x/y:1"
    client = RegistryClient(read_timeout=2, request_deadline=5)
    result, took, returned = timed(lambda: client.inspect(image))
    assert result == too_slow(image, server.host, "5")
    assert 4.5 <= took <= 5 + SLACK
    assert server.saw_hangup_by(returned + 1.0)  # nothing is left reading the socket


def test_headers_sent_a_byte_at_a_time_fail_at_the_deadline(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    def behave(conn: Conn, request: Request) -> bool:
        conn.send(b"HTTP/1.1 200 OK\r\n")
        return conn.trickle(b"X-Slow: " + b"a" * 1000 + b"\r\n\r\n", every=0.5)

    server = serve(behave)
    image = f"{server.host}/x/y:1"
    result, took, returned = timed(lambda: RegistryClient(read_timeout=2, request_deadline=3).inspect(image))
    assert result == too_slow(image, server.host, "3")
    assert took <= 3 + SLACK
    assert server.saw_hangup_by(returned + 1.0)


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\n", id="status-line-then-silence"),
        pytest.param(b"", id="connected-then-silence"),
        pytest.param(
            f"HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: 600\r\n\r\n{{    ".encode(),
            id="body-stops-half-way",
        ),
    ],
)
def test_a_stalled_answer_fails_at_the_deadline_not_at_the_read_timeout(
    serve: Callable[[Behaviour], Misbehaving], start: bytes
) -> None:
    """A read timeout longer than the deadline does not stretch it (a stall in the headers or the body)."""

    def behave(conn: Conn, request: Request) -> bool:
        return conn.send(start) and conn.hold()

    server = serve(behave)
    image = f"{server.host}/x/y:1"
    result, took, returned = timed(lambda: RegistryClient(read_timeout=30, request_deadline=2).inspect(image))
    assert result == too_slow(image, server.host, "2")
    assert took <= 2 + SLACK
    assert server.saw_hangup_by(returned + 1.0)


def test_silence_shorter_than_the_deadline_is_reported_as_silence(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    server = serve(lambda conn, request: conn.send(b"HTTP/1.1 200 OK\r\n") and conn.hold())
    image = f"{server.host}/x/y:1"
    result, took, _ = timed(lambda: RegistryClient(read_timeout=1, request_deadline=30).inspect(image))
    assert result == InspectFailure(
        FailureKind.UNREACHABLE,
        f"image {image}: registry {server.host} did not answer in time; check the address and the "
        "operator's network access to it",
    )
    assert took <= 1 + SLACK


def test_the_deadline_covers_the_whole_inspection_not_each_exchange(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    """Each answer comes whole after 1.2 s, under every timeout; the manifest and the config together
    take longer than the 2 s one inspection may take."""
    image = Image({"a": "b"})

    def behave(conn: Conn, request: Request) -> bool:
        return not conn.gone(1.2) and image.answer(conn, request)

    server = serve(behave)
    ref = f"{server.host}/x/y:1"
    result, took, _ = timed(lambda: RegistryClient(read_timeout=5, request_deadline=2).inspect(ref))
    assert result == too_slow(ref, server.host, "2")
    assert took <= 2 + SLACK
    blob = f"/v2/x/y/blobs/{sha256(image.config)}"
    assert [r.path for r in server.requests] == ["/v2/x/y/manifests/1", blob]


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (429, {"Retry-After": "20"}, "keeps refusing with HTTP 429 (rate limit) after 1 attempt"),
        (503, {}, "answered HTTP 503 after 2 attempts"),  # waits 2 s, then 4 s would pass the deadline
    ],
)
def test_a_retry_that_would_end_past_the_deadline_is_not_waited_for(
    serve: Callable[[Behaviour], Misbehaving], status: int, headers: dict[str, str], message: str
) -> None:
    server = serve(lambda conn, request: conn.answer(request, status, headers, b"busy"))
    image = f"{server.host}/x/y:1"
    client = RegistryClient(request_deadline=3, retry_after_max=30, backoff_base=2, max_retries=3)
    result, took, _ = timed(lambda: client.inspect(image))
    assert result == InspectFailure(
        FailureKind.REGISTRY_ERROR,
        f"image {image}: registry {server.host} {message}; it will be tried again later",
    )
    assert took <= 3 + SLACK


def test_a_slow_token_service_fails_every_inspection_waiting_for_it_at_the_deadline(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    """Two images of one repository share one token: the second waits for the first's token request,
    and that wait ends by its own deadline too."""
    token = json.dumps({"token": "t" * 200, "expires_in": 300}).encode()

    def tokens(conn: Conn, request: Request) -> bool:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(token)}\r\n\r\n"
        return conn.send(head.encode()) and conn.trickle(token, every=0.5)

    token_service = serve(tokens)
    challenge = f'Bearer realm="{token_service.url}/token",service="registry"'
    registry = serve(lambda conn, request: conn.answer(request, 401, {"Www-Authenticate": challenge}))
    images = [f"{registry.host}/x/y:1", f"{registry.host}/x/y:2"]
    client = RegistryClient(read_timeout=2, request_deadline=3)
    start = time.monotonic()
    results = client.inspect_many([InspectRequest(image) for image in images])
    took = time.monotonic() - start
    waiting = f" waiting for {token_service.host}"
    assert results == [too_slow(image, registry.host, "3", waiting) for image in images]
    assert took <= 3 + SLACK
    # One token request at a time for a repository: the second inspection waited for the first's, and
    # asked itself (with what little time it had left) only once that one had been given up.
    first, *later = token_service.requests
    assert all(r.at - first.at >= 2.5 for r in later)


def test_a_tls_handshake_sent_a_byte_at_a_time_fails_at_the_deadline(
    serve: Callable[[Behaviour], Misbehaving], certificate: tuple[Path, Path]
) -> None:
    """Real registries speak TLS: the handshake is bounded by what remains of the deadline too. The token
    service is reached over TLS, once directly (it works) and once through a relay that passes its
    answers on a byte at a time (the handshake never finishes in time)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    headers = {"Content-Type": "application/json"}
    token_service = TLSMisbehaving(
        lambda conn, request: conn.answer(request, 200, headers, b'{"token": "t"}'), context
    ).start()
    relay = Relay(token_service.host, every=0.3)
    image = Image({"via": "tls"})

    def registry(realm: str) -> Misbehaving:
        def behave(conn: Conn, request: Request) -> bool:
            if request.headers.get("authorization") != "Bearer t":
                return conn.answer(request, 401, {"Www-Authenticate": f'Bearer realm="{realm}"'})
            return image.answer(conn, request)

        return serve(behave)

    try:
        port = token_service.listener.getsockname()[1]
        direct = registry(f"https://localhost:{port}/token")
        slow = registry(f"https://localhost:{relay.port}/token")
        client = RegistryClient(ca_certs=str(cert), connect_timeout=30, read_timeout=30, request_deadline=3)
        facts = client.inspect(f"{direct.host}/x/y:1")
        assert facts == ImageFacts(labels={"via": "tls"}, env=(), digest=image.digest)
        ref = f"{slow.host}/x/y:1"
        result, took, _ = timed(lambda: client.inspect(ref))
        assert result == too_slow(ref, slow.host, "3", f" waiting for localhost:{relay.port}")
        assert took <= 3 + SLACK
    finally:
        relay.stop()
        token_service.stop()


def test_healthy_registries_are_read_at_once_while_slow_ones_hang(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    """Four registries that never answer, listed first, and as many lanes: the healthy registry's
    images are asked for at once, not when a slow one gives up."""
    stalled = [serve(lambda conn, request: conn.hold()) for _ in range(4)]
    image = Image({"healthy": "yes"})
    healthy = serve(lambda conn, request: image.answer(conn, request))
    requests = [InspectRequest(f"{s.host}/x/y:1") for s in stalled]
    requests += [InspectRequest(f"{healthy.host}/x/y:1"), InspectRequest(f"{healthy.host}/x/y:2")]
    client = RegistryClient(read_timeout=30, request_deadline=4)
    start = time.monotonic()
    results = client.inspect_many(requests, concurrency=4)
    took = time.monotonic() - start
    assert results[4:] == [ImageFacts(labels={"healthy": "yes"}, env=(), digest=image.digest)] * 2
    assert results[:4] == [too_slow(r.image, s.host, "4") for r, s in zip(requests, stalled, strict=False)]
    assert healthy.requests and max(r.at for r in healthy.requests) - start <= 1.5
    assert took <= 4 + SLACK


def test_one_registry_still_gets_at_most_concurrency_lanes(serve: Callable[[Behaviour], Misbehaving]) -> None:
    image = Image({"n": "1"})
    busy = {"now": 0, "max": 0}
    lock = threading.Lock()

    def behave(conn: Conn, request: Request) -> bool:
        with lock:
            busy["now"] += 1
            busy["max"] = max(busy["max"], busy["now"])
        conn.gone(0.2)
        with lock:
            busy["now"] -= 1
        return image.answer(conn, request)

    server = serve(behave)
    results = RegistryClient().inspect_many(
        [InspectRequest(f"{server.host}/x/y:{i}") for i in range(6)], concurrency=2
    )
    assert all(isinstance(r, ImageFacts) for r in results)
    assert busy["max"] == 2


# -- fault 4: hostile JSON is malformed, with a clear message, never a traceback ---------------------------


HUGE_NUMBER = b'{"config": {}, "size": ' + b"9" * 5000 + b"}"
NOT_UTF8 = b'{"config": {"Labels": {"a": "caf\xe9"}}}'
BAD_BYTE = NOT_UTF8.index(0xE9)
BAD_TOKEN = b'{"token": "t", "x": "\xff"}'


CONFIG_NOT_OBJECT = "an image config that is not a JSON object"
MANIFEST_NOT_OBJECT = "a manifest that is not a JSON object"


@pytest.mark.parametrize(
    ("what", "body", "problem"),
    [
        ("config", b'{"config": ' + DEEP + b"}", f"{CONFIG_NOT_OBJECT} (nested too deeply)"),
        ("manifest", b'{"x": ' + DEEP + b"}", f"{MANIFEST_NOT_OBJECT} (nested too deeply)"),
        ("config", HUGE_NUMBER,
         f"{CONFIG_NOT_OBJECT} (a number in it has more than {sys.get_int_max_str_digits()} digits)"),
        ("config", NOT_UTF8, f"{CONFIG_NOT_OBJECT} (invalid UTF-8 at byte {BAD_BYTE})"),
        ("config", '{"config": {}}'.encode("utf-16"), f"{CONFIG_NOT_OBJECT} (invalid UTF-8 at byte 0)"),
        ("manifest", b"{not json", f"{MANIFEST_NOT_OBJECT} (invalid JSON at line 1, column 2)"),
        ("config", b"[]", CONFIG_NOT_OBJECT),
    ],
    ids=["deep-config", "deep-manifest", "huge-number", "not-utf-8", "utf-16", "not-json", "an-array"],
)  # fmt: skip
def test_hostile_json_is_malformed_with_a_clear_message(
    serve: Callable[[Behaviour], Misbehaving], what: str, body: bytes, problem: str
) -> None:
    image = Image(config=body) if what == "config" else Image()
    manifest = body if what == "manifest" else None
    server = serve(lambda conn, request: image.answer(conn, request, manifest=manifest))
    ref = f"{server.host}/x/y:1"
    assert RegistryClient().inspect(ref) == InspectFailure(
        FailureKind.MALFORMED, f"image {ref}: registry {server.host} sent {problem}"
    )


@pytest.mark.parametrize(
    ("manifest", "kind", "problem"),
    [
        pytest.param(
            {"schemaVersion": 2, "mediaType": [OCI_MANIFEST], "config": {}},
            FailureKind.MALFORMED,
            "registry {host} sent a manifest whose mediaType is not a string",
            id="media-type-a-list",
        ),
        pytest.param(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": {"a": 1}}},
            FailureKind.MALFORMED,
            "the manifest on registry {host} is not a container image (config type a JSON object); "
            "the reference must name a container image",
            id="config-type-an-object",
        ),
        pytest.param(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {"mediaType": [OCI_MANIFEST], "digest": sha256(b""),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": OCI_MANIFEST, "digest": sha256(b""),
                 "platform": {"os": "lin\nux", "architecture": [1]}},
            ]},
            FailureKind.NOT_FOUND,  # what it has is named, one line; the entries it cannot use are left out
            "no linux/amd64 image in the index on registry {host} (it has: lin\\nux/unknown); "
            "use an image built for linux/amd64",
            id="index-entries-of-the-wrong-types",
        ),
    ],
)  # fmt: skip
def test_fields_of_the_wrong_json_type_are_not_registry_errors(
    serve: Callable[[Behaviour], Misbehaving], manifest: dict[str, Any], kind: FailureKind, problem: str
) -> None:
    body = json.dumps(manifest).encode()
    server = serve(lambda conn, request: Image().answer(conn, request, manifest=body))
    ref = f"{server.host}/x/y:1"
    assert RegistryClient().inspect(ref) == InspectFailure(
        kind, f"image {ref}: " + problem.format(host=server.host)
    )


def test_hostile_json_in_an_error_answer_is_read_as_no_error_codes(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    headers = {"Content-Type": "application/json"}
    server = serve(lambda conn, request: conn.answer(request, 404, headers, DEEP[:60000]))
    ref = f"{server.host}/x/y:1"
    assert RegistryClient().inspect(ref) == InspectFailure(
        FailureKind.NOT_FOUND,
        f"image {ref}: tag '1' not found in repository 'x/y' on registry {server.host}; check the tag",
    )


ANSWER_NOT_OBJECT = "sent an answer that is not a JSON object"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(b'{"token": ' + DEEP[:60000] + b"}", f"{ANSWER_NOT_OBJECT} (nested too deeply)",
                     id="nested"),
        pytest.param(BAD_TOKEN, f"{ANSWER_NOT_OBJECT} (invalid UTF-8 at byte {BAD_TOKEN.index(0xFF)})",
                     id="not-utf-8"),
        pytest.param(b"[]", ANSWER_NOT_OBJECT, id="not-an-object"),
        pytest.param(b'{"token": ["t"]}', "sent no token", id="no-token"),
        pytest.param(b'{"token": "t", "expires_in": 1' + b"0" * 400 + b"}", None, id="lifetime-past-a-float"),
    ],
)  # fmt: skip
def test_hostile_json_from_the_token_service(
    serve: Callable[[Behaviour], Misbehaving], answer: bytes, expected: str | None
) -> None:
    image = Image({"via": "token"})
    headers = {"Content-Type": "application/json"}
    token_service = serve(lambda conn, request: conn.answer(request, 200, headers, answer))
    challenge = f'Bearer realm="{token_service.url}/token",service="registry"'

    def registry(conn: Conn, request: Request) -> bool:
        if request.headers.get("authorization") != "Bearer t":
            return conn.answer(request, 401, {"Www-Authenticate": challenge})
        return image.answer(conn, request)

    server = serve(registry)
    ref = f"{server.host}/x/y:1"
    result = RegistryClient().inspect(ref)
    if expected is None:
        assert result == ImageFacts(labels={"via": "token"}, env=(), digest=image.digest)
    else:
        assert result == InspectFailure(
            FailureKind.MALFORMED, f"image {ref}: the token service of registry {server.host} {expected}"
        )


def test_a_redirect_to_an_unparsable_url_is_an_invalid_redirect(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    server = serve(lambda conn, request: conn.answer(request, 307, {"Location": "http://[::1/blob"}))
    ref = f"{server.host}/x/y:1"
    assert RegistryClient().inspect(ref) == InspectFailure(
        FailureKind.REGISTRY_ERROR, f"image {ref}: registry {server.host} sent an invalid redirect"
    )


def test_lone_surrogates_in_labels_are_read_as_go_reads_them(
    serve: Callable[[Behaviour], Misbehaving],
) -> None:
    """JSON may escape half a surrogate pair, which no encoding can carry: U+FFFD, as in Go."""
    config = b'{"config": {"Labels": {"a\\udc80": "x\\ud800y"}, "Env": ["E=\\udfff"]}}'
    image = Image(config=config)
    server = serve(lambda conn, request: image.answer(conn, request))
    assert RegistryClient().inspect(f"{server.host}/x/y:1") == ImageFacts(
        labels={"a\ufffd": "x\ufffdy"}, env=("E=\ufffd",), digest=image.digest
    )


@pytest.mark.parametrize(
    "size", [pytest.param(True, id="announced"), pytest.param(False, id="streamed-without-a-length")]
)
def test_a_config_over_the_limit_is_malformed(serve: Callable[[Behaviour], Misbehaving], size: bool) -> None:
    big = b'{"config": {"Labels": {"a": "' + b"x" * 5000 + b'"}}}'
    manifest = Image.manifest_for({"mediaType": OCI_CONFIG, "digest": sha256(big), "size": 10})

    def behave(conn: Conn, request: Request) -> bool:
        if "/manifests/" in request.path:
            return Image().answer(conn, request, manifest=manifest)
        if size:
            return conn.answer(request, 200, {}, big)
        conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big)
        return False

    server = serve(behave)
    ref = f"{server.host}/x/y:1"
    problem = (
        f"announced a response of {len(big)} bytes, over the 1000-byte limit"
        if size
        else "sent more than the 1000-byte limit"
    )
    assert RegistryClient(config_limit=1000).inspect(ref) == InspectFailure(
        FailureKind.MALFORMED, f"image {ref}: registry {server.host} {problem}"
    )


def test_log_records_are_single_lines_without_tracebacks(
    serve: Callable[[Behaviour], Misbehaving], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aimcore.registry")
    image = Image(config=b'{"config": ' + DEEP + b"}")
    server = serve(lambda conn, request: image.answer(conn, request))
    result = RegistryClient().inspect(f"{server.host}/x/y:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.MALFORMED
    records = [r for r in caplog.records if r.name.startswith("aimcore")]
    assert records  # it does log, one line each
    assert all(r.exc_info is None and r.exc_text is None and "\n" not in r.getMessage() for r in records)


# -- what a user sees: the command line's stderr ---------------------------------------------------------


def aimcore(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The command line in its own process, so that whatever it writes to stderr is seen."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "aimcore.adapters.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


@pytest.fixture
def nested_registry(serve: Callable[[Behaviour], Misbehaving]) -> Misbehaving:
    image = Image(config=b'{"config": ' + DEEP + b"}")
    return serve(lambda conn, request: image.answer(conn, request))


def test_inspect_says_malformed_in_one_line_and_no_traceback(nested_registry: Misbehaving) -> None:
    ref = f"{nested_registry.host}/x/y:1"
    done = aimcore("inspect", ref)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"aimcore inspect: malformed: image {ref}: registry {nested_registry.host} sent an image config "
        "that is not a JSON object (nested too deeply)\n"
    )


def test_simulate_fails_the_model_as_malformed_without_a_traceback(
    nested_registry: Misbehaving, tmp_path: Path
) -> None:
    ref = f"{nested_registry.host}/x/y:1"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: aim.eai.amd.com/v1alpha1
            kind: AIMModel
            metadata: {{name: hostile, namespace: ml-team}}
            spec:
              image: {ref}
            """
        )
    )
    done = aimcore("simulate", str(catalog), "--registry", "--now", "2026-01-01T00:00:00Z", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    report = json.loads(done.stdout)
    model = next(o for o in report["objects"] if o["kind"] == "AIMModel")
    assert model["status"]["status"] == "Failed"
    ready = next(c for c in model["status"]["conditions"] if c["type"] == "ImageMetadataReady")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "MetadataExtractionFailed",
        f"image {ref}: registry {nested_registry.host} sent an image config that is not a JSON object "
        "(nested too deeply) (the registry's answer could not be read)",
    )
