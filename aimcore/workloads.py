"""What the cluster shows of the workloads services own: InferenceServices and HTTPRoutes (D29).

The core does not type KServe's or the Gateway API's objects: they are observed and planned as
manifests. Whether their CRDs are served at all is observed too, so a cluster without KServe gives
a service that says so (D32) instead of an operator failing its loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

Manifest = Mapping[str, Any]
#: The kinds of workload a service owns.
WORKLOAD_KINDS = ("InferenceService", "HTTPRoute")
#: A path into a manifest: keys, and list positions.
Path = tuple[str | int, ...]


@attrs.frozen
class Workloads:
    """Observed InferenceServices and HTTPRoutes by (namespace, name), and which CRDs are served."""

    inference_services: Mapping[tuple[str, str], Manifest] = attrs.field(factory=dict)
    http_routes: Mapping[tuple[str, str], Manifest] = attrs.field(factory=dict)
    kserve_installed: bool = True
    gateway_api_installed: bool = True

    @classmethod
    def of(
        cls, docs: Iterable[Manifest], *, kserve_installed: bool = True, gateway_api_installed: bool = True
    ) -> Workloads:
        """Index observed manifests by kind, namespace and name."""
        by_kind: dict[str, dict[tuple[str, str], Manifest]] = {kind: {} for kind in WORKLOAD_KINDS}
        for doc in docs:
            meta = doc.get("metadata") or {}
            by_kind[str(doc["kind"])][(str(meta.get("namespace") or ""), str(meta["name"]))] = doc
        return cls(
            inference_services=by_kind["InferenceService"], http_routes=by_kind["HTTPRoute"],
            kserve_installed=kserve_installed, gateway_api_installed=gateway_api_installed,
        )

    def inference_service(self, namespace: str, name: str) -> Manifest | None:
        return self.inference_services.get((namespace, name))

    def http_route(self, namespace: str, name: str) -> Manifest | None:
        return self.http_routes.get((namespace, name))


def owner_uids(manifest: Manifest) -> tuple[str, ...]:
    """The uids of the manifest's controller ownerReferences."""
    refs = (manifest.get("metadata") or {}).get("ownerReferences") or ()
    return tuple(str(ref.get("uid") or "") for ref in refs if ref.get("controller"))


def needs_apply(desired: Manifest, observed: Manifest | None, removable: Sequence[Path] = ()) -> bool:
    """Whether applying `desired` would change what is observed.

    The observed object covers the manifest when it holds every label, annotation and owner the
    manifest sets and its spec agrees on every field the manifest sets: fields others add (an
    admission webhook's defaults, KServe's own) are theirs and never cause a write. A field the
    manifest stopped setting is noticed only at the `removable` paths (the optional fields the
    builder sets or leaves out, such as autoscaling), so a steady cluster sees no write at all.
    """
    if observed is None:
        return True
    want_meta, have_meta = desired.get("metadata") or {}, observed.get("metadata") or {}
    for field in ("labels", "annotations"):
        have = have_meta.get(field) or {}
        if any(have.get(key) != value for key, value in (want_meta.get(field) or {}).items()):
            return True
    have_owners = {str(ref.get("uid")) for ref in have_meta.get("ownerReferences") or ()}
    if any(str(ref.get("uid")) not in have_owners for ref in want_meta.get("ownerReferences") or ()):
        return True
    if not covered(desired.get("spec"), observed.get("spec")):
        return True
    return any(_at(observed, path) is not None and _at(desired, path) is None for path in removable)


def covered(desired: Any, observed: Any) -> bool:
    """Whether `observed` holds everything `desired` sets: mappings key by key, lists element by
    element (of the same length), anything else equal."""
    if isinstance(desired, Mapping):
        return isinstance(observed, Mapping) and all(
            key in observed and covered(value, observed[key]) for key, value in desired.items()
        )
    if isinstance(desired, list | tuple):
        return (
            isinstance(observed, list | tuple)
            and len(desired) == len(observed)
            and all(covered(a, b) for a, b in zip(desired, observed, strict=True))
        )
    return bool(desired == observed)


def _at(manifest: Any, path: Path) -> Any:
    here = manifest
    for step in path:
        if isinstance(step, int):
            if not isinstance(here, list | tuple) or step >= len(here):
                return None
        elif not isinstance(here, Mapping):
            return None
        here = here[step] if isinstance(step, int) else here.get(step)
        if here is None:
            return None
    return here
