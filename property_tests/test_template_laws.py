"""Laws of the template reconciler (issue 13): determinism, Nodes, inline sources, the Job limit.

The reconciler is called directly (`reconcile_template`): simulate and the operator do not run
it yet. Inventories are drawn as Nodes labelled the ways the AMD device plugin labels them.
"""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aimcore import discoveryjob, gpus
from aimcore import resources as r
from aimcore.discoveryjob import DiscoveryObservation, JobObservation
from aimcore.runtimeconfig import resolve
from aimcore.snapshot import Snapshot
from aimcore.template_status import TemplateOutcome, reconcile_template
from property_tests.strategies import aim_models, model_sources, service_templates

NOW = "2026-03-01T10:00:00Z"
DEVICE_IDS = sorted(gpus.KNOWN_AMD_DEVICES)


@st.composite
def node_labels(draw: st.DrawFn) -> dict[str, str]:
    """One Node's labels: a device id (plain, beta or count-encoded), a family, or none."""
    device = draw(st.sampled_from(DEVICE_IDS))
    form = draw(st.sampled_from(["id", "beta", "count", "family", "none"]))
    labels = {
        "id": {gpus.DEVICE_ID_LABEL: device},
        "beta": {gpus.DEVICE_ID_LABEL_BETA: device},
        "count": {f"{gpus.DEVICE_ID_LABEL}.{device}": "8"},
        "family": {gpus.FAMILY_LABEL: gpus.KNOWN_AMD_DEVICES[device]},
        "none": {},
    }[form]
    if draw(st.booleans()):
        labels[gpus.VRAM_LABEL] = draw(st.sampled_from(["64G", "128G", "192G", "256G", "288G"]))
    return labels


nodes = st.dictionaries(st.from_regex(r"node-[a-z0-9]{1,6}", fullmatch=True), node_labels(), max_size=5)


def run(
    template: r.AIMServiceTemplate,
    model: r.AIMModel | None,
    inventory: gpus.GpuInventory,
    seen: DiscoveryObservation | None = None,
) -> TemplateOutcome:
    return reconcile_template(
        template,
        model=model,
        runtime=resolve(None, template.metadata.namespace, Snapshot(objects={})),
        inventory=inventory,
        discovery=seen or DiscoveryObservation(),
        now=NOW,
        operator_namespace="aim-system",
    )


def owned(template: r.AIMServiceTemplate, model: r.AIMModel) -> r.AIMModel:
    """The template's model: same namespace, the name the template asks for."""
    meta = attrs.evolve(model.metadata, name=template.spec.model_name, namespace=template.metadata.namespace)
    return attrs.evolve(model, metadata=meta)


@given(service_templates(namespace="team"), aim_models(namespace="team"), nodes, st.randoms())
def test_the_outcome_is_a_function_of_the_inputs(
    template: r.AIMServiceTemplate, model: r.AIMModel, found: dict[str, dict[str, str]], rnd: object
) -> None:
    model = owned(template, model)
    items = list(found.items())
    first = run(template, model, gpus.gpu_inventory(items))
    assert run(template, model, gpus.gpu_inventory(reversed(items))) == first
    assert run(template, model, gpus.gpu_inventory(items)) == first


@given(service_templates(namespace="team"), aim_models(namespace="team"), nodes, node_labels())
def test_adding_a_node_never_takes_availability_away(
    template: r.AIMServiceTemplate, model: r.AIMModel, found: dict[str, dict[str, str]], extra: dict[str, str]
) -> None:
    """Without minVram (where the first node of a model fixes its VRAM, a documented exception)."""
    gpu = template.spec.hardware.gpu if template.spec.hardware else None
    if gpu is not None and gpu.min_vram is not None:
        template = attrs.evolve(
            template,
            spec=attrs.evolve(
                template.spec,
                hardware=attrs.evolve(template.spec.hardware, gpu=attrs.evolve(gpu, min_vram=None)),
            ),
        )
    model = owned(template, model)
    before = run(template, model, gpus.gpu_inventory(found.items()))
    after = run(template, model, gpus.gpu_inventory([*found.items(), ("zz-added", extra)]))
    if before.status.status is not r.TemplateStatus.NOT_AVAILABLE:
        assert after.status.status is not r.TemplateStatus.NOT_AVAILABLE


@given(service_templates(namespace="team"), aim_models(namespace="team"), nodes, model_sources())
def test_a_template_with_inline_sources_never_gets_a_job(
    template: r.AIMServiceTemplate, model: r.AIMModel, found: dict[str, dict[str, str]], source: r.ModelSource
) -> None:
    template = attrs.evolve(template, spec=attrs.evolve(template.spec, model_sources=(source,)))
    outcome = run(template, owned(template, model), gpus.gpu_inventory(found.items()))
    assert outcome.job is None
    assert outcome.status.model_sources == (source,)


@given(
    service_templates(namespace="team"),
    aim_models(namespace="team", image="ghcr.io/acme/m:1"),
    st.integers(min_value=0, max_value=14),
)
def test_no_job_starts_while_ten_are_active(
    template: r.AIMServiceTemplate, model: r.AIMModel, active: int
) -> None:
    template = attrs.evolve(template, spec=attrs.evolve(template.spec, model_sources=None, hardware=None))
    jobs = tuple(
        JobObservation(name=f"discover-other-{i}", namespace="team", labels=dict(discoveryjob.JOB_SELECTOR))
        for i in range(active)
    )
    outcome = run(
        template, owned(template, model), gpus.cluster_inventory(None, None), DiscoveryObservation(jobs=jobs)
    )
    if outcome.status.status is r.TemplateStatus.FAILED:  # e.g. a model without an image
        assert outcome.job is None
    elif active >= discoveryjob.ACTIVE_JOB_LIMIT:
        assert outcome.job is None and outcome.requeue_after == discoveryjob.ACTIVE_LIMIT_REQUEUE_SECONDS
    else:
        assert outcome.job is not None
