"""Image references, versions and deployment images (reference-finetuned §4, §7, §8, §13)."""

from __future__ import annotations

import pytest
import semver
from hypothesis import assume, given
from hypothesis import strategies as st

from aimcore.images import (
    DeploymentImage,
    EffectivePolicy,
    ImageReference,
    ImageSource,
    InvalidImageReference,
    Unresolved,
    UnresolvedReason,
    extract_tag,
    filter_versions,
    latest_version,
    legacy_base_image,
    normalize_base_image_tag,
    normalize_image,
    parse_version,
    rebase_registry,
    resolve_deployment_image,
    split_image,
    version_policy,
)

_DIGEST = "sha256:" + "ab" * 32

# --------------------------------------------------------------- splitting and normalising


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("qwen", ImageReference("docker.io", "library/qwen")),
        ("qwen:1", ImageReference("docker.io", "library/qwen", tag="1")),
        ("amdenterpriseai/aim-base:1", ImageReference("docker.io", "amdenterpriseai/aim-base", tag="1")),
        ("index.docker.io/library/qwen:1", ImageReference("docker.io", "library/qwen", tag="1")),
        ("ghcr.io/silogen/qwen3:0.11.0", ImageReference("ghcr.io", "silogen/qwen3", tag="0.11.0")),
        ("localhost:5000/myorg/qwen3", ImageReference("localhost:5000", "myorg/qwen3")),
        (f"ghcr.io/amd/model@{_DIGEST}", ImageReference("ghcr.io", "amd/model", digest=_DIGEST)),
        (f"ghcr.io/amd/model:v1@{_DIGEST}", ImageReference("ghcr.io", "amd/model", tag="v1", digest=_DIGEST)),
    ],
)
def test_split_image(ref: str, expected: ImageReference) -> None:
    assert split_image(ref) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("qwen:1", "docker.io/library/qwen:1"),
        ("docker.io/library/qwen:1", "docker.io/library/qwen:1"),
        (" qwen:1\n", "docker.io/library/qwen:1"),
        ("amdenterpriseai/aim-qwen-qwen3-32b:0.8.5", "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"),
        ("registry.example.com:5000/models/mistral", "registry.example.com:5000/models/mistral"),
        (f"ghcr.io/amd/model:v1@{_DIGEST}", f"ghcr.io/amd/model:v1@{_DIGEST}"),
    ],
)
def test_normalize_image(ref: str, expected: str) -> None:
    assert normalize_image(ref) == expected


