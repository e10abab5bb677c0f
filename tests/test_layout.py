"""The layout's rules, checked on the source: the core imports no adapter and touches no outside
world, and the adapters' rooms depend on each other only one way (adapters/__init__.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("common", "files", "registry", "kube", "memory", "cli")
#: Which rooms each room may import (besides itself, the core and third-party packages).
MAY_IMPORT = {
    "common": set(),
    "files": {"common"},
    "registry": {"common"},
    "kube": {"common", "files", "registry"},
    "memory": {"common", "files"},
    "cli": {"common", "files", "registry", "kube", "memory"},
}
#: What the core may not import: the adapters, and modules that reach the outside world.
IMPURE = ("aimcore.adapters", "adapters", "kubernetes", "urllib3", "urllib.request", "socket",
          "subprocess", "threading", "asyncio", "random", "requests", "httpx")


def imports(path: Path) -> list[str]:
    """Every module a file imports (absolute names; `from x import y` gives x and x.y)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["aimcore", "adapters"] and len(parts) > 2:
        return parts[2]
    return None


def test_every_adapter_lives_in_a_room() -> None:
    loose = sorted(p.name for p in (ROOT / "adapters").glob("*.py") if p.name != "__init__.py")
    assert loose == []
    rooms = sorted(p.name for p in (ROOT / "adapters").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert rooms == sorted(ROOMS)


@pytest.mark.parametrize("room", ROOMS)
def test_a_room_imports_only_the_rooms_it_may(room: str) -> None:
    crossings = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "adapters" / room).rglob("*.py")
        for module in imports(path)
        if (other := room_of(module)) not in (None, room) and other not in MAY_IMPORT[room]
    )
    assert crossings == []


def test_the_core_imports_no_adapter_and_nothing_impure() -> None:
    found = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "aimcore").rglob("*.py")
        for module in imports(path)
        if any(module == banned or module.startswith(banned + ".") for banned in IMPURE)
    )
    assert found == []


def test_the_rules_hold_for_what_the_rules_say() -> None:
    """Nothing but the command line uses the in-memory cluster, and nothing uses the command line."""
    assert [room for room, allowed in MAY_IMPORT.items() if "memory" in allowed] == ["cli"]
    assert [room for room, allowed in MAY_IMPORT.items() if "cli" in allowed] == []
