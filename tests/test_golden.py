"""`simulate -o json` byte for byte on the bundled catalogs: refactors (the move of the adapters into
rooms, speed work) must not change a byte of what users get. After an intended change of behaviour,
regenerate with the commands below and read the diff before committing it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aimcore.adapters.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-01-01T00:00:00Z"
README = [
    "fixtures/spec/02-cluster-model-with-discovery.yaml",
    "fixtures/spec/03-namespace-model-without-discovery.yaml",
    "fixtures/spec/04-private-image.yaml",
    "fixtures/catalog",
]
CASES = {
    # aimcore simulate <the README paths> --images fixtures/catalog.imagefacts --now NOW -o json
    "simulate-readme.json": README,
    # aimcore simulate fixtures --images fixtures/catalog.imagefacts --now NOW -o json
    "simulate-fixtures.json": ["fixtures"],
}


@pytest.mark.parametrize("golden", sorted(CASES))
def test_simulate_output_is_unchanged(golden: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out, err = io.StringIO(), io.StringIO()
    args = ["simulate", *CASES[golden], "--images", "fixtures/catalog.imagefacts", "--now", NOW, "-o", "json"]
    assert main(args, out, err) == 0, err.getvalue()
    assert out.getvalue() == (ROOT / "tests" / "golden" / golden).read_text()
