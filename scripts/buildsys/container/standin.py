"""A stand-in for a manylinux release base, where no registry is reachable.

A base with `interpreters = "host"` ([images.bases]) is the debootstrap base (base.py)
plus this machine's CPython of every [python] version, laid out as the manylinux
images lay theirs out, so that cibuildwheel runs against it for real:

- the interpreters' runtime libraries, compilers, ca-certificates, file and unzip
  from Debian; the machine's CA files (TLS to the package index may be intercepted);
- each interpreter copied to the SAME path (its library path is compiled in), pruned
  (site-packages, test packages, idlelib, tkinter, __pycache__, libpython*.a), with
  /opt/python/cpXY-cpXY pointing at it and /opt/python/cp39-cp39 at the newest
  (cibuildwheel always runs that one to read the container's environment);
- each interpreter's _sysconfigdata rewritten without the -L/-Wl,-rpath into its own
  prefix that pyenv stores there (else every extension built with it gets a RUNPATH
  into the pyenv root);
- pip (ensurepip) and `build` (pyproject's buildsys pin, resolved per interpreter by
  the pinned uv, hash-locked and downloaded on the host: nothing is fetched inside the
  build);
- AUDITWHEEL_PLAT and AUDITWHEEL_ARCH, as manylinux images set them to their policy:
  here manylinux_<the base's glibc>_<arch>.

Built once per engine as REPOSITORY-base:SUITE-manylinux and reused; rebuilt when what
it was made from changed (the interpreters' versions, this recipe, the build pin, the
CA files, the debootstrap base's id): their digest is the image's label. Users build
their release images FROM the pinned manylinux images instead (build-matrix.toml).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config.compat import version_tuple
from ..config.images import ImageBase
from ..errors import BuildError, ConfigError, ToolMissing
from ..util import console, project, runner
from ..util.paths import Paths
from .engine import Engine

LABEL = "org.infercore.standin.inputs"
# The glibc of each Debian suite debootstrap builds (for the refusal's suggestion).
SUITE_GLIBC = {"bullseye": "2.31", "bookworm": "2.36", "trixie": "2.41"}
# What the interpreters' extension modules link (ldd on lib-dynload, bookworm's
# names), and what a manylinux image carries besides: compilers, file, unzip.
PACKAGES = (
    "ca-certificates file unzip gcc g++ make libc6-dev "
    "libbz2-1.0 libcrypt1 libffi8 liblzma5 libncursesw6 libnsl2 libreadline8 "
    "libsqlite3-0 libssl3 libtinfo6 libtirpc3 libuuid1 zlib1g"
)
# Dropped from each copied interpreter: never needed to build or test a wheel.
PRUNED_DIRS = {"site-packages", "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo"}
PRUNED_DIRS |= {"__pycache__"}
PRUNED_FILE = re.compile(r"^(libpython.*\.a|_tkinter\..*so|idle3?(\.\d+)?)$")
CA_DIR = Path("/usr/local/share/ca-certificates")
SYSTEM_PREFIXES = {Path("/"), Path("/usr"), Path("/usr/local")}

_PROBE = "import json, sys; print(json.dumps([sys.base_prefix, '%d.%d.%d' % sys.version_info[:3]]))"

SYSCONFIG_REWRITE = '''\
"""Drop the -L/-Wl,-rpath into this interpreter's own lib/ from its sysconfig data:
the module is loaded and written back, so a value wrapped over lines is rewritten
too (a sed would miss it)."""
import importlib.util
import os
import pprint
import re
import sys
import sysconfig

name = sysconfig._get_sysconfigdata_name()
spec = importlib.util.find_spec(name)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
lib = re.escape(os.path.join(sys.base_prefix, "lib"))
flags = r"(-L|-Wl,-rpath,|-Wl,-rpath=|-Wl,--enable-new-dtags,-rpath,)"
flag = re.compile(flags + lib + r"(?=[\\s'\\"]|$)")
out = {}
for key, value in module.build_time_vars.items():
    if isinstance(value, str) and flag.search(value):
        value = re.sub(r"  +", " ", flag.sub("", value)).strip()
    out[key] = value
with open(spec.origin, "w") as f:
    f.write("# system configuration generated and used by the sysconfig module\\n")
    f.write("build_time_vars = " + pprint.pformat(out) + "\\n")
print(spec.origin, "rewritten")
'''

SETUP = """\
#!/bin/sh
# The stand-in manylinux base's one step (written by buildsys/container/standin.py).
set -eu
src=/mnt/standin
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends {packages}
apt-get clean
rm -rf /var/lib/apt/lists/*
# The machine's CA files: TLS to the package index may be intercepted.
if [ -n "$(ls "$src/ca")" ]; then cp "$src"/ca/*.crt /usr/local/share/ca-certificates/; fi
update-ca-certificates
mkdir -p /opt/python
while read -r tag version prefix; do
  mkdir -p "$(dirname "$prefix")"
  # Every user may reach it (a /root/.pyenv prefix: /root is 0700); nothing is listable.
  d=$(dirname "$prefix")
  while [ "$d" != / ]; do chmod a+x "$d"; d=$(dirname "$d"); done
  cp -a "$src/tree$prefix" "$prefix"
  mkdir -p "$prefix/lib/python$version/site-packages"
  ln -s "$prefix" "/opt/python/$tag-$tag"
  py="$prefix/bin/python$version"
  "$py" "$src/sysconfig_rewrite.py"
  "$py" -m ensurepip --default-pip
  "$py" -m pip install --no-cache-dir --disable-pip-version-check --no-index \\
    --require-hashes --find-links "$src/wheels/$tag" -r "$src/wheels/$tag/requirements.txt"
  "$py" -m compileall -q -j 0 "$prefix/lib/python$version" || true
  "$py" -m build --version
done < "$src/interpreters.txt"
{cp39}
# Every extension module finds its libraries.
missing=$(find /opt/python/*/lib/python3*/lib-dynload -name '*.so' -exec ldd {{}} + \\
  | grep 'not found' || true)