@pytest.mark.parametrize(
    "ref",
    ["", "   ", "Qwen:1", ":::invalid", "ghcr.io/amd/model@sha256:abc123", "a b", "qwen:", "x/" + "a" * 300],
)
def test_invalid_references_raise_a_value_error_naming_the_input(ref: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        normalize_image(ref)
    assert isinstance(caught.value, ValueError)
    assert repr(ref) in str(caught.value)
    assert "expected" in str(caught.value)


def test_invalid_digest_length_is_an_invalid_reference() -> None:
    with pytest.raises(InvalidImageReference):
        split_image("ghcr.io/amd/model@sha256:" + "a" * 32)


# --------------------------------------------------------------- §8.1 rebase


@pytest.mark.parametrize(
    ("source", "base", "expected"),
    [
        (
            "ghcr.io/silogen/qwen3:0.11",
            "docker.io/amdenterpriseai/aim-base:0.11",
            "ghcr.io/silogen/aim-base:0.11",
        ),
        (
            "docker.io/amdenterpriseai/qwen3:0.11",
            "ghcr.io/silogen/aim-base:0.11",
            "docker.io/amdenterpriseai/aim-base:0.11",
        ),
        ("ghcr.io/silogen/qwen3:0.11", "aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
        ("qwen3:0.11", "ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
        ("", "ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:0.11", "ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
        (
            "localhost:5000/myorg/qwen3:0.11",
            "ghcr.io/silogen/aim-base:0.11",
            "localhost:5000/myorg/aim-base:0.11",
        ),
        (
            "registry.example.com/team/models/qwen3:0.11",
            "ghcr.io/silogen/aim-base:0.11",
            "registry.example.com/team/models/aim-base:0.11",
        ),
        ("amdenterpriseai/qwen3:0.11.0", "ghcr.io/silogen/aim-base:0.11", "amdenterpriseai/aim-base:0.11"),
        # Derived from the rule, not a reference test.
        ("localhost:5000/qwen3:0.11", "aim-base:0.11", "localhost:5000/aim-base:0.11"),
        ("/qwen3:0.11", "ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
    ],
)
def test_rebase_registry_reference_table(source: str, base: str, expected: str) -> None:
    assert rebase_registry(source, base) == expected


@pytest.mark.parametrize(
    ("owner_image", "base_ref", "expected"),
    [
        (
            "ghcr.io/silogen/qwen3:0.11.0",
            "docker.io/amdenterpriseai/aim-base:0.11",
            "ghcr.io/silogen/aim-base:0.11",
        ),
        (
            "docker.io/amdenterpriseai/qwen3:0.11.0",
            "ghcr.io/silogen/aim-base:0.11",
            "docker.io/amdenterpriseai/aim-base:0.11",
        ),
        (
            "registry.example.com/team/models/qwen3:0.11",
            "ghcr.io/silogen/aim-base:0.11",
            "registry.example.com/team/models/aim-base:0.11",
        ),
    ],
)
def test_rebase_registry_document_table(owner_image: str, base_ref: str, expected: str) -> None:
    assert rebase_registry(owner_image, base_ref) == expected
    resolved = resolve_deployment_image("latest", "", owner_image, base_ref)
    assert resolved == DeploymentImage(expected, ImageSource.BASE_IMAGE_REF)


# --------------------------------------------------------------- §8.2 normalise base tag


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("ghcr.io/silogen/aim-base:0.11-rc21", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/aim-base:0.11.2", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/aim-base:0.11", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/aim-base:v0.11.2", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/aim-base:0.11.0-rc1", "ghcr.io/silogen/aim-base:0.11"),
        ("ghcr.io/silogen/aim-base:latest", "ghcr.io/silogen/aim-base:latest"),
        ("ghcr.io/silogen/aim-base", "ghcr.io/silogen/aim-base"),
        ("ghcr.io/silogen/aim-base:", "ghcr.io/silogen/aim-base:"),
        ("registry.local:5000/aim-base", "registry.local:5000/aim-base"),
        ("registry.local:5000/aim-base:0.11-rc21", "registry.local:5000/aim-base:0.11"),
        ("aim-base", "aim-base"),
        ("aim-base:0.11-rc21", "aim-base:0.11"),
        ("", ""),
        # The rule's edges: uppercase V and a fourth number are not semver-shaped.
        ("aim-base:V0.11.2", "aim-base:V0.11.2"),
        ("aim-base:0.11.2.3", "aim-base:0.11.2.3"),
    ],
)
def test_normalize_base_image_tag(ref: str, expected: str) -> None:
    assert normalize_base_image_tag(ref) == expected


# --------------------------------------------------------------- §8.3 legacy base


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("ghcr.io/silogen/qwen3:0.11.2", "aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:0.11", "aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:v0.11.0", "aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:0.11.0-rc1", "aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:0.11-rc21", "aim-base:0.11"),
        ("localhost:5000/myorg/qwen3:0.11.0", "aim-base:0.11"),
        ("ghcr.io/silogen/qwen3:latest", ""),
        ("ghcr.io/silogen/qwen3", ""),
        ("ghcr.io/silogen/qwen3:", ""),
        ("registry.local:5000/image", ""),
        ("localhost:5000/myorg/qwen3", ""),
        ("", ""),
        (f"ghcr.io/x/qwen3@{_DIGEST}", ""),
    ],
)
def test_legacy_base_image(source: str, expected: str) -> None:
    assert legacy_base_image(source) == expected


# --------------------------------------------------------------- §8.4 extract tag


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("amdenterpriseai/aim-qwen-qwen3-32b:0.11.0", "0.11.0"),
        ("amdenterpriseai/aim-qwen-qwen3-32b", ""),
        ("amdenterpriseai/aim-qwen-qwen3-32b@sha256:abcd1234", ""),
        ("registry.local:5000/image", ""),
        ("registry.local:5000/image:0.11.0", "0.11.0"),
        ("amdenterpriseai/aim-qwen-qwen3-32b:", ""),
        ("", ""),
        ("aim-base:0.11", "0.11"),
        ("ghcr.io/silogen/qwen3:0.11-rc21", "0.11-rc21"),
        ("ghcr.io/silogen/qwen3:0.11.0-rc1", "0.11.0-rc1"),
        ("ghcr.io/silogen/qwen3:0.11.0+build123", "0.11.0+build123"),
        ("ghcr.io/silogen/qwen3:v0.11.2", "v0.11.2"),
        ("ghcr.io/silogen/qwen3:nightly-2026-05-27", "nightly-2026-05-27"),
        ("ghcr.io/silogen/qwen3:release-10", "release-10"),
        ("ghcr.io/silogen/qwen3:latest", "latest"),
    ],
)
def test_extract_tag(ref: str, expected: str) -> None:
    assert extract_tag(ref) == expected


