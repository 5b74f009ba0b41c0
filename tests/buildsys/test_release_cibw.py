"""The release path's decisions, before any container starts: which [release] cell, the
policy its image reaches, and cibuildwheel's configuration generated from the data (which
the pinned cibuildwheel itself must accept)."""

import os
import subprocess
import sys

import pytest
import tomllib
from buildsys import config
from buildsys.container import imagelock
from buildsys.errors import ConfigError, UsageError
from buildsys.release import cells, cibw, export, prepare
from buildsys.release import run as release
from buildsys.util.paths import ROOT

MATRIX = config.load(ROOT).matrix


def entry(base: str, name: str = "release-x86") -> imagelock.Entry:
    return imagelock.Entry(
        tag="t",
        ref=f"localhost/infercore:{name}",
        id="sha256:" + "ab" * 32,
        inputs="0" * 64,
        base=base,
        base_ref="",
        python="3.10",
        engine="podman",
        size_mib=1.0,
        build_seconds=1.0,
    )


def test_a_run_builds_one_cell_of_its_target():
    assert cells.choose(MATRIX, cell=None, target="auto").name == "cuda13-x86_64"
    cpu = cells.choose(MATRIX, cell=None, target="cpu-x86_64")
    assert (cpu.name, cpu.image_name) == ("cpu-x86_64", "release-x86")
    assert cells.choose(MATRIX, cell="cuda13-x86_64", target="auto").image_name == "release-cuda"


@pytest.mark.parametrize(
    ("cell", "target", "message"),
    [
        ("cpu-x86", "auto", "did you mean 'cpu-x86_64'"),
        ("cuda12-x86_64", "auto", "documented but not built here"),
        ("cpu-x86_64", "cuda-x86_64", "builds target 'cpu-x86_64', not --target"),
        (None, "cpu-aarch64", "has 0 built release cells"),
    ],
)
def test_a_cell_that_cannot_run_is_refused_with_the_fix(cell, target, message):
    with pytest.raises(UsageError, match=message) as err:
        cells.choose(MATRIX, cell=cell, target=target)
    assert err.value.fix


def test_the_configured_image_repairs_to_the_cells_policy():
    cpu = cells.choose(MATRIX, cell="cpu-x86_64", target="auto")
    got = cells.reach(MATRIX, cpu, entry("manylinux2014-x86_64"))
    assert (got.stand_in, got.plat, got.policy) == (False, "manylinux2014_x86_64", "manylinux2014")


def test_a_stand_in_base_repairs_to_what_its_glibc_allows():
    cpu = cells.choose(MATRIX, cell="cpu-x86_64", target="auto")
    got = cells.reach(MATRIX, cpu, entry("bookworm"))
    assert got.stand_in and got.plat == "manylinux_2_36_x86_64"


def test_a_stand_in_below_the_toolkits_glibc_floor_is_refused():
    cuda = cells.choose(MATRIX, cell="cuda13-x86_64", target="auto")
    with pytest.raises(ConfigError, match=r"below CUDA 13.0's floor \(glibc 2.28\)"):
        cells.reach(MATRIX, cuda, entry("manylinux2014-x86_64", "release-cuda"))


def _table(versions=("3.10", "3.11", "3.12"), **over):
    kwargs = {
        "cell": "cpu-x86_64",
        "arch": "x86_64",
        "versions": versions,
        "image_ref": "localhost/infercore:cpu-release0.1.0-debian12-x86_64",
        "engine": "podman",
        "plat": "manylinux_2_36_x86_64",
        "mounts": [cibw.Mount(ROOT / "build", cibw.BUILD)],
        "environment": {"SOURCE_DATE_EPOCH": "1577836800", "INFERCORE_GIT_SHA": "abc"},
        "label": "run1",
        "jobs": 2,
        "profile": None,
    }
    return cibw.table(MATRIX, **(kwargs | over))


def test_the_configuration_comes_from_the_data():
    table = _table()
    assert table["build"] == [f"cp{v.replace('.', '')}-*" for v in MATRIX.python_versions]
    for soname in MATRIX.repair_exclude:
        assert f"--exclude {soname}" in table["repair-wheel-command"]
    assert "--plat manylinux_2_36_x86_64" in table["repair-wheel-command"]
    assert table["manylinux-x86_64-image"].startswith("localhost/infercore:")
    engine = table["container-engine"]
    assert engine["name"] == "podman"
    assert f"--volume={ROOT / 'build'}:/infercore/build:rw" in engine["create-args"]
    assert f"--label={cibw.LABEL}=run1" in engine["create-args"]
    before = table["before-all"]
    assert "release-prepare --cell cpu-x86_64" in before
    assert before.count("--python") == 3
    # Every Python builds against what before-all wrote, from one static setting.
    assert table["config-settings"]["cmake.args"] == f"-C{cibw.BUILD / cibw.CORE_CACHE}"


