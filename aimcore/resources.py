"""Typed AIM resources: every kind the spec and the reference touch.

Classes are frozen and keyword-only. A field that a manifest may leave out is
None when absent, so that loading and dumping a document gives it back as written
(an explicit empty list stays an empty list). Defaults the API server would apply
are recorded as schema facts for the CRDs, not filled in here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from aimcore.schema import meta

#: Where the operator runs, and where cluster-scoped objects find their Secrets and Jobs.
DEFAULT_OPERATOR_NAMESPACE = "aim-system"

GROUP = "aim.eai.amd.com"
V1ALPHA1 = f"{GROUP}/v1alpha1"
V1ALPHA2 = f"{GROUP}/v1alpha2"
AIM_API_VERSIONS = (V1ALPHA1, V1ALPHA2)

#: A Kubernetes quantity, kept exactly as the manifest wrote it ("8", 8, "64Gi").
Quantity = str | int | float

MODEL_ID_PATTERN = r"^[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+$"
SOURCE_URI_PATTERN = r"^(hf|s3)://[^ \t\r\n]+$"
#: Gateway API's names (sigs.k8s.io/gateway-api v1 ParentReference), as the reference's CRDs carry them.
GATEWAY_GROUP_PATTERN = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
GATEWAY_KIND_PATTERN = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: A Go duration (time.ParseDuration), which the reference decodes routing.requestTimeout as.
GO_DURATION_PATTERN = r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"


class Metric(enum.Enum):
    LATENCY = "latency"
    THROUGHPUT = "throughput"


class Precision(enum.Enum):
    AUTO = "auto"
    FP4 = "fp4"
    FP8 = "fp8"
    FP16 = "fp16"
    FP32 = "fp32"
    BF16 = "bf16"
    INT4 = "int4"
    INT8 = "int8"


class ProfileType(enum.Enum):
    OPTIMIZED = "optimized"
    PREVIEW = "preview"
    UNOPTIMIZED = "unoptimized"


class VersionPolicy(enum.Enum):
    PINNED = "pinned"
    LATEST = "latest"
    ANY = "any"
    ALL = "all"


class Status(enum.Enum):
    """The document's five status values (D11), and NotAvailable, which the reference writes on a
    model whose templates all lack their GPU: read (so such a status loads), never written (D11
    makes that model Degraded)."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    NOT_AVAILABLE = "NotAvailable"


class ServiceStatus(enum.Enum):
    """A service's words (D32, the reference's enum): Starting while its InferenceService is not
    Ready, Running once it is; Pending while what it needs is not there yet."""

    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class TemplateStatus(enum.Enum):
    """Templates also know NotAvailable: no node has their GPU."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    NOT_AVAILABLE = "NotAvailable"


class ConditionStatus(enum.Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class SourceType(enum.Enum):
    IMAGE = "Image"
    CUSTOM = "Custom"


class Scope(enum.Enum):
    NAMESPACE = "Namespace"
    CLUSTER = "Cluster"
    MERGED = "Merged"
    UNKNOWN = "Unknown"


class CachingMode(enum.Enum):
    """How a service's model weights are cached: Shared (the default) or Dedicated; the reference's
    legacy words Auto and Always mean Shared, Never means Dedicated."""

    DEDICATED = "Dedicated"
    SHARED = "Shared"
    AUTO = "Auto"
    ALWAYS = "Always"
    NEVER = "Never"


class CacheMode(enum.Enum):
    """A template cache's or artifact's ownership: Shared caches outlive their users, Dedicated ones
    belong to one."""

    DEDICATED = "Dedicated"
    SHARED = "Shared"


class TemplateScope(enum.Enum):
    NAMESPACE = "Namespace"
    CLUSTER = "Cluster"
    UNKNOWN = "Unknown"


class ModelSourceStatus(enum.Enum):
    """The reference's words for a model source's sync, both vocabularies mixed as it has them."""

    PENDING = "Pending"
    STARTING = "Starting"
    PROGRESSING = "Progressing"
    READY = "Ready"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    NOT_AVAILABLE = "NotAvailable"
    FAILED = "Failed"


class MetricSourceType(enum.Enum):
    POD_METRIC = "PodMetric"


class MetricBackend(enum.Enum):
    OPENTELEMETRY = "opentelemetry"


class MetricTargetType(enum.Enum):
    VALUE = "Value"
    AVERAGE_VALUE = "AverageValue"
    UTILIZATION = "Utilization"


# --- Kubernetes building blocks -------------------------------------------------------


@attrs.frozen(kw_only=True)
class OwnerReference:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@attrs.frozen(kw_only=True)
class ObjectMeta:
    name: str | None = None
    namespace: str | None = None
    generate_name: str | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    owner_references: tuple[OwnerReference, ...] | None = None
    finalizers: tuple[str, ...] | None = None
    managed_fields: tuple[Any, ...] | None = None


@attrs.frozen(kw_only=True)
class LocalObjectReference:
    name: str = attrs.field(metadata=meta(min_length=1))


@attrs.frozen(kw_only=True)
class KeySelector:
    """secretKeyRef / configMapKeyRef: a reference, never the value."""

    name: str | None = attrs.field(default=None, metadata=meta(schema_default=""))
    key: str
    optional: bool | None = None


@attrs.frozen(kw_only=True)
class FileKeySelector:
    """fileKeyRef: a key of an env file on one of the pod's volumes."""

    volume_name: str
    path: str
    key: str
    optional: bool | None = attrs.field(default=None, metadata=meta(schema_default=False))


