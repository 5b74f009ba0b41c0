"""Each wheel's SBOM: CycloneDX 1.6 JSON in `.dist-info/sboms/infercore.cdx.json` (PEP 770).

What it lists, for the one wheel it is built into:

- the wheel (metadata.component): infercore, its version, license, the commit (git sha),
  the build target and the Python tag;
- the pinned sources compiled into it (scope "required"), as sources.lock.toml pins them:
  version, sha256, every URL (a "distribution" reference with the hash), the upstream
  project (vcs, or website); those Conan built (glog, pybind11) also carry the recipe
  revision conan.lock pins and the package id Conan built. CUTLASS and FlashAttention
  are listed when the wheel links fast kernels. gtest, a test requirement, is in no
  wheel and is not listed;
- the toolchain (scope "excluded": it built the wheel and is not in it): the C++ compiler
  and CMake as CMake recorded them in the core's build tree (version, sha256 of the
  binary), nvcc likewise and, when it is the pinned toolchain, each of its NVIDIA wheels
  by sha256 (the CUDA runtime among them is "required": libcudart_static.a is linked in);
  the pinned Python build tools (scikit-build-core, pybind11, build, ninja, auditwheel);
- the build image, when $INFERCORE_BUILD_IMAGE names one (the container code sets it; any
  text, e.g. "localhost/infercore:release-x86@sha256:..."): kept as given in a property,
  and a container component when it carries an @sha256: digest.

It is byte-reproducible, like the wheel that carries it: the timestamp is
SOURCE_DATE_EPOCH, the serial number a UUID5 of the rest of the document (not a random
one), every bom-ref is named here (the library would otherwise make up random ones), and
the JSON is written with sorted keys; no path or time of the machine goes in.

It reaches the wheel through scikit-build-core: build.build_wheel writes it into the
wheel's build tree and passes `-C cmake.define.INFERCORE_SBOM=PATH`, and
csrc/python/CMakeLists.txt installs that file into `${SKBUILD_METADATA_DIR}/sboms/`, so it
is in RECORD like any other file. auditwheel repair keeps it (6.x writes its own
auditwheel.cdx.json beside it when it grafts a library into the wheel), and the pipeline
checks that the repaired wheel still holds it, byte for byte.

cyclonedx-python-lib is imported inside the functions that use it: the noxfile's own
environment imports buildsys without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Source, SourcesLock
from ..errors import BuildError, ConfigError, ToolMissing, UsageError
from ..util.fs import atomic_write, sha256_file
from ..util.paths import Paths
from ..util.project import build_requires, git_sha, pin, pyproject, version

if TYPE_CHECKING:
    from ..deps.conan import Deps, Package
    from ..engine.core import CoreBuild

FILENAME = "infercore.cdx.json"
IMAGE_ENV = "INFERCORE_BUILD_IMAGE"
SPEC_VERSION = "1.6"
NAME = "infercore"
# The pinned toolchain's wheels whose code is in the wheel, not only in the compiler:
# the engine links the static CUDA runtime (libcudart_static.a).
LINKED_TOOLCHAIN_WHEELS = frozenset({"nvidia-cuda-runtime"})
PYPI_HOSTS = ("files.pythonhosted.org", "pypi.org")
# CMake's compiler ids -> the names a reader looks for.
COMPILER_NAMES = {"GNU": "gcc", "Clang": "clang", "ARMClang": "armclang", "NVIDIA": "nvcc"}
_DIGEST = re.compile(r"@sha256:([0-9a-f]{64})$")
_GITHUB = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/")


@dataclass(frozen=True)
class Tool:
    """A program of the toolchain as the build used it."""

    name: str  # gcc, nvcc, cmake
    version: str
    sha256: str | None = None  # of its executable
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ConanSource:
    """A pinned source that Conan built into a package the engine links."""

    source: Source
    package: Package
    lockfile: str  # the lockfile's name (conan.lock), whose revision it is


@dataclass(frozen=True)
class Inputs:
    """Everything the SBOM of one wheel says, gathered before the wheel is built."""

    version: str
    git_sha: str
    epoch: int  # SOURCE_DATE_EPOCH: the document's timestamp
    target: str  # the build-matrix.toml target
    python: str | None  # the wheel's Python tag (cp311)
    license: str | None = None
    sources: tuple[Source, ...] = ()  # compiled in, not through Conan (CUTLASS, FA2)
    conan: tuple[ConanSource, ...] = ()
    compilers: tuple[Tool, ...] = ()  # the C++ compiler, CMake, nvcc
    cuda_toolchain: str | None = None  # "cuda-13.0" when nvcc is the pinned toolchain
    cuda_wheels: tuple[Source, ...] = ()  # that toolchain's wheels
    build_tools: tuple[tuple[str, str], ...] = ()  # pinned PyPI tools: (name, version)
    image: str | None = None  # $INFERCORE_BUILD_IMAGE, as given


# --- gathering the inputs -------------------------------------------------------------------


def image_from(env: Mapping[str, str]) -> str | None:
    """$INFERCORE_BUILD_IMAGE (free text), or None when unset or blank (a host build)."""
    value = env.get(IMAGE_ENV, "").strip()
    if not value:
        return None
    if any(ord(c) < 32 for c in value):
        raise UsageError(
            f"{IMAGE_ENV} holds control characters",
            why="it names the build image on one line, e.g. localhost/infercore:tag@sha256:HEX",
            fix=f"set {IMAGE_ENV} to the image's reference and digest, or unset it",
        )
    if "@sha256:" in value and not _DIGEST.search(value):
        raise UsageError(
            f"{IMAGE_ENV}={value!r}: the text after @sha256: is not a digest",
            why="a digest is 64 lowercase hex digits at the end, e.g. "
            "localhost/infercore:tag@sha256:0123...",
            fix=f"set {IMAGE_ENV} to the image's reference with its full digest, or leave "
            "out the @sha256: part (the text is then recorded as it is)",
        )
    return value


def epoch_of(value: str) -> int:
    """SOURCE_DATE_EPOCH as seconds, or a UsageError naming it."""
    if not re.fullmatch(r"[0-9]{1,12}", value.strip()):
        raise UsageError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds",
            why="it is the time every archive entry and the wheel's SBOM carry",
            fix="set it to a Unix time such as `git log -1 --format=%ct`, or unset it "
            "(the commit time is used)",
        )
    return int(value)


def _lock_fix(target: str) -> str:
    return f"run `nox -s deps -- --target {target}` (it resolves strictly against the lockfile)"


def locked_revisions(lockfile: Path, *, target: str = "NAME") -> dict[str, tuple[str, str]]:
    """conan.lock's requirements: name -> (version, recipe revision)."""
    fix = f"restore {lockfile.name} from git, or re-create it: {_lock_fix(target)}"
    try:
        data = json.loads(lockfile.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{lockfile} does not exist",
            why="the wheels' SBOM records the Conan recipe revisions it pins",
            fix=fix,
        ) from None
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"{lockfile} is not a readable JSON lockfile", why=str(err), fix=fix
        ) from None
    requires = data.get("requires") if isinstance(data, dict) else None
    if not isinstance(requires, list):
        raise ConfigError(f"{lockfile} has no list of requires", fix=fix)
    found = {}
    for entry in requires:
        m = re.fullmatch(r"([^/@#%]+)/([^/@#%]+)(?:@[^#%]*)?#([0-9a-f]+)(?:%[0-9.]+)?", str(entry))
        if not m:
            raise ConfigError(
                f"{lockfile}: {entry!r} is not a locked reference",
                why="each is NAME/VERSION#REVISION%TIMESTAMP, as `conan lock create` writes",
                fix=fix,
            )
        found[m.group(1)] = (m.group(2), m.group(3))
    return found


