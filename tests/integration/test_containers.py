"""Sessions in their containers, for real: the test image built from docker/Dockerfile
FROM a debootstrap'ed Debian base (no registry is reachable here), then `nox -s
cpp-tests` and `nox -s tests` re-running themselves inside it (`--container always`).

All in a copy of the tree owned by another user (uid 1234), as a CI runner's
workspace is: the sessions must run as that user, so nothing in the tree becomes
root-owned. Also: Ctrl-C stops the container, and a tampered docker/images.lock or a
changed recipe is refused before anything starts. The seed's validation checklist
items this machine can run: the Dockerfile builds, `conan install` works in the image
(cpp-tests builds the C++ dependencies with Conan there), the tests pass.

The CPU test image (test-x86): this machine has no GPU, and the CUDA image's cold
kernel compile alone would take a quarter of an hour on its 2 cores.
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = shutil.which("podman") or None
OWNER = (1234, 1234)
IMAGE = ["--role", "test", "--platform", "x86", "--base", "bookworm", "--python", "3.11"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("INFERCORE_IN_CONTAINER")),
        reason="inside a container: a session never starts another",
    ),
    pytest.mark.skipif(ENGINE is None, reason="needs podman (apt-get install podman runc)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the debootstrap base needs root"),
    pytest.mark.skipif(
        shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").exists(),
        reason="needs debootstrap",
    ),
]


def _copy_tree(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files, as a fresh checkout has them (the
    release path's export does exactly that)."""
    from buildsys.release import export

    export.export(ROOT, dest)


def _chown_all(root: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), uid, gid)
    os.lchown(root, uid, gid)


def _not_owned_by(root: Path, uid: int) -> list[str]:
    wrong = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if os.lstat(path).st_uid != uid:
                wrong.append(path)
    return wrong


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFERCORE_", "NOX"))}
    env["INFERCORE_CONTAINER_ENGINE"] = "podman"
    env["PYTHONPATH"] = str(tree / "scripts")
    return env


def _nox_cmd(tree: Path, *args: str) -> list[str]:
    # The nox of this test environment (the test group pins it); the noxfile's script
    # block is satisfied by it, so nox runs the copy's noxfile directly. Its host-side
    # session venvs go outside the tree: this nox runs as root, and what is checked is
    # that the sessions in the container write as the tree's owner.
    envdir = tree.parent / f"{tree.name}-host-nox"
    return [sys.executable, "-m", "nox", "--no-color", "--envdir", str(envdir), *args]


