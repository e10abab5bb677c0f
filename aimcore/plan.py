"""What a reconcile decides: actions for adapters to carry out, a status, and reasons.

A plan holds only what must change; a steady object plans no actions at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from aimcore import resources as r
from aimcore.snapshot import InspectKey, ObjectKey


@attrs.frozen
class Apply:
    """Create or update an object; adapters merge metadata and replace the spec."""

    obj: r.Resource
    reason: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey.of(self.obj)


@attrs.frozen
class Delete:
    """Delete an object the operator created, guarded by its uid."""

    key: ObjectKey
    uid: str | None
    reason: str


@attrs.frozen
class Inspect:
    """Read an image's config from its registry with these pull secrets (names, never values)."""

    image: str
    request: InspectKey
    reason: str


@attrs.frozen
class ApplyManifest:
    """Create or update an object of a kind the core does not type (a discovery Job, D25; an
    InferenceService or HTTPRoute, D29), given as its whole manifest. The core plans it only
    when the observed object lacks what the manifest says."""

    manifest: Mapping[str, Any]
    reason: str

    @property
    def key(self) -> ObjectKey:
        meta = self.manifest["metadata"]
        return ObjectKey(str(self.manifest["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


@attrs.frozen
class UpdateStatus:
    key: ObjectKey
    status: Any


Action = Apply | ApplyManifest | Delete | Inspect | UpdateStatus


@attrs.frozen
class Reason:
    """Why a decision went the way it did, about one subject (a template, a copy, a model)."""

    subject: str
    message: str


@attrs.frozen
class Plan:
    key: ObjectKey
    actions: tuple[Action, ...] = ()
    #: The reconciled object's status after this pass (None: the object is gone or not ours).
    status: Any = None
    reasons: tuple[Reason, ...] = ()
    #: Reconcile again after this many seconds: a wait no watch event ends (a backoff, D26).
    requeue_after: int | None = None


def verb(action: Action) -> str:
    """The action's verb in the command line's JSON contract."""
    if isinstance(action, Apply | ApplyManifest):
        return "apply"
    if isinstance(action, Delete):
        return "delete"
    if isinstance(action, Inspect):
        return "inspect"
    return "status"


def why(action: Action) -> str:
    """The action's own reason; a status write's is the status word it writes, which is what
    changed for whoever reads the plan."""
    if isinstance(action, UpdateStatus):
        word = getattr(action.status, "status", None)
        return f"status {getattr(word, 'value', word)}" if word else "status"
    return action.reason
