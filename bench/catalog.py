"""A deterministic generator of large AIM catalogs for the benchmarks (issue 8).

`generate(models, seed)` returns the manifests (plain dictionaries, as a YAML or
JSON reader would give them) and the image facts a registry would answer for
every image they name. The same size and seed give the same catalog, byte for
byte. The mix covers every path of the core:

- image models with discovery (namespace and cluster scope, v1alpha1 and
  v1alpha2), whose images recommend deployments, so templates (and profiles)
  are generated; some with pull secrets, a named runtime config, or extra
  `spec.customTemplates`;
- custom models (`spec.modelSources`, `custom.hardware`, some with
  `custom.templates`);
- fine-tuning families: official cluster models at two versions whose explicit
  templates carry an aimId, and fine-tuned models with version policies pinned,
  latest and any;
- runtime configs (cluster and namespace scope) and Secrets;
- services: by model name (some with overrides), by image (reusing a model or
  auto-creating one) and inline custom models.

"models" counts AIMModel and AIMClusterModel objects in the input; services,
runtime configs, Secrets and explicit templates come on top, in proportion.
"""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

from aimcore.facts import ImageFacts, InspectResult
from aimcore.images import normalize_image

GROUP = "aim.eai.amd.com"
V1 = f"{GROUP}/v1alpha1"
V2 = f"{GROUP}/v1alpha2"
REGISTRY = "registry.example.com/aim"
OPERATOR_NAMESPACE = "aim-system"

