"""buildsys.wheels.build: what a per-Python build environment holds, all of it pinned."""

import os
import re
import subprocess

from buildsys import config
from buildsys.util import project
from buildsys.util.paths import ROOT
from buildsys.wheels import build


def test_env_requirements_are_the_pinned_build_requirements_frontend_and_ninja():
    pyproject = config.read_toml(ROOT / "pyproject.toml")
    buildsys_group = pyproject["dependency-groups"]["buildsys"]
    reqs = build.env_requirements(ROOT)
    assert (
        reqs[: len(pyproject["build-system"]["requires"])] == pyproject["build-system"]["requires"]
    )
    frontend, ninja = reqs[-2:]
    assert frontend in buildsys_group and frontend.startswith("build==")
    assert ninja in buildsys_group and ninja.startswith("ninja==")
    assert ninja == project.pin(ROOT, "buildsys", "ninja")
    for req in reqs:  # every one pinned exactly: a rebuilt env is the same env
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", req), req
    assert len(set(reqs)) == len(reqs)


def test_uv_is_the_pinned_one_of_this_environment():
    uv = build.uv()
    assert os.access(uv, os.X_OK)
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True)
    assert project.pin(ROOT, "buildsys", "uv").split("==")[1] in version.stdout
