"""The `kube_cluster` fixture: a real API server for the tests marked `cluster`.

By default the session builds (or reuses) the pinned control plane (`tests/cluster/build.py`)
and starts it on loopback (`control_plane.py`). With `AIMCORE_KUBECONFIG=FILE` the tests run
against that cluster instead; tests that need to restart the API server or mint users are
skipped there, and say so.

Either way the session installs `aimcore crds`, waits until every CRD is Established, creates
the Node objects of `GPU_NODES` (an MI300X, an MI325X and a CPU-only node, labelled as the AMD GPU
operator labels them; no kubelet is behind them, and on an AIMCORE_KUBECONFIG cluster they are
deleted at the end), and checks once that the garbage collector collects AIM objects before any
test relies on it.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from aimcore.adapters.kube.api import AIM_KINDS, ApiError, KindInfo, KubeApi
from aimcore.crds import crds
from tests.cluster import build
from tests.cluster.control_plane import ControlPlane
from tests.cluster.workload_crds import WORKLOAD_CRDS

CRDS = KindInfo("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", False)
NAMESPACES = KindInfo("Namespace", "", "v1", "namespaces", False)
CONFIGMAPS = KindInfo("ConfigMap", "", "v1", "configmaps", True)
SECRETS = KindInfo("Secret", "", "v1", "secrets", True)
LEASES = KindInfo("Lease", "coordination.k8s.io", "v1", "leases", True)
CLUSTER_ROLES = KindInfo("ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", False)
CLUSTER_ROLE_BINDINGS = KindInfo(
    "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", False
)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class PatientKubeApi(KubeApi):
    """kubectl's manners: a 429 with Retry-After is waited out and tried again (ten times at most)."""

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        for _ in range(10):
            try:
                return super()._call(*args, **kwargs)
            except ApiError as err:
                if err.status != 429 or err.retry_after is None:
                    raise
                time.sleep(min(err.retry_after, 5.0))
        return super()._call(*args, **kwargs)


@attrs.define
class KubeCluster:
    """What a test gets: a kubeconfig, clients, and the control plane when we started it."""

    kubeconfig: Path
    plane: ControlPlane | None

    def api(self, user_agent: str = "aimcore-cluster-test") -> KubeApi:
        """A client as `user_agent`. The operator's own (agents `aimcore/...`) get aimcore's client as
        it is; every other one (the test's users and helpers) waits out a 429 with Retry-After as
        kubectl does, since a restarted API server answers so while its caches fill again."""
        api = KubeApi.from_kubeconfig(str(self.kubeconfig), user_agent=user_agent)
        return api if user_agent.startswith("aimcore/") else PatientKubeApi(api.client)

    def need_plane(self) -> ControlPlane:
        if self.plane is None:
            pytest.skip("AIMCORE_KUBECONFIG names an external cluster: this test restarts or configures "
                        "the control plane, which only the suite's own can do")
        return self.plane

    def namespace(self, prefix: str = "t") -> str:
        """A fresh namespace for one test (deleted by the `namespace` fixture)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.api().create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name


def install_crds(api: KubeApi, *, workloads: bool = True) -> None:
    """Apply every CRD of `aimcore crds`, and the stand-in InferenceService and HTTPRoute CRDs
    (`workload_crds`) where the cluster has none, and wait until the API server serves them all."""
    names = []
    for doc in crds():
        api.apply(CRDS, doc)
        names.append(doc["metadata"]["name"])
    for doc in WORKLOAD_CRDS if workloads else ():
        try:
            api.create(CRDS, doc)
        except ApiError as err:
            if err.status != 409:  # 409: a cluster with KServe or the Gateway API keeps its own
                raise
        names.append(doc["metadata"]["name"])

    def established() -> bool:
        for name in names:
            conditions = (api.get(CRDS, None, name).get("status") or {}).get("conditions") or ()
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    wait_for(established, 60, "the AIM CRDs to be Established")


def check_garbage_collection(api: KubeApi, namespace: str) -> None:
    """An owner's deletion removes an AIM child: the controller-manager sees the AIM kinds."""
    owner = api.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "gc-probe", "namespace": namespace}})
    templates = AIM_KINDS["AIMServiceTemplate"]
    api.create(templates, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": "gc-probe", "namespace": namespace, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "gc-probe", "uid": owner["metadata"]["uid"],
        }]},
        "spec": {"modelName": "gc-probe"},
    })
    api.delete(CONFIGMAPS, namespace, "gc-probe", owner["metadata"]["uid"])

    def collected() -> bool:
        try:
            api.get(templates, namespace, "gc-probe")
        except ApiError as err:
            return err.status == 404
        return False

    # The garbage collector discovers new resources every 30 s.
    wait_for(collected, 120, "the garbage collector to collect an AIMServiceTemplate")


