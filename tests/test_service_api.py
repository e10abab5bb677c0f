"""The reference's AIMService and runtime-config fields: accepted, refused with a clear problem, in the CRDs.

reference-api.md §2.3-2.4 lists them: replicas bounds and autoscaling (`minReplicas`, `maxReplicas`,
`autoScaling.metrics[]`), `caching` (D30), `routing` (service and runtime configs), `overrides.hardware`,
and the status the reference writes (`status.runtime`, `status.cache`, `status.routing`). Valid
manifests load and dump back unchanged; bad ones are refused by `aimcore validate` and, for the
structural cases, by the generated CRDs (offline, and on the real API server under the `cluster`
marker), naming the same field.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from aimcore import codec, crds
from aimcore import resources as r
from aimcore.validation import check_document
from tests.test_crds import validate_manifest

SERVICE_META = {"name": "qwen-chat", "namespace": "ml-team"}
GATEWAY = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "inference-gateway",
    "namespace": "gateways",
    "sectionName": "https",
    "port": 443,
}


def service(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """An AIMService naming its model, with `spec` added (and `status`, when given)."""
    doc: dict[str, Any] = {
        "apiVersion": r.V1ALPHA1,
        "kind": "AIMService",
        "metadata": dict(SERVICE_META),
        "spec": {"model": {"name": "qwen-qwen3-32b"}, **(spec or {})},
    }
    if status is not None:
        doc["status"] = status
    return doc


def runtime_config(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": "default"} if kind == "AIMClusterRuntimeConfig" else {"name": "default",
                                                                           "namespace": "ml-team"}
    return {"apiVersion": r.V1ALPHA1, "kind": kind, "metadata": metadata, "spec": spec}


def pod_metric(metric: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {"type": "PodMetric", "podmetric": {"metric": metric, "target": target}}


EVERY_FIELD: dict[str, Any] = {
    "template": {"allowUnoptimized": True},
    "overrides": {
        "metric": "latency",
        "precision": "fp16",
        "hardware": {
            "gpu": {"requests": 2, "model": "MI300X", "resourceName": "amd.com/gpu"},
            "cpu": {"requests": "8", "limits": 16},
        },
    },
    "replicas": 2,
    "minReplicas": 1,
    "maxReplicas": 4,
    "autoScaling": {
        "metrics": [
            pod_metric(
                {
                    "backend": "opentelemetry",
                    "serverAddress": "keda-otel-scaler.keda.svc:4317",
                    "metricNames": ["vllm:num_requests_running"],
                    "query": "vllm:num_requests_running",
                    "operationOverTime": "avg",
                },
                {"type": "AverageValue", "averageValue": "8"},
            ),
            pod_metric({"metricNames": ["vllm:gpu_cache_usage_perc"]},
                       {"type": "Utilization", "averageUtilization": 80}),
            pod_metric({"query": "vllm:num_requests_waiting"}, {"type": "Value", "value": "100m"}),
        ]
    },
    "caching": {"mode": "Dedicated"},
    "routing": {
        "enabled": True,
        "gatewayRef": GATEWAY,
        "pathTemplate": "/{.metadata.namespace}/{.metadata.name}",
        "requestTimeout": "3m0s",
        "annotations": {"example.com/rate-limit": "100"},
    },
    "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
    "imagePullSecrets": [{"name": "registry"}],
    "serviceAccountName": "inference",
    "runtimeConfigName": "default",
    "resources": {"limits": {"memory": "64Gi"}},
}

EVERY_STATUS: dict[str, Any] = {
    "status": "Pending",
    "runtime": {
        "minReplicas": 1,
        "maxReplicas": 4,
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "replicas": "2/3 (1-4)",
    },
    "cache": {
        "templateCacheRef": {
            "name": "qwen3-32b-mi300x-lat-fp8-a04542d9",
            "namespace": "ml-team",
            "scope": "Namespace",
            "kind": "AIMTemplateCache",
            "uid": "0b9c1f3e-1111-2222-3333-444455556666",
        },
        "retryAttempts": 0,
    },
    "routing": {"path": "/ml-team/qwen-chat"},
}

#: id -> a manifest that is valid and uses new fields.
VALID: dict[str, dict[str, Any]] = {
    "every new field, spec and status": service(EVERY_FIELD, EVERY_STATUS),
    **{f"caching mode {mode}": service({"caching": {"mode": mode}})
       for mode in ("Shared", "Dedicated", "Auto", "Always", "Never")},
    "caching without a mode (the server defaults it to Shared)": service({"caching": {}}),
    "fixed replicas only": service({"replicas": 3}),
    "minReplicas alone": service({"minReplicas": 2}),
    "minReplicas equal to maxReplicas": service({"minReplicas": 3, "maxReplicas": 3}),
    "autoScaling without metrics": service({"autoScaling": {}}),
    "autoScaling with an empty metrics list": service({"autoScaling": {"metrics": []}}),
    "a metric without podmetric": service({"autoScaling": {"metrics": [{"type": "PodMetric"}]}}),
    "routing with only a gateway name": service({"routing": {"gatewayRef": {"name": "gw"}}}),
    "routing off": service({"routing": {"enabled": False}}),
    "gateway group empty (the core group)": service(
        {"routing": {"gatewayRef": {"group": "", "kind": "Gateway", "name": "gw"}}}),
    **{f"request timeout {timeout}": service({"routing": {"requestTimeout": timeout}})
       for timeout in ("30s", "1h30m", "1.5h", "500ms", "0", "250us", "2h45m30.5s")},
    "overrides.hardware cpu only": service({"overrides": {"hardware": {"cpu": {"requests": "500m"}}}}),
    "overrides.hardware by minVram": service(
        {"overrides": {"hardware": {"gpu": {"requests": 1, "minVram": "192Gi"}}}}),
    "overrides.hardware with a list of GPU models": service(
        {"overrides": {"hardware": {"gpu": {"requests": 1, "models": ["MI300X", "MI325X"]}}}}),
    "status.routing empty, as the reference writes it": service(status={"routing": {}}),
    "status.runtime of a fixed service": service(status={"runtime": {
        "minReplicas": 1, "maxReplicas": 1, "currentReplicas": 1, "desiredReplicas": 1, "replicas": "1"}}),
    "status.cache with retries only": service(status={"cache": {"retryAttempts": 2}}),
    "runtime config routing": runtime_config("AIMRuntimeConfig", {"routing": EVERY_FIELD["routing"]}),
    "cluster runtime config routing": runtime_config(
        "AIMClusterRuntimeConfig",
        {"routing": {"enabled": True, "gatewayRef": {"name": "gw", "namespace": "kgateway-system"},
                     "pathTemplate": "/{.metadata.namespace}/{.metadata.uid}", "requestTimeout": "180s"},
         "env": [{"name": "AIM_ENGINE_ARGS", "value": "{}"}]},
    ),
}


@pytest.mark.parametrize("case", list(VALID))
def test_valid_manifests_load_and_dump_back_unchanged(case: str) -> None:
    doc = VALID[case]
    checked = check_document(copy.deepcopy(doc))
    assert checked.problems == ()
    assert checked.obj is not None
    assert codec.dump(checked.obj) == doc


@pytest.mark.parametrize("case", list(VALID))
def test_valid_manifests_pass_the_generated_crds(case: str) -> None:
    assert validate_manifest(VALID[case]) == []


def test_the_new_fields_load_as_typed_values() -> None:
    obj = codec.load(r.AIMService, service(EVERY_FIELD, EVERY_STATUS))
    spec, status = obj.spec, obj.status
    assert (spec.replicas, spec.min_replicas, spec.max_replicas) == (2, 1, 4)
    assert spec.caching == r.ServiceCaching(mode=r.CachingMode.DEDICATED)
    assert spec.overrides is not None and spec.overrides.hardware == r.Hardware(
        gpu=r.GpuRequirements(requests=2, model="MI300X", resource_name="amd.com/gpu"),
        cpu=r.CpuRequirements(requests="8", limits=16),
    )
    assert spec.auto_scaling is not None and spec.auto_scaling.metrics is not None
    first = spec.auto_scaling.metrics[0]
    assert first == r.AutoScalingMetric(
        type=r.MetricSourceType.POD_METRIC,
        pod_metric=r.PodMetricSource(
            metric=r.PodMetric(
                backend=r.MetricBackend.OPENTELEMETRY,
                server_address="keda-otel-scaler.keda.svc:4317",
                metric_names=("vllm:num_requests_running",),
                query="vllm:num_requests_running",
                operation_over_time="avg",
            ),
            target=r.MetricTarget(type=r.MetricTargetType.AVERAGE_VALUE, average_value="8"),
        ),
    )
    assert spec.routing == r.RoutingConfig(
        enabled=True,
        gateway_ref=r.GatewayReference(
            group="gateway.networking.k8s.io", kind="Gateway", name="inference-gateway",
            namespace="gateways", section_name="https", port=443,
        ),
        path_template="/{.metadata.namespace}/{.metadata.name}",
        request_timeout="3m0s",
        annotations={"example.com/rate-limit": "100"},
    )
    assert status is not None
    assert status.runtime == r.ServiceRuntimeStatus(
        min_replicas=1, max_replicas=4, current_replicas=2, desired_replicas=3, replicas="2/3 (1-4)"
    )
    assert status.cache == r.ServiceCacheStatus(
        template_cache_ref=r.TemplateCacheReference(
            name="qwen3-32b-mi300x-lat-fp8-a04542d9", namespace="ml-team", scope=r.Scope.NAMESPACE,
            kind="AIMTemplateCache", uid="0b9c1f3e-1111-2222-3333-444455556666",
        ),
        retry_attempts=0,
    )
    assert status.routing == r.ServiceRoutingStatus(path="/ml-team/qwen-chat")
    config = codec.load(r.AIMClusterRuntimeConfig, VALID["cluster runtime config routing"])
    assert config.spec is not None and config.spec.routing is not None
    assert config.spec.routing.gateway_ref == r.GatewayReference(name="gw", namespace="kgateway-system")


# --- bad values -------------------------------------------------------------------------

TIMEOUT_HINT = "expected a duration such as 30s, 1m30s or 2h"
NAMESPACE_HINT = "expected a namespace name (an RFC 1123 label: lowercase letters, digits and '-')"


def routed(gateway: dict[str, Any]) -> dict[str, Any]:
    return service({"routing": {"gatewayRef": gateway}})


def scaled(metric: dict[str, Any]) -> dict[str, Any]:
    return service({"autoScaling": {"metrics": [metric]}})


OTEL = {"metricNames": ["vllm:num_requests_running"]}
AVERAGE = {"type": "AverageValue", "averageValue": "8"}

#: id -> (manifest, [(path, message)], whether the schema refuses it). The last is False for
#: the rules that span fields, which the API server checks by the CRDs' CEL rules (`celrules`).
INVALID: dict[str, tuple[dict[str, Any], list[tuple[str, str]], bool]] = {
    "minReplicas zero": (
        service({"minReplicas": 0}), [("spec.minReplicas", "must be at least 1, not 0")], True),
    "maxReplicas zero": (
        service({"maxReplicas": 0}), [("spec.maxReplicas", "must be at least 1, not 0")], True),
    "maxReplicas a string": (
        service({"maxReplicas": "3"}), [("spec.maxReplicas", "must be an integer, not a string '3'")], True),
    "maxReplicas below minReplicas": (
        service({"minReplicas": 4, "maxReplicas": 2}),
        [("spec.maxReplicas",
          "must be at least spec.minReplicas: the autoscaler scales between the two")],
        False,
    ),
    "caching mode not in the enum": (
        service({"caching": {"mode": "Sometimes"}}),
        [("spec.caching.mode",
          "'Sometimes' is not valid: must be one of Dedicated, Shared, Auto, Always, Never")],
        True,
    ),
    "caching given the template's shape": (
        service({"caching": {"enabled": True}}),
        [("spec.caching.enabled", "unknown field 'enabled'; valid fields here: mode")],
        True,
    ),
    "caching a string": (
        service({"caching": "Shared"}), [("spec.caching", "must be a mapping, not a string")], True),
    "metric type not PodMetric": (
        scaled({"type": "Resource"}),
        [("spec.autoScaling.metrics[0].type", "'Resource' is not valid: must be one of PodMetric")],
        True,
    ),
    "metric without a type": (
        scaled({"podmetric": {"metric": OTEL, "target": AVERAGE}}),
        [("spec.autoScaling.metrics[0].type", "required field is missing")],
        True,
    ),
    "podmetric spelled in camelCase": (
        scaled({"type": "PodMetric", "podMetric": {"metric": OTEL, "target": AVERAGE}}),
        [("spec.autoScaling.metrics[0].podMetric",
          "unknown field 'podMetric'; valid fields here: podmetric, type")],
        True,
    ),
    "podmetric without target and metric": (
        scaled({"type": "PodMetric", "podmetric": {}}),
        [("spec.autoScaling.metrics[0].podmetric.metric", "required field is missing"),
         ("spec.autoScaling.metrics[0].podmetric.target", "required field is missing")],
        True,
    ),
    "metric backend not opentelemetry": (
        scaled(pod_metric({"backend": "prometheus"}, AVERAGE)),
        [("spec.autoScaling.metrics[0].podmetric.metric.backend",
          "'prometheus' is not valid: must be one of opentelemetry")],
        True,
    ),
    "metricNames a string": (
        scaled(pod_metric({"metricNames": "vllm:num_requests_running"}, AVERAGE)),
        [("spec.autoScaling.metrics[0].podmetric.metric.metricNames", "must be a list, not a string")],
        True,
    ),
    "target without a type": (
        scaled(pod_metric(OTEL, {"averageValue": "8"})),
        [("spec.autoScaling.metrics[0].podmetric.target.type", "required field is missing")],
        True,
    ),
    "target type not in the enum": (
        scaled(pod_metric(OTEL, {"type": "Average", "averageValue": "8"})),
        [("spec.autoScaling.metrics[0].podmetric.target.type",
          "'Average' is not valid: must be one of Value, AverageValue, Utilization")],
        True,
    ),
    "averageUtilization a percentage string": (
        scaled(pod_metric(OTEL, {"type": "Utilization", "averageUtilization": "80%"})),
        [("spec.autoScaling.metrics[0].podmetric.target.averageUtilization",
          "must be an integer, not a string '80%'")],
        True,
    ),
    "autoScaling metrics not a list": (
        service({"autoScaling": {"metrics": {"type": "PodMetric"}}}),
        [("spec.autoScaling.metrics", "must be a list, not a mapping")],
        True,
    ),
    "gatewayRef without a name": (
        routed({"namespace": "gateways"}),
        [("spec.routing.gatewayRef.name", "required field is missing")],
        True,
    ),
    "gatewayRef name too long": (
        routed({"name": "g" * 254}),
        [("spec.routing.gatewayRef.name", "must have at most 253 characters, not 254")],
        True,
    ),
    "gatewayRef port zero": (
        routed({"name": "gw", "port": 0}),
        [("spec.routing.gatewayRef.port", "must be at least 1, not 0")],
        True,
    ),
    "gatewayRef port above 65535": (
        routed({"name": "gw", "port": 70000}),
        [("spec.routing.gatewayRef.port", "must be at most 65535, not 70000")],
        True,
    ),
    "gatewayRef namespace not a label": (
        routed({"name": "gw", "namespace": "Gateways"}),
        [("spec.routing.gatewayRef.namespace", f"'Gateways' is not valid: {NAMESPACE_HINT}")],
        True,
    ),
    "gatewayRef kind empty": (
        routed({"name": "gw", "kind": ""}),
        [("spec.routing.gatewayRef.kind", "must not be empty"),
         ("spec.routing.gatewayRef.kind",
          "'' is not valid: expected a kind such as Gateway: letters, digits and '-', "
          "starting with a letter")],
        True,
    ),
    "gatewayRef group not a DNS subdomain": (
        routed({"name": "gw", "group": "Gateway.Networking"}),
        [("spec.routing.gatewayRef.group",
          "'Gateway.Networking' is not valid: expected an API group: a DNS subdomain such as "
          "gateway.networking.k8s.io, or empty")],
        True,
    ),
    "gatewayRef sectionName with capitals": (
        routed({"name": "gw", "sectionName": "HTTPS"}),
        [("spec.routing.gatewayRef.sectionName",
          "'HTTPS' is not valid: expected a listener name (lowercase letters, digits, '-' and '.')")],
        True,
    ),
    "gatewayRef with an unknown field": (
        routed({"name": "gw", "hostname": "ai.example.com"}),
        [("spec.routing.gatewayRef.hostname",
          "unknown field 'hostname'; valid fields here: group, kind, name, namespace, port, sectionName")],
        True,
    ),
    "requestTimeout not a duration": (
        service({"routing": {"requestTimeout": "soon"}}),
        [("spec.routing.requestTimeout", f"'soon' is not valid: {TIMEOUT_HINT}")],
        True,
    ),
    "requestTimeout without a unit": (
        service({"routing": {"requestTimeout": "30"}}),
        [("spec.routing.requestTimeout", f"'30' is not valid: {TIMEOUT_HINT}")],
        True,
    ),
    "requestTimeout a number": (
        service({"routing": {"requestTimeout": 30}}),
        [("spec.routing.requestTimeout", "must be a string, not a number")],
        True,
    ),
    "routing enabled a string": (
        service({"routing": {"enabled": "yes"}}),
        [("spec.routing.enabled", "must be true or false, not a string 'yes'")],
        True,
    ),
    "routing annotation value a number": (
        service({"routing": {"annotations": {"example.com/rate-limit": 100}}}),
        [("spec.routing.annotations[example.com/rate-limit]", "must be a string, not a number")],
        True,
    ),
    "overrides.hardware empty": (
        service({"overrides": {"hardware": {}}}),
        [("spec.overrides.hardware", "hardware needs gpu or cpu (or both)")],
        False,
    ),
    "overrides.hardware with model and minVram": (
        service({"overrides": {"hardware": {"gpu": {"model": "MI300X", "minVram": "128Gi"}}}}),
        [("spec.overrides.hardware.gpu.minVram",
          "minVram plans capacity when any GPU may be used; it cannot be combined with a single gpu.model")],
        False,
    ),
    "overrides.hardware gpu requests negative": (
        service({"overrides": {"hardware": {"gpu": {"requests": -1}}}}),
        [("spec.overrides.hardware.gpu.requests", "must be at least 0, not -1")],
        True,
    ),
    "overrides.hardware cpu without requests": (
        service({"overrides": {"hardware": {"cpu": {"limits": "4"}}}}),
        [("spec.overrides.hardware.cpu.requests", "required field is missing")],
        True,
    ),
    "overrides.hardware gpu model too long": (
        service({"overrides": {"hardware": {"gpu": {"model": "M" * 65}}}}),
        [("spec.overrides.hardware.gpu.model", "must have at most 64 characters, not 65")],
        True,
    ),
    "status.runtime.replicas a number": (
        service(status={"runtime": {"replicas": 3}}),
        [("status.runtime.replicas", "must be a string, not a number")],
        True,
    ),
    "status.runtime.currentReplicas a string": (
        service(status={"runtime": {"currentReplicas": "2"}}),
        [("status.runtime.currentReplicas", "must be an integer, not a string '2'")],
        True,
    ),
    "status.cache reference scope not in the enum": (
        service(status={"cache": {"templateCacheRef": {"name": "c", "scope": "Shared"}}}),
        [("status.cache.templateCacheRef.scope",
          "'Shared' is not valid: must be one of Namespace, Cluster, Merged, Unknown")],
        True,
    ),
    "status.routing with a url": (
        service(status={"routing": {"url": "http://x"}}),
        [("status.routing.url", "unknown field 'url'; valid fields here: path")],
        True,
    ),
    "runtime config gateway port zero": (
        runtime_config("AIMRuntimeConfig", {"routing": {"gatewayRef": {"name": "gw", "port": 0}}}),
        [("spec.routing.gatewayRef.port", "must be at least 1, not 0")],
        True,
    ),
    "cluster runtime config timeout in words": (
        runtime_config("AIMClusterRuntimeConfig", {"routing": {"requestTimeout": "1 minute"}}),
        [("spec.routing.requestTimeout", f"'1 minute' is not valid: {TIMEOUT_HINT}")],
        True,
    ),
    "cluster runtime config routing a list": (
        runtime_config("AIMClusterRuntimeConfig", {"routing": [{"enabled": True}]}),
        [("spec.routing", "must be a mapping, not a list")],
        True,
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_bad_values_are_refused_at_their_path_saying_what_is_valid(case: str) -> None:
    doc, expected, _ = INVALID[case]
    checked = check_document(copy.deepcopy(doc))
    assert [(p.dotted, p.message) for p in checked.problems] == expected


def _crd_paths(problems: list[str]) -> list[str]:
    """The field each of the CRD validator's messages names (it words them as the API server does)."""
    paths = []
    for problem in problems:
        if problem.startswith('unknown field "'):
            paths.append(problem.split('"')[1])
        else:
            paths.append(problem.split(": ", 1)[0])
    return paths


