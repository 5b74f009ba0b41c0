"""docker/: the Dockerfile and its install scripts, linted (hadolint, shellcheck from
PyPI), and the scripts' dnf and yum branches run against a stub package manager that
records its calls (no RHEL-family base is reachable here; the apt branch runs for real
in the image builds of tests/integration/test_containers.py)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from buildsys.util.paths import ROOT

DOCKER = ROOT / "docker"
SCRIPTS = DOCKER / "scripts"


def _tool(name: str) -> str:
    found = shutil.which(
        name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    if found is None:
        pytest.skip(f"{name} is not installed (the test dependency group has it)")
    return found


def test_hadolint_finds_nothing():
    out = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_shellcheck_finds_nothing():
    scripts = sorted(str(p.name) for p in SCRIPTS.glob("*.sh"))
    out = subprocess.run(
        [_tool("shellcheck"), "-x", "--severity=style", *scripts],
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_dockerfile_follows_the_conventions():
    text = (DOCKER / "Dockerfile").read_text()
    header = text.split("\nARG ", 1)[0]
    args = set(re.findall(r"^ARG (\w+)", text, re.M))
    for arg in args:  # every ARG documented in the header, REQUIRED or OPTIONAL
        assert re.search(rf"^# ARG {arg}\s+(REQUIRED|OPTIONAL)", header, re.M), arg
    runs = re.findall(r"^RUN .*?(?=\n\S)", text, re.M | re.S)
    assert runs and all("<<EOT" in r for r in runs)  # heredoc RUN steps
    assert 'ENTRYPOINT ["/usr/local/bin/tini", "--"]' in text
    assert {"dev", "test", "release"} <= set(re.findall(r"^FROM \S+ AS (\w+)", text, re.M))
    # No secret, no package cache in a layer: secrets are mounted, caches cleaned.
    assert "COPY" not in text and "ADD " not in text
    assert "--mount=type=secret,id=ca" in text


def _stub_bin(tmp_path: Path, names: list[str], *, missing: tuple[str, ...] = ()) -> Path:
    """Package managers that record each call in calls.log; `info`/`show` of a package in
    `missing` fails, as for a package the base does not carry."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    miss = " ".join(missing)
    for name in names:
        exe = bin_dir / name
        exe.write_text(
            "#!/bin/sh\n"
            f'echo "{name} $*" >> "{log}"\n'
            'case "$1" in info|show) for m in ' + (miss or '""') + "; do\n"
            '  [ "$2" = "$m" ] && exit 1; done;;\n'
            "esac\n"
            "exit 0\n"
        )
        exe.chmod(0o755)
    return bin_dir


