"""buildsys.host.nvcc: finding the CUDA compiler, its version, and what it compiles."""

import os
import re
from pathlib import Path

import pytest
from buildsys.errors import UsageError
from buildsys.host import nvcc

NVCC = nvcc.find()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="needs nvcc")


def fake_nvcc(directory: Path, release: str = "12.4") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nvcc"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "Cuda compilation tools, release {release}, V{release}.99"\n'
        'echo "sm_80"; echo "sm_90"; echo "sm_90"\n'
    )
    path.chmod(0o755)
    return path


def test_cudacxx_names_the_compiler(tmp_path):
    fake = fake_nvcc(tmp_path)
    assert nvcc.find({"CUDACXX": str(fake), "PATH": ""}) == fake


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_cudacxx_is_refused(value):
    with pytest.raises(UsageError, match="is not an executable file") as info:
        nvcc.find({"CUDACXX": value})
    assert "unset it" in info.value.fix


def test_a_cudacxx_that_does_not_exist_is_refused(tmp_path):
    # It used to be returned as it was; now a wrong setting fails where it is read.
    with pytest.raises(UsageError, match=r"CUDACXX='.*/nvcc' is not an executable file"):
        nvcc.find({"CUDACXX": str(tmp_path / "nvcc")})


def test_a_cudacxx_that_is_not_executable_or_a_directory_is_refused(tmp_path):
    plain = tmp_path / "nvcc"
    plain.write_text("")
    with pytest.raises(UsageError):
        nvcc.find({"CUDACXX": str(plain)})
    with pytest.raises(UsageError):
        nvcc.find({"CUDACXX": str(tmp_path)})


def test_path_then_the_default_location(tmp_path):
    fake = fake_nvcc(tmp_path / "bin")
    assert nvcc.find({"PATH": str(fake.parent)}) == fake
    found = nvcc.find({"PATH": str(tmp_path / "empty")})
    assert found == (nvcc.DEFAULT if nvcc.DEFAULT.exists() else None)


def test_version_and_sass_targets_from_the_compilers_own_output(tmp_path):
    fake = fake_nvcc(tmp_path, "12.8")
    assert nvcc.version(fake) == "12.8"
    assert nvcc.sass_targets(fake) == ("80", "90")
    assert nvcc.version(tmp_path / "missing") == "unknown"
    assert nvcc.sass_targets(tmp_path / "missing") == ()


@needs_nvcc
def test_the_installed_nvcc():
    assert re.fullmatch(r"\d+\.\d+", nvcc.version(NVCC))
    assert all(t.isdigit() for t in nvcc.sass_targets(NVCC)) and nvcc.sass_targets(NVCC)


@needs_nvcc
def test_real_sees_through_a_wrapper_script(tmp_path):
    wrapper = tmp_path / "nvcc"
    wrapper.write_text(f'#!/bin/sh\nexec {nvcc.real(NVCC)} "$@"\n')
    wrapper.chmod(0o755)
    real = nvcc.real(wrapper)
    assert real != wrapper and real.name == "nvcc" and real.parent.name == "bin"
    assert real == nvcc.real(NVCC) and os.access(real, os.X_OK)


def test_real_of_something_that_is_not_nvcc_is_itself(tmp_path):
    fake = fake_nvcc(tmp_path)
    assert nvcc.real(fake) == fake.resolve()
