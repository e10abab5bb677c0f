"""What a registry said about an image: the answer to an Inspect action.

The core never talks to a registry; adapters do, and hand the result back in the
next snapshot as one of these two values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs


class FailureKind(enum.Enum):
    """Why an inspection failed; decides the model's status (DECISIONS D7)."""

    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not-found"
    UNREACHABLE = "unreachable"
    REGISTRY_ERROR = "registry-error"
    MALFORMED = "malformed"

    @property
    def permanent(self) -> bool:
        """Auth and not-found need a user's fix; the rest may pass on retry."""
        return self in (FailureKind.UNAUTHORIZED, FailureKind.NOT_FOUND, FailureKind.MALFORMED)


@attrs.frozen
class ImageFacts:
    """The parts of an image config that discovery reads: never a layer."""

    labels: Mapping[str, str] = attrs.field(factory=dict)
    env: tuple[str, ...] = ()
    digest: str | None = None


@attrs.frozen
class InspectFailure:
    """A typed registry failure; `message` is safe to show (no credentials)."""

    kind: FailureKind
    message: str


InspectResult = ImageFacts | InspectFailure
