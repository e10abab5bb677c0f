"""Which template a service runs (D17, reference-operator §6), as a pure function.

Every candidate leaves with a reason, so a service that selects nothing can say
why for each template, and one that selects something can say why the others lost.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from aimcore import resources as r
from aimcore.snapshot import ObjectKey, Snapshot

#: Rank orders, best first; a value not listed ranks after every listed one.
TYPE_ORDER = ("optimized", "preview", "unoptimized")
GPU_ORDER = ("MI325X", "MI300X", "MI250X", "MI210")
METRIC_ORDER = ("latency", "throughput")
PRECISION_ORDER = ("fp4", "int4", "fp8", "int8", "fp16", "bf16", "fp32")

NAMESPACE_TEMPLATE = "AIMServiceTemplate"
CLUSTER_TEMPLATE = "AIMClusterServiceTemplate"


class How(enum.Enum):
    """How the outcome came about; the service turns it into a condition."""

    EXPLICIT = "explicit"
    DEFAULT = "default"
    AUTO = "auto"
    NOT_FOUND = "not-found"
    NO_CANDIDATES = "no-candidates"
    WAITING = "waiting"
    NONE_ELIGIBLE = "none-eligible"
    AMBIGUOUS = "ambiguous"


@attrs.frozen
class Verdict:
    """One candidate and what happened to it (`selected` or why it was left out)."""

    template: r.Template
    reason: str

    @property
    def label(self) -> str:
        return describe(self.template)


@attrs.frozen
class Selection:
    template: r.Template | None
    how: How
    verdicts: tuple[Verdict, ...] = ()
    #: Templates tied at the top when `how` is AMBIGUOUS.
    tied: tuple[r.Template, ...] = ()
    note: str = ""

    def summary(self) -> str:
        """Each candidate and its reason, in one line a condition message can carry."""
        return "; ".join(f"{v.label}: {v.reason}" for v in self.verdicts)


def describe(template: r.Template) -> str:
    scope = "cluster" if isinstance(template, r.AIMClusterServiceTemplate) else "namespace"
    return f"{template.metadata.name} ({scope})"


def profile_type(template: r.Template) -> str:
    """status.profile.metadata.type; a template without a profile counts as unoptimized (§6)."""
    metadata = _metadata(template)
    if metadata is None:
        return "unoptimized"
    return (metadata.type or "").lower()


def template_gpu(template: r.Template) -> str | None:
    """The GPU model discovery recorded, else the one the spec asks for."""
    metadata = _metadata(template)
    if metadata is not None and metadata.gpu:
        return metadata.gpu
    gpu = template.spec.hardware.gpu if template.spec.hardware else None
    if gpu is None:
        return None
    return gpu.model or (gpu.models[0] if gpu.models else None)


def template_gpu_count(template: r.Template) -> int | None:
    """The GPU count discovery recorded, in either spelling (D27), else the one the spec asks for."""
    metadata = _metadata(template)
    if metadata is not None and metadata.gpus is not None:
        return metadata.gpus
    gpu = template.spec.hardware.gpu if template.spec.hardware else None
    return gpu.requests if gpu else None


def template_metric(template: r.Template) -> str | None:
    metadata = _metadata(template)
    if metadata is not None and metadata.metric:
        return metadata.metric.lower()
    return template.spec.metric.value if template.spec.metric else None


def template_precision(template: r.Template) -> str | None:
    metadata = _metadata(template)
    if metadata is not None and metadata.precision:
        return metadata.precision.lower()
    return template.spec.precision.value if template.spec.precision else None


def _metadata(template: r.Template) -> r.ProfileMetadata | None:
    profile = template.status.profile if template.status else None
    return profile.metadata if profile else None


def _state(template: r.Template) -> r.TemplateStatus | None:
    return template.status.status if template.status else None


def _position(order: Sequence[str], value: str | None) -> int:
    wanted = (value or "").lower()
    for index, item in enumerate(order):
        if item.lower() == wanted:
            return index
    return len(order)


def rank(template: r.Template) -> tuple[int, int, int, int]:
    """Smaller is better: type, then GPU, then metric, then precision."""
    return (
        _position(TYPE_ORDER, profile_type(template)),
        _position(GPU_ORDER, template_gpu(template)),
        _position(METRIC_ORDER, template_metric(template)),
        _position(PRECISION_ORDER, template_precision(template)),
    )


def is_waiting(template: r.Template) -> bool:
    """Not Ready yet but may become so without anyone's help."""
    return _state(template) in (None, r.TemplateStatus.PENDING, r.TemplateStatus.PROGRESSING)


def rejection(
    template: r.Template,
    *,
    allow_unoptimized: bool,
    overrides: r.ServiceOverrides | None,
    gpus: frozenset[str] | None,
) -> str | None:
    """The first filter `template` fails, in the reference's order; None when it passes all."""
    state = _state(template)
    if state is not r.TemplateStatus.READY:
        return f"not Ready (status {state.value if state else 'not reported yet'})"
    kind = profile_type(template)
    if kind != "optimized" and not allow_unoptimized:
        shown = kind or "unset"
        return f"profile type is {shown}; only optimized templates qualify without allowUnoptimized: true"
    problem = _override_problem(template, overrides)
    if problem:
        return problem
    gpu = template_gpu(template)
    if gpus is not None and gpu and gpu.upper() not in {g.upper() for g in gpus}:
        present = ", ".join(sorted(gpus)) or "none"
        return f"GPU {gpu} is not present in the cluster (present: {present})"
    return None