@attrs.frozen(kw_only=True)
class FieldSelector:
    field_path: str
    api_version: str | None = None


@attrs.frozen(kw_only=True)
class ResourceFieldSelector:
    resource: str
    container_name: str | None = None
    divisor: Quantity | None = None


@attrs.frozen(kw_only=True)
class EnvVarSource:
    secret_key_ref: KeySelector | None = None
    config_map_key_ref: KeySelector | None = None
    field_ref: FieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    file_key_ref: FileKeySelector | None = None


@attrs.frozen(kw_only=True)
class EnvVar:
    name: str = attrs.field(metadata=meta(min_length=1))
    value: str | None = None
    value_from: EnvVarSource | None = None


@attrs.frozen(kw_only=True)
class ResourceClaim:
    name: str
    request: str | None = None


@attrs.frozen(kw_only=True)
class ResourceRequirements:
    limits: Mapping[str, Quantity] | None = None
    requests: Mapping[str, Quantity] | None = None
    claims: tuple[ResourceClaim, ...] | None = None


@attrs.frozen(kw_only=True)
class Condition:
    """meta/v1 Condition. Looser than Kubernetes' own schema on purpose: aimcore copies reasons and
    messages from KServe's and the Gateway API's conditions, which it cannot vouch for, and a refused
    status write would hide the whole status; it writes all five fields itself."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = attrs.field(default=None, metadata=meta(string_format="date-time"))
    observed_generation: int | None = attrs.field(default=None, metadata=meta(minimum=0))


@attrs.frozen(kw_only=True)
class ResolvedReference:
    """Which object a resolution settled on (runtime config, model, template)."""

    name: str | None = None
    namespace: str | None = None
    scope: Scope | None = None
    kind: str | None = None
    uid: str | None = None


# --- Hardware, sources, profiles ------------------------------------------------------


@attrs.frozen(kw_only=True)
class GpuRequirements:
    requests: int | None = attrs.field(default=None, metadata=meta(minimum=0))
    model: str | None = attrs.field(default=None, metadata=meta(max_length=64))
    models: tuple[str, ...] | None = None
    min_vram: Quantity | None = None
    resource_name: str | None = attrs.field(default=None, metadata=meta(schema_default="amd.com/gpu"))


@attrs.frozen(kw_only=True)
class CpuRequirements:
    requests: Quantity
    limits: Quantity | None = None


@attrs.frozen(kw_only=True)
class Hardware:
    gpu: GpuRequirements | None = None
    cpu: CpuRequirements | None = None


@attrs.frozen(kw_only=True)
class ModelSource:
    model_id: str = attrs.field(
        metadata=meta(pattern=MODEL_ID_PATTERN, pattern_hint="{org}/{name}, for example Qwen/Qwen3-32B")
    )
    source_uri: str = attrs.field(
        metadata=meta(pattern=SOURCE_URI_PATTERN, pattern_hint="hf://{org}/{model} or s3://{bucket}/{key}")
    )
    size: Quantity | None = None
    env: tuple[EnvVar, ...] | None = None


@attrs.frozen(kw_only=True)
class ProfileSelection:
    metric: Metric | None = None
    precision: Precision | None = None


@attrs.frozen(kw_only=True)
class CustomProfile:
    engine_args: Mapping[str, Any] | None = None
    env_vars: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class CustomTemplate:
    name: str | None = attrs.field(default=None, metadata=meta(max_length=63))
    type: ProfileType | None = None
    env: tuple[EnvVar, ...] | None = attrs.field(default=None, metadata=meta(max_items=64))
    hardware: Hardware | None = None
    profile: ProfileSelection | None = None
    aim_id: str | None = None
    model_id: str | None = None
    custom_profile: CustomProfile | None = None


@attrs.frozen(kw_only=True)
class CustomModelSpec:
    hardware: Hardware | None = None
    type: ProfileType | None = None
    templates: tuple[CustomTemplate, ...] | None = attrs.field(default=None, metadata=meta(max_items=16))
    version_policy: VersionPolicy | None = attrs.field(default=None, metadata=meta(schema_default="pinned"))


@attrs.frozen(kw_only=True)
class Discovery:
    extract_metadata: bool | None = attrs.field(default=None, metadata=meta(schema_default=True))
    create_service_templates: bool | None = attrs.field(default=None, metadata=meta(schema_default=True))


# --- Image metadata -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RecommendedDeployment:
    gpu_model: str | None = None
    gpu_count: int | None = None
    precision: str | None = None
    metric: str | None = None
    profile_id: str | None = None
    description: str | None = None
    #: aimcore's addition (the reference ignores the key): the weights this deployment serves,
    #: carried to the discovered template's spec.modelId so fine-tuned models can match it.
    model_id: str | None = None


@attrs.frozen(kw_only=True)
class ModelMetadata:
    canonical_name: str | None = None
    source: str | None = None
    tags: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    variants: tuple[str, ...] | None = None
    hf_token_required: bool | None = None
    title: str | None = None
    description_full: str | None = None
    release_notes: str | None = None
    recommended_deployments: tuple[RecommendedDeployment, ...] | None = None


@attrs.frozen(kw_only=True)
class OCIMetadata:
    title: str | None = None
    description: str | None = None
    licenses: str | None = None
    vendor: str | None = None
    authors: str | None = None
    source: str | None = None
    documentation: str | None = None
    created: str | None = None
    revision: str | None = None
    version: str | None = None


@attrs.frozen(kw_only=True)
class ImageMetadata:
    model: ModelMetadata | None = None
    oci: OCIMetadata | None = None
    original_labels: Mapping[str, str] | None = None
    base_image_ref: str | None = None


# --- AIMModel / AIMClusterModel -------------------------------------------------------


@attrs.frozen(kw_only=True)
class AIMModelSpec:
    image: str | None = attrs.field(default=None, metadata=meta(min_length=1))
    aim_id: str | None = None
    discovery: Discovery | None = None
    default_service_template: str | None = None
    custom: CustomModelSpec | None = None
    custom_templates: tuple[CustomTemplate, ...] | None = attrs.field(
        default=None, metadata=meta(max_items=16)
    )
    model_sources: tuple[ModelSource, ...] | None = attrs.field(default=None, metadata=meta(max_items=1))
    runtime_config_name: str | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    env: tuple[EnvVar, ...] | None = None
    service_account_name: str | None = None
    resources: ResourceRequirements | None = None
    image_metadata: ImageMetadata | None = None


@attrs.frozen(kw_only=True)
class AIMModelStatus:
    observed_generation: int | None = None
    status: Status | None = attrs.field(default=None, metadata=meta(schema_default="Pending"))
    conditions: tuple[Condition, ...] | None = None
    source_type: SourceType | None = None
    resolved_runtime_config: ResolvedReference | None = None
    image_metadata: ImageMetadata | None = None
    inspected_image: str | None = attrs.field(
        default=None,
        metadata=meta(
            description="The image imageMetadata was read from, so a changed spec.image is inspected again."
        ),
    )
    image_digest: str | None = attrs.field(
        default=None,
        metadata=meta(description="The manifest digest the registry reported when the image was inspected."),
    )
    version: str | None = None


@attrs.frozen(kw_only=True)
class AIMModel:
    KIND: ClassVar[str] = "AIMModel"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMModelSpec
    status: AIMModelStatus | None = None


@attrs.frozen(kw_only=True)
class AIMClusterModel:
    KIND: ClassVar[str] = "AIMClusterModel"
    NAMESPACED: ClassVar[bool] = False
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMModelSpec
    status: AIMModelStatus | None = None


# --- Service templates ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProfileMetadata:
    """Discovery's summary of a template, with the discovery job's key spelling."""

    engine: str | None = None
    gpu: str | None = None
    gpu_count: int | None = attrs.field(default=None, metadata=meta(wire="gpu_count"))
    #: The reference operator's spelling of gpu_count (D27): read, never written by aimcore.
    gpu_count_camel: int | None = attrs.field(default=None, metadata=meta(wire="gpuCount"))
    metric: str | None = attrs.field(default=None, metadata=meta(one_of=Metric))
    precision: str | None = attrs.field(default=None, metadata=meta(one_of=Precision))
    type: str | None = attrs.field(default=None, metadata=meta(one_of=ProfileType))
    aim_id: str | None = attrs.field(default=None, metadata=meta(wire="aim_id"))
    model_id: str | None = attrs.field(default=None, metadata=meta(wire="model_id"))

    @property
    def gpus(self) -> int | None:
        """The GPU count, in whichever spelling the status was written (D27)."""
        return self.gpu_count if self.gpu_count is not None else self.gpu_count_camel


@attrs.frozen(kw_only=True)
class TemplateProfile:
    engine_args: Mapping[str, Any] | None = attrs.field(default=None, metadata=meta(wire="engine_args"))
    env_vars: Mapping[str, str] | None = attrs.field(default=None, metadata=meta(wire="env_vars"))
    metadata: ProfileMetadata | None = None
    #: The reference keeps the dry run's raw JSON here; aimcore keeps what it finds, never writes it.
    original_discovery_output: Any = None


@attrs.frozen(kw_only=True)
class TemplateCaching:
    enabled: bool | None = attrs.field(default=None, metadata=meta(schema_default=False))
    env: tuple[EnvVar, ...] | None = None


@attrs.frozen(kw_only=True)
class AIMServiceTemplateSpec:
    model_name: str = attrs.field(metadata=meta(min_length=1))
    aim_id: str | None = None
    model_id: str | None = None
    metric: Metric | None = None
    precision: Precision | None = None
    type: ProfileType | None = None
    profile_id: str | None = None
    hardware: Hardware | None = None
    resources: ResourceRequirements | None = None
    env: tuple[EnvVar, ...] | None = None
    model_sources: tuple[ModelSource, ...] | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    service_account_name: str | None = None
    runtime_config_name: str | None = None
    custom_profile: CustomProfile | None = None
    caching: TemplateCaching | None = None


@attrs.frozen(kw_only=True)
class DiscoveryState:
    """Retries of the discovery Job (reference-template-controller §2.4, D26)."""

    attempts: int | None = None
    last_attempt_time: str | None = attrs.field(default=None, metadata=meta(string_format="date-time"))
    last_failure_reason: str | None = None
    #: What the last discovery ran for: a change runs it again (D26).
    spec_hash: str | None = None


@attrs.frozen(kw_only=True)
class NodeSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class NodeSelectorTerm:
    match_expressions: tuple[NodeSelectorRequirement, ...] | None = None
    match_fields: tuple[NodeSelectorRequirement, ...] | None = None


@attrs.frozen(kw_only=True)
class NodeSelector:
    node_selector_terms: tuple[NodeSelectorTerm, ...]


@attrs.frozen(kw_only=True)
class PreferredSchedulingTerm:
    weight: int
    preference: NodeSelectorTerm


@attrs.frozen(kw_only=True)
class NodeAffinity:
    """Where a template's GPUs are: the device ids its deployments must land on (§3.1)."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: tuple[PreferredSchedulingTerm, ...] | None = None


