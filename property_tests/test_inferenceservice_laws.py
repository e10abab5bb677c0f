"""InferenceService laws (D29-D31): the name is a DNS label KServe's predictor host can hold, the
image is the template's deployment-image-ref whenever it has one, env names are unique, defaults
never make a request exceed its limit, and the builder is deterministic."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore import codec, naming
from aimcore import inferenceservice as isvc
from aimcore import resources as r
from aimcore.ownership import ANNOTATION_DEPLOYMENT_IMAGE
from property_tests.strategies import (
    aim_services,
    cluster_service_templates,
    dns_labels,
    image_references,
    resource_requirements,
    runtime_configs,
    service_templates,
)

METRICS = {
    "metrics": [
        {
            "type": "PodMetric",
            "podmetric": {
                "metric": {"query": "sum(x)"},
                "target": {"type": "AverageValue", "averageValue": 5},
            },
        }
    ]
}


def _scaling(replicas: int | None, low: int | None, extra: int | None, autoscaling: Any) -> isvc.Scaling:
    """A service's replica fields; when both bounds are given the maximum is not below the minimum."""
    high = None if extra is None else (low or 1) + extra - 1
    return isvc.Scaling(replicas=replicas, min_replicas=low, max_replicas=high, autoscaling=autoscaling)


SCALINGS = st.builds(
    _scaling,
    st.none() | st.integers(0, 5),
    st.none() | st.integers(0, 5),
    st.none() | st.integers(1, 4),
    st.none() | st.just(METRICS),
)


def _model(kind: type[r.AIMModel] | type[r.AIMClusterModel], image: str | None) -> r.Model:
    namespace = "ml-team" if kind is r.AIMModel else None
    return kind(
        api_version=r.V1ALPHA1,
        kind=kind.KIND,
        metadata=r.ObjectMeta(name="model", namespace=namespace),
        spec=r.AIMModelSpec(image=image),
    )


#: Only a model's image reaches the InferenceService, so models are drawn light: the full
#: aim_models() strategy would triple the time of every law here for nothing.
MODELS = st.none() | st.builds(
    _model, st.sampled_from([r.AIMModel, r.AIMClusterModel]), st.none() | st.just("") | image_references()
)
RUNTIMES = st.none() | runtime_configs().map(lambda config: config.spec)
#: A label value Kubernetes accepts.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


@st.composite
def templates(draw: st.DrawFn) -> r.Template:
    """Any template with a status, sometimes carrying a deployment-image-ref (empty counts as absent)."""
    template: r.Template = draw(
        service_templates(with_status=True) | cluster_service_templates(with_status=True)
    )
    ref = draw(st.none() | st.just("") | image_references())
    if ref is None:
        return template
    annotations = {**(template.metadata.annotations or {}), ANNOTATION_DEPLOYMENT_IMAGE: ref}
    return attrs.evolve(template, metadata=attrs.evolve(template.metadata, annotations=annotations))


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "service": draw(aim_services()),
        "model": draw(MODELS),
        "template": draw(templates()),
        "runtime": draw(RUNTIMES),
        "scaling": draw(SCALINGS),
        "resources": draw(resource_requirements()),
    }


def _build(args: dict[str, Any]) -> dict[str, Any]:
    return isvc.inference_service(
        args["service"],
        args["model"],
        args["template"],
        args["runtime"],
        scaling=args["scaling"],
        resources=args["resources"],
    )


@given(st.text(max_size=80), dns_labels(63))
def test_name_is_a_label_the_predictor_host_can_hold(service: str, namespace: str) -> None:
    """Within 63 - len("-predictor-") - len(namespace) characters, or an error past 42."""
    if len(namespace) > isvc.MAX_NAMESPACE_LENGTH:
        with pytest.raises(isvc.InferenceServiceNameError):
            isvc.inference_service_name(service, namespace)
        return
    name = isvc.inference_service_name(service, namespace)
    assert naming.is_valid_label(name)
    assert len(name) <= 63 - len("-predictor-") - len(namespace)
    assert naming.is_valid_label(f"{name}-predictor-{namespace}")


@given(st.text(max_size=40), st.text(max_size=40), dns_labels(42))
def test_distinct_services_get_distinct_names(first: str, second: str, namespace: str) -> None:
    if first != second:
        assert isvc.inference_service_name(first, namespace) != isvc.inference_service_name(second, namespace)


@given(inputs())
def test_image_is_the_deployment_image_ref_when_present(args: dict[str, Any]) -> None:
    container = _build(args)["spec"]["predictor"]["containers"][0]
    ref = (args["template"].metadata.annotations or {}).get(ANNOTATION_DEPLOYMENT_IMAGE)
    model = args["model"]
    expected = ref or (model.spec.image if model is not None else None) or ""
    assert container["image"] == expected
    assert isvc.deployment_image(args["template"], model) == (expected or None)


@given(inputs())
def test_env_names_are_unique_and_sorted(args: dict[str, Any]) -> None:
    names = [entry["name"] for entry in _build(args)["spec"]["predictor"]["containers"][0]["env"]]
    assert names == sorted(set(names))
    assert {"AIM_CACHE_PATH", "VLLM_ENABLE_METRICS"} <= set(names)
    for entry in args["service"].spec.env or ():
        assert entry.name in names  # the service's env always reaches the container


def _amount(text: str) -> Fraction | None:
    return isvc._amount(text)


@given(inputs())
def test_defaults_never_put_a_request_above_its_limit(args: dict[str, Any]) -> None:
    """Where a cpu or memory request exceeds its limit, both were the user's (D31)."""
    resources = _build(args)["spec"]["predictor"]["containers"][0].get("resources", {})
    given_ = args["resources"] or r.ResourceRequirements()
    for key in ("cpu", "memory"):
        request = _amount(resources.get("requests", {}).get(key, ""))
        limit = _amount(resources.get("limits", {}).get(key, ""))
        if request is not None and limit is not None and request > limit:
            assert key in (given_.requests or {}) and key in (given_.limits or {})


@given(inputs())
def test_metadata_is_valid_and_owned(args: dict[str, Any]) -> None:
    built = _build(args)
    service = args["service"]
    metadata = built["metadata"]
    assert metadata["namespace"] == service.metadata.namespace
    assert all(LABEL_VALUE.fullmatch(value) and len(value) <= 63 for value in metadata["labels"].values())
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": service.api_version,
            "kind": "AIMService",
            "name": service.metadata.name,
            "uid": service.metadata.uid,
            "controller": True,
        }
    ]
    predictor = built["spec"]["predictor"]
    assert predictor["minReplicas"] <= predictor.get("maxReplicas", predictor["minReplicas"])


@given(inputs())
def test_builder_is_deterministic(args: dict[str, Any]) -> None:
    """Equal inputs give an equal manifest, also from copies read back through the codec."""
    copies = {
        key: codec.load(type(value), codec.dump(value))
        if attrs.has(type(value)) and key != "scaling"
        else value
        for key, value in args.items()
    }
    assert _build(args) == _build(args) == _build(copies)
