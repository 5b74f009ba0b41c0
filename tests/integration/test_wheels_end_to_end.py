"""The real `wheels` pipeline on this host (CPU target, so it takes seconds, not minutes).

Interrupts: SIGINT (or SIGTERM) at any moment stops the run promptly with exit 130
(143), stops every child process, publishes nothing, and leaves the tree so that the
next run succeeds. The moments are made exact with INFERCORE_DEBUG_PAUSE, which holds
the run at a named point (buildsys/util/runner.py debug_pause), or by waiting for the
line that starts a step.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
# The host pipeline (tests/integration/test_release.py runs the cibuildwheel one).
CPU = ["--target", "cpu-x86_64", "--python", PY, "--via", "host"]
# The engine-test results are cached by content: a wheel byte-identical to one tested
# before would pass at once, leaving no window to interrupt, and no test run to see.
RETEST = ["--retest"]

pytestmark = pytest.mark.integration


def _finish(proc, timeout=900):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention `path` (children left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """One build tree for the interrupt cases: Conan and the core are built once."""
    return tmp_path_factory.mktemp("interrupts")


# (name, what to wait for in the output, extra environment, signal)
POINTS = [
    ("core-compile", "+ cmake --build", {}, signal.SIGINT),
    ("repaired", "repaired:", {}, signal.SIGINT),
    (
        "engine-tests",
        "paused at engine-tests",
        {"INFERCORE_DEBUG_PAUSE": "engine-tests"},
        signal.SIGINT,
    ),
    ("publish", "paused at publish", {"INFERCORE_DEBUG_PAUSE": "publish"}, signal.SIGTERM),
]


@pytest.mark.parametrize(("point", "marker", "env", "sig"), POINTS, ids=[p[0] for p in POINTS])
def test_an_interrupt_stops_everything_and_publishes_nothing(
    tree, run_buildsys, point, marker, env, sig
):
    build, dist = tree / "build", tree / "dist"
    if point == "core-compile":
        # A core that compiles from scratch, so that the compiler is running when the
        # signal arrives.
        shutil.rmtree(build / "core", ignore_errors=True)
    proc = run_buildsys(
        "wheels", *CPU, *RETEST, "--dist", str(dist), build_dir=build, extra_env=env
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            if point == "core-compile":
                time.sleep(3)  # the compiler is at work now
            proc.send_signal(sig)
            sent = time.monotonic()
            break
    else:
        pytest.fail(f"the run ended before {marker!r}:\n{''.join(seen)}")
    code, out = _finish(proc, timeout=120)
    stopped_s = time.monotonic() - sent
    assert code == 128 + sig, "".join(seen) + out
    assert "interrupted" in out and "Traceback" not in out, out
    assert stopped_s < 20, f"took {stopped_s:.1f} s to stop"
    assert not list(dist.glob("*.whl")), "an interrupted run published a wheel"
    assert not list(dist.glob(".*")), "temporary files were left in dist/"
    assert not _processes_under(tree), "children were left running"


def test_after_the_interrupts_a_full_run_publishes_a_tested_wheel(tree, run_buildsys):
    build, dist = tree / "build", tree / "dist"
    proc = run_buildsys("wheels", *CPU, *RETEST, "--dist", str(dist), build_dir=build)
    code, out = _finish(proc)
    assert code == 0, out
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, out
    assert f"cp{PY.replace('.', '')}" in wheels[0].name and "manylinux" in wheels[0].name
    assert "tested in a fresh venv" in out and " passed, 0 failed" in out
    assert "not manylinux2014" in out  # the host policy is explained
    assert not list(dist.glob(".*")), "no temporary files are left in dist/"


def test_the_published_wheel_carries_its_sbom_in_dist_info(tree, run_buildsys):
    """PEP 770: .dist-info/sboms/infercore.cdx.json, in RECORD, valid CycloneDX 1.6, naming
    what this build used; auditwheel repair kept it."""
    from buildsys import config
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    dist = tree / "dist"
    if not list(dist.glob("*.whl")):  # run on its own, not after the full run above
        code, out = _finish(
            run_buildsys("wheels", *CPU, "--dist", str(dist), build_dir=tree / "build")
        )
        assert code == 0, out
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (member,) = [n for n in names if re.fullmatch(r"infercore-[^/]+\.dist-info/sboms/[^/]+", n)]
        assert member.endswith("/sboms/infercore.cdx.json")
        data = zf.read(member)
        record = zf.read(member.split("/")[0] + "/RECORD").decode()
    # auditwheel grafted nothing into this wheel (glog is static), so it added no SBOM.
    assert not [n for n in names if n.endswith("/sboms/auditwheel.cdx.json")]
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert f"{member},sha256={digest},{len(data)}" in record.splitlines()
    text = data.decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    root = doc["metadata"]["component"]
    props = {p["name"]: p["value"] for p in root["properties"]}
    assert props["infercore:python"] == f"cp{PY.replace('.', '')}" and root["name"] == "infercore"
    assert props["infercore:target"] == "cpu-x86_64"
    found = {c["bom-ref"]: c for c in doc["components"]}
    lock = config.load(Path(__file__).resolve().parents[2]).lock
    for name in ("glog", "pybind11"):
        c = found[f"source/{name}@{lock[name].version}"]
        assert c["hashes"] == [{"alg": "SHA-256", "content": lock[name].sha256}]
        revision = {p["name"]: p["value"] for p in c["properties"]}[
            "infercore:conan:recipe-revision"
        ]
        assert revision in (Path(__file__).resolve().parents[2] / "conan.lock").read_text()
    gxx = subprocess.run(["g++", "-dumpfullversion"], capture_output=True, text=True).stdout
    (gcc,) = [c for c in doc["components"] if c["name"] == "gcc"]
    assert gcc["version"] == gxx.strip() and gcc["scope"] == "excluded"
    assert not [c for c in doc["components"] if c["name"].startswith(("gtest", "cutlass"))]
    print(f"SBOM: {len(data)} bytes, {len(doc['components'])} components")


def test_two_clean_builds_in_different_trees_give_identical_wheels(tmp_path, run_buildsys):
    digests = []
    for name in ("one", "two"):
        proc = run_buildsys(
            "wheels",
            *CPU,
            "--dist",
            str(tmp_path / name / "dist"),
            build_dir=tmp_path / name / "build",
            extra_env={"CCACHE_DISABLE": "1"},
        )  # truly clean compiles
        code, out = _finish(proc)
        assert code == 0, out
        (wheel,) = (tmp_path / name / "dist").glob("*.whl")
        digests.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_unknown_target_fails_before_building(tmp_path, run_buildsys):
    proc = run_buildsys(
        "wheels", "--target", "sm75", "--dist", str(tmp_path / "d"), build_dir=tmp_path / "build"
    )
    code, out = _finish(proc, timeout=120)
    assert code == 2, out
    assert "unknown build target 'sm75'" in out and "fix:" in out
    assert "Traceback" not in out
    assert not (tmp_path / "build" / "core").exists()
