"""Runtime config resolution (DECISIONS D14).

A namespaced object merges its namespace's AIMRuntimeConfig over the
AIMClusterRuntimeConfig of the same name; a cluster object sees only the
cluster config. The name is spec.runtimeConfigName, else `default`, whose
absence is not an error.
"""

from __future__ import annotations

import attrs

from aimcore import resources as r
from aimcore.snapshot import Snapshot
from aimcore.status import RUNTIME_CONFIG_READY, Component

DEFAULT_NAME = "default"


@attrs.frozen
class RuntimeConfigResolution:
    name: str
    #: The effective spec (merged when both scopes have one); None when none was found.
    spec: r.AIMRuntimeConfigSpec | None
    reference: r.ResolvedReference | None
    component: Component

    @property
    def auto_discovery(self) -> bool:
        """Whether models auto-created from an image run discovery; absent means true (D14)."""
        model = self.spec.model if self.spec else None
        return model is None or model.auto_discovery is not False

    @property
    def image_pull_secrets(self) -> tuple[r.LocalObjectReference, ...]:
        return (self.spec.image_pull_secrets or ()) if self.spec else ()


def resolve(name: str | None, namespace: str | None, snapshot: Snapshot) -> RuntimeConfigResolution:
    """Resolve for an object in `namespace` (None or "" for a cluster-scoped object)."""
    wanted = name or DEFAULT_NAME
    local = snapshot.get(r.AIMRuntimeConfig, namespace, wanted) if namespace else None
    cluster = snapshot.get(r.AIMClusterRuntimeConfig, None, wanted)
    found = Component(RUNTIME_CONFIG_READY, r.Status.READY, "ConfigFound")
    if local is not None and cluster is not None:
        spec = merge(cluster.spec, local.spec)
        ref = _reference(local, r.Scope.MERGED)
        return RuntimeConfigResolution(wanted, spec, ref, found)
    if local is not None:
        return RuntimeConfigResolution(
            wanted, local.spec or r.AIMRuntimeConfigSpec(), _reference(local), found
        )
    if cluster is not None:
        return RuntimeConfigResolution(
            wanted, cluster.spec or r.AIMRuntimeConfigSpec(), _reference(cluster), found
        )
    if wanted == DEFAULT_NAME:
        missing = Component(
            RUNTIME_CONFIG_READY, r.Status.READY, "DefaultConfigNotFound", "Default config was not found"
        )
        return RuntimeConfigResolution(wanted, None, None, missing)
    where = f"namespace {namespace} or cluster scope" if namespace else "cluster scope"
    kinds = "AIMRuntimeConfig or AIMClusterRuntimeConfig" if namespace else "AIMClusterRuntimeConfig"
    failed = Component(
        RUNTIME_CONFIG_READY,
        r.Status.FAILED,
        "ConfigNotFound",
        f"RuntimeConfig {wanted} not found in {where}: "
        f"create the {kinds} {wanted!r} or fix spec.runtimeConfigName",
    )
    return RuntimeConfigResolution(wanted, None, None, failed)


def _reference(config: r.RuntimeConfig, scope: r.Scope | None = None) -> r.ResolvedReference:
    namespaced = isinstance(config, r.AIMRuntimeConfig)
    return r.ResolvedReference(
        name=config.metadata.name or "",
        namespace=config.metadata.namespace if namespaced else None,
        scope=scope or (r.Scope.NAMESPACE if namespaced else r.Scope.CLUSTER),
        kind=config.kind,
        uid=config.metadata.uid,
    )


def merge(
    base: r.AIMRuntimeConfigSpec | None, override: r.AIMRuntimeConfigSpec | None
) -> r.AIMRuntimeConfigSpec:
    """Field by field, the override's set values win; env is merged by name."""
    base = base or r.AIMRuntimeConfigSpec()
    override = override or r.AIMRuntimeConfigSpec()
    changes = {
        f.name: getattr(override, f.name)
        for f in attrs.fields(r.AIMRuntimeConfigSpec)
        if getattr(override, f.name) is not None
    }
    if base.model is not None and override.model is not None:
        changes["model"] = r.RuntimeModelConfig(
            auto_discovery=(
                override.model.auto_discovery
                if override.model.auto_discovery is not None
                else base.model.auto_discovery
            )
        )
    if base.env and override.env:
        changes["env"] = merge_env(base.env, override.env)
    return attrs.evolve(base, **changes)


def merge_env(
    defaults: tuple[r.EnvVar, ...] | None, overrides: tuple[r.EnvVar, ...] | None
) -> tuple[r.EnvVar, ...] | None:
    """Merge by name: overrides win in place, new names follow in their order."""
    if not defaults:
        return overrides
    if not overrides:
        return defaults
    by_name = {v.name: v for v in overrides}
    merged = [by_name.pop(v.name, v) for v in defaults]
    merged.extend(v for v in overrides if v.name in by_name)
    return tuple(merged)