def _api_path(dotted: str) -> str:
    """aimcore writes a map key that is no field name in brackets; the API server writes it dotted."""
    return dotted.replace("[example.com/rate-limit]", ".example.com/rate-limit")


@pytest.mark.parametrize("case", [c for c, (_, _, structural) in INVALID.items() if structural])
def test_the_generated_crds_refuse_the_same_fields(case: str) -> None:
    doc, expected, _ = INVALID[case]
    assert sorted(set(_crd_paths(validate_manifest(doc)))) == sorted({_api_path(p) for p, _ in expected})


@pytest.mark.parametrize("case", [c for c, (_, _, structural) in INVALID.items() if not structural])
def test_rules_that_span_fields_are_cel_rules_not_schema(case: str) -> None:
    """The schema alone accepts them (this file's validator knows no CEL); the API server runs the rules."""
    doc, _, _ = INVALID[case]
    assert validate_manifest(doc) == []


# --- the CRDs ---------------------------------------------------------------------------

BY_KIND = {doc["spec"]["names"]["kind"]: doc for doc in crds.crds()}


def _node(kind: str, path: str) -> dict[str, Any]:
    node: dict[str, Any] = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


GATEWAY_SCHEMA = {
    "description": "The Gateway that receives a service's HTTPRoute (a Gateway API ParentReference).",
    "type": "object",
    "properties": {
        "group": {
            "description": (
                "Format: an API group: a DNS subdomain such as gateway.networking.k8s.io, or empty."
            ),
            "type": "string",
            "pattern": r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            "maxLength": 253,
            "default": "gateway.networking.k8s.io",
        },
        "kind": {
            "description": "Format: a kind such as Gateway: letters, digits and '-', starting with a letter.",
            "type": "string",
            "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
            "minLength": 1,
            "maxLength": 63,
            "default": "Gateway",
        },
        "name": {"type": "string", "minLength": 1, "maxLength": 253},
        "namespace": {
            "description": "Format: a namespace name (an RFC 1123 label: lowercase letters, digits and '-').",
            "type": "string",
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "minLength": 1,
            "maxLength": 63,
        },
        "sectionName": {
            "description": "Format: a listener name (lowercase letters, digits, '-' and '.').",
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            "minLength": 1,
            "maxLength": 253,
        },
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    },
    "required": ["name"],
}


