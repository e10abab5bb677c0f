"""The `aimcore` command line: the contract in DESIGN.md, exit codes included.

0: clean (and converged); 1: problems in the input, or not converged; 2: bad usage.
No command lets a traceback reach the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, TextIO

import yaml

from aimcore.adapters.cli import inspect as inspect_command
from aimcore.adapters.cli.output import render
from aimcore.adapters.common.inspection import Inspector
from aimcore.adapters.files.imagefacts import load_image_facts
from aimcore.adapters.files.manifests import check_updates, load_catalog
from aimcore.adapters.kube.operator import add_operator_arguments, operator_command
from aimcore.adapters.memory.cluster import DryRuns, MemoryCluster, StartFailures
from aimcore.adapters.memory.simulate import final_objects, paused_gc, run, run_once
from aimcore.crds import crds
from aimcore.facts import FailureKind, InspectFailure, InspectResult
from aimcore.snapshot import DEFAULT_OPERATOR_NAMESPACE, InspectKey

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def registry_inspector(secret_documents: Sequence[dict[str, Any]]) -> Inspector:
    """Inspections against real registries with the Secrets found among the inputs (issue 6)."""
    from aimcore.adapters.registry.inspector import make_inspector

    return make_inspector(secret_documents)


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Problems on stdout, notes and the summary on stderr. With --against, the objects as they
    are (a cluster's export, say) are checked too, and what the API server would refuse as an
    update of them (an immutable field changed) is a problem of the new manifests."""
    catalog = load_catalog(args.paths)
    problems = list(catalog.problems)
    summary = f"{catalog.documents} document{'s' if catalog.documents != 1 else ''} checked"
    if args.against:
        earlier = load_catalog(args.against)
        problems = [*earlier.problems, *problems, *check_updates(earlier, catalog)]
        summary += f" against {earlier.documents} earlier"
    for note in catalog.notes:
        print(note.render_note(), file=err)
    for problem in problems:
        print(problem.render(), file=out)
    count = len(problems)
    print(f"{summary}, {count} problem{'s' if count != 1 else ''}", file=err)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _now(value: str | None) -> str:
    if value is None:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--now {value!r} is not an RFC 3339 time such as 2026-01-01T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"--now {value!r} needs a time zone, for example 2026-01-01T00:00:00Z"
        )
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unanswered(requests: list[InspectKey]) -> dict[InspectKey, InspectResult]:
    message = "no registry access in this run: pass --images FILE or --registry"
    return {key: InspectFailure(FailureKind.UNREACHABLE, message) for key in requests}


def _reconcile(args: argparse.Namespace, out: TextIO, err: TextIO, *, once: bool) -> int:
    try:
        now = _now(args.now)
    except argparse.ArgumentTypeError as usage:
        print(f"aimcore {args.command}: error: {usage}", file=err)
        return EXIT_USAGE
    catalog = load_catalog(args.paths)
    problems = list(catalog.problems)
    inspector: Inspector = _unanswered
    dry_runs: DryRuns | None = None
    start_failures: StartFailures | None = None
    if args.images:
        facts, fact_problems = load_image_facts(args.images)
        problems.extend(fact_problems)
        inspector = lambda keys: {k: facts.inspect(k) for k in keys}  # noqa: E731
        dry_runs = facts.dry_run
        start_failures = facts.start_failure
    elif args.registry:
        inspector = registry_inspector(catalog.secret_documents)
    for note in catalog.notes:
        print(note.render_note(), file=err)
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else None
    if gpus is not None and catalog.nodes is not None:
        print(f"note: --gpus is ignored: the inputs hold {len(catalog.nodes)} Node(s), which decide the GPUs",
              file=err)
    cluster = MemoryCluster(
        (obj for obj, _ in catalog.objects), now=now, operator_namespace=args.operator_namespace, gpus=gpus,
        nodes=catalog.nodes, dry_runs=dry_runs, start_failures=start_failures, kserve=not args.no_kserve,
        workloads=catalog.workloads,
    )
    with paused_gc():
        if once:
            outcome = run_once(cluster, inspector)
        else:
            outcome = run(cluster, inspector, max_rounds=args.max_rounds)
    report = {
        "converged": outcome.converged,
        "rounds": outcome.rounds,
        "objects": final_objects(cluster),
        "actions": [a.as_json() for a in outcome.actions],
        "problems": [p.as_json() for p in problems],
    }
    render(report, args.output, out)
    for problem in problems:
        print(problem.render(), file=err)
    if problems:
        return EXIT_PROBLEMS
    if not once and not outcome.converged:
        print(f"not converged within {args.max_rounds} rounds", file=err)
        return EXIT_PROBLEMS
    return EXIT_OK


def _plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _reconcile(args, out, err, once=True)


def _simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _reconcile(args, out, err, once=False)


def _crds(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the CRDs; a JSON `List` so that `-o json` also pipes into `kubectl apply -f -`."""
    documents = crds()
    if args.output == "json":
        listing = {"apiVersion": "v1", "kind": "List", "items": documents}
        out.write(json.dumps(listing, indent=2) + "\n")
    else:
        out.write(yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True))
    return EXIT_OK


def _operator(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Logs go to stderr as JSON lines; nothing is printed on stdout."""
    return operator_command(args)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _reconcile_options(parser: argparse.ArgumentParser, *, rounds: bool) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML/JSON file or directory")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--images", metavar="FILE", help="image facts file, so that no registry is needed")
    source.add_argument("--registry", action="store_true", help="inspect images in their real registries")
    parser.add_argument("--operator-namespace", default=DEFAULT_OPERATOR_NAMESPACE, metavar="NS")
    parser.add_argument("--now", metavar="RFC3339", help="the time condition timestamps use (default: now)")
    parser.add_argument("--gpus", metavar="MODELS", help="GPU models present, comma-separated (default: any)")
    parser.add_argument("--no-kserve", action="store_true",
                        help="the cluster has no KServe: services wait (KServeNotInstalled)")
    if rounds:
        parser.add_argument("--max-rounds", type=_positive, default=20, metavar="N")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aimcore", description="AIM model management: validate, plan and simulate catalogs."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    validate = commands.add_parser(
        "validate", help="check manifests; every problem with file:line and field path"
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="YAML/JSON file or directory")
    validate.add_argument(
        "--against", action="append", metavar="OLD",
        help="the objects as they are now (file or directory, repeatable): changing an immutable field is a "
        "problem, as the API server refuses it",
    )
    validate.set_defaults(run=_validate)
    plan = commands.add_parser("plan", help="one reconcile pass over every AIM object found: the actions")
    _reconcile_options(plan, rounds=False)
    plan.set_defaults(run=_plan)
    simulate = commands.add_parser("simulate", help="reconcile in an in-memory cluster until nothing changes")
    _reconcile_options(simulate, rounds=True)
    simulate.set_defaults(run=_simulate)
    inspect_command.add_parser(commands)
    crd_command = commands.add_parser(
        "crds", help="print the AIM CustomResourceDefinitions (aimcore crds | kubectl apply -f -)"
    )
    crd_command.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    crd_command.set_defaults(run=_crds)
    operator = commands.add_parser(
        "operator", help="run the operator against a cluster (needs aimcore[kube])"
    )
    add_operator_arguments(operator)
    operator.set_defaults(run=_operator)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args, out, err)
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except Exception as bug:
        print(f"aimcore: internal error, please report it: {type(bug).__name__}: {bug}", file=err)
        return EXIT_PROBLEMS
    return code


if __name__ == "__main__":
    sys.exit(main())
