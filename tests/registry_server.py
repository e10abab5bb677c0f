"""Real registries for the registry adapter's tests, and small HTTP helpers around them.

`docker-registry serve` (distribution 2.8) runs on loopback with port 0; several instances share one storage
directory, so images pushed to the open one can be read through the Basic-auth and token-auth ones. The
token server signs RS256 JWTs with `openssl`, so no crypto package is needed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import attrs
import pytest
import urllib3

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

BASIC_USER = "alice"
BASIC_PASSWORD = "Pa55-basic-S3cret!"
TOKEN_USER = "bob"
TOKEN_PASSWORD = "Pa55-token-S3cret!"
REFRESH_TOKEN = "refresh-T0ken-S3cret"
TOKEN_SERVICE = "aimcore-test-registry"
TOKEN_ISSUER = "aimcore-test-issuer"

_http = urllib3.PoolManager()


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if Path(f"/usr/bin/{binary}").exists() else None)
    if path is None:
        pytest.fail(
            f"{binary} not found: the registry tests need it (apt-get install -y {package}); CI installs it",
            pytrace=False,
        )
    return path


class RegistryProcess:
    """One `docker-registry serve` on 127.0.0.1 with an ephemeral port."""

    def __init__(self, workdir: Path, storage: Path, auth: Mapping[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.storage = storage
        self.auth = auth
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout: float = 15.0) -> Self:
        binary = _need("docker-registry", "docker-registry")
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": "127.0.0.1:0", "secret": "aimcore-test-secret"},
        }
        if self.auth:
            config["auth"] = dict(self.auth)
        config_path = self.workdir / "config.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                pytest.fail(
                    f"docker-registry exited early:\n{self.log_path.read_text()[-2000:]}", pytrace=False
                )
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log_path.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
                break
            time.sleep(0.02)
        else:
            self.stop()
            pytest.fail("docker-registry did not report its port in time", pytrace=False)
        while time.monotonic() < deadline:
            try:
                if _http.request("GET", f"{self.url}/v2/", retries=False, timeout=1.0).status in (200, 401):
                    return self
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.02)
        self.stop()
        pytest.fail("docker-registry did not answer GET /v2/ in time", pytrace=False)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


# -- small HTTP servers ---------------------------------------------------------------------------------


@attrs.define
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class _Server:
    """A threading HTTP server on loopback whose handler calls `self.handle`."""

    def __init__(self) -> None:
        outer = self
        self.requests: list[Seen] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, dict(self.headers.items()))
                with outer._lock:
                    outer.requests.append(seen)
                status, headers, payload = outer.handle(seen, body)
                self.send_response(status)
                sent = {k.lower() for k in headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                if "content-length" not in sent:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD" and payload:
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, seen: Seen, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        raise NotImplementedError

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(self, method: str | None = None, contains: str = "") -> int:
        with self._lock:
            return sum(
                1 for r in self.requests if (method is None or r.method == method) and contains in r.path
            )


class ScriptedServer(_Server):
    """Answers with whatever the test's function says; records every request."""

    def __init__(self, respond: Callable[[Seen, bytes], tuple[int, Mapping[str, str], bytes]]) -> None:
        super().__init__()
        self.respond = respond

    def handle(self, seen: Seen, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        return self.respond(seen, body)


class CountingProxy(_Server):
    """Forwards to a registry and counts what the client asked for; can slow requests to show concurrency."""

    _HOP = frozenset({"connection", "transfer-encoding", "keep-alive", "content-length"})

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        super().__init__()
        self.upstream = upstream
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    def handle(self, seen: Seen, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            headers = {k: v for k, v in seen.headers.items() if k.lower() not in self._HOP | {"host"}}
            resp = _http.request(
                seen.method,
                self.upstream + seen.path,
                headers=headers,
                body=body or None,
                redirect=False,
                retries=False,
            )
            out = {k: v for k, v in resp.headers.items() if k.lower() not in self._HOP}
            if seen.method == "HEAD" and "Content-Length" in resp.headers:
                out["Content-Length"] = resp.headers["Content-Length"]
            return resp.status, out, resp.data
        finally:
            with self._lock:
                self.in_flight -= 1


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer(_Server):
    """A Docker token service: Basic or refresh-token login, RS256 JWTs signed by `openssl`."""

    def __init__(self, workdir: Path, expires_in: int = 300) -> None:
        super().__init__()
        openssl = _need("openssl", "openssl")
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
             "-out", str(self.cert), "-days", "2", "-subj", "/CN=aimcore-test-token"],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            [openssl, "x509", "-in", str(self.cert), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self._openssl = openssl
        self._x5c = base64.b64encode(der).decode("ascii")
        self.expires_in = expires_in
        self.advertise_expiry = True  # False: omit expires_in, so clients fall back to their default
        self.users = {TOKEN_USER: TOKEN_PASSWORD}
        self.refresh_tokens = {REFRESH_TOKEN: TOKEN_USER}
        self.issued: list[tuple[str | None, str]] = []  # (user, scope)

    def handle(self, seen: Seen, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen.path).query)
        user: str | None = None
        if seen.method == "POST":
            query = urllib.parse.parse_qs(body.decode())
            user = self.refresh_tokens.get((query.get("refresh_token") or [""])[0])
            if user is None or query.get("grant_type") != ["refresh_token"]:
                return 401, {"Content-Type": "application/json"}, b'{"error": "invalid_grant"}'
        elif "Authorization" in seen.headers:
            scheme, _, value = seen.headers["Authorization"].partition(" ")
            name, _, password = base64.b64decode(value).decode().partition(":")
            if scheme != "Basic" or self.users.get(name) != password:
                return 401, {"Content-Type": "application/json"}, b'{"details": "bad credentials"}'
            user = name
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and user is not None:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        with self._lock:
            self.issued.append((user, ",".join(query.get("scope", []))))
        token = self.sign(user or "", access)
        doc: dict[str, Any] = {"token": token, "access_token": token}
        if self.advertise_expiry:
            doc["expires_in"] = self.expires_in
        return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()

    def sign(self, subject: str, access: Sequence[Mapping[str, Any]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE, "exp": now + self.expires_in,
            "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": list(access),
        }  # fmt: skip
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            [self._openssl, "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"


# -- pushing images by hand -----------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _empty_layer() -> tuple[bytes, bytes]:
    tar = b"\0" * 1024  # two zero blocks: an empty tar archive
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(tar)
    return tar, out.getvalue()


def push_blob(base: str, repo: str, data: bytes) -> str:
    digest = sha256(data)
    if _http.request("HEAD", f"{base}/v2/{repo}/blobs/{digest}").status == 200:
        return digest
    started = _http.request("POST", f"{base}/v2/{repo}/blobs/uploads/")
    assert started.status == 202, (started.status, started.data)
    location = urllib.parse.urljoin(base, started.headers["Location"])
    sep = "&" if "?" in location else "?"
    done = _http.request(
        "PUT", f"{location}{sep}digest={digest}", body=data,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert done.status == 201, (done.status, done.data)
    return digest


def push_manifest(base: str, repo: str, reference: str, doc: Mapping[str, Any], media_type: str) -> str:
    body = json.dumps(doc, indent=2).encode()
    resp = _http.request(
        "PUT", f"{base}/v2/{repo}/manifests/{reference}", body=body, headers={"Content-Type": media_type}
    )
    assert resp.status == 201, (resp.status, resp.data)
    assert resp.headers["Docker-Content-Digest"] == sha256(body)
    return sha256(body)


@attrs.frozen
class Pushed:
    digest: str  # of what the tag points at (manifest or index)
    config_digest: str = ""
    size: int = 0


def push_image(
    base: str,
    repo: str,
    tag: str | None,
    *,
    labels: Mapping[str, str] | None,
    env: Sequence[str] = (),
    arch: str = "amd64",
    docker: bool = False,
) -> Pushed:
    """An image whose config carries `labels` and `env`, as an OCI or a Docker schema-2 manifest."""
    tar, layer = _empty_layer()
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": dict(labels) if labels is not None else None, "Env": list(env)},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
    }
    config_bytes = json.dumps(config).encode()
    config_digest = push_blob(base, repo, config_bytes)
    layer_digest = push_blob(base, repo, layer)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": layer_digest, "size": len(layer)}
        ],
    }
    body = json.dumps(manifest, indent=2).encode()
    digest = push_manifest(base, repo, tag or sha256(body), manifest, media_type)
    return Pushed(digest=digest, config_digest=config_digest, size=len(body))


def push_index(
    base: str, repo: str, tag: str, platforms: Mapping[str, Mapping[str, str]], *, docker: bool = False
) -> Pushed:
    """A multi-platform index: one image per architecture, each with its own labels."""
    entries = []
    for arch, labels in platforms.items():
        child = push_image(base, repo, None, labels=labels, env=[f"ARCH={arch}"], arch=arch, docker=docker)
        entries.append(
            {
                "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
                "digest": child.digest,
                "size": child.size,
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    media_type = DOCKER_LIST if docker else OCI_INDEX
    return Pushed(
        digest=push_manifest(
            base, repo, tag, {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}, media_type
        )
    )


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def registry_storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry-storage")


@pytest.fixture(scope="session")
def open_registry(
    tmp_path_factory: pytest.TempPathFactory, registry_storage: Path
) -> Iterator[RegistryProcess]:
    """No auth: where tests push their images."""
    proc = RegistryProcess(tmp_path_factory.mktemp("registry-open"), registry_storage).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def basic_registry(
    tmp_path_factory: pytest.TempPathFactory, registry_storage: Path
) -> Iterator[RegistryProcess]:
    """The same storage behind htpasswd Basic auth."""
    workdir = tmp_path_factory.mktemp("registry-basic")
    htpasswd = _need("htpasswd", "apache2-utils")
    line = subprocess.run(
        [htpasswd, "-Bbn", BASIC_USER, BASIC_PASSWORD], check=True, capture_output=True, text=True
    ).stdout
    (workdir / "htpasswd").write_text(line.strip() + "\n")
    auth = {"htpasswd": {"realm": "aimcore-test", "path": str(workdir / "htpasswd")}}
    proc = RegistryProcess(workdir, registry_storage, auth).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("token-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, registry_storage: Path, token_server: TokenServer
) -> Iterator[RegistryProcess]:
    """The same storage behind Bearer token auth, as public registries do it."""
    auth = {
        "token": {
            "realm": f"{token_server.url}/token",
            "service": TOKEN_SERVICE,
            "issuer": TOKEN_ISSUER,
            "rootcertbundle": str(token_server.cert),
        }
    }
    proc = RegistryProcess(tmp_path_factory.mktemp("registry-token"), registry_storage, auth).start()
    yield proc
    proc.stop()


@pytest.fixture
def counting_proxy(open_registry: RegistryProcess) -> Iterator[CountingProxy]:
    proxy = CountingProxy(open_registry.url).start()
    yield proxy
    proxy.stop()
