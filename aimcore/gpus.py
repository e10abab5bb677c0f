"""GPU inventory from Node labels, and whether a template's GPU requirement is met.

The rules are the reference operator's (reference-template-controller §1.2, §3, §4;
DECISIONS D25), so a template is Ready, NotAvailable and pinned to the same nodes under
either operator. Only Node labels count: capacity, readiness and taints are ignored, as
they are by the reference. Three deliberate differences, all about order, because the
reference iterates Go maps where a status must not flap between reconciles:

- several count-encoded labels on one node: the smallest key wins (the reference: any);
- nodes are read sorted by name, so the first node of a model fixes its VRAM whatever
  order the client listed them in (the reference: the client's list order);
- lists in messages and node-affinity values are sorted (the reference: map order).

`models: [...]` (D18) is this project's extension: any listed model present is enough,
and node affinity admits the device ids of every listed model.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from types import MappingProxyType

import attrs

from aimcore import resources as r

__all__ = [
    "DEVICE_IDS_BY_MODEL",
    "DEVICE_ID_LABEL",
    "DEVICE_ID_LABEL_BETA",
    "FAMILY_LABEL",
    "FAMILY_LABEL_BETA",
    "GPU_READY",
    "KNOWN_AMD_DEVICES",
    "KNOWN_GPU_VRAM",
    "VRAM_LABEL",
    "VRAM_LABEL_BETA",
    "GpuInfo",
    "GpuInventory",
    "GpuVerdict",
    "VramSource",
    "device_ids",
    "device_model",
    "gpu_availability",
    "gpu_inventory",
    "node_affinity",
    "node_gpu_model",
    "normalize_gpu_model",
    "parse_quantity",
    "parse_vram",
    "requires_gpu",
]

DEVICE_ID_LABEL = "amd.com/gpu.device-id"
DEVICE_ID_LABEL_BETA = "beta.amd.com/gpu.device-id"
FAMILY_LABEL = "amd.com/gpu.family"
FAMILY_LABEL_BETA = "beta.amd.com/gpu.family"
VRAM_LABEL = "amd.com/gpu.vram"
VRAM_LABEL_BETA = "beta.amd.com/gpu.vram"

#: The condition a template gets only when it requires a GPU.
GPU_READY = "GPUReady"

#: PCI device id (lower case, no 0x) -> model: the reference's KnownAmdDevices.
KNOWN_AMD_DEVICES: Mapping[str, str] = MappingProxyType(
    {
        # AMD Instinct
        "738c": "MI100",
        "738e": "MI100",
        "7408": "MI250X",
        "740c": "MI250X",  # MI250 and MI250X: there is no plain "MI250"
        "740f": "MI210",
        "7410": "MI210",
        "74a0": "MI300A",
        "74a1": "MI300X",
        "74a2": "MI308X",
        "74a5": "MI325X",
        "74a8": "MI308X",
        "74a9": "MI300X",
        "74b5": "MI300X",
        "74b6": "MI308X",
        "74b9": "MI325X",
        "74bd": "MI300X",
        "75a0": "MI350X",
        "75a3": "MI355X",
        "75b0": "MI350X",
        "75b3": "MI355X",
        # AMD Radeon Pro
        "7460": "V710",
        "7461": "V710",
        "7448": "W7900",
        "744a": "W7900",
        "7449": "W7800",
        "745e": "W7800",
        "73a2": "W6900X",
        "73a3": "W6800",
        "73ab": "W6800X",
        "73a1": "V620",
        "73ae": "V620",
        # AMD Radeon
        "7550": "RX9070",
        "744c": "RX7900",
        "73af": "RX6900",
        "73bf": "RX6800",
    }
)


def _invert(devices: Mapping[str, str]) -> Mapping[str, tuple[str, ...]]:
    by_model: dict[str, list[str]] = {}
    for device_id, model in devices.items():
        by_model.setdefault(model, []).append(device_id)
    return MappingProxyType({model: tuple(sorted(ids)) for model, ids in sorted(by_model.items())})


#: Model -> its device ids, sorted: the values of a node affinity for that model.
DEVICE_IDS_BY_MODEL: Mapping[str, tuple[str, ...]] = _invert(KNOWN_AMD_DEVICES)

#: VRAM per GPU when no node label says: the reference's KnownGPUVRAM, in its label format.
KNOWN_GPU_VRAM: Mapping[str, str] = MappingProxyType(
    {
        "MI355X": "288G",
        "MI350X": "288G",
        "MI325X": "256G",
        "MI308X": "128G",
        "MI300X": "192G",
        "MI300A": "128G",
        "MI250X": "128G",
        "MI210": "64G",
        "MI100": "32G",
        "V710": "32G",
        "W7900": "48G",
        "W7800": "32G",
        "W6900X": "32G",
        "W6800": "32G",
        "W6800X": "32G",
        "V620": "32G",
        "RX9070": "16G",
        "RX7900": "24G",
        "RX6900": "16G",
        "RX6800": "16G",
    }
)

_GI = 1024**3
_TI = 1024**4

# ------------------------------------------------------------------------ model names

_MODEL_TOKEN = re.compile(r"(MI|ME|RX|RTX|GTX|A|H|L|T|V|K|P|QUADRO|TESLA|GRID)?[A-Z]*[0-9]+[A-Z0-9]*")
_SEPARATORS = re.compile(r"[- /:]+")
_NOT_MODEL_TOKENS = frozenset({"AMD", "INSTINCT"})


def normalize_gpu_model(text: str) -> str:
    """The model name a spec or label means ("AMD Instinct MI300X" -> "MI300X"): the first token
    that looks like a model, else the first token. Template and inventory meet on this spelling."""
    model = text.strip()
    if not model:
        return ""
    model = model.replace("_", "-").upper()
    tokens = [token for token in _SEPARATORS.split(model) if token]
    for token in tokens:
        candidate = token.strip()
        if not candidate or candidate in _NOT_MODEL_TOKENS:
            continue
        if _MODEL_TOKEN.fullmatch(candidate):
            return candidate.removeprefix("INSTINCT")
    return tokens[0] if tokens else model


def device_model(device_id: str) -> str:
    """The model of a PCI device id ("0x74A1" -> "MI300X"); an unknown id is "AMD-<ID>", which
    no template can name, since normalising "AMD-74A1" gives "74A1"."""
    key = device_id.lower().removeprefix("0x")
    return KNOWN_AMD_DEVICES.get(key, "AMD-" + key.upper())


def device_ids(model: str) -> tuple[str, ...]:
    """Every device id of a model as a template names it, sorted; () when the table lacks it."""
    return DEVICE_IDS_BY_MODEL.get(normalize_gpu_model(model), ())


def _label_value(labels: Mapping[str, str], *keys: str) -> str:
    for key in keys:
        value = labels.get(key, "").strip()
        if value:
            return value
    return ""


def _count_encoded(labels: Mapping[str, str], *prefixes: str) -> str:
    """The suffix of the smallest `<prefix>.<suffix>` key whose count is not ""/"0".
    The reference takes whichever key Go's map order gives first; smallest is a fixed choice."""
    for prefix in prefixes:
        dotted = prefix + "."
        present = sorted(
            key
            for key, value in labels.items()
            if key.startswith(dotted) and len(key) > len(dotted) and value.strip() not in ("", "0")
        )
        if present:
            return present[0][len(dotted) :]
    return ""


