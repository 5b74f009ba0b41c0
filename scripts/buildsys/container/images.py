"""`nox -s images`: build the project's images from build-matrix.toml's [images].

An image is a role (a stage of docker/Dockerfile) built for a platform FROM a base.
For each selected image this stages a build context holding only what goes in
(docker/scripts, the hash-locked tool requirements, the verified pinned files: tini,
the CUDA wheels), computes the digest of those inputs, and builds unless docker/
images.lock already records an image of the same inputs that the engine still has.

The noxfile imports this module (through session.resolve, to check a session's image
is current) in nox's own environment, which has pydantic and rich but not the buildsys
group: what needs more (the sources cache, file locks) is imported where it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as host_platform
import shlex
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import BuildMatrix, SourcesLock
from ..config.compat import version_tuple
from ..config.images import ROLES, ImageBase
from ..config.values import did_you_mean
from ..errors import BuildError, ConfigError, UsageError
from ..util import console, project, runner
from ..util.paths import Paths
from . import dockerfile, imagelock
from .engine import Engine

PLATFORMS = ("cuda", "x86", "arm")
ARCH_OF_PLATFORM = {"cuda": "x86_64", "x86": "x86_64", "arm": "aarch64"}
# The pinned single files staged into the context per arch: (sources.lock.toml name, the
# file inside its unpacked root, its name in files/). tini is the entrypoint; uv installs
# an interpreter for bases that package none of the wanted version (no arm64 uv pinned).
STAGED_FILES = {
    "x86_64": [("tini-amd64", "tini-static", "tini-static"), ("uv-x86_64", "uv", "uv")],
    "aarch64": [("tini-arm64", "tini-static", "tini-static")],
}
TOOLS_LOCK = "tools.lock.txt"  # docker/tools.lock.txt, generated from pyproject's image group
INPUTS_LABEL = "org.infercore.inputs"
# The stdlib-only unpacker of the pinned CUDA wheels, by path: importing cuda.toolchain
# here would pull in the sources cache, which nox's own environment lacks.
UNPACKER = Path(__file__).resolve().parents[1] / "cuda" / "toolchain_unpack.py"


@dataclass(frozen=True)
class ImageSpec:
    name: str  # ROLE-PLATFORM, the key in docker/images.lock
    role: str
    platform: str
    arch: str
    base_name: str
    base: ImageBase
    cuda: str | None
    python: str
    version: str
    repository: str
    # For a base with interpreters = "host" (standin.py): the [python] versions it carries.
    pythons: tuple[str, ...] = ()

    @property
    def _platform_part(self) -> str:
        return f"cuda{self.cuda}" if self.platform == "cuda" else self.platform

    @property
    def tag(self) -> str:
        """{platform}{cuda}-{role}{version}-{os}-{arch}, lowercase (the seed convention)."""
        return f"{self._platform_part}-{self.role}{self.version}-{self.base.os}-{self.arch}".lower()

    @property
    def multiarch_tag(self) -> str:
        return f"{self._platform_part}-{self.role}{self.version}".lower()


def _cuda_for(matrix: BuildMatrix, platform: str) -> str | None:
    if platform != "cuda":
        return None
    for target in matrix.targets.values():
        if target.is_cuda and target.arch == "x86_64" and target.cuda:
            return target.cuda
    raise ConfigError("build-matrix.toml has no x86_64 CUDA target to take the CUDA version from")


def spec(
    paths: Paths,
    matrix: BuildMatrix,
    role: str,
    platform: str,
    *,
    base: str | None = None,
    python: str | None = None,
) -> ImageSpec:
    images = matrix.images
    if role not in images.roles:
        raise UsageError(
            f"unknown image role {role!r}",
            why=f"docker/Dockerfile's roles ([images.roles]): {', '.join(images.roles)}",
            fix="pass --role dev, test or release",
        )
    if platform not in PLATFORMS:
        raise UsageError(
            f"unknown platform {platform!r}", fix=f"pass --platform {' or '.join(PLATFORMS)}"
        )
    base_name = base or images.roles[role].base_for(platform)  # type: ignore[index]
    if base_name not in images.bases:
        hint = did_you_mean(base_name, images.bases)
        raise UsageError(
            f"unknown image base {base_name!r}" + (f" ({hint})" if hint else ""),
            why=f"[images.bases] defines: {', '.join(sorted(images.bases))}",
            fix="pass --base with one of them",
        )
    b = images.bases[base_name]
    arch = ARCH_OF_PLATFORM[platform]
    if b.arch is not None and b.arch != arch:
        raise UsageError(
            f"base {base_name!r} is a {b.arch} image, and {platform} images are {arch}",
            fix=f"pick a multi-arch or {arch} base (--base)",
        )
    cuda = _cuda_for(matrix, platform)
    if cuda is not None:
        floor = matrix.toolkit(cuda).min_glibc
        if version_tuple(b.glibc) < version_tuple(floor):
            raise UsageError(
                f"base {base_name!r} has glibc {b.glibc}, and CUDA {cuda}'s compiler needs "
                f">= {floor}",
                why="the pinned nvcc runs inside the image",
                fix=f"build the {role}-cuda image FROM a base with glibc >= {floor} (--base)",
            )
    return ImageSpec(
        name=f"{role}-{platform}",
        role=role,
        platform=platform,
        arch=arch,
        base_name=base_name,
        base=b,
        cuda=cuda,
        python=python or images.python,
        version=project.version(paths.root),
        repository=images.repository,
        pythons=tuple(matrix.python_versions) if b.interpreters == "host" else (),
    )


def host_platforms() -> list[str]:
    """The platforms this host builds natively (no emulation is set up for others)."""
    machine = host_platform.machine()
    return [p for p in PLATFORMS if ARCH_OF_PLATFORM[p] == machine]


# -- inputs --------------------------------------------------------------------------


def _cuda_sources(lock: SourcesLock, cuda: str) -> list:
    """The pinned wheels of CUDA `cuda`'s toolchain (sources.lock.toml, toolchain key)."""
    if cuda not in lock.toolchains:
        raise ConfigError(
            f"sources.lock.toml pins no CUDA {cuda} toolchain for the CUDA images",
            fix=f'pin its wheels there with toolchain = "cuda-{cuda}"',
        )
    return list(lock.toolchains[cuda])