def test_the_rendered_file_is_the_table_in_toml():
    table = _table(environment={"A": 'quote " and \\ back', "B": "é"})
    assert tomllib.loads(cibw.render(table))["tool"]["cibuildwheel"] == table


def test_the_pinned_cibuildwheel_accepts_the_generated_file(tmp_path):
    """cibuildwheel reads the file and resolves the build identifiers from it."""
    pytest.importorskip("cibuildwheel")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.10"\n'
    )
    config_file = tmp_path / "cibw.toml"
    config_file.write_text(cibw.render(_table(versions=("3.10", "3.12"))))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            "linux",
            "--config-file",
            str(config_file),
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "CIBW_ARCHS": ""},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cp310-manylinux_x86_64", "cp312-manylinux_x86_64"]


def test_the_export_holds_the_checkout_and_nothing_built(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (a copy of the tree, as in the container tests)")
    names = export.files(ROOT)
    assert "noxfile.py" in names and "scripts/buildsys/release/run.py" in names
    assert not [n for n in names if n.startswith(("build/", "dist/", ".nox/", ".git/"))]
    count = export.export(ROOT, tmp_path / "project")
    assert count >= len(names) - 5  # tracked files deleted in the work tree are skipped
    assert os.access(tmp_path / "project" / ".ci" / "run", os.X_OK) == os.access(
        ROOT / ".ci" / "run", os.X_OK
    )


def test_the_init_cache_quotes_and_forces_every_value():
    text = prepare.init_cache({"B": 'a "b"', "A": "c\\d"})
    assert text.splitlines()[1:] == [
        'set(A "c\\\\d" CACHE STRING "" FORCE)',
        'set(B "a \\"b\\"" CACHE STRING "" FORCE)',
    ]


def test_progress_times_each_wheel_from_cibuildwheels_lines():
    progress = release.Progress()
    for line in [
        "\x1b[1mRunning before_all...\x1b[0m",
        "Building cp310-manylinux_x86_64 wheel",
        "✓ cp310-manylinux_x86_64 finished in 12.3s",
        "Building cp311-manylinux_x86_64 wheel",
        "✓ cp311-manylinux_x86_64 finished in 10.0s",
    ]:
        progress(line)
    assert set(progress.seconds) == {"cp310", "cp311"}
    assert progress.before_all >= 0


def test_a_tree_outside_git_is_refused_with_the_fix(tmp_path):
    with pytest.raises(UsageError, match="is not a git checkout") as err:
        export.files(tmp_path)
    assert "clone" in err.value.fix


def test_host_means_the_host_pipeline_and_never_reads_a_cell(tmp_path):
    from buildsys.util.paths import Paths

    paths = Paths.from_env({"INFERCORE_BUILD_DIR": str(tmp_path)})
    lock = config.load(ROOT).lock
    assert release.choose(paths, MATRIX, lock, via="host", cell=None, target="sm75") is None
    env = {"INFERCORE_CONTAINER": "never"}
    assert (
        release.choose(paths, MATRIX, lock, via="auto", cell=None, target="auto", env=env) is None
    )
    with pytest.raises(UsageError, match="--cell is a cibuildwheel option"):
        release.choose(paths, MATRIX, lock, via="host", cell="cpu-x86_64", target="auto")


def test_cibw_settings_of_the_environment_are_unset_and_named(capsys):
    env = {"CIBW_BUILD": "cp39-*", "PATH": "/bin"}
    assert release._without_cibw_settings(env) == {"CIBW_BUILD": None}
    assert "ignoring CIBW_BUILD" in capsys.readouterr().out
    assert release._without_cibw_settings({"PATH": "/bin"}) == {}


def test_a_new_image_gets_a_fresh_build_tree_and_the_old_one_goes(tmp_path):
    from buildsys.util.paths import Paths

    paths = Paths.from_env({"INFERCORE_BUILD_DIR": str(tmp_path)})
    old = release.fresh_build_tree(paths, "cpu-x86_64", entry("bookworm"))
    old.mkdir(parents=True)
    newer = imagelock.Entry(**{**entry("bookworm").__dict__, "id": "sha256:" + "cd" * 32})
    new = release.fresh_build_tree(paths, "cpu-x86_64", newer)
    assert new != old and new.parent == old.parent and not old.exists()
