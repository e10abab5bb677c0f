"""The registry adapter against a real `docker-registry`, a token server and a few scripted fakes."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aimcore.adapters.registry.client import (
    OCI_CONFIG,
    OCI_MANIFEST,
    ImageRef,
    InspectRequest,
    RegistryClient,
    is_loopback,
)
from aimcore.adapters.registry.credentials import (
    Credential,
    CredentialsError,
    Keyring,
    config_from_secret,
    keyring_from_secrets,
    parse_docker_config,
)
from aimcore.facts import FailureKind, ImageFacts, InspectFailure
from tests.registry_server import (
    BASIC_PASSWORD,
    BASIC_USER,
    REFRESH_TOKEN,
    TOKEN_PASSWORD,
    TOKEN_USER,
    CountingProxy,
    Pushed,
    RegistryProcess,
    ScriptedServer,
    Seen,
    TokenServer,
    push_image,
    push_index,
)

ODD_LABELS = {
    "com.amd.aim.model.canonicalName": "meta-llama/Llama-3.1-8B-Instruct",
    "com.amd.aim.model.recommendedDeployments": (
        '[{"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "latency"}]'
    ),
    "json-single-quotes": "[{'gpu': 'MI300X', 'count': 8}]",
    "quotes": "it's \"quoted\" and 'single'",
    "multiline": "line one\nline two\r\n\ttabbed",
    "unicode": "Ünïcødé ✓ 模型 🚀",
    "empty": "",
    "equals": "a=b=c; d=e",
    "spaces": "  padded  ",
    "backslashes": "C:\\path\\to \\u0041 \\n",
    "long": "x" * 20000,
}
ENV = [
    "PATH=/usr/local/bin:/usr/bin",
    "AIM_BASE_IMAGE_REF=docker.io/amdenterpriseai/aim-base:0.8.5",
    "EMPTY=",
]
SECRETS = (BASIC_PASSWORD, TOKEN_PASSWORD, REFRESH_TOKEN)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pull_secret(
    host: str, user: str, password: str, *, name: str = "pull", namespace: str = "ml-team"
) -> dict[str, Any]:
    config = {"auths": {host: {"auth": b64(f"{user}:{password}")}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps(config))},
    }


def keyring(*secrets: dict[str, Any]) -> Keyring:
    return keyring_from_secrets(secrets)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)
            assert b64(secret) not in str(text)
        for user, password in ((BASIC_USER, BASIC_PASSWORD), (TOKEN_USER, TOKEN_PASSWORD)):
            assert b64(f"{user}:{password}") not in str(text)


@pytest.fixture(scope="session")
def images(open_registry: RegistryProcess) -> dict[str, Pushed]:
    """Everything the read tests need, pushed once through the open registry."""
    base = open_registry.url
    return {
        "oci": push_image(base, "aim/oci", "1", labels=ODD_LABELS, env=ENV),
        "docker": push_image(base, "aim/docker", "1", labels={"kind": "docker"}, env=["A=1"], docker=True),
        "index": push_index(base, "aim/multi", "1", {"amd64": {"arch": "amd64"}, "arm64": {"arch": "arm64"}}),
        "dlist": push_index(base, "aim/dlist", "1", {"arm64": {"arch": "arm64"}, "amd64": {"arch": "amd64"}},
                            docker=True),
        "armonly": push_index(base, "aim/armonly", "1", {"arm64": {"arch": "arm64"}}),
        "nolabels": push_image(base, "aim/nolabels", "1", labels=None),
        "private": push_image(base, "private/model", "1", labels={"secret": "model"}, env=["P=1"]),
    }  # fmt: skip


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    c = RegistryClient(sleep=Sleeps())
    yield c
    c.close()


# -- reading images -------------------------------------------------------------------------------------


def test_oci_manifest_gives_labels_env_and_digest(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    facts = client.inspect(f"{open_registry.host}/aim/oci:1")
    assert facts == ImageFacts(labels=ODD_LABELS, env=tuple(ENV), digest=images["oci"].digest)


@pytest.mark.parametrize("repo", ["aim/oci", "aim/docker", "aim/multi"])
def test_skopeo_reads_what_the_tests_push_as_we_do(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed], repo: str
) -> None:
    """An independent client agrees, so the hand-made images are real images."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed: the cross-check needs it (apt-get install skopeo)")
    image = f"{open_registry.host}/{repo}:1"
    out = subprocess.run(
        [skopeo, "--override-os", "linux", "--override-arch", "amd64", "inspect", "--config",
         "--tls-verify=false", f"docker://{image}"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    config = json.loads(out)["config"]
    facts = client.inspect(image)
    assert isinstance(facts, ImageFacts)
    assert facts.labels == (config.get("Labels") or {})
    assert facts.env == tuple(config.get("Env") or ())


def test_odd_label_values_come_back_verbatim(client: RegistryClient, open_registry: RegistryProcess) -> None:
    facts = client.inspect(f"{open_registry.host}/aim/oci:1")
    assert isinstance(facts, ImageFacts)
    for key, value in ODD_LABELS.items():
        assert facts.labels[key] == value, key


def test_docker_schema2_manifest(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    facts = client.inspect(f"{open_registry.host}/aim/docker:1")
    assert facts == ImageFacts(labels={"kind": "docker"}, env=("A=1",), digest=images["docker"].digest)


@pytest.mark.parametrize("repo", ["aim/multi", "aim/dlist"])
def test_index_picks_linux_amd64_and_reports_the_index_digest(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed], repo: str
) -> None:
    facts = client.inspect(f"{open_registry.host}/{repo}:1")
    assert isinstance(facts, ImageFacts), facts
    assert facts.labels == {"arch": "amd64"}
    assert facts.env == ("ARCH=amd64",)
    assert facts.digest == images["index" if repo == "aim/multi" else "dlist"].digest


def test_index_without_amd64_is_not_found(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{open_registry.host}/aim/armonly:1")
    assert isinstance(result, InspectFailure)
    assert result.kind is FailureKind.NOT_FOUND
    assert "linux/amd64" in result.message and "linux/arm64" in result.message


def test_image_without_labels_is_not_a_failure(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    facts = client.inspect(f"{open_registry.host}/aim/nolabels:1")
    assert facts == ImageFacts(labels={}, env=(), digest=images["nolabels"].digest)


def test_reference_by_digest(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    digest = images["docker"].digest
    facts = client.inspect(f"{open_registry.host}/aim/docker@{digest}")
    assert isinstance(facts, ImageFacts) and facts.digest == digest and facts.labels == {"kind": "docker"}


def test_missing_tag_is_not_found_and_says_tag(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{open_registry.host}/aim/oci:does-not-exist")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.NOT_FOUND
    assert "tag 'does-not-exist'" in result.message and open_registry.host in result.message


def test_missing_repository_is_not_found_and_says_repository(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{open_registry.host}/aim/no-such-repo:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.NOT_FOUND
    assert "repository 'aim/no-such-repo' not found" in result.message


def test_missing_digest_is_not_found(
    client: RegistryClient, open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{open_registry.host}/aim/oci@sha256:{'0' * 64}")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.NOT_FOUND
    assert "digest sha256:000" in result.message


def test_invalid_reference_is_malformed(client: RegistryClient) -> None:
    result = client.inspect("Not A Valid::Reference")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.MALFORMED
    assert "not a valid image reference" in result.message


# -- transport failures ---------------------------------------------------------------------------------


def test_closed_port_is_unreachable(client: RegistryClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = client.inspect(f"127.0.0.1:{port}/aim/oci:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNREACHABLE
    assert f"127.0.0.1:{port}" in result.message and "Traceback" not in result.message


def test_unknown_host_is_unreachable(client: RegistryClient) -> None:
    result = client.inspect("registry.invalid/aim/oci:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNREACHABLE
    assert "registry.invalid" in result.message


def test_silent_server_times_out_as_unreachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections in the backlog, never answers
        port = listener.getsockname()[1]
        client = RegistryClient(read_timeout=0.3, connect_timeout=0.3)
        result = client.inspect(f"127.0.0.1:{port}/aim/oci:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNREACHABLE
    assert "did not answer in time" in result.message


# -- Basic auth -----------------------------------------------------------------------------------------


def test_basic_auth_with_pull_secret(
    client: RegistryClient, basic_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    secrets = keyring(pull_secret(basic_registry.host, BASIC_USER, BASIC_PASSWORD))
    facts = client.inspect(f"{basic_registry.host}/private/model:1", secrets)
    assert facts == ImageFacts(labels={"secret": "model"}, env=("P=1",), digest=images["private"].digest)


def test_basic_auth_without_secret_is_unauthorized(
    client: RegistryClient, basic_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{basic_registry.host}/private/model:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNAUTHORIZED
    assert "imagePullSecret" in result.message and basic_registry.host in result.message


def test_basic_auth_wrong_password_names_the_secret(
    client: RegistryClient, basic_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    secrets = keyring(pull_secret(basic_registry.host, BASIC_USER, "wrong-" + BASIC_PASSWORD, name="stale"))
    result = client.inspect(f"{basic_registry.host}/private/model:1", secrets)
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNAUTHORIZED
    assert "secret ml-team/stale" in result.message
    assert_no_secret(result.message, repr(result))


def test_refused_credential_falls_back_to_the_next_match(
    client: RegistryClient, basic_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    host = basic_registry.host
    stale = pull_secret(f"{host}/private", BASIC_USER, "nope", name="stale")
    good = pull_secret(host, BASIC_USER, BASIC_PASSWORD, name="good")
    facts = client.inspect(f"{host}/private/model:1", keyring(stale, good))
    assert isinstance(facts, ImageFacts) and facts.labels == {"secret": "model"}


# -- Bearer tokens --------------------------------------------------------------------------------------


def test_bearer_token_auth_reuses_the_token_until_it_expires(
    token_registry: RegistryProcess, token_server: TokenServer, images: dict[str, Pushed]
) -> None:
    clock = FakeClock()
    client = RegistryClient(clock=clock)
    secrets = keyring(pull_secret(token_registry.host, TOKEN_USER, TOKEN_PASSWORD))
    token_server.reset()
    image = f"{token_registry.host}/private/model:1"
    assert client.inspect(image, secrets) == ImageFacts(
        labels={"secret": "model"}, env=("P=1",), digest=images["private"].digest
    )
    assert token_server.count(contains="/token") == 1
    assert client.inspect(image, secrets) == client.inspect(f"{token_registry.host}/private/model:1", secrets)
    by_digest = f"{token_registry.host}/private/model@{images['private'].digest}"
    assert isinstance(client.inspect(by_digest, secrets), ImageFacts)
    assert token_server.count(contains="/token") == 1  # same repository, same scope: reused
    clock.now += 301  # the server said expires_in=300
    assert isinstance(client.inspect(image, secrets), ImageFacts)
    assert token_server.count(contains="/token") == 2
    assert isinstance(client.inspect(f"{token_registry.host}/aim/docker:1", secrets), ImageFacts)
    assert token_server.count(contains="/token") == 3  # another repository needs its own scope


def test_token_lifetime_defaults_to_60_seconds(
    token_registry: RegistryProcess, token_server: TokenServer, images: dict[str, Pushed]
) -> None:
    clock = FakeClock()
    client = RegistryClient(clock=clock)
    secrets = keyring(pull_secret(token_registry.host, TOKEN_USER, TOKEN_PASSWORD))
    token_server.reset()
    token_server.advertise_expiry = False
    try:
        image = f"{token_registry.host}/private/model:1"
        assert isinstance(client.inspect(image, secrets), ImageFacts)
        clock.now += 50
        assert isinstance(client.inspect(image, secrets), ImageFacts)
        assert token_server.count(contains="/token") == 1
        clock.now += 11
        assert isinstance(client.inspect(image, secrets), ImageFacts)
        assert token_server.count(contains="/token") == 2
    finally:
        token_server.advertise_expiry = True


def test_bearer_wrong_password_is_unauthorized(
    client: RegistryClient, token_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    secrets = keyring(pull_secret(token_registry.host, TOKEN_USER, "bad" + TOKEN_PASSWORD, name="tok"))
    result = client.inspect(f"{token_registry.host}/private/model:1", secrets)
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNAUTHORIZED
    assert "secret ml-team/tok" in result.message
    assert_no_secret(result.message)


def test_bearer_anonymous_is_unauthorized(
    client: RegistryClient, token_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    result = client.inspect(f"{token_registry.host}/private/model:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNAUTHORIZED
    assert "imagePullSecret" in result.message


def test_identity_token_uses_the_refresh_token_grant(
    client: RegistryClient,
    token_registry: RegistryProcess,
    token_server: TokenServer,
    images: dict[str, Pushed],
) -> None:
    config = parse_docker_config(
        json.dumps({"auths": {token_registry.host: {"identitytoken": REFRESH_TOKEN}}})
    )
    token_server.reset()
    facts = client.inspect(f"{token_registry.host}/private/model:1", Keyring((config,)))
    assert isinstance(facts, ImageFacts) and facts.labels == {"secret": "model"}
    assert token_server.count("POST", "/token") == 1


# -- request counts and the cache ------------------------------------------------------------------------


def _counts(proxy: CountingProxy) -> dict[str, int]:
    return {
        "manifest_get": proxy.count("GET", "/manifests/"),
        "manifest_head": proxy.count("HEAD", "/manifests/"),
        "blob": proxy.count(None, "/blobs/"),
        "total": proxy.count(),
    }


@pytest.mark.parametrize(
    ("repo", "cold"),
    [
        ("aim/oci", {"manifest_get": 1, "manifest_head": 0, "blob": 1, "total": 2}),
        ("aim/multi", {"manifest_get": 2, "manifest_head": 0, "blob": 1, "total": 3}),
    ],
)
def test_warm_recheck_costs_one_manifest_request_and_no_blob(
    client: RegistryClient,
    counting_proxy: CountingProxy,
    images: dict[str, Pushed],
    repo: str,
    cold: dict[str, int],
) -> None:
    image = f"{counting_proxy.host}/{repo}:1"
    first = client.inspect(image)
    assert isinstance(first, ImageFacts)
    assert _counts(counting_proxy) == cold
    counting_proxy.reset()
    assert client.inspect(image) == first
    assert _counts(counting_proxy) == {"manifest_get": 0, "manifest_head": 1, "blob": 0, "total": 1}


def test_moved_tag_is_fetched_again(client: RegistryClient, open_registry: RegistryProcess) -> None:
    proxy = CountingProxy(open_registry.url).start()
    try:
        push_image(open_registry.url, "aim/moving", "1", labels={"v": "1"})
        image = f"{proxy.host}/aim/moving:1"
        assert isinstance(first := client.inspect(image), ImageFacts) and first.labels == {"v": "1"}
        second_push = push_image(open_registry.url, "aim/moving", "1", labels={"v": "2"})
        proxy.reset()
        second = client.inspect(image)
        assert second == ImageFacts(labels={"v": "2"}, env=(), digest=second_push.digest)
        assert _counts(proxy) == {"manifest_get": 1, "manifest_head": 1, "blob": 1, "total": 3}
    finally:
        proxy.stop()


def test_another_tag_of_cached_content_needs_no_blob(
    client: RegistryClient,
    open_registry: RegistryProcess,
    counting_proxy: CountingProxy,
    images: dict[str, Pushed],
) -> None:
    push_image(open_registry.url, "aim/alias", "a", labels={"same": "content"})
    push_image(open_registry.url, "aim/alias", "b", labels={"same": "content"})
    a = client.inspect(f"{counting_proxy.host}/aim/alias:a")
    counting_proxy.reset()
    b = client.inspect(f"{counting_proxy.host}/aim/alias:b")
    assert a == b
    assert _counts(counting_proxy) == {"manifest_get": 1, "manifest_head": 0, "blob": 0, "total": 1}


def test_cache_does_not_bypass_authorization(
    client: RegistryClient, basic_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    secrets = keyring(pull_secret(basic_registry.host, BASIC_USER, BASIC_PASSWORD))
    assert isinstance(client.inspect(f"{basic_registry.host}/private/model:1", secrets), ImageFacts)
    result = client.inspect(f"{basic_registry.host}/private/model:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.UNAUTHORIZED


def test_inspect_many_is_concurrent_bounded_ordered_and_deduplicated(
    open_registry: RegistryProcess, images: dict[str, Pushed]
) -> None:
    for i in range(6):
        push_image(open_registry.url, "aim/many", f"t{i}", labels={"i": str(i)})
    proxy = CountingProxy(open_registry.url, delay=0.05).start()
    try:
        client = RegistryClient()
        tags = [f"t{i}" for i in range(6)] * 2
        results = client.inspect_many(
            [InspectRequest(f"{proxy.host}/aim/many:{t}") for t in tags], concurrency=3
        )
        assert [r.labels["i"] for r in results if isinstance(r, ImageFacts)] == [t[1:] for t in tags]
        assert proxy.count("GET", "/manifests/") == 6  # duplicates fetched once
        assert 2 <= proxy.max_in_flight <= 3
    finally:
        proxy.stop()


# -- retries and malformed answers, from a scripted registry ----------------------------------------------


class FakeImage:
    """An image served from memory, so a test can break any part of the exchange."""

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self.config = json.dumps(
            {"os": "linux", "architecture": "amd64", "config": {"Labels": labels or {}}}
        ).encode()
        self.config_digest = "sha256:" + hashlib.sha256(self.config).hexdigest()
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": self.config_digest, "size": len(self.config)},
                "layers": [],
            }
        ).encode()
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def serve(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if "/manifests/" in seen.path:
            return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": self.digest}, self.manifest
        if seen.path.endswith(f"/blobs/{self.config_digest}"):
            return 200, {"Content-Type": "application/octet-stream"}, self.config
        return 404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "NOT_FOUND"}]}'


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.stop()


def serve(servers: list[ScriptedServer], respond: Any) -> ScriptedServer:
    server = ScriptedServer(respond).start()
    servers.append(server)
    return server


def test_5xx_is_retried_with_exponential_backoff_then_succeeds(scripted: list[ScriptedServer]) -> None:
    image = FakeImage({"ok": "yes"})
    failures = [503, 502]

    def respond(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return (failures.pop(0), {}, b"busy") if failures else image.serve(seen)

    server = serve(scripted, respond)
    sleeps = Sleeps()
    result = RegistryClient(sleep=sleeps, backoff_base=0.5).inspect(f"{server.host}/x/y:1")
    assert result == ImageFacts(labels={"ok": "yes"}, env=(), digest=image.digest)
    assert sleeps == [0.5, 1.0]


def test_5xx_gives_registry_error_after_bounded_retries(scripted: list[ScriptedServer]) -> None:
    server = serve(scripted, lambda seen, body: (500, {}, b"down"))
    sleeps = Sleeps()
    result = RegistryClient(sleep=sleeps, max_retries=3, backoff_base=1.0, backoff_max=3.0).inspect(
        f"{server.host}/x/y:1"
    )
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.REGISTRY_ERROR
    assert "HTTP 500" in result.message and server.host in result.message
    assert server.count() == 4
    assert sleeps == [1.0, 2.0, 3.0]


def test_429_honours_retry_after_with_a_cap(scripted: list[ScriptedServer]) -> None:
    image = FakeImage()
    answers = [(429, {"Retry-After": "2"}), (429, {"Retry-After": "3600"})]

    def respond(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if answers:
            status, headers = answers.pop(0)
            return status, headers, b""
        return image.serve(seen)

    server = serve(scripted, respond)
    sleeps = Sleeps()
    result = RegistryClient(sleep=sleeps, retry_after_max=10.0).inspect(f"{server.host}/x/y:1")
    assert isinstance(result, ImageFacts)
    assert sleeps == [2.0, 10.0]


def test_retry_after_as_a_date_is_capped(scripted: list[ScriptedServer]) -> None:
    image = FakeImage()
    answers = [(429, {"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"})]

    def respond(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if answers:
            status, headers = answers.pop(0)
            return status, headers, b""
        return image.serve(seen)

    server = serve(scripted, respond)
    sleeps = Sleeps()
    assert isinstance(
        RegistryClient(sleep=sleeps, retry_after_max=7.0).inspect(f"{server.host}/x/y:1"), ImageFacts
    )
    assert sleeps == [7.0]


def test_429_forever_is_a_registry_error(scripted: list[ScriptedServer]) -> None:
    server = serve(scripted, lambda seen, body: (429, {"Retry-After": "1"}, b""))
    result = RegistryClient(sleep=Sleeps(), max_retries=2).inspect(f"{server.host}/x/y:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.REGISTRY_ERROR
    assert "429" in result.message and server.count() == 3


def test_token_service_errors_are_retried_and_the_challenge_is_followed(
    scripted: list[ScriptedServer],
) -> None:
    image = FakeImage({"via": "token"})
    token_answers = [503]

    def tokens(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if token_answers:
            return token_answers.pop(0), {}, b""
        return 200, {"Content-Type": "application/json"}, b'{"access_token": "tok-1", "expires_in": 120}'

    token_service = serve(scripted, tokens)

    def registry(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if seen.headers.get("Authorization") != "Bearer tok-1":
            challenge = (
                f'Bearer realm="{token_service.url}/auth?x=1",service="svc \\"q\\"",'
                'scope="repository:x/y:pull",error="invalid_token"'
            )
            return 401, {"WWW-Authenticate": challenge}, b""
        return image.serve(seen)

    server = serve(scripted, registry)
    sleeps = Sleeps()
    result = RegistryClient(sleep=sleeps).inspect(f"{server.host}/x/y:1")
    assert result == ImageFacts(labels={"via": "token"}, env=(), digest=image.digest)
    assert sleeps == [0.5]
    asked = token_service.requests[-1].path
    assert asked.startswith("/auth?x=1&") and "scope=repository%3Ax%2Fy%3Apull" in asked
    assert "service=svc+%22q%22" in asked


def _broken(kind: str) -> Any:
    image = FakeImage({"a": "b"})

    def respond(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, headers, payload = image.serve(seen)
        is_manifest = "/manifests/" in seen.path
        if kind == "not-json" and is_manifest:
            return 200, {"Content-Type": OCI_MANIFEST}, b"{not json"
        if kind == "media-type" and is_manifest:
            doc = {"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"}
            return 200, {"Content-Type": "application/vnd.example.thing+json"}, json.dumps(doc).encode()
        if kind == "manifest-digest" and is_manifest:
            return 200, {**headers, "Docker-Content-Digest": "sha256:" + "1" * 64}, payload
        if kind == "config-digest" and not is_manifest:
            return 200, headers, payload.replace(b'"b"', b'"c"')
        if kind == "helm" and is_manifest:
            doc = json.loads(payload)
            doc["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
            return 200, {"Content-Type": OCI_MANIFEST}, json.dumps(doc).encode()
        if kind == "big-manifest" and is_manifest:
            return 200, {"Content-Type": OCI_MANIFEST}, payload + b" " * 5000
        return status, headers, payload

    return respond


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("not-json", "not a JSON object"),
        ("media-type", "unsupported type"),
        ("manifest-digest", "does not match digest"),
        ("config-digest", "does not match its digest"),
        ("helm", "not a container image"),
        ("big-manifest", "over the 4096-byte limit"),
    ],
)
def test_malformed_answers(scripted: list[ScriptedServer], kind: str, words: str) -> None:
    server = serve(scripted, _broken(kind))
    result = RegistryClient(manifest_limit=4096).inspect(f"{server.host}/x/y:1")
    assert isinstance(result, InspectFailure), result
    assert result.kind is FailureKind.MALFORMED
    assert words in result.message and server.host in result.message


def test_oversized_config_is_refused_before_download(scripted: list[ScriptedServer]) -> None:
    image = FakeImage({"a": "b" * 500})
    server = serve(scripted, lambda seen, body: image.serve(seen))
    result = RegistryClient(config_limit=100).inspect(f"{server.host}/x/y:1")
    assert isinstance(result, InspectFailure) and result.kind is FailureKind.MALFORMED
    assert server.count(None, "/blobs/") == 0


def test_redirect_to_another_origin_drops_the_credentials(scripted: list[ScriptedServer]) -> None:
    image = FakeImage({"via": "cdn"})
    cdn = serve(scripted, lambda seen, body: (200, {}, image.config))

    def registry(seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if "Authorization" not in seen.headers:
            return 401, {"Www-Authenticate": 'Basic realm="r"'}, b""
        if "/blobs/" in seen.path:
            return 307, {"Location": f"{cdn.url}/storage/blob?sig=abc"}, b""
        return image.serve(seen)

    server = serve(scripted, registry)
    config = parse_docker_config(
        {"auths": {server.host: {"username": BASIC_USER, "password": BASIC_PASSWORD}}}
    )
    result = RegistryClient().inspect(f"{server.host}/x/y:1", Keyring((config,)))
    assert result == ImageFacts(labels={"via": "cdn"}, env=(), digest=image.digest)
    assert cdn.count() == 1
    assert all("Authorization" not in r.headers for r in cdn.requests)


# -- secrets never leak -----------------------------------------------------------------------------------


def test_no_credential_in_messages_reprs_or_logs(
    caplog: pytest.LogCaptureFixture,
    basic_registry: RegistryProcess,
    token_registry: RegistryProcess,
    images: dict[str, Pushed],
) -> None:
    caplog.set_level(logging.DEBUG)
    client = RegistryClient()
    good_basic = keyring(pull_secret(basic_registry.host, BASIC_USER, BASIC_PASSWORD))
    bad_basic = keyring(pull_secret(basic_registry.host, BASIC_USER, BASIC_PASSWORD + "x"))
    good_token = keyring(pull_secret(token_registry.host, TOKEN_USER, TOKEN_PASSWORD))
    bad_token = keyring(pull_secret(token_registry.host, TOKEN_USER, TOKEN_PASSWORD + "x"))
    identity = Keyring(
        (parse_docker_config({"auths": {token_registry.host: {"identitytoken": REFRESH_TOKEN}}}),)
    )
    results = [
        client.inspect(f"{basic_registry.host}/private/model:1", good_basic),
        client.inspect(f"{basic_registry.host}/private/model:1", bad_basic),
        client.inspect(f"{basic_registry.host}/private/nope:1", good_basic),
        client.inspect(f"{token_registry.host}/private/model:1", good_token),
        client.inspect(f"{token_registry.host}/private/model:1", bad_token),
        client.inspect(f"{token_registry.host}/private/nope:1", good_token),
        client.inspect(f"{token_registry.host}/private/model:1", identity),
    ]
    assert [isinstance(r, InspectFailure) for r in results] == [False, True, True, False, True, True, False]
    creds = [c for k in (good_basic, bad_basic, good_token, identity) for c in k.lookup(basic_registry.host)]
    creds += list(good_token.lookup(token_registry.host)) + list(identity.lookup(token_registry.host))
    assert_no_secret(
        caplog.text,
        *[r.getMessage() for r in caplog.records],
        *results,
        *[repr(r) for r in results],
        *[repr(c) for c in creds],
        *[str(c) for c in creds],
        repr(good_basic),
        repr(identity),
        repr(client),
    )
    assert "Authorization" not in caplog.text


def test_bad_secret_errors_do_not_quote_the_secret() -> None:
    bad_auth = {"auths": {"r.example.com": {"auth": b64(BASIC_PASSWORD)}}}  # no colon
    secret = {
        "metadata": {"name": "broken", "namespace": "ml-team"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps(bad_auth))},
    }
    with pytest.raises(CredentialsError) as err:
        config_from_secret(secret)
    assert "secret ml-team/broken" in str(err.value)
    assert_no_secret(str(err.value), repr(err.value))
    secret["data"] = {".dockerconfigjson": b64('{"auths": {"x": "' + BASIC_PASSWORD)}
    with pytest.raises(CredentialsError) as err:
        config_from_secret(secret)
    assert_no_secret(str(err.value))


# -- credentials: parsing and matching -------------------------------------------------------------------


def test_credential_repr_hides_secrets() -> None:
    cred = Credential(
        username="u", password=BASIC_PASSWORD, identity_token=REFRESH_TOKEN, source="secret a/b"
    )
    assert "<redacted>" in repr(cred) and "'u'" in repr(cred) and "secret a/b" in repr(cred)
    assert_no_secret(repr(cred), str(cred), f"{cred}", repr([cred]), repr({"k": cred}))
    assert Credential(username="u").has_secret is False


def test_secret_with_data() -> None:
    config = config_from_secret(pull_secret("r.example.com", "u", "p:with:colons"))
    (cred,) = Keyring((config,)).lookup("r.example.com", "team/x")
    assert (cred.username, cred.password, cred.source) == ("u", "p:with:colons", "secret ml-team/pull")


def test_secret_with_string_data_and_username_password() -> None:
    secret = {
        "metadata": {"name": "s"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {
            ".dockerconfigjson": json.dumps({"auths": {"r.example.com": {"username": "u", "password": "p"}}})
        },
    }
    (cred,) = Keyring((config_from_secret(secret),)).lookup("r.example.com")
    assert (cred.username, cred.password, cred.source) == ("u", "p", "secret s")


def test_legacy_dockercfg_secret() -> None:
    cfg = {"https://index.docker.io/v1/": {"auth": b64("hub:pw"), "email": "x@example.com"}}
    secret = {
        "metadata": {"name": "old", "namespace": "ns"},
        "type": "kubernetes.io/dockercfg",
        "data": {".dockercfg": b64(json.dumps(cfg))},
    }
    (cred,) = Keyring((config_from_secret(secret),)).lookup("docker.io", "library/ubuntu")
    assert (cred.username, cred.password) == ("hub", "pw")


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ({"metadata": {"name": "o"}, "type": "Opaque", "data": {}}, "type 'Opaque'"),
        (
            {"metadata": {"name": "m"}, "type": "kubernetes.io/dockerconfigjson", "data": {}},
            "no '.dockerconfigjson'",
        ),
        (
            {
                "metadata": {"name": "b"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": "%%%"},
            },
            "not valid base64",
        ),
        (
            {
                "metadata": {"name": "j"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": b64("[1]")},
            },
            "must hold a JSON object",
        ),
    ],
)
def test_unusable_secrets_say_why(secret: dict[str, Any], words: str) -> None:
    with pytest.raises(CredentialsError, match=words):
        config_from_secret(secret)


def test_docker_config_file_with_tokens_and_helpers() -> None:
    content = json.dumps(
        {
            "auths": {
                "a.example.com": {"identitytoken": "idt"},
                "b.example.com": {"registrytoken": "rt"},
                "c.example.com": {},  # credentials live in a helper: nothing to use
            },
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud"},
        }
    )
    ring = Keyring((parse_docker_config(content, source="config.json"),))
    assert ring.lookup("a.example.com")[0].identity_token == "idt"
    assert ring.lookup("b.example.com")[0].registry_token == "rt"
    assert ring.lookup("c.example.com") == ()
    assert ring.lookup("gcr.io") == ()


MATCHES = [
    ("registry.example.com", "registry.example.com", "team/img", True),
    ("registry.example.com:5000", "registry.example.com:5000", "x", True),
    ("registry.example.com", "registry.example.com:5000", "x", False),  # the port must be equal
    ("registry.example.com:5000", "registry.example.com", "x", False),
    ("https://registry.example.com/v1/", "registry.example.com", "x", True),
    ("https://registry.example.com/v2/", "registry.example.com", "x", True),
    ("http://registry.example.com", "registry.example.com", "x", True),
    ("REGISTRY.Example.COM", "registry.example.com", "x", True),
    ("registry.example.com/team", "registry.example.com", "team/img", True),
    ("registry.example.com/team", "registry.example.com", "other/img", False),
    ("https://registry.example.com/v2/team", "registry.example.com", "team/img", True),
    ("*.example.com", "registry.example.com", "x", True),
    ("*.example.com", "example.com", "x", False),
    ("*.example.com", "a.b.example.com", "x", False),  # a glob covers one label
    ("*.*.example.com", "a.b.example.com", "x", True),
    ("reg*.example.com", "reg1.example.com", "x", True),
    ("reg*.example.com", "mirror.example.com", "x", False),
    ("example.com", "registry.example.com", "x", False),
    ("docker.io", "docker.io", "library/ubuntu", True),
    ("index.docker.io", "docker.io", "library/ubuntu", True),
    ("registry-1.docker.io", "docker.io", "amdenterpriseai/aim", True),
    ("https://index.docker.io/v1/", "docker.io", "library/ubuntu", True),
    ("https://index.docker.io/v1/", "index.docker.io", "library/ubuntu", True),
    ("https://index.docker.io/v1/", "quay.io", "x", False),
    ("docker.io", "docker.io.example.com", "x", False),
    ("127.0.0.1:5000", "127.0.0.1:5000", "a/b", True),
    ("[::1]:5000", "[::1]:5000", "a", True),
    ("localhost:5000", "localhost", "a", False),
    ("user:pw@registry.example.com", "registry.example.com", "a", True),
]


@pytest.mark.parametrize(("key", "registry", "repository", "expected"), MATCHES)
def test_registry_matching_like_the_kubelet(key: str, registry: str, repository: str, expected: bool) -> None:
    ring = Keyring((parse_docker_config({"auths": {key: {"username": "u", "password": "p"}}}),))
    assert bool(ring.lookup(registry, repository)) is expected


def test_more_specific_keys_come_first_and_secrets_keep_their_order() -> None:
    first = parse_docker_config(
        {
            "auths": {
                "r.example.com": {"username": "host", "password": "p"},
                "r.example.com/team": {"username": "team", "password": "p"},
                "r.example.com/team/img": {"username": "img", "password": "p"},
                "*.example.com": {"username": "glob", "password": "p"},
            }
        },
        source="first",
    )
    second = parse_docker_config(
        {"auths": {"r.example.com": {"username": "later", "password": "p"}}}, source="2"
    )
    found = (Keyring((first,)) + Keyring((second,))).lookup("r.example.com", "team/img")
    assert [c.username for c in found] == ["img", "team", "host", "glob", "later"]


def test_duplicate_credentials_are_asked_once() -> None:
    one = parse_docker_config({"auths": {"r.example.com": {"username": "u", "password": "p"}}}, source="s")
    assert len(Keyring((one, one)).lookup("r.example.com")) == 1


# -- references and schemes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "digest", "api"),
    [
        ("ubuntu", "docker.io", "library/ubuntu", "latest", None, "registry-1.docker.io"),
        ("amdenterpriseai/aim-qwen:0.8.5", "docker.io", "amdenterpriseai/aim-qwen", "0.8.5", None,
         "registry-1.docker.io"),
        ("index.docker.io/library/x:1", "docker.io", "library/x", "1", None, "registry-1.docker.io"),
        ("quay.io/org/img@sha256:" + "a" * 64, "quay.io", "org/img", None, "sha256:" + "a" * 64, "quay.io"),
        ("localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", None, "localhost:5000"),
    ],
)  # fmt: skip
def test_image_references(
    image: str, registry: str, repository: str, tag: str | None, digest: str | None, api: str
) -> None:
    ref = ImageRef.parse(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest, ref.api_host) == (
        registry, repository, tag, digest, api
    )  # fmt: skip


@pytest.mark.parametrize(
    ("registry", "url"),
    [
        ("localhost", "http://localhost"),
        ("localhost:5000", "http://localhost:5000"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("127.1.2.3:80", "http://127.1.2.3:80"),
        ("[::1]:5000", "http://[::1]:5000"),
        ("docker.io", "https://registry-1.docker.io"),
        ("quay.io", "https://quay.io"),
        ("10.0.0.5:5000", "https://10.0.0.5:5000"),
        ("registry.lan:5000", "http://registry.lan:5000"),  # listed as insecure
        ("other.lan:5000", "http://other.lan:5000"),  # listed by host name: any port
        ("other.lan.example.com", "https://other.lan.example.com"),
    ],
)
def test_plain_http_only_for_loopback_and_listed_registries(registry: str, url: str) -> None:
    client = RegistryClient(insecure_registries=["registry.lan:5000", "other.lan"])
    assert client.base_url(registry) == url


def test_loopback_detection() -> None:
    assert is_loopback("localhost:1") and is_loopback("127.0.0.1") and is_loopback("[::1]:5000")
    assert not is_loopback("10.0.0.1:5000") and not is_loopback("localhost.example.com")
