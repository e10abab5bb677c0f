"""Shared fixtures. Fixtures live in helper modules and are registered here by being imported."""

from tests.cluster.fixtures import kube, kube_cluster, namespace  # noqa: F401
from tests.registry_server import (  # noqa: F401
    basic_registry,
    counting_proxy,
    open_registry,
    registry_storage,
    token_registry,
    token_server,
)
