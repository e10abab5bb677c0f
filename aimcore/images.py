"""Image references, image tags and template versions.

Two kinds of rules live here. Identity questions ("are these the same image?")
use docker-image-py, so `qwen:1` and `docker.io/library/qwen:1` agree. The
fine-tuned helpers (rebase, tag normalisation, legacy base, tag extraction) are
the reference operator's plain string rules (reference-finetuned §8), because
its tables pin answers a parser would not give: rebasing onto `qwen3:0.11`,
which has no slash, returns the base unchanged instead of assuming docker.io.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

import attrs
import semver
from docker_image import digest as _docker_digest
from docker_image import reference as _docker_ref

__all__ = [
    "DeploymentImage",
    "EffectivePolicy",
    "ImageReference",
    "ImageSource",
    "InvalidImageReference",
    "Unresolved",
    "UnresolvedReason",
    "extract_tag",
    "filter_versions",
    "latest_version",
    "legacy_base_image",
    "normalize_base_image_tag",
    "normalize_image",
    "parse_version",
    "rebase_registry",
    "resolve_deployment_image",
    "split_image",
    "version_policy",
]

_REFERENCE_SHAPE = "[registry[:port]/]path[:tag][@algorithm:digest], with a lowercase path"


class InvalidImageReference(ValueError):
    """An image string that docker would refuse; the message says what and why."""

    def __init__(self, ref: str, detail: str) -> None:
        super().__init__(f"invalid image reference {ref!r}: {detail} (expected {_REFERENCE_SHAPE})")
        self.ref = ref
        self.detail = detail


# --------------------------------------------------------------------------- parsing


@attrs.frozen
class ImageReference:
    """A reference split the way docker does, with docker.io/library filled in."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.domain}/{self.path}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _parse_error_detail(error: Exception) -> str:
    """docker-image-py sometimes stores a tuple as its message; make it readable."""
    if error.args and isinstance(error.args[0], str) and len(error.args) == 1:
        return error.args[0]
    if isinstance(error, _docker_ref.ReferenceHasNoName):
        return "reference has no repository name"
    return str(error) or type(error).__name__


def split_image(ref: str) -> ImageReference:
    """Parse like the docker CLI (familiar names expanded); surrounding spaces are ignored."""
    text = ref.strip()
    if not text:
        raise InvalidImageReference(ref, "the reference is empty")
    try:
        parsed = _docker_ref.Reference.parse_normalized_named(text)
    except (_docker_ref.InvalidReference, _docker_digest.InvalidDigest) as error:
        raise InvalidImageReference(ref, _parse_error_detail(error)) from error
    return ImageReference(
        domain=str(parsed.domain()),
        path=str(parsed.path()),
        tag=parsed["tag"] or None,
        digest=parsed["digest"] or None,
    )


def normalize_image(ref: str) -> str:
    """The fully qualified spelling, so equal images compare equal as strings (D2)."""
    return str(split_image(ref))


# ------------------------------------------------------------- reference string rules

# Tag of a base image reduced to MAJOR.MINOR; Go's \d is ASCII-only, hence re.ASCII.
_MAJOR_MINOR = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", re.ASCII)


def _tag_colon(ref: str) -> int:
    """Index of the colon that starts the tag, or -1 (a registry port is not a tag)."""
    colon = ref.rfind(":")
    if colon < 0 or colon == len(ref) - 1 or "/" in ref[colon + 1 :]:
        return -1
    return colon


def _major_minor(tag: str) -> str | None:
    match = _MAJOR_MINOR.fullmatch(tag)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def rebase_registry(source: str, base: str) -> str:
    """Put `base`'s last path segment under `source`'s registry and org.

    Mirrors aim-base next to the model it serves: operators mirror both, and a
    fine-tuned deployment should pull from the mirror, not from Docker Hub.
    """
    slash = source.rfind("/")
    if slash <= 0:
        return base
    prefix = source[:slash]
    base_slash = base.rfind("/")
    if base_slash < 0:
        return f"{prefix}/{base}"
    return prefix + base[base_slash:]


def normalize_base_image_tag(ref: str) -> str:
    """Reduce a semver-shaped tag to MAJOR.MINOR: aim-base is published per minor release."""
    colon = _tag_colon(ref)
    if colon < 0:
        return ref
    major_minor = _major_minor(ref[colon + 1 :])
    return ref if major_minor is None else f"{ref[:colon]}:{major_minor}"


def legacy_base_image(source: str) -> str:
    """Guess `aim-base:MAJOR.MINOR` for owners inspected before baseImageRef existed; "" if no guess."""
    colon = _tag_colon(source)
    if colon < 0:
        return ""
    major_minor = _major_minor(source[colon + 1 :])
    return "" if major_minor is None else f"aim-base:{major_minor}"


def extract_tag(ref: str) -> str:
    """The tag verbatim, "" when untagged or pinned by digest: it is a template's version."""
    if "@sha256:" in ref:
        return ""
    colon = _tag_colon(ref)
    return "" if colon < 0 else ref[colon + 1 :]


# --------------------------------------------------------------------------- versions

_UINT64_LIMIT = 1 << 64
# Python strips these as whitespace, Go does not (so Go then rejects the version).
_NOT_GO_SPACE = frozenset("\x1c\x1d\x1e\x1f")


