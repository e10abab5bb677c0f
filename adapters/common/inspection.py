"""What answers the core's inspection requests: a registry, an image facts file, or a test."""

from __future__ import annotations

from collections.abc import Callable

from aimcore.facts import InspectResult
from aimcore.snapshot import InspectKey

#: Inspection requests -> their results (every request answered, a failure being a result too).
Inspector = Callable[[list[InspectKey]], dict[InspectKey, InspectResult]]
