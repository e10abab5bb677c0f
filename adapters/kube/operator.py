"""`aimcore operator`: the core's reconcile, driven by watches against a real cluster.

One loop, all I/O at the edges: watchers keep a `Store` current; every change enqueues
the keys that depend on it; a worker takes one key at a time, builds a snapshot (the
clock is read here and passed in, the core stays pure), reconciles it and executes the
plan. Inspections run on a bounded pool and re-enqueue the models that asked. Only the
lease holder writes. Logs are JSON lines on stderr and never carry a Secret's value.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import attrs

from aimcore import resources as r
from aimcore.adapters.common.dependents import (
    Change,
    DependencyIndex,
    dependents_of,
    gpu_dependents,
    moves_dependencies,
)
from aimcore.adapters.common.inspection import Inspector
from aimcore.adapters.common.jobrunner import discovery_log
from aimcore.adapters.common.log import LEVELS, JsonLog
from aimcore.adapters.common.retry import Backoff
from aimcore.adapters.kube.api import OBSERVED, SECRETS, WATCHED, ApiError, KindInfo, KubeApi, with_retries
from aimcore.adapters.kube.executor import Executor, NotLeader, Outcome
from aimcore.adapters.kube.leader import LeaderElector
from aimcore.adapters.kube.store import Observed, Store, Watcher
from aimcore.adapters.kube.workqueue import Failures, WorkQueue
from aimcore.adapters.registry.client import ImageRef
from aimcore.discoveryjob import CONTAINER_NAME, JobObservation, template_of
from aimcore.facts import FailureKind, InspectFailure, InspectResult
from aimcore.plan import ApplyManifest, Plan
from aimcore.reconcile import RECONCILED_KINDS, reconcile
from aimcore.resolution import lookup_model
from aimcore.snapshot import DEFAULT_OPERATOR_NAMESPACE, InspectKey, ObjectKey, SecretRef

TEMPLATE_KINDS = ("AIMServiceTemplate", "AIMClusterServiceTemplate")
#: What a finished discovery Job's Pod printed, given the Job and the Pod's name.
LogReader = Callable[[JobObservation, str], str]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen(kw_only=True)
class Settings:
    namespace: str | None = None
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE
    max_concurrent_inspections: int = 4
    leader_election: bool = True
    lease_name: str = "aimcore-operator"
    lease_namespace: str | None = None
    identity: str = "aimcore"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    lease_retry: float = 2.0
    backoff: Backoff = attrs.field(factory=Backoff)
    #: First delay before a failed key or a failed inspection is tried again (doubles each time).
    retry_base: float = 0.5
    watch_timeout: int = 300
    #: Seconds between reconciles of everything, for what no watch reports (a registry whose
    #: tag moved, a clock-driven retry that was lost); 0 turns it off.
    resync_seconds: float = 600.0
    #: The version models are read in. Both versions share one schema in aimcore's CRDs, so an
    #: object's apiVersion is the reader's choice: v1alpha2 gives every model its profiles (D23).
    models_api_version: str = "v1alpha1"
    #: Seconds between checks whether a missing InferenceService or HTTPRoute CRD was installed.
    absent_recheck: float = 30.0


def _unreadable_secret(ref: SecretRef, err: ApiError) -> InspectFailure:
    """A pull Secret that exists but could not be read: a refusal (403) needs RBAC fixed; anything
    else may pass, so it is retried soon. Either way the registry is not asked without it."""
    where = f"pull secret {ref.namespace}/{ref.name}"
    if err.status in (401, 403):
        refused = f"the operator may not read {where} ({err.status} {err.reason})"
        return InspectFailure(FailureKind.UNAUTHORIZED, f"{refused}: grant it get on secrets there")
    return InspectFailure(FailureKind.UNREACHABLE, f"could not read {where} ({err}); retrying")


def kube_inspector(api: KubeApi, backoff: Backoff | None = None) -> Inspector:
    """Registry inspections with the named pull secrets, read when needed and never kept; a read
    that fails transiently is tried again a few times first (on the inspection pool, not the worker)."""
    from aimcore.adapters.registry.inspector import make_inspector

    backoff = backoff or Backoff(base=0.2, cap=2.0, attempts=3)

    def inspect(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        documents: list[dict[str, Any]] = []
        unread: dict[SecretRef, InspectFailure] = {}
        for ref in sorted({s for key in keys for s in key.secrets}):
            try:
                documents.append(with_retries(functools.partial(api.get, SECRETS, ref.namespace, ref.name),
                                              backoff))
            except ApiError as err:
                if err.status == 404:
                    continue  # it does not exist: the registry is asked without it, and its answer says so
                unread[ref] = _unreadable_secret(ref, err)
        answers: dict[InspectKey, InspectResult] = {}
        readable = [key for key in keys if not any(ref in unread for ref in key.secrets)]
        if readable:
            answers.update(make_inspector(documents)(readable))
        for key in keys:  # never asked without the credentials the model named
            failed = next((unread[ref] for ref in key.secrets if ref in unread), None)
            if failed is not None:
                answers[key] = failed
        return answers

    return inspect


class Operator:
    """The watch-driven loop (`run`) and the one-pass mode (`run_once`) over one API client."""

    def __init__(
        self,
        api: KubeApi,
        inspector: Inspector,
        settings: Settings,
        log: Callable[..., None],
        *,
        now: Callable[[], str] = utc_now,
        read_log: LogReader | None = None,
    ) -> None:
        self.api = api
        #: (Job, Pod name) -> what the discovery container printed: its log by default; the seam
        #: where `--images` and tests without a kubelet supply it instead.
        self.read_log: LogReader = read_log or (
            lambda job, pod: api.pod_log(job.namespace, pod, CONTAINER_NAME)
        )
        self.inspector = inspector
        self.settings = settings
        self.log = log
        self.now = now
        self.store = Store(log, read_as={
            kind: f"{r.GROUP}/{settings.models_api_version}" for kind in ("AIMModel", "AIMClusterModel")
        })
        self.queue: WorkQueue[ObjectKey] = WorkQueue(base_delay=settings.retry_base)
        self.facts: dict[InspectKey, InspectResult] = {}
        self._expiry: dict[InspectKey, float] = {}
        self._failures: Failures[InspectKey] = Failures()
        self._askers: dict[InspectKey, set[ObjectKey]] = {}
        self._inflight: set[InspectKey] = set()
        #: Discovery Jobs whose log is being read, and failed reads by Job (for their backoff).
        self._reading: set[ObjectKey] = set()
        self._log_failures: Failures[ObjectKey] = Failures()
        self._lock = threading.Lock()
        #: Rebuilt only when a change can move a dependency (a model, service or runtime
        #: config appears, goes or changes its spec); status and template writes cannot.
        self._dependencies: DependencyIndex | None = None
        self.pool = ThreadPoolExecutor(settings.max_concurrent_inspections, thread_name_prefix="inspect")
        #: Inspections run in lanes, one pool per registry host, each as wide as the setting: a
        #: registry that hangs holds only its own lanes (for at most its deadline), never another's.
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self.leader: LeaderElector | None = None
        if settings.leader_election:
            self.leader = LeaderElector(
                api, namespace=settings.lease_namespace or settings.operator_namespace,
                name=settings.lease_name, identity=settings.identity,
                lease_duration=settings.lease_duration, renew_deadline=settings.renew_deadline,
                retry=settings.lease_retry, log=log,
            )
        # The watch loop never sleeps on a failed write: the key comes back later with its own
        # backoff (or the server's Retry-After) while the worker goes on with other keys. A single
        # pass (--once) has no queue to come back to, so it retries in place.
        self.executor = Executor(api, self.store, backoff=attrs.evolve(settings.backoff, attempts=1),
                                 may_write=self.may_write)
        self._once_executor = Executor(api, self.store, backoff=settings.backoff, may_write=self.may_write)
        self.writes = 0
        self.reconciles = 0
        self.watchers = [
            Watcher(api, info, self.store, self.on_change, namespace=ns, backoff=settings.backoff,
                    watch_timeout=settings.watch_timeout, log=log, on_observed=self.on_observed,
                    absent_recheck=settings.absent_recheck)
            for info, ns in self._scopes()
        ]

    def _scopes(self) -> list[tuple[KindInfo, str | None]]:
        """What to watch: namespaced kinds in --namespace (all when unset); in the operator
        namespace also the pull secrets of cluster models and the discovery Jobs (and Pods) of
        cluster templates; and Nodes, for the GPU inventory."""
        ns = self.settings.namespace
        kinds = [*WATCHED.values(), *OBSERVED.values()]
        scopes = [(self._read_as(info), ns if info.namespaced else None) for info in kinds]
        if ns is not None and ns != self.settings.operator_namespace:
            scopes.extend((info, self.settings.operator_namespace)
                          for info in (SECRETS, OBSERVED["Job"], OBSERVED["Pod"]))
        return scopes

    def _read_as(self, info: KindInfo) -> KindInfo:
        if info.kind in ("AIMModel", "AIMClusterModel"):
            return attrs.evolve(info, version=self.settings.models_api_version)
        return info

    def may_write(self) -> bool:
        return self.leader is None or self.leader.is_leader()

    # --- events -----------------------------------------------------------------------

    def on_change(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._lock:
            index = self._dependencies
            if index is None or any(moves_dependencies(c) for c in changes):
                index = self._dependencies = DependencyIndex.build(self.store.objects())
        for key in sorted(dependents_of(changes, index, self.settings.operator_namespace)):
            self.queue.add(key)

    def on_observed(self, observed: list[Observed]) -> None:
        """Node, Job, Pod and workload events: the templates and services they reach, and discovery
        logs to read."""
        keys: set[ObjectKey] = set()
        jobs: set[ObjectKey] = set()
        for seen in observed:
            if seen.template is not None:
                keys.add(seen.template)
            if seen.service is not None:
                keys.add(seen.service)
            if seen.services_in is not None:
                keys.update(k for k in self.store.all_keys()
                            if k.kind == "AIMService" and k.namespace == seen.services_in)
            if seen.every_service:
                keys.update(k for k in self.store.all_keys() if k.kind == "AIMService")
            if seen.job is not None:
                jobs.add(seen.job)
            if seen.inventory is not None:
                with self._lock:
                    index = self._dependencies
                    if index is None:
                        index = self._dependencies = DependencyIndex.build(self.store.objects())
                keys |= gpu_dependents(*seen.inventory, index)
        for key in sorted(keys):
            self.queue.add(key)
        for job in sorted(jobs):
            self._read_discovery_log(job)

    def _read_discovery_log(self, key: ObjectKey) -> None:
        """Read a succeeded discovery Job's output once (on the pool), then reconcile its template."""
        job = self.store.job(key)
        if job is None or not job.succeeded or self.store.has_log(job):
            return
        pod = self.store.succeeded_pod(job)
        if pod is None:
            return  # its Pod's event comes next
        with self._lock:
            if key in self._reading:
                return
            self._reading.add(key)
        self.pool.submit(self._read_log_now, key, job, pod.name)

    def _read_log_now(self, key: ObjectKey, job: JobObservation, pod: str) -> None:
        try:
            text = self.read_log(job, pod)
        except Exception as err:
            delay = self._log_failures.next_delay(key, self.settings.retry_base * 4, 300.0)
            self.log("warning", "cannot read a discovery log, will retry", job=key, pod=pod,
                     error=str(err) if isinstance(err, ApiError) else type(err).__name__, retry_in=delay)
            with self._lock:
                self._reading.discard(key)
            timer = threading.Timer(delay, self._read_discovery_log, args=(key,))
            timer.daemon = True
            timer.start()
            return
        self._log_failures.forget(key)
        self.store.record_log(job, text)
        with self._lock:
            self._reading.discard(key)
        found = template_of(job.labels, job.namespace)
        self.log("info", "read discovery output", job=key, bytes=len(text.encode()))
        if found is not None:
            self.queue.add(ObjectKey(*found))

    # --- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        """Watch and reconcile until `stop` is set; 0 on a clean shutdown."""
        self.log("info", "operator starting", identity=self.settings.identity,
                 namespace=self.settings.namespace or "*", leader_election=self.leader is not None)
        leading = False
        try:
            for watcher in self.watchers:
                watcher.start()
            # Reconciling before every kind is listed could plan from half a picture.
            while not stop.is_set() and not all(w.synced.is_set() for w in self.watchers):
                stop.wait(0.05)
            if self.leader is not None and not stop.is_set():
                self.leader.start()
            resynced = time.monotonic()
            while not stop.is_set():
                self._expire_facts()
                now_leading = self.may_write()
                if now_leading != leading:
                    leading = now_leading
                    if leading:
                        self.log("info", "reconciling everything: this replica writes now")
                        self._enqueue_everything()
                        resynced = time.monotonic()
                resync = self.settings.resync_seconds
                if leading and resync > 0 and time.monotonic() - resynced >= resync:
                    self.log("debug", "periodic resync")
                    self._enqueue_everything()
                    resynced = time.monotonic()
                if not leading:
                    stop.wait(0.05)
                    continue
                key = self.queue.get(timeout=0.1)
                if key is not None:
                    self.process(key)
        finally:
            self.shutdown()
        self.log("info", "operator stopped", writes=self.writes)
        return 0

    def _enqueue_everything(self) -> None:
        for known in self.store.all_keys():
            if known.kind in RECONCILED_KINDS:
                self.queue.add(known)

    def shutdown(self) -> None:
        self.queue.shutdown()
        for watcher in self.watchers:
            watcher.stop()
        for watcher in self.watchers:
            watcher.join(2)
        self._stop_pools(wait=False)
        if self.leader is not None:
            self.leader.stop(release=True)

    def idle(self) -> bool:
        with self._lock:
            inflight = bool(self._inflight)
        return self.queue.idle() and not inflight

    def process(self, key: ObjectKey) -> None:
        """One reconcile of one key; never raises."""
        try:
            now = self.now()
            with self._lock:
                facts = dict(self.facts)
            snapshot = self.store.snapshot(
                facts, now=now, operator_namespace=self.settings.operator_namespace
            )
            plan = reconcile(key, snapshot)
            self.reconciles += 1
            outcome = self.executor.execute(plan, now)
        except NotLeader:
            self.queue.done(key)
            self.queue.add(key)
            return
        except ApiError as err:
            delay = self.queue.retry(key, at_least=err.retry_after)
            self.log("warning", "reconcile failed, will retry", key=key, error=str(err), retry_in=delay)
            self.queue.done(key)
            return
        except Exception as err:  # a bug must not stop the loop, nor print a traceback
            delay = self.queue.retry(key)
            self.log("error", "reconcile crashed, will retry", key=key, error=f"{type(err).__name__}: {err}",
                     retry_in=delay)
            self.queue.done(key)
            return
        self._report(key, outcome)
        for request in outcome.inspections:
            self._inspect(request, key)
        self.on_change(outcome.changes)
        if outcome.failures:
            self.queue.retry(key)
        else:
            self.queue.forget(key)
            if plan.requeue_after:  # a wait no watch event will end (a discovery backoff, D26)
                self.queue.add_after(key, plan.requeue_after)
        self.queue.done(key)

    def _report(self, key: ObjectKey, outcome: Outcome) -> None:
        self.writes += len(outcome.writes)
        for verb, target in outcome.writes:
            self.log("info", "wrote", verb=verb, key=target, reconciled=key)
        for failure in outcome.failures:
            self.log("error", "write rejected", verb=failure.verb, key=failure.key, reconciled=key,
                     code=failure.error.status, error=str(failure.error))

    # --- inspections ------------------------------------------------------------------

    def _inspect(self, request: InspectKey, asker: ObjectKey) -> None:
        with self._lock:
            self._askers.setdefault(request, set()).add(asker)
            if request in self._inflight or request in self.facts:
                return
            self._inflight.add(request)
        self._lane(request).submit(self._run_inspection, request)

    def _stop_pools(self, *, wait: bool) -> None:
        with self._lock:
            pools = [self.pool, *self._lanes.values()]
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=not wait)

    def _lane(self, request: InspectKey) -> ThreadPoolExecutor:
        try:
            host = ImageRef.parse(request.image).api_host
        except Exception:  # an image no registry can serve: its inspection fails at once anyway
            host = ""
        with self._lock:
            lane = self._lanes.get(host)
            if lane is None:
                lane = self._lanes[host] = ThreadPoolExecutor(
                    self.settings.max_concurrent_inspections, thread_name_prefix=f"inspect-{host or 'none'}"
                )
            return lane

    def _run_inspection(self, request: InspectKey) -> None:
        result = inspect_one(self.inspector, request)
        with self._lock:
            self.facts[request] = result
            self._inflight.discard(request)
            askers = set(self._askers.get(request, ()))
            if isinstance(result, InspectFailure):
                base = 60.0 if result.kind.permanent else self.settings.retry_base * 4
                self._expiry[request] = time.monotonic() + self._failures.next_delay(request, base, 300.0)
            else:
                self._failures.forget(request)
        self.log("info", "inspected", image=request.image,
                 result=result.kind.value if isinstance(result, InspectFailure) else "ok")
        for key in askers:
            self.queue.add(key)

    def _expire_facts(self) -> None:
        """Failed inspections are forgotten after a backoff, so the models ask again."""
        now = time.monotonic()
        with self._lock:
            expired = [req for req, at in self._expiry.items() if at <= now]
            askers: set[ObjectKey] = set()
            for req in expired:
                del self._expiry[req]
                self.facts.pop(req, None)
                askers |= self._askers.get(req, set())
        for key in askers:
            self.queue.add(key)

    # --- once ---------------------------------------------------------------------------

    def run_once(self, max_rounds: int) -> int:
        """Reconcile everything until a round plans nothing: 0 converged, 1 not."""
        if self.leader is not None and not self._acquire_for_once():
            return 1
        try:
            return self._rounds(max_rounds)
        finally:
            self._stop_pools(wait=True)
            if self.leader is not None:
                self.leader.stop(release=True)

    def _read_logs_now(self) -> None:
        """--once: the output of every succeeded discovery Job not read yet, before reconciling."""
        _, discovery = self.store.observed()
        for job in discovery.jobs:
            pod = self.store.succeeded_pod(job) if job.succeeded and not self.store.has_log(job) else None
            if pod is None:
                continue
            try:
                self.store.record_log(job, self.read_log(job, pod.name))
            except ApiError as err:
                self.log("warning", "cannot read a discovery log", job=f"{job.namespace}/{job.name}",
                         error=str(err))

    def _acquire_for_once(self) -> bool:
        """Take the lease, waiting as long as an abandoned one takes to expire."""
        assert self.leader is not None
        deadline = time.monotonic() + self.settings.lease_duration + 2 * self.settings.lease_retry
        while True:
            try:
                if self.leader.try_acquire_or_renew():
                    return True
            except ApiError as err:
                self.log("error", "cannot reach the lease", error=str(err))
                return False
            if time.monotonic() > deadline:
                self.log("error", "another replica holds the lease: not writing",
                         lease=self.settings.lease_name)
                return False
            time.sleep(self.settings.lease_retry)

    def _rounds(self, max_rounds: int) -> int:
        for round_ in range(1, max_rounds + 1):
            try:
                for info, ns in self._scopes():
                    try:
                        items, version = self.api.list(info, ns)
                    except ApiError as err:
                        if not (info.optional and err.status == 404):
                            raise
                        self.store.set_served(info.kind, False)
                        continue
                    if info.optional:
                        self.store.set_served(info.kind, True)
                    if info.kind in OBSERVED:
                        self.store.replace_observed(info, items, ns)
                    else:
                        self.store.replace_kind(info, items, version, ns)
            except ApiError as err:
                self.log("error", "cannot list", error=str(err), round=round_)
                return 1
            self._read_logs_now()
            now = self.now()
            snapshot = self.store.snapshot(dict(self.facts), now=now,
                                           operator_namespace=self.settings.operator_namespace)
            plans: list[Plan] = []
            wanted: set[InspectKey] = set()
            jobs_applied = False
            for key in sorted(k for k in snapshot.objects if k.kind in RECONCILED_KINDS):
                if jobs_applied and key.kind in TEMPLATE_KINDS:
                    # The Jobs applied so far count against the limit of active discovery Jobs.
                    snapshot = self.store.snapshot(dict(self.facts), now=now,
                                                   operator_namespace=self.settings.operator_namespace)
                    jobs_applied = False
                plan = reconcile(key, snapshot)
                plans.append(plan)
                jobs_applied = jobs_applied or any(
                    isinstance(a, ApplyManifest) and a.key.kind == "Job" for a in plan.actions
                )
                try:
                    outcome = self._once_executor.execute(plan, now)
                except (ApiError, NotLeader) as err:
                    self.log("warning", "reconcile failed", key=plan.key, error=str(err) or "not leader")
                    continue
                self._report(plan.key, outcome)
                wanted |= set(outcome.inspections)
            answers = {q: self._lane(q).submit(inspect_one, self.inspector, q) for q in sorted(wanted)}
            for request, answer in answers.items():
                self.facts[request] = answer.result()
            acted = sum(len(p.actions) for p in plans)
            self.log("info", "round done", round=round_, actions=acted, writes=self.writes)
            if acted == 0:
                self.log("info", "converged", rounds=round_, writes=self.writes)
                return 0
        self.log("error", "not converged", rounds=max_rounds)
        return 1


