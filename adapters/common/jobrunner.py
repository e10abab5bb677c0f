"""Playing the discovery Job runner where no image can run (D28): what the Pod's log would say.

`simulate` has no cluster, and the operator's tests have no kubelet, so a discovery Job never
really runs the model image. This module answers for it, from the image facts file: its
`dryRun` entry for the image (the results the image would print, filtered by the template as
the image selects by the environment the Job sets), or, without one, a result built from the
template's own spec. A Job answered that second way is marked, so that the template says
`DiscoverySimulated` and no one takes it for a real dry run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from aimcore import resources as r
from aimcore.discoveryjob import SIMULATED_LABEL

#: The filename of a result built from the template's spec rather than by the image.
FROM_SPEC = "simulated-from-template-spec"


@attrs.frozen
class SimulatedLog:
    text: str
    #: Built from the template's spec: the Job carries SIMULATED_LABEL.
    from_spec: bool = False

    def labels(self) -> Mapping[str, str]:
        return {SIMULATED_LABEL: "true"} if self.from_spec else {}


def _agrees(result: Mapping[str, Any], spec: r.AIMServiceTemplateSpec) -> bool:
    """Whether the image would print this result for the template: what the template sets must match."""
    metadata = (result.get("profile") or {}).get("metadata") or {}
    gpu = spec.hardware.gpu if spec.hardware else None
    wanted: dict[str, Any] = {}
    if gpu is not None and gpu.model:
        wanted["gpu"] = gpu.model
    if gpu is not None and gpu.requests:
        wanted["gpu_count"] = gpu.requests
    if spec.metric is not None:
        wanted["metric"] = spec.metric.value
    if spec.precision is not None:
        wanted["precision"] = spec.precision.value
    count = metadata.get("gpu_count", metadata.get("gpuCount"))
    seen = {**metadata, "gpu_count": count}
    return all(str(seen.get(key)).lower() == str(value).lower() for key, value in wanted.items())


def from_spec(spec: r.AIMServiceTemplateSpec) -> dict[str, Any]:
    """The one result a template's spec implies, in the shape `dry-run --format=json` prints.

    Its type is the template's `spec.type`, else `optimized`: templates without a type are the
    ones discovery made from the image's recommended deployments, which the image reports so."""
    gpu = spec.hardware.gpu if spec.hardware else None
    metadata = {
        "gpu": (gpu.model or (gpu.models[0] if gpu.models else "")) if gpu else "",
        "gpu_count": gpu.requests or 0 if gpu else 0,
        "metric": spec.metric.value if spec.metric else "",
        "precision": spec.precision.value if spec.precision else "",
        # An AIM image reports its recommended deployments as optimized; a set spec.type says otherwise.
        "type": spec.type.value if spec.type else r.ProfileType.OPTIMIZED.value,
    }
    custom = spec.custom_profile
    profile = {
        "metadata": {k: v for k, v in metadata.items() if v not in ("", 0)},
        "engine_args": dict(custom.engine_args or {}) if custom else {},
        "env_vars": dict(custom.env_vars or {}) if custom else {},
    }
    return {"filename": FROM_SPEC, "profile": profile, "models": []}


def discovery_log(template: r.Template, dry_run: list[dict[str, Any]] | str | None) -> SimulatedLog:
    """What the discovery Pod of `template` prints, given the image's dryRun entry (None: none)."""
    if isinstance(dry_run, str):
        return SimulatedLog(dry_run)
    if dry_run is None:
        return SimulatedLog(json.dumps([from_spec(template.spec)]), from_spec=True)
    return SimulatedLog(json.dumps([item for item in dry_run if _agrees(item, template.spec)]))
