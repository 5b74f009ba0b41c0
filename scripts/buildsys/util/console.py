"""Console output: progress lines, tables, and folded sections on GitHub Actions."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console

# rich: readable colour on a terminal, plain lines in CI logs, and safe to call from the
# per-Python worker threads. Without a terminal rich would assume 80 columns and fold
# the summary tables, so CI logs get a wide fixed width.
_console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
_start = time.monotonic()
_lock = threading.Lock()


def github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def say(label: str, message: str, *, style: str = "") -> None:
    """One progress line: elapsed time, who (e.g. 'cp311'), what."""
    elapsed = time.monotonic() - _start
    with _lock:
        _console.print(
            f"[dim]{elapsed:7.1f}s[/dim] [bold]{label:<6}[/bold] {message}",
            style=style,
            markup=True,
        )


def echo(command: str) -> None:
    """A command about to run, shlex-quoted, as cibuildwheel prints them."""
    with _lock:
        _console.print(f"+ {command}", style="dim", markup=False)


def print(*objects: Any, **kwargs: Any) -> None:
    with _lock:
        _console.print(*objects, **kwargs)


def error(kind: str, text: str) -> None:
    """A user-facing failure on stderr: `error: what` then its why/fix lines."""
    sys.stdout.flush()
    sys.stderr.write(f"{kind}: {text}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A folded log section on GitHub Actions (::group::), a plain heading elsewhere."""
    if not github_actions():
        yield
        return
    with _lock:
        sys.stdout.flush()
        sys.stdout.write(f"::group::{title}\n")
        sys.stdout.flush()
    try:
        yield
    finally:
        with _lock:
            sys.stdout.flush()
            sys.stdout.write("::endgroup::\n")
            sys.stdout.flush()
