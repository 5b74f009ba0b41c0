"""The stand-in manylinux release base, for real: release-x86 built FROM standin-bookworm
(the debootstrap'ed bookworm plus this machine's CPython 3.10-3.12, laid out as the
manylinux images do; buildsys/container/standin.py), then checked inside: what
cibuildwheel relies on in a manylinux image, and what its before-all step runs (buildsys
on the tools venv).

In a copy of the tree, so that the repository's docker/images.lock is left alone; an
image the engine already has for the same inputs is reused, as `nox -s images` does.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_containers import ENGINE, _build_image, _copy_tree, pytestmark  # noqa: F401

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ["--role", "release", "--platform", "x86", "--base", "standin-bookworm"]
VERSIONS = ("3.10", "3.11", "3.12")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(the tree copy, the release-x86 image's lock entry)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from buildsys.container import standin

    missing = standin.host_pythons(VERSIONS)[1]
    if missing:
        pytest.skip(f"no self-contained CPython {', '.join(missing)} on this machine")
    tree = tmp_path_factory.mktemp("standin-tree")
    _copy_tree(tree)
    _build_image(tree, IMAGE)
    entry = tomllib.loads((tree / "docker" / "images.lock").read_text())["image"]["release-x86"]
    assert entry["base"] == "standin-bookworm"
    assert entry["base-ref"] == "localhost/infercore-base:bookworm-manylinux"
    return tree, entry


def _run(entry: dict, script: str, *extra: str) -> str:
    out = subprocess.run(
        [ENGINE, "run", "--rm", "--network=none", *extra, entry["ref"], "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_the_interpreters_are_laid_out_as_manylinux_does(release):
    _, entry = release
    for version in VERSIONS:
        tag = "cp" + version.replace(".", "")
        python = f"/opt/python/{tag}-{tag}/bin/python"
        probe = (
            "import json, sys, sysconfig; "
            "print(json.dumps([sys.base_prefix, '%d.%d' % sys.version_info[:2], "
            "{k: v for k, v in sysconfig.get_config_vars().items() if isinstance(v, str)}]))"
        )
        prefix, have, config_vars = json.loads(_run(entry, f'{python} -c "{probe}"'))
        assert have == version
        lib = f"{prefix}/lib"
        for key, value in config_vars.items():
            assert f"-Wl,-rpath,{lib}" not in value, (version, key, value)
            assert f"-L{lib} " not in f"{value} ", (version, key, value)
        assert "-shared" in config_vars["LDSHARED"]  # the rest of the flags survived
        assert _run(entry, f"{python} -m build --version").startswith("build 1.6.1")
        # Any user can run it (the prefix may be under /root), with its extension modules.
        _run(entry, f"{python} -c 'import ssl, sqlite3, ctypes, lzma, bz2, uuid'", "--user", "1234")
    # cibuildwheel always reads the environment with cp39's python.
    assert _run(entry, "/opt/python/cp39-cp39/bin/python -c 'import sys; print(sys.version)'")


def test_auditwheel_patchelf_and_the_policy(release):
    _, entry = release
    out = _run(entry, 'auditwheel --version; patchelf --version; echo "plat=$AUDITWHEEL_PLAT"')
    assert "auditwheel 6.8.2" in out and "patchelf 0.17.2" in out
    assert "plat=manylinux_2_36_x86_64" in out
    assert _run(entry, 'echo "$AUDITWHEEL_ARCH"').strip() == "x86_64"


def test_buildsys_runs_on_the_tools_venv(release):
    tree, entry = release
    imports = (
        "import pydantic, cyclonedx, filelock, elftools, auditwheel, rich; "
        "import buildsys.config, buildsys.util.fs, buildsys.wheels.elfinfo, buildsys.wheels.sbom; "
        "print('ok')"
    )
    out = _run(
        entry,
        f'/opt/infercore/tools/bin/python -c "{imports}"',
        "-v",
        f"{tree / 'scripts'}:/src/scripts:ro",
        "-e",
        "PYTHONPATH=/src/scripts",
    )
    assert out.strip().endswith("ok")
