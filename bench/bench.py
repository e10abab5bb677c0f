"""Benchmarks of the core on generated catalogs (issue 8). Run by hand, never by the tests.

    python bench/bench.py                      # sizes 1000 and 8000, the table and the targets
    python bench/bench.py --sizes 500,2000     # other sizes (the growth target compares the first and last)
    python bench/bench.py --profile            # plus cProfile's top functions for the largest size

Each size runs in its own child process, so that its peak memory (ru_maxrss) is its own.
Figures per size:

- parse+validate: YAML text in memory -> documents with line numbers -> check_document ->
  typed objects (aimcore.adapters.files.manifests.check_documents, what `aimcore validate` does after reading files);
- reconcile-all, first pass: one `reconcile_all` over the input as admitted to the memory cluster;
- simulate: `aimcore.adapters.memory.simulate.run` to convergence in the memory cluster (templates, copies, auto-created
  models, statuses), inspections answered from the generated image facts;
- reconcile-all, steady: one `reconcile_all` over the converged state, and the actions it plans (target 0);
- peak memory: tracemalloc's peak over parse+validate and simulate (a separate, untimed run) and the
  child process's ru_maxrss.

Times are CPU time of the process (time.process_time), the best of --repeat runs, so that other
work on a shared machine inflates them less than wall-clock time would; a cyclic garbage collection
that happens inside a step is part of it. "libyaml parse + validate" is for scale only: the same
documents read by PyYAML's C loader (no line numbers, so not what `aimcore validate` does).

Targets: steady reconcile-all grows at most 1.3 times the size ratio from the smallest to the largest
size; simulate costs at most 3 times parse+validate; the converged state plans zero actions.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aimcore.adapters.files.manifests import check_documents, read_text  # noqa: E402
from aimcore.adapters.memory.cluster import MemoryCluster  # noqa: E402
from aimcore.adapters.memory.simulate import Inspector, paused_gc, run  # noqa: E402
from aimcore.facts import FailureKind, InspectFailure, InspectResult  # noqa: E402
from aimcore.reconcile import RECONCILED_KINDS, reconcile_all  # noqa: E402
from aimcore.snapshot import InspectKey  # noqa: E402
from aimcore.validation import check_document  # noqa: E402
from bench.catalog import OPERATOR_NAMESPACE, generate, to_yaml  # noqa: E402

NOW = "2026-01-01T00:00:00Z"
GROWTH_SLACK = 1.3
SIMULATE_OVER_PARSE = 3.0
T = TypeVar("T")


def _timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The best of `repeat` runs (garbage collected before each), and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def _inspector(facts: dict[str, InspectResult]) -> Inspector:
    def inspect(keys: list[InspectKey]) -> dict[InspectKey, InspectResult]:
        return {
            k: facts.get(k.image) or InspectFailure(FailureKind.NOT_FOUND, f"{k.image} is not in the facts")
            for k in keys
        }

    return inspect


def _validate_all(documents: Iterable[Any]) -> list[Any]:
    return [check_document(d) for d in documents]


def _parse(text: str) -> Any:
    return check_documents(read_text(text, "<bench>"))


def _simulate(objects: list[Any], facts: dict[str, InspectResult]) -> tuple[MemoryCluster, Any]:
    cluster = MemoryCluster(objects, now=NOW, operator_namespace=OPERATOR_NAMESPACE)
    with paused_gc():  # as `aimcore simulate` runs it
        outcome = run(cluster, _inspector(facts), max_rounds=20)
    return cluster, outcome


def measure(size: int, seed: int, repeat: int, memory: bool) -> dict[str, Any]:
    """Every figure for one catalog size (run in a child process)."""
    docs, facts = generate(size, seed)
    text = to_yaml(docs)
    out: dict[str, Any] = {"size": size, "documents": len(docs), "yaml_bytes": len(text)}

    out["parse_validate_s"], catalog = _timed(lambda: _parse(text), repeat)
    if catalog.problems:
        raise SystemExit(f"generated catalog has problems: {catalog.problems[:3]}")
    out["validate_only_s"], _ = _timed(functools.partial(_validate_all, docs), repeat)
    del docs  # the generator's dictionaries: no command holds them, and every collection would walk them
    if hasattr(yaml, "CSafeLoader"):
        out["libyaml_parse_validate_s"], _ = _timed(
            lambda: _validate_all(yaml.load_all(text, Loader=yaml.CSafeLoader)), repeat
        )
    objects = [obj for obj, _ in catalog.objects]
    out["models"] = sum(1 for o in objects if o.kind in ("AIMModel", "AIMClusterModel"))
    out["services"] = sum(1 for o in objects if o.kind == "AIMService")

    def first_pass() -> Any:
        cluster = MemoryCluster(objects, now=NOW, operator_namespace=OPERATOR_NAMESPACE)
        return reconcile_all(cluster.snapshot())

    out["first_pass_s"], _ = _timed(first_pass, repeat)
    out["simulate_s"], (cluster, outcome) = _timed(lambda: _simulate(objects, facts), repeat)
    out["converged"] = outcome.converged
    out["rounds"] = outcome.rounds
    out["simulate_actions"] = len(outcome.actions)
    out["final_objects"] = len(cluster.objects)

    snapshot_s, snapshot = _timed(cluster.snapshot, repeat)
    out["snapshot_build_s"] = snapshot_s
    out["reconciled"] = sum(1 for k in snapshot.objects if k.kind in RECONCILED_KINDS)
    out["steady_s"], plans = _timed(lambda: reconcile_all(snapshot), repeat)
    out["steady_actions"] = sum(len(p.actions) for p in plans)

    if memory:
        gc.collect()
        tracemalloc.start()
        catalog = _parse(text)
        _simulate([obj for obj, _ in catalog.objects], facts)
        out["peak_tracemalloc_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def profile(size: int, seed: int, top: int) -> str:
    """cProfile of simulate and of a steady reconcile-all for one size: the top functions."""
    docs, facts = generate(size, seed)
    text = to_yaml(docs)
    catalog = _parse(text)
    objects = [obj for obj, _ in catalog.objects]
    report = io.StringIO()
    for label, target in (
        ("parse+validate", lambda: _parse(text)),
        ("simulate", lambda: _simulate(objects, facts)),
    ):
        profiler = cProfile.Profile()
        profiler.enable()
        result = target()
        profiler.disable()
        report.write(f"\n=== cProfile: {label}, {size} models (top {top} by own time) ===\n")
        pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(top)
        if label == "simulate":
            cluster, _ = result
            snapshot = cluster.snapshot()
            profiler = cProfile.Profile()
            profiler.enable()
            reconcile_all(snapshot)
            profiler.disable()
            report.write(
                f"\n=== cProfile: steady reconcile-all, {size} models (top {top} by cumulative) ===\n"
            )
            pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(top)
    return report.getvalue()


def _child(size: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        str(size),
        "--seed",
        str(args.seed),
        "--repeat",
        str(args.repeat),
    ]
    if args.no_memory:
        command.append("--no-memory")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def table(results: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str, bool]]]:
    rows: list[tuple[str, list[str]]] = [
        ("models (AIMModel + AIMClusterModel in input)", [str(r["models"]) for r in results]),
        ("input documents / services", [f"{r['documents']} / {r['services']}" for r in results]),
        (
            "objects after convergence / reconciled",
            [f"{r['final_objects']} / {r['reconciled']}" for r in results],
        ),
        ("parse+validate (YAML text)", [_ms(r["parse_validate_s"]) for r in results]),
        ("  of which validate only (dicts)", [_ms(r["validate_only_s"]) for r in results]),
        (
            "  libyaml parse (no lines) + validate, for scale",
            [_ms(r["libyaml_parse_validate_s"]) if "libyaml_parse_validate_s" in r else "-" for r in results],
        ),
        ("reconcile-all, first pass", [_ms(r["first_pass_s"]) for r in results]),
        ("simulate to convergence", [_ms(r["simulate_s"]) for r in results]),
        ("  rounds / actions", [f"{r['rounds']} / {r['simulate_actions']}" for r in results]),
        ("snapshot build (converged state)", [_ms(r["snapshot_build_s"]) for r in results]),
        ("reconcile-all, steady", [_ms(r["steady_s"]) for r in results]),
        ("  per reconciled object", [_us(r["steady_s"] / r["reconciled"]) for r in results]),
        ("simulate / parse+validate", [f"{r['simulate_s'] / r['parse_validate_s']:.2f}x" for r in results]),
        ("steady-state actions", [str(r["steady_actions"]) for r in results]),
        (
            "peak memory (tracemalloc)",
            [f"{r['peak_tracemalloc_mb']:,.0f} MB" if "peak_tracemalloc_mb" in r else "-" for r in results],
        ),
        ("peak RSS of the process", [f"{r['maxrss_mb']:,.0f} MB" for r in results]),
    ]
    header = ["figure"] + [f"{r['size']} models" for r in results]
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(h), *(len(v[i]) for _, v in rows)) + 2 for i, h in enumerate(header[1:])]
    lines = [header[0].ljust(width) + "".join(h.rjust(c) for h, c in zip(header[1:], cols, strict=True))]
    for label, values in rows:
        lines.append(label.ljust(width) + "".join(v.rjust(c) for v, c in zip(values, cols, strict=True)))

    targets: list[tuple[str, str, bool]] = []
    small, large = results[0], results[-1]
    if len(results) > 1:
        ratio = large["models"] / small["models"]
        limit = GROWTH_SLACK * ratio
        for key, label in (("steady_s", "reconcile-all, steady"), ("simulate_s", "simulate")):
            growth = large[key] / small[key]
            targets.append(
                (
                    f"{label} growth {small['size']} -> {large['size']} <= {limit:.1f}x",
                    f"{growth:.2f}x (size ratio {ratio:.2f})",
                    growth <= limit,
                )
            )
    for r in results:
        over = r["simulate_s"] / r["parse_validate_s"]
        targets.append(
            (
                f"simulate <= {SIMULATE_OVER_PARSE:.0f}x parse+validate ({r['size']})",
                f"{over:.2f}x",
                over <= SIMULATE_OVER_PARSE,
            )
        )
        targets.append(
            (f"steady-state actions == 0 ({r['size']})", str(r["steady_actions"]), r["steady_actions"] == 0)
        )
        targets.append((f"converged ({r['size']})", f"{r['rounds']} rounds", bool(r["converged"])))
    return "\n".join(lines), targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1000,8000", help="comma-separated model counts (default 1000,8000)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="time each step this many times, keep the best")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size: top functions")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one is not None:
        print(json.dumps(measure(args.one, args.seed, args.repeat, not args.no_memory)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = [_child(size, args) for size in sorted(sizes)]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    rendered, targets = table(results)
    print(
        f"aimcore benchmarks: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, seed {args.seed}, best of {args.repeat}"
    )
    print()
    print(rendered)
    print()
    width = max(len(t[0]) for t in targets) + 2
    for label, value, met in targets:
        print(f"{label.ljust(width)}{value:>28}   {'met' if met else 'NOT MET'}")
    if args.profile:
        print(profile(max(sizes), args.seed, args.top))
    return 0 if all(met for _, _, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