def conan_sources(
    lock: SourcesLock, packages: Sequence[Package], lockfile: Path, *, target: str = "NAME"
) -> tuple[ConanSource, ...]:
    """The pinned source of each package Conan built for the engine, checked against the
    lockfile it was resolved from and against sources.lock.toml."""
    locked = locked_revisions(lockfile, target=target)
    out = []
    for package in packages:
        if package.name not in locked:
            raise BuildError(
                f"conan install used {package.ref}, which {lockfile.name} does not pin",
                why=f"{lockfile.name} pins {', '.join(sorted(locked)) or 'nothing'}",
                fix=_lock_fix(target),
            )
        if locked[package.name] != (package.version, package.revision):
            v, rev = locked[package.name]
            raise BuildError(
                f"conan install used {package.ref}, {lockfile.name} pins {package.name}/{v}#{rev}",
                why="the packages were installed from another lockfile or recipe",
                fix=_lock_fix(target),
            )
        source = next((s for s in lock.values() if s.conan_recipe == package.name), None)
        if source is None:
            raise ConfigError(
                f"sources.lock.toml pins no source for the Conan package {package.name}",
                why="every package the wheels link is built from a source pinned there "
                f'(conan-recipe = "{package.name}"), so the SBOM can name its sha256 and URLs',
                fix=f'add a [[source]] with conan-recipe = "{package.name}" for '
                f"{package.name} {package.version}",
            )
        if source.version != package.version:
            raise ConfigError(
                f"sources.lock.toml pins {source.name} {source.version}, but Conan built "
                f"{package.name}/{package.version}",
                why="the recipe's conandata.yml is generated from the lock's entry: they must "
                "name the same release",
                fix="make sources.lock.toml and conanfile.py name the same version, then "
                "`nox -s deps -- --update-lock`",
            )
        out.append(ConanSource(source=source, package=package, lockfile=lockfile.name))
    return tuple(out)


