"""Carry out the core's inspections against real registries, with the inputs' Secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimcore.adapters.common.inspection import Inspector
from aimcore.adapters.registry.client import InspectRequest, RegistryClient
from aimcore.adapters.registry.credentials import CredentialsError, keyring_from_secrets
from aimcore.facts import FailureKind, InspectFailure, InspectResult
from aimcore.snapshot import InspectKey


def make_inspector(
    secret_documents: Sequence[Mapping[str, Any]], client: RegistryClient | None = None
) -> Inspector:
    """An inspector that offers each image exactly the pull secrets the core named for it (D9)."""
    by_ref = {
        (
            (doc.get("metadata") or {}).get("namespace") or "default",
            (doc.get("metadata") or {}).get("name"),
        ): doc
        for doc in secret_documents
    }
    registry = client or RegistryClient()

    def inspect(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        results: dict[InspectKey, InspectResult] = {}
        requests: list[tuple[InspectKey, InspectRequest]] = []
        for key in keys:
            documents = [
                by_ref[(s.namespace, s.name)] for s in key.secrets if (s.namespace, s.name) in by_ref
            ]
            try:
                keyring = keyring_from_secrets(documents)
            except CredentialsError as err:
                results[key] = InspectFailure(FailureKind.UNAUTHORIZED, str(err))
                continue
            requests.append((key, InspectRequest(key.image, keyring)))
        answers = registry.inspect_many([request for _, request in requests])
        results.update({key: answer for (key, _), answer in zip(requests, answers, strict=True)})
        return results

    return inspect