def _run(
    script: str, args: list[str], tmp_path: Path, bin_dir: Path
) -> subprocess.CompletedProcess:
    links = tmp_path / "links"
    links.mkdir(exist_ok=True)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "INFERCORE_IMAGE_BINDIR": str(links),
    }
    return subprocess.run(
        ["sh", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True
    )


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().splitlines()


def test_install_system_on_dnf(tmp_path):
    bin_dir = _stub_bin(tmp_path, ["dnf"])
    out = _run("install-system.sh", ["dnf", "system"], tmp_path, bin_dir)
    assert out.returncode == 0, out.stderr
    calls = _calls(tmp_path)
    assert calls[0] == "dnf makecache"
    assert calls[1].startswith("dnf install -y --setopt=install_weak_deps=False ")
    assert "gcc-toolset-12-gcc-c++" in calls[1] and "git" in calls[1].split()
    assert calls[2] == "dnf clean all"
    link = tmp_path / "links" / "g++"
    assert os.readlink(link) == "/opt/rh/gcc-toolset-12/root/usr/bin/g++"


def test_install_system_on_yum_and_the_test_layer(tmp_path):
    bin_dir = _stub_bin(tmp_path, ["yum"])
    assert _run("install-system.sh", ["yum", "system"], tmp_path, bin_dir).returncode == 0
    assert _run("install-system.sh", ["yum", "test"], tmp_path, bin_dir).returncode == 0
    calls = _calls(tmp_path)
    assert calls[1].startswith("yum install -y ca-certificates gcc gcc-c++ ")
    assert "yum install -y procps-ng psmisc" in calls
    assert calls.count("yum clean all") == 2


def test_install_system_refuses_unknown_input(tmp_path):
    bin_dir = _stub_bin(tmp_path, ["dnf"])
    out = _run("install-system.sh", ["dnf", "everything"], tmp_path, bin_dir)
    assert out.returncode == 2 and "unknown layer 'everything'" in out.stderr
    out = _run("install-system.sh", ["zypper", "system"], tmp_path, bin_dir)
    assert out.returncode != 0 and "unknown package manager 'zypper'" in out.stderr


def test_install_python_takes_the_bases_package(tmp_path):
    bin_dir = _stub_bin(tmp_path, ["dnf"])
    # The "installed" interpreter: this test's own Python, under the packaged name.
    (bin_dir / "python3.12").symlink_to(sys.executable)
    out = _run("install-python.sh", ["dnf", "3.12"], tmp_path, bin_dir)
    assert out.returncode == 0, out.stderr
    calls = _calls(tmp_path)
    assert "dnf info python3.12" in calls
    install = "dnf install -y --setopt=install_weak_deps=False "
    assert install + "python3.12 python3.12-pip python3.12-devel" in calls
    assert os.readlink(tmp_path / "links" / "python3") == str(bin_dir / "python3.12")


def test_install_python_falls_back_to_the_pinned_uv(tmp_path):
    # AlmaLinux 8 packages no python3.10: the pinned uv installs it.
    bin_dir = _stub_bin(tmp_path, ["dnf"], missing=("python3.10",))
    files = tmp_path / "files"
    files.mkdir()
    log = tmp_path / "calls.log"
    uv = files / "uv"
    uv.write_text(
        f'#!/bin/sh\necho "uv $* dir=$UV_PYTHON_INSTALL_DIR" >> "{log}"\n'
        f'[ "$2" = find ] && echo "{sys.executable}"\nexit 0\n'
    )
    uv.chmod(0o755)
    out = _run("install-python.sh", ["dnf", "3.10", str(files)], tmp_path, bin_dir)
    assert out.returncode == 0, out.stderr
    calls = _calls(tmp_path)
    assert "uv python install 3.10 dir=/opt/python-standalone" in calls
    assert not any(c.startswith("dnf install") for c in calls)
    out = _run("install-python.sh", ["dnf", "3.10"], tmp_path, bin_dir)  # no uv handed in
    assert out.returncode == 3 and "packages no python3.10" in out.stderr
    assert "--python X.Y" in out.stderr


def _groups() -> dict:
    from buildsys.util import project

    return project.pyproject(ROOT)["dependency-groups"]


def test_the_tools_lock_holds_the_image_groups_pins():
    """docker/tools.lock.txt is generated from pyproject's image group: regenerate it
    (`python -m buildsys images --update-tools-lock`) when a pin there changes."""
    groups = _groups()
    lock = (DOCKER / "tools.lock.txt").read_text()
    pins = [r for r in groups["image"] if isinstance(r, str)]
    pins += [r for r in groups["conan"] if isinstance(r, str)]
    # the buildsys group too (cibuildwheel's before-all runs buildsys in the release image);
    # its pins with a marker are split by Python version in the lock
    assert {"include-group": "buildsys"} in groups["image"]
    pins += [r for r in groups["buildsys"] if isinstance(r, str) and ";" not in r]
    pins = [re.sub(r"\[[^]]*\]", "", pin) for pin in pins]  # the lock names no extras
    for pin in pins:
        assert re.search(rf"^{re.escape(pin)} \\$", lock, re.M), f"{pin} not in tools.lock.txt"
        # ...and the same version as every other group that pins the tool
        name = pin.split("==")[0]
        for group, reqs in groups.items():
            for r in reqs:
                r = re.sub(r"\[[^]]*\]", "", r) if isinstance(r, str) else r
                if isinstance(r, str) and r.split("==")[0] == name and ";" not in r:
                    assert r == pin, f"[{group}] {r} vs [image] {pin}"
    assert "--hash=sha256:" in lock and "via infercore (pyproject.toml:image)" in lock


def test_the_pinned_uv_is_the_buildsys_groups():
    from buildsys import config

    lock = config.load(ROOT).lock
    uv = next(r for r in _groups()["buildsys"] if r.startswith("uv=="))
    assert lock["uv-x86_64"].version == uv.split("==")[1]
    assert lock["uv-x86_64"].filename.startswith(f"uv-{lock['uv-x86_64'].version}-")