def _override_problem(template: r.Template, overrides: r.ServiceOverrides | None) -> str | None:
    if overrides is None:
        return None
    if overrides.metric is not None and template_metric(template) != overrides.metric.value:
        return (
            f"metric {template_metric(template) or 'unset'} does not match override {overrides.metric.value}"
        )
    if overrides.precision is not None and template_precision(template) != overrides.precision.value:
        found = template_precision(template) or "unset"
        return f"precision {found} does not match override {overrides.precision.value}"
    selector = overrides.gpu_selector
    if selector is not None and selector.model:
        gpu = template_gpu(template)
        if (gpu or "").upper() != selector.model.upper():
            return f"GPU {gpu or 'unset'} does not match override {selector.model}"
    if selector is not None and selector.count is not None and template_gpu_count(template) != selector.count:
        count = template_gpu_count(template)
        shown_count = "unset" if count is None else str(count)
        return f"GPU count {shown_count} does not match override {selector.count}"
    return None


def auto_select(
    candidates: Sequence[r.Template],
    *,
    allow_unoptimized: bool = False,
    overrides: r.ServiceOverrides | None = None,
    gpus: frozenset[str] | None = None,
) -> Selection:
    """Filter, shadow and rank `candidates` (the model's templates, both scopes)."""
    ordered = sorted(candidates, key=lambda t: (isinstance(t, r.AIMClusterServiceTemplate), ObjectKey.of(t)))
    if not ordered:
        return Selection(None, How.NO_CANDIDATES)
    verdicts: dict[ObjectKey, str] = {}
    passing: list[r.Template] = []
    for template in ordered:
        problem = rejection(template, allow_unoptimized=allow_unoptimized, overrides=overrides, gpus=gpus)
        if problem is None:
            passing.append(template)
        else:
            verdicts[ObjectKey.of(template)] = problem
    local = {t.metadata.name for t in passing if isinstance(t, r.AIMServiceTemplate)}
    eligible = []
    for template in passing:
        if isinstance(template, r.AIMClusterServiceTemplate) and template.metadata.name in local:
            verdicts[ObjectKey.of(template)] = "shadowed by the namespace template of the same name"
        else:
            eligible.append(template)

    def done(chosen: r.Template | None, how: How, tied: tuple[r.Template, ...] = ()) -> Selection:
        out = tuple(Verdict(t, verdicts[ObjectKey.of(t)]) for t in ordered)
        return Selection(chosen, how, out, tied)

    if not eligible:
        waiting = any(is_waiting(t) for t in ordered)
        return done(None, How.WAITING if waiting else How.NONE_ELIGIBLE)
    best = min(rank(t) for t in eligible)
    top = tuple(t for t in eligible if rank(t) == best)
    if len(top) > 1:
        names = ", ".join(describe(t) for t in top)
        for template in eligible:
            verdicts[ObjectKey.of(template)] = (
                f"tied with {names}" if template in top else "ranked below the tied templates"
            )
        return done(None, How.AMBIGUOUS, top)
    winner = top[0]
    for template in eligible:
        verdicts[ObjectKey.of(template)] = (
            "selected" if template is winner else f"ranked below {describe(winner)}"
        )
    return done(winner, How.AUTO)


def find_template(namespace: str | None, name: str, snapshot: Snapshot) -> r.Template | None:
    """A template by name: the service namespace's first, then the cluster's."""
    if namespace:
        local = snapshot.get(r.AIMServiceTemplate, namespace, name)
        if local is not None:
            return local
    return snapshot.get(r.AIMClusterServiceTemplate, None, name)


def model_templates(namespace: str | None, model_name: str, snapshot: Snapshot) -> tuple[r.Template, ...]:
    """Templates naming the model: the service namespace's and the cluster's."""
    local = snapshot.templates_for_model(NAMESPACE_TEMPLATE, namespace, model_name) if namespace else ()
    return local + snapshot.templates_for_model(CLUSTER_TEMPLATE, "", model_name)


def select_template(
    selector: r.TemplateSelector | None,
    overrides: r.ServiceOverrides | None,
    model: r.Model,
    namespace: str | None,
    snapshot: Snapshot,
) -> Selection:
    """Explicit name, else the model's Ready default, else auto-selection (D17)."""
    explicit = (selector.name or "").strip() if selector else ""
    if explicit:
        found = find_template(namespace, explicit, snapshot)
        if found is None:
            return Selection(None, How.NOT_FOUND, note=explicit)
        return Selection(found, How.EXPLICIT, (Verdict(found, "selected by spec.template.name"),))
    note = ""
    default = (model.spec.default_service_template or "").strip()
    if default:
        found = find_template(namespace, default, snapshot)
        if found is not None and _state(found) is r.TemplateStatus.READY:
            return Selection(found, How.DEFAULT, (Verdict(found, "the model's defaultServiceTemplate"),))
        why = "does not exist" if found is None else "is not Ready"
        note = f"the model's defaultServiceTemplate {default} {why}; selecting automatically"
    chosen = auto_select(
        model_templates(namespace, model.metadata.name or "", snapshot),
        allow_unoptimized=bool(selector and selector.allow_unoptimized),
        overrides=overrides,
        gpus=snapshot.gpus,
    )
    return attrs.evolve(chosen, note=note) if note else chosen
