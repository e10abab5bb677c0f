"""Leader election through a coordination.k8s.io/v1 Lease, so two replicas never both write.

The algorithm is client-go's: the holder renews the lease every `retry` seconds; a
candidate takes it over only when the record (holder, renewTime) has not changed for
`lease_duration` seconds of *its own* clock, so clock skew between nodes does not
matter; every write carries the resourceVersion it read, so two candidates cannot both
win. A holder that cannot renew within `renew_deadline` stops being leader at once,
before the lease can expire and another replica takes over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aimcore.adapters.common.log import Log
from aimcore.adapters.kube.api import LEASES, ApiError, KubeApi


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: KubeApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry: float = 2.0,
        log: Log | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry = retry
        self.log = log or (lambda *a, **k: None)
        self._clock = clock
        self._renewed: float | None = None
        self._observed: tuple[Any, Any] | None = None
        self._observed_at = 0.0
        self._stop = threading.Event()
        self.changed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    def is_leader(self) -> bool:
        renewed = self._renewed
        return renewed is not None and self._clock() - renewed < self.renew_deadline

    def start(self) -> None:
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(self.retry + 5)
        if release and self.is_leader():
            self._release()

    def _run(self) -> None:
        was = False
        while not self._stop.is_set():
            try:
                self.try_acquire_or_renew()
            except ApiError as err:
                self.log("warning", "lease update failed", lease=self.name, error=str(err))
            now = self.is_leader()
            if now != was:
                self.log("info", "became leader" if now else "lost leadership",
                         lease=self.name, identity=self.identity)
                self.changed.set()
                was = now
            self._stop.wait(self.retry)

    def try_acquire_or_renew(self) -> bool:
        """One round: take or keep the lease if we may; True when we hold it now."""
        now = _micro_time()
        try:
            lease = self.api.get(LEASES, self.namespace, self.name)
        except ApiError as err:
            if err.status != 404:
                raise
            body = {
                "apiVersion": LEASES.api_version, "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                         "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
            }
            return self._write(lambda: self.api.create(LEASES, body))
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"))
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and self._clock() - self._observed_at < duration:
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = now
        spec.update(
            holderIdentity=self.identity, renewTime=now, leaseDurationSeconds=int(self.lease_duration)
        )
        lease["spec"] = spec
        return self._write(lambda: self.api.replace(LEASES, lease))

    def _write(self, call: Callable[[], Any]) -> bool:
        try:
            call()
        except ApiError as err:
            if err.status == 409:  # someone else wrote first
                return False
            raise
        self._renewed = self._clock()
        return True

    def _release(self) -> None:
        """Hand the lease back so a standby takes over without waiting for it to expire."""
        try:
            lease = self.api.get(LEASES, self.namespace, self.name)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1)
            lease["spec"] = spec
            self.api.replace(LEASES, lease)
        except ApiError as err:
            self.log("warning", "could not release the lease", lease=self.name, error=str(err))
        finally:
            self._renewed = None