def _cmake_set(text: str, var: str) -> str | None:
    m = re.search(rf'^set\({re.escape(var)} "([^"]*)"\)$', text, re.MULTILINE)
    return m.group(1) if m else None


def _executable_sha256(path: str | Path | None) -> str | None:
    if not path:
        return None
    real = Path(path).resolve()
    return sha256_file(real) if real.is_file() else None


def cmake_tools(build_dir: Path) -> tuple[tuple[Tool, ...], Path | None]:
    """CMake and the compilers it used in the configured tree `build_dir`, from CMake's
    own records (CMakeCache.txt, CMakeFiles/VERSION/CMake<LANG>Compiler.cmake), and the
    path of its nvcc (None in a CPU build)."""
    fix = f"configure {build_dir} first (the core build does)"
    try:
        cache = (build_dir / "CMakeCache.txt").read_text()
    except OSError:
        raise BuildError(f"{build_dir} is not a configured CMake tree", fix=fix) from None
    entries = dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):[A-Z]+=(.*)$", cache, re.MULTILINE))
    parts = [entries.get(f"CMAKE_CACHE_{p}_VERSION") for p in ("MAJOR", "MINOR", "PATCH")]
    if None in parts:
        raise BuildError(f"{build_dir}/CMakeCache.txt names no CMake version", fix=fix)
    cmake_version = ".".join(p for p in parts if p is not None)
    tools = [Tool("cmake", cmake_version, _executable_sha256(entries.get("CMAKE_COMMAND")))]
    nvcc = None
    for lang in ("CXX", "CUDA"):
        record = build_dir / "CMakeFiles" / cmake_version / f"CMake{lang}Compiler.cmake"
        if not record.is_file():
            if lang == "CXX":
                raise BuildError(f"{build_dir} has no record of its C++ compiler", fix=fix)
            continue
        text = record.read_text()
        path = _cmake_set(text, f"CMAKE_{lang}_COMPILER")
        compiler_id = _cmake_set(text, f"CMAKE_{lang}_COMPILER_ID") or "unknown"
        found = _cmake_set(text, f"CMAKE_{lang}_COMPILER_VERSION")
        if not path or not found:
            raise BuildError(f"{record} names no {lang} compiler and version", fix=fix)
        name = COMPILER_NAMES.get(compiler_id, compiler_id.lower())
        props = (("infercore:cmake:compiler-id", compiler_id), ("infercore:language", lang))
        if lang == "CUDA":
            nvcc = Path(path)
            tools.append(Tool(name, found, properties=props))  # hashed by nvcc_toolchain
        else:
            tools.append(Tool(name, found, _executable_sha256(path), props))
    return tuple(tools), nvcc


def nvcc_toolchain(
    nvcc: Path, lock: SourcesLock
) -> tuple[str, tuple[Source, ...], tuple[tuple[str, str], ...], str | None]:
    """What the nvcc binary is: (toolchain name, its pinned wheels, properties, sha256).
    A pinned toolchain is recognized by its manifest (cuda/toolchain_unpack.py), so a
    container's toolchain, assembled by the same unpacker, is recognized too."""
    from ..cuda import toolchain_unpack as unpack
    from ..host import nvcc as nvcc_tool

    real = nvcc_tool.real(nvcc)  # through wrapper scripts, to the toolkit's own binary
    digest = _executable_sha256(real)
    manifest = unpack.read_manifest(real.parent.parent)
    if manifest is None:
        return "host", (), (("infercore:toolchain", "host"),), digest
    by_sha = {s.sha256: s for s in lock.values()}
    wheels = []
    for wheel in manifest.get("wheels", []):
        source = by_sha.get(str(wheel.get("sha256")))
        if source is None or source.toolchain is None:
            raise BuildError(
                f"{real} belongs to a toolchain assembled from {wheel.get('name')} "
                f"{wheel.get('version')}, which sources.lock.toml does not pin",
                why=f"its manifest ({real.parent.parent}) lists a wheel by a sha256 the lock "
                "does not have; the SBOM names only pinned wheels",
                fix="assemble the pinned toolchain again (`python -m buildsys toolchain`), or "
                "rebuild the image (`nox -s images`)",
            )
        wheels.append(source)
    name = wheels[0].toolchain if wheels else None
    props = [("infercore:toolchain", name or "pinned")]
    if manifest.get("tree_sha256"):
        props.append(("infercore:toolchain:tree-sha256", str(manifest["tree_sha256"])))
    return name or "pinned", tuple(wheels), tuple(props), digest