def node_gpu_model(labels: Mapping[str, str]) -> str | None:
    """The GPU model a node's labels declare, None for a node without GPU labels.

    First hit wins: device-id value (primary, then beta), count-encoded device id, family
    value, count-encoded family. Of several count-encoded keys the smallest wins, where the
    reference takes Go's map order. `amd.com/gpu.product-name` is never read, as in the reference.
    """
    if device_id := _label_value(labels, DEVICE_ID_LABEL, DEVICE_ID_LABEL_BETA):
        return device_model(device_id)
    if device_id := _count_encoded(labels, DEVICE_ID_LABEL, DEVICE_ID_LABEL_BETA):
        return device_model(device_id)
    if family := _label_value(labels, FAMILY_LABEL, FAMILY_LABEL_BETA):
        return normalize_gpu_model(family)
    if family := _count_encoded(labels, FAMILY_LABEL, FAMILY_LABEL_BETA):
        return normalize_gpu_model(family)
    return None


# ------------------------------------------------------------------------------ sizes


def parse_vram(text: str) -> int:
    """Bytes in a VRAM label or table value, the reference's way: `G` is GiB, `T` TiB, no suffix
    bytes, anything else 0. So "192G" is 192 GiB, but "196608" (the reference's docs call it MiB)
    is 196608 bytes and "192Gi" is 0."""
    value = text.upper().strip()
    multiplier = 1
    if value.endswith("G"):
        value, multiplier = value[:-1], _GI
    elif value.endswith("T"):
        value, multiplier = value[:-1], _TI
    if not value or any(c not in "0123456789" for c in value):
        return 0
    return int(value) * multiplier


