"""`python -m buildsys bench doctor`: the doctor's run time without network checks (the
"< 5 s" of issue 13), as a user meets it: a fresh process each time, through
`python -m buildsys doctor` and through `nox -s doctor` (nox's start included)."""

from __future__ import annotations

import json
import statistics
import sys
import time

from ..util import console, runner
from ..util.paths import Paths

TARGET_S = 5.0


def _timed(cmd: list[str], paths: Paths) -> tuple[float, dict]:
    start = time.monotonic()
    # check=False: a failed row is a finding, not a failed benchmark.
    done = runner.call(
        cmd,
        what="doctor",
        cwd=paths.root,
        env={"PYTHONPATH": str(paths.root / "scripts")},
        capture=True,
        stderr_to_log=True,
        log=paths.build / "bench" / "doctor.log",
        check=False,
        echo=False,
    )
    wall = time.monotonic() - start
    return wall, json.loads(done.output[done.output.index("{") :])


def run(paths: Paths, *, repeats: int = 5) -> dict[str, float]:
    from rich.table import Table

    commands = {
        "python -m buildsys doctor": [sys.executable, "-m", "buildsys", "doctor", "--json"],
        "nox -s doctor": [sys.executable, "-m", "nox", "-s", "doctor", "--", "--json"],
    }
    figures: dict[str, float] = {"repeats": repeats}
    table = Table(
        title=f"doctor without network checks ({repeats} runs each, target < {TARGET_S} s)"
    )
    for col in ("command", "best s", "median s", "worst s", "checks in-process s"):
        table.add_column(col)
    last: dict = {}
    for label, cmd in commands.items():
        _timed(cmd, paths)  # warm-up: the page cache, nox's environment check
        runs = [_timed(cmd, paths) for _ in range(repeats)]
        walls = [w for w, _ in runs]
        inside = statistics.median(r["seconds"] for _, r in runs)
        key = label.split()[0].replace("python", "buildsys")
        figures |= {
            f"{key}_best_s": min(walls),
            f"{key}_median_s": statistics.median(walls),
            f"{key}_worst_s": max(walls),
            f"{key}_checks_s": inside,
        }
        table.add_row(
            label,
            f"{min(walls):.2f}",
            f"{statistics.median(walls):.2f}",
            f"{max(walls):.2f}",
            f"{inside:.2f}",
        )
        last = runs[-1][1]
    console.print(table)
    figures |= {f"check_{k}_s": v for k, v in last.get("timings", {}).items()}
    figures["rows"] = len(last.get("checks", []))
    console.say(
        "bench",
        "slowest checks: "
        + ", ".join(
            f"{k} {v:.2f}s"
            for k, v in sorted(last.get("timings", {}).items(), key=lambda kv: -kv[1])[:3]
        ),
    )
    return figures
