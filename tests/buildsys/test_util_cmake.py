"""buildsys.util.cmake: a build tree is configured again only when its inputs changed."""

import shutil

import pytest
from buildsys.errors import BuildError
from buildsys.util import cmake

pytestmark = pytest.mark.skipif(
    shutil.which("cmake") is None or shutil.which("ninja") is None, reason="needs cmake and ninja"
)

PROJECT = """\
cmake_minimum_required(VERSION 3.20)
project(tiny LANGUAGES NONE)
message(STATUS "configured with FOO=${FOO}")
add_custom_target(hello ALL COMMAND ${CMAKE_COMMAND} -E echo hello)
"""


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(PROJECT)
    return src, tmp_path / "build", tmp_path / "configure.log"


def args(src, build, *defines):
    return ["cmake", "-S", src, "-B", build, "-G", "Ninja", *defines]


def configures(log):
    return log.read_text().count("configured with FOO=")


def test_configure_runs_once_and_again_only_when_the_inputs_change(project):
    src, build, log = project
    assert cmake.configure(args(src, build, "-DFOO=1"), build, what="tiny", log=log) is True
    assert (build / "build.ninja").is_file()
    assert configures(log) == 1
    assert cmake.configure(args(src, build, "-DFOO=1"), build, what="tiny", log=log) is False
    assert configures(log) == 1

    assert cmake.configure(args(src, build, "-DFOO=2"), build, what="tiny", log=log) is True
    assert configures(log) == 2
    assert "FOO:UNINITIALIZED=2" in (build / "CMakeCache.txt").read_text()

    # The environment is an input too.
    assert cmake.configure(
        args(src, build, "-DFOO=2"), build, what="tiny", log=log, env={"CC": "gcc"}
    )
    assert configures(log) == 3
    assert not cmake.configure(
        args(src, build, "-DFOO=2"), build, what="tiny", log=log, env={"CC": "gcc"}
    )


def test_a_lost_build_file_means_configure_again(project):
    src, build, log = project
    cmake.configure(args(src, build), build, what="tiny", log=log)
    (build / "build.ninja").unlink()
    assert cmake.configure(args(src, build), build, what="tiny", log=log) is True
    assert (build / "build.ninja").is_file()


def test_changed_inputs_start_from_a_fresh_cache_unless_told_otherwise(project):
    src, build, log = project
    cmake.configure(args(src, build, "-DFOO=1", "-DKEEP=yes"), build, what="tiny", log=log)
    cmake.configure(args(src, build, "-DFOO=2"), build, what="tiny", log=log)
    assert "KEEP" not in (build / "CMakeCache.txt").read_text()  # a fresh cache

    cmake.configure(args(src, build, "-DFOO=3", "-DKEEP=yes"), build, what="tiny", log=log)
    cmake.configure(args(src, build, "-DFOO=4"), build, what="tiny", log=log, fresh_cache=False)
    assert "KEEP:UNINITIALIZED=yes" in (build / "CMakeCache.txt").read_text()


def test_a_failed_configure_is_not_recorded(project):
    src, build, log = project
    (src / "CMakeLists.txt").write_text(PROJECT + 'message(FATAL_ERROR "broken")\n')
    with pytest.raises(BuildError, match="tiny failed") as info:
        cmake.configure(args(src, build), build, what="tiny", log=log)
    assert "broken" in info.value.why
    assert not (build / "infercore-configure.json").exists()
    (src / "CMakeLists.txt").write_text(PROJECT)
    assert cmake.configure(args(src, build), build, what="tiny", log=log) is True


def test_define_args():
    assert cmake.define_args({"A": "1", "B": "x;y"}) == ["-DA=1", "-DB=x;y"]
