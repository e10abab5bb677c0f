"""Labels, owner references and the "does this need writing" test for generated objects.

Keys are the reference's (D4), so a cluster can move between operators without
renamed or re-labelled objects.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from aimcore import resources as r
from aimcore import schema

LABEL_MODEL = f"{r.GROUP}/model"
LABEL_ORIGIN = f"{r.GROUP}/origin"
LABEL_TEMPLATE_ALIAS = f"{r.GROUP}/template.alias"
LABEL_CUSTOM_MODEL = f"{r.GROUP}/custom-model"
LABEL_SERVICE = f"{r.GROUP}/service"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_DEPLOYMENT_IMAGE = f"{r.GROUP}/deployment-image-ref"

ORIGIN_AUTO = "auto-generated"
ORIGIN_FINE_TUNED = "fine-tuned"


def controller_name(owner: r.Resource) -> str:
    return {
        "AIMModel": "model",
        "AIMClusterModel": "cluster-model",
        "AIMService": "service",
    }.get(owner.kind, owner.kind.lower())


def managed_labels(owner: r.Resource, own: Mapping[str, str]) -> dict[str, str]:
    """The child's labels: its own, then the framework's, then the owner's aim.eai.amd.com/* (child wins)."""
    name = controller_name(owner)
    labels = dict(own)
    labels.setdefault(LABEL_MANAGED_BY, f"aim-{name}-controller")
    labels.setdefault(f"{r.GROUP}/{name}.name", owner.metadata.name or "")
    for key, value in (owner.metadata.labels or {}).items():
        if key.startswith(f"{r.GROUP}/"):
            labels.setdefault(key, value)
    return labels


def owner_reference(owner: r.Resource) -> r.OwnerReference:
    return r.OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=owner.metadata.name or "",
        uid=owner.metadata.uid or "",
        controller=True,
    )


def child_metadata(
    owner: r.Resource,
    name: str,
    namespace: str | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    *,
    owned: bool = True,
) -> r.ObjectMeta:
    return r.ObjectMeta(
        name=name,
        namespace=namespace,
        labels=managed_labels(owner, labels),
        annotations=dict(annotations) if annotations else None,
        owner_references=(owner_reference(owner),) if owned else None,
    )


def is_controlled_by(obj: r.Resource, owner: r.Resource) -> bool:
    uid = owner.metadata.uid
    return any(ref.controller and ref.uid == uid for ref in obj.metadata.owner_references or ())


def needs_apply(desired: r.Resource, observed: r.Resource | None) -> bool:
    """Whether writing `desired` would change what is observed (the fields we manage only)."""
    if observed is None:
        return True
    if not same_but_defaults(getattr(desired, "spec", None), getattr(observed, "spec", None)):
        return True
    want, have = desired.metadata, observed.metadata
    if not _subset(want.labels, have.labels) or not _subset(want.annotations, have.annotations):
        return True
    have_refs = {(ref.uid, ref.kind, ref.name, bool(ref.controller)) for ref in have.owner_references or ()}
    return any(
        (ref.uid, ref.kind, ref.name, bool(ref.controller)) not in have_refs
        for ref in want.owner_references or ()
    )


def same_but_defaults(want: Any, have: Any) -> bool:
    """Equal, except where `want` leaves a field unset and `have` holds its schema default.

    An API server fills CRD defaults in (resourceName amd.com/gpu, ...); without this a
    steady cluster would see a no-op apply on every reconcile.
    """
    if want == have:
        return True
    if type(want) is not type(have):
        return False
    if attrs.has(type(want)):
        for field in attrs.fields(type(want)):
            mine, theirs = getattr(want, field.name), getattr(have, field.name)
            if mine is None and theirs is not None and _is_schema_default(field, theirs):
                continue
            if not same_but_defaults(mine, theirs):
                return False
        return True
    if isinstance(want, tuple):
        return len(want) == len(have) and all(map(same_but_defaults, want, have))
    return bool(want == have)


def _is_schema_default(field: attrs.Attribute[Any], value: Any) -> bool:
    default = field.metadata.get(schema.DEFAULT)
    if default is None:
        return False
    return bool((value.value if isinstance(value, enum.Enum) else value) == default)


def _subset(want: Mapping[str, str] | None, have: Mapping[str, str] | None) -> bool:
    have = have or {}
    return all(have.get(k) == v for k, v in (want or {}).items())


def merged_with_observed(desired: Any, observed: r.Resource | None) -> Any:
    """What the object looks like once applied: observed metadata merged with ours, status kept."""
    if observed is None:
        return desired
    meta = observed.metadata
    refs = list(meta.owner_references or ())
    for ref in desired.metadata.owner_references or ():
        if ref.uid not in {x.uid for x in refs}:
            refs.append(ref)
    merged = attrs.evolve(
        meta,
        labels={**(meta.labels or {}), **(desired.metadata.labels or {})} or None,
        annotations={**(meta.annotations or {}), **(desired.metadata.annotations or {})} or None,
        owner_references=tuple(refs) or None,
    )
    return attrs.evolve(observed, spec=desired.spec, metadata=merged)
