"""The Conan commands' output: `conan-profiles` and `deps`."""

from __future__ import annotations

import argparse
import time

from ..config import BuildMatrix, SourcesLock
from ..host import nvcc as nvcc_tool
from ..util import console
from ..util.paths import Paths
from . import conan


def profiles(paths: Paths, matrix: BuildMatrix, lock: SourcesLock) -> None:
    from rich.table import Table

    c = conan.Conan(paths=paths, matrix=matrix, lock=lock)
    rendered = conan.render_profiles(c, log=paths.logs / "conan-profiles.log")
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
    console.print(table)


def deps(paths: Paths, matrix: BuildMatrix, lock: SourcesLock, args: argparse.Namespace) -> None:
    start = time.monotonic()
    name = args.target
    if name == "auto":
        name = matrix.default_target(cuda_available=nvcc_tool.find() is not None).name
    c = conan.Conan(paths=paths, matrix=matrix, lock=lock)
    installed = conan.install(
        c,
        name,
        jobs=args.jobs,
        offline=args.offline,
        mirrors=args.mirror,
        update_lock=args.update_lock,
    )
    conan.summary(installed, time.monotonic() - start)