def test_replicas_bounds_and_caching_in_the_crd() -> None:
    assert _node("AIMService", "spec.replicas") == {"type": "integer", "minimum": 0, "default": 1}
    assert _node("AIMService", "spec.minReplicas") == {"type": "integer", "minimum": 1}
    assert _node("AIMService", "spec.maxReplicas") == {"type": "integer", "minimum": 1}
    assert _node("AIMService", "spec.caching") == {
        "description": (
            "How the service's model weights are cached: Shared (the default) or Dedicated to this service."
        ),
        "type": "object",
        "properties": {
            "mode": {
                "type": "string",
                "enum": ["Dedicated", "Shared", "Auto", "Always", "Never"],
                "default": "Shared",
            }
        },
        "x-kubernetes-validations": [{
            "rule": "self == oldSelf",
            "message": "cannot change once the service exists; create another service to cache differently",
        }],
    }


def test_autoscaling_in_the_crd() -> None:
    metric = _node("AIMService", "spec.autoScaling.metrics.[]")
    assert metric["required"] == ["type"]
    assert metric["properties"]["type"] == {"type": "string", "enum": ["PodMetric"]}
    source = metric["properties"]["podmetric"]
    assert source["required"] == ["metric", "target"]
    assert source["properties"]["metric"]["properties"] == {
        "backend": {"type": "string", "enum": ["opentelemetry"], "default": "opentelemetry"},
        "serverAddress": {"type": "string"},
        "metricNames": {"type": "array", "items": {"type": "string"}},
        "query": {"type": "string"},
        "operationOverTime": {"type": "string"},
    }
    assert "required" not in source["properties"]["metric"]
    target = source["properties"]["target"]
    assert target["required"] == ["type"]
    assert target["properties"] == {
        "type": {"type": "string", "enum": ["Value", "AverageValue", "Utilization"]},
        "value": {"type": "string"},
        "averageValue": {"type": "string"},
        "averageUtilization": {"type": "integer"},
    }
    assert set(_node("AIMService", "spec.autoScaling")["properties"]) == {"metrics"}


