"""Command line of the build system: `python -m buildsys COMMAND --help`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import matrix
from .errors import BuildError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="buildsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    wheels = commands.add_parser(
        "wheels",
        help="build, repair and test wheels on this host, then move them into dist/",
        description="Build the core once, then for each CPython: the wheel (binding only), "
        "auditwheel repair, checks, and the engine tests in a fresh venv. Only wheels that "
        "pass everything reach dist/.",
    )
    wheels.add_argument("--python", action="append", default=[], metavar="X.Y",
                        help="a CPython version to build for (repeatable; default: every "
                        "version in build-matrix.toml that is installed)")
    wheels.add_argument("--dist", type=Path, default=None,
                        help="where finished wheels go (default: dist-dir in build-matrix.toml)")
    for sub in (wheels, wheel := commands.add_parser(
        "wheel",
        help="build the core and one unrepaired wheel for the running Python (nox -s tests)",
    )):
        sub.add_argument("--target", default=matrix.AUTO,
                         help="a [targets] name from build-matrix.toml, or 'auto' (default): "
                         "CUDA when nvcc is found, else CPU")
        sub.add_argument("--jobs", type=int, default=None,
                         help="parallel compile jobs (default: CPU count)")
    wheel.add_argument("--out", type=Path, required=True, help="directory for the wheel")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "wheels":
            from . import wheels

            wheels.run(pythons=args.python, target_name=args.target, jobs=args.jobs,
                       dist=args.dist)
        elif args.command == "wheel":
            from . import wheels

            wheels.build_for_running_python(out=args.out, target_name=args.target,
                                            jobs=args.jobs)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
