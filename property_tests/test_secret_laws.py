"""Secret values never leave the input: not in plans, not in any output of the command line."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from aimcore import codec
from aimcore import resources as r
from aimcore.adapters.cli.main import main
from aimcore.adapters.files.manifests import load_catalog
from aimcore.facts import ImageFacts, InspectFailure
from aimcore.reconcile import reconcile_all
from aimcore.snapshot import Snapshot
from property_tests.strategies import NAMESPACES, OPERATOR_NAMESPACE, Catalog, catalogs
from property_tests.support import heavy, plans_text

#: Random secret values; the prefix keeps them from matching hashes or digests by accident.
SECRET_VALUES = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=", min_size=12, max_size=40
).map(lambda v: "sv-" + v)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret_manifest(secret: r.Secret, value: str) -> tuple[dict[str, Any], list[str]]:
    """The Secret as a user writes it, with `value` in data and stringData; every spelling of it."""
    config = json.dumps({"auths": {"registry.example.com": {"auth": _b64(f"user:{value}")}}})
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": codec.dump(secret.metadata),
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": _b64(config)},
        "stringData": {"token": value, "password": value},
    }
    return document, [value, _b64(value), _b64(f"user:{value}"), _b64(config), config]


def _facts_file(catalog: Catalog) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for image, result in catalog.facts.items():
        if isinstance(result, InspectFailure):
            out[image] = {"error": result.kind.value}
        elif isinstance(result, ImageFacts):
            entry: dict[str, Any] = {"config": {"Labels": dict(result.labels), "Env": list(result.env)}}
            if result.digest:
                entry["digest"] = result.digest
            out[image] = entry
    return out


@heavy()
@given(catalogs(), st.data())
def test_secret_values_appear_in_no_output(catalog: Catalog, data: st.DataObject) -> None:
    """plan and simulate, as table, JSON and YAML, stdout and stderr, and the core's plans:
    none holds a Secret's value, in any of its encodings."""
    documents: list[dict[str, Any]] = []
    forbidden: list[str] = []
    present = {(o.metadata.namespace, o.metadata.name) for o in catalog.objects if isinstance(o, r.Secret)}
    extra = [
        r.Secret(api_version="v1", kind="Secret", metadata=r.ObjectMeta(name="pull-a", namespace=namespace))
        for namespace in (*NAMESPACES, OPERATOR_NAMESPACE)
        if (namespace, "pull-a") not in present
    ]
    for obj in (*catalog.objects, *extra):
        if isinstance(obj, r.Secret):
            document, spellings = _secret_manifest(obj, data.draw(SECRET_VALUES))
            documents.append(document)
            forbidden += spellings
        else:
            documents.append(codec.dump(obj))
    with tempfile.TemporaryDirectory() as tmp:
        manifests, facts = Path(tmp) / "catalog.yaml", Path(tmp) / "images.yaml"
        manifests.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        facts.write_text(yaml.safe_dump(_facts_file(catalog), sort_keys=False))
        outputs: list[str] = []
        for command in ("plan", "simulate"):
            for fmt in ("table", "json", "yaml"):
                out, err = io.StringIO(), io.StringIO()
                args = [command, str(manifests), "--images", str(facts), "--now", catalog.now, "-o", fmt]
                if catalog.gpus is not None:
                    args += ["--gpus", ",".join(sorted(catalog.gpus)) or "none"]
                assert main(args, out, err) in (0, 1)
                assert "internal error" not in err.getvalue()
                outputs += [out.getvalue(), err.getvalue()]
        loaded = load_catalog([str(manifests)])
        snapshot = Snapshot.build([obj for obj, _ in loaded.objects], now=catalog.now)
        outputs.append(plans_text(reconcile_all(snapshot)))
        outputs.append(repr(snapshot))
    assert [s for s in forbidden if any(s in text for text in outputs)] == []