# --------------------------------------------------------------- §4 versions


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("0.11.0", "0.11.0"),
        ("0.11", "0.11.0"),
        ("v0.11.2", "0.11.2"),
        (" 1 ", "1.0.0"),
        ("0.011.00", "0.11.0"),
        ("01.2.3", "1.2.3"),
        ("0.11.0-rc1", "0.11.0-rc1"),
        ("0.11.0+build123", "0.11.0+build123"),
        ("1.2.00-rc", "1.2.0-rc"),
        ("1.2.3-rc.1", "1.2.3-rc.1"),
        ("0.11-rc21", None),
        ("0.11+b", None),
        ("latest", None),
        ("sha-abc123", None),
        ("", None),
        ("V1.2.3", None),
        ("vv1.2.3", None),
        ("1.2.3.4", None),
        ("1.2.3-rc.01", None),
        ("1.2.3+", None),
        ("1..3", None),
        ("\u0661.\u0662.\u0663", None),
        ("\x1c1.2.3", None),
        (f"{1 << 64}.0.0", None),
        (f"1.0.0-rc.{1 << 64}", None),
        (f"1.0.0-rc.{(1 << 64) - 1}", f"1.0.0-rc.{(1 << 64) - 1}"),
    ],
)
def test_parse_version_is_tolerant_then_strict(tag: str, expected: str | None) -> None:
    parsed = parse_version(tag)
    assert (None if parsed is None else str(parsed)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, EffectivePolicy.PINNED),
        ("", EffectivePolicy.PINNED),
        ("pinned", EffectivePolicy.PINNED),
        ("latest", EffectivePolicy.LATEST),
        ("any", EffectivePolicy.ANY),
        ("all", EffectivePolicy.ANY),
        ("newest", EffectivePolicy.PINNED),
        (EffectivePolicy.LATEST, EffectivePolicy.LATEST),
    ],
)
def test_version_policy(value: str | EffectivePolicy | None, expected: EffectivePolicy) -> None:
    assert version_policy(value) is expected


@pytest.mark.parametrize(
    ("versions", "policy", "tag", "expected"),
    [
        # reference-finetuned §13
        (["0.8.5", "0.9.0", "0.8.5"], "pinned", "0.8.5", [0, 2]),
        (["0.8.5", "0.9.0", "0.9.0", "0.7.0"], "latest", "", [1, 2]),
        (["0.8.5", "0.9.0"], "any", "", [0, 1]),
        (["0.8.5", "0.9.0"], "all", "", [0, 1]),
        (["0.9.0"], "pinned", "0.8.5", []),
        (["", ""], "latest", "", []),
        (["0.7.0", "0.8.5"], "pinned", "0.8.5", [1]),
        (["0.9.0", "0.9.0"], "all", "", [0, 1]),
        (["0.11.0"], "latest", "", [0]),
        # §4 rules
        (["0.11", "0.11.0"], "pinned", "0.11", [0]),
        (["0.11", "0.11.0", "0.11"], "latest", "", [0, 2]),
        (["0.11.0", "0.11"], "latest", "", [0]),
        (["0.11.0+a", "0.11.0+b"], "latest", "", [0]),
        (["latest", "sha-abc", "0.1.0"], "latest", "", [2]),
        (["latest", "sha-abc"], "latest", "", []),
        (["0.0.0", "0.0.0-rc1", "v0"], "latest", "", []),
        (["1.0.0-rc1", "1.0.0", "0.9.9"], "latest", "", [1]),
        (["0.11-rc21", "0.10.0"], "latest", "", [1]),
        (["v1.0.0", "1.0.0"], "latest", "", [0]),
        (["0.8.5", "0.9.0"], "bogus", "0.8.5", [0]),
        (["0.8.5", "0.9.0"], "", "0.9.0", [1]),
        ([], "latest", "", []),
        ([], "any", "", []),
    ],
)
def test_filter_versions(versions: list[str], policy: str, tag: str, expected: list[int]) -> None:
    assert filter_versions(versions, policy, tag) == expected


def test_latest_version_returns_the_first_spelling() -> None:
    assert latest_version(["0.9", "0.9.0", "0.8.0"]) == "0.9"
    assert latest_version(["latest"]) is None


