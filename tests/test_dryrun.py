"""The dry run's output (reference-template-controller §2.3, §3.1; DECISIONS D26-D27): reading
the discovery Job's log, and the result as status."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcore import codec, dryrun, gojson
from aimcore import resources as r

VECTOR_MODEL = "test-model-discovery-namespace"

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def _spec(**kw: Any) -> r.AIMServiceTemplateSpec:
    kw.setdefault("model_name", VECTOR_MODEL)
    kw.setdefault("hardware", r.Hardware(gpu=r.GpuRequirements(requests=1, model="MI300X")))
    return r.AIMServiceTemplateSpec(**kw)


# --------------------------------------------------------------------- §2.3 reading the log


def _output(
    engine: object = "vllm", gpu_count: object = 1, count_key: str = "gpu_count", **extra: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "filename": "profile.yaml",
        "profile": {
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "quantized_model": "",
            "metadata": {
                "engine": engine,
                "gpu": "MI300X",
                count_key: gpu_count,
                "metric": "latency",
                "precision": "fp8",
                "type": "optimized",
            },
            "engine_args": {"tensor_parallel_size": 2},
            "env_vars": {"VLLM_ATTENTION_BACKEND": "ROCM_FLASH"},
        },
        "models": [
            {
                "name": "meta-llama/Llama-3.1-8B-Instruct",
                "source": "hf://meta-llama/Llama-3.1-8B-Instruct",
                "size_gb": 16.06,
            }
        ],
    }
    result.update(extra)
    return result


PURE = json.dumps([_output()])


def _ok(log: str) -> dryrun.DryRunResult:
    parsed = dryrun.parse_dry_run(log)
    assert isinstance(parsed, dryrun.DryRunResult), parsed
    return parsed


def _bad(log: str) -> dryrun.DryRunError:
    parsed = dryrun.parse_dry_run(log)
    assert isinstance(parsed, dryrun.DryRunError), parsed
    assert parsed.reason == "DiscoveryOutputInvalid"
    return parsed


@pytest.mark.parametrize(
    "log",
    [
        PURE,
        f"  \n{PURE}\n",
        f"WARNING: something\nINFO [rocm] probing\n{PURE}",  # stderr first, with a stray [
        f"{PURE}\nINFO Done.\nDEBUG Cleanup complete",  # trailing noise without ]
        f"===== Discovery Starting =====\n{PURE}\n===== Discovery Complete =====",
        json.dumps({"results": [_output()]}),  # not an array: the fallback finds the inner one
        json.dumps([_output(), _output(engine="tgi")]),  # only the first counts
    ],
    ids=["pure", "whitespace", "stderr-before", "trailing-noise", "both-sides", "wrapped", "first-only"],
)
def test_readable_logs(log: str) -> None:
    result = _ok(log)
    metadata = result.profile.metadata
    assert (metadata.engine, metadata.gpu, metadata.gpu_count) == ("vllm", "MI300X", 1)
    assert (metadata.metric, metadata.precision, metadata.type) == ("latency", "fp8", "optimized")
    assert result.profile.engine_args == {"tensor_parallel_size": 2}
    assert result.profile.env_vars == {"VLLM_ATTENTION_BACKEND": "ROCM_FLASH"}
    assert result.models == (
        dryrun.DryRunModel(
            name="meta-llama/Llama-3.1-8B-Instruct",
            source="hf://meta-llama/Llama-3.1-8B-Instruct",
            size_gb=16.06,
        ),
    )
    assert result.filename == "profile.yaml"


@pytest.mark.parametrize(
    ("log", "cause"),
    [
        (f"{PURE}\nINFO [done]", "no JSON array of results found"),  # trailing ] defeats the fallback
        ("[]", "it is an empty array"),
        ("null", "it is an empty array"),
        ("not json at all", "no JSON array of results found"),
        ("", "no JSON array of results found"),
        ('[{"unclosed": "object"', "no JSON array of results found"),
        ('{"key": "value"}', "json: cannot unmarshal object into the output of type array"),
        (
            json.dumps([_output(gpu_count="1")]),
            "json: cannot unmarshal string into [0].profile.metadata.gpu_count of type int32",
        ),
        (json.dumps([_output(gpu_count=1.0)]), "number 1.0 into [0].profile.metadata.gpu_count"),
        (json.dumps([_output(gpu_count=2**31)]), "of type int32"),
        (json.dumps([_output(engine=7)]), "number 7 into [0].profile.metadata.engine of type string"),
        (json.dumps([_output(models={})]), "object into [0].models of type array"),
        ('[{"profile": {"engine_args": []}}]', "array into [0].profile.engine_args"),
        ('[{"profile": {"env_vars": {"A": 1}}}]', "number 1 into [0].profile.env_vars.A of type string"),
        ('[{"models": [{"size_gb": "1"}]}]', "string into [0].models[0].size_gb of type float64"),
        ('[{"models": [{"size_gb": 1e400}]}]', "of type float64"),
        ('[{"profile": {"engine_args": {"x": NaN}}}]', "no JSON array of results found"),
        ("[1]", "json: cannot unmarshal number 1 into [0] of type object"),
    ],
)
def test_unreadable_logs(log: str, cause: str) -> None:
    assert cause in _bad(log).cause


def test_gpu_count_is_read_under_either_spelling() -> None:
    """D27: the document's gpu_count and the reference's gpuCount; Go also folds case."""
    for key in ("gpu_count", "gpuCount", "GPU_COUNT", "GpuCount"):
        assert _ok(json.dumps([_output(gpu_count=4, count_key=key)])).profile.metadata.gpu_count == 4
    both = '[{"profile": {"metadata": {"gpu_count": 1, "gpuCount": 2}}}]'
    assert _ok(both).profile.metadata.gpu_count == 2  # the later key wins, as Go assigns in order


def test_unknown_keys_are_ignored_and_go_decoding_rules_apply() -> None:
    output = _output(aim_id="x", extra={"nested": [1, {"deep": None}]})
    output["profile"]["metadata"]["manual_selection_only"] = False
    output["profile"]["metadata"]["Engine"] = "tgi"  # case-folded: a later duplicate of engine
    output["profile"]["engine_args"] = {"b": 1.0, "a": {"z": 1e21, "y": 0.95}, "c": 12345678901234567891}
    output["profile"]["env_vars"] = {"NULL": None, "B": "2"}
    output["unknown_number"] = 1e999  # never converted: unknown keys are only skipped
    result = _ok(json.dumps([output]).replace("Infinity", "1e999"))
    assert result.profile.metadata.engine == "tgi"
    # engine_args as Go writes them back: float64 numbers, integral ones without ".0", keys sorted
    assert result.profile.engine_args == {"a": {"y": 0.95, "z": 1e21}, "b": 1, "c": 12345678901234567000}
    assert list(result.profile.engine_args) == ["a", "b", "c"]
    assert result.profile.env_vars == {"B": "2", "NULL": ""}  # null in a map[string]string is ""


def test_nulls_and_absences_keep_go_zero_values() -> None:
    result = _ok('[{"profile": {"engine_args": null, "env_vars": null, "metadata": null}, "models": null}]')
    assert result == dryrun.DryRunResult()
    assert _ok("[null]") == dryrun.DryRunResult()
    for noisy in ("noise [null]", "noise\n[ null ]\n", "x [null, {}]", "x [ {} ]", 'x [{ "a": 1}]'):
        assert _ok(noisy) == dryrun.DryRunResult()
    for noisy in ("x [nullx]", "x [ null ] ]", "x [{'a': 1}]", "x [1, {}]"):
        _bad(noisy)
    assert _ok('[{"profile": {"engine_args": {}}}]').profile.engine_args == {}
    assert _ok('[{"profile": {"engine": "x", "metadata": {"engine": null}}}]').profile.metadata.engine == ""


def test_duplicate_keys_merge_as_go_merges() -> None:
    log = '[{"profile": {"engine_args": {"a": 1}, "env_vars": {"A": "1"}}, '
    log += '"profile": {"engine_args": {"b": 2}}}]'
    profile = _ok(log).profile
    assert profile.engine_args == {"a": 1, "b": 2}  # the map is reused, not replaced
    assert profile.env_vars == {"A": "1"}
    log = '[{"models": [{"name": "a/b", "size_gb": 1}], "models": [{"source": "hf://a/b"}]}]'
    assert _ok(log).models == (dryrun.DryRunModel(name="a/b", source="hf://a/b", size_gb=1.0),)


def test_error_messages_quote_at_most_200_characters_of_the_end() -> None:
    short = _bad("exec: dry-run: not found")
    assert short.message == (
        'Discovery output is invalid: no JSON array of results found. Output: "exec: dry-run: not found"'
    )
    long_log = "Traceback (most recent call last):\n" + "x" * 500 + "\nValueError: no GPU [MI300X]"
    error = _bad(long_log)
    quoted = json.loads(error.message.split("characters: ", 1)[1])
    assert quoted == long_log[-200:]
    assert "Its last 200 of 563 characters" in error.message
    assert _bad("  \n").message.endswith("It is empty.")


@pytest.mark.parametrize(
    ("models", "cause"),
    [
        ([{"name": "no-slash", "source": "hf://a/b", "size_gb": 1}], 'models[0].name "no-slash" is not'),
        ([{"name": "a/b\n", "source": "hf://a/b", "size_gb": 1}], "models[0].name"),
        ([{"name": "a/b", "source": "http://x", "size_gb": 1}], "models[0].source"),
        ([{"name": "a/b", "source": "hf://a/b", "size_gb": 1e10}], "beyond int64 bytes"),
    ],
)
def test_results_the_crds_would_refuse_are_errors(models: list[dict[str, Any]], cause: str) -> None:
    assert cause in _bad(json.dumps([_output(models=models)])).cause


def test_negative_gpu_count_and_long_gpu_names_are_errors() -> None:
    assert "negative" in _bad(json.dumps([_output(gpu_count=-1)])).cause
    output = _output()
    output["profile"]["metadata"]["gpu"] = "G" * 65
    assert "longer than 64" in _bad(json.dumps([output])).cause


# --------------------------------------------------------------------- §6 the e2e aim-dummy values

AIM_DUMMY_LOG = """\
2026-01-01 00:00:01,123 - aim.runtime - INFO - Selecting profile (gpu=MI300X, count=1)
2026-01-01 00:00:01,456 - aim.runtime - WARNING - [hf] no HF_TOKEN set; public models only
[
  {
    "filename": "vllm-mi300x-fp8-tp1-latency.yaml",
    "profile": {
      "model": "HuggingFaceTB/SmolLM2-135M",
      "quantized_model": "",
      "metadata": {
        "engine": "vllm",
        "gpu": "MI300X",
        "precision": "fp8",
        "gpu_count": 1,
        "metric": "latency",
        "type": "optimized",
        "manual_selection_only": false
      },
      "engine_args": {
        "tensor-parallel-size": 1,
        "gpu-memory-utilization": 0.95,
        "distributed_executor_backend": "mp"
      },
      "env_vars": {
        "VLLM_USE_V1": "0",
        "HIP_FORCE_DEV_KERNARG": "1",
        "NCCL_MIN_NCHANNELS": "112",
        "PYTORCH_TUNABLEOP_ENABLED": "1",
        "PYTORCH_TUNABLEOP_TUNING": "0",
        "PYTORCH_TUNABLEOP_VERBOSE": "1",
        "TORCH_BLAS_PREFER_HIPBLASLT": "1",
        "VLLM_DO_NOT_TRACK": "1",
        "VLLM_USE_TRITON_FLASH_ATTN": "0"
      }
    },
    "models": [
      {"name": "HuggingFaceTB/SmolLM2-135M", "source": "hf://HuggingFaceTB/SmolLM2-135M", "size_gb": 0.5}
    ]
  }
]
"""


def test_e2e_aim_dummy_values() -> None:
    result = _ok(AIM_DUMMY_LOG)
    profile = dryrun.profile_from_result(result)
    assert codec.dump(profile) == {
        "engine_args": {
            "distributed_executor_backend": "mp",
            "gpu-memory-utilization": 0.95,
            "tensor-parallel-size": 1,
        },
        "env_vars": {
            "HIP_FORCE_DEV_KERNARG": "1",
            "NCCL_MIN_NCHANNELS": "112",
            "PYTORCH_TUNABLEOP_ENABLED": "1",
            "PYTORCH_TUNABLEOP_TUNING": "0",
            "PYTORCH_TUNABLEOP_VERBOSE": "1",
            "TORCH_BLAS_PREFER_HIPBLASLT": "1",
            "VLLM_DO_NOT_TRACK": "1",
            "VLLM_USE_TRITON_FLASH_ATTN": "0",
            "VLLM_USE_V1": "0",
        },
        "metadata": {
            "engine": "vllm",
            "gpu": "MI300X",
            "gpu_count": 1,
            "metric": "latency",
            "precision": "fp8",
            "type": "optimized",
        },
    }
    sources = dryrun.model_sources_from_result(result)
    assert sources is not None
    assert [codec.dump(source) for source in sources] == [
        {
            "modelId": "HuggingFaceTB/SmolLM2-135M",
            "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M",
            "size": "512Mi",
        }
    ]
    hardware = dryrun.resolved_hardware_after_discovery(_spec().hardware, result)
    assert hardware == r.Hardware(
        gpu=r.GpuRequirements(requests=1, model="MI300X", resource_name="amd.com/gpu")
    )


def test_profile_leaves_out_what_go_omits() -> None:
    profile = dryrun.profile_from_result(_ok('[{"profile": {"env_vars": {}}, "models": []}]'))
    assert profile == r.TemplateProfile(metadata=r.ProfileMetadata())
    assert codec.dump(profile) == {"metadata": {}}
    assert dryrun.model_sources_from_result(_ok("[{}]")) is None


# --------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("size_gb", "quantity"),
    [
        (0.5, "512Mi"),
        (16.06, "17244293693"),
        (1, "1Gi"),
        (2, "2Gi"),
        (1024, "1Ti"),
        (0, "0"),
        (1.5, "1536Mi"),
        (8.47, "9094593249"),
        (1000 / 2**30, "1k"),
        (-0.5, "-512Mi"),
    ],
)
def test_size_quantity(size_gb: float, quantity: str) -> None:
    assert dryrun.size_quantity(size_gb) == quantity


@pytest.mark.parametrize(
    ("value", "quantity"),
    [
        (1, "1"),
        (100, "100"),
        (1000, "1k"),
        (1020, "1020"),
        (1023, "1023"),
        (1024, "1Ki"),
        (-1000, "-1k"),
        (-1024, "-1Ki"),
        (1025, "1025"),
        (3 * 1024**2, "3Mi"),
        (2**62, "4Ei"),
        (2**63 - 1, "9223372036854775807"),
        (-(2**63), "-9223372036854775808"),
    ],
)
def test_binary_si(value: int, quantity: str) -> None:
    assert dryrun.binary_si(value) == quantity


def test_size_beyond_int64_raises() -> None:
    with pytest.raises(ValueError, match="beyond int64"):
        dryrun.size_quantity(2.0**33)


# --------------------------------------------------------------------- §3.1 resolvedHardware


def _discovered(gpu: str = "", count: int = 0) -> dryrun.DryRunResult:
    return dryrun.DryRunResult(
        profile=dryrun.DryRunProfile(metadata=dryrun.DryRunMetadata(gpu=gpu, gpu_count=count))
    )


@pytest.mark.parametrize(
    ("spec", "discovered", "expected"),
    [
        (None, _discovered(), None),
        (None, _discovered("MI300X", 2), r.Hardware(gpu=r.GpuRequirements(requests=2, model="MI300X"))),
        (
            r.Hardware(gpu=r.GpuRequirements(requests=8, model="MI325X", min_vram="64Gi")),
            _discovered("MI300X", 1),
            r.Hardware(gpu=r.GpuRequirements(requests=1, model="MI300X", resource_name="amd.com/gpu")),
        ),  # minVram with a discovered model would break rule H2 on status.resolvedHardware
        (
            r.Hardware(gpu=r.GpuRequirements(requests=2, min_vram="64Gi")),
            _discovered("", 2),
            r.Hardware(gpu=r.GpuRequirements(requests=2, min_vram="64Gi", resource_name="amd.com/gpu")),
        ),
        (
            r.Hardware(gpu=r.GpuRequirements(requests=1, resource_name="example.com/gpu")),
            _discovered(),  # discovery says 0 / "": the reference keeps that
            r.Hardware(gpu=r.GpuRequirements(requests=0, resource_name="example.com/gpu")),
        ),
        (
            r.Hardware(cpu=r.CpuRequirements(requests="4")),
            _discovered(),
            r.Hardware(cpu=r.CpuRequirements(requests="4")),
        ),
    ],
)
def test_resolved_hardware_after_discovery(
    spec: r.Hardware | None, discovered: dryrun.DryRunResult, expected: r.Hardware | None
) -> None:
    assert dryrun.resolved_hardware_after_discovery(spec, discovered) == expected


# --------------------------------------------------------------------- properties

TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-./:_", max_size=30)


@SETTINGS
@given(st.text(max_size=400))
def test_parse_never_raises_and_quotes_at_most_200_characters(log: str) -> None:
    parsed = dryrun.parse_dry_run(log)
    if isinstance(parsed, dryrun.DryRunError):
        assert parsed.reason == "DiscoveryOutputInvalid"
        if log.strip():
            assert parsed.message.endswith(": " + json.dumps(log[-200:], ensure_ascii=False))


KEYS = st.text(alphabet=string.ascii_letters + "_-", min_size=1, max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(
    engine=TEXT,
    gpu_count=st.integers(0, 2**31 - 1),
    engine_args=st.dictionaries(KEYS, JSON_VALUES, max_size=4),
    env_vars=st.dictionaries(KEYS, TEXT, max_size=4),
    size_gb=st.floats(0, 4096, allow_nan=False),
    noise=st.text(alphabet=string.ascii_letters + " :=\n", max_size=40),
)
def test_a_result_printed_after_noise_reads_back(
    engine: str,
    gpu_count: int,
    engine_args: dict[str, Any],
    env_vars: dict[str, str],
    size_gb: float,
    noise: str,
) -> None:
    output = [
        {
            "profile": {
                "metadata": {"engine": engine, "gpu_count": gpu_count},
                "engine_args": engine_args,
                "env_vars": env_vars,
            },
            "models": [{"name": "org/model", "source": "s3://bucket/key", "size_gb": size_gb}],
        }
    ]
    result = _ok(f"{noise}\n{json.dumps(output, indent=1)}\n{noise}")
    assert result.profile.metadata == dryrun.DryRunMetadata(engine=engine, gpu_count=gpu_count)
    assert result.profile.engine_args == engine_args
    assert result.profile.env_vars == env_vars
    assert result.models == (dryrun.DryRunModel(name="org/model", source="s3://bucket/key", size_gb=size_gb),)
    sources = dryrun.model_sources_from_result(result)
    assert sources is not None and sources[0].size == dryrun.binary_si(int(size_gb * 2**30))


def _literal_fallback(log: str) -> list[dict[str, Any]] | None:
    """extractLastValidJSONArray as the reference writes it: every `[` before the last `]`, slice by slice."""
    last_end = -1
    for index in range(len(log) - 1, -1, -1):
        if log[index] == "]" and last_end == -1:
            last_end = index
        if log[index] == "[" and last_end != -1:
            try:
                results = dryrun._results(gojson.decode(log[index : last_end + 1]))
            except (ValueError, gojson.Mismatch, gojson.NotJson):
                continue
            if results:
                return results
    return None


FRAGMENTS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "null",
        ",",
        " ",
        "\n",
        '"a"',
        ":",
        "1",
        "x",
        '"',
        "{}",
        "[{}]",
        "[null]",
        '{"models": []}',
    ]
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(FRAGMENTS, max_size=30).map("".join))
def test_the_prefiltered_fallback_agrees_with_the_references_scan(log: str) -> None:
    assert dryrun._last_array(log) == _literal_fallback(log)
