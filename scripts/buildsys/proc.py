"""Running build steps: commands logged to files, progress lines on the console."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from .errors import BuildError

# rich: readable colour on a terminal, plain lines in CI logs, and safe to call
# from the per-Python worker threads.
# In CI logs (no terminal) rich would assume 80 columns and fold the summary tables.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
_start = time.monotonic()
_lock = threading.Lock()


def say(label: str, message: str, *, style: str = "") -> None:
    """One progress line: elapsed time, who (e.g. 'cp311'), what."""
    elapsed = time.monotonic() - _start
    with _lock:
        console.print(f"[dim]{elapsed:7.1f}s[/dim] [bold]{label:<6}[/bold] {message}", style=style)


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> None:
    """Run a command with its output appended to `log`; a failure names the log and its tail."""
    argv = [str(c) for c in cmd]
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log.open("a") as f:
        f.write(f"$ {shlex.join(argv)}\n")
        f.flush()
        try:
            result = subprocess.run(argv, cwd=cwd, env=full_env, stdout=f, stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise BuildError(
                f"{what or argv[0]}: command not found: {argv[0]}",
                fix=f"install {argv[0]} or put it on PATH",
            ) from None
    if result.returncode != 0:
        raise BuildError(
            f"{what or argv[0]} failed (exit {result.returncode})",
            why="last lines of the log:\n" + tail(log),
            fix=f"read the whole log: {log}",
        )