_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 1024, "Mi": 1024**2, "Gi": _GI, "Ti": _TI, "Pi": 1024**5, "Ei": 1024**6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: r.Quantity) -> int:
    """A Kubernetes quantity as an integer ("64Gi" -> 68719476736), rounded away from zero like
    Quantity.Value(). Raises ValueError for text that is not a quantity, which validation refuses
    before a manifest reaches the core."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int):
        return value
    text = repr(value) if isinstance(value, float) else value
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (for example 64Gi, 1Ti, 80G)")
    number, suffix = match.group(1), match.group(2) or ""
    amount = Fraction(number)
    if suffix in _BINARY:
        amount *= _BINARY[suffix]
    else:
        amount *= Fraction(10) ** (_DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:]))
    return math.ceil(amount) if amount >= 0 else math.floor(amount)


def _gi(size: int) -> str:
    """Bytes as the reference prints them: whole GiB, truncated toward zero; exactly 0 is "0"."""
    if size == 0:
        return "0"
    whole = abs(size) // _GI
    return f"{-whole if size < 0 else whole}Gi"


# -------------------------------------------------------------------------- inventory


class VramSource(enum.Enum):
    """Where a model's VRAM came from (the reference's vramSource values)."""

    LABEL = "label"
    STATIC = "static"
    UNKNOWN = "unknown"


@attrs.frozen
class GpuInfo:
    #: Bytes per GPU; None when neither a label nor the static table knows it.
    vram: int | None
    source: VramSource


def _sorted_gpus(gpus: Mapping[str, GpuInfo]) -> Mapping[str, GpuInfo]:
    return dict(sorted(gpus.items()))


@attrs.frozen
class GpuInventory:
    """GPU models present in the cluster, keyed by model name, in name order."""

    gpus: Mapping[str, GpuInfo] = attrs.field(factory=dict, converter=_sorted_gpus)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.gpus)


def _node_vram(model: str, labels: Mapping[str, str]) -> GpuInfo:
    # Not trimmed: a blank but present label wins and reads as 0, as in the reference.
    for key in (VRAM_LABEL, VRAM_LABEL_BETA):
        label = labels.get(key, "")
        if label:
            return GpuInfo(parse_vram(label), VramSource.LABEL)
    static = KNOWN_GPU_VRAM.get(normalize_gpu_model(model))
    if static is not None:
        return GpuInfo(parse_vram(static), VramSource.STATIC)
    return GpuInfo(None, VramSource.UNKNOWN)


def gpu_inventory(nodes: Iterable[tuple[str, Mapping[str, str]]]) -> GpuInventory:
    """The cluster's GPU models from (node name, labels) pairs.

    The first node of a model fixes its VRAM. Nodes are taken sorted by name (then labels), so
    the answer never depends on the order a client happened to list them in.
    """
    gpus: dict[str, GpuInfo] = {}
    for _, labels in sorted(nodes, key=lambda node: (node[0], sorted(node[1].items()))):
        model = node_gpu_model(labels)
        if model is not None and model not in gpus:
            gpus[model] = _node_vram(model, labels)
    return GpuInventory(gpus)


# ----------------------------------------------------------------------- availability


@attrs.frozen
class GpuVerdict:
    """The GPUReady outcome: True makes the condition True; False makes the template NotAvailable."""

    available: bool
    reason: str
    message: str

    @property
    def state(self) -> r.TemplateStatus:
        return r.TemplateStatus.READY if self.available else r.TemplateStatus.NOT_AVAILABLE


def _wanted(gpu: r.GpuRequirements) -> tuple[str, ...]:
    """The models a spec names, as written: `model`, then `models` (D18), blanks dropped."""
    return tuple(m for m in (gpu.model, *(gpu.models or ())) if m is not None and m.strip())


def requires_gpu(gpu: r.GpuRequirements | None) -> bool:
    """Whether the template needs a GPU node at all: requests > 0 or a model named.
    Only these templates read Nodes, get GPUReady, and can be NotAvailable."""
    return gpu is not None and ((gpu.requests or 0) > 0 or bool(_wanted(gpu)))


def _min_vram(gpu: r.GpuRequirements) -> int:
    return parse_quantity(gpu.min_vram) if gpu.min_vram is not None else 0


def _vram_shortfall(minimum: int, inventory: GpuInventory) -> GpuVerdict | None:
    """VRAMNotAvailable when no model has `minimum` bytes; the highest is named, ties by name."""
    highest, highest_model = 0, ""
    for model, info in inventory.gpus.items():
        vram = info.vram or 0
        if vram >= minimum:
            return None
        if vram > highest:
            highest, highest_model = vram, model
    best = f"{highest_model} ({_gi(highest)})" if highest_model else "none detected"
    return GpuVerdict(
        False,
        "VRAMNotAvailable",
        f"Required minimum VRAM ({_gi(minimum)}) exceeds available GPUs. Highest available: {best}",
    )


def gpu_availability(gpu: r.GpuRequirements | None, inventory: GpuInventory) -> GpuVerdict | None:
    """GPUReady for a template's spec.hardware.gpu; None when it requires no GPU (no condition).

    minVram is checked first, then the model: a blank model accepts any GPU, a named one must be
    an inventory key after normalising. With several models any one present suffices. Messages
    are the reference's, with model lists sorted.
    """
    if gpu is None or not requires_gpu(gpu):
        return None
    minimum = _min_vram(gpu)
    if minimum != 0 and (shortfall := _vram_shortfall(minimum, inventory)) is not None:
        return shortfall
    present = inventory.models
    wanted = _wanted(gpu)
    if not wanted:
        if present:
            return GpuVerdict(
                True, "GPUAvailable", "GPU available (any model accepted): " + ", ".join(present)
            )
        return GpuVerdict(False, "GPUNotAvailable", "No GPUs available in cluster")
    for model in wanted:
        normalized = normalize_gpu_model(model)
        if normalized in inventory.gpus:
            return GpuVerdict(True, "GPUAvailable", f"GPU model '{normalized}' is available")
    available = ", ".join(present) or "none"
    if len(wanted) == 1:
        required = f"Required GPU model '{wanted[0]}'"
    else:  # the wording of the reference generation that had a models list
        required = f"Required GPU models '{', '.join(wanted)}'"
    return GpuVerdict(
        False, "GPUNotAvailable", f"{required} not available in cluster. Available: {available}"
    )


def node_affinity(gpu: r.GpuRequirements | None, inventory: GpuInventory) -> tuple[str, ...] | None:
    """The device ids for a required `amd.com/gpu.device-id In [...]` node affinity, sorted.

    Named models: all their ids from the static table, whatever the cluster has. Otherwise
    minVram: the ids of every inventory model with enough VRAM. None without a GPU requirement,
    without either, or without any id (an unknown model: the pod may land on any node). A model
    together with minVram is refused by validation (H2); the model wins here.
    """
    if gpu is None or not requires_gpu(gpu):
        return None
    wanted = _wanted(gpu)
    if wanted:
        ids = {device_id for model in wanted for device_id in device_ids(model)}
    else:
        minimum = _min_vram(gpu)
        if minimum == 0:
            return None
        ids = {
            device_id
            for model, info in inventory.gpus.items()
            if (info.vram or 0) >= minimum
            for device_id in device_ids(model)
        }
    return tuple(sorted(ids)) or None


def cluster_inventory(
    nodes: Mapping[str, Mapping[str, str]] | None, gpus: Iterable[str] | None = None
) -> GpuInventory:
    """The inventory a reconcile uses: from the Nodes when they were observed (an empty mapping is a
    cluster without nodes: no GPU at all); else (None) from a list
    of GPU models (simulate's --gpus: each as a node labelled with its family, VRAM from the
    static table); else every known AMD model, for "any GPU may be scheduled" (D28)."""
    if nodes is not None:
        return gpu_inventory(nodes.items())
    if gpus is not None:
        return gpu_inventory((f"gpu-{model}", {FAMILY_LABEL: model}) for model in gpus)
    return gpu_inventory((f"gpu-{model}", {FAMILY_LABEL: model}) for model in DEVICE_IDS_BY_MODEL)
