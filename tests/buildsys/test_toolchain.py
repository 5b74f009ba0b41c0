import sys

from buildsys import toolchain


def test_finds_the_running_interpreter_version():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    interp = toolchain.find_interpreter(version)
    assert interp is not None
    assert interp.full_version.startswith(version + ".")
    assert interp.tag == "cp" + version.replace(".", "")


def test_missing_versions_are_reported_not_invented():
    found, missing = toolchain.find_interpreters(["2.1"])
    assert found == [] and missing == ["2.1"]


def test_nvcc_from_cudacxx(monkeypatch, tmp_path):
    fake = tmp_path / "nvcc"
    monkeypatch.setenv("CUDACXX", str(fake))
    assert toolchain.find_nvcc() == fake