def build_tools(root: Path) -> tuple[tuple[str, str], ...]:
    """The pinned PyPI tools of a wheel build: the PEP 517 requires, the frontend, ninja
    and auditwheel (exact pins, so name and version say which release)."""
    reqs = [
        *build_requires(root),
        *(pin(root, "buildsys", n) for n in ("build", "ninja", "auditwheel")),
    ]
    pairs = {tuple(r.split("==", 1)) for r in reqs if re.fullmatch(r"[A-Za-z0-9_.\-]+==\S+", r)}
    return tuple(sorted((name, ver) for name, ver in pairs))


def for_build(
    paths: Paths,
    lock: SourcesLock,
    *,
    target: str,
    python: str | None,
    cmake_tree: Path,
    deps: Deps | None,
    kernels: bool,
    epoch: str,
    image: str | None,
) -> Inputs:
    """The inputs of one wheel's SBOM.

    cmake_tree: a configured tree of the build (the core's), whose compilers CMake
    recorded; deps: what `conan install` resolved (None: no Conan packages); kernels:
    whether the wheel links the fast-kernel libraries (CUTLASS, FlashAttention)."""
    from ..kernels.build import SOURCES as KERNEL_SOURCES

    tools, nvcc = cmake_tools(cmake_tree)
    toolchain: str | None = None
    wheels: tuple[Source, ...] = ()
    if nvcc is not None:
        toolchain, wheels, props, digest = nvcc_toolchain(nvcc, lock)
        tools = tuple(
            Tool(t.name, t.version, digest, t.properties + props) if t.name == "nvcc" else t
            for t in tools
        )
    license_field = pyproject(paths.root)["project"].get("license")
    return Inputs(
        version=version(paths.root),
        git_sha=git_sha(paths.root),
        epoch=epoch_of(epoch),
        target=target,
        python=python,
        license=license_field.get("text") if isinstance(license_field, dict) else None,
        sources=tuple(lock[name] for name in KERNEL_SOURCES) if kernels else (),
        conan=conan_sources(lock, deps.packages, deps.lockfile, target=target) if deps else (),
        compilers=tools,
        cuda_toolchain=toolchain if wheels else None,
        cuda_wheels=wheels,
        build_tools=build_tools(paths.root),
        image=image,
    )


def for_wheel(
    paths: Paths,
    lock: SourcesLock,
    core: CoreBuild,
    *,
    python: str,
    epoch: str,
    image: str | None,
) -> str:
    """The SBOM document (JSON text, validated) of the `python` wheel built on `core`:
    what wheels/pipeline.py hands to build.build_wheel."""
    inputs = for_build(
        paths,
        lock,
        target=core.target.name,
        python=python,
        cmake_tree=core.build_dir,
        deps=core.deps,
        kernels=bool(core.kernels),
        epoch=epoch,
        image=image,
    )
    text = document(inputs)
    validate(text)
    return text


# --- the document ---------------------------------------------------------------------------


def _is_pypi(source: Source) -> bool:
    host = source.urls[0].split("/")[2] if "://" in source.urls[0] else ""
    return source.kind in ("wheel", "sdist") and host in PYPI_HOSTS


