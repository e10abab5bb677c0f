"""Derived names must equal the reference operator's, byte for byte (DECISIONS D1-D3)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore.images import InvalidImageReference, normalize_image
from aimcore.naming import (
    CustomTemplateKey,
    auto_model_name,
    custom_model_name,
    custom_template_name,
    derived_name,
    finetuned_copy_name,
    go_json,
    is_valid_label,
    profile_name,
    reference_model_name,
    rfc1123_part,
    template_name,
)

# --------------------------------------------------------------- §3.3 primitives


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a__b", "a--b"),
        ("C.D", "c-d"),
        ("---", "part"),
        ("", "part"),
        ("-Ab-", "ab"),
        ("x" * 70, "x" * 63),
        ("a" * 62 + "-b", "a" * 62),
        ("İstanbul", "istanbul"),
        ("ü", "part"),
    ],
)
def test_rfc1123_part(text: str, expected: str) -> None:
    assert rfc1123_part(text) == expected


def test_derived_name_vector_sanitises_each_part() -> None:
    assert derived_name(["a__b", "C.D"], ["x"]) == "a--b-c-d-ba2df490"


def test_derived_name_without_hash_uses_placeholder_parts() -> None:
    assert derived_name(["---", ""]) == "part-part"


def test_hash_of_one_string_is_sha256_of_its_json() -> None:
    assert derived_name(["n"], ["abc"], hash_length=12) == "n-6cc43f858fbb"
    assert hashlib.sha256(b'"abc"').hexdigest().startswith("6cc43f858fbb")


def test_hash_joins_json_inputs_with_pipes() -> None:
    assert derived_name(["n"], ["m", 0, "x"]) == "n-487795a1"
    assert hashlib.sha256(b'"m"|0|"x"').hexdigest()[:8] == "487795a1"


def test_derived_name_shortens_first_longest_part_and_trims_dashes() -> None:
    name = derived_name(["a" * 40, "b" * 40], ["k"])
    assert len(name) == 63
    assert name.startswith("a" * 26 + "-" + "b" * 27 + "-")  # ties trim the first part


def test_derived_name_respects_max_length() -> None:
    assert len(derived_name(["abcdefgh", "ijkl"], ["k"], max_length=20)) <= 20


@pytest.mark.parametrize(("hash_length", "max_length"), [(0, 63), (65, 63), (8, 0), (8, 64)])
def test_derived_name_rejects_bad_options(hash_length: int, max_length: int) -> None:
    with pytest.raises(ValueError):
        derived_name(["a"], ["b"], hash_length=hash_length, max_length=max_length)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (0, "0"),
        (-3, "-3"),
        ("abc", '"abc"'),
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ("é日本", '"é日本"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ('q"\\', '"q\\"\\\\"'),
        ("\n\t\x01", '"\\n\\t\\u0001"'),
        ("\ud800", '"\ufffd"'),
    ],
)
def test_go_json(value: str | int | None, expected: str) -> None:
    assert go_json(value) == expected


# --------------------------------------------------------------- §3.2 templates


@pytest.mark.parametrize(
    ("model", "image", "gpu_model", "gpu_count", "metric", "precision", "expected"),
    [
        (
            "test-model",
            "test-image:v1",
            "MI300X",
            2,
            "throughput",
            "fp16",
            "test-image-v1-2x-mi300x-thr-fp16-c6bf",
        ),
        ("test-model", "test-image:v1", "", 0, "", "", "test-image-v1-part-70ea"),
        ("test-model", "test-image:v1", "", 4, "", "", "test-image-v1-x4-36fa"),
        ("test-model", "test:latest", "", 0, "custom_metric", "", "test-latest-custom-metric-2c13"),
        (
            "qwen-qwen3-32b",
            "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5",
            "MI300X",
            1,
            "latency",
            "fp8",
            "amdenterpriseai-aim-qwen-qwen3-32b-0-8-5-1x-mi300x-lat-fp8-c381",
        ),
        (
            "qwen-qwen3-32b",
            "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5",
            "MI300X",
            2,
            "throughput",
            "fp16",
            "amdenterpriseai-aim-qwen-qwen3-32b-0-8-2x-mi300x-thr-fp16-8753",
        ),
        (
            "my-model",
            "ghcr.io/amd/very-long-model-name-that-exceeds-kubernetes-limits-by-quite-a-lot:1.0.0",
            "MI300X",
            8,
            "latency",
            "bf16",
            "ghcr-io-amd-very-long-model-name-that-e-8x-mi300x-lat-bf16-936f",
        ),
        (
            "llama",
            "Registry.IO/Org/Llama_3:V1",
            "MI300X",
            1,
            "latency",
            "fp16",
            "registry-io-org-llama-3-v1-1x-mi300x-lat-fp16-df95",
        ),
    ],
)
def test_template_name_vectors(
    model: str, image: str, gpu_model: str, gpu_count: int, metric: str, precision: str, expected: str
) -> None:
    assert template_name(model, image, gpu_model, gpu_count, metric, precision) == expected


def test_template_name_lengths_of_shortened_vectors() -> None:
    image = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
    assert len(template_name("qwen-qwen3-32b", image, "MI300X", 1, "latency", "fp8")) == 63
    assert len(template_name("qwen-qwen3-32b", image, "MI300X", 2, "throughput", "fp16")) == 62


def test_template_name_gpu_only_and_differs_by_inputs() -> None:
    assert template_name("m", "img:1", "MI300X", 0, "", "").startswith("img-1-mi300x-")
    base = template_name("m", "img:1", "MI300X", 2, "latency", "fp8")
    assert base != template_name("m", "img:1", "MI300X", 2, "latency", "fp16")
    assert base != template_name("other", "img:1", "MI300X", 2, "latency", "fp8")
    assert base == template_name("m", "img:1", "MI300X", 2, "latency", "fp8")


# --------------------------------------------------------------- §4.2 custom templates

_MODEL = "my-custom-qwen"


@pytest.mark.parametrize(
    ("model", "index", "entry", "expected"),
    [
        (_MODEL, 0, None, "my-custom-qwen-custom-4a20e66e"),
        (
            _MODEL,
            0,
            CustomTemplateKey(name="high-memory", has_gpu=True, gpu_requests=2),
            "my-custom-qwen-custom-high-memory-2f79a15b",
        ),
        (_MODEL, 1, CustomTemplateKey(name="standard"), "my-custom-qwen-custom-standard-ded887fd"),
        (_MODEL, 0, CustomTemplateKey(), "my-custom-qwen-custom-46c45d67"),
        (
            _MODEL,
            0,
            CustomTemplateKey(
                name="fast",
                has_profile=True,
                metric="latency",
                precision="fp8",
                has_gpu=True,
                gpu_requests=1,
                gpu_model="MI300X",
            ),
            "my-custom-qwen-custom-fast-fp8-mi300x-08f131ad",
        ),
        ("m", 0, CustomTemplateKey(name="Fast_Path"), "m-custom-fast-path-823167cd"),
        (
            "a-very-long-custom-model-name-that-is-quite-long-indeed-x",
            3,
            CustomTemplateKey(
                name="high-memory-variant",
                has_profile=True,
                precision="bf16",
                has_gpu=True,
                gpu_requests=4,
                gpu_model="MI325X",
            ),
            "a-very-long-custo-custom-high-memory-varia-bf16-mi325x-6359e6ef",
        ),
    ],
)
def test_custom_template_name_vectors(
    model: str, index: int, entry: CustomTemplateKey | None, expected: str
) -> None:
    assert custom_template_name(model, index, entry) == expected


def test_custom_template_empty_entry_differs_from_auto_template() -> None:
    assert custom_template_name(_MODEL, 0, None) != custom_template_name(_MODEL, 0, CustomTemplateKey())


def test_custom_template_none_fields_hash_like_empty_strings() -> None:
    with_none = CustomTemplateKey(name=None, has_profile=True, has_gpu=True)
    with_empty = CustomTemplateKey(
        name="", has_profile=True, precision="", metric="", has_gpu=True, gpu_model=""
    )
    assert custom_template_name(_MODEL, 2, with_none) == custom_template_name(_MODEL, 2, with_empty)


def test_custom_template_profile_and_gpu_presence_change_the_hash() -> None:
    plain = custom_template_name(_MODEL, 0, CustomTemplateKey(name="a"))
    assert plain != custom_template_name(_MODEL, 0, CustomTemplateKey(name="a", has_profile=True))
    assert plain != custom_template_name(_MODEL, 0, CustomTemplateKey(name="a", has_gpu=True))


# --------------------------------------------------------------- §7.2 custom models

_BASE = "ghcr.io/silogen/aim-base:0.7.0"


@pytest.mark.parametrize(
    ("base", "sources", "expected"),
    [
        (_BASE, [("my-org/my-model", "s3://bucket/model", "")], "my-org-my-model-770ab756"),
        (
            _BASE,
            [("my-org/my-model", "s3://bucket/model", "https://minio-1.local")],
            "my-org-my-model-4089a3ad",
        ),
        (
            _BASE,
            [("Meta-Llama/Llama-3.1-70B", "hf://Meta-Llama/Llama-3.1-70B", "")],
            "meta-llama-llama-3-1-70b-f10237e2",
        ),
        (_BASE, [], "custom-model-75f5d0d1"),
        (
            "amdenterpriseai/aim-base:latest",
            [("Qwen/Qwen3-32B", "hf://Qwen/Qwen3-32B", "")],
            "qwen-qwen3-32b-06844ba1",
        ),
    ],
)
def test_custom_model_name_vectors(base: str, sources: list[tuple[str, str, str]], expected: str) -> None:
    assert custom_model_name(base, sources) == expected


# --------------------------------------------------------------- §7.1 reference auto-model names


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/amd/llama-3-8b:v1.0.0", "llama-3-8b-v1-0-0-f15afcca"),
        ("ghcr.io/amd/llama:v1", "llama-v1-b1033728"),
        ("amdenterpriseai/aim-qwen-qwen3-32b:0.8.5", "aim-qwen-qwen3-32b-0-8-5-cdc1fb22"),
        ("registry.example.com:5000/models/mistral:latest", "mistral-latest-cc9c0d55"),
        ("ghcr.io/amd/model@sha256:abc123def456", "model-abc123-cbd63f4c"),
        ("ghcr.io/amd/model", "model-latest-962085c9"),
        ("nginx", "nginx-latest-723886a6"),
        ("localhost:5000/my_image:Dev.1", "my-image-dev-1-8d2662e0"),
    ],
)
def test_reference_model_name_vectors(image: str, expected: str) -> None:
    assert reference_model_name(image) == expected


@pytest.mark.parametrize(
    ("image", "message"),
    [(":::invalid", "image name is empty after sanitization"), ("", "image reference is empty")],
)
def test_reference_model_name_errors(image: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reference_model_name(image)


# --------------------------------------------------------------- D2 auto models


def test_auto_model_name_is_one_per_normalised_image() -> None:
    assert auto_model_name("qwen:1") == auto_model_name("docker.io/library/qwen:1")
    assert auto_model_name("amdenterpriseai/aim-qwen-qwen3-32b:0.8.5") == auto_model_name(
        "docker.io/amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"
    )
    assert auto_model_name("index.docker.io/library/qwen:1") == auto_model_name("qwen:1")


def test_auto_model_name_shape() -> None:
    digest = hashlib.sha256(b"docker.io/library/qwen:1").hexdigest()
    assert auto_model_name("qwen:1") == f"auto-{digest[:12]}"
    assert auto_model_name(" qwen:1 ") == auto_model_name("qwen:1")


def test_auto_model_name_distinguishes_tags_and_registries() -> None:
    assert auto_model_name("qwen:1") != auto_model_name("qwen:2")
    assert auto_model_name("qwen:1") != auto_model_name("ghcr.io/library/qwen:1")
    assert auto_model_name("qwen") != auto_model_name("qwen:latest")


def test_auto_model_name_rejects_bad_references() -> None:
    with pytest.raises(InvalidImageReference):
        auto_model_name("Qwen:1")


# --------------------------------------------------------------- reference-finetuned §6.3, §12.1


def test_finetuned_copy_name_vector() -> None:
    name = finetuned_copy_name(
        model_name="ft-qwen",
        version="0.11.0",
        precision="fp8",
        gpu_model="MI300X",
        aim_id="qwen/qwen3-32b",
        model_id="qwen/qwen3-32b-fp8",
        owner_name="qwen3-mi300",
        owner_namespace="",
        metric="latency",
    )
    assert name == "ft-qwen-ft-0-11-0-fp8-mi300x-809baf25"


def _copy(owner: str, namespace: str) -> str:
    return finetuned_copy_name("ft", "0.11.0", "fp8", "MI300X", "a/b", "a/b-fp8", owner, namespace, "latency")


def test_finetuned_copy_names_distinguish_owners_and_scopes() -> None:
    names = {_copy("one", ""), _copy("two", ""), _copy("one", "team-a"), _copy("one", "team-b")}
    assert len(names) == 4
    assert _copy("one", "") == _copy("one", "")


def test_finetuned_copy_name_skips_empty_parts() -> None:
    assert finetuned_copy_name("ft", "", "", "", "a", "b", "o", "", "").startswith("ft-ft-")


def test_profile_name_vector() -> None:
    assert profile_name("qwen", "tp2") == "qwen-tp2-52b7b852"


# --------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("a-b-1", True),
        ("0abc", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("", False),
        ("-a", False),
        ("a-", False),
        ("A", False),
        ("a_b", False),
        ("a.b", False),
        ("a\n", False),
    ],
)
def test_is_valid_label(name: str, valid: bool) -> None:
    assert is_valid_label(name) is valid


# --------------------------------------------------------------- properties

_parts = st.lists(st.text(max_size=80), min_size=1, max_size=5)
_hash_inputs = st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=20)), max_size=6)


@given(_parts, _hash_inputs)
def test_derived_names_are_labels(parts: list[str], inputs: list[str | int | None]) -> None:
    name = derived_name(parts, inputs)
    assert is_valid_label(name)
    assert name == derived_name(parts, inputs)


@given(_parts)
def test_unhashed_derived_names_are_labels(parts: list[str]) -> None:
    assert is_valid_label(derived_name(parts))


@given(st.text(max_size=100))
def test_rfc1123_part_is_a_label(text: str) -> None:
    assert is_valid_label(rfc1123_part(text))


@given(
    st.text(max_size=70),
    st.text(max_size=120),
    st.text(max_size=20),
    st.integers(min_value=0, max_value=64),
    st.sampled_from(["", "latency", "throughput", "other"]),
    st.sampled_from(["", "fp8", "bf16"]),
)
def test_template_names_are_labels(
    model: str, image: str, gpu: str, count: int, metric: str, precision: str
) -> None:
    assert is_valid_label(template_name(model, image, gpu, count, metric, precision))


@given(
    st.text(max_size=70),
    st.integers(min_value=0, max_value=15),
    st.none()
    | st.builds(
        CustomTemplateKey,
        name=st.none() | st.text(max_size=63),
        has_profile=st.booleans(),
        precision=st.none() | st.text(max_size=8),
        metric=st.none() | st.text(max_size=12),
        has_gpu=st.booleans(),
        gpu_requests=st.integers(min_value=0, max_value=8),
        gpu_model=st.none() | st.text(max_size=64),
    ),
)
def test_custom_template_names_are_labels(model: str, index: int, entry: CustomTemplateKey | None) -> None:
    assert is_valid_label(custom_template_name(model, index, entry))


_familiar = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8})?(:[a-z0-9][a-z0-9.-]{0,6})?", fullmatch=True)


@given(_familiar)
def test_auto_model_names_ignore_the_spelling(ref: str) -> None:
    name = auto_model_name(ref)
    assert name == auto_model_name(normalize_image(ref))
    assert is_valid_label(name)
    assert len(name) == len("auto-") + 12
