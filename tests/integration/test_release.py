"""The release path for real: cibuildwheel + podman build, repair and test the CPU wheels
of CPython 3.10, 3.11 and 3.12 in the release image, built here FROM the stand-in
manylinux base (no registry is reachable: the machine's interpreters laid out as
/opt/python/cpXY-cpXY on debootstrap'ed bookworm).

Also: an impossible [release] cell is refused before any container starts, and an
interrupted run leaves dist/ as it was and no container behind.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib
from buildsys.util import fs
from buildsys.wheels import sbom
from test_containers import ENGINE, _build_image, _copy_tree, _env

RELEASE = ["--role", "release", "--platform", "x86", "--base", "standin-bookworm"]
PYTHONS = ("cp310", "cp311", "cp312")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("INFERCORE_IN_CONTAINER")),
        reason="inside a container: a session never starts another",
    ),
    pytest.mark.skipif(ENGINE is None, reason="needs podman (apt-get install podman runc)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the debootstrap base needs root"),
]


def _git_checkout(tree: Path) -> None:
    """Make the copy a checkout of its own: the release build exports what git knows."""
    git = ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy"]):
        subprocess.run([*git, *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the tree, as a git checkout, with the release image built on the
    stand-in base."""
    tree = tmp_path_factory.mktemp("release-tree")
    _copy_tree(tree)
    _git_checkout(tree)
    start = time.monotonic()
    _build_image(tree, RELEASE)
    print(f"release image ready in {time.monotonic() - start:.1f} s")
    return tree


