"""buildsys.util.runner: the one subprocess runner, and how an interrupt stops every child."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from buildsys.errors import BuildError, Interrupted, ToolMissing
from buildsys.util import runner

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(autouse=True)
def no_interrupt_left_behind():
    yield
    runner._interrupted = None


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process in group `pgid` that is not a zombie."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            alive.append((int(entry.name), state))
    return alive


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


# -- call() ---------------------------------------------------------------------------------


def test_call_logs_the_command_and_its_output(tmp_path, capsys):
    log = tmp_path / "logs" / "step.log"
    done = runner.call(["sh", "-c", "echo out-line; echo err-line >&2"], what="a step", log=log)
    assert done.returncode == 0 and done.output == ""  # not captured
    text = log.read_text()
    assert text.startswith("$ sh -c 'echo out-line; echo err-line >&2'\n")
    assert "out-line\n" in text and "err-line\n" in text
    shown = capsys.readouterr().out
    assert "+ sh -c 'echo out-line; echo err-line >&2'" in shown  # echoed, shlex-quoted
    assert "out-line" not in shown.splitlines()  # logged, not streamed
    runner.call(["echo", "second"], what="again", log=log)
    assert log.read_text().startswith("$ sh -c")  # appended, never truncated
    assert log.read_text().endswith("$ echo second\nsecond\n")


def test_without_a_log_the_output_goes_to_the_console(capsys):
    runner.call(["echo", "to-the-console"], what="x", echo=False)
    assert capsys.readouterr().out == "to-the-console\n"


def test_stream_shows_and_logs(tmp_path, capsys):
    log = tmp_path / "s.log"
    runner.call(["echo", "both"], what="x", log=log, stream=True, echo=False)
    assert "both" in capsys.readouterr().out and "both" in log.read_text()


def test_a_failure_raises_with_the_logs_tail(tmp_path):
    log = tmp_path / "fail.log"
    script = "for i in $(seq 1 40); do echo line-$i; done; echo the-reason >&2; exit 3"
    with pytest.raises(BuildError) as info:
        runner.call(["sh", "-c", script], what="compiling the thing", log=log)
    err = info.value
    assert err.what == "compiling the thing failed (exit 3)"
    assert err.exit_code == 1
    assert "the-reason" in err.why and "line-40" in err.why
    assert "line-5\n" not in err.why  # only the tail
    assert str(log) in err.fix
    with pytest.raises(BuildError) as info:
        runner.call(["sh", "-c", "exit 1"], what="x", log=log, fix="do this instead")
    assert info.value.fix == "do this instead"


def test_a_failure_without_a_log_shows_the_captured_output_and_the_command():
    with pytest.raises(BuildError) as info:
        runner.call(["sh", "-c", "echo why-it-failed; exit 2"], what="x", capture=True)
    assert "why-it-failed" in info.value.why
    assert "run it by hand: sh -c 'echo why-it-failed; exit 2'" in info.value.fix


def test_check_false_returns_the_exit_code():
    done = runner.call(["sh", "-c", "echo partial; exit 7"], what="x", capture=True, check=False)
    assert (done.returncode, done.output) == (7, "partial\n")
    assert done.argv == ["sh", "-c", "echo partial; exit 7"]


def test_a_missing_program_is_a_missing_tool():
    with pytest.raises(ToolMissing) as info:
        runner.call(["infercore-no-such-program", "--version"], what="probing it")
    assert info.value.exit_code == 4
    assert "command not found: infercore-no-such-program" in str(info.value)
    assert "put it on PATH" in info.value.fix


def test_capture_keeps_stderr_out_of_stdout_when_asked(tmp_path):
    script = "echo '{\"json\": 1}'; echo progress >&2"
    log = tmp_path / "c.log"
    parsed = runner.call(["sh", "-c", script], what="x", log=log, capture=True, stderr_to_log=True)
    assert parsed.output == '{"json": 1}\n'
    assert "progress" in log.read_text() and '{"json": 1}' in log.read_text()
    mixed = runner.call(["sh", "-c", script], what="x", capture=True)
    assert "progress" in mixed.output and '{"json": 1}' in mixed.output


def test_on_line_sees_every_line_as_it_comes():
    seen = []
    done = runner.call(
        ["sh", "-c", "echo one; echo two; printf three"],
        what="x",
        on_line=seen.append,
        capture=True,
    )
    assert seen == ["one\n", "two\n", "three"]
    assert done.output == "one\ntwo\nthree"


def test_an_exception_in_on_line_stops_the_child():
    def explode(_line):
        raise ValueError("parser broke")

    start = time.monotonic()
    with pytest.raises(ValueError, match="parser broke"):
        runner.call(["sh", "-c", "echo go; sleep 30"], what="x", on_line=explode, echo=False)
    assert time.monotonic() - start < 10
    assert runner._live() == []


def test_env_adds_and_removes_variables_and_never_touches_os_environ(monkeypatch):
    monkeypatch.setenv("INFERCORE_TEST_KEEP", "kept")
    monkeypatch.setenv("INFERCORE_TEST_DROP", "dropped")
    before = dict(os.environ)
    script = 'echo "$INFERCORE_TEST_KEEP ${INFERCORE_TEST_DROP-unset} $INFERCORE_TEST_NEW"'
    done = runner.call(
        ["sh", "-c", script],
        what="x",
        capture=True,
        env={"INFERCORE_TEST_DROP": None, "INFERCORE_TEST_NEW": "new"},
    )
    assert done.output == "kept unset new\n"
    assert dict(os.environ) == before


def test_cwd(tmp_path):
    assert runner.call(["pwd"], what="x", cwd=tmp_path, capture=True).output.strip() == str(
        tmp_path.resolve()
    )


def test_probe_is_quiet_and_empty_on_any_failure(capsys):
    assert runner.probe(["echo", "hi"]) == "hi\n"
    assert runner.probe(["sh", "-c", "echo no; exit 1"]) == ""
    assert runner.probe(["infercore-no-such-program"]) == ""
    assert capsys.readouterr().out == ""


def test_tail(tmp_path):
    log = tmp_path / "t.log"
    log.write_text("".join(f"{i}\n" for i in range(100)))
    assert runner.tail(log, lines=2) == "    98\n    99"
    assert runner.tail(tmp_path / "missing.log") == ""


# -- interrupts -------------------------------------------------------------------------------


def test_check_interrupted_raises_once_a_signal_arrived(tmp_path):
    runner.check_interrupted()  # nothing arrived
    assert runner.interrupted() is None
    runner._interrupted = signal.SIGTERM
    assert runner.interrupted() == signal.SIGTERM
    with pytest.raises(Interrupted) as info:
        runner.check_interrupted()
    assert info.value.signum == signal.SIGTERM and info.value.exit_code == 143
    assert not isinstance(info.value, Exception)  # `except Exception` never swallows it
    marker = tmp_path / "started"
    with pytest.raises(Interrupted):
        runner.call(["touch", marker], what="x")
    assert not marker.exists(), "no new command starts after an interrupt"


def test_debug_pause_waits_only_at_the_named_point_and_stays_interruptible(monkeypatch, capsys):
    monkeypatch.delenv("INFERCORE_DEBUG_PAUSE", raising=False)
    start = time.monotonic()
    runner.debug_pause("publish")
    monkeypatch.setenv("INFERCORE_DEBUG_PAUSE", "core-compile,publish")
    runner.debug_pause("engine-tests")
    assert time.monotonic() - start < 1
    runner._interrupted = signal.SIGINT
    with pytest.raises(Interrupted):
        runner.debug_pause("publish")
    assert time.monotonic() - start < 5
    assert "paused at publish" in capsys.readouterr().out


def test_signals_deferred_holds_sigterm_until_the_section_ends():
    """With buildsys's handlers installed, a SIGTERM inside the section is acted on (as
    Interrupted) only when the section ends, even with other threads running (the kernel
    may deliver a process signal to any of them)."""
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    idle = threading.Event()
    bystander = threading.Thread(target=idle.wait, daemon=True)
    bystander.start()
    runner.install_signal_handlers()
    reached_end = False
    try:
        with pytest.raises(Interrupted) as raised, runner.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            for _ in range(1000):  # bytecodes run: a pending handler would run here
                pass
            reached_end = True
        assert reached_end, "interrupted inside the critical section"
        assert raised.value.signum == signal.SIGTERM
    finally:
        idle.set()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        runner._interrupted = None
        runner._deferred.clear()


def test_signals_deferred_outside_the_main_thread_is_a_no_op():
    errors = []

    def worker():
        try:
            with runner.signals_deferred():
                pass
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == []


def _call_in_thread(cmd):
    result = {}

    def target():
        try:
            result["done"] = runner.call(cmd, what="background", echo=False, check=False)
        except BaseException as err:  # pragma: no cover - asserted below
            result["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    child = wait_for(lambda: next(iter(runner._live()), None))
    return thread, child, result


def test_stop_children_ends_a_real_child_group():
    # sh and its background sleep share the child's own process group.
    thread, child, result = _call_in_thread(["sh", "-c", "sleep 60 & sleep 60; wait"])
    wait_for(lambda: len(group_members(child.pid)) >= 3)
    start = time.monotonic()
    runner.stop_children(grace=(2.0, 1.0))
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - start < 4
    assert result["done"].returncode == -signal.SIGTERM
    wait_for(lambda: group_members(child.pid) == [], timeout=5)
    assert runner._live() == []


def test_stop_children_escalates_to_sigkill_for_a_child_that_ignores_signals():
    thread, child, result = _call_in_thread(["sh", "-c", "trap '' INT TERM; sleep 60; sleep 60"])
    wait_for(lambda: len(group_members(child.pid)) >= 2)
    start = time.monotonic()
    runner.stop_children(signal.SIGINT, grace=(0.5, 0.5))
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert result["done"].returncode == -signal.SIGKILL
    assert time.monotonic() - start < 5
    wait_for(lambda: group_members(child.pid) == [], timeout=5)


PROGRAM = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, {scripts!r})
from buildsys import cli
from buildsys.util import runner

cmd, where = json.loads(sys.argv[1]), sys.argv[2]

def dispatch(args, paths):
    if where == "main":
        runner.call(cmd, what="the step")
    else:  # as the wheels pipeline runs its per-Python steps
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(runner.call, cmd, what="the step").result()
    print("the step returned", flush=True)

cli.dispatch = dispatch
sys.exit(cli.main(["plan"]))
"""