def _docker_files(root: Path) -> dict[str, Path]:
    docker = root / "docker"
    files = {"Dockerfile": docker / "Dockerfile", f"files/{TOOLS_LOCK}": docker / TOOLS_LOCK}
    for script in sorted((docker / "scripts").iterdir()):
        if script.is_file():
            files[f"scripts/{script.name}"] = script
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise ConfigError(
            f"the image recipe is incomplete: {', '.join(missing)} missing",
            fix="restore docker/ from git (docker/tools.lock.txt: `python -m buildsys images "
            "--update-tools-lock`)",
        )
    return files


def _file_digest(path: Path) -> str:
    mode = "x" if path.stat().st_mode & stat.S_IXUSR else "-"
    return f"{hashlib.sha256(path.read_bytes()).hexdigest()} {mode}"


def build_args(paths: Paths, s: ImageSpec, base_ref: str) -> dict[str, str]:
    conan = project.pin(paths.root, "conan", "conan").split("==", 1)[1]
    return {
        "BASE_IMAGE": base_ref,
        "PLATFORM": s.platform,
        "PACKAGE_MANAGER": s.base.package_manager,
        "PYTHON_VERSION": s.python,
        "CUDA_VERSION": s.cuda or "",
        "CONAN_VERSION": conan,
        "IMAGE_VERSION": s.version,
    }


def _context_manifest(paths: Paths, lock: SourcesLock, s: ImageSpec) -> dict[str, str]:
    """What the build context holds, by content: docker/'s files and the pins of the
    files staged into it."""
    manifest: dict[str, str] = {}
    for rel, file in _docker_files(paths.root).items():
        manifest[f"docker:{rel}"] = _file_digest(file)
    for name, _, _ in STAGED_FILES[s.arch]:
        manifest[f"source:{name}"] = lock[name].sha256
    if s.cuda is not None:
        for src in _cuda_sources(lock, s.cuda):
            manifest[f"source:{src.name}"] = src.sha256
        manifest["toolchain_unpack.py"] = _file_digest(UNPACKER)
    return manifest


