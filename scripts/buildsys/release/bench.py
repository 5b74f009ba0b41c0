"""`bench release`: the cibuildwheel path's figures for docs/BENCHMARKS.md.

Each run is `buildsys wheels` for one cell in a build tree of its own (ccache off, so
every compile is real): the host pipeline and cibuildwheel with every Python, both cold;
cibuildwheel with one Python, cold; cibuildwheel again in the same tree with nothing
changed; and whether that repeat gave byte-identical wheels.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from ..util import console, runner
from ..util.fs import sha256_file
from ..util.paths import Paths


def _run(paths: Paths, tree: Path, via: str, target: str, pythons: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "buildsys", "wheels", "--via", via, "--target", target]
    cmd += [a for v in pythons for a in ("--python", v)]
    cmd += ["--dist", str(tree / "dist")]
    start = time.monotonic()
    runner.call(
        cmd,
        what=f"wheels --via {via} ({len(pythons) or 'all'} Pythons)",
        cwd=paths.root,
        env={
            "CCACHE_DISABLE": "1",
            "INFERCORE_BUILD_DIR": str(tree / "build"),
            "PYTHONPATH": str(paths.root / "scripts"),
        },
        log=paths.build / "bench" / "release.log",
    )
    seconds = time.monotonic() - start
    digests = {w.name: sha256_file(w) for w in sorted((tree / "dist").glob("*.whl"))}
    console.say("bench", f"{via}, {len(digests)} wheels: {seconds:.1f} s")
    return seconds, digests


def run(paths: Paths, *, target: str, one: str) -> dict[str, float]:
    (paths.build / "bench" / "release.log").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="infercore-bench-release-", dir=paths.build) as tmp:
        t = Path(tmp)
        host_all, _ = _run(paths, t / "host", "host", target, [])
        cibw_all, first = _run(paths, t / "cibw", "cibuildwheel", target, [])
        cibw_repeat, again = _run(paths, t / "cibw", "cibuildwheel", target, [])
        cibw_one, _ = _run(paths, t / "cibw-one", "cibuildwheel", target, [one])
    figures = {
        "host_all_cold_s": host_all,
        "cibw_all_cold_s": cibw_all,
        "cibw_one_cold_s": cibw_one,
        "cibw_all_repeat_s": cibw_repeat,
        "pythons": len(first),
        "cibw_vs_host": cibw_all / host_all,
        "cibw_all_vs_one": cibw_all / cibw_one,
        "repeat_identical": float(first == again),
    }
    table = Table(title=f"nox -s wheels, target {target} (wall time)")
    for column in ("run", "seconds", "figure"):
        table.add_column(column, justify="right" if column != "run" else "left")
    table.add_row(f"host pipeline, {len(first)} CPythons, cold", f"{host_all:.1f}", "")
    table.add_row(
        f"cibuildwheel, {len(first)} CPythons, cold",
        f"{cibw_all:.1f}",
        f"{figures['cibw_vs_host']:.2f}x host (target <= 1.2x)",
    )
    table.add_row(
        f"cibuildwheel, CPython {one} only, cold",
        f"{cibw_one:.1f}",
        f"all: {figures['cibw_all_vs_one']:.2f}x one (target <= 1.15x)",
    )
    table.add_row(
        "cibuildwheel repeat, nothing changed",
        f"{cibw_repeat:.1f}",
        "byte-identical wheels" if first == again else "wheels DIFFER",
    )
    console.print(table)
    return figures