# --------------------------------------------------------------- §7 deployment image, §13 scenarios

_QWEN = "ghcr.io/silogen/qwen3:0.11.0"


@pytest.mark.parametrize(
    ("policy", "model_image", "owner_image", "base_ref", "expected"),
    [
        (
            "latest",
            "",
            "ghcr.io/silogen/qwen3:0.9.0",
            "ghcr.io/silogen/aim-base:0.9.0",
            DeploymentImage("ghcr.io/silogen/aim-base:0.9", ImageSource.BASE_IMAGE_REF),
        ),
        (
            "latest",
            "",
            "amdenterpriseai/aim-qwen-qwen3-32b:0.11.0",
            "ghcr.io/silogen/aim-base:0.11-rc21",
            DeploymentImage("amdenterpriseai/aim-base:0.11", ImageSource.BASE_IMAGE_REF),
        ),
        (
            "any",
            "",
            _QWEN,
            "docker.io/amdenterpriseai/aim-base:0.11",
            DeploymentImage("ghcr.io/silogen/aim-base:0.11", ImageSource.BASE_IMAGE_REF),
        ),
        ("latest", "", _QWEN, "", DeploymentImage("ghcr.io/silogen/aim-base:0.11", ImageSource.LEGACY_TAG)),
        ("latest", "", _QWEN, None, DeploymentImage("ghcr.io/silogen/aim-base:0.11", ImageSource.LEGACY_TAG)),
        (
            "pinned",
            "ghcr.io/silogen/aim-base:0.8.5",
            None,
            None,
            DeploymentImage("ghcr.io/silogen/aim-base:0.8.5", ImageSource.PINNED),
        ),
        (
            None,
            "amdenterpriseai/aim-base:0.8.5",
            None,
            None,
            DeploymentImage("amdenterpriseai/aim-base:0.8.5", ImageSource.PINNED),
        ),
        # Pinned with an image wins even over a resolvable owner.
        (
            "pinned",
            "my/aim-base:0.8.5",
            _QWEN,
            "ghcr.io/silogen/aim-base:0.11",
            DeploymentImage("my/aim-base:0.8.5", ImageSource.PINNED),
        ),
        # Latest or any ignore the model's own image.
        (
            "latest",
            "my/aim-base:0.8.5",
            _QWEN,
            "ghcr.io/silogen/aim-base:0.11",
            DeploymentImage("ghcr.io/silogen/aim-base:0.11", ImageSource.BASE_IMAGE_REF),
        ),
        # Heterogeneous owners under one aimId.
        (
            "any",
            "",
            _QWEN,
            "ghcr.io/silogen/aim-base:0.11",
            DeploymentImage("ghcr.io/silogen/aim-base:0.11", ImageSource.BASE_IMAGE_REF),
        ),
        (
            "any",
            "",
            "ghcr.io/silogen/qwen3-epyc:0.11.0",
            "ghcr.io/silogen/aim-epyc-base:0.11",
            DeploymentImage("ghcr.io/silogen/aim-epyc-base:0.11", ImageSource.BASE_IMAGE_REF),
        ),
    ],
)
def test_resolve_deployment_image(
    policy: str | None,
    model_image: str,
    owner_image: str | None,
    base_ref: str | None,
    expected: DeploymentImage,
) -> None:
    assert resolve_deployment_image(policy, model_image, owner_image, base_ref) == expected


def test_owner_without_base_and_semver_tag_is_unresolved() -> None:
    result = resolve_deployment_image("latest", "", "ghcr.io/silogen/qwen3:latest", "", owner="ns/qwen3")
    assert result == Unresolved(
        UnresolvedReason.NO_BASE_IMAGE, "ns/qwen3 has no baseImageRef and no semver tag to fall back to"
    )


def test_missing_owner_is_unresolved() -> None:
    result = resolve_deployment_image("latest", "", None, None, owner="source owner team-a/qwen3")
    assert result == Unresolved(UnresolvedReason.OWNER_NOT_FOUND, "source owner team-a/qwen3 not found")


def test_pinned_without_image_needs_the_owner() -> None:
    result = resolve_deployment_image("pinned", "", None, None)
    assert isinstance(result, Unresolved)
    assert result.reason is UnresolvedReason.OWNER_NOT_FOUND