def _digest(manifest: dict[str, str]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def context_digest(paths: Paths, lock: SourcesLock, s: ImageSpec) -> str:
    """The CONTEXT_DIGEST build arg. The RUN steps read scripts and files through bind
    mounts, which the layer cache does not see; naming their digest in each step makes
    a changed script a changed step (and the same context shares layers across roles)."""
    return _digest(_context_manifest(paths, lock, s))


def base_identity(paths: Paths, s: ImageSpec) -> str:
    """The base as the inputs digest names it: by digest; a debootstrap base by its
    suite, the one thing that names it; a stand-in manylinux base (interpreters =
    "host") also by what it copies from this machine (standin.identity), so an image
    built on another machine's interpreters does not pass for current."""
    if s.base.image:
        return s.base.image
    identity = f"debootstrap:{s.base.debootstrap}"
    if s.base.interpreters == "host":
        from . import standin

        identity += f"+standin:{standin.identity(paths, s.base, s.pythons)}"
    return identity


def inputs(paths: Paths, lock: SourcesLock, s: ImageSpec) -> str:
    """The sha256 of everything that goes into the image, computed without building:
    docker/'s files, the pins of the files it installs, the build args, the stage and
    the base (base_identity)."""
    manifest = {"stage": s.role, **_context_manifest(paths, lock, s)}
    identity = base_identity(paths, s)
    for key, value in build_args(paths, s, identity).items():
        manifest[f"arg:{key}"] = value
    return _digest(manifest)


def recipe_current(
    paths: Paths, lock: SourcesLock, matrix: BuildMatrix, name: str, entry: imagelock.Entry
) -> bool:
    """Does docker/images.lock's `entry` for image `name` match what docker/ and the pins
    say now? (Cheap: nothing is staged or built.)"""
    role, platform = name.split("-", 1)
    now = spec(paths, matrix, role, platform, base=entry.base, python=entry.python)
    return entry.inputs == inputs(paths, lock, now)


# -- context -------------------------------------------------------------------------


def _stage_context(
    paths: Paths, lock: SourcesLock, s: ImageSpec, engine: Engine, dest: Path
) -> None:
    from ..sources import cache

    for rel, file in _docker_files(paths.root).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
    files = dest / "files"
    for name, member, staged in STAGED_FILES[s.arch]:
        src = lock[name]
        root = cache.unpack(paths, src, cache.fetch(paths, src))
        shutil.copy2(root / member, files / staged)
        (files / staged).chmod(0o755)
    if s.cuda is not None:
        # The verified wheels, SHA256SUMS and toolchain_unpack.py, and the one command
        # that assembles them (the host's --toolchain pinned runs the same file).
        from ..cuda import toolchain

        wheels = toolchain.stage(paths, lock, s.cuda, files / "cuda")
        inside = "/mnt/files/cuda"
        cmd = toolchain.unpack_command(
            f"/opt/cuda-{s.cuda}",
            [f"{inside}/{w.name}" for w in wheels],
            root=_cuda_sources(lock, s.cuda)[0].root,
            sha256sums=f"{inside}/{toolchain.SHA256SUMS}",
            script=f"{inside}/{UNPACKER.name}",
        )
        (files / "cuda" / "assemble.sh").write_text(shlex.join(cmd) + "\n")
    if not engine.reads_heredocs:
        text, scripts = dockerfile.lower_heredocs((dest / "Dockerfile").read_text())
        (dest / "Dockerfile").write_text(text)
        (dest / dockerfile.HEREDOC_DIR).mkdir()
        for name, body in scripts.items():
            (dest / dockerfile.HEREDOC_DIR / name).write_text(body)


def _ca_bundle() -> Path | None:
    for var in ("INFERCORE_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


def _progress(s: ImageSpec) -> object:
    def on_line(line: str) -> None:
        # podman: "STEP 3/9: RUN ..."; docker: "#7 [dev 1/2] RUN ..."
        text = line.strip()
        if "STEP " in text[:16] or (text.startswith("#") and "] " in text[:40]):
            console.say(s.name, text[:110])

    return on_line


def _build(
    paths: Paths,
    lock: SourcesLock,
    s: ImageSpec,
    engine: Engine,
    base_ref: str,
    digest: str,
    ref: str,
    log: Path,
    *,
    no_cache: bool = False,
) -> None:
    from ..util.fs import clean_stale_temps, temp_dir

    work = paths.build / "images"
    clean_stale_temps(work)
    context = temp_dir(work, f"context-{s.name}")
    try:
        _stage_context(paths, lock, s, engine, context)
        cmd: list[str | os.PathLike[str]] = [engine.path, "build", "--target", s.role]
        cmd += ["-t", ref, "-t", engine.local_ref(s.repository, s.multiarch_tag)]
        cmd += ["--label", f"{INPUTS_LABEL}={digest}", "-f", context / "Dockerfile"]
        for key, value in build_args(paths, s, base_ref).items():
            cmd += ["--build-arg", f"{key}={value}"]
        cmd += ["--build-arg", f"CONTEXT_DIGEST={context_digest(paths, lock, s)}"]
        if (ca := _ca_bundle()) is not None:
            cmd += ["--secret", f"id=ca,src={ca}"]
        if no_cache:
            cmd += ["--no-cache"]
        if engine.name == "podman" and s.base.debootstrap:
            cmd += ["--pull=never"]  # the base exists only here
        cmd.append(context)
        runner.call(
            cmd,
            what=f"building the {s.name} image",
            log=log,
            on_line=_progress(s),  # type: ignore[arg-type]
            env={**engine.env, "DOCKER_BUILDKIT": "1"},
            fix=f"read the build log ({log}); a failed RUN step names its script",
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)


def build(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    engine: Engine,
    *,
    roles: list[str] | None = None,
    platforms: list[str] | None = None,
    base: str | None = None,
    python: str | None = None,
    rebuild: bool = False,
    no_cache: bool = False,
) -> dict[str, str]:
    """Build (or find current) each selected image; record them; {name: status}."""
    from ..util.fs import atomic_write
    from . import base as debootstrap_base
    from . import standin

    roles = roles or list(ROLES)
    native = host_platforms()
    platforms = platforms or native
    foreign = [p for p in platforms if p not in native]
    if foreign:
        raise UsageError(
            f"{', '.join(foreign)} images are {ARCH_OF_PLATFORM[foreign[0]]}, and this host "
            f"is {host_platform.machine()}",
            why="no emulation (qemu-user, binfmt) is set up for a foreign arch",
            fix=f"build them on an {ARCH_OF_PLATFORM[foreign[0]]} machine, or pick "
            f"--platform {' / '.join(native)}",
        )
    specs = [spec(paths, matrix, r, p, base=base, python=python) for r in roles for p in platforms]
    entries = imagelock.read(paths.root, strict=False)
    status: dict[str, str] = {}
    rows = []
    for s in specs:
        runner.check_interrupted()
        digest = inputs(paths, lock, s)
        ref = engine.local_ref(s.repository, s.tag)
        old = entries.get(s.name)
        have = engine.image_id(ref)
        if not rebuild and old is not None and old.inputs == digest and have == old.id:
            status[s.name] = "current"
            rows.append((s, old, "current", 0.0))
            continue
        if s.base.interpreters == "host":
            base_ref = standin.ensure(paths, engine, s.repository, s.base_name, s.base, s.pythons)
        elif s.base.debootstrap:
            base_ref = debootstrap_base.ensure(paths, engine, s.repository, s.base_name, s.base)
        else:
            base_ref = s.base.image or ""
        log = paths.logs / f"images-{s.name}.log"
        log.unlink(missing_ok=True)
        console.say(s.name, f"building {ref} FROM {base_ref} ({engine.describe()})")
        start = time.monotonic()
        _build(paths, lock, s, engine, base_ref, digest, ref, log, no_cache=no_cache)
        seconds = time.monotonic() - start
        image_id = engine.image_id(ref)
        if image_id is None:
            raise BuildError(f"{engine.name} built {ref} but cannot find it afterwards")
        entry = imagelock.Entry(
            tag=s.tag,
            ref=ref,
            id=image_id,
            inputs=digest,
            base=s.base_name,
            base_ref=base_ref,
            python=s.python,
            engine=engine.describe(),
            size_mib=round(engine.image_size(ref) / 2**20, 1),
            build_seconds=round(seconds, 1),
        )
        entries[s.name] = entry
        # Recorded after each image: an interrupt later keeps what was finished.
        atomic_write(imagelock.path(paths.root), imagelock.render(entries))
        status[s.name] = "built" if old is None else "rebuilt"
        rows.append((s, entry, status[s.name], seconds))
    _summary(rows)
    return status


def _summary(rows: list) -> None:
    from rich.table import Table

    table = Table(title="images (docker/images.lock)")
    for col in ("image", "tag", "status", "id", "size MiB", "build s"):
        table.add_column(col)
    for s, entry, state, seconds in rows:
        table.add_row(
            s.name,
            s.tag,
            state,
            entry.id.split(":")[-1][:12],
            f"{entry.size_mib:.0f}",
            f"{seconds:.1f}" if seconds else "-",
        )
    console.print(table)
