"""The one way buildsys runs a subprocess, and how an interrupt stops them all.

`call()` echoes the command (shlex-quoted), appends everything it prints to a log,
streams it to the console or hands each line to a callback (progress), folds it into
a `::group::` section on GitHub Actions, and on failure raises a BuildError that
shows the log's tail. Every child runs in a process group of its own and is
registered here, so that SIGINT or SIGTERM to buildsys (Ctrl-C, `kill`, nox's own
interrupt, a CI cancel) reaches all of them: `install_signal_handlers()` forwards
the signal to every live child group, escalates to SIGKILL after a grace period,
and raises `Interrupted` in the main thread. A worker thread whose child died that
way raises `Interrupted` too, and no new command starts after an interrupt.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, Interrupted, ToolMissing
from . import console

# Seconds a child gets to exit after the forwarded signal, then after SIGTERM,
# before SIGKILL. ninja, pytest and pip clean up well within the first.
GRACE_S = (5.0, 3.0)

_children: dict[int, subprocess.Popen[str]] = {}
_children_lock = threading.Lock()
_spawning = threading.local()  # .active: this thread is inside Popen()
_interrupted: int | None = None  # the signal number, once one arrived


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    output: str  # captured output ("" unless capture=True)


def interrupted() -> int | None:
    return _interrupted


def check_interrupted() -> None:
    """Raise Interrupted if a signal arrived (for long loops that start no command)."""
    if _interrupted is not None:
        raise Interrupted(_interrupted)


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def _environment(env: Mapping[str, str | None] | None) -> dict[str, str]:
    """The child's environment: ours plus `env` (a None value removes a variable).
    Never changes os.environ itself."""
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def call(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    log: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    stream: bool = False,
    on_line: Callable[[str], None] | None = None,
    capture: bool = False,
    stderr_to_log: bool = False,
    check: bool = True,
    echo: bool = True,
    fix: str | None = None,
) -> Completed:
    """Run `cmd` to completion; see the module docstring.

    what: the step, in words ("compiling the core"), for messages.
    log: append the command and all its output here (else output goes to the console
      unless captured). stream: also show output on the console. on_line: called with
      every output line (progress parsing). capture: return stdout in Completed.output
      (with stderr_to_log, stderr goes to the log only, so stdout stays parseable).
    check: a non-zero exit raises BuildError with the log's tail.
    """
    check_interrupted()
    argv = [os.fspath(c) for c in cmd]
    shown = shlex.join(argv)
    # On GitHub Actions a logged step's output is also shown, folded into a group of its
    # own, so a CI log holds everything without drowning the progress lines.
    stream = stream or (log is not None and not capture and console.github_actions())
    if echo:
        console.echo(shown)
    logf = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        logf = log.open("a", encoding="utf-8", errors="replace")
        logf.write(f"$ {shown}\n")
        logf.flush()
    separate_err = capture and stderr_to_log
    captured: list[str] = []
    child: subprocess.Popen[str] | None = None
    try:
        try:
            # A signal between fork and registration must not lose the child: while the
            # main thread spawns, the handler only records it (checked just below).
            _spawning.active = threading.current_thread() is threading.main_thread()
            child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=_environment(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=(logf or subprocess.DEVNULL) if separate_err else subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
                # A process group of its own: a signal is forwarded to the whole tree
                # (cmake -> ninja -> nvcc -> cicc), and a terminal's Ctrl-C does not hit
                # it twice.
                start_new_session=True,
            )
        except FileNotFoundError:
            raise ToolMissing(
                f"{what}: command not found: {argv[0]}",
                fix=f"install {argv[0]} or put it on PATH",
            ) from None
        finally:
            if child is not None:
                with _children_lock:
                    _children[child.pid] = child
            _spawning.active = False
        try:
            check_interrupted()  # a signal that came while spawning
            with console.group(what) if stream else contextlib.nullcontext():
                assert child.stdout is not None
                for line in child.stdout:
                    if logf is not None:
                        logf.write(line)
                        logf.flush()
                    if capture:
                        captured.append(line)
                    elif stream or logf is None:
                        console.print(line.rstrip("\n"), markup=False, highlight=False)
                    if on_line is not None:
                        on_line(line)
            returncode = child.wait()
        finally:
            if child.poll() is None:  # left early (an exception in on_line, an interrupt)
                _stop_group(child, signal.SIGTERM)
                if _interrupted is None:
                    _reap(child)
                # On an interrupt it stays registered until it has exited: stop_children
                # (cli.main) waits for it and escalates to SIGKILL if it ignores the signal.
            if child.poll() is not None:
                with _children_lock:
                    _children.pop(child.pid, None)
    finally:
        if logf is not None:
            logf.close()
    check_interrupted()  # the child died because we stopped it
    if returncode != 0 and check:
        why = "last lines of the log:\n" + tail(log) if log else "".join(captured)[-3000:]
        raise BuildError(
            f"{what} failed (exit {returncode})",
            why=why,
            fix=fix or (f"read the whole log: {log}" if log else f"run it by hand: {shown}"),
        )
    return Completed(argv=argv, returncode=returncode, output="".join(captured))


def probe(cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None) -> str:
    """A quick query (`nvcc --version`, `git rev-parse`): stdout, or "" when the tool is
    missing or fails. Not echoed; still interruptible."""
    try:
        result = call(cmd, what="probe", capture=True, check=False, echo=False, env=env)
    except ToolMissing:
        return ""
    except OSError:
        return ""
    return result.output if result.returncode == 0 else ""


def cleanup(cmd: Sequence[str | os.PathLike[str]], *, timeout: float = 30.0) -> int:
    """A short clean-up command that must run even after an interrupt (call() refuses
    to start anything once one arrived): quiet, bounded, its failure only returned."""
    try:
        return subprocess.run(
            [os.fspath(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


def cleanup_query(cmd: Sequence[str | os.PathLike[str]], *, timeout: float = 30.0) -> str:
    """A short query a clean-up needs (which containers to remove), also after an
    interrupt: its stdout, or "" when it fails."""
    try:
        done = subprocess.run(
            [os.fspath(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _reap(child: subprocess.Popen[str]) -> None:
    """Wait for a signalled child; SIGKILL its group if it outlasts the grace period."""
    try:
        child.wait(timeout=sum(GRACE_S))
    except subprocess.TimeoutExpired:
        _stop_group(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def _stop_group(child: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _live() -> list[subprocess.Popen[str]]:
    with _children_lock:
        return [c for c in _children.values() if c.poll() is None]


def stop_children(sig: int = signal.SIGTERM, *, grace: Sequence[float] = GRACE_S) -> None:
    """Forward `sig` to every child group, then SIGTERM, then SIGKILL what is left.
    Waits until all have exited (at most sum(grace) seconds plus the kill)."""
    for child in _live():
        _stop_group(child, sig)
    for step, wait_s in enumerate(grace):
        deadline = time.monotonic() + wait_s
        while _live() and time.monotonic() < deadline:
            time.sleep(0.05)
        escalate = signal.SIGTERM if step == 0 and sig != signal.SIGTERM else signal.SIGKILL
        for child in _live():
            _stop_group(child, escalate)
    for child in _live():
        _stop_group(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


_first_signal_at = 0.0
# nox forwards the terminal's Ctrl-C that already reached us: a second signal this soon
# is the same interrupt, not impatience.
SAME_INTERRUPT_S = 2.0


def _on_signal(signum: int, _frame: object) -> None:
    global _interrupted, _first_signal_at
    if _deferring:
        _deferred.append(signum)
        return
    if _interrupted is None:
        _interrupted = signum
        _first_signal_at = time.monotonic()
        # Forward at once (ninja, pytest and pip handle SIGINT by cleaning up); the main
        # thread then unwinds through every `finally` and cli.main waits for the rest.
        for child in _live():
            _stop_group(child, signum)
        if getattr(_spawning, "active", False):
            return  # call() raises once the child it is starting is registered
        raise Interrupted(signum)
    if time.monotonic() - _first_signal_at < SAME_INTERRUPT_S:
        return  # let the cleanup under way finish
    # Another Ctrl-C later: the user is impatient; kill everything now.
    for child in _live():
        _stop_group(child, signal.SIGKILL)
    raise Interrupted(_interrupted)


def quiet_exit() -> None:
    """After an interrupted run has stopped everything: ignore further signals while the
    interpreter shuts down (nox's forwarded copy of a Ctrl-C would otherwise kill it
    half-way and turn the exit status 130 into a signal death)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise Interrupted in the main thread (see the module docstring).
    Call once, from the main thread, before any step starts."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


_deferring = False  # inside signals_deferred (the handler always runs in the main thread)
_deferred: list[int] = []


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM for a short critical section (renames into dist/) and act on
    them after it, so the section completes as a whole or not at all.

    Done in the handler, not with pthread_sigmask: a mask holds only the calling thread,
    and the kernel hands a process signal to any other thread that leaves it unblocked,
    after which Python runs the handler in the main thread all the same."""
    global _deferring
    if threading.current_thread() is not threading.main_thread() or _deferring:
        yield
        return
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
        if _deferred:
            signum = _deferred[0]
            _deferred.clear()
            _on_signal(signum, None)


def debug_pause(point: str) -> None:
    """Fault injection for the interrupt tests: INFERCORE_DEBUG_PAUSE=point[,point] makes
    the run print `paused at POINT` and sleep there for 30 s, so a test can interrupt
    at a precise moment. Never set in normal use."""
    wanted = os.environ.get("INFERCORE_DEBUG_PAUSE", "")
    if point in wanted.split(","):
        console.say("debug", f"paused at {point}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            check_interrupted()
            time.sleep(0.05)
