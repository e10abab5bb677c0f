"""The KServe InferenceService an AIMService deploys (D29-D32), and what its status means.

Faithful to the reference's newer generation "N" (reference-service §1.3-§2.7), so a cluster can
move between operators without a renamed or rolled InferenceService: the same name, labels,
annotations, container, env and resources. Where aimcore differs the rulings say so: no template
cache yet, so no cache volumes (D30); env merged by name, never duplicated (D31); cpu/memory
defaults per GPU only where D15 left them unset (D31); the reference's status words (D32).

Left out, as they need objects aimcore does not build yet: cache PVC volumes and their
preservation on update (D30), the custom-profile ConfigMap with its mount and
`AIM_PROFILE_ID=custom/...` (a template with a customProfile deploys in the model-sources mode
instead), N's KEDA ScaledObject (so autoscaling asks KServe for `keda`, as the reference's M
generation and its e2e tests do, not N's `external`), and priorityClassName (the service has no
such field). Pod, event and HPA health beyond the InferenceService's own events are the caller's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from aimcore import codec, gojson, naming, resolution
from aimcore import resources as r
from aimcore.discoveryjob import env_entry, propagate_labels
from aimcore.ownership import ANNOTATION_DEPLOYMENT_IMAGE, LABEL_MANAGED_BY, LABEL_SERVICE, owner_reference
from aimcore.status import Component

__all__ = [
    "API_VERSION",
    "CONTAINER_NAME",
    "INFERENCE_SERVICE_READY",
    "KIND",
    "MAX_NAMESPACE_LENGTH",
    "InferenceServiceNameError",
    "Scaling",
    "container_env",
    "container_resources",
    "deployment_image",
    "go_marshal",
    "inference_service",
    "inference_service_name",
    "merge_json_values",
    "name_problem",
    "observed_health",
    "pull_policy",
    "sanitize_label_value",
    "service_status",
]

API_VERSION = "serving.kserve.io/v1beta1"
KIND = "InferenceService"
CONTAINER_NAME = "kserve-container"
INFERENCE_SERVICE_READY = "InferenceServiceReady"

#: KServe names the predictor's host `<isvc>-predictor-<namespace>`, one DNS label of at most 63.
PREDICTOR_INFIX = "-predictor-"
#: The shortest name part the reference accepts; a longer namespace leaves no room (§1.4).
MIN_NAME_LENGTH = 10
MAX_NAMESPACE_LENGTH = naming.MAX_LABEL_LENGTH - len(PREDICTOR_INFIX) - MIN_NAME_LENGTH

LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_TEMPLATE = f"{r.GROUP}/template"
LABEL_MODEL = f"{r.GROUP}/model"
LABEL_METRIC = f"{r.GROUP}/metric"
LABEL_PRECISION = f"{r.GROUP}/precision"
LABEL_SERVICE_NAME = f"{r.GROUP}/service.name"
MANAGED_BY = "aim-engine"
ANNOTATION_MODEL_ID = f"{r.GROUP}/model-id"
CLUSTER_AUTH_PREFIX = "cluster-auth/"
ANNOTATION_AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
ANNOTATION_OTEL_INJECT = "sidecar.opentelemetry.io/inject"
ANNOTATION_PROMETHEUS_PORT = "prometheus.kserve.io/port"
AUTOSCALER_KEDA = "keda"
AUTOSCALER_NONE = "none"

HTTP_PORT = 8000
SHM_VOLUME = "dshm"
SHM_MOUNT_PATH = "/dev/shm"
SHM_SIZE = "8Gi"
CACHE_PATH = "/workspace/cache"
ENGINE_ARGS = "AIM_ENGINE_ARGS"
DEFAULT_METRIC_BACKEND = "opentelemetry"

CPU_PER_GPU = 4
MEMORY_REQUEST_GI_PER_GPU = 32
MEMORY_LIMIT_GI_PER_GPU = 48


# --- the name (§1.4) -------------------------------------------------------------------


class InferenceServiceNameError(ValueError):
    """No InferenceService name fits: the namespace leaves the predictor's host label too long."""