def _drop_leading_zeros(part: str) -> str:
    if len(part) <= 1:
        return part
    stripped = part.lstrip("0")
    if not stripped or stripped[0] not in "0123456789":
        stripped = "0" + stripped
    return stripped


def parse_version(tag: str) -> semver.Version | None:
    """Read a tag as a version the way the reference does (blang ParseTolerant), else None.

    Tolerant so that `v0.11` and `0.11` count as versions, strict afterwards so
    that `latest` and `sha-…` never do.
    """
    if any(char in _NOT_GO_SPACE for char in tag):
        return None
    text = tag.strip()
    if text.startswith("v"):
        text = text[1:]
    parts = [_drop_leading_zeros(part) for part in text.split(".", 2)]
    if len(parts) < 3:
        if any(mark in parts[-1] for mark in "+-"):
            return None
        parts += ["0"] * (3 - len(parts))
    candidate = ".".join(parts)
    if not candidate.isascii():
        return None
    try:
        version = semver.Version.parse(candidate)
    except ValueError:
        return None
    return version if _fits_uint64(version) else None


def _fits_uint64(version: semver.Version) -> bool:
    """Go stores every number of a version as uint64; bigger ones are parse errors there."""
    numbers = [version.major, version.minor, version.patch]
    numbers += [int(part) for part in (version.prerelease or "").split(".") if part.isdigit()]
    return max(numbers) < _UINT64_LIMIT


class EffectivePolicy(enum.Enum):
    """The policy a fine-tuned model follows (D21): resources.VersionPolicy with `all` folded into `any`."""

    PINNED = "pinned"
    LATEST = "latest"
    ANY = "any"


def version_policy(value: str | EffectivePolicy | None) -> EffectivePolicy:
    """Empty means pinned (the default); `all` is `any`; anything unknown is pinned, the safe choice."""
    if isinstance(value, EffectivePolicy):
        return value
    if value in ("any", "all"):
        return EffectivePolicy.ANY
    if value == "latest":
        return EffectivePolicy.LATEST
    return EffectivePolicy.PINNED


_ZERO = semver.Version(0, 0, 0)


def latest_version(versions: Sequence[str]) -> str | None:
    """The spelling of the first strictly newest version above 0.0.0, or None.

    Spelling matters: `0.11` and `0.11.0` are one version, but only the first
    spelling seen is kept, as the reference does.
    """
    best, best_raw = _ZERO, None
    for raw in versions:
        version = parse_version(raw) if raw else None
        if version is not None and version > best:
            best, best_raw = version, raw
    return best_raw


def filter_versions(
    versions: Sequence[str], policy: str | EffectivePolicy | None, pinned_tag: str
) -> list[int]:
    """Indexes of the versions a policy keeps, in input order.

    Works on bare strings so callers can map any candidate (template, profile)
    to its version. `pinned` is an exact string match against the image tag.
    """
    effective = version_policy(policy)
    if effective is EffectivePolicy.ANY:
        return list(range(len(versions)))
    if effective is EffectivePolicy.LATEST:
        wanted = latest_version(versions)
        if wanted is None:
            return []
    else:
        wanted = pinned_tag
    return [index for index, version in enumerate(versions) if version == wanted]


# ------------------------------------------------------------- deployment image resolution


class ImageSource(enum.Enum):
    """Where a resolved deployment image came from, for status messages."""

    PINNED = "pinned"
    BASE_IMAGE_REF = "base-image-ref"
    LEGACY_TAG = "legacy-tag"


class UnresolvedReason(enum.Enum):
    """Why a copy has no image yet; the copy waits and is retried (D22)."""

    OWNER_NOT_FOUND = "OwnerNotFound"
    NO_BASE_IMAGE = "NoBaseImage"


@attrs.frozen
class DeploymentImage:
    """The image a fine-tuned copy deploys."""

    image: str
    source: ImageSource


@attrs.frozen
class Unresolved:
    """No image can be chosen for now; `message` is fit for a condition."""

    reason: UnresolvedReason
    message: str


def resolve_deployment_image(
    policy: str | EffectivePolicy | None,
    model_image: str,
    owner_image: str | None,
    owner_base_ref: str | None,
    *,
    owner: str = "source owner",
) -> DeploymentImage | Unresolved:
    """Pick the image for one fine-tuned copy (reference-finetuned §7, G3).

    `owner_image` is the source template's owning model's `spec.image`, None when
    that model could not be found; `owner_base_ref` is its baseImageRef (the
    caller applies spec-over-status). `owner` names it in messages. Pinned with
    an image needs no owner at all.
    """
    if version_policy(policy) is EffectivePolicy.PINNED and model_image:
        return DeploymentImage(model_image, ImageSource.PINNED)
    if owner_image is None:
        return Unresolved(UnresolvedReason.OWNER_NOT_FOUND, f"{owner} not found")
    if owner_base_ref:
        base, source = normalize_base_image_tag(owner_base_ref), ImageSource.BASE_IMAGE_REF
    else:
        base, source = legacy_base_image(owner_image), ImageSource.LEGACY_TAG
        if not base:
            return Unresolved(
                UnresolvedReason.NO_BASE_IMAGE,
                f"{owner} has no baseImageRef and no semver tag to fall back to",
            )
    return DeploymentImage(rebase_registry(owner_image, base), source)
