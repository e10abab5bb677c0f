"""Template selection (D17, reference-operator §6) and resource resolution (D15)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimcore import resources as r
from aimcore import services
from aimcore.naming import auto_model_name
from aimcore.plan import Apply
from aimcore.resolution import lookup_model, merge_quantities, resolve_resources
from aimcore.selection import How, auto_select, rank, select_template
from aimcore.snapshot import Snapshot

NS = "team"


def tpl(
    name: str,
    *,
    cluster: bool = False,
    type_: str | None = "optimized",
    gpu: str | None = "MI300X",
    count: int | None = 1,
    metric: str | None = "latency",
    precision: str | None = "fp8",
    state: r.TemplateStatus | None = r.TemplateStatus.READY,
    profile: bool = True,
    model: str = "m",
    resources: r.ResourceRequirements | None = None,
    hardware: r.Hardware | None = None,
) -> r.Template:
    metadata = r.ProfileMetadata(gpu=gpu, gpu_count=count, metric=metric, precision=precision, type=type_)
    status = r.AIMServiceTemplateStatus(
        status=state, profile=r.TemplateProfile(metadata=metadata) if profile else None
    )
    spec = r.AIMServiceTemplateSpec(model_name=model, resources=resources, hardware=hardware)
    if cluster:
        return r.AIMClusterServiceTemplate(
            api_version=r.V1ALPHA1,
            kind="AIMClusterServiceTemplate",
            metadata=r.ObjectMeta(name=name, uid=f"uid-{name}"),
            spec=spec,
            status=status,
        )
    return r.AIMServiceTemplate(
        api_version=r.V1ALPHA1,
        kind="AIMServiceTemplate",
        metadata=r.ObjectMeta(name=name, namespace=NS, uid=f"uid-{name}"),
        spec=spec,
        status=status,
    )


def model(name: str = "m", *, cluster: bool = False, **spec: object) -> r.Model:
    status = r.AIMModelStatus(status=r.Status.READY)
    if cluster:
        return r.AIMClusterModel(
            api_version=r.V1ALPHA1,
            kind="AIMClusterModel",
            metadata=r.ObjectMeta(name=name, uid=f"uid-c-{name}"),
            spec=r.AIMModelSpec(**spec),  # type: ignore[arg-type]
            status=status,
        )
    return r.AIMModel(
        api_version=r.V1ALPHA1,
        kind="AIMModel",
        metadata=r.ObjectMeta(name=name, namespace=NS, uid=f"uid-{name}"),
        spec=r.AIMModelSpec(**spec),  # type: ignore[arg-type]
        status=status,
    )


def names(selection_templates: tuple[r.Template, ...]) -> list[str]:
    return [str(t.metadata.name) for t in selection_templates]


# --------------------------------------------------------------------- ranking


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        ({"type_": "optimized", "gpu": "MI210"}, {"type_": "preview", "gpu": "MI325X"}),
        ({"type_": "preview"}, {"type_": "unoptimized"}),
        ({"gpu": "MI325X", "metric": "throughput"}, {"gpu": "MI300X", "metric": "latency"}),
        ({"gpu": "MI300X"}, {"gpu": "MI250X"}),
        ({"gpu": "MI250X"}, {"gpu": "MI210"}),
        ({"gpu": "MI210"}, {"gpu": "MI100"}),
        ({"metric": "latency", "precision": "fp32"}, {"metric": "throughput", "precision": "fp4"}),
        ({"precision": "fp4"}, {"precision": "int4"}),
        ({"precision": "int4"}, {"precision": "fp8"}),
        ({"precision": "fp8"}, {"precision": "int8"}),
        ({"precision": "int8"}, {"precision": "fp16"}),
        ({"precision": "fp16"}, {"precision": "bf16"}),
        ({"precision": "bf16"}, {"precision": "fp32"}),
    ],
)
def test_ranking(better: Mapping[str, str], worse: Mapping[str, str]) -> None:
    a, b = tpl("a", **better), tpl("b", **worse)  # type: ignore[arg-type]
    assert rank(a) < rank(b)
    for order in ([a, b], [b, a]):
        chosen = auto_select(order, allow_unoptimized=True)
        assert chosen.how is How.AUTO
        assert chosen.template is a
        verdicts = {v.label: v.reason for v in chosen.verdicts}
        assert verdicts == {"a (namespace)": "selected", "b (namespace)": "ranked below a (namespace)"}


def test_missing_profile_counts_as_unoptimized() -> None:
    bare = tpl("bare", profile=False)
    assert auto_select([bare]).how is How.NONE_ELIGIBLE
    assert auto_select([bare], allow_unoptimized=True).template is bare
    assert rank(bare)[0] == rank(tpl("u", type_="unoptimized"))[0]


def test_tie_is_ambiguous_and_names_the_tied() -> None:
    chosen = auto_select([tpl("a"), tpl("b"), tpl("c", precision="fp16")])
    assert chosen.how is How.AMBIGUOUS
    assert chosen.template is None
    assert names(chosen.tied) == ["a", "b"]
    reasons = {v.label: v.reason for v in chosen.verdicts}
    assert reasons["a (namespace)"] == "tied with a (namespace), b (namespace)"
    assert reasons["c (namespace)"] == "ranked below the tied templates"


# --------------------------------------------------------------------- filters


def test_filters_name_each_candidate() -> None:
    candidates = [
        tpl("pending", state=r.TemplateStatus.PENDING),
        tpl("gone", state=r.TemplateStatus.NOT_AVAILABLE),
        tpl("preview", type_="preview"),
        tpl("unopt", type_="unoptimized"),
        tpl("unset", type_=None),
        tpl("mi210", gpu="MI210"),
    ]
    chosen = auto_select(candidates, gpus=frozenset({"MI300X"}))
    assert chosen.how is How.WAITING  # "pending" may still become Ready
    reasons = {v.label: v.reason for v in chosen.verdicts}
    assert reasons == {
        "gone (namespace)": "not Ready (status NotAvailable)",
        "mi210 (namespace)": "GPU MI210 is not present in the cluster (present: MI300X)",
        "pending (namespace)": "not Ready (status Pending)",
        "preview (namespace)": (
            "profile type is preview; only optimized templates qualify without allowUnoptimized: true"
        ),
        "unopt (namespace)": (
            "profile type is unoptimized; only optimized templates qualify without allowUnoptimized: true"
        ),
        "unset (namespace)": (
            "profile type is unset; only optimized templates qualify without allowUnoptimized: true"
        ),
    }
    settled = auto_select(candidates[1:], gpus=frozenset({"MI300X"}))
    assert settled.how is How.NONE_ELIGIBLE


def test_gpus_none_means_any() -> None:
    assert auto_select([tpl("x", gpu="MI100")], gpus=None).how is How.AUTO
    assert auto_select([tpl("cpu", gpu=None)], gpus=frozenset()).how is How.AUTO


def test_overrides_case_insensitive() -> None:
    a = tpl("a", metric="Latency", precision="FP8", gpu="mi300x", count=2)
    b = tpl("b", metric="throughput", precision="fp16", gpu="MI325X", count=1)
    by_metric = r.ServiceOverrides(metric=r.Metric.THROUGHPUT)
    assert auto_select([a, b], overrides=by_metric).template is b
    by_precision = r.ServiceOverrides(precision=r.Precision.FP8)
    assert auto_select([a, b], overrides=by_precision).template is a
    by_gpu = r.ServiceOverrides(gpu_selector=r.GpuSelector(model="MI300X"))
    assert auto_select([a, b], overrides=by_gpu).template is a
    by_count = r.ServiceOverrides(gpu_selector=r.GpuSelector(count=1))
    chosen = auto_select([a, b], overrides=by_count)
    assert chosen.template is b
    assert {v.label: v.reason for v in chosen.verdicts}[
        "a (namespace)"
    ] == "GPU count 2 does not match override 1"


def test_namespace_template_shadows_cluster_template() -> None:
    local = tpl("same", precision="fp16")
    shared = tpl("same", cluster=True, precision="fp4")
    chosen = auto_select([shared, local])
    assert chosen.template is local
    reasons = {v.label: v.reason for v in chosen.verdicts}
    assert reasons["same (cluster)"] == "shadowed by the namespace template of the same name"


# --------------------------------------------------------------------- explicit and default


def test_explicit_name_bypasses_filters_namespace_first() -> None:
    m = model()
    local = tpl("pick", type_="unoptimized")
    shared = tpl("pick", cluster=True)
    other = tpl("only-cluster", cluster=True, state=r.TemplateStatus.PENDING)
    snapshot = Snapshot.build([m, local, shared, other])
    chosen = select_template(r.TemplateSelector(name="pick"), None, m, NS, snapshot)
    assert (chosen.how, chosen.template) == (How.EXPLICIT, local)
    chosen = select_template(r.TemplateSelector(name="only-cluster"), None, m, NS, snapshot)
    assert (chosen.how, chosen.template) == (How.EXPLICIT, other)
    missing = select_template(r.TemplateSelector(name="nope"), None, m, NS, snapshot)
    assert (missing.how, missing.template, missing.note) == (How.NOT_FOUND, None, "nope")


def test_default_service_template_when_ready() -> None:
    m = model(default_service_template="dflt")
    best = tpl("best", precision="fp4")
    dflt = tpl("dflt", type_="unoptimized", precision="fp32")
    chosen = select_template(None, None, m, NS, Snapshot.build([m, best, dflt]))
    assert (chosen.how, chosen.template) == (How.DEFAULT, dflt)
    not_ready = tpl("dflt", state=r.TemplateStatus.PROGRESSING)
    chosen = select_template(None, None, m, NS, Snapshot.build([m, best, not_ready]))
    assert (chosen.how, chosen.template) == (How.AUTO, best)
    assert chosen.note == "the model's defaultServiceTemplate dflt is not Ready; selecting automatically"


def test_auto_selection_uses_both_scopes_and_only_the_models_templates() -> None:
    m = model()
    snapshot = Snapshot.build(
        [m, tpl("ns", precision="fp16"), tpl("cl", cluster=True, precision="fp8"), tpl("other", model="x")],
        gpus=["MI300X"],
    )
    chosen = select_template(None, None, m, NS, snapshot)
    assert chosen.template is not None and chosen.template.metadata.name == "cl"
    assert sorted(v.label for v in chosen.verdicts) == ["cl (cluster)", "ns (namespace)"]


# --------------------------------------------------------------------- properties

TYPES = st.sampled_from(["optimized", "preview", "unoptimized", None, "", "bogus"])
GPUS = st.sampled_from(["MI325X", "MI300X", "MI250X", "MI210", "MI100", None])
METRICS = st.sampled_from(["latency", "throughput", None])
PRECISIONS = st.sampled_from(["fp4", "int4", "fp8", "int8", "fp16", "bf16", "fp32", None])
STATES = st.sampled_from([r.TemplateStatus.READY, r.TemplateStatus.PENDING, r.TemplateStatus.NOT_AVAILABLE])


@st.composite
def templates(draw: st.DrawFn) -> list[r.Template]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        tpl(
            f"t{i}",
            cluster=draw(st.booleans()),
            type_=draw(TYPES),
            gpu=draw(GPUS),
            metric=draw(METRICS),
            precision=draw(PRECISIONS),
            state=draw(STATES),
            profile=draw(st.booleans()),
        )
        for i in range(count)
    ]


@given(templates(), st.booleans(), st.one_of(st.none(), st.frozensets(GPUS.filter(bool), max_size=3)))
def test_never_unoptimized_unless_allowed(
    candidates: list[r.Template], allow: bool, gpus: frozenset[str] | None
) -> None:
    chosen = auto_select(candidates, allow_unoptimized=allow, gpus=gpus)
    assert len(chosen.verdicts) == len(candidates)
    if chosen.template is None:
        return
    assert chosen.template.status is not None and chosen.template.status.status is r.TemplateStatus.READY
    profile = chosen.template.status.profile
    if not allow:
        assert profile is not None and profile.metadata is not None
        assert profile.metadata.type == "optimized"
    assert all(
        rank(chosen.template) < rank(v.template) for v in chosen.verdicts if v.reason.startswith("ranked")
    )


@given(templates())
def test_named_template_is_taken_whatever_its_type(candidates: list[r.Template]) -> None:
    m = model()
    snapshot = Snapshot.build([m, *candidates])
    for candidate in candidates:
        chosen = select_template(r.TemplateSelector(name=str(candidate.metadata.name)), None, m, NS, snapshot)
        assert chosen.how is How.EXPLICIT and chosen.template is not None
        assert chosen.template.metadata.name == candidate.metadata.name


KEYS = st.sampled_from(["cpu", "memory", "amd.com/gpu", "ephemeral-storage", "example.com/x"])
QUANTITIES = st.one_of(st.integers(min_value=0, max_value=64), st.sampled_from(["1", "500m", "64Gi", "2.5"]))
LAYERS = st.one_of(st.none(), st.dictionaries(KEYS, QUANTITIES, max_size=4))


@given(LAYERS, LAYERS, LAYERS, LAYERS, LAYERS, LAYERS, st.one_of(st.none(), st.integers(0, 8)))
def test_merge_precedence_every_key(
    s_req: dict[str, r.Quantity] | None,
    s_lim: dict[str, r.Quantity] | None,
    t_req: dict[str, r.Quantity] | None,
    t_lim: dict[str, r.Quantity] | None,
    m_req: dict[str, r.Quantity] | None,
    m_lim: dict[str, r.Quantity] | None,
    gpu_count: int | None,
) -> None:
    template = tpl("t", count=gpu_count, resources=r.ResourceRequirements(requests=t_req, limits=t_lim))
    owner = model(resources=r.ResourceRequirements(requests=m_req, limits=m_lim))
    result = resolve_resources(r.ResourceRequirements(requests=s_req, limits=s_lim), template, owner)
    for layers, got in (
        ((s_req, t_req, m_req), result.requests if result else None),
        ((s_lim, t_lim, m_lim), result.limits if result else None),
    ):
        got = dict(got or {})
        for key in set().union(*(layer or {} for layer in layers)) - {"amd.com/gpu"}:
            expected = next(layer[key] for layer in layers if layer and key in layer)
            assert got[key] == expected
            assert type(got[key]) is type(expected)
        # The GPU is one key for both sides: the highest layer naming it, its limit first.
        sides = (s_lim, s_req, t_lim, t_req, m_lim, m_req)
        named = next((side["amd.com/gpu"] for side in sides if side and "amd.com/gpu" in side), None)
        assert got.get("amd.com/gpu") == (named if named is not None else gpu_count or None)
        assert set(got) <= set().union(*(layer or {} for layer in layers)) | {"amd.com/gpu"}


IMAGE_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True)
TAGS = st.from_regex(r"[0-9][0-9a-z.]{0,5}", fullmatch=True)


@given(IMAGE_NAMES, TAGS)
def test_auto_created_name_stable_across_spellings(name: str, tag: str) -> None:
    spellings = [
        f"{name}:{tag}",
        f"library/{name}:{tag}",
        f"docker.io/library/{name}:{tag}",
        f" {name}:{tag} ",
    ]
    assert len({auto_model_name(s) for s in spellings}) == 1
    # a model created for one spelling is reused by a service that writes another
    existing = model(auto_model_name(spellings[2]), image=spellings[2])
    service = r.AIMService(
        api_version=r.V1ALPHA1,
        kind="AIMService",
        metadata=r.ObjectMeta(name="svc", namespace=NS, uid="uid-svc", generation=1),
        spec=r.AIMServiceSpec(model=r.ServiceModel(image=spellings[0])),
    )
    plan = services.reconcile_service(service, Snapshot.build([existing, service]))
    assert not any(isinstance(a, Apply) for a in plan.actions)
    assert plan.status.resolved_model.name == auto_model_name(spellings[0])


# --------------------------------------------------------------------- D15 / D16 units


def test_resources_per_key_and_gpu_fill() -> None:
    template = tpl(
        "t",
        count=2,
        resources=r.ResourceRequirements(requests={"cpu": "8", "memory": "64Gi"}, limits={"memory": "96Gi"}),
        hardware=r.Hardware(gpu=r.GpuRequirements(requests=2, resource_name="amd.com/xgpu")),
    )
    owner = model(resources=r.ResourceRequirements(requests={"cpu": 2, "ephemeral-storage": "10Gi"}))
    got = resolve_resources(r.ResourceRequirements(requests={"memory": "128Gi"}), template, owner)
    assert got == r.ResourceRequirements(
        requests={"memory": "128Gi", "cpu": "8", "ephemeral-storage": "10Gi", "amd.com/xgpu": 2},
        limits={"memory": "96Gi", "amd.com/xgpu": 2},
    )
    explicit = resolve_resources(r.ResourceRequirements(limits={"amd.com/xgpu": "4"}), template, owner)
    assert explicit is not None
    assert explicit.limits == {"memory": "96Gi", "amd.com/xgpu": "4"}
    # A GPU request must equal its limit: the service's 4 sets both sides.
    assert explicit.requests is not None and explicit.requests["amd.com/xgpu"] == "4"
    assert resolve_resources(None, tpl("none", count=None), model()) is None
    assert merge_quantities({"a": 1}, None, {"a": 2, "b": 3}) == {"a": 1, "b": 3}


def test_lookup_model_namespace_then_cluster() -> None:
    local, shared, only = model("x"), model("x", cluster=True), model("y", cluster=True)
    snapshot = Snapshot.build([local, shared, only])
    assert lookup_model(NS, "x", snapshot) is local
    assert lookup_model(NS, " x ", snapshot) is local
    assert lookup_model("elsewhere", "x", snapshot) is shared
    assert lookup_model(NS, "y", snapshot) is only
    assert lookup_model(NS, "z", snapshot) is None
    assert lookup_model(NS, "", snapshot) is None