def inspect_one(inspector: Inspector, request: InspectKey) -> InspectResult:
    """One inspection; an inspector that raises is a registry failure, not a crash."""
    try:
        answer = inspector([request]).get(request)
    except Exception as err:
        return InspectFailure(FailureKind.UNREACHABLE, f"inspection failed: {type(err).__name__}")
    return answer if answer is not None else InspectFailure(FailureKind.UNREACHABLE, "no answer")


# --- the command ------------------------------------------------------------------------


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def add_operator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster, then ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--namespace", metavar="NS", help="watch AIM objects in this namespace only (default: all)"
    )
    parser.add_argument("--operator-namespace", default=DEFAULT_OPERATOR_NAMESPACE, metavar="NS")
    parser.add_argument("--once", action="store_true", help="reconcile everything until converged, then exit")
    parser.add_argument("--max-rounds", type=_positive, default=20, metavar="N", help="rounds for --once")
    parser.add_argument("--max-concurrent-inspections", type=_positive, default=4, metavar="N")
    parser.add_argument("--images", metavar="FILE",
                        help="answer inspections, and discovery output, from an image facts file")
    parser.add_argument("--lease-name", default="aimcore-operator")
    parser.add_argument("--lease-namespace", metavar="NS", help="default: the operator namespace")
    parser.add_argument("--identity", help="this replica's name in the lease (default: POD_NAME or host-pid)")
    parser.add_argument("--no-leader-election", dest="leader_election", action="store_false",
                        help="write without holding the lease (only one replica may run)")
    parser.add_argument("--log-level", choices=tuple(LEVELS), default="info")
    parser.add_argument(
        "--resync-seconds", type=float, default=600.0, metavar="S",
        help="reconcile everything every S seconds (default 600; 0: never)",
    )
    parser.add_argument(
        "--models-api-version", choices=("v1alpha1", "v1alpha2"), default="v1alpha1",
        help="read models in this version; v1alpha2 models also get AIMProfiles (D23)",
    )


