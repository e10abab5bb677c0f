"""`simulate --registry` discovers a private image through its pull secret (issue 6, done-means)."""

from __future__ import annotations

import base64
import io
import json
import textwrap
from pathlib import Path

from aimcore.adapters.cli.main import main
from tests.registry_server import BASIC_PASSWORD, BASIC_USER, RegistryProcess, push_image


def _catalog(tmp_path: Path, host: str, auth: str | None) -> Path:
    docs = []
    if auth is not None:
        config = json.dumps({"auths": {host: {"auth": auth}}}).encode()
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "private-registry", "namespace": "ml-team"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(config).decode()},
            }
        )
    path = tmp_path / "catalog.yaml"
    text = "\n---\n".join(json.dumps(d) for d in docs)
    text += textwrap.dedent(
        f"""
        ---
        apiVersion: aim.eai.amd.com/v1alpha1
        kind: AIMRuntimeConfig
        metadata: {{name: default, namespace: ml-team}}
        spec:
          imagePullSecrets: [{{name: private-registry}}]
        ---
        apiVersion: aim.eai.amd.com/v1alpha1
        kind: AIMModel
        metadata: {{name: proprietary-model, namespace: ml-team}}
        spec:
          image: {host}/models/proprietary:v1
        """
    )
    path.write_text(text)
    return path


def _simulate(path: Path) -> tuple[int, dict[str, object], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["simulate", str(path), "--registry", "--now", "2026-01-01T00:00:00Z", "-o", "json"], out, err
    )
    return code, json.loads(out.getvalue()), err.getvalue()


def _model(report: dict[str, object]) -> dict[str, object]:
    objects = report["objects"]
    assert isinstance(objects, list)
    return next(o for o in objects if o["kind"] == "AIMModel")


def test_simulate_registry_discovers_a_private_image_through_its_pull_secret(
    tmp_path: Path, open_registry: RegistryProcess, basic_registry: RegistryProcess
) -> None:
    labels = {
        "com.amd.aim.model.canonicalName": "acme/proprietary",
        "com.amd.aim.model.recommendedDeployments": '[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency"}]',
    }
    push_image(
        open_registry.url,
        "models/proprietary",
        "v1",
        labels=labels,
        env=["AIM_BASE_IMAGE_REF=x/aim-base:1.2"],
    )
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()

    code, report, err = _simulate(_catalog(tmp_path, basic_registry.host, auth))
    assert code == 0, err
    model = _model(report)
    status = model["status"]
    assert isinstance(status, dict)
    assert status["status"] == "Ready"
    assert status["imageMetadata"]["model"]["canonicalName"] == "acme/proprietary"
    assert status["imageMetadata"]["baseImageRef"] == "x/aim-base:1.2"
    assert [o["kind"] for o in report["objects"]].count("AIMServiceTemplate") == 1
    assert BASIC_PASSWORD not in json.dumps(report) and BASIC_PASSWORD not in err


def test_simulate_registry_without_the_secret_is_refused(
    tmp_path: Path, open_registry: RegistryProcess, basic_registry: RegistryProcess
) -> None:
    push_image(open_registry.url, "models/proprietary", "v1", labels={})
    wrong = base64.b64encode(f"{BASIC_USER}:not-the-password".encode()).decode()
    code, report, _ = _simulate(_catalog(tmp_path, basic_registry.host, wrong))
    assert code == 0
    status = _model(report)["status"]
    assert isinstance(status, dict)
    assert status["status"] == "Failed"
    ready = next(c for c in status["conditions"] if c["type"] == "ImageMetadataReady")
    assert (ready["status"], ready["reason"]) == ("False", "MetadataExtractionFailed")
    assert "not-the-password" not in json.dumps(report)


def test_inspect_command_reads_labels_with_and_without_auth(
    tmp_path: Path, open_registry: RegistryProcess, basic_registry: RegistryProcess
) -> None:
    labels = {
        "com.amd.aim.model.canonicalName": "acme/inspected",
        "com.amd.aim.model.recommendedDeployments": '{"gpuModel":"MI325X","gpuCount":2,"metric":"throughput"}',
    }
    pushed = push_image(open_registry.url, "models/inspected", "v2", labels=labels, docker=True)
    out, err = io.StringIO(), io.StringIO()
    assert main(["inspect", f"{open_registry.host}/models/inspected:v2", "-o", "json"], out, err) == 0, (
        err.getvalue()
    )
    report = json.loads(out.getvalue())
    assert report["digest"] == pushed.digest
    assert report["imageMetadata"]["model"]["canonicalName"] == "acme/inspected"

    out, err = io.StringIO(), io.StringIO()
    assert main(["inspect", f"{basic_registry.host}/models/inspected:v2"], out, err) == 1
    assert err.getvalue().startswith("aimcore inspect: unauthorized: ")

    secret = tmp_path / "secret.json"
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    secret.write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["inspect", f"{basic_registry.host}/models/inspected:v2", "--pull-secret", str(secret)], out, err
    )
    assert code == 0, err.getvalue()
    assert "canonical name  acme/inspected" in out.getvalue()
    assert "  - 2 x MI325X, throughput" in out.getvalue()
    assert BASIC_PASSWORD not in out.getvalue() + err.getvalue()
