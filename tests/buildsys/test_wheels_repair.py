"""buildsys.wheels.repair: platform tags and policies, and a real auditwheel repair of
wheels built here (gcc, a hand-made wheel archive)."""

import base64
import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from buildsys.errors import BuildError
from buildsys.wheels import repair

needs_tools = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("auditwheel") is None,
    reason="needs gcc and auditwheel (the buildsys group)",
)

MODERN = """\
#include <pthread.h>
static void* run(void* a) { return a; }
int t(void) { pthread_t th; return pthread_create(&th, 0, run, 0); }
"""  # pthread_create moved into libc at glibc 2.34
PORTABLE = "#include <string.h>\nint f(const char* s) { return (int)strlen(s); }\n"


def wheel_with(tmp_path: Path, source: str, name: str = "demo") -> Path:
    """A minimal, valid binary wheel holding one extension module compiled from `source`."""
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    so = tmp_path / f"_{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-pthread", "-o", so, src], check=True)
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/_ext.so": so.read_bytes(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\n"
        b"Tag: cp311-cp311-linux_x86_64\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    wheel = tmp_path / f"{name}-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        (
            "infercore-0.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ["manylinux2014_x86_64", "manylinux_2_17_x86_64"],
        ),
        ("infercore-0.1.0-cp312-cp312-manylinux_2_35_x86_64.whl", ["manylinux_2_35_x86_64"]),
        ("infercore-0.1.0-cp310-cp310-linux_x86_64.whl", ["linux_x86_64"]),
        ("infercore-0.1.0-cp311-cp311-manylinux_2_28_aarch64.whl", ["manylinux_2_28_aarch64"]),
    ],
)
def test_platform_tags_of_real_wheel_names(name, tags):
    assert repair.platform_tags(Path("dist") / name) == tags


@pytest.mark.parametrize(
    ("tag", "policy"),
    [
        ("manylinux_2_35_x86_64", "manylinux_2_35"),
        ("manylinux2014_x86_64", "manylinux2014"),
        ("manylinux_2_17_x86_64", "manylinux_2_17"),
        ("manylinux_2_28_aarch64", "manylinux_2_28"),
        ("manylinux2014_aarch64", "manylinux2014"),
        ("linux_x86_64", "linux"),
    ],
)
def test_policy_name_of_a_tag(tag, policy):
    assert repair._policy_name(tag) == policy


def test_release_tags_know_the_manylinux2014_alias():
    both = {"manylinux2014_x86_64", "manylinux_2_17_x86_64"}
    assert repair._release_tags("manylinux2014", "x86_64") == both
    assert repair._release_tags("manylinux_2_17", "x86_64") == both
    assert repair._release_tags("manylinux_2_28", "aarch64") == {"manylinux_2_28_aarch64"}


@needs_tools
def test_a_host_built_wheel_says_why_it_is_not_manylinux2014(tmp_path):
    wheel = wheel_with(tmp_path, MODERN)
    assert [p.name for p in repair.extension_modules(wheel, tmp_path / "x")] == ["_ext.so"]
    log = tmp_path / "repair.log"
    fixed = repair.repair(
        wheel,
        out_dir=tmp_path / "out",
        exclude=("libcuda.so.1",),
        release="manylinux2014",
        arch="x86_64",
        log=log,
    )
    assert fixed.wheel.parent == tmp_path / "out"
    assert fixed.policy == "manylinux_2_34"
    assert fixed.why_not_release is not None
    assert "GLIBC_2.34 (e.g. pthread_create)" in fixed.why_not_release
    assert "newer than manylinux2014 allows" in fixed.why_not_release
    assert "--exclude libcuda.so.1" in log.read_text()


@needs_tools
def test_a_wheel_that_reaches_the_release_policy_needs_no_explanation(tmp_path):
    wheel = wheel_with(tmp_path, MODERN)
    fixed = repair.repair(
        wheel,
        out_dir=tmp_path / "out",
        exclude=(),
        release="manylinux_2_34",
        arch="x86_64",
        log=tmp_path / "repair.log",
    )
    assert fixed.policy == "manylinux_2_34" and fixed.why_not_release is None


@needs_tools
def test_a_wheel_more_portable_than_the_release_policy_reaches_it(tmp_path):
    wheel = wheel_with(tmp_path, PORTABLE)
    fixed = repair.repair(
        wheel,
        out_dir=tmp_path / "out",
        exclude=(),
        release="manylinux2014",
        arch="x86_64",
        log=tmp_path / "repair.log",
    )
    assert fixed.why_not_release is None


@needs_tools
def test_more_than_one_wheel_in_the_output_is_an_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale-1.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(BuildError, match="auditwheel repair produced 2 wheels"):
        repair.repair(
            wheel_with(tmp_path, MODERN),
            out_dir=out,
            exclude=(),
            release="manylinux2014",
            arch="x86_64",
            log=tmp_path / "repair.log",
        )


@needs_tools
def test_a_failing_repair_shows_auditwheels_own_words(tmp_path):
    not_a_wheel = tmp_path / "broken-1.0-cp311-cp311-linux_x86_64.whl"
    not_a_wheel.write_bytes(b"not a zip")
    with pytest.raises(BuildError, match=r"auditwheel repair of broken-1\.0") as info:
        repair.repair(
            not_a_wheel,
            out_dir=tmp_path / "out",
            exclude=(),
            release="manylinux2014",
            arch="x86_64",
            log=tmp_path / "repair.log",
        )
    assert str(tmp_path / "repair.log") in info.value.fix
