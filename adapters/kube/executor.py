"""Carry a plan out against the API server, writing only what changed.

The semantics mirror `adapters/memory/simulate.py` against the in-memory cluster: an Apply
merges our metadata and sets the spec (here: server-side apply, field manager
"aimcore", ownerReferences included), a Delete is guarded by the uid, a status goes
through the status subresource, and an Inspect is handed back to the caller. Before
each write the executor compares with the store, so a steady cluster sees no writes;
after it, the answer is written through to the store, so a late watch event cannot
make the next reconcile write the same thing again.

Transient failures (409, 429, 5xx, no answer) are retried with exponential backoff; a
permanent one (403, 422, ...) is reported, and a failed child write is recorded on the
owner's status as `DependenciesReachable=False` (reference-operator §5.1), never raised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.common.dependents import Change
from aimcore.adapters.common.retry import Backoff
from aimcore.adapters.kube.api import (
    FIELD_MANAGER,
    JOBS,
    OBSERVED,
    WATCHED,
    ApiError,
    KindInfo,
    KubeApi,
    ownership_claim,
    with_retries,
)
from aimcore.adapters.kube.store import Store
from aimcore.ownership import needs_apply
from aimcore.plan import Apply, ApplyManifest, Delete, Inspect, Plan, UpdateStatus
from aimcore.snapshot import InspectKey, ObjectKey
from aimcore.status import Component, condition, find

DEPENDENCIES_REACHABLE = "DependenciesReachable"
_SERVER_OWNED = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                 "deletionTimestamp", "deletionGracePeriodSeconds")


#: Reads and claims of one workload before giving up for this reconcile (each 409: it changed meanwhile).
CLAIM_ATTEMPTS = 3

_HEALTHY = (r.Status.READY, r.TemplateStatus.READY, r.ServiceStatus.RUNNING)


class NotLeader(Exception):
    """This replica may not write (it lost, or never held, the lease)."""


@attrs.frozen
class Failure:
    key: ObjectKey
    verb: str
    error: ApiError


@attrs.define
class Outcome:
    """What executing one plan did."""

    writes: list[tuple[str, ObjectKey]] = attrs.field(factory=list)
    changes: list[Change] = attrs.field(factory=list)
    inspections: list[InspectKey] = attrs.field(factory=list)
    failures: list[Failure] = attrs.field(factory=list)


def apply_body(obj: r.Resource) -> dict[str, Any]:
    """What aimcore applies: identity, our labels/annotations/ownerReferences and the spec."""
    doc = codec.dump(obj)
    doc.pop("status", None)
    doc["metadata"] = {k: v for k, v in doc.get("metadata", {}).items() if k not in _SERVER_OWNED}
    return doc


def status_body(obj: r.Resource, status: Any) -> dict[str, Any]:
    meta = {"name": obj.metadata.name}
    if obj.metadata.namespace:
        meta["namespace"] = obj.metadata.namespace
    return {"apiVersion": obj.api_version, "kind": obj.kind, "metadata": meta,
            "status": codec.dump(status) if status is not None else {}}


def with_failure_condition(status: Any, failures: list[Failure], now: str) -> Any:
    """The owner's status with the child write failures recorded (Degraded, as §5.5 rule 7)."""
    if status is None or not hasattr(status, "conditions"):
        return status
    message = "; ".join(f"{f.verb} {f.key}: {f.error}" for f in failures)[:1000]
    unreachable = Component(DEPENDENCIES_REACHABLE, r.Status.DEGRADED, "InfrastructureError", message)
    old = find(status.conditions, DEPENDENCIES_REACHABLE)
    generation = getattr(status, "observed_generation", None)
    reported = condition(old, unreachable, now, generation)
    kept = tuple(c for c in status.conditions or () if c.type != DEPENDENCIES_REACHABLE)
    changes: dict[str, Any] = {"conditions": (*kept, reported)}
    current = getattr(status, "status", None)
    if hasattr(status, "status") and current not in _HEALTHY:
        kinds = (r.Status, r.TemplateStatus, r.ServiceStatus)
        words = type(current) if isinstance(current, kinds) else r.Status
        changes["status"] = words["DEGRADED"]
    return attrs.evolve(status, **changes)