def inference_service_name(service_name: str, namespace: str) -> str:
    """N's GenerateInferenceServiceName: `derived_name([service], hash [namespace, service])`.

    The name is cut so that KServe's `<name>-predictor-<namespace>` stays one DNS label; hashing
    the service name as well (N; M hashes the namespace only) keeps the suffix unique per service
    when the visible part is cut. Raises InferenceServiceNameError for a namespace over 42
    characters, where fewer than 10 characters would remain.
    """
    room = naming.MAX_LABEL_LENGTH - len(PREDICTOR_INFIX) - len(namespace)
    if room < MIN_NAME_LENGTH:
        raise InferenceServiceNameError(
            f'namespace "{namespace}" is too long ({len(namespace)} chars); InferenceService '
            f"hostname would exceed 63 characters"
        )
    return naming.derived_name([service_name], [namespace, service_name], max_length=room)


def name_problem(service_name: str, namespace: str) -> Component | None:
    """InferenceServiceReady=False for a service no name fits, else None.

    A permanent error in where the service lives, so Failed with what to do (§7.2), where the
    reference loops on a fetch error and shows Degraded.
    """
    try:
        inference_service_name(service_name, namespace)
    except InferenceServiceNameError as err:
        message = f"{err}: use a namespace of at most {MAX_NAMESPACE_LENGTH} characters"
        return Component(INFERENCE_SERVICE_READY, r.Status.FAILED, "NamespaceTooLong", message)
    return None


# --- inputs ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Scaling:
    """The service's replica and autoscaling fields, which the caller fills from its spec.

    `replicas`, `min_replicas` and `max_replicas` are spec.replicas, spec.minReplicas and
    spec.maxReplicas as written (None when absent); `autoscaling` is spec.autoScaling in its
    wire form (`codec.dump`), with `metrics[].podmetric.{metric,target}`. Any of the last three
    set means autoscaling (§2.3).
    """

    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    autoscaling: Mapping[str, Any] | None = None

    @property
    def autoscaled(self) -> bool:
        return self.autoscaling is not None or self.min_replicas is not None or self.max_replicas is not None


def deployment_image(template: r.Template, model: r.Model | None) -> str | None:
    """D29: the template's deployment-image-ref annotation (an empty one counts as absent), else
    the model's spec.image; None when neither names one."""
    annotated = (template.metadata.annotations or {}).get(ANNOTATION_DEPLOYMENT_IMAGE, "")
    if annotated:
        return annotated
    return (model.spec.image if model is not None else None) or None


# --- the manifest (§1.3, §1.5, §2.2-§2.7) ------------------------------------------------


def inference_service(
    service: r.AIMService,
    model: r.Model | None,
    template: r.Template,
    runtime: r.AIMRuntimeConfigSpec | None,
    *,
    scaling: Scaling,
    resources: r.ResourceRequirements | None,
    image: str | None = None,
) -> dict[str, Any]:
    """The InferenceService for `service`, as the reference applies it (D29-D31).

    `runtime` is the merged runtime config spec (D14; None when there is none), `resources` the
    service's resolved resources (status.resolvedResources, D15) and `image` its resolved image
    (status.resolvedImage); None resolves it here per D29 from `template` and `model`. Keys are in
    the order Go marshals the reference's structs (labels, annotations and resource lists sorted
    like Go maps), without the zero values the API server drops; quantities are strings (numbers
    printed, text as written). Raises InferenceServiceNameError where `name_problem` reports one.
    """
    namespace = service.metadata.namespace or ""
    name = inference_service_name(service.metadata.name or "", namespace)
    the_image = image if image is not None else deployment_image(template, model) or ""
    annotations = {**_annotations(service, template), **_scaling_annotations(name, scaling)}
    predictor: dict[str, Any] = {
        "volumes": [{"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}}],
        "containers": [_container(service, template, runtime, the_image, resources)],
    }
    if service.spec.service_account_name:
        predictor["serviceAccountName"] = service.spec.service_account_name
    if service.spec.image_pull_secrets:
        predictor["imagePullSecrets"] = [{"name": ref.name} for ref in service.spec.image_pull_secrets]
    affinity = _node_affinity(template)
    if affinity:
        predictor["affinity"] = {"nodeAffinity": affinity}
    predictor.update(_replicas(scaling))
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": _labels(service, template, runtime),
            "annotations": dict(sorted(annotations.items())),
            "ownerReferences": [codec.dump(owner_reference(service))],
        },
        "spec": {"predictor": predictor},
    }


_LABEL_VALUE_RUN = re.compile(r"[^a-z0-9._-]+")


