"""Property tests: empty or nonsensical environment settings are refused up front with
what/why/fix (UsageError, exit 2), never silently replaced and never found after a compile.

Generated values for INFERCORE_BUILD_DIR, INFERCORE_SOURCE_CACHE (empty, blank, an existing
file), INFERCORE_BUILD_MEMORY_GIB (nan, inf, 0, negative, words, unicode digits), CUDACXX
(empty, missing, a directory, a non-executable file) and INFERCORE_CONAN_REMOTES (empty,
commas only, a name without URL, '=URL', a name twice) through the functions that read
them. 300 cases per setting and run.
"""

from pathlib import Path

import pytest
from buildsys import config
from buildsys.deps import conan
from buildsys.errors import UsageError
from buildsys.host import memory, nvcc
from buildsys.util.paths import ROOT, Paths
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _clean(err: UsageError) -> None:
    text = str(err)
    assert err.exit_code == 2 and "fix:" in text, text


blank = st.text(alphabet=" \t", max_size=3)


@FUZZ
@given(
    name=st.sampled_from(["INFERCORE_BUILD_DIR", "INFERCORE_SOURCE_CACHE"]),
    kind=st.sampled_from(["blank", "file"]),
    value=blank,
)
def test_directory_settings(tmp_path, name, kind, value):
    if kind == "file":
        value = str(tmp_path / "a-file")
        Path(value).write_text("x")
    with pytest.raises(UsageError) as info:
        Paths.from_env({name: value})
    _clean(info.value)
    assert name in str(info.value)


bad_numbers = st.one_of(
    st.sampled_from(
        ["nan", "NaN", "inf", "-inf", "0", "0.0", "-1", "-0.5", "", " ", "ten", "1e400", "٣"]
    ),
    st.floats(max_value=0).map(repr),
    st.text(alphabet="abcxyz!", min_size=1, max_size=6),
)


@FUZZ
@given(value=bad_numbers)
def test_memory_budget(value):
    if value == "٣":  # float() takes unicode digits: a real, positive number
        assert memory.budget_gib({memory.ENV: value}) == 3.0
        return
    with pytest.raises(UsageError) as info:
        memory.budget_gib({memory.ENV: value})
    _clean(info.value)


@FUZZ
@given(
    kind=st.sampled_from(["empty", "blank", "missing", "directory", "not-executable"]),
    name=st.text(alphabet="abcnvc", min_size=1, max_size=8),
)
def test_cudacxx(tmp_path, kind, name):
    values = {
        "empty": "",
        "blank": " ",
        "missing": str(tmp_path / "nowhere" / name),
        "directory": str(tmp_path),
        "not-executable": str(tmp_path / f"{name}.txt"),
    }
    if kind == "not-executable":
        Path(values[kind]).write_text("#!/bin/sh\n")
    with pytest.raises(UsageError) as info:
        nvcc.find({"CUDACXX": values[kind], "PATH": "/nonexistent"})
    _clean(info.value)


remote_specs = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            ",",
            ",,",
            " , ",
            "=https://x",
            "nosuch",
            "infercore,infercore",
            "a=https://x,a=https://y",
            "mycorp=",
            "conancenter,nosuch",
        ]
    ),
    st.text(alphabet="xyz", min_size=1, max_size=5),  # unknown names without a URL
)


@FUZZ
@given(spec=remote_specs)
def test_conan_remotes(tmp_path, spec):
    cfg = config.load(ROOT)
    c = conan.Conan(
        paths=Paths(root=ROOT, build=tmp_path / "b", source_cache=tmp_path / "c"),
        matrix=cfg.matrix,
        lock=cfg.lock,
        env={conan.REMOTES_ENV: spec},
    )
    with pytest.raises(UsageError) as info:
        conan.remotes(c)
    _clean(info.value)
