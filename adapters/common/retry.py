"""Exponential backoff, the one schedule every client retries on (Kubernetes and registries)."""

from __future__ import annotations

import random

import attrs


@attrs.frozen
class Backoff:
    """`base * 2**attempt`, capped, `attempts` tries in all; with jitter (a random factor from 0.5 to
    1), so that many clients failing together do not retry together."""

    base: float = 0.2
    cap: float = 10.0
    attempts: int = 6
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        wait = float(min(self.cap, self.base * 2**attempt))
        return wait * (0.5 + random.random() / 2) if self.jitter else wait