def sanitize_label_value(text: str) -> str:
    """The reference's SanitizeLabelValue: lowercase, each run of other characters one `_`, `_.-`
    trimmed at both ends, cut to 63 and trimmed again; "" when nothing is left."""
    lowered = "".join(char.lower()[0] for char in text)  # one code point each, as Go's ToLower
    value = _LABEL_VALUE_RUN.sub("_", lowered).strip("_.-")
    return value[: naming.MAX_LABEL_LENGTH].strip("_.-")


def _labels(
    service: r.AIMService, template: r.Template, runtime: r.AIMRuntimeConfigSpec | None
) -> dict[str, str]:
    """The builder's labels (§1.5), then the service's propagated ones, then the controller's (§1.3)."""
    labels = {
        LABEL_COMPONENT: "inference",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_TEMPLATE: sanitize_label_value(template.metadata.name or ""),
        LABEL_SERVICE: sanitize_label_value(service.metadata.name or ""),
    }
    model_label = sanitize_label_value(template.spec.model_name)
    if model_label:
        labels[LABEL_MODEL] = model_label
    profile = template.status.profile if template.status else None
    metadata = profile.metadata if profile else None
    if metadata is not None and metadata.metric:
        labels[LABEL_METRIC] = sanitize_label_value(metadata.metric)
    if metadata is not None and metadata.precision:
        labels[LABEL_PRECISION] = sanitize_label_value(metadata.precision)
    propagation = runtime.label_propagation if runtime is not None else None
    propagate_labels(service.metadata.labels or {}, labels, {}, propagation)
    labels.setdefault(LABEL_SERVICE_NAME, service.metadata.name or "")
    return dict(sorted(labels.items()))


def _annotations(service: r.AIMService, template: r.Template) -> dict[str, str]:
    """N: the service's cluster-auth/* annotations, then the model id the runtime serves under."""
    annotations = {
        key: value
        for key, value in (service.metadata.annotations or {}).items()
        if key.startswith(CLUSTER_AUTH_PREFIX)
    }
    spec = template.spec
    model_id = spec.model_id or (spec.model_sources[0].model_id if spec.model_sources else "") or spec.aim_id
    if model_id:
        annotations[ANNOTATION_MODEL_ID] = model_id
    return annotations


def _scaling_annotations(name: str, scaling: Scaling) -> dict[str, str]:
    """The autoscaler class (§2.3): KEDA through KServe when autoscaled, with the OTel sidecar and
    the Prometheus port; `none` otherwise, so a switch back overwrites it."""
    if not scaling.autoscaled:
        return {ANNOTATION_AUTOSCALER_CLASS: AUTOSCALER_NONE}
    return {
        ANNOTATION_AUTOSCALER_CLASS: AUTOSCALER_KEDA,
        ANNOTATION_OTEL_INJECT: f"{name}-predictor",
        ANNOTATION_PROMETHEUS_PORT: str(HTTP_PORT),
    }


def _replicas(scaling: Scaling) -> dict[str, Any]:
    """minReplicas, maxReplicas and autoScaling (§2.3).

    Autoscaled: min defaults to 1, max to minReplicas (at least 1, N) or 1. Fixed: min = max =
    replicas (1 when unset). A maxReplicas of 0 is left out, as Go's omitempty leaves it.
    """
    if scaling.autoscaled:
        low = scaling.min_replicas if scaling.min_replicas is not None else 1
        if scaling.max_replicas is not None:
            high = scaling.max_replicas
        elif scaling.min_replicas is not None:
            high = max(scaling.min_replicas, 1)
        else:
            high = 1
    else:
        low = high = scaling.replicas if scaling.replicas is not None else 1
    fields: dict[str, Any] = {"minReplicas": low}
    if high:
        fields["maxReplicas"] = high
    if scaling.autoscaling is not None:
        fields["autoScaling"] = _autoscaling(scaling.autoscaling)
    return fields


def _autoscaling(spec: Mapping[str, Any]) -> dict[str, Any]:
    """spec.autoScaling copied field by field into KServe's AutoScalingSpec (§2.3).

    Only PodMetric metrics carry their podmetric, as in the reference; an absent backend is the
    AIM CRD's default, opentelemetry, which an API server would have filled in.
    """
    metrics: list[dict[str, Any]] = []
    for metric in spec.get("metrics") or ():
        kind = metric.get("type", "")
        entry: dict[str, Any] = {"type": kind}
        source = metric.get("podmetric")
        if kind == "PodMetric" and source is not None:
            entry["podmetric"] = _pod_metric(source)
        metrics.append(entry)
    return {"metrics": metrics} if metrics else {}


