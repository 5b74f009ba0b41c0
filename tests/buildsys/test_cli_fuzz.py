"""Property tests: a user error never looks like a crash.

Generated argument lists (each with at least one bad element: an unknown option, an
unknown name, a bad number, an empty path, a bad Python version...) go through the
validating entry points of the command line (plan, wheels, kernels, sources, deps,
cpp-tests); generated text edits of the real build-matrix.toml and sources.lock.toml
(values swapped for other tokens, lines dropped or doubled, keys misspelt) go through
`plan`. Each run must end with a user error's exit code (or success for an edit that
left the file valid), a what/why/fix message and no traceback, and must not start any
build. 1000 argument lists and 1000 edited configurations per run.
"""

import contextlib
import io
import re
import shutil
from pathlib import Path

from buildsys import cli
from buildsys.errors import BUG_EXIT_CODE
from buildsys.util.paths import Paths
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
USER_ERRORS = {1, 2, 3, 4, 5}
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _run(argv: list[str], paths: Paths) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(argv, paths)
    return code, out.getvalue() + err.getvalue()


def _check_clean(code: int, text: str, argv: list[str]) -> None:
    assert code != BUG_EXIT_CODE, f"{argv}: a bug in buildsys:\n{text}"
    assert "Traceback" not in text, f"{argv}:\n{text}"
    if code != 0:
        assert code in USER_ERRORS, (code, argv, text)
        assert "fix:" in text or "did you mean" in text, f"{argv}: no fix in\n{text}"


# --- argument lists -----------------------------------------------------------------------

names = st.sampled_from(["nope", "sm91", "cuda-x86_65", "relase", "", " ", "../x", "ci!", "é"])
bad_numbers = st.sampled_from(["0", "-1", "-999", "1.5", "x", "", "1e9x", "nan", "٣"])
bad_pythons = st.sampled_from(["3", "3.9.1", "2.7", "python3", "", "3.x", "3.1000"])
bad_options = st.sampled_from(["--nope", "--jbos", "--targe", "-x", "--profile="])

# (command, option that takes a name, whether it takes --jobs, whether it takes --python)
COMMANDS = {
    "plan": ("--target", False, False),
    "wheels": ("--target", True, True),
    "kernels": ("--profile", True, False),
    "sources": (None, False, False),
    "deps": ("--target", True, False),
    "cpp-tests": ("--target", True, False),
}


@st.composite
def bad_argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    name_opt, jobs, python = COMMANDS[command]
    argv = [command]
    if command == "kernels":
        argv.append(draw(st.sampled_from(["sm90", "sm80", "nope", "sm9O"])))
    bad = []
    if name_opt:
        bad.append([name_opt, draw(names)])
    if jobs:
        bad.append(["--jobs", draw(bad_numbers)])
    if python:
        bad.append(["--python", draw(bad_pythons)])
    if command in ("sources", "deps", "cpp-tests"):
        bad.append(["--mirror", draw(st.sampled_from(["", "/nonexistent/mirror", " "]))])
    if command == "sources":
        bad.append([draw(names)])  # an unknown source name
    bad.append([draw(bad_options)])
    chosen = draw(st.lists(st.sampled_from(bad), min_size=1, max_size=3, unique_by=id))
    for item in chosen:
        argv += item
    return argv


@FUZZ
@given(argv=bad_argv())
def test_bad_arguments_are_user_errors(argv, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    paths = Paths(root=ROOT, build=tmp / "build", source_cache=tmp / "cache")
    code, text = _run(argv, paths)
    _check_clean(code, text, argv)
    assert code != 0, f"{argv} was accepted:\n{text}"
    assert not (tmp / "build" / "core").exists() and not (tmp / "build" / "kernels").exists()


# --- edited configuration files through `plan` ------------------------------------------

TOKENS = [
    "",
    '""',
    "0",
    "-1",
    "1e400",
    "true",
    "[]",
    "{}",
    '"../x"',
    '"13.5"',
    '"five"',
    "[1, 2]",
    '["80", "80"]',
    "nan",
    '"manylinux_2_5"',
    "[[",
    '"\\u0000"',
]


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        line = lines[i]
        how = draw(st.sampled_from(["value", "drop", "double", "typo", "key"]))
        if how == "value" and "=" in line:
            key = line.split("=", 1)[0]
            lines[i] = f"{key}= {draw(st.sampled_from(TOKENS))}"
        elif how == "drop":
            del lines[i]
            if not lines:
                lines = ["x = 1"]
        elif how == "double":
            lines.insert(i, line)
        elif how == "typo" and (m := re.match(r"^(\s*)([a-z][a-z0-9-]+)(\s*=.*)$", line)):
            key = m.group(2)
            j = draw(st.integers(min_value=0, max_value=len(key) - 1))
            lines[i] = m.group(1) + key[:j] + key[j + 1 :] + m.group(3)
        elif how == "key":
            lines.insert(i, f"{draw(st.sampled_from(['kernel-profle', 'archs', 'x']))} = 1")
    return "\n".join(lines) + "\n"


MATRIX_TEXT = (ROOT / "build-matrix.toml").read_text()
LOCK_TEXT = (ROOT / "sources.lock.toml").read_text()


@FUZZ
@given(which=st.sampled_from(["build-matrix.toml", "sources.lock.toml"]), data=st.data())
def test_edited_configuration_through_plan(which, data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cfg")
    root = tmp / "root"
    root.mkdir()
    for name in ("build-matrix.toml", "sources.lock.toml", "pyproject.toml"):
        shutil.copyfile(ROOT / name, root / name)
    original = MATRIX_TEXT if which == "build-matrix.toml" else LOCK_TEXT
    (root / which).write_text(data.draw(edited(original)))
    paths = Paths(root=root, build=tmp / "build", source_cache=tmp / "cache")
    code, text = _run(["plan", "--json"], paths)
    _check_clean(code, text, ["plan", which])
    assert code in (0, 2, 3), (code, text)