@attrs.frozen(kw_only=True)
class AIMServiceTemplateStatus:
    observed_generation: int | None = None
    status: TemplateStatus | None = attrs.field(default=None, metadata=meta(schema_default="Pending"))
    conditions: tuple[Condition, ...] | None = None
    resolved_runtime_config: ResolvedReference | None = None
    resolved_model: ResolvedReference | None = None
    resolved_hardware: Hardware | None = None
    hardware_summary: str | None = None
    model_sources: tuple[ModelSource, ...] | None = None
    profile: TemplateProfile | None = None
    version: str | None = None
    resolved_node_affinity: NodeAffinity | None = None
    discovery_job: ResolvedReference | None = None
    discovery: DiscoveryState | None = None
    #: The reference's template cache for this template; aimcore builds none yet (D30) and keeps it.
    resolved_cache: ResolvedReference | None = None


@attrs.frozen(kw_only=True)
class AIMServiceTemplate:
    KIND: ClassVar[str] = "AIMServiceTemplate"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMServiceTemplateSpec
    status: AIMServiceTemplateStatus | None = None


@attrs.frozen(kw_only=True)
class AIMClusterServiceTemplate:
    KIND: ClassVar[str] = "AIMClusterServiceTemplate"
    NAMESPACED: ClassVar[bool] = False
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMServiceTemplateSpec
    status: AIMServiceTemplateStatus | None = None


