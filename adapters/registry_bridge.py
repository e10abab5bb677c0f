"""Carry out the core's inspections against real registries (issue 6 wiring)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.simulate import Inspector


def make_inspector(secret_documents: Sequence[dict[str, object]]) -> Inspector:
    raise NotImplementedError("--registry is not wired yet")
