"""The strategies draw only valid objects, and every kind survives the codec unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore import codec
from aimcore import resources as r
from aimcore.validation import check_document
from property_tests.strategies import (
    Catalog,
    FineTunedFamily,
    any_resources,
    catalogs,
    finetuned_families,
    resources_of_kind,
)


def _problems(obj: r.Resource) -> list[str]:
    return [f"{p.dotted}: {p.message}" for p in check_document(codec.dump(obj)).problems]


@given(any_resources())
def test_every_generated_object_is_valid(obj: r.Resource) -> None:
    """A property that fails on an invalid input says nothing about the rules."""
    assert _problems(obj) == []


@given(catalogs())
def test_every_catalog_object_is_valid(catalog: Catalog) -> None:
    """Catalogs are assembled by hand from parts; each part must stay valid once assembled."""
    assert {str(obj.metadata.name): _problems(obj) for obj in catalog.objects} == {
        str(obj.metadata.name): [] for obj in catalog.objects
    }


@given(finetuned_families())
def test_every_family_object_is_valid(family: FineTunedFamily) -> None:
    """Families carry operator-made templates (owned, labelled); those must be valid too."""
    assert [_problems(obj) for obj in family.objects()] == [[] for _ in family.objects()]


@pytest.mark.parametrize("kind", sorted(r.KINDS))
@given(data=st.data())
def test_codec_round_trip_for_every_kind(kind: str, data: st.DataObject) -> None:
    """dump(load(x)) == x for every kind (and load(dump(o)) == o): the codec loses nothing."""
    obj = data.draw(resources_of_kind(kind))
    document: dict[str, Any] = codec.dump(obj)
    assert document["kind"] == kind
    loaded = codec.load(r.KINDS[kind], document)
    assert codec.dump(loaded) == document
    assert loaded == obj
