"""Pure lookups a service needs: its model (D16) and its container resources (D15).

Both follow the document where it disagrees with the reference: namespace models
shadow cluster ones for every namespaced lookup, and model resources are the
baseline of the resource merge (reference-operator §6 leaves them out).
"""

from __future__ import annotations

from collections.abc import Mapping

from aimcore import resources as r
from aimcore.snapshot import Snapshot

DEFAULT_GPU_RESOURCE = "amd.com/gpu"


def lookup_model(namespace: str | None, name: str, snapshot: Snapshot) -> r.Model | None:
    """The AIMModel `name` in `namespace`, else the AIMClusterModel `name` (D16).

    Surrounding spaces are ignored, as the reference trims the name before looking.
    """
    wanted = name.strip()
    if not wanted:
        return None
    if namespace:
        local = snapshot.get(r.AIMModel, namespace, wanted)
        if local is not None:
            return local
    return snapshot.get(r.AIMClusterModel, None, wanted)


def merge_quantities(*layers: Mapping[str, r.Quantity] | None) -> dict[str, r.Quantity]:
    """Per key, the first layer that sets it wins (highest precedence first)."""
    merged: dict[str, r.Quantity] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            merged.setdefault(key, value)
    return merged


def _gpu_quantity(
    name: str, layers: tuple[r.ResourceRequirements | None, ...]
) -> r.Quantity | None:
    """The GPU count of the highest layer that names one, its limit before its request."""
    for layer in layers:
        if layer is None:
            continue
        for side in (layer.limits, layer.requests):
            if side and name in side:
                return side[name]
    return None


def gpu_resource_name(template: r.Template | None) -> str:
    """The template's declared GPU resource name (spec first, then resolved hardware), else amd.com/gpu."""
    if template is None:
        return DEFAULT_GPU_RESOURCE
    for hardware in (template.spec.hardware, template.status.resolved_hardware if template.status else None):
        gpu = hardware.gpu if hardware else None
        if gpu is not None and gpu.resource_name:
            return gpu.resource_name
    return DEFAULT_GPU_RESOURCE


def discovered_gpu_count(template: r.Template | None) -> int | None:
    """status.profile.metadata.gpu_count (or the reference's gpuCount, D27): the discovery
    record the document fills GPUs from."""
    status = template.status if template else None
    profile = status.profile if status else None
    metadata = profile.metadata if profile else None
    return metadata.gpus if metadata else None


def resolve_resources(
    service: r.ResourceRequirements | None,
    template: r.Template | None,
    model: r.Model | None,
) -> r.ResourceRequirements | None:
    """Service over template over model per key, requests and limits apart (D15).

    The GPU resource is one key for both sides: the highest layer that sets it on either
    side sets both (its limit if it has one), as Kubernetes requires a GPU request to equal
    its limit. A GPU quantity still unset is taken from the template's discovered
    gpu_count (only a positive count: zero GPUs needs no GPU resource). Quantities
    are copied as written, so "8" stays "8" and 8 stays 8. Claims are the highest
    layer's that has any. None when nothing at all is set.
    """
    layers = (
        service,
        template.spec.resources if template else None,
        model.spec.resources if model else None,
    )
    requests = merge_quantities(*(layer.requests if layer else None for layer in layers))
    limits = merge_quantities(*(layer.limits if layer else None for layer in layers))
    claims = next((layer.claims for layer in layers if layer and layer.claims is not None), None)
    name = gpu_resource_name(template)
    gpus = _gpu_quantity(name, layers)
    if gpus is None:
        count = discovered_gpu_count(template)
        gpus = count if count is not None and count > 0 else None
    if gpus is not None:
        # Kubernetes refuses a GPU request that differs from its limit (an extended resource
        # cannot be overcommitted): one layer's GPU count sets both sides.
        requests[name] = limits[name] = gpus
    if not requests and not limits and claims is None:
        return None
    return r.ResourceRequirements(
        requests=requests or None,
        limits=limits or None,
        claims=claims,
    )