class Executor:
    """Executes plans with one API client, through one store."""

    def __init__(
        self,
        api: KubeApi,
        store: Store,
        *,
        backoff: Backoff | None = None,
        may_write: Callable[[], bool] = lambda: True,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.api = api
        self.store = store
        self.backoff = backoff or Backoff()
        self.may_write = may_write
        self._sleep = sleep

    def _retry(self, call: Callable[[], Any]) -> Any:
        if self._sleep is None:
            return with_retries(call, self.backoff)
        return with_retries(call, self.backoff, sleep=self._sleep)

    def _guard(self) -> None:
        if not self.may_write():
            raise NotLeader()

    def execute(self, plan: Plan, now: str) -> Outcome:
        """Run the plan's actions; transient errors left after retries are raised (ApiError)."""
        outcome = Outcome()
        status_action: UpdateStatus | None = None
        for action in plan.actions:
            if isinstance(action, Inspect):
                outcome.inspections.append(action.request)
            elif isinstance(action, UpdateStatus):
                status_action = action
            elif isinstance(action, Apply):
                self._attempt(outcome, "apply", action.key, functools.partial(self._apply, action, outcome))
            elif isinstance(action, ApplyManifest):
                write = self._apply_job if action.key.kind == "Job" else self._apply_workload
                self._attempt(outcome, "apply", action.key, functools.partial(write, action, outcome))
            elif isinstance(action, Delete):
                self._attempt(outcome, "delete", action.key, functools.partial(self._delete, action, outcome))
        status = status_action.status if status_action is not None else None
        if outcome.failures:
            status = with_failure_condition(status if status is not None else plan.status,
                                            outcome.failures, now)
        if status is not None:
            self._attempt(outcome, "status", plan.key, lambda: self._status(plan.key, status, outcome))
        return outcome

    def _attempt(self, outcome: Outcome, verb: str, key: ObjectKey, call: Callable[[], None]) -> None:
        try:
            call()
        except ApiError as err:
            if err.transient:
                raise
            outcome.failures.append(Failure(key, verb, err))

    def _write_through(self, doc: dict[str, Any], kind: str, outcome: Outcome) -> None:
        change = self.store.upsert({**doc, "kind": kind})
        if change is not None:
            outcome.changes.append(change)

    def _apply(self, action: Apply, outcome: Outcome) -> None:
        observed = self.store.get(action.key)
        if not needs_apply(action.obj, observed):
            return
        info = WATCHED[action.key.kind]
        if observed is None and not self._owner_exists(action.obj):
            return  # the owner was deleted and the watch has not told us yet: nothing to create for
        self._guard()
        answer = self._retry(lambda: self.api.apply(info, apply_body(action.obj)))
        outcome.writes.append(("apply", action.key))
        self._write_through(answer, action.key.kind, outcome)

    def _apply_job(self, action: ApplyManifest, outcome: Outcome) -> None:
        """A discovery Job (D25): applied once; the core plans it only while none is observed."""
        self._guard()
        answer = self._retry(lambda: self.api.apply(JOBS, action.manifest))
        outcome.writes.append(("apply", action.key))
        self.store.observe({**answer, "kind": "Job"})

    def _apply_workload(self, action: ApplyManifest, outcome: Outcome) -> None:
        """An InferenceService or HTTPRoute (D29): created when none is observed, so that someone
        else's object of the name is never taken over (AlreadyExists is reported, not retried);
        then kept up to date by server-side apply, once the fields the create recorded for an
        "Update" manager are handed to the apply manager (else a field the service no longer
        asks for would stay, and be applied away again on every reconcile)."""
        key = action.key
        info = OBSERVED[key.kind]
        observed = self.store.workload(key)
        self._guard()
        if observed is None:
            answer = self._retry(lambda: self.api.create(info, action.manifest, field_manager=FIELD_MANAGER))
        else:
            if self.store.needs_claim(key):
                self._claim(info, key, str((observed.get("metadata") or {}).get("uid") or ""), outcome)
            answer = self._retry(lambda: self.api.apply(info, action.manifest))
        outcome.writes.append(("apply", key))
        self.store.observe({**answer, "kind": key.kind})

    def _claim(self, info: KindInfo, key: ObjectKey, uid: str, outcome: Outcome) -> None:
        """Hand the create's fields to the apply manager (`ownership_claim`), reading the object
        live for its managedFields; a 409 (it changed meanwhile) reads it again."""

        def claim() -> dict[str, Any] | None:
            for _ in range(CLAIM_ATTEMPTS):
                live = self.api.get(info, key.namespace, key.name)
                if str(live["metadata"].get("uid")) != uid:
                    return None  # not the object observed: the apply that follows decides
                operations = ownership_claim(live)
                if operations is None:
                    return live
                try:
                    return self.api.json_patch(info, key.namespace, key.name, operations)
                except ApiError as err:
                    if err.status != 409:
                        raise
            raise ApiError(409, "Conflict", f"{key} kept changing while its fields were claimed for apply")

        answer = self._retry(claim)
        if answer is not None:
            outcome.writes.append(("claim", key))
            self.store.observe({**answer, "kind": key.kind})

    def _owner_exists(self, obj: r.Resource) -> bool:
        """Read the controller owner live before creating a child: watches of different kinds
        are not ordered, so the store may still show an owner whose deletion collected its
        children a moment ago, and creating them again would only feed the garbage collector."""
        for ref in obj.metadata.owner_references or ():
            info = WATCHED.get(ref.kind)
            if not ref.controller or info is None:
                continue
            namespace = obj.metadata.namespace if info.namespaced else None

            def read(info: KindInfo = info, namespace: str | None = namespace, name: str = ref.name) -> str:
                try:
                    return str((self.api.get(info, namespace, name).get("metadata") or {}).get("uid") or "")
                except ApiError as err:
                    if err.status == 404:
                        return ""
                    raise

            if self._retry(read) != ref.uid:
                return False
        return True

    def _delete(self, action: Delete, outcome: Outcome) -> None:
        observed = self.store.get(action.key)
        if observed is None or (action.uid and observed.metadata.uid != action.uid):
            return
        info = WATCHED[action.key.kind]
        self._guard()

        def call() -> None:
            try:
                self.api.delete(info, action.key.namespace or None, action.key.name, action.uid)
            except ApiError as err:
                if err.status not in (404, 409):  # gone already, or replaced (uid precondition)
                    raise

        self._retry(call)
        outcome.writes.append(("delete", action.key))
        change = self.store.forget(action.key)
        if change is not None:
            outcome.changes.append(change)

    def _status(self, key: ObjectKey, status: Any, outcome: Outcome) -> None:
        observed = self.store.get(key)
        if observed is None or getattr(observed, "status", None) == status:
            return
        info = WATCHED[key.kind]
        self._guard()
        try:
            answer = self._retry(lambda: self.api.apply(info, status_body(observed, status), status=True))
        except ApiError as err:
            if err.status == 404:
                return  # deleted meanwhile (a model's templates collected): its watch event follows
            raise
        outcome.writes.append(("status", key))
        self._write_through(answer, key.kind, outcome)