def _wheels(
    tree: Path, dist: Path, *args: str, target: str = "cpu-x86_64", **popen
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "buildsys", "wheels", "--via", "cibuildwheel"]
    cmd += ["--target", target, "--dist", str(dist), *args]
    return subprocess.Popen(
        cmd,
        cwd=tree,
        env=_env(tree),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def _release_containers() -> list[str]:
    out = subprocess.run(
        [ENGINE, "ps", "-aq", "--filter", "label=infercore.release"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _release_ref(tree: Path) -> str:
    lock = tomllib.loads((tree / "docker" / "images.lock").read_text())
    return lock["image"]["release-x86"]["ref"]


def _container_of_a_killed_run(tree: Path) -> str:
    """A release container as a SIGKILLed run leaves it: labelled with its owner, a
    process of this host that has gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = fs.owner_tag("x").split(".")[0]  # this host, as a run names it
    owner = f"{host}.{gone.pid}.killedrun"
    out = subprocess.run(
        [ENGINE, "create", f"--label=infercore.release={owner}", _release_ref(tree), "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()[:12]


def test_cibuildwheel_builds_repairs_and_tests_a_wheel_per_python(tree, tmp_path):
    dist = tmp_path / "dist"
    before = _release_containers()
    start = time.monotonic()
    proc = _wheels(tree, dist)
    out, _ = proc.communicate(timeout=2400)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, out[-8000:]
    print(f"three wheels through cibuildwheel in {seconds:.1f} s")
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[2] for w in wheels] == list(PYTHONS), wheels
    # The stand-in base is bookworm (glibc 2.36): the run says what its wheels reach.
    assert "stand-in base standin-bookworm" in out
    for wheel in wheels:
        platform = wheel.name.removesuffix(".whl").split("-")[-1]
        assert "manylinux_2_3" in platform, wheel.name
        text = sbom.read_from_wheel(wheel)
        assert text is not None, f"{wheel.name} carries no SBOM"
        sbom.validate(text)
        doc = json.loads(text)
        names = {c["name"] for c in doc["components"]}
        assert {"pybind11", "glog"} <= names, names
        # The image it was built in, by the id docker/images.lock vouches for.
        assert "@sha256:" in json.dumps(doc["metadata"])
    # The summary: a row per wheel, each with its engine tests.
    for tag in PYTHONS:
        assert any(tag in line and " passed" in line for line in out.splitlines()), tag
    # None of this run's (another job's, live, may share the engine).
    assert set(_release_containers()) <= set(before)


def test_an_impossible_cell_is_refused_before_any_container_starts(tmp_path):
    tree = tmp_path / "tree"
    _copy_tree(tree)
    matrix = tree / "build-matrix.toml"
    text = matrix.read_text()
    cell = text.index("[release.cuda13-x86_64]")
    end = text.index("\n\n", cell)
    matrix.write_text(
        text[:cell]
        + text[cell:end]
        .replace('"manylinux_2_28"', '"manylinux2014"')
        .replace('"manylinux_2_28-x86_64"', '"manylinux2014-x86_64"')
        + text[end:]
    )
    before = _release_containers()
    proc = _wheels(tree, tmp_path / "dist", "--cell", "cuda13-x86_64")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 3, out  # a configuration error
    assert "CUDA 13.0's compiler needs glibc >= 2.28" in out and "fix:" in out
    assert "Traceback" not in out
    assert _release_containers() == before
    assert not (tree / "build" / "logs" / "cibuildwheel-cuda13-x86_64.log").exists()
    assert not (tmp_path / "dist").exists()


def test_an_interrupted_run_leaves_dist_and_no_container_behind(tree, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    old = dist / "infercore-0.0.9-cp311-cp311-manylinux_2_36_x86_64.whl"
    old.write_bytes(b"an earlier release")
    killed = _container_of_a_killed_run(tree)
    before = _release_containers()
    assert killed in before
    proc = _wheels(tree, dist, start_new_session=True)
    seen = []
    deadline = time.monotonic() + 1200
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        # Mid-wheel: cibuildwheel's container is up, the first wheel being built.
        if "cp310-manylinux_x86_64: build" in line or time.monotonic() > deadline:
            break
    assert any("cp310-manylinux_x86_64: build" in s for s in seen), "".join(seen)[-4000:]
    time.sleep(3)
    signal_at = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rest, _ = proc.communicate(timeout=120)
    stopped_in = time.monotonic() - signal_at
    assert proc.returncode == 130, rest[-4000:]
    assert stopped_in < 60, f"took {stopped_in:.1f} s"
    assert sorted(p.name for p in dist.iterdir()) == [old.name]
    assert old.read_bytes() == b"an earlier release"
    # The killed run's container went at this run's start; this run's own at its end.
    assert any(f"that a killed run left behind: {killed}" in s for s in seen), seen[:20]
    assert set(_release_containers()) <= set(before) - {killed}
    assert not list((tree / "build" / "staging").glob("cibw-*"))


@pytest.mark.skipif(
    not os.environ.get("INFERCORE_SLOW_TESTS"),
    reason="the CUDA cell's cold kernel build takes ~6 min here: INFERCORE_SLOW_TESTS=1",
)
def test_the_cuda_cell_builds_its_kernels_once_and_ships_them_in_every_wheel(tree, tmp_path):
    """The release-cuda image on the stand-in base: before-all compiles the ci profile's
    kernel libraries once (verified: SASS per arch, wgmma), and each Python's wheel links
    them: the device code per arch is in every one."""
    from buildsys.wheels import devicecode

    _build_image(tree, ["--role", "release", "--platform", "cuda", "--base", "standin-bookworm"])
    dist = tmp_path / "dist"
    proc = _wheels(tree, dist, "--cell", "cuda13-x86_64", target="auto")
    out, _ = proc.communicate(timeout=3600)
    assert proc.returncode == 0, out[-8000:]
    assert out.count("before-all: the core and kernels, once") == 1
    log = (tree / "build" / "logs" / "cibuildwheel-cuda13-x86_64.log").read_text()
    assert "verified (SASS per arch, wgmma, symbols)" in log
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[2] for w in wheels] == list(PYTHONS)
    for wheel in wheels:
        archs = devicecode.breakdown(wheel)
        assert {"sm_80", "sm_90", "sm_90a", "ptx"} <= set(archs), (wheel.name, archs)