#: Recommended deployments an image may carry; no two tie in selection rank.
DEPLOYMENTS = (
    {"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "latency"},
    {"gpuModel": "MI300X", "gpuCount": 2, "precision": "fp16", "metric": "throughput"},
    {"gpuModel": "MI325X", "gpuCount": 1, "precision": "fp8", "metric": "throughput"},
    {"gpuModel": "MI325X", "gpuCount": 4, "precision": "bf16", "metric": "latency"},
)
FAMILY_VERSIONS = ("0.10.0", "0.11.0")
FAMILY_VARIANTS = (("fp8", "MI300X", "latency"), ("fp16", "MI325X", "throughput"))


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _doc(api: str, kind: str, meta: dict[str, Any], spec: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": meta}
    if spec is not None:
        doc["spec"] = spec
    return doc


def _facts(labels: dict[str, str], base: str, digest_seed: int) -> ImageFacts:
    digest = f"sha256:{digest_seed:064x}"
    return ImageFacts(labels=labels, env=("PATH=/usr/bin", f"AIM_BASE_IMAGE_REF={base}"), digest=digest)


class _Builder:
    def __init__(self, models: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.models = models
        self.docs: list[dict[str, Any]] = []
        self.facts: dict[str, InspectResult] = {}
        self.namespaces = [f"team-{n:03d}" for n in range(max(4, models // 100))]
        #: Per namespace: models a service can name, and images a service can reuse.
        self.image_models: dict[str, list[tuple[str, str, list[dict[str, Any]]]]] = {
            ns: [] for ns in self.namespaces
        }
        self.custom_models: dict[str, list[str]] = {ns: [] for ns in self.namespaces}
        self.count = 0

    # --- shared objects ------------------------------------------------------------

    def runtime_configs(self) -> None:
        self.docs.append(
            _doc(V1, "AIMClusterRuntimeConfig", _meta("default"), {"serviceAccountName": "aim-runtime"})
        )
        self.docs.append(
            _doc(
                V1,
                "AIMClusterRuntimeConfig",
                _meta("platform"),
                {"serviceAccountName": "aim-platform", "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}]},
            )
        )
        self.docs.append(self._secret("cluster-pull", OPERATOR_NAMESPACE))
        for index, ns in enumerate(self.namespaces):
            self.docs.append(self._secret("team-pull", ns))
            if index % 2 == 0:
                spec = {
                    "serviceAccountName": f"{ns}-runtime",
                    "env": [{"name": "TEAM", "value": ns}],
                    "model": {"autoDiscovery": True},
                }
                self.docs.append(_doc(V1, "AIMRuntimeConfig", _meta("default", ns), spec))
            if index % 3 == 0:
                spec = {"serviceAccountName": f"{ns}-platform"}
                self.docs.append(_doc(V1, "AIMRuntimeConfig", _meta("platform", ns), spec))

    def _secret(self, name: str, namespace: str) -> dict[str, Any]:
        auth = {"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}}
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(name, namespace),
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json.dumps(auth)},
        }

    # --- fine-tuning families ------------------------------------------------------

    def family(self, f: int) -> None:
        """Two official cluster models (two versions) whose templates carry the family's aimId."""
        aim_id = f"org/fam-{f:04d}"
        for version in FAMILY_VERSIONS:
            owner = f"fam-{f:04d}-{version.replace('.', '-')}"
            image = f"{REGISTRY}/fam-{f:04d}:{version}"
            self.docs.append(_doc(V1, "AIMClusterModel", _meta(owner), {"image": image}))
            self.count += 1
            major_minor = ".".join(version.split(".")[:2])
            labels = {"com.amd.aim.model.canonicalName": aim_id}
            self.facts[normalize_image(image)] = _facts(
                labels, f"docker.io/amdenterpriseai/aim-base:{major_minor}", 10_000_000 + f * 10 + len(owner)
            )
            for precision, gpu, metric in FAMILY_VARIANTS:
                spec = {
                    "modelName": owner,
                    "aimId": aim_id,
                    "modelId": f"{aim_id}-{precision}",
                    "metric": metric,
                    "precision": precision,
                    "type": "optimized",
                    "hardware": {"gpu": {"model": gpu, "requests": 1}},
                }
                self.docs.append(_doc(V1, "AIMClusterServiceTemplate", _meta(f"{owner}-{precision}"), spec))

    def fine_tuned(self, i: int, ns: str, families: int) -> None:
        f = self.rng.randrange(families)
        aim_id = f"org/fam-{f:04d}"
        precision = self.rng.choice(FAMILY_VARIANTS)[0]
        policy = self.rng.choice(("pinned", "latest", "any"))
        spec: dict[str, Any] = {
            "aimId": aim_id,
            "modelSources": [{"modelId": f"{aim_id}-{precision}", "sourceUri": f"s3://weights/ft-{i:05d}/"}],
            "env": [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}],
        }
        if policy == "pinned":
            spec["image"] = "docker.io/amdenterpriseai/aim-base:0.11.0"
        else:
            spec["custom"] = {"versionPolicy": policy}
        self.docs.append(_doc(V1, "AIMModel", _meta(f"ft-{i:05d}", ns), spec))
        self.count += 1

    # --- image and custom models ---------------------------------------------------

    def image_model(self, i: int, ns: str) -> None:
        cluster = self.rng.random() < 0.25
        api = V2 if self.rng.random() < 0.1 else V1
        name = f"m-{i:05d}"
        image = f"{REGISTRY}/m-{i:05d}:1.{i % 7}.0"
        chosen = sorted(self.rng.sample(range(len(DEPLOYMENTS)), self.rng.randint(1, 3)))
        deployments = [DEPLOYMENTS[c] for c in chosen]
        labels = {
            "com.amd.aim.model.canonicalName": f"org/m-{i:05d}",
            "com.amd.aim.model.source": f"https://huggingface.co/org/m-{i:05d}",
            "com.amd.aim.title": f"Model {i}",
            "com.amd.aim.model.tags": "chat, bench",
            "com.amd.aim.model.recommendedDeployments": json.dumps(deployments),
            "org.opencontainers.image.version": f"1.{i % 7}.0",
        }
        self.facts[normalize_image(image)] = _facts(labels, "docker.io/amdenterpriseai/aim-base:1.0", i)
        spec: dict[str, Any] = {"image": image}
        roll = self.rng.random()
        if roll < 0.2:
            spec["imagePullSecrets"] = [{"name": "cluster-pull" if cluster else "team-pull"}]
        elif roll < 0.35:
            spec["runtimeConfigName"] = "platform"
        if self.rng.random() < 0.15:
            spec["customTemplates"] = [
                {
                    "name": "tuned",
                    "profile": {"metric": "latency", "precision": "fp16"},
                    "hardware": {"gpu": {"requests": 2, "model": "MI300X"}},
                    "env": [{"name": "VLLM_GPU_MEMORY_UTILIZATION", "value": "0.9"}],
                }
            ]
        if cluster:
            self.docs.append(_doc(api, "AIMClusterModel", _meta(name), spec))
        else:
            self.docs.append(_doc(api, "AIMModel", _meta(name, ns, labels={"team": ns}), spec))
            self.image_models[ns].append((name, image, deployments))
        self.count += 1

    def custom_model(self, i: int, ns: str) -> None:
        name = f"c-{i:05d}"
        custom: dict[str, Any] = {"hardware": {"gpu": {"requests": 1, "models": ["MI300X"]}}}
        if self.rng.random() < 0.5:
            custom["templates"] = [
                {
                    "name": "high-memory",
                    "hardware": {"gpu": {"requests": 2}},
                    "env": [{"name": "VLLM_GPU_MEMORY_UTILIZATION", "value": "0.95"}],
                },
                {"name": "standard", "profile": {"metric": "throughput", "precision": "bf16"}},
            ]
        spec = {
            "image": "docker.io/amdenterpriseai/aim-base:0.11.0",
            "modelSources": [{"modelId": f"org/custom-{i:05d}", "sourceUri": f"s3://models/custom-{i:05d}"}],
            "custom": custom,
        }
        self.docs.append(_doc(V1, "AIMModel", _meta(name, ns), spec))
        self.custom_models[ns].append(name)
        self.count += 1

    # --- services --------------------------------------------------------------------

    def service(self, s: int) -> None:
        ns = self.namespaces[s % len(self.namespaces)]
        name = f"svc-{s:05d}"
        roll = self.rng.random()
        spec: dict[str, Any]
        if roll < 0.45 and self.image_models[ns]:
            model, _, deployments = self.rng.choice(self.image_models[ns])
            spec = {"model": {"name": model}}
            if self.rng.random() < 0.5:
                d = self.rng.choice(deployments)
                spec["overrides"] = {"metric": d["metric"], "precision": d["precision"]}
        elif roll < 0.6 and self.image_models[ns]:
            _, image, _ = self.rng.choice(self.image_models[ns])
            spec = {"model": {"image": image}}
        elif roll < 0.75:
            # An image no model names yet: the service auto-creates auto-<hash> (D2).
            image = f"{REGISTRY}/svc-only-{s:05d}:2.0.0"
            labels = {
                "com.amd.aim.model.canonicalName": f"org/svc-only-{s:05d}",
                "com.amd.aim.model.recommendedDeployments": json.dumps([DEPLOYMENTS[s % len(DEPLOYMENTS)]]),
            }
            self.facts[normalize_image(image)] = _facts(
                labels, "docker.io/amdenterpriseai/aim-base:2.0", 20_000_000 + s
            )
            spec = {"model": {"image": image}, "runtimeConfigName": "default"}
        elif roll < 0.9 or not self.custom_models[ns]:
            spec = {
                "model": {
                    "custom": {
                        "baseImage": "docker.io/amdenterpriseai/aim-base:0.11.0",
                        "modelSources": [
                            {"modelId": f"org/inline-{s:05d}", "sourceUri": f"hf://org/inline-{s:05d}"}
                        ],
                        "hardware": {"gpu": {"requests": 1}},
                    }
                },
                "template": {"allowUnoptimized": True},
            }
        else:
            spec = {
                "model": {"name": self.rng.choice(self.custom_models[ns])},
                "template": {"allowUnoptimized": True},
            }
        self.docs.append(_doc(V1, "AIMService", _meta(name, ns), spec))


def generate(models: int, seed: int = 8) -> tuple[list[dict[str, Any]], dict[str, InspectResult]]:
    """About `models` models plus their services, configs and explicit templates; and image facts."""
    b = _Builder(models, seed)
    b.runtime_configs()
    families = max(2, models // 50)
    for f in range(families):
        b.family(f)
    i = 0
    while b.count < models:
        ns = b.namespaces[i % len(b.namespaces)]
        roll = b.rng.random()
        if roll < 0.6:
            b.image_model(i, ns)
        elif roll < 0.8:
            b.custom_model(i, ns)
        else:
            b.fine_tuned(i, ns, families)
        i += 1
    for s in range(models // 4):
        b.service(s)
    return b.docs, b.facts


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """The catalog as one multi-document YAML text (block style, as people write manifests)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump_all(documents, Dumper=dumper, sort_keys=False, default_flow_style=False, width=120)
