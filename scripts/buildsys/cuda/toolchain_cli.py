"""`python -m buildsys toolchain`: assemble the pinned CUDA toolchain and say where it is."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from ..config import BuildMatrix, SourcesLock
from ..util import console
from ..util.paths import Paths
from . import toolchain


def run(paths: Paths, matrix: BuildMatrix, lock: SourcesLock, args: argparse.Namespace) -> None:
    cuda = args.cuda or str(matrix.default_target(cuda_available=True).cuda)
    matrix.toolkit(cuda)  # an unknown version fails here, naming the known ones
    start = time.monotonic()
    # --print-prefix: stdout carries the prefix alone, for $(...); the progress (and any
    # command's output) goes to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.print_prefix else None
    with quiet or contextlib.nullcontext():
        tc = toolchain.ensure(
            paths, lock, cuda, offline=args.offline, mirrors=args.mirror, verify=args.verify
        )
    if args.print_prefix:
        print(tc.prefix)
        return
    from rich.table import Table

    manifest = tc.manifest() or {}
    table = Table(title=f"pinned toolchain {tc.name} (sources.lock.toml)")
    for column in ("wheel", "version", "sha256"):
        table.add_column(column)
    for src in tc.sources:
        table.add_row(src.name, src.version, src.sha256[:16] + "...")
    console.print(table)
    console.print(f"prefix: {tc.prefix}", markup=False)
    console.print(
        f"nvcc {tc.nvcc_version}: {tc.nvcc}; {manifest.get('files')} files, tree sha256 "
        f"{manifest.get('tree_sha256')}",
        markup=False,
    )
    console.print(
        f"ready in {time.monotonic() - start:.1f}s: builds use it with --toolchain pinned "
        f"(or {toolchain.ENV_VAR}=pinned); by hand: CUDACXX={tc.nvcc}",
        style="green",
        markup=False,
    )
