"""Label laws (D5): the labels the strategies write are read back as the deployments they encode."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.facts import ImageFacts
from aimcore.labels import BASE_IMAGE_ENV, has_aim_labels, parse_image_metadata
from property_tests.strategies import image_labels, image_references, model_ids, recommended_deployments


@given(model_ids(), st.lists(recommended_deployments(), max_size=5), st.data())
def test_deployments_labels_round_trip(
    name: str, deployments: list[r.RecommendedDeployment], data: st.DataObject
) -> None:
    """What an image declares (under either deployments label) is what discovery reads."""
    labels = data.draw(image_labels(canonical_name=name, deployments=deployments))
    base = data.draw(st.none() | image_references(digest=st.none()))
    env = (f"{BASE_IMAGE_ENV}={base}",) if base else ()
    metadata = parse_image_metadata(ImageFacts(labels=labels, env=env))
    assert metadata.model is not None
    assert metadata.model.canonical_name == name
    assert metadata.model.recommended_deployments == tuple(deployments)
    assert metadata.base_image_ref == base
    assert metadata.original_labels == labels
    assert has_aim_labels(metadata)