# --- Runtime configs ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuntimeModelConfig:
    #: Absent reads as true (D14); no schema default, as in the reference.
    auto_discovery: bool | None = None


@attrs.frozen(kw_only=True)
class LabelPropagation:
    enabled: bool | None = attrs.field(default=None, metadata=meta(schema_default=False))
    match: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class GatewayReference:
    """The Gateway that receives a service's HTTPRoute (a Gateway API ParentReference)."""

    group: str | None = attrs.field(
        default=None,
        metadata=meta(
            max_length=253,
            pattern=GATEWAY_GROUP_PATTERN,
            pattern_hint="an API group: a DNS subdomain such as gateway.networking.k8s.io, or empty",
            schema_default="gateway.networking.k8s.io",
        ),
    )
    kind: str | None = attrs.field(
        default=None,
        metadata=meta(
            min_length=1,
            max_length=63,
            pattern=GATEWAY_KIND_PATTERN,
            pattern_hint="a kind such as Gateway: letters, digits and '-', starting with a letter",
            schema_default="Gateway",
        ),
    )
    name: str = attrs.field(metadata=meta(min_length=1, max_length=253))
    namespace: str | None = attrs.field(
        default=None,
        metadata=meta(
            min_length=1,
            max_length=63,
            pattern=DNS_LABEL_PATTERN,
            pattern_hint="a namespace name (an RFC 1123 label: lowercase letters, digits and '-')",
        ),
    )
    section_name: str | None = attrs.field(
        default=None,
        metadata=meta(
            min_length=1,
            max_length=253,
            pattern=DNS_SUBDOMAIN_PATTERN,
            pattern_hint="a listener name (lowercase letters, digits, '-' and '.')",
        ),
    )
    port: int | None = attrs.field(default=None, metadata=meta(minimum=1, maximum=65535))


