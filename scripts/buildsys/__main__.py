"""Command line of the build system: `python -m buildsys COMMAND --help`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import conancli, matrix
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
    wheels.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="X.Y",
        help="a CPython version to build for (repeatable; default: every "
        "version in build-matrix.toml that is installed)",
    )
    wheels.add_argument(
        "--retest",
        action="store_true",
        help="run the engine tests even for a wheel byte-identical to one that already passed",
    )
    wheels.add_argument(
        "--dist",
        type=Path,
        default=None,
        help="where finished wheels go (default: dist-dir in build-matrix.toml)",
    )
    for sub in (
        wheels,
        wheel := commands.add_parser(
            "wheel",
            help="build the core and one unrepaired wheel for the running Python (nox -s tests)",
        ),
    ):
        sub.add_argument(
            "--target",
            default=matrix.AUTO,
            help="a [targets] name from build-matrix.toml, or 'auto' (default): "
            "CUDA when nvcc is found, else CPU",
        )
        sub.add_argument(
            "--jobs", type=int, default=None, help="parallel compile jobs (default: CPU count)"
        )
        sub.add_argument(
            "--profile",
            default=None,
            help="kernel profile for CUDA targets ([kernel-profiles] in build-matrix.toml; "
            "default: the target's kernel-profile, e.g. ci; release for shipping)",
        )
    wheel.add_argument("--out", type=Path, required=True, help="directory for the wheel")
    srcs = commands.add_parser(
        "sources",
        help="fetch and verify the pinned sources (sources.lock.toml) into the cache",
        description="Fetch every pinned source (or the NAMEs given) into the content-addressed "
        "cache ($INFERCORE_SOURCE_CACHE, default ~/.cache/infercore/sources), verify each "
        "sha256, and unpack it under build/sources/.",
    )
    srcs.add_argument("names", nargs="*", help="sources to fetch (default: all)")
    srcs.add_argument(
        "--offline",
        action="store_true",
        help="use only the cache and --mirror directories; list what is missing",
    )
    srcs.add_argument(
        "--mirror",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a directory of pinned files (by file name or sha256), tried first",
    )
    srcs.add_argument(
        "--fill-mirror",
        type=Path,
        metavar="DIR",
        help="copy the verified files into DIR (with SHA256SUMS) for air-gapped sites",
    )
    kern = commands.add_parser(
        "kernels",
        help="build, verify and report one arch group's fast-kernel library",
        description="Compile the kernel profile's translation units for one arch group "
        "([kernel-archs] in build-matrix.toml) into lib/libinfercore_kernels_GROUP.a under "
        "build/kernels/PROFILE/GROUP/install, verify it (SASS per arch, PTX, wgmma, symbols) "
        "and print a per-TU build report. The CUDA wheels link the result.",
    )
    kern.add_argument("group", help="arch group, e.g. sm90 ([kernel-archs] in build-matrix.toml)")
    kern.add_argument(
        "--profile",
        default=None,
        help="kernel profile ([kernel-profiles]; default: the CUDA target's kernel-profile)",
    )
    kern.add_argument(
        "--cuda", default=None, help="CUDA version (default: the CUDA target's, e.g. 13.0)"
    )
    kern.add_argument("--jobs", type=int, default=None, help="CPU jobs (default: CPU count)")
    kern.add_argument(
        "--offline", action="store_true", help="use only the sources cache, never the network"
    )
    repro = commands.add_parser(
        "reproducible",
        help="build one wheel twice from scratch in different trees and compare sha256",
    )
    repro.add_argument("--python", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    repro.add_argument("--target", default=matrix.AUTO)
    bench = commands.add_parser("bench", help="print benchmark figures (docs/BENCHMARKS.md)")
    bench.add_argument("what", choices=["wheels", "kernels", "cpu-ops"], help="which benchmark")
    bench.add_argument("--profile", default="ci", help="kernel profile (bench kernels)")
    bench.add_argument(
        "--groups", default="sm80,sm90", help="comma-separated arch groups (bench kernels)"
    )
    bench.add_argument("--python", default="3.11", help="the one-Python run's version")
    conancli.add_commands(commands)  # conan-profiles, deps, cpp-tests
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "wheels":
            from . import wheels

            wheels.run(
                pythons=args.python,
                target_name=args.target,
                jobs=args.jobs,
                dist=args.dist,
                retest=args.retest,
                profile=args.profile,
            )
        elif args.command == "wheel":
            from . import wheels

            wheels.build_for_running_python(
                out=args.out, target_name=args.target, jobs=args.jobs, profile=args.profile
            )
        elif args.command == "sources":
            from . import sources

            sources.report(
                sources.fetch_all(args.names or None, offline=args.offline, mirrors=args.mirror)
            )
            if args.fill_mirror:
                written = sources.fill_mirror(args.fill_mirror, args.names or None)
                print(f"mirror {args.fill_mirror}: {len(written)} files and SHA256SUMS")
        elif args.command == "kernels":
            from . import kernels

            kernels.run(
                group=args.group,
                profile=args.profile,
                cuda=args.cuda,
                jobs=args.jobs,
                offline=args.offline,
            )
        elif args.command == "reproducible":
            from . import reproducible

            reproducible.check(python=args.python, target=args.target)
        elif args.command == "bench":
            from . import bench

            if args.what == "wheels":
                bench.save("wheels", bench.wheels(one=args.python))
            elif args.what == "kernels":
                figures = bench.kernels(profile=args.profile, groups=args.groups.split(","))
                bench.save("kernels", figures)
            else:
                bench.save("cpu-ops", bench.cpu_ops())
        elif args.command in conancli.COMMANDS:
            conancli.run(args)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
