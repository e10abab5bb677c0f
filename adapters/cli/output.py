"""Render a plan/simulate report as a table, JSON or YAML (DESIGN.md's contract)."""

from __future__ import annotations

import json
from typing import Any, TextIO

import yaml


def render(report: dict[str, Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(report, indent=2, sort_keys=False) + "\n")
    elif fmt == "yaml":
        out.write(yaml.safe_dump(report, sort_keys=False, default_flow_style=False))
    else:
        out.write(table(report))


def _reason(obj: dict[str, Any]) -> str:
    """Why an object is not Ready; for a Ready template whose profile was made up from its spec
    rather than discovered (D28), that, so no one takes it for a real dry run."""
    status = obj.get("status") or {}
    if status.get("status") == "Ready":
        for condition in status.get("conditions") or ():
            if condition.get("type") == "Discovered" and condition.get("reason") == "DiscoverySimulated":
                return f"DiscoverySimulated: {condition.get('message') or ''}".rstrip(": ")
        return ""
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready" and condition.get("status") != "True":
            message = condition.get("message") or ""
            return (
                f"{condition.get('reason', '')}: {message}" if message else str(condition.get("reason", ""))
            )
    return ""


def _state(obj: dict[str, Any]) -> tuple[str, str]:
    """The status column and the reason. KServe's and the Gateway API's objects have no status word:
    an InferenceService shows its Ready condition, an HTTPRoute whether its parents accepted it."""
    status = obj.get("status") or {}
    if obj.get("kind") == "InferenceService":
        ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
        if ready is None:
            return "-", ""
        if ready.get("status") == "True":
            return "Ready", ""
        return "NotReady", ": ".join(str(ready[k]) for k in ("reason", "message") if ready.get(k))
    if obj.get("kind") == "HTTPRoute":
        parents = status.get("parents") or ()
        accepted = [
            any(c.get("type") == "Accepted" and c.get("status") == "True" for c in p.get("conditions") or ())
            for p in parents
        ]
        if not parents:
            return "-", ""
        return ("Accepted", "") if all(accepted) else ("NotAccepted", "")
    return str(status.get("status") or "-"), _reason(obj)


def table(report: dict[str, Any]) -> str:
    """One row per object: kind, namespace/name, status, and why when it is not Ready."""
    rows = [("KIND", "NAME", "STATUS", "REASON")]
    for obj in report["objects"]:
        meta = obj.get("metadata") or {}
        name = (
            f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
        )
        rows.append((obj.get("kind", ""), name, *_state(obj)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3] for row in rows
    ]
    state = "converged" if report["converged"] else "not converged"
    counts: dict[str, int] = {}
    for action in report["actions"]:
        counts[action["verb"]] = counts.get(action["verb"], 0) + 1
    summary = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "no actions"
    lines.append("")
    lines.append(f"{state} after {report['rounds']} round{'s' if report['rounds'] != 1 else ''}: {summary}")
    return "\n".join(line.rstrip() for line in lines) + "\n"