@attrs.frozen(kw_only=True)
class RoutingConfig:
    """HTTP routing through the Gateway API: whether a service gets an HTTPRoute, on which Gateway,
    at which path. A service's values win over its runtime config's."""

    enabled: bool | None = None
    gateway_ref: GatewayReference | None = None
    path_template: str | None = attrs.field(
        default=None,
        metadata=meta(
            description="The route's path, with JSONPath expressions rendered against the service, "
            "for example /{.metadata.namespace}/{.metadata.name}."
        ),
    )
    request_timeout: str | None = attrs.field(
        default=None,
        metadata=meta(pattern=GO_DURATION_PATTERN, pattern_hint="a duration such as 30s, 1m30s or 2h"),
    )
    annotations: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class StorageConfig:
    """Volumes for downloaded model weights (template caches, which aimcore does not build yet)."""

    default_storage_class_name: str | None = None
    pvc_headroom_percent: int | None = attrs.field(default=None, metadata=meta(minimum=0, schema_default=10))


@attrs.frozen(kw_only=True)
class AIMRuntimeConfigSpec:
    service_account_name: str | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    model: RuntimeModelConfig | None = None
    env: tuple[EnvVar, ...] | None = None
    label_propagation: LabelPropagation | None = None
    #: Deprecated by the reference in favour of storage.defaultStorageClassName.
    default_storage_class_name: str | None = None
    #: Deprecated by the reference in favour of storage.pvcHeadroomPercent.
    pvc_headroom_percent: int | None = None
    storage: StorageConfig | None = None
    routing: RoutingConfig | None = None


@attrs.frozen(kw_only=True)
class AIMRuntimeConfigStatus:
    observed_generation: int | None = None
    status: Status | None = None
    conditions: tuple[Condition, ...] | None = None


@attrs.frozen(kw_only=True)
class AIMRuntimeConfig:
    KIND: ClassVar[str] = "AIMRuntimeConfig"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMRuntimeConfigSpec | None = None
    status: AIMRuntimeConfigStatus | None = None


@attrs.frozen(kw_only=True)
class AIMClusterRuntimeConfig:
    KIND: ClassVar[str] = "AIMClusterRuntimeConfig"
    NAMESPACED: ClassVar[bool] = False
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMRuntimeConfigSpec | None = None
    status: AIMRuntimeConfigStatus | None = None


# --- Services -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InlineCustomModel:
    base_image: str | None = None
    model_sources: tuple[ModelSource, ...] = attrs.field(metadata=meta(min_items=1, max_items=1))
    hardware: Hardware
    type: ProfileType | None = None