def _pod_metric(source: Mapping[str, Any]) -> dict[str, Any]:
    podmetric: dict[str, Any] = {}
    wanted = source.get("metric")
    if wanted is not None:
        metric: dict[str, Any] = {"backend": wanted.get("backend") or DEFAULT_METRIC_BACKEND}
        for key in ("serverAddress", "metricNames", "query", "operationOverTime"):
            if wanted.get(key):
                metric[key] = list(wanted[key]) if key == "metricNames" else wanted[key]
        podmetric["metric"] = metric
    target = source.get("target")
    if target is not None:
        goal: dict[str, Any] = {"type": target.get("type", "")}
        for key in ("value", "averageValue"):
            if target.get(key) not in (None, ""):
                goal[key] = _quantity_text(target[key])
        if target.get("averageUtilization") is not None:
            goal["averageUtilization"] = target["averageUtilization"]
        podmetric["target"] = goal
    return podmetric


def _node_affinity(template: r.Template) -> dict[str, Any]:
    """The template's status.resolvedNodeAffinity, values sorted (the reference's are in Go map order)."""
    affinity = template.status.resolved_node_affinity if template.status else None
    if affinity is None:
        return {}
    dumped = codec.dump(affinity)
    required = dumped.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for requirement in term.get("matchExpressions") or ():
            if requirement.get("values") is not None:
                requirement["values"] = sorted(requirement["values"])
    return dumped


def pull_policy(image: str) -> str:
    """N's PullPolicyForImage: Always for no image, no tag or `latest`; IfNotPresent for a digest or
    any other tag (the tag is what follows the last `:` when no `/` comes after it)."""
    if not image:
        return "Always"
    if "@sha256:" in image:
        return "IfNotPresent"
    colon = image.rfind(":")
    tag = image[colon + 1 :] if colon >= 0 and "/" not in image[colon:] else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(
    service: r.AIMService,
    template: r.Template,
    runtime: r.AIMRuntimeConfigSpec | None,
    image: str,
    resources: r.ResourceRequirements | None,
) -> dict[str, Any]:
    """The one serving container (§2.5): no command or probes, the image picks its profile from env."""
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": [env_entry(entry) for entry in container_env(service, template, runtime)],
    }
    rendered = container_resources(resources, template)
    if rendered:
        container["resources"] = rendered
    container["volumeMounts"] = [{"name": SHM_VOLUME, "mountPath": SHM_MOUNT_PATH}]
    container["imagePullPolicy"] = pull_policy(image)
    return container


# --- env (§2.6, D31) ---------------------------------------------------------------------


def container_env(
    service: r.AIMService, template: r.Template, runtime: r.AIMRuntimeConfigSpec | None
) -> tuple[r.EnvVar, ...]:
    """The container's env, layer over layer in the reference's order, merged by name (D31).

    Defaults, the runtime config, AIM_PROFILE_ID, AIM_METRIC and AIM_PRECISION from the template
    spec, the template's env, the model identity (AIM_ID cleared and AIM_MODEL_ID when the
    template lists model sources: the runtime refuses both set), the service's env; later layers
    win and no name appears twice. AIM_ENGINE_ARGS values that are JSON objects are deep-merged
    as the reference does. Sorted by name, as the reference sorts.
    """
    spec = template.spec
    defaults = (
        r.EnvVar(name="AIM_CACHE_PATH", value=CACHE_PATH),
        r.EnvVar(name="VLLM_ENABLE_METRICS", value="true"),
    )
    layers: list[Sequence[r.EnvVar]] = [defaults, (runtime.env or ()) if runtime is not None else ()]
    selection: list[r.EnvVar] = []
    if spec.profile_id:
        selection.append(r.EnvVar(name="AIM_PROFILE_ID", value=spec.profile_id))
    if spec.metric is not None:
        selection.append(r.EnvVar(name="AIM_METRIC", value=spec.metric.value))
    if spec.precision is not None:
        selection.append(r.EnvVar(name="AIM_PRECISION", value=spec.precision.value))
    layers += [selection, spec.env or ()]
    if spec.model_sources:
        model_id = spec.model_sources[0].model_id
        layers.append((r.EnvVar(name="AIM_ID", value=""), r.EnvVar(name="AIM_MODEL_ID", value=model_id)))
    layers.append(service.spec.env or ())
    merged: dict[str, r.EnvVar] = {}
    for layer in layers:
        for entry in {entry.name: entry for entry in layer}.values():  # a layer's own duplicates: last wins
            below = merged.get(entry.name)
            merged[entry.name] = _merge_entry(below, entry) if below is not None else entry
    return tuple(merged[name] for name in sorted(merged))


