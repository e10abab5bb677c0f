"""Custom templates: weights from spec.modelSources, hardware declared instead of discovered.

A custom model gets one template from custom.hardware, or one per custom
template entry; an image model gets its entries in addition to the discovered
templates. Entries inherit hardware field by field, type (D24) and env.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from aimcore import naming
from aimcore import resources as r
from aimcore.ownership import LABEL_MODEL, LABEL_ORIGIN, LABEL_TEMPLATE_ALIAS, ORIGIN_AUTO
from aimcore.runtimeconfig import merge_env
from aimcore.templates import owned_template


def entries(spec: r.AIMModelSpec) -> tuple[r.CustomTemplate, ...]:
    """Custom template entries in either spelling (D18; validation rejects both at once)."""
    if spec.custom is not None and spec.custom.templates is not None:
        return spec.custom.templates
    return spec.custom_templates or ()


def merge_hardware(base: r.Hardware | None, entry: r.Hardware | None) -> r.Hardware | None:
    """Entry over base, field by field (reference-operator §4.3; minVram merged too, D18)."""
    if base is None:
        return entry
    if entry is None:
        return base
    gpu = base.gpu
    if gpu is None:
        gpu = entry.gpu
    elif entry.gpu is not None:
        override = entry.gpu
        gpu = attrs.evolve(
            gpu,
            requests=override.requests if override.requests else gpu.requests,
            model=override.model or gpu.model,
            models=override.models or gpu.models,
            min_vram=override.min_vram if override.min_vram is not None else gpu.min_vram,
            resource_name=override.resource_name or gpu.resource_name,
        )
        if override.model and override.models is None:
            gpu = attrs.evolve(gpu, models=None)
        elif override.models and override.model is None:
            gpu = attrs.evolve(gpu, model=None)
    cpu = base.cpu
    if cpu is None:
        cpu = entry.cpu
    elif entry.cpu is not None:
        cpu = r.CpuRequirements(
            requests=entry.cpu.requests,
            limits=entry.cpu.limits if entry.cpu.limits is not None else cpu.limits,
        )
    return r.Hardware(gpu=gpu, cpu=cpu)


def effective_type(custom: r.CustomModelSpec | None, entry: r.CustomTemplate | None) -> r.ProfileType:
    """The entry's own type, else custom.type, else unoptimized (D24)."""
    if entry is not None and entry.type is not None:
        return entry.type
    if custom is not None and custom.type is not None:
        return custom.type
    return r.ProfileType.UNOPTIMIZED


def cpu_resources(hardware: r.Hardware | None) -> r.ResourceRequirements | None:
    """CPU-only (or CPU-declaring) hardware becomes container cpu requests and limits."""
    cpu = hardware.cpu if hardware else None
    if cpu is None:
        return None
    limits = {"cpu": cpu.limits} if cpu.limits is not None else None
    return r.ResourceRequirements(requests={"cpu": cpu.requests}, limits=limits)


def _name_key(entry: r.CustomTemplate) -> naming.CustomTemplateKey:
    gpu = entry.hardware.gpu if entry.hardware else None
    return naming.CustomTemplateKey(
        name=entry.name,
        has_profile=entry.profile is not None,
        precision=entry.profile.precision.value if entry.profile and entry.profile.precision else None,
        metric=entry.profile.metric.value if entry.profile and entry.profile.metric else None,
        has_gpu=gpu is not None,
        gpu_requests=(gpu.requests or 0) if gpu else 0,
        gpu_model=gpu.model if gpu else None,
    )


def template_name(model_name: str, index: int, entry: r.CustomTemplate | None) -> str:
    return naming.custom_template_name(model_name, index, _name_key(entry) if entry is not None else None)


def build_templates(model: r.Model) -> Iterator[r.Template]:
    """The custom templates a model asks for, in a stable order."""
    spec = model.spec
    listed = entries(spec)
    if spec.model_sources and not listed:
        yield _template(model, 0, None)
    for index, entry in enumerate(listed):
        yield _template(model, index, entry)


def _template(model: r.Model, index: int, entry: r.CustomTemplate | None) -> r.Template:
    spec = model.spec
    custom = spec.custom
    hardware = merge_hardware(custom.hardware if custom else None, entry.hardware if entry else None)
    profile = entry.profile if entry else None
    template_spec = r.AIMServiceTemplateSpec(
        model_name=model.metadata.name or "",
        aim_id=entry.aim_id if entry else None,
        model_id=entry.model_id if entry else None,
        metric=profile.metric if profile else None,
        precision=profile.precision if profile else None,
        type=effective_type(custom, entry),
        hardware=hardware,
        resources=cpu_resources(hardware),
        env=merge_env(spec.env, entry.env if entry else None),
        model_sources=spec.model_sources,
        image_pull_secrets=spec.image_pull_secrets,
        service_account_name=spec.service_account_name,
        custom_profile=entry.custom_profile if entry else None,
    )
    labels = {LABEL_MODEL: model.metadata.name or "", LABEL_ORIGIN: ORIGIN_AUTO}
    if entry is not None and entry.name:
        labels[LABEL_TEMPLATE_ALIAS] = entry.name
    name = template_name(model.metadata.name or "", index, entry)
    return owned_template(model, name, labels, template_spec)
