"""Command line of the Conan steps (`python -m buildsys conan-profiles|deps|cpp-tests`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from . import matrix

COMMANDS = ("conan-profiles", "deps", "cpp-tests")


def add_commands(commands: Any) -> None:  # argparse's private _SubParsersAction
    commands.add_parser(
        "conan-profiles",
        help="render a Conan profile for every build-matrix.toml target and load each",
        description="Write build/conan/profiles/TARGET (and `build`, this machine) from "
        "conan/profiles/*.jinja and build-matrix.toml, then check each with `conan profile show`.",
    )
    deps = commands.add_parser(
        "deps",
        help="conan install of the engine's C++ dependencies for one target",
        description="Install conanfile.py's dependencies for a target: profile, lockfile "
        "(conan.lock), sources verified before any build, packages built from source into "
        "the Conan cache, CMakeToolchain/CMakeDeps/presets in build/conan/TARGET/generators.",
    )
    tests = commands.add_parser(
        "cpp-tests",
        help="build the C++ tests (tests/cpp) with the Conan toolchain and run them with ctest",
    )
    for sub, default in ((deps, matrix.AUTO), (tests, "cpu")):
        sub.add_argument(
            "--target",
            default=default,
            help="a [targets] name from build-matrix.toml"
            + (
                ", or 'auto' (default): CUDA when nvcc is found, else CPU"
                if default == matrix.AUTO
                else ", or 'cpu' (default): this machine's CPU target"
            ),
        )
        sub.add_argument("--jobs", type=int, default=None, help="parallel build jobs")
        sub.add_argument(
            "--offline",
            action="store_true",
            help="use only Conan's download cache, the sources cache and --mirror directories",
        )
        sub.add_argument(
            "--mirror",
            action="append",
            type=Path,
            default=[],
            metavar="DIR",
            help="a directory of pinned files (by file name or sha256)",
        )
    deps.add_argument(
        "--update-lock",
        action="store_true",
        help="re-create the lockfile (conan lock create for every target) after a deliberate "
        "change to conanfile.py or conan/recipes",
    )


def run(args: argparse.Namespace) -> None:
    from . import conan, proc

    if args.command == "conan-profiles":
        from rich.table import Table

        rendered = conan.render_profiles(log=conan.BUILD_DIR / "logs" / "conan-profiles.log")
        table = Table(title="Conan profiles (each loaded by `conan profile show`)")
        for column in ("target", "arch", "compiler", "cuda, archs", "profile"):
            table.add_column(column)
        for name, (path, host) in rendered.items():
            settings, conf = host.get("settings", {}), host.get("conf", {})
            compiler = f"{settings.get('compiler')} {settings.get('compiler.version')}"
            exe = conf.get("tools.build:compiler_executables", {}).get("cpp", "")
            cuda = settings.get("cuda", "")
            if cuda:
                cuda += " sm " + ",".join(conf.get("user.infercore:cuda_archs", []))
            table.add_row(name, settings.get("arch", ""), f"{compiler} ({exe})", cuda, str(path))
        proc.console.print(table)
        return
    if args.command == "deps":
        start = time.monotonic()
        name = args.target
        if name == matrix.AUTO:
            from .toolchain import find_nvcc

            name = matrix.load().default_target(cuda_available=find_nvcc() is not None).name
        deps = conan.install(
            name,
            jobs=args.jobs,
            offline=args.offline,
            mirrors=args.mirror,
            update_lock=args.update_lock,
        )
        conan.summary(deps, time.monotonic() - start)
        return
    from . import cpptests

    cpptests.run(args.target, jobs=args.jobs, offline=args.offline, mirrors=args.mirror)