def _merge_entry(below: r.EnvVar, above: r.EnvVar) -> r.EnvVar:
    """The higher layer's entry, except that two literal AIM_ENGINE_ARGS values are JSON-merged.

    Where either side comes from a secret or config map the higher entry wins whole: the
    reference would merge the literal into an empty value and drop the reference (a mend, D31).
    """
    if above.name != ENGINE_ARGS or below.value_from is not None or above.value_from is not None:
        return above
    return r.EnvVar(name=ENGINE_ARGS, value=merge_json_values(below.value or "", above.value or "") or None)


_JSON_ERRORS = (ValueError, gojson.NotJson, gojson.Mismatch, RecursionError)


def merge_json_values(base: str, higher: str) -> str:
    """The reference's MergeJSONEnvVarValues: two JSON objects deep-merged (higher wins per key,
    nested objects merged), written as Go's json.Marshal writes them; otherwise the non-empty one,
    the higher when both are set."""
    if not base:
        return higher
    if not higher:
        return base
    try:
        below = gojson.any_map(None, gojson.decode(base), ENGINE_ARGS)
        above = gojson.any_map(None, gojson.decode(higher), ENGINE_ARGS)
    except _JSON_ERRORS:
        return higher
    if below is None:
        return higher  # null below: Go would write into a nil map and panic
    return go_marshal(_deep_merge(below, above or {}))


def _deep_merge(below: Mapping[str, Any], above: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(below)
    for key, value in above.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def go_marshal(value: Any) -> str:
    """Go's json.Marshal of a decoded interface{}: compact, map keys sorted, <>& escaped."""
    if isinstance(value, Mapping):
        items = ",".join(f"{naming.go_json(str(k))}:{go_marshal(v)}" for k, v in sorted(value.items()))
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_marshal(item) for item in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    if value is None or isinstance(value, bool | int | str):
        return naming.go_json(value)
    raise TypeError(f"{type(value).__name__} is not a decoded JSON value")


def _go_float(number: float) -> str:
    """A float64 as encoding/json prints it: shortest digits, exponent only below 1e-6 or from 1e21."""
    size = abs(number)
    if size != 0 and (size < 1e-6 or size >= 1e21):
        return re.sub(r"e-0(\d)$", r"e-\1", repr(number))
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- resources (§2.7, D31) -----------------------------------------------------------------


_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def _amount(quantity: r.Quantity | None) -> Fraction | None:
    """A quantity's exact value; None when absent or not a quantity."""
    if quantity is None or isinstance(quantity, bool):
        return None
    if isinstance(quantity, int | float):
        return Fraction(quantity) if math.isfinite(quantity) else None
    match = _QUANTITY.fullmatch(quantity.strip())
    if match is None:
        return None
    amount = Fraction(match.group(1))
    suffix = match.group(2) or ""
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])
    return amount * Fraction(10) ** exponent


def _quantity_text(quantity: r.Quantity) -> str:
    """A quantity as a string: numbers printed, text as written."""
    if isinstance(quantity, float) and quantity.is_integer():
        return str(int(quantity))
    return str(quantity) if not isinstance(quantity, str) else quantity


def _hardware_gpus(template: r.Template) -> int:
    """status.resolvedHardware.gpu.requests: the reference's GPU count."""
    hardware = template.status.resolved_hardware if template.status else None
    gpu = hardware.gpu if hardware else None
    return (gpu.requests or 0) if gpu is not None else 0