if [ -n "$missing" ]; then
  echo "error: libraries the interpreters need are missing:" >&2
  echo "$missing" >&2
  exit 3
fi
"""


@dataclass(frozen=True)
class HostPython:
    version: str  # "3.11"
    full_version: str  # "3.11.7"
    prefix: Path  # its installation root (sys.base_prefix)

    @property
    def tag(self) -> str:
        return "cp" + self.version.replace(".", "")

    @property
    def executable(self) -> Path:
        return self.prefix / "bin" / f"python{self.version}"


def ref(engine: Engine, repository: str, base: ImageBase) -> str:
    return engine.local_ref(f"{repository}-base", f"{base.debootstrap}-manylinux")


def arch() -> str:
    machine = host_platform.machine()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine)


def auditwheel_plat(base: ImageBase) -> str:
    """manylinux_2_36_x86_64 for glibc 2.36 (a manylinux image sets its own policy)."""
    major, minor = base.glibc.split(".")[:2]
    return f"manylinux_{major}_{minor}_{base.arch or arch()}"


def host_pythons(versions: tuple[str, ...] | list[str]) -> tuple[list[HostPython], list[str]]:
    """(the machine's self-contained CPython installs of `versions`, versions not found).
    A system interpreter (/usr) cannot be copied on its own and does not count."""
    from ..host import interpreters

    found, missing = [], []
    for version in versions:
        hit = None
        for candidate in interpreters.candidates(version):
            # A pyenv shim (a bash script, slow) leads to a versions/ directory that
            # candidates() lists anyway.
            if not candidate.exists() or candidate.parent.name == "shims":
                continue
            out = runner.probe([candidate, "-c", _PROBE]).strip()
            if not out:
                continue
            prefix, full = json.loads(out.splitlines()[-1])
            if full.startswith(version + ".") and Path(prefix) not in SYSTEM_PREFIXES:
                hit = HostPython(version, full, Path(prefix))
                break
        if hit is None:
            missing.append(version)
        else:
            found.append(hit)
    return found, missing


def _require(name: str, versions: tuple[str, ...] | list[str]) -> list[HostPython]:
    found, missing = host_pythons(versions)
    if missing:
        raise ToolMissing(
            f"base {name!r} copies this machine's CPython {', '.join(missing)}, and none was found",
            why="a stand-in manylinux base carries an interpreter of every [python] version "
            "(a self-contained install such as pyenv's; a system /usr python cannot be copied)",
            fix=f"install CPython {', '.join(missing)} (e.g. `pyenv install`), or build the "
            "release images FROM a manylinux image (--base)",
        )
    return found


# -- glibc ---------------------------------------------------------------------------


def _elf_files(py: HostPython) -> list[Path]:
    lib = py.prefix / "lib"
    files = [py.executable, *sorted(lib.glob("libpython*.so*"))]
    dynload = lib / f"python{py.version}" / "lib-dynload"
    files += [p for p in sorted(dynload.glob("*.so")) if not PRUNED_FILE.match(p.name)]
    return [p for p in files if p.is_file() and not p.is_symlink()]


def glibc_needed(path: Path) -> tuple[int, ...]:
    """The newest GLIBC_x.y symbol version an ELF file references (() when none)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    newest: tuple[int, ...] = ()
    try:
        with path.open("rb") as f:
            verneed = ELFFile(f).get_section_by_name(".gnu.version_r")
            for _, aux in verneed.iter_versions() if verneed is not None else ():
                for entry in aux:
                    m = re.fullmatch(r"GLIBC_(\d+(?:\.\d+)+)", entry.name)
                    if m:
                        newest = max(newest, version_tuple(m[1]))
    except ELFError:
        return ()
    return newest


def glibc_floor(py: HostPython) -> tuple[tuple[int, ...], Path | None]:
    """The newest GLIBC_x.y that the interpreter's ELF files reference, and the file."""
    newest: tuple[int, ...] = ()
    where = None
    for file in _elf_files(py):
        need = glibc_needed(file)
        if need > newest:
            newest, where = need, file
    return newest, where


def check_glibc(name: str, base: ImageBase, pythons: list[HostPython]) -> None:
    """Refuse a base whose glibc is older than what the interpreters reference."""
    have = version_tuple(base.glibc)
    for py in pythons:
        need, file = glibc_floor(py)
        if need <= have:
            continue
        text = ".".join(map(str, need))
        fits = [s for s, g in SUITE_GLIBC.items() if version_tuple(g) >= need]
        suggestion = (
            f'debootstrap = "{fits[0]}" (glibc {SUITE_GLIBC[fits[0]]})'
            if fits
            else "a Debian suite newer than trixie"
        )
        raise ConfigError(
            f"base {name!r} has glibc {base.glibc}, and CPython {py.full_version} "
            f"({py.prefix}) needs GLIBC_{text}",
            why=f"{file} references GLIBC_{text} symbols: the interpreter cannot run on "
            "an older glibc",
            fix=f"build the stand-in FROM a newer suite: {suggestion} in [images.bases."
            f"{name}] (this repository's standin-bookworm: --base standin-bookworm)",
        )


# -- recipe --------------------------------------------------------------------------


def _recipe(base_ref: str, base: ImageBase, pythons: list[HostPython], build: str) -> dict:
    newest = max(pythons, key=lambda p: version_tuple(p.version))
    cp39 = (
        ""
        if any(p.tag == "cp39" for p in pythons)
        else f"# cibuildwheel reads the environment with cp39's python.\n"
        f"ln -s {newest.prefix} /opt/python/cp39-cp39"
    )
    certs = "/etc/ssl/certs/ca-certificates.crt"
    dockerfile = (
        "# The stand-in manylinux base (buildsys/container/standin.py).\n"
        f"FROM {base_ref}\n"
        "# The step reads files/ through a bind mount, which the layer cache does not see:\n"
        "# it names the digest of its inputs, so changed inputs are a changed step.\n"
        "ARG STANDIN_INPUTS\n"
        "RUN --mount=type=bind,source=files,target=/mnt/standin "
        'sh /mnt/standin/setup.sh "${STANDIN_INPUTS}"\n'
        f"ENV AUDITWHEEL_PLAT={auditwheel_plat(base)} AUDITWHEEL_ARCH={base.arch or arch()} "
        f"SSL_CERT_FILE={certs} PIP_CERT={certs} REQUESTS_CA_BUNDLE={certs}\n"
    )
    return {
        "Dockerfile": dockerfile,
        "files/setup.sh": SETUP.format(packages=PACKAGES, build=build, cp39=cp39),
        "files/sysconfig_rewrite.py": SYSCONFIG_REWRITE,
        "files/interpreters.txt": "".join(f"{p.tag} {p.version} {p.prefix}\n" for p in pythons),
    }


def _ca_files() -> list[Path]:
    return sorted(CA_DIR.glob("*.crt")) if CA_DIR.is_dir() else []


def _manifest(base: ImageBase, pythons: list[HostPython], missing: list[str], build: str) -> dict:
    manifest = {"debootstrap": str(base.debootstrap), "build": build}
    for py in pythons:
        manifest[f"python:{py.version}"] = f"{py.full_version} {py.prefix}"
    for version in missing:
        manifest[f"python:{version}"] = "missing"
    if pythons:
        for rel, text in _recipe("BASE", base, pythons, build).items():
            manifest[f"recipe:{rel}"] = hashlib.sha256(text.encode()).hexdigest()
    for ca in _ca_files():
        manifest[f"ca:{ca.name}"] = hashlib.sha256(ca.read_bytes()).hexdigest()
    return manifest


def _digest(manifest: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def identity(paths: Paths, base: ImageBase, versions: tuple[str, ...] | list[str]) -> str:
    """What the stand-in is made from, for the inputs digest of images built FROM it:
    the suite, the interpreters' full versions and paths, the recipe, the build pin and
    the CA files. Cheap (one probe per interpreter); never raises for a missing one."""
    pythons, missing = host_pythons(versions)
    build = project.pin(paths.root, "buildsys", "build")
    return _digest(_manifest(base, pythons, missing, build))


# -- build ---------------------------------------------------------------------------


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)  # the context is read-only to the build: hard links are enough
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _ignore(directory: str, names: list[str]) -> set[str]:
    out = {n for n in names if n in PRUNED_DIRS or PRUNED_FILE.match(n)}
    # bin/idle*, bin/2to3: tools of the pruned packages.
    return out


def _download_build(py: HostPython, build: str, dest: Path, log: Path) -> None:
    """`build` and its requirements for `py`, resolved with the pinned uv for that exact
    Python (pip download evaluates markers against the Python running it, not the
    target's), hash-locked, then downloaded by hash into `dest`."""
    import uv  # the pinned uv of the buildsys group

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "requirements.in").write_text(build + "\n")
    locked = dest / "requirements.txt"
    runner.call(
        [
            uv.find_uv_bin(),
            "pip",
            "compile",
            dest / "requirements.in",
            "--python-version",
            py.full_version,
            "--python-platform",
            f"{arch()}-unknown-linux-gnu",
            "--generate-hashes",
            "--only-binary",
            ":all:",
            "--no-header",
            "--quiet",
            "-o",
            locked,
        ],
        what=f"locking {build} for CPython {py.full_version}",
        log=log,
        fix="check the package index is reachable (UV_INDEX_URL, SSL_CERT_FILE)",
    )
    runner.call(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--python-version",
            py.full_version,
            "--implementation",
            "cp",
            "--dest",
            dest,
            "-r",
            locked,
        ],
        what=f"downloading {build} for CPython {py.full_version}",
        log=log,
        fix="check the package index is reachable (PIP_INDEX_URL, PIP_CERT)",
    )


