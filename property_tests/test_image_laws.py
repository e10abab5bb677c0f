"""Image laws: normalisation, registry rebasing and base-tag normalisation (reference-finetuned §8)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimcore.images import (
    normalize_base_image_tag,
    normalize_image,
    rebase_registry,
    resolve_deployment_image,
    split_image,
)
from property_tests.strategies import image_references, registries, repository_paths, tags, versions

UNTAGGED = image_references(tag=st.none(), digest=st.none())


def _last_segment(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


@given(image_references())
def test_normalisation_is_idempotent_and_keeps_identity(image: str) -> None:
    """Normalising twice is normalising once, and the parts (tag, digest) survive it."""
    once = normalize_image(image)
    assert normalize_image(once) == once
    assert split_image(once) == split_image(image)


@given(image_references(), image_references(digest=st.none()))
def test_rebasing_is_idempotent(source: str, base: str) -> None:
    """Rebasing an already rebased base onto the same source changes nothing."""
    rebased = rebase_registry(source, base)
    assert rebase_registry(source, rebased) == rebased


@given(image_references(), image_references(digest=st.none()))
def test_rebasing_keeps_the_base_name_and_tag_under_the_source_registry(source: str, base: str) -> None:
    """The result is the base's repository name and tag, under the source's registry and org."""
    rebased = rebase_registry(source, base)
    assert _last_segment(rebased) == _last_segment(base)
    if "/" in source:
        assert rebased == source[: source.rfind("/")] + "/" + _last_segment(base)
    else:
        assert rebased == base


@given(image_references())
def test_base_tag_normalisation_is_idempotent(ref: str) -> None:
    """MAJOR.MINOR is already MAJOR.MINOR."""
    once = normalize_base_image_tag(ref)
    assert normalize_base_image_tag(once) == once


@given(
    registries(), repository_paths(), st.integers(0, 99), st.integers(0, 99), st.none() | st.integers(0, 99)
)
def test_base_tag_normalisation_reduces_semver_to_major_minor(
    host: str | None, path: str, major: int, minor: int, patch: int | None
) -> None:
    """`repo:M.m[.p]` becomes `repo:M.m`; the repository (registry port included) is kept."""
    repo = f"{host}/{path}" if host else path
    tag = f"{major}.{minor}" + (f".{patch}" if patch is not None else "")
    assert normalize_base_image_tag(f"{repo}:{tag}") == f"{repo}:{major}.{minor}"
    assert normalize_base_image_tag(f"{repo}:v{tag}") == f"{repo}:{major}.{minor}"


@given(registries(), repository_paths(), st.none() | tags())
def test_base_tag_normalisation_only_touches_the_tag(host: str | None, path: str, tag: str | None) -> None:
    """Whatever the tag, the repository before it is unchanged, and the tag is kept or cut to its
    MAJOR.MINOR prefix; untagged references (a registry port is not a tag) are untouched."""
    repo = f"{host}/{path}" if host else path
    ref = f"{repo}:{tag}" if tag else repo
    normalized = normalize_base_image_tag(ref)
    if tag is None:
        assert normalized == ref
    else:
        assert normalized.startswith(repo + ":")
        new_tag = normalized[len(repo) + 1 :]
        bare = tag.removeprefix("v")
        cut = bare.startswith(new_tag) and bare[len(new_tag) : len(new_tag) + 1] in ("", ".", "-", "+")
        assert new_tag == tag or (cut and new_tag.count(".") == 1)


@given(image_references(digest=st.none()), versions(), UNTAGGED)
def test_deployment_image_is_the_rebased_normalised_base(
    owner_image: str, version: str, base_repo: str
) -> None:
    """§7: with a baseImageRef, a non-pinned copy deploys base:M.m under the owner's registry and org."""
    base_ref = f"{base_repo}:{version}"
    resolved = resolve_deployment_image("any", "", owner_image, base_ref)
    assert not isinstance(resolved, str)
    expected = rebase_registry(owner_image, normalize_base_image_tag(base_ref))
    assert getattr(resolved, "image", None) == expected
    assert _last_segment(expected).startswith(_last_segment(base_repo) + ":")