def container_resources(resolved: r.ResourceRequirements | None, template: r.Template) -> dict[str, Any]:
    """The container's resources: the resolved ones (D15), then the reference's defaults (D31).

    A GPU quantity still unset comes from the template's resolved hardware (the reference's
    source). Per GPU the container gets, an unset cpu request is 4, an unset memory request 32Gi
    and an unset memory limit 48Gi; there is never a default cpu limit. A default that would
    contradict a value that is set (a request above its limit) is left out rather than making
    the pod invalid. {} when nothing is set.
    """
    requests: dict[str, r.Quantity] = dict(resolved.requests or {}) if resolved else {}
    limits: dict[str, r.Quantity] = dict(resolved.limits or {}) if resolved else {}
    gpu_name = resolution.gpu_resource_name(template)
    hardware = _hardware_gpus(template)
    if hardware > 0:
        requests.setdefault(gpu_name, hardware)
        limits.setdefault(gpu_name, hardware)
    gpus = _amount(requests.get(gpu_name, limits.get(gpu_name)))
    count = math.ceil(gpus) if gpus is not None and gpus > 0 else 0
    if count > 0:
        _default_request(requests, limits, "cpu", CPU_PER_GPU * count)
        _default_request(requests, limits, "memory", f"{MEMORY_REQUEST_GI_PER_GPU * count}Gi")
        limit = f"{MEMORY_LIMIT_GI_PER_GPU * count}Gi"
        request = _amount(requests.get("memory"))
        if "memory" not in limits and (request is None or request <= (_amount(limit) or 0)):
            limits["memory"] = limit
    rendered: dict[str, Any] = {}
    if limits:
        rendered["limits"] = {key: _quantity_text(limits[key]) for key in sorted(limits)}
    if requests:
        rendered["requests"] = {key: _quantity_text(requests[key]) for key in sorted(requests)}
    if resolved is not None and resolved.claims:
        rendered["claims"] = [codec.dump(claim) for claim in resolved.claims]
    return rendered


def _default_request(
    requests: dict[str, r.Quantity], limits: Mapping[str, r.Quantity], key: str, value: r.Quantity
) -> None:
    """Set an unset request to its default, unless the limit that is set is below it."""
    if key in requests:
        return
    ceiling = _amount(limits.get(key))
    if ceiling is None or (_amount(value) or 0) <= ceiling:
        requests[key] = value


# --- observed health (§3, D32) ----------------------------------------------------------------


_SERVICE_WORDS = {r.Status.PROGRESSING: "Starting", r.Status.READY: "Running"}
_TRANSIENT = ("the object has been modified", "Operation cannot be fulfilled")


def service_status(state: r.Status) -> str:
    """The word a service shows for a root state (§3.2, D32): Progressing is Starting, Ready is
    Running, the others keep their name."""
    return _SERVICE_WORDS.get(state, state.value)


def observed_health(
    inference_service: Mapping[str, Any] | None,
    kserve_installed: bool,
    *,
    events: Iterable[Mapping[str, Any]] = (),
) -> Component:
    """The InferenceServiceReady component from what the cluster holds (§3.1, D32).

    Without KServe's CRD the service waits (Pending, KServeNotInstalled). An InferenceService not
    there yet is being created and one without Ready=True is starting (Progressing: the service
    shows Starting); Ready=True is Running. `events` are the Events involving it: a
    ServerlessModeRejected event, or an InternalError warning other than an update conflict,
    fails it. Events of an earlier object of the same name (another uid) are ignored.
    """
    if not kserve_installed:
        return Component(
            INFERENCE_SERVICE_READY,
            r.Status.PENDING,
            "KServeNotInstalled",
            f"KServe is not installed: the cluster has no {KIND} CRD ({API_VERSION}); "
            "install KServe to deploy this service",
        )
    if inference_service is None:
        return Component(
            INFERENCE_SERVICE_READY, r.Status.PROGRESSING, "CreatingRuntime", "InferenceService not found"
        )
    uid = (inference_service.get("metadata") or {}).get("uid")
    for event in events:
        involved = (event.get("involvedObject") or {}).get("uid")
        if uid and involved and involved != uid:
            continue
        reason, message = event.get("reason"), str(event.get("message") or "")
        if reason == "ServerlessModeRejected":
            return Component(
                INFERENCE_SERVICE_READY,
                r.Status.FAILED,
                "ServerlessModeRejected",
                "Knative is not available. Configure KServe to use RawDeployment mode.",
            )
        transient = any(marker in message for marker in _TRANSIENT)
        if reason == "InternalError" and event.get("type") == "Warning" and not transient:
            return Component(INFERENCE_SERVICE_READY, r.Status.FAILED, "InternalError", message)
    conditions = (inference_service.get("status") or {}).get("conditions") or ()
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") == "True":
        return Component(INFERENCE_SERVICE_READY, r.Status.READY, "RuntimeReady", "InferenceService is ready")
    why = ": ".join(str(ready.get(k)) for k in ("reason", "message") if ready.get(k)) if ready else ""
    return Component(
        INFERENCE_SERVICE_READY, r.Status.PROGRESSING, "CreatingRuntime",
        f"InferenceService is not ready: {why}" if why else "InferenceService is not ready",
    )
