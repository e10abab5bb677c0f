"""A work queue of keys: each waits at most once, and no key is worked on by two workers.

The shape of client-go's rate-limited queue: a key added while it is being processed
is processed again once `done`; failures come back after a per-key exponential delay.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Failures(Generic[K]):
    """Consecutive failures per key, and the exponential delay each one earns."""

    def __init__(self) -> None:
        self._counts: dict[K, int] = {}

    def next_delay(self, key: K, base: float, cap: float) -> float:
        """Count one more failure of `key`; the delay is `base * 2**(failures before)`, capped."""
        failures = self._counts.get(key, 0)
        self._counts[key] = failures + 1
        return float(min(cap, base * 2**failures))

    def forget(self, key: K) -> None:
        self._counts.pop(key, None)


class WorkQueue(Generic[K]):
    def __init__(
        self, *, base_delay: float = 0.5, max_delay: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cond = threading.Condition()
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._failures: Failures[K] = Failures()
        self._closed = False
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock

    def add(self, key: K) -> None:
        with self._cond:
            self._add(key)

    def _add(self, key: K) -> None:
        if self._closed or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        with self._cond:
            if delay <= 0:
                self._add(key)
                return
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def retry(self, key: K, at_least: float | None = None) -> float:
        """Come back after this key's next exponential delay, or `at_least` (a server's
        Retry-After) when longer; returns the delay."""
        with self._cond:
            delay = self._failures.next_delay(key, self.base_delay, self.max_delay)
            if at_least is not None:
                delay = max(delay, min(at_least, self.max_delay))
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts from the base delay again."""
        with self._cond:
            self._failures.forget(key)

    def get(self, timeout: float) -> K | None:
        """The next ready key (now marked as processing), or None on timeout or shutdown."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                while self._delayed and self._delayed[0][0] <= now:
                    self._add(heapq.heappop(self._delayed)[2])
                if self._ready:
                    key = self._ready.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if self._closed or now >= deadline:
                    return None
                wake = deadline if not self._delayed else min(deadline, self._delayed[0][0])
                self._cond.wait(max(0.0, wake - now))

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._ready.append(key)
                self._cond.notify()

    def idle(self) -> bool:
        """Nothing ready, nothing in progress (delayed retries may still be waiting)."""
        with self._cond:
            return not self._ready and not self._processing

    def pending(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._processing) + len(self._delayed)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