def test_digest_pinned_owner_without_base_is_unresolved() -> None:
    result = resolve_deployment_image("any", "", f"ghcr.io/x/qwen3@{_DIGEST}", None)
    assert isinstance(result, Unresolved)
    assert result.reason is UnresolvedReason.NO_BASE_IMAGE


def test_skipped_copy_does_not_stop_the_others() -> None:
    owners = [("ghcr.io/silogen/qwen3:latest", ""), (_QWEN, "ghcr.io/silogen/aim-base:0.11")]
    results = [resolve_deployment_image("latest", "", image, base) for image, base in owners]
    stamped = [result.image for result in results if isinstance(result, DeploymentImage)]
    assert stamped == ["ghcr.io/silogen/aim-base:0.11"]


# --------------------------------------------------------------- properties

_segment = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True)
_semver_tag = r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,3}([-+][a-z0-9.]{1,6})?"
_tag = st.from_regex(rf"{_semver_tag}|[a-z][a-z0-9.-]{{0,8}}", fullmatch=True)
_registry = st.sampled_from(["", "ghcr.io/", "localhost:5000/", "registry.example.com:443/", "docker.io/"])


@st.composite
def _image_refs(draw: st.DrawFn) -> str:
    path = "/".join(draw(st.lists(_segment, min_size=1, max_size=4)))
    tag = draw(st.none() | _tag)
    return draw(_registry) + path + ("" if tag is None else f":{tag}")


@given(st.text(max_size=40), st.text(max_size=40))
def test_rebase_is_idempotent(source: str, base: str) -> None:
    once = rebase_registry(source, base)
    assert rebase_registry(source, once) == once


@given(_image_refs(), _image_refs())
def test_rebase_keeps_the_base_name_and_tag(source: str, base: str) -> None:
    rebased = rebase_registry(source, base)
    assert rebased.rsplit("/", 1)[-1] == base.rsplit("/", 1)[-1]
    assert extract_tag(rebased) == extract_tag(base)


@given(_image_refs(), _image_refs())
def test_rebase_keeps_the_source_prefix(source: str, base: str) -> None:
    assume("/" in source)
    assert rebase_registry(source, base).startswith(source.rsplit("/", 1)[0] + "/")


@given(st.one_of(_image_refs(), st.text(max_size=40)))
def test_normalize_base_image_tag_is_idempotent(ref: str) -> None:
    once = normalize_base_image_tag(ref)
    assert normalize_base_image_tag(once) == once


_docker_segment = st.from_regex(r"[a-z0-9]{1,6}([_-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_docker_tag = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,12}", fullmatch=True)


@st.composite
def _docker_refs(draw: st.DrawFn) -> str:
    """References docker accepts, in familiar and qualified spellings."""
    path = "/".join(draw(st.lists(_docker_segment, min_size=1, max_size=3)))
    tag = draw(st.none() | _docker_tag)
    return draw(_registry) + path + ("" if tag is None else f":{tag}")


@given(_docker_refs())
def test_normalize_image_is_idempotent(ref: str) -> None:
    once = normalize_image(ref)
    assert normalize_image(once) == once
    assert split_image(once) == split_image(ref)


_spellings = st.sampled_from(["", "latest", "0.11", "0.11.0", "v0.11.0"])
_versions = st.lists(st.one_of(_tag, _spellings), max_size=8)


@given(_versions, st.sampled_from(["pinned", "latest", "any", "all", "", "other"]), _tag)
def test_filters_keep_a_subset_of_any(versions: list[str], policy: str, tag: str) -> None:
    kept = filter_versions(versions, policy, tag)
    assert kept == sorted(set(kept))
    assert set(kept) <= set(filter_versions(versions, "any", tag))


@given(_versions)
def test_latest_keeps_one_spelling_of_the_newest(versions: list[str]) -> None:
    kept = filter_versions(versions, "latest", "")
    assert len({versions[index] for index in kept}) <= 1
    parsed = [v for v in (parse_version(raw) for raw in versions if raw) if v is not None]
    newest = max(parsed, default=None)
    if newest is None or newest <= semver.Version(0, 0, 0):
        assert kept == []
    else:
        assert kept and parse_version(versions[kept[0]]) == newest


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.none() | st.from_regex(r"[a-z][a-z0-9]{0,5}(\.(0|[1-9][0-9]{0,3}))?", fullmatch=True),
)
def test_parse_version_reads_canonical_versions(major: int, minor: int, patch: int, pre: str | None) -> None:
    version = semver.Version(major, minor, patch, prerelease=pre)
    assert parse_version(str(version)) == version
    assert parse_version(f"v{version}") == version
