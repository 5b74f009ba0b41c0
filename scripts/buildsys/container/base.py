"""A base image built from Debian's packages, for machines that reach no registry.

`debootstrap --variant=minbase SUITE` into a temporary root, archived and imported
into the engine as REPOSITORY-base:SUITE. It is built once per engine and reused; it
cannot be pinned by digest (debootstrap takes the suite's current packages), so images
record the base by suite and the engine's id of the base they were built FROM.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..config.images import ImageBase
from ..errors import ToolMissing
from ..util import console, runner
from ..util.fs import clean_stale_temps, temp_dir
from ..util.paths import Paths
from .engine import Engine

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def ref(engine: Engine, repository: str, base: ImageBase) -> str:
    return engine.local_ref(f"{repository}-base", str(base.debootstrap))


def ensure(paths: Paths, engine: Engine, repository: str, name: str, base: ImageBase) -> str:
    """The engine's reference of the debootstrap base, built now if the engine lacks it."""
    image = ref(engine, repository, base)
    if engine.image_id(image) is not None:
        return image
    suite = str(base.debootstrap)
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise ToolMissing(
            f"base {name!r} is built with debootstrap, which is not installed",
            fix="install it (`apt-get install debootstrap`), or use a registry base (--base)",
        )
    if os.geteuid() != 0:
        raise ToolMissing(
            f"base {name!r}: debootstrap needs root (it creates device files and chroots)",
            fix="run `nox -s images` as root once to create the base, or use a registry base",
        )
    mirror = os.environ.get("INFERCORE_DEBIAN_MIRROR", DEFAULT_MIRROR)
    work = paths.build / "images"
    clean_stale_temps(work)
    root = temp_dir(work, f"rootfs-{suite}")
    archive = root.with_name(root.name + ".tar")
    log = paths.logs / f"images-base-{suite}.log"
    try:
        console.say(name, f"debootstrap --variant=minbase {suite} from {mirror}")
        runner.call(
            [debootstrap, "--variant=minbase", suite, root, mirror],
            env=engine.env,  # debootstrap runs chroot, from sbin
            what=f"debootstrap {suite}",
            log=log,
            fix=f"read {log}; a different mirror: INFERCORE_DEBIAN_MIRROR=URL",
        )
        runner.call(["tar", "-C", root, "-c", "-f", archive, "."], what="archiving the root")
        runner.call(
            [engine.path, "import", archive, image],
            what=f"importing {image}",
            log=log,
            env=engine.env,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        archive.unlink(missing_ok=True)
    console.say(name, f"base {image} imported")
    return image