def ensure(
    paths: Paths,
    engine: Engine,
    repository: str,
    name: str,
    base: ImageBase,
    versions: tuple[str, ...] | list[str],
) -> str:
    """The engine's reference of the stand-in base, built now if the engine lacks it or
    it was made from other inputs."""
    from ..util.fs import clean_stale_temps, temp_dir
    from . import base as debootstrap_base

    pythons = _require(name, versions)
    check_glibc(name, base, pythons)  # before anything is built
    build = project.pin(paths.root, "buildsys", "build")
    image = ref(engine, repository, base)
    base_ref = debootstrap_base.ensure(paths, engine, repository, name, base)
    manifest = {**_manifest(base, pythons, [], build), "base-id": engine.image_id(base_ref)}
    digest = _digest(manifest)
    old_id = engine.image_id(image)
    if old_id is not None and engine.image_label(image, LABEL) == digest:
        return image
    work = paths.build / "images"
    clean_stale_temps(work)
    context = temp_dir(work, f"context-standin-{base.debootstrap}")
    log = paths.logs / f"images-standin-{base.debootstrap}.log"
    log.unlink(missing_ok=True)
    try:
        for rel, text in _recipe(base_ref, base, pythons, build).items():
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            (context / rel).write_text(text)
        files = context / "files"
        (files / "ca").mkdir()
        for ca in _ca_files():
            shutil.copy2(ca, files / "ca" / ca.name)
        for py in pythons:
            runner.check_interrupted()
            console.say(name, f"copying CPython {py.full_version} from {py.prefix} (pruned)")
            tree = files / "tree" / py.prefix.relative_to("/")
            tree.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(
                py.prefix, tree, symlinks=True, ignore=_ignore, copy_function=_link_or_copy
            )
            _download_build(py, build, files / "wheels" / py.tag, log)
        console.say(name, f"building {image} FROM {base_ref} ({engine.describe()})")
        cmd: list[str | os.PathLike[str]] = [engine.path, "build", "-t", image]
        cmd += ["--label", f"{LABEL}={digest}", "-f", context / "Dockerfile"]
        cmd += ["--build-arg", f"STANDIN_INPUTS={digest}"]
        if engine.name == "podman":
            cmd += ["--pull=never"]  # the debootstrap base exists only here
        cmd.append(context)
        runner.call(
            cmd,
            what=f"building the stand-in manylinux base {image}",
            log=log,
            env={**engine.env, "DOCKER_BUILDKIT": "1"},
            fix=f"read the build log ({log})",
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    if engine.image_label(image, LABEL) != digest:
        raise BuildError(f"{engine.name} built {image} but cannot find it afterwards")
    if old_id is not None and old_id != engine.image_id(image):
        # The stand-in it replaces, untagged now; kept while images built FROM it exist.
        runner.probe([engine.path, "image", "rm", old_id], env=engine.env)
    console.say(name, f"stand-in base {image} built")
    return image
