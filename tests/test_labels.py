"""Image labels and Env -> ImageMetadata (reference-operator §2 and §9.1, reference-finetuned §10, D5/D6)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore.facts import ImageFacts
from aimcore.labels import (
    DEPLOYMENTS_LABELS,
    MalformedLabel,
    has_aim_labels,
    parse_image_metadata,
)
from aimcore.resources import (
    ImageMetadata,
    Metric,
    ModelMetadata,
    OCIMetadata,
    Precision,
    RecommendedDeployment,
)

RECOMMENDED = "com.amd.aim.model.recommendedDeployments"
DEPLOYMENTS = "com.amd.aim.model.deployments"
LEGACY_RECOMMENDED = "org.amd.silogen.model.recommendedDeployments"
LEGACY_DEPLOYMENTS = "org.amd.silogen.model.deployments"


def parse(labels: dict[str, str] | None = None, env: tuple[str, ...] = ()) -> ImageMetadata:
    return parse_image_metadata(ImageFacts(labels=labels or {}, env=env))


def model(labels: dict[str, str]) -> ModelMetadata:
    metadata = parse(labels).model
    assert metadata is not None
    return metadata


def deployments(value: str, key: str = RECOMMENDED) -> tuple[RecommendedDeployment, ...] | None:
    return model({key: value}).recommended_deployments


def malformed(value: str, key: str = RECOMMENDED) -> MalformedLabel:
    with pytest.raises(MalformedLabel) as caught:
        parse({key: value})
    assert caught.value.label == key
    return caught.value


# ------------------------------------------------------------- §2.1 plain model labels


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tag1 , tag2 , tag3", ("tag1", "tag2", "tag3")),
        (",tag1,tag2", ("tag1", "tag2")),
        ("tag1,tag2,", ("tag1", "tag2")),
        ("one", ("one",)),
        ("a,\u00a0,b\t", ("a", "b")),
        # §9.1 pins "" -> []: an empty list is the reference's omitted field, None here.
        ("", None),
        (" , ,", None),
    ],
)
@pytest.mark.parametrize("suffix", ["tags", "versions", "variants"])
def test_comma_lists(suffix: str, value: str, expected: tuple[str, ...] | None) -> None:
    assert getattr(model({f"com.amd.aim.model.{suffix}": value}), suffix) == expected


@pytest.mark.parametrize(
    ("suffix", "attribute"),
    [
        ("model.canonicalName", "canonical_name"),
        ("model.source", "source"),
        ("title", "title"),
        ("description.full", "description_full"),
        ("release.notes", "release_notes"),
    ],
)
def test_raw_labels_and_legacy_fallback(suffix: str, attribute: str) -> None:
    raw = "  Kept  as written, it's  "
    assert getattr(model({f"com.amd.aim.{suffix}": raw}), attribute) == raw
    assert getattr(model({f"org.amd.silogen.{suffix}": "legacy"}), attribute) == "legacy"
    # An empty AIM label counts as missing (getAMDLabel), a non-empty one wins.
    both_empty = {f"com.amd.aim.{suffix}": "", f"org.amd.silogen.{suffix}": "legacy"}
    assert getattr(model(both_empty), attribute) == "legacy"
    both = {f"com.amd.aim.{suffix}": "new", f"org.amd.silogen.{suffix}": "legacy"}
    assert getattr(model(both), attribute) == "new"
    assert getattr(model({f"com.amd.aim.{suffix}": ""}), attribute) is None
    assert getattr(model({}), attribute) is None


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_hf_token_true(value: str) -> None:
    assert model({"com.amd.aim.hfToken.required": value}).hf_token_required is True


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_hf_token_false(value: str) -> None:
    assert model({"com.amd.aim.hfToken.required": value}).hf_token_required is False


@pytest.mark.parametrize("value", ["not-a-bool", "yes", "tRUE", " true", "2"])
def test_hf_token_invalid_is_ignored(value: str) -> None:
    # §9.1 pins `not-a-bool` -> false, no error: Go's false is its omitted field, None here.
    assert model({"com.amd.aim.hfToken.required": value}).hf_token_required is None


def test_hf_token_absent_and_legacy() -> None:
    assert model({}).hf_token_required is None
    assert model({"org.amd.silogen.hfToken.required": "true"}).hf_token_required is True


# ------------------------------------------------------------------- OCI and the rest


def test_oci_labels_map_by_name_without_fallback() -> None:
    names = ["title", "description", "licenses", "vendor", "authors"]
    names += ["source", "documentation", "created", "revision", "version"]
    labels = {f"org.opencontainers.image.{name}": f"v-{name}" for name in names}
    labels["com.amd.aim.title"] = "AIM title"
    oci = parse(labels).oci
    assert oci == OCIMetadata(**{name: f"v-{name}" for name in names})
    assert parse({"com.amd.aim.title": "x", "org.amd.silogen.description.full": "y"}).oci == OCIMetadata()
    assert parse({"org.opencontainers.image.title": ""}).oci == OCIMetadata()


def test_empty_labels_give_model_and_oci_objects() -> None:
    # §9.1 pin: labels {} -> oci/model non-nil.
    metadata = parse({})
    assert metadata == ImageMetadata(model=ModelMetadata(), oci=OCIMetadata())
    assert metadata.original_labels is None
    assert not has_aim_labels(metadata)


def test_original_labels_are_every_label_as_given() -> None:
    labels = {"com.amd.aim.model.canonicalName": "org/m", "maintainer": "someone", "empty": ""}
    metadata = parse(labels)
    assert metadata.original_labels == labels
    assert metadata.original_labels is not labels


def test_has_aim_labels_follows_canonical_name() -> None:
    assert has_aim_labels(parse({"com.amd.aim.model.canonicalName": "meta-llama/Llama-3.1-8B"}))
    assert has_aim_labels(parse({"org.amd.silogen.model.canonicalName": "meta-llama/Llama-3.1-8B"}))
    assert not has_aim_labels(parse({"org.opencontainers.image.title": "nginx"}))
    assert not has_aim_labels(parse({RECOMMENDED: '[{"gpuModel": "MI300X"}]'}))
    assert not has_aim_labels(ImageMetadata())


# ----------------------------------------------------- reference-finetuned §10: Env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            ("PATH=/usr/bin", "AIM_BASE_IMAGE_REF=docker.io/amdenterpriseai/aim-base:0.8"),
            "docker.io/amdenterpriseai/aim-base:0.8",
        ),
        (("AIM_BASE_IMAGE_REF=bar=baz",), "bar=baz"),
        (("PATH=/usr/bin",), None),
        (("AIM_BASE_IMAGE_REF=",), None),
        ((), None),
        (("AIM_BASE_IMAGE_REF_OLD=wrong",), None),
        (("AIM_BASE_IMAGE_REF_OLD=wrong", "AIM_BASE_IMAGE_REF=right"), "right"),
        (("aim_base_image_ref=lower", "AIM_BASE_IMAGE_REF"), None),
        # The first matching entry decides, even when it is empty.
        (("AIM_BASE_IMAGE_REF=first", "AIM_BASE_IMAGE_REF=second"), "first"),
        (("AIM_BASE_IMAGE_REF=", "AIM_BASE_IMAGE_REF=second"), None),
    ],
)
def test_base_image_ref_from_env(env: tuple[str, ...], expected: str | None) -> None:
    assert parse(env=env).base_image_ref == expected


# ------------------------------------------------------------ §2.2 and D5: deployments


def test_example_label_value() -> None:
    value = (
        '[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp16",'
        '"profileId":"vllm-mi300x-fp16-tp1-latency","description":"Fast"}]'
    )
    assert deployments(value) == (
        RecommendedDeployment(
            gpu_model="MI300X",
            gpu_count=1,
            metric="latency",
            precision="fp16",
            profile_id="vllm-mi300x-fp16-tp1-latency",
            description="Fast",
        ),
    )


def test_python_style_single_quotes() -> None:
    # §9.1 pin.
    value = "[{'gpuModel': 'MI300X', 'gpuCount': 2, 'metric': 'latency'}]"
    assert deployments(value) == (RecommendedDeployment(gpu_model="MI300X", gpu_count=2, metric="latency"),)


def test_apostrophe_in_valid_json_is_kept_d5() -> None:
    # D5 differs from the reference, which turns every ' into " and so breaks this value.
    value = '[{"gpuModel": "MI300X", "description": "it\'s the fast one"}]'
    assert deployments(value) == (RecommendedDeployment(gpu_model="MI300X", description="it's the fast one"),)
    assert deployments('{"description": "it\'s"}') == (RecommendedDeployment(description="it's"),)


def test_comma_separated_objects() -> None:
    # §9.1 pin: two bare objects -> 2 deployments.
    value = '{"gpuModel":"MI300X","gpuCount":1}, {"gpuModel":"MI300X","gpuCount":2}'
    assert deployments(value) == (
        RecommendedDeployment(gpu_model="MI300X", gpu_count=1),
        RecommendedDeployment(gpu_model="MI300X", gpu_count=2),
    )


def test_single_object_and_surrounding_space() -> None:
    expected = (RecommendedDeployment(gpu_model="MI300X", gpu_count=8),)
    assert deployments('{"gpuModel": "MI300X", "gpuCount": 8}') == expected
    assert deployments('\n  [{"gpuModel": "MI300X", "gpuCount": 8}]\t ') == expected
    assert deployments("\u00a0{'gpuModel': 'MI300X', 'gpuCount': 8}\u00a0") == expected


def test_missing_count_is_unset() -> None:
    # §9.1 pins count 0 for a deployment without gpuCount: Go's 0 is its omitted field, None here.
    assert deployments('[{"gpuModel":"MI300X"}]') == (RecommendedDeployment(gpu_model="MI300X"),)
    assert deployments('[{"gpuModel":"MI300X","gpuCount":0}]') == (RecommendedDeployment(gpu_model="MI300X"),)


def test_empty_array_is_present_with_zero_deployments() -> None:
    assert deployments("[]") == ()
    assert deployments(" [ ] ") == ()
    # Only whitespace reads as the reference reads it: wrapped into [].
    assert deployments("   ") == ()


def test_absent_or_empty_label_means_no_deployments() -> None:
    assert model({}).recommended_deployments is None
    assert deployments("") is None


def test_empty_strings_and_nulls_are_unset() -> None:
    value = '[{"gpuModel": "", "metric": null, "precision": "", "profileId": null, "description": ""}, {}]'
    assert deployments(value) == (RecommendedDeployment(), RecommendedDeployment())


def test_unknown_keys_are_ignored() -> None:
    value = '[{"gpuModel": "MI300X", "engine": {"name": "vllm", "args": [1, 2.5, null]}, "tp": 1.5}]'
    assert deployments(value) == (RecommendedDeployment(gpu_model="MI300X"),)


def test_keys_are_case_insensitive() -> None:
    value = (
        '[{"GPUMODEL": "MI300X", "gpucount": 4, "Metric": "latency", "PRECISION": "fp8", "profileid": "p"}]'
    )
    assert deployments(value) == (
        RecommendedDeployment(
            gpu_model="MI300X", gpu_count=4, metric="latency", precision="fp8", profile_id="p"
        ),
    )


def test_key_folding_is_go_folding() -> None:
    # Go folds the long s (U+017F) onto "s"; Python's full case folding would also turn the
    # "fi" ligature into "fi", which Go does not.
    value = '[{"preci\u017fion": "fp8", "pro\ufb01leId": "ignored"}]'
    assert deployments(value) == (RecommendedDeployment(precision="fp8"),)


def test_later_duplicate_key_wins_and_null_keeps_the_earlier_value() -> None:
    value = '[{"gpuModel": "A", "gpumodel": "B", "metric": "latency", "METRIC": null}]'
    assert deployments(value) == (RecommendedDeployment(gpu_model="B", metric="latency"),)


def test_metric_and_precision_are_normalised_to_lowercase() -> None:
    value = '[{"metric": "THROUGHPUT", "precision": "BF16"}, {"metric": "Latency", "precision": "Auto"}]'
    assert deployments(value) == (
        RecommendedDeployment(metric="throughput", precision="bf16"),
        RecommendedDeployment(metric="latency", precision="auto"),
    )


def test_lone_surrogates_become_replacement_characters() -> None:
    assert deployments('[{"gpuModel": "MI\\ud800X"}]') == (RecommendedDeployment(gpu_model="MI\ufffdX"),)


# ---------------------------------------------------------------- D5: which label


def test_document_name_read_when_recommended_is_absent() -> None:
    assert deployments('[{"gpuModel": "MI325X"}]', key=DEPLOYMENTS) == (
        RecommendedDeployment(gpu_model="MI325X"),
    )


def test_recommended_wins_over_document_name() -> None:
    labels = {RECOMMENDED: '[{"gpuModel": "MI300X"}]', DEPLOYMENTS: '[{"gpuModel": "MI325X"}]'}
    assert model(labels).recommended_deployments == (RecommendedDeployment(gpu_model="MI300X"),)


def test_empty_label_falls_back_to_the_next() -> None:
    labels = {RECOMMENDED: "", DEPLOYMENTS: '[{"gpuModel": "MI325X"}]'}
    assert model(labels).recommended_deployments == (RecommendedDeployment(gpu_model="MI325X"),)


@pytest.mark.parametrize("key", [LEGACY_RECOMMENDED, LEGACY_DEPLOYMENTS])
def test_legacy_labels(key: str) -> None:
    assert deployments('[{"gpuModel": "MI250X"}]', key=key) == (RecommendedDeployment(gpu_model="MI250X"),)
    labels = {key: '[{"gpuModel": "MI250X"}]', DEPLOYMENTS: '[{"gpuModel": "MI325X"}]'}
    assert model(labels).recommended_deployments == (RecommendedDeployment(gpu_model="MI325X"),)


def test_legacy_recommended_wins_over_legacy_document_name() -> None:
    labels = {LEGACY_DEPLOYMENTS: '[{"gpuModel": "B"}]', LEGACY_RECOMMENDED: '[{"gpuModel": "A"}]'}
    assert model(labels).recommended_deployments == (RecommendedDeployment(gpu_model="A"),)


def test_deployment_label_order() -> None:
    assert DEPLOYMENTS_LABELS == (RECOMMENDED, DEPLOYMENTS, LEGACY_RECOMMENDED, LEGACY_DEPLOYMENTS)


def test_a_malformed_label_does_not_fall_back() -> None:
    labels = {RECOMMENDED: "{invalid json", DEPLOYMENTS: '[{"gpuModel": "MI325X"}]'}
    with pytest.raises(MalformedLabel) as caught:
        parse(labels)
    assert caught.value.label == RECOMMENDED


def test_error_names_the_label_it_read() -> None:
    assert malformed("[1]", key=LEGACY_DEPLOYMENTS).message == (
        f"label {LEGACY_DEPLOYMENTS}: deployment 0 must be an object, not 1"
    )


# ----------------------------------------------------------------- D6: malformed values


def test_invalid_json() -> None:
    # §9.1 pin: `{invalid json` -> error.
    err = malformed("{invalid json")
    assert err.message == (
        f"label {RECOMMENDED} is not valid JSON: "
        f"Expecting property name enclosed in double quotes at line 1 column 2"
    )
    assert str(err) == err.message
    assert isinstance(err, ValueError)


def test_json_error_position_is_in_the_value_as_written() -> None:
    assert malformed('[{"gpuModel":"MI300X" "gpuCount":1}]').message == (
        f"label {RECOMMENDED} is not valid JSON: Expecting ',' delimiter at line 1 column 23"
    )
    # A bare object is wrapped in [ ] to parse; the column still counts from the value.
    assert malformed('  {"gpuModel":"MI300X" "gpuCount":1}').message == (
        f"label {RECOMMENDED} is not valid JSON: Expecting ',' delimiter at line 1 column 24"
    )
    assert malformed('[\n  {"gpuModel": "MI300X",}\n]').message == (
        f"label {RECOMMENDED} is not valid JSON: "
        f"Expecting property name enclosed in double quotes at line 2 column 25"
    )


def test_quote_swap_failure_reports_the_attempt_that_read_further() -> None:
    # As written it fails at the first ', swapped it fails at the stray " in it"s.
    assert malformed("[{'gpuModel': 'MI300X', 'description': 'it\"s'}]").message == (
        f"label {RECOMMENDED} is not valid JSON: Expecting ',' delimiter at line 1 column 44"
    )


def test_nan_is_not_json() -> None:
    assert (
        malformed('[{"gpuCount": NaN}]').message
        == f"label {RECOMMENDED} is not valid JSON: NaN is not a JSON value"
    )


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    assert "nested too deeply" in malformed("[" * 100_000).message


def test_null_deployment_is_an_error() -> None:
    # The reference turns `null` into one empty deployment; here it is malformed.
    assert malformed("null").message == f"label {RECOMMENDED}: deployment 0 is null"
    assert malformed('[{"gpuModel": "MI300X"}, null]').message == f"label {RECOMMENDED}: deployment 1 is null"


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"x"', '"x"'), ("[]", "an array"), ("true", "true"), ("2.5", "2.5")],
)
def test_deployment_must_be_an_object(value: str, shown: str) -> None:
    assert (
        malformed(f"[{value}]").message == f"label {RECOMMENDED}: deployment 0 must be an object, not {shown}"
    )


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        ('"1"', '"1"'),
        ("1.0", "1.0"),
        ("1e2", "1e2"),
        ("true", "true"),
        ("[1]", "an array"),
        ('{"n": 1}', "an object"),
    ],
)
def test_gpu_count_must_be_an_integer(count: str, shown: str) -> None:
    value = f'[{{"gpuModel": "MI300X"}}, {{"gpuCount": {count}}}]'
    assert (
        malformed(value).message
        == f"label {RECOMMENDED}: deployment 1: gpuCount must be an integer, not {shown}"
    )


@pytest.mark.parametrize("count", ["-1", "2147483648", "9" * 5000])
def test_gpu_count_range(count: str) -> None:
    message = malformed(f'[{{"gpuCount": {count}}}]').message
    assert message.startswith(
        f"label {RECOMMENDED}: deployment 0: gpuCount must be an integer from 0 to 2147483647, not "
    )
    assert len(message) < 200


def test_gpu_count_upper_bound_is_accepted() -> None:
    assert deployments('[{"gpuCount": 2147483647}]') == (RecommendedDeployment(gpu_count=2147483647),)


def test_huge_number_in_an_unknown_key_is_ignored() -> None:
    assert deployments('[{"seed": ' + "9" * 5000 + "}]") == (RecommendedDeployment(),)


@pytest.mark.parametrize("field", ["gpuModel", "profileId", "description", "metric", "precision"])
def test_string_fields_must_be_strings(field: str) -> None:
    assert (
        malformed(f'[{{"{field}": 1}}]').message
        == f"label {RECOMMENDED}: deployment 0: {field} must be a string, not 1"
    )


def test_unknown_metric() -> None:
    assert malformed('[{"gpuModel": "MI300X", "metric": "fast"}]').message == (
        f'label {RECOMMENDED}: deployment 0: metric must be one of latency, throughput, not "fast"'
    )


def test_unknown_precision() -> None:
    assert malformed('[{"precision": "fp8"}, {"precision": "FP64"}]').message == (
        f"label {RECOMMENDED}: deployment 1: precision must be one of "
        'auto, fp4, fp8, fp16, fp32, bf16, int4, int8, not "FP64"'
    )


def test_first_problem_is_reported_even_if_a_later_duplicate_is_valid() -> None:
    # Go's decoder keeps the first type error it meets.
    assert "gpuCount must be an integer" in malformed('[{"gpuCount": "1", "gpuCount": 1}]').message


def test_malformed_label_pickles() -> None:
    err = malformed("null")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.label, copy.message) == (err.label, err.message)


# ------------------------------------------------------------------------ properties

_KEYS = st.sampled_from(
    [
        *DEPLOYMENTS_LABELS,
        "com.amd.aim.model.canonicalName",
        "com.amd.aim.model.tags",
        "org.amd.silogen.model.versions",
        "com.amd.aim.hfToken.required",
        "org.opencontainers.image.title",
    ]
) | st.text(max_size=20)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)

_DEPLOYMENT_KEYS = ["gpuModel", "gpuCount", "precision", "metric", "profileId", "description", "GPUcount"]
_DEPLOYMENT_LIKE = st.lists(
    st.dictionaries(st.sampled_from(_DEPLOYMENT_KEYS) | st.text(max_size=5), _JSON, max_size=4), max_size=3
)


@given(st.dictionaries(_KEYS, st.text(max_size=40), max_size=6), st.lists(st.text(max_size=30), max_size=3))
def test_arbitrary_labels_parse_or_raise_malformed_label(labels: dict[str, str], env: list[str]) -> None:
    try:
        metadata = parse(labels, tuple(env))
    except MalformedLabel as err:
        assert err.label in DEPLOYMENTS_LABELS
        assert err.message.startswith(f"label {err.label}")
    else:
        assert metadata.model is not None
        assert metadata.oci is not None


@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet="[]{}:,'\" \n0123456789.-eE\\truefalsnNI", max_size=60),
        _JSON.map(json.dumps),
        _DEPLOYMENT_LIKE.map(json.dumps),
        _DEPLOYMENT_LIKE.map(lambda value: json.dumps(value).replace('"', "'")),
    )
)
def test_arbitrary_deployment_values_parse_or_raise_malformed_label(value: str) -> None:
    try:
        result = deployments(value)
    except MalformedLabel as err:
        assert err.label == RECOMMENDED
        assert err.message.startswith(f"label {RECOMMENDED}")
    else:
        assert result is None or all(isinstance(item, RecommendedDeployment) for item in result)


_TEXT = st.text(min_size=1, max_size=20)
_DEPLOYMENT = st.fixed_dictionaries(
    {},
    optional={
        "gpuModel": _TEXT,
        "gpuCount": st.integers(min_value=1, max_value=2**31 - 1),
        "precision": st.sampled_from([member.value for member in Precision]),
        "metric": st.sampled_from([member.value for member in Metric]),
        "profileId": _TEXT,
        "description": _TEXT,
    },
)
_ATTRIBUTES = {
    "gpuModel": "gpu_model",
    "gpuCount": "gpu_count",
    "precision": "precision",
    "metric": "metric",
    "profileId": "profile_id",
    "description": "description",
}


def _expected(items: list[dict[str, Any]]) -> tuple[RecommendedDeployment, ...]:
    return tuple(
        RecommendedDeployment(**{_ATTRIBUTES[key]: value for key, value in item.items()}) for item in items
    )


@given(st.lists(_DEPLOYMENT, max_size=4), st.booleans())
def test_json_dumps_round_trip(items: list[dict[str, Any]], ascii_only: bool) -> None:
    # Text may hold apostrophes: valid JSON is never touched by the quote swap (D5).
    assert deployments(json.dumps(items, ensure_ascii=ascii_only)) == _expected(items)


@given(st.lists(_DEPLOYMENT, min_size=1, max_size=4))
def test_bare_comma_separated_objects_round_trip(items: list[dict[str, Any]]) -> None:
    value = ", ".join(json.dumps(item) for item in items)
    assert deployments(value) == _expected(items)


@given(st.lists(_DEPLOYMENT, max_size=3), st.data())
def test_key_case_does_not_matter(items: list[dict[str, Any]], data: st.DataObject) -> None:
    recased = [
        {data.draw(st.sampled_from([key, key.upper(), key.lower()])): value for key, value in item.items()}
        for item in items
    ]
    assert deployments(json.dumps(recased)) == _expected(items)


def test_deployment_model_id_is_read_aimcore_a1() -> None:
    """aimcore reads a deployment's modelId (README, decision A1); the reference ignores the key."""
    assert deployments('[{"gpuModel": "MI300X", "gpuCount": 1, "modelid": "qwen/qwen3-32b-fp8"}]') == (
        RecommendedDeployment(gpu_model="MI300X", gpu_count=1, model_id="qwen/qwen3-32b-fp8"),
    )