def _identity(args: argparse.Namespace) -> str:
    if args.identity:
        return str(args.identity)
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def _answers(
    args: argparse.Namespace, api: KubeApi, log: JsonLog
) -> tuple[Inspector, Callable[[Store], LogReader] | None] | None:
    """Inspections, and how discovery output is read: from registries and Pod logs, or, with
    --images, both from the facts file (its dryRun entries, as simulate answers, D28)."""
    if not args.images:
        return kube_inspector(api), None
    from aimcore.adapters.files.imagefacts import load_image_facts

    facts, problems = load_image_facts(args.images)
    for problem in problems:
        log("error", "bad image facts file", problem=problem.render())
    if problems:
        return None
    inspector: Inspector = lambda keys: {k: facts.inspect(k) for k in keys}  # noqa: E731
    return inspector, lambda store: facts_log_reader(facts.dry_run, store)


def facts_log_reader(dry_run: Callable[[str], Any], store: Store) -> LogReader:
    """Discovery output as `aimcore.adapters.common.jobrunner` answers it from dryRun entries, for the Job's
    template and its model's image (the model as the template finds it, D16)."""

    def read(job: JobObservation, pod: str) -> str:
        found = template_of(job.labels, job.namespace)
        template = store.get(ObjectKey(*found)) if found is not None else None
        if not isinstance(template, r.AIMServiceTemplate | r.AIMClusterServiceTemplate):
            raise ApiError(404, "NotFound", f"no template for discovery Job {job.namespace}/{job.name}")
        view = store.snapshot({}, now="", operator_namespace="")
        model = lookup_model(template.metadata.namespace, template.spec.model_name, view)
        return discovery_log(template, dry_run(model.spec.image or "") if model is not None else None).text

    return read


