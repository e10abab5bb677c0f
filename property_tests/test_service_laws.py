"""Service laws: models auto-created from an image (D2) are shared by every spelling of the
image and never shadow a model that exists."""

from __future__ import annotations

from collections import Counter

from hypothesis import given

from adapters.simulate import run
from aimcore import resources as r
from aimcore.images import normalize_image
from aimcore.ownership import LABEL_CUSTOM_MODEL, LABEL_ORIGIN, ORIGIN_AUTO
from aimcore.snapshot import ObjectKey
from property_tests.strategies import Catalog, catalogs
from property_tests.support import heavy, new_cluster
from property_tests.test_reconcile_laws import CONVERGENCE_BOUND


@heavy()
@given(catalogs())
def test_one_auto_model_per_image_and_none_beside_an_existing_one(catalog: Catalog) -> None:
    """D2: per namespace, at most one model is created per normalised image, whatever its spelling,
    and none when the namespace or the cluster already had a model with that image."""
    cluster = new_cluster(catalog)
    inputs = {ObjectKey.of(o) for o in catalog.objects}
    run(cluster, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    existing = {
        (obj.metadata.namespace or "", normalize_image(obj.spec.image))
        for obj in catalog.objects
        if isinstance(obj, r.AIMModel | r.AIMClusterModel) and obj.spec.image
    }
    created = [
        ((obj.metadata.namespace or "", normalize_image(obj.spec.image or "")), str(key))
        for key, obj in sorted(cluster.objects.items())
        if key not in inputs
        and isinstance(obj, r.AIMModel)
        and (obj.metadata.labels or {}).get(LABEL_ORIGIN) == ORIGIN_AUTO
        and LABEL_CUSTOM_MODEL not in (obj.metadata.labels or {})
    ]
    counts = Counter(scope for scope, _ in created)
    assert [scope for scope, n in counts.items() if n > 1] == []
    shadowing = [
        name
        for (namespace, image), name in created
        if (namespace, image) in existing or ("", image) in existing
    ]
    assert shadowing == []
