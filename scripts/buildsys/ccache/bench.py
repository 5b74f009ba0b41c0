"""`bench cache`: one build from two checkouts in different directories, sharing only a
Redis (ccache's remote storage), each with a local cache of its own, as two CI
runners would. The second must be served from the remote: the figures are its wall
time against the first's, the remote hit rate and whether the results are byte for
byte the same (docs/BENCHMARKS.md). tests/integration/test_compiler_cache.py runs this
same scenario and checks the targets.

"The build" is the core with its binding (`buildsys wheel --target cpu-x86_64`) and
one kernel group of the ci profile (`buildsys kernels sm90`). Conan's packages come
from one Conan home, filled before the clock starts: they are Conan's binary cache,
not the compiler cache measured here (CI restores it on its own, keyed by the lock).
FA4's exports (sm90's fa4 variants) have their own content cache, which the remote
does not carry: it starts empty and the two checkouts share it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from ..release import export
from ..util import console, runner
from ..util.fs import sha256_file
from . import redis_server, stats
from .config import STATS_LOG

TARGET = "cpu-x86_64"
PROFILE = "ci"


@dataclass(frozen=True)
class Checkout:
    """A checkout of its own (tracked and untracked-not-ignored files, as a clone
    has them), with its own local ccache directory."""

    root: Path

    @property
    def ccache_dir(self) -> Path:
        return self.root.parent / f"{self.root.name}-ccache"

    def env(self, remote: str, conan_home: Path) -> dict[str, str | None]:
        return {
            "PYTHONPATH": str(self.root / "scripts"),
            "INFERCORE_CCACHE_REMOTE": remote,
            "CCACHE_DIR": str(self.ccache_dir),
            "CONAN_HOME": str(conan_home),
            # FA4's exports have a content cache of their own (not ccache's, so not on
            # the remote): shared by the checkouts as Conan's home is, empty at first.
            "INFERCORE_EXPORT_CACHE": str(conan_home.parent / "fa4-exports"),
            # Its own build tree, inside it (base_dir is the checkout).
            "INFERCORE_BUILD_DIR": None,
            "INFERCORE_CCACHE": None,
            "CCACHE_DISABLE": None,
        }

    def buildsys(
        self, *args: str, env: Mapping[str, str | None], log: Path, what: str
    ) -> runner.Completed:
        return runner.call(
            [sys.executable, "-m", "buildsys", *args],
            what=what,
            cwd=self.root,
            env=env,
            log=log,
        )

    def stats_logs(self, group: str) -> list[Path]:
        build = self.root / "build"
        return [
            build / "core" / TARGET / STATS_LOG,
            *sorted((build / "wheel" / TARGET).glob(f"*/{STATS_LOG}")),
            build / "kernels" / PROFILE / "build" / STATS_LOG,
        ]

    def artifacts(self, group: str) -> dict[str, str]:
        """sha256 of what the build produced: the core library, the kernel library, the
        wheel."""
        build = self.root / "build"
        files = {
            "core library": build / "core-install" / TARGET / "lib" / "libinfercore_core.a",
            f"{group} kernel library": build
            / "kernels"
            / PROFILE
            / group
            / "install"
            / "lib"
            / f"libinfercore_kernels_{group}.a",
        }
        files |= {f"wheel {w.name}": w for w in sorted((self.root / "dist-cache").glob("*.whl"))}
        return {name: sha256_file(path) for name, path in files.items()}


def checkout(source: Path, dest: Path) -> Checkout:
    export.export(source, dest)
    return Checkout(dest)


@dataclass
class Build:
    wall_s: float
    summary: stats.Summary
    artifacts: dict[str, str] = field(default_factory=dict)


def build(
    co: Checkout, *, remote: str, conan_home: Path, group: str, log: Path, label: str
) -> Build:
    env = co.env(remote, conan_home)
    start = time.monotonic()
    co.buildsys(
        "wheel", "--target", TARGET, "--out", str(co.root / "dist-cache"),
        env=env, log=log, what=f"{label}: the core and its binding",
    )  # fmt: skip
    co.buildsys(
        "kernels", group, "--profile", PROFILE,
        env=env, log=log, what=f"{label}: the {group} kernels",
    )  # fmt: skip
    wall = time.monotonic() - start
    summary = stats.total([stats.read(p, remote=remote) for p in co.stats_logs(group)])
    stats.report(label, summary)
    return Build(wall_s=wall, summary=summary, artifacts=co.artifacts(group))


def run(source: Path, *, group: str = "sm80", workdir: Path | None = None) -> dict:
    """Two checkouts, one Redis: the figures of the second build against the first."""
    with tempfile.TemporaryDirectory(prefix="infercore-cache-bench-", dir=workdir) as tmp:
        base = Path(tmp)
        log = base / "bench-cache.log"
        console.say("bench", f"two checkouts under {base}; log: {log}")
        first_co = checkout(source, base / "first")
        second_co = checkout(source, base / "second-elsewhere")
        conan_home = base / "conan-home"
        with redis_server.running(base / "redis") as server:
            env = first_co.env(server.url, conan_home)
            first_co.buildsys(
                "deps", "--target", TARGET, env=env, log=log, what="Conan's packages (untimed)"
            )
            first = build(
                first_co, remote=server.url, conan_home=conan_home, group=group, log=log,
                label="first",
            )  # fmt: skip
            entries = server.keys()
            second = build(
                second_co, remote=server.url, conan_home=conan_home, group=group, log=log,
                label="second",
            )  # fmt: skip
    figures = {
        "group": group,
        "first_s": round(first.wall_s, 1),
        "second_s": round(second.wall_s, 1),
        "ratio": round(second.wall_s / first.wall_s, 3),
        "remote_entries": entries,
        "first": first.summary.as_json(),
        "second": second.summary.as_json(),
        "remote_hit_rate": round(second.summary.remote_hit_rate, 4),
        "identical": first.artifacts == second.artifacts,
        "artifacts": {k: [first.artifacts.get(k), v] for k, v in second.artifacts.items()},
        "cpus": os.cpu_count(),
    }
    show(figures)
    return figures


def show(f: dict) -> None:
    table = Table(title=f"shared compiler cache: core + binding + {f['group']} kernels (ci)")
    for col in ("build", "wall s", "compiles", "hits (remote)", "misses", "figure"):
        table.add_column(col, justify="left" if col in ("build", "figure") else "right")
    for name in ("first", "second"):
        s = f[name]
        figure = (
            f"{f['ratio']:.1%} of the first (target <= 10%); remote hit rate "
            f"{f['remote_hit_rate']:.1%} (target >= 95%)"
            if name == "second"
            else f"{f['remote_entries']} entries stored in Redis"
        )
        table.add_row(
            f"{name} checkout",
            f"{f[f'{name}_s']:.1f}",
            str(s["compiles"]),
            f"{s['hits']} ({s['remote_hits']})",
            str(s["misses"]),
            figure,
        )
    console.print(table)
    same = "byte-identical" if f["identical"] else "DIFFERENT"
    console.say("bench", f"results of the two checkouts: {same} ({', '.join(f['artifacts'])})")