def start_run(tmp_path, cmd, where="main"):
    """A buildsys run (cli.main, its signal handlers) whose one step is `cmd`, run in the
    main thread or a worker; returns the process and the pid (= process group) of the
    step, once it runs."""
    program = tmp_path / "run.py"
    program.write_text(textwrap.dedent(PROGRAM).format(scripts=str(SCRIPTS)))
    proc = subprocess.Popen(
        [sys.executable, str(program), json.dumps(cmd), where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    assert line.startswith(f"+ {cmd[0]}"), line
    step = wait_for(lambda: next(iter(children_of(proc.pid)), None))
    wait_for(lambda: Path(f"/proc/{step}/comm").read_text().strip() == Path(cmd[0]).name)
    # Let the run register the child it just started: a signal that lands inside
    # Popen() itself is not forwarded to it (see the report of the test port).
    time.sleep(0.3)
    return proc, step


def finish(proc, sig, *, then=()):
    start = time.monotonic()
    try:
        proc.send_signal(sig)
        for delay, again in then:
            time.sleep(delay)
            proc.send_signal(again)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err, time.monotonic() - start


def kill_group(pgid):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize("where", ["main", "worker"])
@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_an_interrupt_stops_the_run_and_every_child(tmp_path, sig, code, name, where):
    proc, step = start_run(tmp_path, ["sleep", "60"], where)
    try:
        out, err, seconds = finish(proc, sig)
        assert proc.returncode == code, err
        assert seconds < 8
        assert err.count(f"interrupted: {name}: every step was stopped") == 1
        assert "Traceback" not in err and "the step returned" not in out
        wait_for(lambda: group_members(step) == [], timeout=5)
    finally:
        kill_group(step)


# The step's cleanup takes a second, during which it ignores further signals.
SLOW_CLEANUP = ["sh", "-c", """trap 'trap "" INT TERM; sleep 1; exit 1' INT TERM; sleep 60"""]


def test_a_second_sigint_during_the_cleanup_is_the_same_interrupt(tmp_path):
    # nox forwards the terminal's Ctrl-C, which reached this run already: the copy lands
    # while the step cleans up and must neither kill the cleanup nor show a traceback.
    proc, step = start_run(tmp_path, SLOW_CLEANUP, "worker")
    try:
        out, err, seconds = finish(proc, signal.SIGINT, then=[(0.3, signal.SIGINT)])
        assert proc.returncode == 130, err
        assert seconds >= 0.9, "the step's cleanup was cut short"
        assert err.count("interrupted: SIGINT: every step was stopped") == 1
        assert "Traceback" not in err and "the step returned" not in out
        assert group_members(step) == [], "the run exited before its step did"
    finally:
        kill_group(step)


def test_a_step_that_ignores_the_signal_does_not_outlive_the_run(tmp_path):
    proc, step = start_run(tmp_path, ["sh", "-c", "trap '' INT TERM; sleep 60"], "main")
    try:
        _, err, seconds = finish(proc, signal.SIGINT)
        assert proc.returncode == 130, err
        assert seconds < 12  # the grace periods, then SIGKILL
        assert group_members(step) == [], "the step outlived the run"
    finally:
        kill_group(step)


def test_on_github_actions_a_logged_step_is_shown_folded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    log = tmp_path / "step.log"
    runner.call(["sh", "-c", "echo hello"], what="demo step", log=log, echo=False)
    out = capsys.readouterr().out
    assert "::group::demo step\nhello\n::endgroup::" in out
    assert "hello" in log.read_text()
    monkeypatch.delenv("GITHUB_ACTIONS")
    runner.call(["sh", "-c", "echo quiet"], what="demo step", log=log, echo=False)
    assert "quiet" not in capsys.readouterr().out
