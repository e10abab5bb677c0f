"""The operator against a real cluster: runs only when AIMCORE_KUBECONFIG names a kubeconfig.

The cluster needs the AIM CRDs (`aimcore crds | kubectl apply -f -`) and the rights listed
in the README. Objects go to the namespace AIMCORE_TEST_NAMESPACE (default aimcore-test,
created when missing) under names with a random suffix, and are deleted afterwards.
Inspections are answered from fixtures/catalog.imagefacts, so no registry is needed.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.kubeapi import AIM_KINDS, ApiError, KindInfo, KubeApi
from adapters.operator import add_operator_arguments, operator_command

KUBECONFIG = os.environ.get("AIMCORE_KUBECONFIG")
NAMESPACE = os.environ.get("AIMCORE_TEST_NAMESPACE", "aimcore-test")
ROOT = Path(__file__).resolve().parent.parent
NAMESPACES = KindInfo("Namespace", "", "v1", "namespaces", False)

pytestmark = pytest.mark.skipif(
    not KUBECONFIG,
    reason="no real cluster: set AIMCORE_KUBECONFIG to a kubeconfig of a cluster with the AIM CRDs installed",
)


@pytest.fixture
def api() -> Iterator[KubeApi]:
    assert KUBECONFIG
    client = KubeApi.from_kubeconfig(KUBECONFIG, user_agent="aimcore-real-cluster-test")
    try:
        client.get(NAMESPACES, None, NAMESPACE)
    except ApiError as err:
        if err.status != 404:
            raise
        client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield client


def _run_once(*extra: str) -> int:
    assert KUBECONFIG
    parser = argparse.ArgumentParser()
    add_operator_arguments(parser)
    args = parser.parse_args(["--kubeconfig", KUBECONFIG, "--once", "--namespace", NAMESPACE,
                              "--no-leader-election", "--images", str(ROOT / "fixtures/catalog.imagefacts"),
                              *extra])
    return operator_command(args)


def _versions(api: KubeApi, name: str) -> dict[str, Any]:
    found = {}
    for kind in ("AIMModel", "AIMServiceTemplate"):
        for item in api.list(AIM_KINDS[kind], NAMESPACE)[0]:
            meta = item["metadata"]
            if meta["name"] == name or (item.get("spec") or {}).get("modelName") == name:
                found[f"{kind}/{meta['name']}"] = meta["resourceVersion"]
    return found


def test_once_creates_templates_and_a_second_run_writes_nothing(api: KubeApi) -> None:
    name = f"qwen-{uuid.uuid4().hex[:6]}"
    models = AIM_KINDS["AIMModel"]
    created = api.create(models, {
        "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"image": "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"},
    })
    try:
        assert _run_once() == 0
        templates = [t for t in api.list(AIM_KINDS["AIMServiceTemplate"], NAMESPACE)[0]
                     if t["spec"]["modelName"] == name]
        assert len(templates) == 2
        for template in templates:
            assert template["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
            assert any(m.get("manager") == "aimcore" for m in template["metadata"].get("managedFields") or ())
        model = api.get(models, NAMESPACE, name)
        assert model["status"]["imageMetadata"]["model"]["canonicalName"] == "Qwen/Qwen3-32B"
        before = _versions(api, name)
        assert _run_once() == 0
        assert _versions(api, name) == before  # a steady cluster sees no writes
    finally:
        api.delete(models, NAMESPACE, name, created["metadata"]["uid"])