@attrs.frozen(kw_only=True)
class ServiceModel:
    name: str | None = None
    image: str | None = None
    custom: InlineCustomModel | None = None


@attrs.frozen(kw_only=True)
class TemplateSelector:
    name: str | None = None
    allow_unoptimized: bool | None = None


@attrs.frozen(kw_only=True)
class GpuSelector:
    model: str | None = None
    count: int | None = attrs.field(default=None, metadata=meta(minimum=0))


@attrs.frozen(kw_only=True)
class ServiceOverrides:
    metric: Metric | None = None
    precision: Precision | None = None
    hardware: Hardware | None = None
    gpu_selector: GpuSelector | None = None


@attrs.frozen(kw_only=True)
class PodMetric:
    """Which per-pod metric to scale on, and where to read it."""

    backend: MetricBackend | None = attrs.field(default=None, metadata=meta(schema_default="opentelemetry"))
    server_address: str | None = None
    metric_names: tuple[str, ...] | None = None
    query: str | None = None
    operation_over_time: str | None = None


@attrs.frozen(kw_only=True)
class MetricTarget:
    """The value of a metric the autoscaler keeps: value, averageValue or averageUtilization, as type says."""

    type: MetricTargetType
    value: str | None = None
    average_value: str | None = None
    average_utilization: int | None = None


@attrs.frozen(kw_only=True)
class PodMetricSource:
    metric: PodMetric
    target: MetricTarget


@attrs.frozen(kw_only=True)
class AutoScalingMetric:
    type: MetricSourceType
    pod_metric: PodMetricSource | None = attrs.field(default=None, metadata=meta(wire="podmetric"))


@attrs.frozen(kw_only=True)
class AutoScaling:
    """Autoscaling on custom metrics (KEDA, with an OpenTelemetry backend)."""

    metrics: tuple[AutoScalingMetric, ...] | None = None


@attrs.frozen(kw_only=True)
class ServiceCaching:
    """How the service's model weights are cached: Shared (the default) or Dedicated to this service."""

    mode: CachingMode | None = attrs.field(default=None, metadata=meta(schema_default="Shared"))


@attrs.frozen(kw_only=True)
class AIMServiceSpec:
    model: ServiceModel
    template: TemplateSelector | None = None
    overrides: ServiceOverrides | None = None
    resources: ResourceRequirements | None = None
    runtime_config_name: str | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    service_account_name: str | None = None
    env: tuple[EnvVar, ...] | None = None
    replicas: int | None = attrs.field(default=None, metadata=meta(minimum=0, schema_default=1))
    min_replicas: int | None = attrs.field(default=None, metadata=meta(minimum=1))
    max_replicas: int | None = attrs.field(default=None, metadata=meta(minimum=1))
    auto_scaling: AutoScaling | None = None
    caching: ServiceCaching | None = None
    #: Deprecated by the reference in favour of caching, and honoured by neither operator.
    cache_model: bool | None = None
    routing: RoutingConfig | None = None
    storage: StorageConfig | None = None