def _pypi_name_version(source: Source) -> tuple[str, str]:
    """The PyPI project and release of a wheel or sdist, from its file name."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if source.kind == "wheel":
        name, ver, _, _ = parse_wheel_filename(source.filename)
    else:
        name, ver = parse_sdist_filename(source.filename)
    return str(name), str(ver)


def _source_component(source: Source, scope: str, properties: Sequence[tuple[str, str]]) -> Any:
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        XsUri,
    )
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from packageurl import PackageURL

    def sha256() -> list[Any]:
        return [HashType(alg=HashAlgorithm.SHA_256, content=source.sha256)]

    if _is_pypi(source):
        project, release = _pypi_name_version(source)
        purl = PackageURL("pypi", None, project, release, {"file_name": source.filename})
    else:
        checksum = f"sha256:{source.sha256}"
        qualifiers = {"download_url": source.urls[0], "checksum": checksum}
        purl = PackageURL("generic", None, source.name, source.version, qualifiers)
    # CycloneDX keeps references as a set: the comment says in which order they are tried.
    refs = [
        ExternalReference(
            type=ExternalReferenceType.DISTRIBUTION,
            url=XsUri(u),
            hashes=sha256(),
            comment=f"sources.lock.toml URL {i} of {len(source.urls)} (tried in this order)",
        )
        for i, u in enumerate(source.urls, 1)
    ]
    if m := _GITHUB.match(source.upstream):
        repo = f"https://github.com/{m.group(1)}/{m.group(2)}"
        refs.append(ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(repo)))
    if source.upstream and source.upstream not in source.urls:
        archive = re.search(r"\.(tar\.gz|tgz|tar\.xz|zip)$", source.upstream)
        if archive:
            kind = ExternalReferenceType.SOURCE_DISTRIBUTION
            comment = "the project's own release of this version: not the file pinned and built"
        else:
            kind, comment = ExternalReferenceType.WEBSITE, "the project's page of this release"
        refs.append(ExternalReference(type=kind, url=XsUri(source.upstream), comment=comment))
    props = [("infercore:source:filename", source.filename), ("infercore:source:kind", source.kind)]
    return Component(
        type=ComponentType.LIBRARY,
        name=source.name,
        version=source.version,
        bom_ref=f"source/{source.name}@{source.version}",
        scope=ComponentScope(scope),
        hashes=sha256(),
        purl=purl,
        external_references=refs,
        properties=_properties([*props, *properties]),
    )


def _properties(pairs: Sequence[tuple[str, str]]) -> list[Any]:
    from cyclonedx.model import Property

    return [Property(name=k, value=v) for k, v in pairs]


def _tool_component(tool: Tool) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from packageurl import PackageURL

    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=tool.sha256)] if tool.sha256 else []
    return Component(
        type=ComponentType.APPLICATION,
        name=tool.name,
        version=tool.version,
        bom_ref=f"toolchain/{tool.name}@{tool.version}",
        scope=ComponentScope.EXCLUDED,
        hashes=hashes,
        purl=PackageURL("generic", None, tool.name, tool.version),
        properties=_properties([("infercore:role", "toolchain"), *tool.properties]),
    )


def _build_tool_component(name: str, release: str) -> Any:
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from packageurl import PackageURL

    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=release,
        bom_ref=f"build-tool/{name}@{release}",
        scope=ComponentScope.EXCLUDED,
        purl=PackageURL("pypi", None, name, release),
        properties=_properties([("infercore:role", "build-tool")]),
    )


def _image_component(image: str) -> Any | None:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from packageurl import PackageURL

    m = _DIGEST.search(image)
    if m is None:
        return None
    digest = m.group(1)
    reference = image[: m.start()]
    repository, tag = reference, None
    if ":" in reference.rsplit("/", 1)[-1]:
        repository, tag = reference.rsplit(":", 1)
    qualifiers = {"repository_url": repository} if repository else {}
    if tag:
        qualifiers["tag"] = tag
    name = repository.rsplit("/", 1)[-1] or "image"
    return Component(
        type=ComponentType.CONTAINER,
        name=repository or name,
        version=tag or f"sha256:{digest}",
        bom_ref=f"image/sha256:{digest}",
        scope=ComponentScope.EXCLUDED,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)],
        purl=PackageURL("oci", None, name, f"sha256:{digest}", qualifiers),
        properties=_properties([("infercore:role", "build-image")]),
    )


def _dumps(text: str) -> str:
    """The canonical form: sorted keys, two-space indent, one newline at the end."""
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def document(inputs: Inputs) -> str:
    """The CycloneDX JSON of `inputs`; the same inputs give the same bytes."""
    from datetime import datetime, timezone
    from importlib.metadata import version as installed_version

    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import LicenseExpression
    from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    root_props = [("infercore:git-sha", inputs.git_sha), ("infercore:target", inputs.target)]
    if inputs.python:
        root_props.append(("infercore:python", inputs.python))
    purl = PackageURL("pypi", None, NAME, inputs.version)
    root = Component(
        type=ComponentType.LIBRARY,
        name=NAME,
        version=inputs.version,
        bom_ref=purl.to_string(),
        purl=purl,
        licenses=[LicenseExpression(inputs.license)] if inputs.license else [],
        properties=_properties(root_props),
    )
    required = [_source_component(s, "required", ()) for s in inputs.sources]
    for c in inputs.conan:
        required.append(
            _source_component(
                c.source,
                "required",
                [
                    ("infercore:conan:lockfile", c.lockfile),
                    ("infercore:conan:package-id", c.package.package_id),
                    ("infercore:conan:recipe-revision", c.package.revision),
                    ("infercore:conan:reference", c.package.ref),
                ],
            )
        )
    wheel_props = [("infercore:role", "toolchain")]
    if inputs.cuda_toolchain:
        wheel_props.append(("infercore:toolchain", inputs.cuda_toolchain))
    linked, compile_only = [], []
    for w in inputs.cuda_wheels:
        shipped = w.name in LINKED_TOOLCHAIN_WHEELS
        component = _source_component(w, "required" if shipped else "excluded", wheel_props)
        (linked if shipped else compile_only).append(component)
    required += linked
    compilers = {t.name: _tool_component(t) for t in inputs.compilers}
    others = [
        *compilers.values(),
        *compile_only,
        *(_build_tool_component(n, v) for n, v in inputs.build_tools),
    ]
    meta_props = [("infercore:build-environment", "image" if inputs.image else "host")]
    if inputs.image:
        meta_props.append(("infercore:build-image", inputs.image))
        if (image := _image_component(inputs.image)) is not None:
            others.append(image)
    generator = Component(
        type=ComponentType.LIBRARY,
        name="cyclonedx-python-lib",
        version=installed_version("cyclonedx-python-lib"),
        bom_ref="sbom-tool/cyclonedx-python-lib",
    )
    bom = Bom(
        serial_number=uuid.UUID(int=0),  # replaced below by the content's own UUID
        metadata=BomMetaData(
            component=root,
            timestamp=datetime.fromtimestamp(inputs.epoch, tz=timezone.utc),
            lifecycles=[PredefinedLifecycle(LifecyclePhase.BUILD)],
            tools=ToolRepository(components=[generator]),
            properties=_properties(meta_props),
        ),
        components=[*required, *others],
    )
    bom.register_dependency(root, required)
    for c in [*required, *others]:
        bom.register_dependency(c)
    if "nvcc" in compilers and inputs.cuda_wheels:
        bom.register_dependency(compilers["nvcc"], [*linked, *compile_only])
    draft = _dumps(JsonV1Dot6(bom).output_as_string())
    digest = hashlib.sha256(draft.encode()).hexdigest()
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:infercore:sbom:sha256:{digest}")
    return _dumps(JsonV1Dot6(bom).output_as_string())


@functools.cache  # the schema is loaded once per process, not once per wheel
def _validator() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.from_version(SPEC_VERSION))


def validate(text: str) -> None:
    """Check `text` against the CycloneDX JSON schema of SPEC_VERSION (strict: no
    unknown keys); a document that fails is a bug here, never shipped."""
    try:
        error = _validator().validate_str(text)
    except ImportError as err:  # the json-validation extra (jsonschema) is not installed
        raise ToolMissing(
            f"cannot validate the wheel's SBOM: {err}",
            fix="install the buildsys group of pyproject.toml (nox sessions do), which pins "
            "cyclonedx-python-lib[json-validation]",
        ) from None
    if error is not None:
        raise BuildError(
            f"the wheel's SBOM does not validate against the CycloneDX {SPEC_VERSION} schema",
            why=str(error)[:2000],
            fix="this is a bug in buildsys/wheels/sbom.py: please report it with this message",
        )


def write(path: Path, text: str) -> Path:
    """Write a document whole (atomically), after checking it."""
    validate(text)
    return atomic_write(path, text)


def read_from_wheel(wheel: Path) -> str | None:
    """The SBOM this module wrote into `wheel` (.dist-info/sboms/FILENAME), or None."""
    with zipfile.ZipFile(wheel) as zf:
        names = [
            n
            for n in zf.namelist()
            if re.fullmatch(rf"[^/]+\.dist-info/sboms/{re.escape(FILENAME)}", n)
        ]
        return zf.read(names[0]).decode() if len(names) == 1 else None
