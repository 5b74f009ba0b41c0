"""buildsys.util.paths: where things are, from the environment, checked before use."""

from pathlib import Path

import pytest
from buildsys.errors import UsageError
from buildsys.util.paths import ROOT, Paths


def test_root_is_this_checkout():
    assert (ROOT / "build-matrix.toml").is_file() and (ROOT / "scripts" / "buildsys").is_dir()


def test_defaults(tmp_path):
    paths = Paths.from_env({}, root=tmp_path)
    assert paths.root == tmp_path.resolve()
    assert paths.build == tmp_path.resolve() / "build"
    assert paths.source_cache == Path.home() / ".cache" / "infercore" / "sources"
    assert paths.logs == paths.build / "logs"
    assert paths.unpacked_sources == paths.build / "sources"
    assert paths.matrix_file == paths.root / "build-matrix.toml"
    assert paths.lock_file == paths.root / "sources.lock.toml"
    assert paths.pyproject == paths.root / "pyproject.toml"
    assert paths.kernels_source == paths.root / "csrc" / "kernels"
    assert paths.engine_tests == paths.root / "tests" / "engine"
    assert paths.dist("dist") == paths.root / "dist"


def test_settings_from_the_environment_are_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = Paths.from_env(
        {"INFERCORE_BUILD_DIR": "b", "INFERCORE_SOURCE_CACHE": "~/cache-dir"}, root=tmp_path
    )
    assert paths.build == tmp_path.resolve() / "b"
    assert paths.source_cache == (Path.home() / "cache-dir").resolve()


def test_from_env_reads_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERCORE_BUILD_DIR", str(tmp_path / "elsewhere"))
    assert Paths.from_env(root=tmp_path).build == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("name", ["INFERCORE_BUILD_DIR", "INFERCORE_SOURCE_CACHE"])
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_setting_is_refused(tmp_path, name, value):
    with pytest.raises(UsageError, match=f"{name} is set but empty") as info:
        Paths.from_env({name: value}, root=tmp_path)
    assert info.value.exit_code == 2
    assert "unset it" in info.value.fix and "current directory" in info.value.why


@pytest.mark.parametrize("name", ["INFERCORE_BUILD_DIR", "INFERCORE_SOURCE_CACHE"])
def test_a_setting_that_names_a_file_is_refused(tmp_path, name):
    existing = tmp_path / "a-file"
    existing.write_text("")
    with pytest.raises(UsageError, match="is an existing file, not a directory") as info:
        Paths.from_env({name: str(existing)}, root=tmp_path)
    assert f"point {name} at a directory" in info.value.fix


def test_a_directory_that_does_not_exist_yet_is_fine(tmp_path):
    paths = Paths.from_env({"INFERCORE_BUILD_DIR": str(tmp_path / "new" / "tree")}, root=tmp_path)
    assert paths.build == tmp_path / "new" / "tree" and not paths.build.exists()


def test_a_build_tree_named_after_config_values_stays_inside(tmp_path):
    from buildsys.errors import BuildError

    paths = Paths(root=tmp_path, build=tmp_path / "build", source_cache=tmp_path / "cache")
    assert paths.tree("kernels", "ci", "sm90") == (tmp_path / "build/kernels/ci/sm90").resolve()
    for bad in (("..", "x"), ("/etc",), ("kernels", "../../out")):
        with pytest.raises(BuildError, match="outside"):
            paths.tree(*bad)
