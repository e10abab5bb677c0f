"""Version policy laws (D21): `latest` and `pinned` keep subsets of what `any` keeps, `all` is `any`,
and copies stay valid and uniquely named (reference-finetuned §4, §6.3)."""

from __future__ import annotations

import attrs
import semver
from hypothesis import given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.finetune import plan_copies
from aimcore.images import extract_tag, filter_versions, parse_version
from aimcore.naming import is_valid_label
from aimcore.snapshot import Snapshot
from property_tests.strategies import FineTunedFamily, finetuned_families, tags, versions

VERSION_LISTS = st.lists(versions() | tags() | st.just(""), max_size=8)


@given(VERSION_LISTS, tags())
def test_latest_and_pinned_keep_subsets_of_any(found: list[str], pinned_tag: str) -> None:
    """On bare versions: any keeps everything, all is any, latest and pinned keep subsets."""
    everything = filter_versions(found, r.VersionPolicy.ANY.value, pinned_tag)
    assert everything == list(range(len(found)))
    assert filter_versions(found, r.VersionPolicy.ALL.value, pinned_tag) == everything
    assert set(filter_versions(found, r.VersionPolicy.LATEST.value, pinned_tag)) <= set(everything)
    assert set(filter_versions(found, r.VersionPolicy.PINNED.value, pinned_tag)) <= set(everything)


@given(VERSION_LISTS, tags())
def test_latest_keeps_only_the_newest_version(found: list[str], pinned_tag: str) -> None:
    """Every version latest keeps is one spelling, and no version found is newer than it."""
    kept = filter_versions(found, r.VersionPolicy.LATEST.value, pinned_tag)
    assert len({found[i] for i in kept}) <= 1
    parsed = [v for v in (parse_version(x) for x in found if x) if v is not None]
    for index in kept:
        newest = parse_version(found[index])
        assert newest is not None and newest > semver.Version(0, 0, 0)
        assert all(v <= newest for v in parsed)


@given(VERSION_LISTS, tags())
def test_pinned_keeps_exactly_the_image_tag(found: list[str], pinned_tag: str) -> None:
    """Pinned is an exact match on the image tag: no more, no fewer."""
    kept = filter_versions(found, r.VersionPolicy.PINNED.value, pinned_tag)
    assert kept == [i for i, v in enumerate(found) if v == pinned_tag]


def _copy_names(family: FineTunedFamily, policy: r.VersionPolicy, image: str | None) -> set[str]:
    """Names of the copies the family's first fine-tuned model wants under `policy`."""
    model = family.finetuned[0]
    spec = attrs.evolve(model.spec, image=image, custom=r.CustomModelSpec(version_policy=policy))
    model = attrs.evolve(model, spec=spec)
    others = [o for o in family.objects() if o is not family.finetuned[0]]
    plan = plan_copies(model, Snapshot.build([model, *others]))
    return {o.metadata.name or "" for o in plan.desired}


@given(finetuned_families(policies=(r.VersionPolicy.ANY,)))
def test_copies_under_latest_and_pinned_are_copies_under_any(family: FineTunedFamily) -> None:
    """Through plan_copies: switching a model from any to latest or pinned only removes copies."""
    image = family.finetuned[0].spec.image or family.owners[0].spec.image or ""
    pinned_image = "registry.example.com/aim/aim-base:" + extract_tag(image)
    under_any = _copy_names(family, r.VersionPolicy.ANY, None)
    assert _copy_names(family, r.VersionPolicy.ALL, None) == under_any
    assert _copy_names(family, r.VersionPolicy.LATEST, None) <= under_any
    assert _copy_names(family, r.VersionPolicy.PINNED, pinned_image) <= under_any


@given(finetuned_families())
def test_copies_are_uniquely_and_validly_named(family: FineTunedFamily) -> None:
    """Each fine-tuned model's copies have valid names, and no two sources of a family (they
    differ in owner, version, precision or GPU) are ever folded into one copy name."""
    snapshot = Snapshot.build(family.objects())
    for model in family.finetuned:
        plan = plan_copies(model, snapshot)
        names = [o.metadata.name or "" for o in plan.desired]
        assert [n for n in names if not is_valid_label(n)] == []
        assert len(names) == len(set(names))
        assert [x.message for x in plan.reasons if "gives the same copy name" in x.message] == []
