"""Registry credentials from image pull secrets and docker config files.

Discovery must see an image the way the kubelet will when it pulls it, so the
matching of a registry host against config keys follows the kubelet's
credential keyring: keys are schemeless URLs, `/v1/` and `/v2/` suffixes are
ignored, the port must be equal, host labels may be globs (`*.example.com`),
a key's path is a prefix of the image path, and more specific keys win.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

logger = logging.getLogger("aimcore.registry")

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
_SECRET_KEYS = {DOCKER_CONFIG_JSON: ".dockerconfigjson", DOCKER_CFG: ".dockercfg"}

DOCKER_HUB = "docker.io"
# Docker Hub answers to several names; config files use any of them.
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


class CredentialsError(ValueError):
    """A pull secret or config file that cannot be used; the message never quotes its content."""


@attrs.frozen(repr=False)
class Credential:
    """What to present to one registry. Hashable, so token caches can key on it."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    source: str = ""  # where it came from, e.g. "secret ml-team/pull": safe to show

    def __repr__(self) -> str:
        # Only the user name and origin: a repr ends up in logs and tracebacks.
        secret = "<redacted>" if self.has_secret else "<none>"
        return f"Credential(username={self.username!r}, secret={secret}, source={self.source!r})"

    __str__ = __repr__

    @property
    def has_secret(self) -> bool:
        return bool(self.password or self.identity_token or self.registry_token)

    @property
    def can_basic(self) -> bool:
        return bool(self.username or self.password)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@attrs.frozen
class _Key:
    """A config key split the way the kubelet compares it."""

    text: str  # normalised "host[:port][/path]", used for ordering
    labels: tuple[str, ...]
    port: str
    path: str

    @classmethod
    def parse(cls, location: str) -> _Key | None:
        value = location.strip()
        if not value.startswith(("https://", "http://")):
            value = "https://" + value
        try:
            parts = urlsplit(value)
            host, port = _split_host_port(parts.netloc.rpartition("@")[2].lower())
        except ValueError:
            return None
        if not host:
            return None
        path = parts.path
        if path.startswith(("/v1/", "/v2/")):
            path = path[3:]
        if path == "/":
            path = ""
        host = _canonical_host(host, port)
        netloc = f"{host}:{port}" if port else host
        return cls(text=netloc + path, labels=tuple(host.split(".")), port=port, path=path)

    def matches(self, target: _Key) -> bool:
        if self.port != target.port or len(self.labels) != len(target.labels):
            return False
        if not target.path.startswith(self.path):
            return False
        return all(fnmatch.fnmatchcase(t, g) for g, t in zip(self.labels, target.labels, strict=True))