@attrs.frozen(kw_only=True)
class ServiceRuntimeStatus:
    """The service's replicas: "N" when fixed, else "current/desired (min-max)"."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    current_replicas: int | None = None
    desired_replicas: int | None = None
    replicas: str | None = None


@attrs.frozen(kw_only=True)
class TemplateCacheReference:
    """The AIMTemplateCache a service uses (a resolved reference, none of whose fields is required)."""

    name: str | None = None
    namespace: str | None = None
    scope: Scope | None = None
    kind: str | None = None
    uid: str | None = None


@attrs.frozen(kw_only=True)
class ServiceCacheStatus:
    template_cache_ref: TemplateCacheReference | None = None
    retry_attempts: int | None = None


@attrs.frozen(kw_only=True)
class ServiceRoutingStatus:
    path: str | None = None


@attrs.frozen(kw_only=True)
class AIMServiceStatus:
    observed_generation: int | None = None
    status: ServiceStatus | None = attrs.field(default=None, metadata=meta(schema_default="Pending"))
    conditions: tuple[Condition, ...] | None = None
    resolved_runtime_config: ResolvedReference | None = None
    resolved_model: ResolvedReference | None = None
    resolved_template: ResolvedReference | None = None
    resolved_image: str | None = None
    resolved_resources: ResourceRequirements | None = None
    runtime: ServiceRuntimeStatus | None = None
    cache: ServiceCacheStatus | None = None
    routing: ServiceRoutingStatus | None = None


@attrs.frozen(kw_only=True)
class AIMService:
    KIND: ClassVar[str] = "AIMService"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMServiceSpec
    status: AIMServiceStatus | None = None


# --- Kinds served and validated, not reconciled yet (D30) ------------------------------


@attrs.frozen(kw_only=True)
class AIMTemplateCacheSpec:
    template_name: str = attrs.field(metadata=meta(min_length=1))
    template_scope: TemplateScope
    mode: CacheMode | None = attrs.field(default=None, metadata=meta(schema_default="Shared"))
    model_sources: tuple[ModelSource, ...] | None = None
    env: tuple[EnvVar, ...] | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    storage_class_name: str | None = None
    download_image: str | None = None
    runtime_config_name: str | None = None


@attrs.frozen(kw_only=True)
class CachedArtifact:
    """One artifact of a template cache, by the model it holds."""

    uid: str
    name: str
    model: str
    status: str
    persistent_volume_claim: str | None = None
    mount_point: str | None = None


@attrs.frozen(kw_only=True)
class AIMTemplateCacheStatus:
    observed_generation: int | None = None
    status: TemplateStatus | None = attrs.field(default=None, metadata=meta(schema_default="Pending"))
    conditions: tuple[Condition, ...] | None = None
    resolved_runtime_config: ResolvedReference | None = None
    resolved_template_kind: str | None = None
    artifacts: Mapping[str, CachedArtifact] | None = None


@attrs.frozen(kw_only=True)
class AIMTemplateCache:
    KIND: ClassVar[str] = "AIMTemplateCache"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMTemplateCacheSpec | None = None
    status: AIMTemplateCacheStatus | None = None


#: The reference's downloader image, its default for spec.modelDownloadImage.
ARTIFACT_DOWNLOADER_IMAGE = "ghcr.io/silogen/aim-artifact-downloader:0.2.0"


@attrs.frozen(kw_only=True)
class AIMArtifactSpec:
    source_uri: str = attrs.field(
        metadata=meta(
            min_length=1,
            pattern=SOURCE_URI_PATTERN,
            pattern_hint="hf://{org}/{model} or s3://{bucket}/{key}",
        )
    )
    model_id: str | None = attrs.field(
        default=None,
        metadata=meta(pattern=MODEL_ID_PATTERN, pattern_hint="{org}/{name}, for example Qwen/Qwen3-32B"),
    )
    size: Quantity | None = None
    storage_class_name: str | None = None
    env: tuple[EnvVar, ...] | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    model_download_image: str | None = attrs.field(
        default=None, metadata=meta(schema_default=ARTIFACT_DOWNLOADER_IMAGE)
    )
    runtime_config_name: str | None = None


@attrs.frozen(kw_only=True)
class ArtifactDownload:
    """What the downloader reports of its current attempt."""

    attempt: int | None = None
    total_attempts: int | None = None
    protocol: str | None = None
    protocol_sequence: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class ArtifactProgress:
    downloaded_bytes: int | None = None
    total_bytes: int | None = None
    percentage: int | None = attrs.field(default=None, metadata=meta(minimum=0, maximum=100))
    display_percentage: str | None = None


@attrs.frozen(kw_only=True)
class AIMArtifactStatus:
    observed_generation: int | None = None
    status: TemplateStatus | None = attrs.field(default=None, metadata=meta(schema_default="Pending"))
    conditions: tuple[Condition, ...] | None = None
    mode: CacheMode | None = None
    persistent_volume_claim: str | None = None
    allocated_size: Quantity | None = None
    discovered_size_bytes: int | None = None
    display_size: str | None = None
    headroom_percent: int | None = None
    last_used: str | None = attrs.field(default=None, metadata=meta(string_format="date-time"))
    download: ArtifactDownload | None = None
    progress: ArtifactProgress | None = None


@attrs.frozen(kw_only=True)
class AIMArtifact:
    KIND: ClassVar[str] = "AIMArtifact"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMArtifactSpec | None = None
    status: AIMArtifactStatus | None = None


@attrs.frozen(kw_only=True)
class ModelSourceFilter:
    """Which images of the registry become models: a repository (a `*` pattern, a tag, or a whole
    reference), minus exclusions, within version constraints."""

    image: str = attrs.field(metadata=meta(max_length=512))
    exclude: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class AIMClusterModelSourceSpec:
    registry: str | None = attrs.field(default=None, metadata=meta(schema_default="docker.io"))
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    filters: tuple[ModelSourceFilter, ...] = attrs.field(metadata=meta(min_items=1, max_items=100))
    sync_interval: str | None = attrs.field(default=None, metadata=meta(schema_default="1h"))
    versions: tuple[str, ...] | None = None
    max_models: int | None = attrs.field(
        default=None, metadata=meta(minimum=1, maximum=10000, schema_default=100)
    )


@attrs.frozen(kw_only=True)
class AIMClusterModelSourceStatus:
    observed_generation: int | None = None
    status: ModelSourceStatus | None = None
    conditions: tuple[Condition, ...] | None = None
    last_sync_time: str | None = attrs.field(default=None, metadata=meta(string_format="date-time"))
    discovered_models: int | None = None
    available_models: int | None = None
    models_limit_reached: bool | None = None


@attrs.frozen(kw_only=True)
class AIMClusterModelSource:
    KIND: ClassVar[str] = "AIMClusterModelSource"
    NAMESPACED: ClassVar[bool] = False
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMClusterModelSourceSpec | None = None
    status: AIMClusterModelSourceStatus | None = None


# --- v1alpha2 profiles ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AIMProfileSpec:
    aim_id: str | None = None
    model_id: str | None = None
    profile_id: str | None = None
    engine: str | None = None
    metric: str | None = None
    precision: str | None = None
    type: str | None = None
    primary: bool | None = None
    accelerator_model: str | None = None
    accelerator_count: int | None = attrs.field(default=None, metadata=meta(minimum=0))
    accelerator_type: str | None = None
    engine_args: Mapping[str, Any] | None = None
    engine_env: Mapping[str, str] | None = None
    image: str | None = None
    model_sources: tuple[ModelSource, ...] | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    service_account_name: str | None = None


@attrs.frozen(kw_only=True)
class AIMProfileStatus:
    observed_generation: int | None = None
    status: Status | None = None
    conditions: tuple[Condition, ...] | None = None
    version: str | None = None
    base_image: str | None = None
    deployable: bool | None = None
    origin: str | None = None
    source_model: str | None = None
    hardware_summary: str | None = None


@attrs.frozen(kw_only=True)
class AIMProfile:
    KIND: ClassVar[str] = "AIMProfile"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMProfileSpec
    status: AIMProfileStatus | None = None


@attrs.frozen(kw_only=True)
class AIMClusterProfile:
    KIND: ClassVar[str] = "AIMClusterProfile"
    NAMESPACED: ClassVar[bool] = False
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: AIMProfileSpec
    status: AIMProfileStatus | None = None


# --- Secrets: names and type only -----------------------------------------------------


@attrs.frozen(kw_only=True)
class Secret:
    """A Secret as the core may see it: which keys it has, never their values."""

    KIND: ClassVar[str] = "Secret"
    NAMESPACED: ClassVar[bool] = True
    api_version: str
    kind: str
    metadata: ObjectMeta
    type: str | None = None
    keys: tuple[str, ...] | None = None


Model = AIMModel | AIMClusterModel
Template = AIMServiceTemplate | AIMClusterServiceTemplate
RuntimeConfig = AIMRuntimeConfig | AIMClusterRuntimeConfig
Profile = AIMProfile | AIMClusterProfile
#: Served and validated, never reconciled yet: the operator neither watches nor writes them.
Unreconciled = AIMTemplateCache | AIMArtifact | AIMClusterModelSource
Resource = Model | Template | RuntimeConfig | AIMService | Profile | Unreconciled | Secret

KINDS: Mapping[str, type[Resource]] = {
    cls.KIND: cls
    for cls in (
        AIMModel,
        AIMClusterModel,
        AIMServiceTemplate,
        AIMClusterServiceTemplate,
        AIMRuntimeConfig,
        AIMClusterRuntimeConfig,
        AIMService,
        AIMProfile,
        AIMClusterProfile,
        AIMTemplateCache,
        AIMArtifact,
        AIMClusterModelSource,
        Secret,
    )
}

#: The kinds of `Unreconciled`, by name.
UNRECONCILED_KINDS = ("AIMTemplateCache", "AIMArtifact", "AIMClusterModelSource")


def _resolve_annotations() -> None:
    """Turn every class's string annotations into types once, at import, so readers of the field
    facts (validation, the CRD generator) need neither a cache nor a resolve of their own."""
    for value in list(globals().values()):
        if isinstance(value, type) and attrs.has(value):
            attrs.resolve_types(value, globalns=globals())


_resolve_annotations()
