"""Shared fixtures. Fixtures live in helper modules and are registered here by being imported.

The Hypothesis profiles (`ci` by default: derandomised, no too-slow health check) come from the
property suite's conftest, so `pytest tests/` alone runs the example tests' properties the same way.
"""

import property_tests.conftest  # noqa: F401
from tests.cluster.fixtures import kube, kube_cluster, namespace  # noqa: F401
from tests.registry_server import (  # noqa: F401
    basic_registry,
    counting_proxy,
    open_registry,
    registry_storage,
    token_registry,
    token_server,
)