def _split_host_port(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 address")
        host, rest = netloc[1:end], netloc[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else ""
    host, sep, port = netloc.partition(":")
    if sep and (not port.isdigit() or ":" in port):
        raise ValueError("bad port")
    return host, port


def _canonical_host(host: str, port: str) -> str:
    return DOCKER_HUB if host in _HUB_ALIASES and not port else host


@attrs.frozen
class DockerConfig:
    """The entries of one secret or config file, most specific key first."""

    entries: tuple[tuple[_Key, Credential], ...] = ()
    source: str = ""

    def lookup(self, target: _Key) -> list[Credential]:
        return [cred for key, cred in self.entries if key.matches(target)]

    @property
    def registries(self) -> tuple[str, ...]:
        return tuple(key.text for key, _ in self.entries)


@attrs.frozen
class Keyring:
    """Credentials from several sources, asked in order (a pod's pull secrets, in order)."""

    configs: tuple[DockerConfig, ...] = ()

    def __add__(self, other: Keyring) -> Keyring:
        return Keyring(self.configs + other.configs)

    def __bool__(self) -> bool:
        return any(c.entries for c in self.configs)

    def lookup(self, registry: str, repository: str = "") -> tuple[Credential, ...]:
        """Credentials for `registry/repository`, best first, without duplicates."""
        target = _Key.parse(f"{registry}/{repository}" if repository else registry)
        if target is None:
            return ()
        found: list[Credential] = []
        for config in self.configs:
            for cred in config.lookup(target):
                if cred not in found:
                    found.append(cred)
        return tuple(found)


def parse_docker_config(
    content: str | bytes | Mapping[str, Any], *, source: str = "docker config", legacy: bool = False
) -> DockerConfig:
    """Read a `config.json` (`{"auths": {...}}`), or a legacy `.dockercfg` map when `legacy`.

    Credential helpers (`credsStore`, `credHelpers`) cannot run inside the operator and are ignored.
    """
    doc = _load_json(content, source) if not isinstance(content, Mapping) else content
    if legacy:
        auths: Any = doc
    else:
        auths = doc.get("auths", {})
        if doc.get("credsStore") or doc.get("credHelpers"):
            logger.debug("%s names credential helpers; they are not used", source)
    if not isinstance(auths, Mapping):
        raise CredentialsError(f"{source}: 'auths' must be a JSON object")
    entries: list[tuple[_Key, Credential]] = []
    for location, entry in auths.items():
        if not isinstance(location, str) or not isinstance(entry, Mapping):
            raise CredentialsError(f"{source}: the entry for {location!r} must be a JSON object")
        key = _Key.parse(location)
        if key is None:
            logger.debug("%s: skipping registry key %r that is not a host", source, location)
            continue
        cred = _credential(entry, location, source)
        if cred is not None:
            entries.append((key, cred))
    # Reverse lexical order puts `host/team/x` before `host/team` before `host`, as the kubelet does;
    # the sort is stable, so equal keys keep file order.
    entries.sort(key=lambda e: e[0].text, reverse=True)
    return DockerConfig(entries=tuple(entries), source=source)


def _credential(entry: Mapping[str, Any], location: str, source: str) -> Credential | None:
    def text(name: str) -> str:
        value = entry.get(name) or ""
        if not isinstance(value, str):
            raise CredentialsError(f"{source}: field {name!r} of registry {location!r} must be a string")
        return value

    username, password = text("username"), text("password")
    auth = text("auth")
    if auth:
        try:
            decoded = base64.b64decode(auth.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" not in decoded:
            raise CredentialsError(
                f"{source}: the 'auth' field of registry {location!r} is not the base64 of 'user:password'"
            )
        username, _, password = decoded.partition(":")
    cred = Credential(
        username=username,
        password=password,
        identity_token=text("identitytoken"),
        registry_token=text("registrytoken"),
        source=source,
    )
    if not (cred.can_basic or cred.identity_token or cred.registry_token):
        return None
    return cred


def _load_json(content: str | bytes, source: str) -> Mapping[str, Any]:
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as err:
        # The decoder's message gives a position only, never the text.
        where = (
            f" ({err.msg}: line {err.lineno} column {err.colno})"
            if isinstance(err, json.JSONDecodeError)
            else ""
        )
        raise CredentialsError(f"{source} is not valid JSON{where}") from None
    if not isinstance(doc, Mapping):
        raise CredentialsError(f"{source} must hold a JSON object")
    return doc


def config_from_secret(secret: Mapping[str, Any]) -> DockerConfig:
    """Read an image pull secret given as a decoded manifest or API object (a plain dict)."""
    meta = secret.get("metadata") or {}
    name, namespace = meta.get("name") or "?", meta.get("namespace")
    source = f"secret {namespace}/{name}" if namespace else f"secret {name}"
    kind = secret.get("type") or "Opaque"
    key = _SECRET_KEYS.get(kind)
    if key is None:
        raise CredentialsError(
            f"{source} has type {kind!r}; an image pull secret must be of type "
            f"{DOCKER_CONFIG_JSON} (or the legacy {DOCKER_CFG})"
        )
    string_data = secret.get("stringData") or {}
    data = secret.get("data") or {}
    raw: str | bytes
    if key in string_data:  # stringData overrides data, as the API server merges them
        raw = string_data[key]
    elif key in data:
        try:
            raw = base64.b64decode(data[key], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise CredentialsError(f"{source}: data[{key!r}] is not valid base64") from None
    else:
        raise CredentialsError(f"{source} has no {key!r} key")
    doc = _load_json(raw, f"{source} ({key})")
    return parse_docker_config(doc, source=source, legacy=kind == DOCKER_CFG)


def keyring_from_secrets(secrets: Iterable[Mapping[str, Any]]) -> Keyring:
    return Keyring(tuple(config_from_secret(s) for s in secrets))
