"""The InferenceService of an AIMService (reference-service §1.3-§2.7, §3, §5; DECISIONS D29-D32):
its name vectors, the manifest for every e2e scenario that inspects it, and its observed health."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from aimcore import inferenceservice as isvc
from aimcore import resources as r
from aimcore.inferenceservice import Scaling
from aimcore.ownership import ANNOTATION_DEPLOYMENT_IMAGE
from aimcore.status import Component

NS = "ml-team"
IMAGE = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
TEMPLATE = "qwen3-32b-mi300x-lat-fp16"
GPU1 = r.ResourceRequirements(requests={"amd.com/gpu": 1}, limits={"amd.com/gpu": 1})
READY, PROGRESSING, PENDING, FAILED = r.Status.READY, r.Status.PROGRESSING, r.Status.PENDING, r.Status.FAILED


def _service(name: str = "qwen-chat", **spec: Any) -> r.AIMService:
    labels = spec.pop("labels", None)
    annotations = spec.pop("annotations", None)
    return r.AIMService(
        api_version=r.V1ALPHA1,
        kind="AIMService",
        metadata=r.ObjectMeta(name=name, namespace=NS, uid="svc-uid", labels=labels, annotations=annotations),
        spec=r.AIMServiceSpec(model=r.ServiceModel(name="qwen3-32b"), **spec),
    )


def _model(image: str = IMAGE) -> r.AIMModel:
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name="qwen3-32b", namespace=NS),
        spec=r.AIMModelSpec(image=image),
    )


def _affinity(*ids: str) -> r.NodeAffinity:
    requirement = r.NodeSelectorRequirement(key="amd.com/gpu.device-id", operator="In", values=ids)
    term = r.NodeSelectorTerm(match_expressions=(requirement,))
    return r.NodeAffinity(
        required_during_scheduling_ignored_during_execution=r.NodeSelector(node_selector_terms=(term,))
    )


def _template(
    name: str = TEMPLATE,
    *,
    gpus: int = 1,
    annotations: dict[str, str] | None = None,
    affinity: r.NodeAffinity | None = None,
    **spec: Any,
) -> r.AIMServiceTemplate:
    spec.setdefault("metric", r.Metric.LATENCY)
    spec.setdefault("precision", r.Precision.FP16)
    hardware = r.Hardware(gpu=r.GpuRequirements(requests=gpus, model="MI300X")) if gpus else None
    return r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name=name, namespace=NS, annotations=annotations),
        spec=r.AIMServiceTemplateSpec(model_name="qwen3-32b", hardware=hardware, **spec),
        status=r.AIMServiceTemplateStatus(
            status=r.TemplateStatus.READY,
            resolved_hardware=hardware,
            profile=r.TemplateProfile(
                metadata=r.ProfileMetadata(gpu="MI300X", gpu_count=gpus, metric="latency", precision="fp16")
            ),
            resolved_node_affinity=affinity
            if affinity is not None
            else _affinity("74bd", "74a1", "74b5", "74a9"),
        ),
    )


def _env(**values: str) -> list[dict[str, Any]]:
    """Literal env entries in the order given (the expected lists are written sorted)."""
    return [{"name": name, "value": value} if value else {"name": name} for name, value in values.items()]


BASE_ENV = _env(
    AIM_CACHE_PATH="/workspace/cache", AIM_METRIC="latency", AIM_PRECISION="fp16", VLLM_ENABLE_METRICS="true"
)
BASE: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {
        "name": "qwen-chat-faa5534a",
        "namespace": NS,
        "labels": {
            "aim.eai.amd.com/metric": "latency",
            "aim.eai.amd.com/model": "qwen3-32b",
            "aim.eai.amd.com/precision": "fp16",
            "aim.eai.amd.com/service": "qwen-chat",
            "aim.eai.amd.com/service.name": "qwen-chat",
            "aim.eai.amd.com/template": TEMPLATE,
            "app.kubernetes.io/component": "inference",
            "app.kubernetes.io/managed-by": "aim-engine",
        },
        "annotations": {"serving.kserve.io/autoscalerClass": "none"},
        "ownerReferences": [
            {
                "apiVersion": "aim.eai.amd.com/v1alpha1",
                "kind": "AIMService",
                "name": "qwen-chat",
                "uid": "svc-uid",
                "controller": True,
            }
        ],
    },
    "spec": {
        "predictor": {
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": IMAGE,
                    "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
                    "env": BASE_ENV,
                    "resources": {
                        "limits": {"amd.com/gpu": "1", "memory": "48Gi"},
                        "requests": {"amd.com/gpu": "1", "cpu": "4", "memory": "32Gi"},
                    },
                    "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "amd.com/gpu.device-id",
                                        "operator": "In",
                                        "values": ["74a1", "74a9", "74b5", "74bd"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            },
            "minReplicas": 1,
            "maxReplicas": 1,
        }
    },
}

CONTAINER = "spec.predictor.containers.0"


def _patched(patches: dict[str, Any]) -> dict[str, Any]:
    """BASE with each dotted path set to its value (a number indexes a list; None deletes)."""
    doc = copy.deepcopy(BASE)
    for path, value in patches.items():
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return doc


@attrs.frozen(kw_only=True)
class Case:
    service: r.AIMService = attrs.field(factory=_service)
    model: r.AIMModel | None = attrs.field(factory=_model)
    template: r.AIMServiceTemplate = attrs.field(factory=_template)
    runtime: r.AIMRuntimeConfigSpec | None = None
    scaling: Scaling = attrs.field(factory=Scaling)
    resources: r.ResourceRequirements | None = GPU1
    image: str | None = None
    expected: dict[str, Any] = attrs.field(factory=dict)


CUSTOM_SOURCE = r.ModelSource(model_id="Qwen/Qwen2-0.5B", source_uri="hf://Qwen/Qwen2-0.5B")
METRICS = {
    "metrics": [
        {
            "type": "PodMetric",
            "podmetric": {
                "metric": {"backend": "opentelemetry", "metricNames": ["vllm:num_requests_running"]},
                "target": {"type": "Value", "value": "1"},
            },
        }
    ]
}
AUTOSCALE_ANNOTATIONS = {
    "prometheus.kserve.io/port": "8000",
    "serving.kserve.io/autoscalerClass": "keda",
    "sidecar.opentelemetry.io/inject": "qwen-chat-faa5534a-predictor",
}

SCENARIOS: dict[str, Case] = {
    # §5 common/basic-lifecycle: AIM_CACHE_PATH, AIM_METRIC, AIM_PRECISION from the template spec
    "basic-lifecycle": Case(expected=_patched({})),
    # §5 common/replicas and replicas-default: a fixed count, no autoscaler
    "replicas": Case(
        scaling=Scaling(replicas=3),
        expected=_patched({"spec.predictor.minReplicas": 3, "spec.predictor.maxReplicas": 3}),
    ),
    "replicas-default": Case(scaling=Scaling(replicas=None), expected=_patched({})),
    # a service scaled to zero: Go's omitempty leaves maxReplicas 0 out
    "replicas-zero": Case(
        scaling=Scaling(replicas=0),
        expected=_patched({"spec.predictor.minReplicas": 0, "spec.predictor.maxReplicas": None}),
    ),
    # §5 common/autoscaling: KEDA, Prometheus port 8000, min 1 max 3, autoScaling copied
    "autoscaling": Case(
        scaling=Scaling(min_replicas=1, max_replicas=3, autoscaling=METRICS),
        expected=_patched(
            {
                "metadata.annotations": AUTOSCALE_ANNOTATIONS,
                "spec.predictor.minReplicas": 1,
                "spec.predictor.maxReplicas": 3,
                "spec.predictor.autoScaling": {
                    "metrics": [
                        {
                            "type": "PodMetric",
                            "podmetric": {
                                "metric": {
                                    "backend": "opentelemetry",
                                    "metricNames": ["vllm:num_requests_running"],
                                },
                                "target": {"type": "Value", "value": "1"},
                            },
                        }
                    ]
                },
            }
        ),
    ),
    # §5 common/autoscaling-update: 1/3 -> 2/5 reaches the InferenceService
    "autoscaling-update": Case(
        scaling=Scaling(min_replicas=2, max_replicas=5),
        expected=_patched(
            {
                "metadata.annotations": AUTOSCALE_ANNOTATIONS,
                "spec.predictor.minReplicas": 2,
                "spec.predictor.maxReplicas": 5,
            }
        ),
    ),
    # §2.3 N: minReplicas alone gives max = min, at least 1
    "autoscaling-min-zero": Case(
        scaling=Scaling(min_replicas=0, replicas=4),
        expected=_patched(
            {
                "metadata.annotations": AUTOSCALE_ANNOTATIONS,
                "spec.predictor.minReplicas": 0,
                "spec.predictor.maxReplicas": 1,
            }
        ),
    ),
    # §5 common/label-propagation: team-* and cost-center copied, env not; aim.eai.amd.com/* always
    "label-propagation": Case(
        service=_service(
            labels={
                "team-alpha": "ml",
                "cost-center": "cc-42",
                "env": "prod",
                "aim.eai.amd.com/tier": "gold",
                "aim.eai.amd.com/service": "user-value",
            }
        ),
        runtime=r.AIMRuntimeConfigSpec(
            label_propagation=r.LabelPropagation(enabled=True, match=("team-*", "cost-center"))
        ),
        expected=_patched(
            {
                "metadata.labels": {
                    "aim.eai.amd.com/metric": "latency",
                    "aim.eai.amd.com/model": "qwen3-32b",
                    "aim.eai.amd.com/precision": "fp16",
                    "aim.eai.amd.com/service": "qwen-chat",
                    "aim.eai.amd.com/service.name": "qwen-chat",
                    "aim.eai.amd.com/template": TEMPLATE,
                    "aim.eai.amd.com/tier": "gold",
                    "app.kubernetes.io/component": "inference",
                    "app.kubernetes.io/managed-by": "aim-engine",
                    "cost-center": "cc-42",
                    "team-alpha": "ml",
                }
            }
        ),
    ),
    # §5 common/profile-id-propagation: overrides latency/fp16 with allowUnoptimized
    "profile-id-propagation": Case(
        template=_template(profile_id="mi300x-fp16-latency-unopt"),
        expected=_patched(
            {
                f"{CONTAINER}.env": _env(
                    AIM_CACHE_PATH="/workspace/cache",
                    AIM_METRIC="latency",
                    AIM_PRECISION="fp16",
                    AIM_PROFILE_ID="mi300x-fp16-latency-unopt",
                    VLLM_ENABLE_METRICS="true",
                )
            }
        ),
    ),
    # §5 gpu/profile-id-propagation, with the §2.6 worked example's layers and a secret from the service
    "gpu-profile-id-and-worked-example": Case(
        service=_service(
            env=(
                r.EnvVar(
                    name="HF_TOKEN",
                    value_from=r.EnvVarSource(secret_key_ref=r.KeySelector(name="hf-secret", key="token")),
                ),
            )
        ),
        runtime=r.AIMRuntimeConfigSpec(
            env=(r.EnvVar(name="AIM_ENGINE_ARGS", value='{"max-model-len":8192}'),)
        ),
        template=_template(
            profile_id="vllm-mi300x-fp16-tp1-latency",
            env=(r.EnvVar(name="AIM_ENGINE_ARGS", value='{"gpu-memory-utilization":0.9}'),),
        ),
        expected=_patched(
            {
                f"{CONTAINER}.env": [
                    {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
                    {
                        "name": "AIM_ENGINE_ARGS",
                        "value": '{"gpu-memory-utilization":0.9,"max-model-len":8192}',
                    },
                    {"name": "AIM_METRIC", "value": "latency"},
                    {"name": "AIM_PRECISION", "value": "fp16"},
                    {"name": "AIM_PROFILE_ID", "value": "vllm-mi300x-fp16-tp1-latency"},
                    {
                        "name": "HF_TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "hf-secret", "key": "token"}},
                    },
                    {"name": "VLLM_ENABLE_METRICS", "value": "true"},
                ]
            }
        ),
    ),
    # §5 gpu/custom-model: aim-base image, AIM_MODEL_ID from the template's sources, one GPU;
    # AIM_ID cleared (N), and the model-id annotation (N)
    "gpu-custom-model": Case(
        model=_model("amdenterpriseai/aim-base:0.9"),
        template=_template(model_sources=(CUSTOM_SOURCE,), metric=None, precision=None),
        expected=_patched(
            {
                "metadata.annotations": {
                    "aim.eai.amd.com/model-id": "Qwen/Qwen2-0.5B",
                    "serving.kserve.io/autoscalerClass": "none",
                },
                f"{CONTAINER}.image": "amdenterpriseai/aim-base:0.9",
                f"{CONTAINER}.env": _env(
                    AIM_CACHE_PATH="/workspace/cache",
                    AIM_ID="",
                    AIM_MODEL_ID="Qwen/Qwen2-0.5B",
                    VLLM_ENABLE_METRICS="true",
                ),
            }
        ),
    ),
    # §5 gpu/custom-model-env-propagation: template env plus metric, precision and model id
    "gpu-custom-model-env-propagation": Case(
        template=_template(
            model_sources=(
                r.ModelSource(model_id="test/env-propagation", source_uri="hf://test/env-propagation"),
            ),
            env=(
                r.EnvVar(name="MAX_MODEL_LEN", value="4096"),
                r.EnvVar(name="CUSTOM_TEST_VAR", value="hello"),
            ),
        ),
        expected=_patched(
            {
                "metadata.annotations": {
                    "aim.eai.amd.com/model-id": "test/env-propagation",
                    "serving.kserve.io/autoscalerClass": "none",
                },
                f"{CONTAINER}.env": _env(
                    AIM_CACHE_PATH="/workspace/cache",
                    AIM_ID="",
                    AIM_METRIC="latency",
                    AIM_MODEL_ID="test/env-propagation",
                    AIM_PRECISION="fp16",
                    CUSTOM_TEST_VAR="hello",
                    MAX_MODEL_LEN="4096",
                    VLLM_ENABLE_METRICS="true",
                ),
            }
        ),
    ),
    # §5 custom-model cpu-only: no GPU, so no GPU defaults; the template's cpu request comes through
    "cpu-only-custom": Case(
        template=_template(gpus=0, metric=None, precision=None, affinity=r.NodeAffinity()),
        resources=r.ResourceRequirements(requests={"cpu": "2"}, limits={"cpu": "4"}),
        expected=_patched(
            {
                f"{CONTAINER}.env": _env(AIM_CACHE_PATH="/workspace/cache", VLLM_ENABLE_METRICS="true"),
                f"{CONTAINER}.resources": {"limits": {"cpu": "4"}, "requests": {"cpu": "2"}},
                "spec.predictor.affinity": None,
            }
        ),
    ),
    # D29: a fine-tuned copy's deployment-image-ref annotation wins over the model's image,
    # and a latest tag is pulled Always (N's PullPolicyForImage)
    "image-deployment-ref": Case(
        template=_template(annotations={ANNOTATION_DEPLOYMENT_IMAGE: "registry.example.com/aim-base:latest"}),
        expected=_patched(
            {
                f"{CONTAINER}.image": "registry.example.com/aim-base:latest",
                f"{CONTAINER}.imagePullPolicy": "Always",
            }
        ),
    ),
    # D29: an empty annotation counts as absent
    "image-empty-ref": Case(
        template=_template(annotations={ANNOTATION_DEPLOYMENT_IMAGE: ""}), expected=_patched({})
    ),
    # the caller's resolved image (status.resolvedImage) is used as given
    "image-resolved-by-caller": Case(
        image="registry.example.com/qwen@sha256:" + "a" * 64,
        expected=_patched({f"{CONTAINER}.image": "registry.example.com/qwen@sha256:" + "a" * 64}),
    ),
    # §2.7: four GPUs: cpu 16, memory 128Gi request and 192Gi limit
    "resources-4-gpus": Case(
        template=_template(gpus=4),
        resources=r.ResourceRequirements(requests={"amd.com/gpu": 4}, limits={"amd.com/gpu": 4}),
        expected=_patched(
            {
                f"{CONTAINER}.resources": {
                    "limits": {"amd.com/gpu": "4", "memory": "192Gi"},
                    "requests": {"amd.com/gpu": "4", "cpu": "16", "memory": "128Gi"},
                }
            }
        ),
    ),
    # §2.7: the service overrides memory (64Gi) over the defaults; a service's 8 GPUs get 8 GPUs' cpu
    "resources-service-override": Case(
        resources=r.ResourceRequirements(
            requests={"amd.com/gpu": "8", "memory": "64Gi"}, limits={"amd.com/gpu": "8"}
        ),
        expected=_patched(
            {
                f"{CONTAINER}.resources": {
                    "limits": {"amd.com/gpu": "8", "memory": "384Gi"},
                    "requests": {"amd.com/gpu": "8", "cpu": "32", "memory": "64Gi"},
                }
            }
        ),
    ),
    # D31: a default never contradicts a set value: 256Gi requested is above the 48Gi default limit
    "resources-no-contradicting-default": Case(
        resources=r.ResourceRequirements(
            requests={"amd.com/gpu": 1, "memory": "256Gi"}, limits={"amd.com/gpu": 1, "cpu": "2"}
        ),
        expected=_patched(
            {
                f"{CONTAINER}.resources": {
                    "limits": {"amd.com/gpu": "1", "cpu": "2"},
                    "requests": {"amd.com/gpu": "1", "memory": "256Gi"},
                }
            }
        ),
    ),
    # §2.7: nothing resolved (no profile GPU count): the GPU comes from the resolved hardware
    "resources-from-hardware": Case(resources=None, expected=_patched({})),
    # §2.4: pull secrets and service account from the service only; N's cluster-auth/* annotations
    "pod-fields": Case(
        service=_service(
            image_pull_secrets=(r.LocalObjectReference(name="regcred"),),
            service_account_name="inference",
            annotations={"cluster-auth/audience": "team", "note.example.com/x": "y"},
        ),
        expected=_patched(
            {
                "metadata.annotations": {
                    "cluster-auth/audience": "team",
                    "serving.kserve.io/autoscalerClass": "none",
                },
                "spec.predictor.serviceAccountName": "inference",
                "spec.predictor.imagePullSecrets": [{"name": "regcred"}],
            }
        ),
    ),
    # §1.5: names sanitised into label values; the controller's service.name keeps the name verbatim
    "labels-sanitised": Case(
        template=_template("Qwen3_32B.Latency--"),
        expected=_patched(
            {
                "metadata.labels": {
                    "aim.eai.amd.com/metric": "latency",
                    "aim.eai.amd.com/model": "qwen3-32b",
                    "aim.eai.amd.com/precision": "fp16",
                    "aim.eai.amd.com/service": "qwen-chat",
                    "aim.eai.amd.com/service.name": "qwen-chat",
                    "aim.eai.amd.com/template": "qwen3_32b.latency",
                    "app.kubernetes.io/component": "inference",
                    "app.kubernetes.io/managed-by": "aim-engine",
                }
            }
        ),
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_manifest_per_scenario(name: str) -> None:
    case = SCENARIOS[name]
    built = isvc.inference_service(
        case.service,
        case.model,
        case.template,
        case.runtime,
        scaling=case.scaling,
        resources=case.resources,
        image=case.image,
    )
    assert built == case.expected


def test_key_order_is_the_reference_marshal_order() -> None:
    built = isvc.inference_service(_service(), _model(), _template(), None, scaling=Scaling(), resources=GPU1)
    assert list(built) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(built["metadata"]) == ["name", "namespace", "labels", "annotations", "ownerReferences"]
    assert list(built["spec"]["predictor"]) == [
        "volumes",
        "containers",
        "affinity",
        "minReplicas",
        "maxReplicas",
    ]
    container = built["spec"]["predictor"]["containers"][0]
    assert list(container) == [
        "name",
        "image",
        "ports",
        "env",
        "resources",
        "volumeMounts",
        "imagePullPolicy",
    ]
    assert list(built["metadata"]["labels"]) == sorted(built["metadata"]["labels"])


# --- names (§1.4) ------------------------------------------------------------------------

NAME_VECTORS = [
    ("qwen-chat", "ml-team", "qwen-chat-faa5534a"),
    ("test-service", "default", "test-service-a90b4ff5"),
    ("my-service", "my-namespace", "my-service-bba30f96"),
    (
        "very-long-service-name-that-might-exceed-kubernetes-limits",
        "default",
        "very-long-service-name-that-might-ex-2f5e28ff",
    ),
    ("Llama_3.1-Chat", "team-a", "llama-3-1-chat-ce52f165"),
    ("svc", "a" * 42, "s-55ef8399"),
]


@pytest.mark.parametrize(("service", "namespace", "expected"), NAME_VECTORS)
def test_name_vectors(service: str, namespace: str, expected: str) -> None:
    assert isvc.inference_service_name(service, namespace) == expected
    assert len(expected) + len("-predictor-") + len(namespace) <= 63


def test_namespace_over_42_characters_has_no_name() -> None:
    namespace = "a" * 43
    message = (
        f'namespace "{namespace}" is too long (43 chars); '
        "InferenceService hostname would exceed 63 characters"
    )
    with pytest.raises(isvc.InferenceServiceNameError) as raised:
        isvc.inference_service_name("svc", namespace)
    assert str(raised.value) == message
    assert isvc.name_problem("svc", namespace) == Component(
        "InferenceServiceReady",
        FAILED,
        "NamespaceTooLong",
        f"{message}: use a namespace of at most 42 characters",
    )
    assert isvc.name_problem("svc", "a" * 42) is None


# --- env (§2.6, D31) ---------------------------------------------------------------------


def _names(env: tuple[r.EnvVar, ...]) -> list[tuple[str, str | None]]:
    return [(entry.name, entry.value) for entry in env]


def test_env_later_layers_win_and_never_duplicate() -> None:
    """The reference appends AIM_METRIC next to the runtime config's; D31 keeps the template's only."""
    runtime = r.AIMRuntimeConfigSpec(
        env=(
            r.EnvVar(name="AIM_METRIC", value="throughput"),
            r.EnvVar(name="AIM_MODEL_ID", value="runtime/model"),
            r.EnvVar(name="VLLM_ENABLE_METRICS", value="false"),
        )
    )
    template = _template(
        model_sources=(CUSTOM_SOURCE,), env=(r.EnvVar(name="AIM_MODEL_ID", value="template/model"),)
    )
    service = _service(env=(r.EnvVar(name="AIM_PRECISION", value="bf16"), r.EnvVar(name="X", value="1")))
    assert _names(isvc.container_env(service, template, runtime)) == [
        ("AIM_CACHE_PATH", "/workspace/cache"),
        ("AIM_ID", ""),
        ("AIM_METRIC", "latency"),
        ("AIM_MODEL_ID", "Qwen/Qwen2-0.5B"),
        ("AIM_PRECISION", "bf16"),
        ("VLLM_ENABLE_METRICS", "false"),
        ("X", "1"),
    ]


def test_env_duplicates_within_one_layer_keep_the_last() -> None:
    service = _service(env=(r.EnvVar(name="A", value="1"), r.EnvVar(name="A", value="2")))
    env = isvc.container_env(service, _template(metric=None, precision=None), None)
    assert _names(env) == [
        ("A", "2"),
        ("AIM_CACHE_PATH", "/workspace/cache"),
        ("VLLM_ENABLE_METRICS", "true"),
    ]


def test_engine_args_from_a_secret_wins_whole() -> None:
    """A mend (D31): the reference would merge the literal into "" and drop the secret reference."""
    secret = r.EnvVarSource(secret_key_ref=r.KeySelector(name="args", key="json"))
    runtime = r.AIMRuntimeConfigSpec(env=(r.EnvVar(name="AIM_ENGINE_ARGS", value='{"a":1}'),))
    service = _service(env=(r.EnvVar(name="AIM_ENGINE_ARGS", value_from=secret),))
    env = isvc.container_env(service, _template(metric=None, precision=None), runtime)
    assert env[1] == r.EnvVar(name="AIM_ENGINE_ARGS", value_from=secret)


@pytest.mark.parametrize(
    ("base", "higher", "merged"),
    [
        (
            '{"max-model-len":8192}',
            '{"gpu-memory-utilization":0.9}',
            '{"gpu-memory-utilization":0.9,"max-model-len":8192}',
        ),
        (
            '{"a":{"b":1,"c":[1,2]},"z":true}',
            '{"a":{"b":2,"d":null}}',
            '{"a":{"b":2,"c":[1,2],"d":null},"z":true}',
        ),
        ('{"a":{"b":1}}', '{"a":5}', '{"a":5}'),
        ('{"a":1}', '{"a":{"b":1}}', '{"a":{"b":1}}'),
        ('{"x":"<&>"}', '{"y":1.0}', '{"x":"\\u003c\\u0026\\u003e","y":1}'),
        (
            '{"s":1e21}',
            '{"t":2.5e-7,"u":0.000001,"v":1e20}',
            '{"s":1e+21,"t":2.5e-7,"u":0.000001,"v":100000000000000000000}',
        ),
        ('{ "b" : 1 , "a" : 2 }', "{}", '{"a":2,"b":1}'),
        ('{"a":1,"a":2}', '{"b":3}', '{"a":2,"b":3}'),
        ("", '{"a":1}', '{"a":1}'),
        ('{"a":1}', "", '{"a":1}'),
        ("--max-model-len 8192", '{"a":1}', '{"a":1}'),
        ('{"a":1}', "--tp 2", "--tp 2"),
        ("[1]", '{"a":1}', '{"a":1}'),
        ('{"a":NaN}', '{"a":1}', '{"a":1}'),
        ("null", '{"a":1}', '{"a":1}'),
        ('{"a":1}', "null", '{"a":1}'),
    ],
)
def test_merge_json_values(base: str, higher: str, merged: str) -> None:
    assert isvc.merge_json_values(base, higher) == merged


# --- resources (§2.7, D31) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpus", "cpu", "memory_request", "memory_limit"),
    [(1, "4", "32Gi", "48Gi"), (4, "16", "128Gi", "192Gi"), (8, "32", "256Gi", "384Gi")],
)
def test_per_gpu_defaults(gpus: int, cpu: str, memory_request: str, memory_limit: str) -> None:
    assert isvc.container_resources(None, _template(gpus=gpus)) == {
        "limits": {"amd.com/gpu": str(gpus), "memory": memory_limit},
        "requests": {"amd.com/gpu": str(gpus), "cpu": cpu, "memory": memory_request},
    }


def test_resources_named_gpu_resource_and_limits_kept() -> None:
    """The hardware's GPU resource name is honoured; a float cpu limit prints as Go prints it; the
    memory limit default (96Gi) would be below the 100Gi request, so it is left out."""
    gpu = r.GpuRequirements(requests=2, model="MI300X", resource_name="amd.com/xgpu")
    base = _template()
    assert base.status is not None
    template = attrs.evolve(base, status=attrs.evolve(base.status, resolved_hardware=r.Hardware(gpu=gpu)))
    resolved = r.ResourceRequirements(requests={"memory": "100Gi"}, limits={"cpu": 9.0})
    assert isvc.container_resources(resolved, template) == {
        "limits": {"amd.com/xgpu": "2", "cpu": "9"},
        "requests": {"amd.com/xgpu": "2", "cpu": "8", "memory": "100Gi"},
    }


def test_resources_request_above_default_limit_drops_the_limit_default() -> None:
    resolved = r.ResourceRequirements(requests={"memory": "100Gi"}, limits={"cpu": "2"})
    assert isvc.container_resources(resolved, _template(gpus=2)) == {
        "limits": {"amd.com/gpu": "2", "cpu": "2"},
        "requests": {"amd.com/gpu": "2", "memory": "100Gi"},
    }


def test_resources_nothing_for_cpu_only_without_resources() -> None:
    assert isvc.container_resources(None, _template(gpus=0)) == {}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("", "Always"),
        ("amdenterpriseai/aim-base", "Always"),
        ("amdenterpriseai/aim-base:latest", "Always"),
        ("localhost:5000/aim-base", "Always"),
        ("localhost:5000/aim-base:0.9", "IfNotPresent"),
        ("amdenterpriseai/aim-base:0.9", "IfNotPresent"),
        ("amdenterpriseai/aim-base@sha256:" + "0" * 64, "IfNotPresent"),
    ],
)
def test_pull_policy(image: str, policy: str) -> None:
    assert isvc.pull_policy(image) == policy


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Qwen3_32B.Latency--", "qwen3_32b.latency"),
        ("a  b//c", "a_b_c"),
        ("__x__", "x"),
        ("!!!", ""),
        ("x" * 70 + "-y", "x" * 63),
    ],
)
def test_sanitize_label_value(text: str, value: str) -> None:
    assert isvc.sanitize_label_value(text) == value


# --- observed health (§3.1, §3.4, D32) ---------------------------------------------------


def _isvc(ready: str | None, uid: str = "isvc-uid") -> dict[str, Any]:
    conditions = (
        []
        if ready is None
        else [{"type": "PredictorReady", "status": ready}, {"type": "Ready", "status": ready}]
    )
    return {"metadata": {"name": "qwen-chat-faa5534a", "uid": uid}, "status": {"conditions": conditions}}


def _event(reason: str, message: str = "", type_: str = "Warning", uid: str = "isvc-uid") -> dict[str, Any]:
    return {"reason": reason, "message": message, "type": type_, "involvedObject": {"uid": uid}}


KNATIVE = "It is not possible to use Serverless deployment mode when Knative Services are not available"
CONFLICT = (
    "Operation cannot be fulfilled on inferenceservices.serving.kserve.io: the object has been modified"
)
STATUS_SCENARIOS: list[tuple[str, dict[str, Any] | None, bool, list[dict[str, Any]], Component, str]] = [
    # KServe CRDs absent: the reference cannot even start its watch; D32 waits, Pending
    (
        "kserve-not-installed",
        None,
        False,
        [],
        Component(
            "InferenceServiceReady",
            PENDING,
            "KServeNotInstalled",
            "KServe is not installed: the cluster has no InferenceService CRD (serving.kserve.io/v1beta1); "
            "install KServe to deploy this service",
        ),
        "Pending",
    ),
    # planned, not there yet: CreatingRuntime, the service Starting
    (
        "not-created-yet",
        None,
        True,
        [],
        Component("InferenceServiceReady", PROGRESSING, "CreatingRuntime", "InferenceService not found"),
        "Starting",
    ),
    # ISVC created, not Ready: Starting (§3.4; e2e basic-lifecycle)
    (
        "created-not-ready",
        _isvc(None),
        True,
        [],
        Component("InferenceServiceReady", PROGRESSING, "CreatingRuntime", "InferenceService is not ready"),
        "Starting",
    ),
    (
        "ready-false",
        _isvc("False"),
        True,
        [_event("Normal", type_="Normal")],
        Component("InferenceServiceReady", PROGRESSING, "CreatingRuntime", "InferenceService is not ready"),
        "Starting",
    ),
    # ISVC Ready: Running (e2e basic-lifecycle, model-by-image, caching-mode-never, ...)
    (
        "ready",
        _isvc("True"),
        True,
        [],
        Component("InferenceServiceReady", READY, "RuntimeReady", "InferenceService is ready"),
        "Running",
    ),
    # Knative missing and KServe in Serverless: Failed, the ISVC stays applied (§3.4)
    (
        "serverless-rejected",
        _isvc(None),
        True,
        [_event("ServerlessModeRejected", KNATIVE)],
        Component(
            "InferenceServiceReady",
            FAILED,
            "ServerlessModeRejected",
            "Knative is not available. Configure KServe to use RawDeployment mode.",
        ),
        "Failed",
    ),
    # a KServe InternalError warning fails it; an update conflict is transient and ignored
    (
        "internal-error",
        _isvc("True"),
        True,
        [
            _event("InternalError", CONFLICT),
            _event("InternalError", "fails to reconcile predictor: bad spec"),
        ],
        Component("InferenceServiceReady", FAILED, "InternalError", "fails to reconcile predictor: bad spec"),
        "Failed",
    ),
    (
        "internal-error-conflict-only",
        _isvc("True"),
        True,
        [_event("InternalError", CONFLICT), _event("InternalError", "not a warning", type_="Normal")],
        Component("InferenceServiceReady", READY, "RuntimeReady", "InferenceService is ready"),
        "Running",
    ),
    # events of an earlier object of the same name are not this one's
    (
        "stale-event",
        _isvc("True"),
        True,
        [_event("ServerlessModeRejected", KNATIVE, uid="old-uid")],
        Component("InferenceServiceReady", READY, "RuntimeReady", "InferenceService is ready"),
        "Running",
    ),
]


@pytest.mark.parametrize(
    ("observed", "installed", "events", "component", "word"),
    [case[1:] for case in STATUS_SCENARIOS],
    ids=[case[0] for case in STATUS_SCENARIOS],
)
def test_observed_health(
    observed: dict[str, Any] | None,
    installed: bool,
    events: list[dict[str, Any]],
    component: Component,
    word: str,
) -> None:
    health = isvc.observed_health(observed, installed, events=events)
    assert health == component
    assert isvc.service_status(health.state) == word


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (PENDING, "Pending"),
        (PROGRESSING, "Starting"),
        (READY, "Running"),
        (r.Status.DEGRADED, "Degraded"),
        (FAILED, "Failed"),
    ],
)
def test_service_status_words(state: r.Status, word: str) -> None:
    assert isvc.service_status(state) == word


def test_deployment_image() -> None:
    ref = "registry.example.com/ft:1.0"
    assert isvc.deployment_image(_template(annotations={ANNOTATION_DEPLOYMENT_IMAGE: ref}), _model()) == ref
    assert isvc.deployment_image(_template(annotations={ANNOTATION_DEPLOYMENT_IMAGE: ""}), _model()) == IMAGE
    assert isvc.deployment_image(_template(), None) is None
    assert isvc.deployment_image(_template(), _model("")) is None
