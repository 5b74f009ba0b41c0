"""buildsys.errors: what/why/fix messages and the exit code of each kind of failure."""

import signal

import pytest
from buildsys import errors
from buildsys.errors import (
    BUG_EXIT_CODE,
    EXIT_CODES,
    BuildError,
    ConfigError,
    Interrupted,
    SourceError,
    ToolMissing,
    UsageError,
)


def test_build_error_reads_what_why_fix():
    err = BuildError("no nvcc", why="looked on PATH", fix="install CUDA")
    assert str(err) == "no nvcc\n  why: looked on PATH\n  fix: install CUDA"
    assert str(BuildError("only what")) == "only what"
    assert (err.what, err.why, err.fix) == ("no nvcc", "looked on PATH", "install CUDA")


@pytest.mark.parametrize(
    ("cls", "code"),
    [(BuildError, 1), (UsageError, 2), (ConfigError, 3), (ToolMissing, 4), (SourceError, 5)],
)
def test_each_kind_has_its_exit_code(cls, code):
    err = cls("x")
    assert err.exit_code == code
    assert isinstance(err, BuildError)
    assert EXIT_CODES[code]


def test_interrupted_is_not_an_exception_and_exits_128_plus_the_signal():
    assert not issubclass(Interrupted, Exception)
    assert Interrupted().signum == signal.SIGINT and Interrupted().exit_code == 130
    err = Interrupted(signal.SIGTERM)
    assert err.exit_code == 143 and str(err) == "SIGTERM"


def test_exit_code_table_covers_every_outcome():
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 5, BUG_EXIT_CODE, 130, 143}
    assert BUG_EXIT_CODE == 70
    kinds = {c.kind for c in (BuildError, UsageError, ConfigError, ToolMissing, SourceError)}
    assert len(kinds) == 5
    assert errors.__doc__ and "| 70 |" in errors.__doc__
