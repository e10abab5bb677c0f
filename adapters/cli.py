"""The `aimcore` command line: the contract in DESIGN.md, exit codes included.

0: clean (and converged); 1: problems in the input, or not converged; 2: bad usage.
No command lets a traceback reach the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from adapters.manifests import load_catalog

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    catalog = load_catalog(args.paths)
    for note in catalog.notes:
        print(f"{note.file}:{note.line}: note: {note.message}", file=err)
    for problem in catalog.problems:
        print(problem.render(), file=out)
    count = len(catalog.problems)
    summary = f"{catalog.documents} document{'s' if catalog.documents != 1 else ''} checked"
    print(f"{summary}, {count} problem{'s' if count != 1 else ''}", file=err)
    return EXIT_PROBLEMS if catalog.problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aimcore", description="AIM model management: validate, plan and simulate catalogs."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    validate = commands.add_parser(
        "validate", help="check manifests; every problem with file:line and field path"
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="YAML/JSON file or directory")
    validate.set_defaults(run=_validate)
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
    return code


if __name__ == "__main__":
    sys.exit(main())
