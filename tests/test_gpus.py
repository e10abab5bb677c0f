"""GPU inventory from Node labels and GPU availability (reference-template-controller §1.2, §3, §4; D25)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore.gpus import (
    DEVICE_ID_LABEL,
    DEVICE_ID_LABEL_BETA,
    DEVICE_IDS_BY_MODEL,
    FAMILY_LABEL,
    FAMILY_LABEL_BETA,
    GPU_READY,
    KNOWN_AMD_DEVICES,
    KNOWN_GPU_VRAM,
    VRAM_LABEL,
    VRAM_LABEL_BETA,
    GpuInfo,
    GpuInventory,
    GpuVerdict,
    VramSource,
    device_ids,
    device_model,
    gpu_availability,
    gpu_inventory,
    node_affinity,
    node_gpu_model,
    normalize_gpu_model,
    parse_quantity,
    parse_vram,
    requires_gpu,
)

GI = 1024**3
TI = 1024**4

#: The reference's kind cluster (hack/kind/config.yaml): the e2e suite's only GPU "hardware".
KIND_NODES: list[tuple[str, Mapping[str, str]]] = [
    ("kind-control-plane", {"kubernetes.io/hostname": "kind-control-plane"}),
    ("kind-worker", {DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "192G"}),
    ("kind-worker2", {DEVICE_ID_LABEL: "75a0", VRAM_LABEL: "288G"}),
]
KIND = gpu_inventory(KIND_NODES)
EMPTY = GpuInventory()


def gpu(**fields: object) -> r.GpuRequirements:
    return r.GpuRequirements(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ tables


def test_device_table_is_the_reference_table() -> None:
    assert dict(KNOWN_AMD_DEVICES) == {
        "738c": "MI100",
        "738e": "MI100",
        "7408": "MI250X",
        "740c": "MI250X",
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
        "7550": "RX9070",
        "744c": "RX7900",
        "73af": "RX6900",
        "73bf": "RX6800",
    }


def test_inverse_device_table() -> None:
    assert dict(DEVICE_IDS_BY_MODEL) == {
        "MI100": ("738c", "738e"),
        "MI210": ("740f", "7410"),
        "MI250X": ("7408", "740c"),
        "MI300A": ("74a0",),
        "MI300X": ("74a1", "74a9", "74b5", "74bd"),
        "MI308X": ("74a2", "74a8", "74b6"),
        "MI325X": ("74a5", "74b9"),
        "MI350X": ("75a0", "75b0"),
        "MI355X": ("75a3", "75b3"),
        "V710": ("7460", "7461"),
        "W7900": ("7448", "744a"),
        "W7800": ("7449", "745e"),
        "W6900X": ("73a2",),
        "W6800": ("73a3",),
        "W6800X": ("73ab",),
        "V620": ("73a1", "73ae"),
        "RX9070": ("7550",),
        "RX7900": ("744c",),
        "RX6900": ("73af",),
        "RX6800": ("73bf",),
    }
    assert "MI250" not in DEVICE_IDS_BY_MODEL  # 740c is MI250X


def test_static_vram_table() -> None:
    assert dict(KNOWN_GPU_VRAM) == {
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
    # Every model a device id can produce has a static VRAM, and every table name is already normal.
    assert set(KNOWN_GPU_VRAM) == set(DEVICE_IDS_BY_MODEL)
    assert all(normalize_gpu_model(model) == model for model in KNOWN_GPU_VRAM)


def test_constants_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        KNOWN_AMD_DEVICES["ffff"] = "X"  # type: ignore[index]


@pytest.mark.parametrize(
    ("device_id", "model"),
    [
        ("74a1", "MI300X"),
        ("74A1", "MI300X"),
        ("0x74a1", "MI300X"),
        ("0X74A1", "MI300X"),
        ("740c", "MI250X"),
        ("abcd", "AMD-ABCD"),
        ("0xabcd", "AMD-ABCD"),
        ("0x", "AMD-"),
    ],
)
def test_device_model(device_id: str, model: str) -> None:
    assert device_model(device_id) == model


@pytest.mark.parametrize(
    ("model", "ids"),
    [
        ("MI300X", ("74a1", "74a9", "74b5", "74bd")),
        ("AMD Instinct MI325X", ("74a5", "74b9")),
        ("mi355x", ("75a3", "75b3")),
        ("MI250", ()),
        ("NONEXISTENT-GPU-MODEL-12345", ()),
        ("", ()),
    ],
)
def test_device_ids(model: str, ids: tuple[str, ...]) -> None:
    assert device_ids(model) == ids


# ------------------------------------------------------------------ NormalizeGPUModel


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        # The vectors of reference-template-controller §1.2.
        ("mi300x", "MI300X"),
        ("AMD Instinct MI300X", "MI300X"),
        ("MI300X (rev 2)", "MI300X"),
        ("AMD_Instinct_MI300X_OAM", "MI300X"),
        ("Instinct-MI325X", "MI325X"),
        ("RX7900-XTX", "RX7900"),
        ("AI", "AI"),
        ("MI250", "MI250"),
        ("NONEXISTENT-GPU-MODEL-12345", "12345"),
        ("MI300X,MI325X", "MI300X,MI325X"),
        ("AMD-74A1", "74A1"),
        # Edges of the same algorithm.
        ("", ""),
        ("   ", ""),
        ("  mi300x  ", "MI300X"),
        ("a/b:MI300X", "MI300X"),
        ("INSTINCTMI300X", "MI300X"),  # the reference strips a glued-on INSTINCT
        ("amd_instinct", "AMD"),  # only skipped tokens: the first token
        ("---", "---"),  # no token at all: the upper-cased text
    ],
)
def test_normalize_gpu_model(text: str, normalized: str) -> None:
    assert normalize_gpu_model(text) == normalized


@given(st.text(alphabet="aAmMiIdDxX0123456789 -_/:(),", max_size=20))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_gpu_model(text)
    assert normalize_gpu_model(once) == once


# ------------------------------------------------------------------- labels -> model


@pytest.mark.parametrize(
    ("labels", "model"),
    [
        ({DEVICE_ID_LABEL: "74a1"}, "MI300X"),
        ({DEVICE_ID_LABEL_BETA: "74a5"}, "MI325X"),
        ({DEVICE_ID_LABEL: "74a1", DEVICE_ID_LABEL_BETA: "75a0"}, "MI300X"),
        ({DEVICE_ID_LABEL: "  ", DEVICE_ID_LABEL_BETA: "75a0"}, "MI350X"),
        ({DEVICE_ID_LABEL: " 0x74A1 "}, "MI300X"),
        ({DEVICE_ID_LABEL: "74A9"}, "MI300X"),
        ({DEVICE_ID_LABEL: "abcd"}, "AMD-ABCD"),
        # Count-encoded device ids: the id is the key's suffix, the value a count.
        ({f"{DEVICE_ID_LABEL}.75a3": "8"}, "MI355X"),
        ({f"{DEVICE_ID_LABEL}.75a3": "0"}, None),
        ({f"{DEVICE_ID_LABEL}.75a3": " "}, None),
        ({f"{DEVICE_ID_LABEL}.": "1"}, None),
        ({f"{DEVICE_ID_LABEL_BETA}.74a9": "4"}, "MI300X"),
        ({f"{DEVICE_ID_LABEL}.74a1": "0", f"{DEVICE_ID_LABEL}.75a3": "2"}, "MI355X"),
        ({f"{DEVICE_ID_LABEL}.75a3": "1", f"{DEVICE_ID_LABEL}.74a1": "1"}, "MI300X"),  # smallest key
        ({f"{DEVICE_ID_LABEL_BETA}.74a1": "1", f"{DEVICE_ID_LABEL}.75a3": "1"}, "MI355X"),  # primary first
        ({f"{DEVICE_ID_LABEL}.0X74A1": "1"}, "MI300X"),
        ({f"{DEVICE_ID_LABEL}.beef": "1"}, "AMD-BEEF"),
        ({DEVICE_ID_LABEL: "75a0", f"{DEVICE_ID_LABEL}.74a1": "1"}, "MI350X"),  # the value wins
        # Family labels, normalised, only when no device id says more.
        ({FAMILY_LABEL: "MI300X"}, "MI300X"),
        ({FAMILY_LABEL: "AI"}, "AI"),
        ({FAMILY_LABEL_BETA: "AMD Instinct MI325X"}, "MI325X"),
        ({FAMILY_LABEL: "", FAMILY_LABEL_BETA: "ai"}, "AI"),
        ({f"{FAMILY_LABEL}.AI": "1"}, "AI"),
        ({f"{FAMILY_LABEL}.AI": "0"}, None),
        ({f"{FAMILY_LABEL_BETA}.mi210": "2"}, "MI210"),
        ({FAMILY_LABEL: "AI", f"{FAMILY_LABEL}.NV": "1"}, "AI"),
        ({f"{DEVICE_ID_LABEL}.74a1": "1", FAMILY_LABEL: "AI"}, "MI300X"),
        # Nothing the reference reads.
        ({}, None),
        ({"kubernetes.io/hostname": "node-1"}, None),
        ({"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"}, None),
        ({VRAM_LABEL: "192G"}, None),
    ],
)
def test_node_gpu_model(labels: Mapping[str, str], model: str | None) -> None:
    assert node_gpu_model(labels) == model


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("192G", 192 * GI),
        ("288G", 288 * GI),
        ("64g", 64 * GI),
        (" 128G ", 128 * GI),
        ("1T", TI),
        ("2t", 2 * TI),
        ("196608", 196608),  # DOC≠CODE: the reference's docs say MiB, its parser reads bytes
        ("0", 0),
        ("192Gi", 0),
        ("1.5T", 0),
        ("192GB", 0),
        ("-1G", 0),
        ("G", 0),
        ("", 0),
        ("abc", 0),
    ],
)
def test_parse_vram(text: str, size: int) -> None:
    assert parse_vram(text) == size


@pytest.mark.parametrize(
    ("quantity", "size"),
    [
        ("64Gi", 64 * GI),
        ("1Ti", TI),
        ("192Gi", 192 * GI),
        ("500Mi", 500 * 1024**2),
        ("1.5Gi", 1536 * 1024**2),
        ("80G", 80 * 10**9),
        ("1k", 1000),
        ("1E", 10**18),
        ("1e3", 1000),
        ("1E3", 1000),
        ("500m", 1),  # Quantity.Value() rounds up
        ("-0.5", -1),  # ... away from zero
        ("+2", 2),
        ("0", 0),
        (".5Ki", 512),
        (68719476736, 64 * GI),
        (0, 0),
        (2.5, 3),
    ],
)
def test_parse_quantity(quantity: r.Quantity, size: int) -> None:
    assert parse_quantity(quantity) == size


@pytest.mark.parametrize("quantity", ["64GiB", "1 Gi", "", "Gi", "1e", "sixty", True])
def test_parse_quantity_refuses_what_kubernetes_refuses(quantity: r.Quantity) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(quantity)


# ------------------------------------------------------------------------- inventory


def test_kind_cluster_inventory() -> None:
    expected = GpuInventory(
        {
            "MI300X": GpuInfo(192 * GI, VramSource.LABEL),
            "MI350X": GpuInfo(288 * GI, VramSource.LABEL),
        }
    )
    assert expected == KIND
    assert KIND.models == ("MI300X", "MI350X")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "192G"}, {"MI300X": GpuInfo(192 * GI, VramSource.LABEL)}),
        ({DEVICE_ID_LABEL: "74a1", VRAM_LABEL_BETA: "100G"}, {"MI300X": GpuInfo(100 * GI, VramSource.LABEL)}),
        (
            {DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "150G", VRAM_LABEL_BETA: "100G"},
            {"MI300X": GpuInfo(150 * GI, VramSource.LABEL)},
        ),
        ({DEVICE_ID_LABEL: "74a5"}, {"MI325X": GpuInfo(256 * GI, VramSource.STATIC)}),
        ({f"{DEVICE_ID_LABEL}.75a3": "8"}, {"MI355X": GpuInfo(288 * GI, VramSource.STATIC)}),
        ({FAMILY_LABEL: "AMD Instinct MI210"}, {"MI210": GpuInfo(64 * GI, VramSource.STATIC)}),
        ({DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "196608"}, {"MI300X": GpuInfo(196608, VramSource.LABEL)}),
        ({DEVICE_ID_LABEL: "74a1", VRAM_LABEL: " "}, {"MI300X": GpuInfo(0, VramSource.LABEL)}),
        ({DEVICE_ID_LABEL: "74a1", VRAM_LABEL: ""}, {"MI300X": GpuInfo(192 * GI, VramSource.STATIC)}),
        ({DEVICE_ID_LABEL: "abcd"}, {"AMD-ABCD": GpuInfo(None, VramSource.UNKNOWN)}),
        ({DEVICE_ID_LABEL: "abcd", VRAM_LABEL: "32G"}, {"AMD-ABCD": GpuInfo(32 * GI, VramSource.LABEL)}),
        ({FAMILY_LABEL: "AI"}, {"AI": GpuInfo(None, VramSource.UNKNOWN)}),
        ({VRAM_LABEL: "192G"}, {}),
        ({}, {}),
    ],
)
def test_vram_label_static_or_unknown(labels: Mapping[str, str], expected: Mapping[str, GpuInfo]) -> None:
    assert gpu_inventory([("node", labels)]) == GpuInventory(expected)


def test_first_node_by_name_fixes_a_models_vram() -> None:
    nodes = [
        ("node-b", {DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "100G"}),
        ("node-a", {DEVICE_ID_LABEL: "74a9", VRAM_LABEL: "50G"}),
        ("node-c", {DEVICE_ID_LABEL: "74bd"}),
    ]
    expected = GpuInventory({"MI300X": GpuInfo(50 * GI, VramSource.LABEL)})
    assert gpu_inventory(nodes) == expected
    assert gpu_inventory(reversed(nodes)) == expected


def test_inventory_iterates_in_model_order() -> None:
    inventory = GpuInventory({"MI350X": GpuInfo(1, VramSource.LABEL), "MI300X": GpuInfo(2, VramSource.LABEL)})
    assert inventory.models == ("MI300X", "MI350X")
    assert list(inventory.gpus) == ["MI300X", "MI350X"]


# ---------------------------------------------------------------------- availability


@pytest.mark.parametrize(
    ("requirements", "required"),
    [
        (None, False),
        (gpu(), False),
        (gpu(requests=0), False),
        (gpu(requests=0, model=""), False),
        (gpu(model="   "), False),
        (gpu(models=()), False),
        (gpu(models=("", " ")), False),
        (gpu(requests=0, min_vram="64Gi"), False),  # minVram alone does not make a GPU requirement
        (gpu(resource_name="amd.com/gpu"), False),
        (gpu(requests=1), True),
        (gpu(model="MI300X"), True),
        (gpu(requests=0, model="MI300X"), True),
        (gpu(models=("MI300X",)), True),
        (gpu(requests=1, min_vram="64Gi"), True),
    ],
)
def test_requires_gpu(requirements: r.GpuRequirements | None, required: bool) -> None:
    assert requires_gpu(requirements) is required


@pytest.mark.parametrize("requirements", [None, gpu(), gpu(requests=0), gpu(requests=0, min_vram="1Ti")])
def test_no_requirement_no_condition(requirements: r.GpuRequirements | None) -> None:
    """CPU-only templates, templates without hardware and requests 0 without a model: no GPUReady,
    never NotAvailable, even in a cluster without GPUs."""
    assert gpu_availability(requirements, EMPTY) is None
    assert gpu_availability(requirements, KIND) is None


def verdict(available: bool, reason: str, message: str) -> GpuVerdict:
    return GpuVerdict(available=available, reason=reason, message=message)


ANY_KIND = verdict(True, "GPUAvailable", "GPU available (any model accepted): MI300X, MI350X")


@pytest.mark.parametrize(
    ("requirements", "inventory", "expected"),
    [
        # A blank model accepts any GPU.
        (gpu(requests=1), KIND, ANY_KIND),
        (gpu(requests=2, model="  "), KIND, ANY_KIND),
        (gpu(requests=1), EMPTY, verdict(False, "GPUNotAvailable", "No GPUs available in cluster")),
        # A named model must be an inventory key after normalising.
        (
            gpu(requests=1, model="MI300X"),
            KIND,
            verdict(True, "GPUAvailable", "GPU model 'MI300X' is available"),
        ),
        (
            gpu(model="AMD Instinct MI350X"),
            KIND,
            verdict(True, "GPUAvailable", "GPU model 'MI350X' is available"),
        ),
        (
            gpu(requests=1, model="MI250X"),
            KIND,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU model 'MI250X' not available in cluster. Available: MI300X, MI350X",
            ),
        ),
        (
            gpu(requests=1, model="NONEXISTENT-GPU-MODEL-12345"),
            KIND,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU model 'NONEXISTENT-GPU-MODEL-12345' not available in cluster. "
                "Available: MI300X, MI350X",
            ),
        ),
        (
            gpu(requests=1, model="mi355x"),  # the message quotes the spec as written
            EMPTY,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU model 'mi355x' not available in cluster. Available: none",
            ),
        ),
        (
            gpu(requests=1, model="MI300X,MI350X"),  # a comma is not a list
            KIND,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU model 'MI300X,MI350X' not available in cluster. Available: MI300X, MI350X",
            ),
        ),
        # minVram first; a met minVram leaves the model rule to answer.
        (gpu(requests=1, min_vram="64Gi"), KIND, ANY_KIND),
        (gpu(requests=1, min_vram="288Gi"), KIND, ANY_KIND),
        (
            gpu(requests=1, min_vram="0"),
            EMPTY,
            verdict(False, "GPUNotAvailable", "No GPUs available in cluster"),
        ),
        (
            gpu(requests=1, min_vram="1Ti"),
            KIND,
            verdict(
                False,
                "VRAMNotAvailable",
                "Required minimum VRAM (1024Gi) exceeds available GPUs. Highest available: MI350X (288Gi)",
            ),
        ),
        (
            gpu(requests=1, min_vram="289Gi"),
            KIND,
            verdict(
                False,
                "VRAMNotAvailable",
                "Required minimum VRAM (289Gi) exceeds available GPUs. Highest available: MI350X (288Gi)",
            ),
        ),
        (
            gpu(requests=1, min_vram="64Gi"),
            EMPTY,
            verdict(
                False,
                "VRAMNotAvailable",
                "Required minimum VRAM (64Gi) exceeds available GPUs. Highest available: none detected",
            ),
        ),
        (
            gpu(requests=1, min_vram="500Mi"),  # whole GiB, truncated, as the reference prints it
            EMPTY,
            verdict(
                False,
                "VRAMNotAvailable",
                "Required minimum VRAM (0Gi) exceeds available GPUs. Highest available: none detected",
            ),
        ),
        (
            gpu(requests=1, model="MI300X", min_vram="1Ti"),  # refused by validation (H2); minVram first
            KIND,
            verdict(
                False,
                "VRAMNotAvailable",
                "Required minimum VRAM (1024Gi) exceeds available GPUs. Highest available: MI350X (288Gi)",
            ),
        ),
        # models: [...] (D18): any listed model present will do.
        (
            gpu(requests=1, models=("MI355X", "MI300X", "MI350X")),
            KIND,
            verdict(True, "GPUAvailable", "GPU model 'MI300X' is available"),
        ),
        (
            gpu(requests=1, models=("MI355X", "MI250X")),
            KIND,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU models 'MI355X, MI250X' not available in cluster. Available: MI300X, MI350X",
            ),
        ),
        (
            gpu(requests=1, models=("MI355X", "")),  # one model: the reference's own wording
            KIND,
            verdict(
                False,
                "GPUNotAvailable",
                "Required GPU model 'MI355X' not available in cluster. Available: MI300X, MI350X",
            ),
        ),
    ],
)
def test_gpu_availability(
    requirements: r.GpuRequirements, inventory: GpuInventory, expected: GpuVerdict
) -> None:
    assert gpu_availability(requirements, inventory) == expected


def test_verdict_state_and_condition_type() -> None:
    assert GPU_READY == "GPUReady"
    assert ANY_KIND.state is r.TemplateStatus.READY
    assert verdict(False, "GPUNotAvailable", "").state is r.TemplateStatus.NOT_AVAILABLE


def test_highest_vram_ties_are_named_by_model() -> None:
    nodes = [
        ("n1", {DEVICE_ID_LABEL: "75a3"}),  # MI355X 288G from the table
        ("n2", {DEVICE_ID_LABEL: "75a0"}),  # MI350X 288G from the table
        ("n3", {DEVICE_ID_LABEL: "abcd"}),  # unknown VRAM
    ]
    assert gpu_availability(gpu(requests=1, min_vram="1Ti"), gpu_inventory(nodes)) == verdict(
        False,
        "VRAMNotAvailable",
        "Required minimum VRAM (1024Gi) exceeds available GPUs. Highest available: MI350X (288Gi)",
    )


def test_unknown_vram_is_never_enough() -> None:
    inventory = gpu_inventory([("n", {DEVICE_ID_LABEL: "abcd"}), ("m", {FAMILY_LABEL: "AI"})])
    assert gpu_availability(gpu(requests=1, min_vram="1Gi"), inventory) == verdict(
        False,
        "VRAMNotAvailable",
        "Required minimum VRAM (1Gi) exceeds available GPUs. Highest available: none detected",
    )


def test_unknown_device_id_cannot_be_named_by_a_template() -> None:
    inventory = gpu_inventory([("n", {DEVICE_ID_LABEL: "74ff"})])
    assert inventory.models == ("AMD-74FF",)
    assert gpu_availability(gpu(requests=1, model="AMD-74FF"), inventory) == verdict(
        False,
        "GPUNotAvailable",
        "Required GPU model 'AMD-74FF' not available in cluster. Available: AMD-74FF",
    )
    assert gpu_availability(gpu(requests=1), inventory) == verdict(
        True, "GPUAvailable", "GPU available (any model accepted): AMD-74FF"
    )


def test_a_node_label_flip_makes_the_template_available() -> None:
    """The e2e node-gpu-label-changes case: MI355X appears when a node is labelled 75a3."""
    requirements = gpu(requests=1, model="MI355X")
    before = gpu_availability(requirements, KIND)
    assert before is not None and before.reason == "GPUNotAvailable"
    labelled = [*KIND_NODES[:2], ("kind-worker2", {DEVICE_ID_LABEL: "75a3"})]
    assert gpu_availability(requirements, gpu_inventory(labelled)) == verdict(
        True, "GPUAvailable", "GPU model 'MI355X' is available"
    )


def test_an_invalid_min_vram_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        gpu_availability(gpu(requests=1, min_vram="64GiB"), KIND)


# ---------------------------------------------------------------------- node affinity


MI300X_IDS = ("74a1", "74a9", "74b5", "74bd")
MI350X_IDS = ("75a0", "75b0")


@pytest.mark.parametrize(
    ("requirements", "inventory", "ids"),
    [
        (None, KIND, None),
        (gpu(), KIND, None),
        (gpu(requests=0, min_vram="64Gi"), KIND, None),  # no GPU requirement
        (gpu(requests=1), KIND, None),  # neither model nor minVram
        (gpu(requests=1, min_vram="0"), KIND, None),
        # A model: its ids from the static table, whatever the cluster has.
        (gpu(requests=1, model="MI300X"), KIND, MI300X_IDS),
        (gpu(requests=1, model="MI300X"), EMPTY, MI300X_IDS),
        (gpu(model="amd instinct mi325x"), EMPTY, ("74a5", "74b9")),
        (gpu(requests=1, model="NONEXISTENT-GPU-MODEL-12345"), KIND, None),
        (gpu(requests=1, models=("MI355X", "MI300X")), EMPTY, tuple(sorted(("75a3", "75b3", *MI300X_IDS)))),
        (gpu(requests=1, models=("MI300X", "mi300x", "NOPE")), EMPTY, MI300X_IDS),
        (gpu(requests=1, model="MI300X", min_vram="1Ti"), KIND, MI300X_IDS),  # H2 refuses; model wins
        # minVram: the ids of every inventory model with enough VRAM.
        (gpu(requests=1, min_vram="64Gi"), KIND, tuple(sorted(MI300X_IDS + MI350X_IDS))),
        (gpu(requests=1, min_vram="192Gi"), KIND, tuple(sorted(MI300X_IDS + MI350X_IDS))),
        (gpu(requests=1, min_vram="200Gi"), KIND, MI350X_IDS),
        (gpu(requests=1, min_vram="1Ti"), KIND, None),
        (gpu(requests=1, min_vram="64Gi"), EMPTY, None),
    ],
)
def test_node_affinity(
    requirements: r.GpuRequirements | None, inventory: GpuInventory, ids: tuple[str, ...] | None
) -> None:
    assert node_affinity(requirements, inventory) == ids


def test_min_vram_affinity_skips_models_without_device_ids() -> None:
    inventory = gpu_inventory(
        [
            ("a", {DEVICE_ID_LABEL: "abcd", VRAM_LABEL: "512G"}),
            ("b", {FAMILY_LABEL: "AI", VRAM_LABEL: "512G"}),
        ]
    )
    assert node_affinity(gpu(requests=1, min_vram="256Gi"), inventory) is None


# ------------------------------------------------------------------------- properties

_LABEL_KEYS = [
    DEVICE_ID_LABEL,
    DEVICE_ID_LABEL_BETA,
    f"{DEVICE_ID_LABEL}.74a1",
    f"{DEVICE_ID_LABEL}.75a0",
    f"{DEVICE_ID_LABEL_BETA}.75a3",
    FAMILY_LABEL,
    FAMILY_LABEL_BETA,
    f"{FAMILY_LABEL}.AI",
    VRAM_LABEL,
    VRAM_LABEL_BETA,
    "kubernetes.io/hostname",
]
_LABEL_VALUES = [
    "",
    "0",
    "1",
    "4",
    "74a1",
    "0x74A9",
    "75a0",
    "75a3",
    "740c",
    "abcd",
    "AI",
    "MI300X",
    "64G",
    "192G",
    "288G",
    "1T",
]
labels_st = st.dictionaries(st.sampled_from(_LABEL_KEYS), st.sampled_from(_LABEL_VALUES), max_size=5)
nodes_st = st.lists(
    st.tuples(st.text(alphabet="abc-", min_size=1, max_size=4), labels_st),
    max_size=6,
    unique_by=lambda node: node[0],
)
_MODELS = [None, "", "MI300X", "mi350x", "AMD Instinct MI355X", "MI250X", "AI", "NONEXISTENT-GPU-MODEL-12345"]
requirements_st = st.builds(
    r.GpuRequirements,
    requests=st.sampled_from([None, 0, 1, 8]),
    model=st.sampled_from(_MODELS),
    models=st.none() | st.lists(st.sampled_from(_MODELS[2:]), max_size=3).map(tuple),
    min_vram=st.sampled_from([None, "0", "64Gi", "192Gi", "200Gi", "1Ti", 1]),
)


@given(nodes_st, st.data())
def test_inventory_is_independent_of_node_order(
    nodes: list[tuple[str, dict[str, str]]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(nodes))
    assert gpu_inventory(shuffled) == gpu_inventory(nodes)
    assert gpu_inventory(nodes) == gpu_inventory(list(nodes))


@given(nodes_st, requirements_st)
def test_answers_are_deterministic_and_sorted(
    nodes: list[tuple[str, dict[str, str]]], requirements: r.GpuRequirements
) -> None:
    inventory = gpu_inventory(nodes)
    assert gpu_availability(requirements, inventory) == gpu_availability(requirements, gpu_inventory(nodes))
    assert inventory.models == tuple(sorted(inventory.models))
    ids = node_affinity(requirements, inventory)
    assert ids is None or (ids == tuple(sorted(set(ids))) and all(i in KNOWN_AMD_DEVICES for i in ids))
    outcome = gpu_availability(requirements, inventory)
    assert (outcome is None) is (not requires_gpu(requirements))


@given(nodes_st, labels_st, requirements_st)
def test_a_new_node_never_takes_availability_away(
    nodes: list[tuple[str, dict[str, str]]], labels: dict[str, str], requirements: r.GpuRequirements
) -> None:
    """A node that sorts after the others can only add models. (One that sorts first can lower
    the VRAM of a model it shares: see the next test.)"""
    before = gpu_availability(requirements, gpu_inventory(nodes))
    after = gpu_availability(requirements, gpu_inventory([*nodes, ("~new", labels)]))
    if before is not None and before.available:
        assert after is not None and after.available


@given(nodes_st, st.text(alphabet="abc-~", min_size=1, max_size=5), labels_st, requirements_st)
def test_a_new_node_never_takes_a_model_away(
    nodes: list[tuple[str, dict[str, str]]],
    name: str,
    labels: dict[str, str],
    requirements: r.GpuRequirements,
) -> None:
    """Without minVram, any new node, wherever it sorts, keeps an available template available."""
    requirements = r.GpuRequirements(
        requests=requirements.requests, model=requirements.model, models=requirements.models
    )
    before = gpu_availability(requirements, gpu_inventory(nodes))
    others = [node for node in nodes if node[0] != name]
    after = gpu_availability(requirements, gpu_inventory([*others, (name, labels)]))
    if before is not None and before.available and len(others) == len(nodes):
        assert after is not None and after.available


def test_a_node_sorting_first_fixes_vram_even_when_lower() -> None:
    """The reference's first-node-wins VRAM is kept: a new MI300X node labelled 64G that lists
    before the 192G one lowers MI300X's VRAM, so minVram 128Gi stops being met."""
    requirements = gpu(requests=1, min_vram="128Gi")
    assert gpu_availability(requirements, KIND) == ANY_KIND
    shrunk = gpu_inventory([*KIND_NODES[:2], ("a-small", {DEVICE_ID_LABEL: "74a1", VRAM_LABEL: "64G"})])
    assert shrunk.gpus["MI300X"] == GpuInfo(64 * GI, VramSource.LABEL)
    assert gpu_availability(requirements, shrunk) == verdict(
        False,
        "VRAMNotAvailable",
        "Required minimum VRAM (128Gi) exceeds available GPUs. Highest available: MI300X (64Gi)",
    )