def _nox(tree: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(
        _nox_cmd(tree, *args),
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _build_image(tree: Path, args: list[str]) -> None:
    """`buildsys images ARGS` in the copy (as root: the debootstrap base needs it)."""
    out = subprocess.run(
        [sys.executable, "-m", "buildsys", "images", *args, "--engine", "podman"],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the tree with the test image built and recorded in its images.lock,
    then handed to uid 1234."""
    tree = tmp_path_factory.mktemp("container-tree")
    _copy_tree(tree)
    start = time.monotonic()
    _build_image(tree, IMAGE)
    print(f"test image ready in {time.monotonic() - start:.1f} s")
    shutil.rmtree(tree / "build", ignore_errors=True)  # the image build's own scratch
    _chown_all(tree, *OWNER)
    return tree


def test_cpp_tests_run_in_the_container_as_the_trees_owner(tree):
    out = _nox(tree, "-s", "cpp-tests", "--", "--container", "always")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    assert "in the test-x86 image (x86-test" in log
    assert "100% tests passed" in log
    # conan install ran in the image: the Conan toolchain of the container's build tree
    assert "build/container/test-x86/build/conan/cpu-x86_64" in log
    assert _not_owned_by(tree, OWNER[0]) == []


def test_the_test_suites_pass_in_the_container(tree):
    out = _nox(tree, "-s", "tests", "--", "--container", "always", "--image", "test-x86")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-8000:]
    assert "in the test-x86 image" in log
    # pytest's closing tally ("== 759 passed, 54 skipped in 214.94s =="), not any
    # " failed" in the skip reasons above it (a skipped FA4 test quotes uv's error)
    tallies = re.findall(r"^=+ (.*\d+ passed.*) in [\d.]+s", log, flags=re.MULTILINE)
    assert tallies, log[-4000:]
    assert all(" failed" not in t and " error" not in t for t in tallies), tallies
    assert _not_owned_by(tree, OWNER[0]) == []


def test_ctrl_c_stops_the_container(tree):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nox",
            "--no-color",
            "-s",
            "cpp-tests",
            "--",
            "--container",
            "always",
        ],
        cwd=tree,
        env={**_env(tree), "INFERCORE_DEBUG_PAUSE": "cpp-tests-built"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    deadline = time.monotonic() + 600
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "paused at cpp-tests-built" in line or time.monotonic() > deadline:
            break
    assert any("paused at cpp-tests-built" in s for s in seen), "".join(seen)[-4000:]
    assert _containers() != [], "the session's container should be running"
    signal_at = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rest, _ = proc.communicate(timeout=60)
    stopped_in = time.monotonic() - signal_at
    assert proc.returncode != 0, rest[-3000:]
    assert stopped_in < 30, f"took {stopped_in:.1f} s"
    assert _containers() == []
    assert "100% tests passed" not in rest


def _containers() -> list[str]:
    out = subprocess.run(
        [ENGINE, "ps", "-a", "--filter", "name=infercore-cpp-tests", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_a_tampered_lock_is_refused(tree):
    lock = tree / "docker" / "images.lock"
    original = lock.read_text()
    section = original.index("[image.test-x86]")
    start = original.index("\nid = ", section) + 1
    end = original.index("\n", start)
    try:
        lock.write_text(original[:start] + 'id = "sha256:' + "0" * 64 + '"' + original[end:])
        out = _nox(tree, "-s", "cpp-tests", "--", "--container", "always", timeout=120)
        log = out.stdout + out.stderr
        assert out.returncode != 0
        assert "docker/images.lock records sha256:0000" in log
        assert "nox -s images -- --role test --platform x86 --base bookworm" in log
    finally:
        lock.write_text(original)


def test_a_changed_recipe_is_refused_until_rebuilt(tree):
    script = tree / "docker" / "scripts" / "install-system.sh"
    original = script.read_text()
    try:
        script.write_text(original + "# changed\n")
        out = _nox(tree, "-s", "cpp-tests", "--", "--container", "always", timeout=120)
        assert out.returncode != 0
        assert "the test-x86 image is out of date" in out.stdout + out.stderr
    finally:
        script.write_text(original)


CUDA_FILES = ["bin/nvcc", "bin/ptxas", "nvvm/bin/cicc", "lib/libcudart_static.a"]
KERNEL = (
    "__global__ void axpy(float a, const float* x, float* y) {\n"
    "  y[threadIdx.x] += a * x[threadIdx.x];\n"
    "}\n"
)


def test_the_cuda_image_compiler_is_the_hosts_pinned_one(tmp_path):
    """dev-cuda carries the pinned toolchain byte for byte as `--toolchain pinned` has it
    on the host, and compiles for sm_90a in the image."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from buildsys import config
    from buildsys.container.engine import with_sbin
    from buildsys.cuda import toolchain
    from buildsys.util.paths import Paths

    cfg = config.load(ROOT)
    host = toolchain.ensure(Paths.from_env(), cfg.lock, "13.0").prefix
    tree = tmp_path / "tree"
    _copy_tree(tree)
    args = ["--role", "dev", "--platform", "cuda", "--base", "bookworm", "--python", "3.11"]
    _build_image(tree, args)
    from buildsys.container import imagelock

    image = imagelock.read(tree)["dev-cuda"].id
    (tmp_path / "k.cu").write_text(KERNEL)
    script = " && ".join(
        [
            "cd /opt/cuda && sha256sum " + " ".join(CUDA_FILES),
            "nvcc -arch=sm_90a -c /work/k.cu -o /tmp/k.o",
            "echo compiled",
        ]
    )
    run = subprocess.run(
        [ENGINE, "run", "--rm", "-v", f"{tmp_path}:/work:ro", image, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": with_sbin(os.environ.get("PATH", ""))},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    inside = dict(reversed(line.split()) for line in run.stdout.splitlines() if "  " in line)
    for rel in CUDA_FILES:
        assert inside[rel] == hashlib.sha256((host / rel).read_bytes()).hexdigest(), rel
    assert "compiled" in run.stdout