NODES = KindInfo("Node", "", "v1", "nodes", False)
#: The session's Nodes, labelled as the AMD GPU operator labels real ones (no kubelet behind them):
#: one MI300X node, one MI325X node and a CPU-only node. Tests that change Nodes make their own.
GPU_NODES = {
    "aimcore-test-mi300x": {"amd.com/gpu.device-id": "74a1", "amd.com/gpu.vram": "192G",
                            "kubernetes.io/hostname": "aimcore-test-mi300x"},
    "aimcore-test-mi325x": {"amd.com/gpu.device-id": "74a5", "amd.com/gpu.family": "AI",
                            "kubernetes.io/hostname": "aimcore-test-mi325x"},
    "aimcore-test-cpu": {"kubernetes.io/hostname": "aimcore-test-cpu"},
}


def install_nodes(api: KubeApi) -> None:
    for name, labels in GPU_NODES.items():
        try:
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
            api.create(NODES, node)
        except ApiError as err:
            if err.status != 409:
                raise


def delete_nodes(api: KubeApi) -> None:
    for name in GPU_NODES:
        with contextlib.suppress(ApiError):
            api.delete(NODES, None, name, None)


def delete_namespace(api: KubeApi, name: str) -> None:
    with contextlib.suppress(ApiError):
        api.delete(NAMESPACES, None, name, None)


CLUSTER_KINDS = tuple(kind for kind, info in AIM_KINDS.items() if not info.namespaced)


def delete_cluster_scoped(api: KubeApi, kinds: Sequence[str] = CLUSTER_KINDS) -> None:
    """Remove every cluster-scoped AIM object: the suite shares one cluster between tests."""
    for kind in kinds:
        info = AIM_KINDS[kind]
        for item in api.list(info)[0]:
            with contextlib.suppress(ApiError):
                api.delete(info, None, item["metadata"]["name"], None)


def refuse_a_cluster_in_use(api: KubeApi) -> None:
    """The suite deletes the AIM objects it makes, found by kind: on a cluster that already has
    some it could not tell them apart, so it does not start there."""
    found = []
    for kind, info in AIM_KINDS.items():
        try:
            found += [f"{kind} {item['metadata'].get('namespace', '')}/{item['metadata']['name']}"
                      for item in api.list(info)[0]]
        except ApiError as err:
            if err.status != 404:  # 404: the CRD is not installed yet, so there are none
                raise
    if found:
        pytest.exit(f"AIMCORE_KUBECONFIG names a cluster that already holds {len(found)} AIM objects "
                    f"(first: {found[0]}); the real-cluster tests need a disposable cluster without any",
                    returncode=2)


@pytest.fixture(scope="session")
def kube_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeCluster]:
    external = os.environ.get("AIMCORE_KUBECONFIG")
    plane: ControlPlane | None = None
    capture: Any = request.config.pluginmanager.getplugin("capturemanager")
    if external:
        cluster = KubeCluster(Path(external), None)
    else:
        # Build progress goes to the terminal as it happens, not into a captured buffer.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            try:
                binaries = build.build()
            except build.BuildError as err:
                pytest.fail(f"cannot build the control plane: {err}", pytrace=False)
        workdir = tmp_path_factory.mktemp("control-plane")
        plane = ControlPlane.start(workdir, binaries)
        cluster = KubeCluster(plane.kubeconfig, plane)
    try:
        api = cluster.api()
        if external:
            refuse_a_cluster_in_use(api)
        install_crds(api)
        install_nodes(api)
        with contextlib.suppress(ApiError):  # where the operator runs cluster templates' discovery Jobs
            api.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": "aim-system"}})
        if plane is not None:
            plane.start_controllers()
        probe = cluster.namespace("gc-probe")
        check_garbage_collection(api, probe)
        delete_namespace(api, probe)
        yield cluster
        if external:
            delete_nodes(api)
    finally:
        if plane is not None:
            plane.stop()


@pytest.fixture
def kube(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    """The shared cluster, with the cluster-scoped AIM objects a test leaves removed afterwards."""
    yield kube_cluster
    delete_cluster_scoped(kube_cluster.api())


@pytest.fixture
def namespace(kube: KubeCluster) -> Iterator[str]:
    name = kube.namespace()
    yield name
    delete_namespace(kube.api(), name)
