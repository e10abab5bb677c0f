"""Service laws: models auto-created from an image (D2) are shared by every spelling of the
image and never shadow a model that exists."""

from __future__ import annotations

from collections import Counter

from hypothesis import given

from aimcore import resources as r
from aimcore.adapters.memory.simulate import run
from aimcore.httproute import route_name
from aimcore.images import normalize_image
from aimcore.inferenceservice import inference_service_name
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


@heavy()
@given(catalogs())
def test_every_workload_belongs_to_its_service_and_shows_what_the_service_resolved(catalog: Catalog) -> None:
    """D29: once converged, each InferenceService and HTTPRoute is owned by one service of the
    cluster and carries that service's name for it; the InferenceService runs the image the
    service resolved, with no env name twice; a Running service's InferenceService is Ready."""
    cluster = new_cluster(catalog)
    outcome = run(cluster, catalog.inspector(), max_rounds=CONVERGENCE_BOUND)
    assert outcome.converged
    services = {o.metadata.uid: o for o in cluster.objects.values() if isinstance(o, r.AIMService)}
    for key, doc in sorted(cluster.workloads.items()):
        [owner] = [services[ref["uid"]] for ref in doc["metadata"]["ownerReferences"]]
        namespace, name = owner.metadata.namespace or "", owner.metadata.name or ""
        assert key.namespace == namespace
        if key.kind == "HTTPRoute":
            assert key.name == route_name(name, namespace)
            continue
        assert key.name == inference_service_name(name, namespace)
        [container] = doc["spec"]["predictor"]["containers"]
        assert owner.status is not None and container["image"] == owner.status.resolved_image
        names = [entry["name"] for entry in container["env"]]
        assert len(names) == len(set(names))
    for service in services.values():
        if service.status is not None and service.status.status is r.ServiceStatus.RUNNING:
            namespace = service.metadata.namespace or ""
            name = inference_service_name(service.metadata.name or "", namespace)
            key = ObjectKey("InferenceService", namespace, name)
            ready = cluster.workloads[key]["status"]["conditions"]
            assert {"type": "Ready", "status": "True"}.items() <= ready[0].items()