def operator_command(args: argparse.Namespace) -> int:
    """Run the operator; exit codes: 0 stopped cleanly or converged, 1 not converged, 2 bad setup."""
    log = JsonLog(sys.stderr, getattr(args, "log_level", "info"))
    identity = _identity(args)
    try:
        api = KubeApi.from_kubeconfig(args.kubeconfig, args.context, user_agent=f"aimcore/{identity}")
    except ImportError:
        log("error", "the Kubernetes client is not installed: pip install 'aimcore[kube]'")
        return 2
    except Exception as err:
        log("error", "cannot load the cluster configuration", error=f"{type(err).__name__}: {err}")
        return 2
    answers = _answers(args, api, log)
    if answers is None:
        return 2
    inspector, log_reader = answers
    settings = Settings(
        namespace=args.namespace, operator_namespace=args.operator_namespace,
        max_concurrent_inspections=args.max_concurrent_inspections,
        leader_election=args.leader_election, lease_name=args.lease_name,
        lease_namespace=args.lease_namespace, identity=identity,
        models_api_version=args.models_api_version,
        resync_seconds=args.resync_seconds,
    )
    operator = Operator(api, inspector, settings, log)
    if log_reader is not None:
        operator.read_log = log_reader(operator.store)
    if args.once:
        return operator.run_once(args.max_rounds)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: Any) -> None:
            log("info", "shutting down", signal=signum)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
    return operator.run(stop)