@pytest.mark.parametrize("kind", ["AIMService", "AIMRuntimeConfig", "AIMClusterRuntimeConfig"])
def test_routing_in_the_crd(kind: str) -> None:
    routing = _node(kind, "spec.routing")
    assert routing["type"] == "object"
    assert "required" not in routing
    assert routing["properties"]["gatewayRef"] == GATEWAY_SCHEMA
    assert {k: v for k, v in routing["properties"].items() if k not in ("gatewayRef", "pathTemplate")} == {
        "enabled": {"type": "boolean"},
        "requestTimeout": {
            "description": "Format: a duration such as 30s, 1m30s or 2h.",
            "type": "string",
            "pattern": r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$",
        },
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    assert routing["properties"]["pathTemplate"]["type"] == "string"
    assert routing == _node("AIMService", "spec.routing")


def test_overrides_hardware_is_the_shared_hardware_schema() -> None:
    hardware = _node("AIMService", "spec.overrides.hardware")
    (*shared, unchanged) = hardware["x-kubernetes-validations"]
    assert unchanged == {
        "rule": "self == oldSelf",
        "message": "cannot change once the service exists; create another service with other overrides",
    }
    custom = _node("AIMService", "spec.model.custom.hardware")
    assert {**hardware, "x-kubernetes-validations": shared} == custom
    template = _node("AIMServiceTemplate", "spec.hardware")
    assert template["x-kubernetes-validations"][:-1] == shared
    assert set(_node("AIMService", "spec.overrides")["properties"]) == {
        "metric", "precision", "hardware", "gpuSelector"
    }


def test_service_status_in_the_crd() -> None:
    status = _node("AIMService", "status")["properties"]
    assert status["runtime"]["properties"] == {
        "minReplicas": {"type": "integer"},
        "maxReplicas": {"type": "integer"},
        "currentReplicas": {"type": "integer"},
        "desiredReplicas": {"type": "integer"},
        "replicas": {"type": "string"},
    }
    assert status["cache"]["properties"]["retryAttempts"] == {"type": "integer"}
    reference = status["cache"]["properties"]["templateCacheRef"]
    assert "required" not in reference
    assert reference["properties"] == {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "scope": {"type": "string", "enum": ["Namespace", "Cluster", "Merged", "Unknown"]},
        "kind": {"type": "string"},
        "uid": {"type": "string"},
    }
    assert status["routing"] == {"type": "object", "properties": {"path": {"type": "string"}}}


def test_the_crd_bounds_are_the_facts_validation_reads() -> None:
    port = attrs.fields_dict(r.GatewayReference)["port"]
    assert _node("AIMService", "spec.routing.gatewayRef.port") == crds.field_schema(port)
    assert crds.field_schema(port) == {"type": "integer", "minimum": 1, "maximum": 65535}


# --- the real API server ----------------------------------------------------------------


def _kube_info(doc: dict[str, Any]) -> Any:
    from aimcore.adapters.kube.api import AIM_KINDS

    return AIM_KINDS[doc["kind"]]


def _in(namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    if "namespace" in doc["metadata"]:
        doc["metadata"]["namespace"] = namespace
    return doc


@pytest.mark.cluster
def test_the_api_server_accepts_every_valid_manifest_and_keeps_it(kube: Any, namespace: str) -> None:
    from tests.cluster.support import comparable, with_defaults

    api = kube.api()
    for case, original in VALID.items():
        doc = _in(namespace, original)
        doc["metadata"]["name"] = f"valid-{list(VALID).index(case)}"
        info = _kube_info(doc)
        created = api.create(info, {k: v for k, v in doc.items() if k != "status"}, field_validation="Strict")
        if "status" in doc:
            meta = {k: doc["metadata"][k] for k in ("name", "namespace") if k in doc["metadata"]}
            api.apply(info, {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": meta,
                             "status": doc["status"]}, status=True)
        read = api.get(info, doc["metadata"].get("namespace"), doc["metadata"]["name"])
        assert created["metadata"]["uid"] == read["metadata"]["uid"]
        assert comparable(read) == comparable(with_defaults(doc)), case
        if not info.namespaced:
            api.delete(info, None, doc["metadata"]["name"], read["metadata"]["uid"])


@pytest.mark.cluster
def test_the_api_server_refuses_the_same_fields(kube: Any, namespace: str) -> None:
    from aimcore.adapters.kube.api import ApiError

    api = kube.api()
    for case, (original, expected, structural) in INVALID.items():
        if not structural:
            continue
        doc = _in(namespace, original)
        info = _kube_info(doc)
        with pytest.raises(ApiError) as refused:
            if "status" in doc:
                # Status is written through its subresource: create the object, then replace its
                # status (server-side apply answers a type mismatch with a 500).
                name = doc["metadata"]["name"] = f"bad-status-{list(INVALID).index(case)}"
                created = api.create(info, {k: v for k, v in doc.items() if k != "status"})
                api._call("PUT", info.path(namespace, name, "status"), query=[("fieldValidation", "Strict")],
                          body={**created, "status": doc["status"]})
            else:
                api.create(info, doc, dry_run=True, field_validation="Strict")
        assert refused.value.status in (400, 422), (case, str(refused.value))
        for path, _ in expected:
            assert _api_path(path) in refused.value.message, (case, str(refused.value))


@pytest.mark.cluster
def test_the_api_server_checks_the_rules_that_span_fields(kube: Any, namespace: str) -> None:
    from aimcore.adapters.kube.api import ApiError

    api = kube.api()
    for case, (original, expected, structural) in INVALID.items():
        if structural:
            continue
        doc = _in(namespace, original)
        with pytest.raises(ApiError) as refused:
            api.create(_kube_info(doc), doc, dry_run=True, field_validation="Strict")
        assert refused.value.status == 422, (case, str(refused.value))
        for path, message in expected:
            assert f"{path}: Invalid value: " in refused.value.message, (case, str(refused.value))
            assert message in refused.value.message, (case, str(refused.value))
