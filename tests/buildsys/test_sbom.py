"""buildsys.wheels.sbom: each wheel's CycloneDX SBOM, checked against the CycloneDX schema.

The inputs are the repository's own sources.lock.toml and conan.lock, with a CMake tree
of the test's own (CMake's compiler records, written as CMake writes them) so that the
compiler and nvcc are known files; the real wheel is checked in
tests/integration/test_wheels_end_to_end.py.
"""

import hashlib
import json
import stat
import tempfile
import time
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from buildsys import config
from buildsys.cuda import toolchain_unpack
from buildsys.deps import conan
from buildsys.errors import BuildError, ConfigError, UsageError
from buildsys.util import project
from buildsys.util.paths import ROOT, Paths
from buildsys.wheels import pipeline, sbom
from conan_helpers import context, needs_conan

LOCK = config.load(ROOT).lock
EPOCH = "1700000000"
IMAGE = "localhost/infercore:release-x86@sha256:" + "0123456789abcdef" * 4


def locked_packages(lockfile: Path = ROOT / "conan.lock") -> tuple[conan.Package, ...]:
    """What `conan install` reports for the engine, read from the lockfile itself."""
    out = []
    for ref in json.loads(lockfile.read_text())["requires"]:
        name_version, revision = ref.split("%")[0].split("#")
        name, version = name_version.split("/")
        if name != "gtest":  # a test requirement: Conan reports it, used_packages drops it
            out.append(conan.Package(name, version, revision, f"id-of-{name}"))
    return tuple(sorted(out, key=lambda p: p.name))


def deps(lockfile: Path = ROOT / "conan.lock", packages=None) -> conan.Deps:
    return conan.Deps(
        target="cpu-x86_64",
        profile=Path("profile"),
        lockfile=lockfile,
        generators=Path("generators"),
        built=(),
        packages=locked_packages() if packages is None else packages,
    )


def executable(path: Path, body: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def cmake_tree(tmp_path: Path, *, nvcc: Path | None = None) -> Path:
    """A configured tree as CMake 3.25.1 leaves it: its cache and compiler records."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(dir=tmp_path, prefix="core-"))
    records = tree / "CMakeFiles" / "3.25.1"
    records.mkdir(parents=True)
    cmake = executable(tmp_path / "bin" / "cmake", "#!/bin/sh\n# cmake\n")
    cxx = executable(tmp_path / "bin" / "g++", "#!/bin/sh\n# the C++ compiler\n")
    (tree / "CMakeCache.txt").write_text(
        "# This is the CMakeCache file.\n"
        f"CMAKE_COMMAND:INTERNAL={cmake}\n"
        "CMAKE_CACHE_MAJOR_VERSION:INTERNAL=3\n"
        "CMAKE_CACHE_MINOR_VERSION:INTERNAL=25\n"
        "CMAKE_CACHE_PATCH_VERSION:INTERNAL=1\n"
    )
    (records / "CMakeCXXCompiler.cmake").write_text(
        f'set(CMAKE_CXX_COMPILER "{cxx}")\nset(CMAKE_CXX_COMPILER_ARG1 "")\n'
        'set(CMAKE_CXX_COMPILER_ID "GNU")\nset(CMAKE_CXX_COMPILER_VERSION "12.2.0")\n'
    )
    if nvcc is not None:
        (records / "CMakeCUDACompiler.cmake").write_text(
            f'set(CMAKE_CUDA_COMPILER "{nvcc}")\nset(CMAKE_CUDA_HOST_COMPILER "")\n'
            'set(CMAKE_CUDA_COMPILER_ID "NVIDIA")\nset(CMAKE_CUDA_COMPILER_VERSION "13.0.88")\n'
        )
    return tree


def pinned_toolchain(tmp_path: Path, wheels=None) -> Path:
    """A prefix with the manifest toolchain_unpack writes, of the lock's CUDA 13.0 wheels."""
    prefix = tmp_path / "toolchains" / "cuda-13.0-test"
    nvcc = executable(prefix / "bin" / "nvcc", "#!/bin/sh\n# the pinned nvcc\nexit 0\n")
    wheels = LOCK.toolchains["13.0"] if wheels is None else wheels
    manifest = {
        "format": toolchain_unpack.FORMAT,
        "root": "nvidia/cu13",
        "wheels": [{"name": w.name, "version": w.version, "sha256": w.sha256} for w in wheels],
        "tree_sha256": "ab" * 32,
    }
    (prefix / toolchain_unpack.MARKER).write_text(json.dumps(manifest))
    return nvcc


def inputs(tmp_path: Path, **kw) -> sbom.Inputs:
    args = {
        "target": "cpu-x86_64",
        "python": "cp311",
        "cmake_tree": kw.pop("tree", None) or cmake_tree(tmp_path),
        "deps": deps(),
        "kernels": False,
        "epoch": EPOCH,
        "image": None,
    }
    args.update(kw)
    return sbom.for_build(Paths.from_env({}, root=ROOT), LOCK, **args)


def schema_errors(text: str):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def components(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["components"]}


def props(component: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def sha256_of(component: dict) -> str:
    (h,) = component["hashes"]
    assert h["alg"] == "SHA-256"
    return h["content"]


def urls(component: dict, kind: str) -> list[str]:
    return [r["url"] for r in component.get("externalReferences", []) if r["type"] == kind]


@pytest.fixture(scope="module")
def cpu_doc(tmp_path_factory):
    text = sbom.document(inputs(tmp_path_factory.mktemp("cpu")))
    return text, json.loads(text)


@pytest.fixture(scope="module")
def cuda_doc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cuda")
    tree = cmake_tree(tmp, nvcc=pinned_toolchain(tmp))
    text = sbom.document(inputs(tmp, tree=tree, target="cuda-x86_64", kernels=True, image=IMAGE))
    return text, json.loads(text)


# --- the document ---------------------------------------------------------------------------


def test_the_documents_validate_against_the_cyclonedx_1_6_schema(cpu_doc, cuda_doc):
    for text, doc in (cpu_doc, cuda_doc):
        assert schema_errors(text) is None
        assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
        sbom.validate(text)  # what the build runs


def test_the_wheel_is_the_metadata_component(cpu_doc):
    _, doc = cpu_doc
    meta = doc["metadata"]
    root = meta["component"]
    assert (root["name"], root["version"]) == ("infercore", project.version(ROOT))
    assert root["purl"] == f"pkg:pypi/infercore@{project.version(ROOT)}"
    assert props(root) == {
        "infercore:git-sha": project.git_sha(ROOT),
        "infercore:target": "cpu-x86_64",
        "infercore:python": "cp311",
    }
    assert root["licenses"] == [{"expression": "Apache-2.0"}]
    when = datetime.fromisoformat(meta["timestamp"])
    assert when == datetime.fromtimestamp(int(EPOCH), tz=timezone.utc)
    assert props(meta) == {"infercore:build-environment": "host"}
    serial = uuid.UUID(doc["serialNumber"].removeprefix("urn:uuid:"))
    assert serial.version == 5  # derived from the content, not random


def test_a_cpu_wheel_lists_the_conan_sources_with_the_locks_sha256_and_urls(cpu_doc):
    _, doc = cpu_doc
    found = components(doc)
    for name in ("glog", "pybind11"):
        pinned = LOCK[name]
        c = found[name]
        assert c["version"] == pinned.version and c["scope"] == "required"
        assert sha256_of(c) == pinned.sha256
        dist = [r for r in c["externalReferences"] if r["type"] == "distribution"]
        # Every URL serves those bytes; the comments keep the order they are tried in.
        assert sorted(r["url"] for r in dist) == sorted(pinned.urls)
        assert all(r["hashes"] == c["hashes"] for r in dist)
        by_order = sorted(dist, key=lambda r: r["comment"])
        assert [r["url"] for r in by_order] == list(pinned.urls)
        assert by_order[0]["comment"].startswith(f"sources.lock.toml URL 1 of {len(pinned.urls)}")
        assert urls(c, "vcs") == [pinned.upstream.split("/archive/")[0]]
    assert found["glog"]["purl"].startswith("pkg:generic/glog@0.6.0?checksum=sha256:8a83bf")
    assert found["pybind11"]["purl"] == (
        "pkg:pypi/pybind11@2.13.6?file_name=pybind11-2.13.6.tar.gz"
    )
    # pybind11's upstream release is another file than the PyPI sdist pinned: said so.
    (upstream,) = [
        r for r in found["pybind11"]["externalReferences"] if r["type"] == "source-distribution"
    ]
    assert upstream["url"] == LOCK["pybind11"].upstream and "not the file" in upstream["comment"]
    # Test-only and unrelated pins are not in a wheel; nor is CUDA in a CPU wheel.
    for absent in ("gtest", "cutlass", "flash-attention", "nvcc", "tini-amd64", "uv-x86_64"):
        assert absent not in found
    assert not any(n.startswith("nvidia-") for n in found)


def test_the_conan_components_carry_the_revisions_conan_lock_pins(cpu_doc):
    _, doc = cpu_doc
    found = components(doc)
    locked = {
        r.split("/")[0]: r.split("%")[0]
        for r in json.loads((ROOT / "conan.lock").read_text())["requires"]
    }
    for name in ("glog", "pybind11"):
        p = props(found[name])
        assert p["infercore:conan:reference"] == locked[name]
        assert p["infercore:conan:recipe-revision"] == locked[name].split("#")[1]
        assert p["infercore:conan:package-id"] == f"id-of-{name}"
        assert p["infercore:conan:lockfile"] == "conan.lock"


def test_the_toolchain_is_listed_as_excluded_with_versions_and_hashes(cpu_doc, tmp_path):
    _, doc = cpu_doc
    found = components(doc)
    gcc, cmake = found["gcc"], found["cmake"]
    assert (gcc["version"], gcc["scope"], gcc["type"]) == ("12.2.0", "excluded", "application")
    assert props(gcc)["infercore:cmake:compiler-id"] == "GNU"
    # The compiler and cmake hashes are of the files the CMake records name.
    fresh = cmake_tree(tmp_path)
    cxx = (fresh.parent / "bin" / "g++").read_bytes()
    assert sha256_of(gcc) == hashlib.sha256(cxx).hexdigest()
    assert cmake["version"] == "3.25.1"
    tools = [c for c in doc["components"] if props(c).get("infercore:role") == "build-tool"]
    versions = {c["name"]: c["version"] for c in tools}
    assert versions["scikit-build-core"] == "1.1.2" and versions["auditwheel"] == "6.8.2"
    assert set(versions) == {"scikit-build-core", "pybind11", "build", "ninja", "auditwheel"}
    assert all(c["scope"] == "excluded" and c["purl"].startswith("pkg:pypi/") for c in tools)
    # The wheel depends on what is in it, not on its toolchain.
    wheel_ref = doc["metadata"]["component"]["bom-ref"]
    (root,) = [d for d in doc["dependencies"] if d["ref"] == wheel_ref]
    assert sorted(root["dependsOn"]) == ["source/glog@0.6.0", "source/pybind11@2.13.6"]


def test_a_cuda_wheel_lists_the_kernel_sources_and_the_pinned_toolchain(cuda_doc):
    _, doc = cuda_doc
    found = components(doc)
    for name in ("cutlass", "flash-attention"):
        assert sha256_of(found[name]) == LOCK[name].sha256
        assert sorted(urls(found[name], "distribution")) == sorted(LOCK[name].urls)
        assert found[name]["scope"] == "required"
    assert found["cutlass"]["purl"].startswith("pkg:pypi/nvidia-cutlass@4.2.0.0?")
    assert found["flash-attention"]["purl"].startswith("pkg:pypi/flash-attn@2.8.3?")
    nvcc = found["nvcc"]
    assert nvcc["version"] == "13.0.88"
    assert props(nvcc)["infercore:toolchain"] == "cuda-13.0"
    assert props(nvcc)["infercore:toolchain:tree-sha256"] == "ab" * 32
    wheels = LOCK.toolchains["13.0"]
    assert len(wheels) == 5
    for w in wheels:
        c = found[w.name]
        assert sha256_of(c) == w.sha256 and c["version"] == w.version
        assert sorted(urls(c, "distribution")) == sorted(w.urls)
        assert props(c)["infercore:toolchain"] == "cuda-13.0"
        # The static CUDA runtime is linked into the wheel; the compiler parts are not.
        assert c["scope"] == ("required" if w.name == "nvidia-cuda-runtime" else "excluded")
    (edge,) = [d for d in doc["dependencies"] if d["ref"] == nvcc["bom-ref"]]
    assert len(edge["dependsOn"]) == 5


def test_the_image_is_a_property_and_with_a_digest_a_container(cuda_doc, tmp_path):
    _, doc = cuda_doc
    assert props(doc["metadata"])["infercore:build-image"] == IMAGE
    image = next(c for c in doc["components"] if c["type"] == "container")
    assert image["name"] == "localhost/infercore" and image["version"] == "release-x86"
    assert sha256_of(image) == "0123456789abcdef" * 4
    assert image["purl"].startswith("pkg:oci/infercore@sha256")
    # Without a digest (an image id, a plain tag): recorded as given, no component.
    text = sbom.document(inputs(tmp_path, image="infercore-release-x86 (id 4f1c2a)"))
    doc = json.loads(text)
    assert props(doc["metadata"])["infercore:build-image"] == "infercore-release-x86 (id 4f1c2a)"
    assert not [c for c in doc["components"] if c["type"] == "container"]
    assert schema_errors(text) is None


def test_the_image_comes_from_the_environment_and_a_bad_digest_is_refused():
    assert sbom.image_from({}) is None and sbom.image_from({sbom.IMAGE_ENV: "  "}) is None
    assert sbom.image_from({sbom.IMAGE_ENV: f" {IMAGE} "}) == IMAGE
    with pytest.raises(UsageError, match=r"the text after @sha256: is not a digest") as info:
        sbom.image_from({sbom.IMAGE_ENV: "localhost/infercore:x@sha256:abc"})
    assert sbom.IMAGE_ENV in info.value.fix
    with pytest.raises(UsageError, match="control characters"):
        sbom.image_from({sbom.IMAGE_ENV: "a\nb"})


def test_two_generations_are_byte_identical_and_the_serial_follows_the_content(tmp_path):
    start = time.perf_counter()
    first = sbom.document(inputs(tmp_path / "a"))
    took = time.perf_counter() - start
    second = sbom.document(inputs(tmp_path / "b"))  # gathered again, from another tree
    assert first == second
    assert (
        first.endswith("}\n")
        and json.dumps(json.loads(first), indent=2, sort_keys=True) + ("\n") == first
    )  # sorted keys, stable layout
    later = json.loads(sbom.document(inputs(tmp_path / "c", epoch="1700000001")))
    assert later["serialNumber"] != json.loads(first)["serialNumber"]
    assert took < 5, f"{took:.2f} s to make one document"


# --- tampered and missing inputs ------------------------------------------------------------


def test_a_missing_or_broken_conan_lock_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"conan\.lock does not exist") as info:
        inputs(tmp_path, deps=deps(tmp_path / "conan.lock"))
    assert "recipe revisions" in info.value.why and "nox -s deps" in info.value.fix
    broken = tmp_path / "broken" / "conan.lock"
    broken.parent.mkdir()
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="is not a readable JSON lockfile"):
        inputs(tmp_path, deps=deps(broken))
    broken.write_text(json.dumps({"version": "0.5", "requires": ["glog-0.6.0"]}))
    with pytest.raises(ConfigError, match=r"'glog-0\.6\.0' is not a locked reference"):
        inputs(tmp_path, deps=deps(broken))


def test_a_tampered_revision_or_an_unlocked_package_is_refused(tmp_path):
    lockfile = tmp_path / "conan.lock"
    data = json.loads((ROOT / "conan.lock").read_text())
    data["requires"] = [
        r.replace("#7b272be9", "#00000000") if r.startswith("glog/") else r
        for r in data["requires"]
    ]
    lockfile.write_text(json.dumps(data))
    with pytest.raises(BuildError, match=r"conan install used glog/0\.6\.0#7b272be9.*pins glog"):
        inputs(tmp_path, deps=deps(lockfile))
    data["requires"] = [r for r in data["requires"] if not r.startswith("glog/")]
    lockfile.write_text(json.dumps(data))
    with pytest.raises(BuildError, match=r"which conan\.lock does not pin") as info:
        inputs(tmp_path, deps=deps(lockfile))
    assert "nox -s deps -- --target cpu-x86_64" in info.value.fix


def test_a_conan_package_without_its_pinned_source_or_version_is_a_config_error(tmp_path):
    extra = (*locked_packages(), conan.Package("zlib", "1.3", "f" * 32, "id"))
    lockfile = tmp_path / "conan.lock"
    data = json.loads((ROOT / "conan.lock").read_text())
    data["requires"].append("zlib/1.3#" + "f" * 32 + "%1.0")
    lockfile.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="pins no source for the Conan package zlib") as info:
        inputs(tmp_path, deps=deps(lockfile, extra))
    assert 'conan-recipe = "zlib"' in info.value.fix
    # sources.lock.toml's glog entry edited to another release than Conan built.
    tampered = LOCK.model_copy(
        update={
            "source": [
                s.model_copy(update={"version": "0.7.0"}) if s.name == "glog" else s
                for s in LOCK.source
            ]
        }
    )
    with pytest.raises(ConfigError, match=r"pins glog 0\.7\.0, but Conan built glog/0\.6\.0"):
        sbom.conan_sources(tampered, locked_packages(), ROOT / "conan.lock")


def test_an_unconfigured_tree_or_unpinned_toolchain_is_refused(tmp_path):
    with pytest.raises(BuildError, match="is not a configured CMake tree") as info:
        inputs(tmp_path, tree=tmp_path / "nothing")
    assert "configure" in info.value.fix
    tree = cmake_tree(tmp_path / "t")
    (tree / "CMakeFiles" / "3.25.1" / "CMakeCXXCompiler.cmake").unlink()
    with pytest.raises(BuildError, match="has no record of its C\\+\\+ compiler"):
        inputs(tmp_path, tree=tree)
    # A toolchain tree whose manifest lists a wheel sources.lock.toml does not pin.
    other = LOCK.toolchains["13.0"][0].model_copy(update={"sha256": "cd" * 32})
    nvcc = pinned_toolchain(tmp_path / "tc", wheels=[other])
    with pytest.raises(BuildError, match=r"which sources\.lock\.toml does not pin") as info:
        inputs(tmp_path, tree=cmake_tree(tmp_path / "u", nvcc=nvcc), target="cuda-x86_64")
    assert "buildsys toolchain" in info.value.fix


def test_a_host_nvcc_is_recorded_with_its_binarys_sha256(tmp_path):
    nvcc = executable(tmp_path / "cuda" / "bin" / "nvcc", "#!/bin/sh\n# a host nvcc\nexit 0\n")
    doc = json.loads(
        sbom.document(inputs(tmp_path, tree=cmake_tree(tmp_path, nvcc=nvcc), kernels=True))
    )
    found = components(doc)
    assert props(found["nvcc"])["infercore:toolchain"] == "host"
    assert sha256_of(found["nvcc"]) == hashlib.sha256(nvcc.read_bytes()).hexdigest()
    assert not any(n.startswith("nvidia-cuda") for n in found)


def test_a_bad_source_date_epoch_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH='yesterday'"):
        inputs(tmp_path, epoch="yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        pipeline.sbom_image({"SOURCE_DATE_EPOCH": "-1"})


def test_a_document_that_breaks_the_schema_is_never_shipped(cpu_doc):
    text, doc = cpu_doc
    doc["components"][0]["scope"] = "bundled"  # not a CycloneDX scope
    with pytest.raises(BuildError, match=r"does not validate against the CycloneDX 1\.6 schema"):
        sbom.validate(json.dumps(doc))
    with pytest.raises(BuildError, match="does not validate"):
        sbom.validate(json.dumps({**json.loads(text), "builtBy": "me"}))  # strict: no extras


# --- in the wheel ---------------------------------------------------------------------------


def test_the_sbom_is_read_from_the_dist_info_and_checked_in_the_repaired_wheel(tmp_path, cpu_doc):
    text, _ = cpu_doc
    wheel = tmp_path / "infercore-0.1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("infercore/__init__.py", "")
        zf.writestr(f"infercore-0.1.0.dist-info/sboms/{sbom.FILENAME}", text)
        zf.writestr("infercore-0.1.0.dist-info/sboms/auditwheel.cdx.json", "{}")
    assert sbom.read_from_wheel(wheel) == text
    pipeline.check_wheel(wheel, budget_mib=1, work_dir=tmp_path / "w", sbom_text=text)
    with pytest.raises(BuildError, match="is not the SBOM written for it"):
        pipeline.check_wheel(wheel, budget_mib=1, work_dir=tmp_path / "w", sbom_text=text + " ")
    bare = tmp_path / "infercore-0.1.0-cp312-cp312-linux_x86_64.whl"
    with zipfile.ZipFile(bare, "w") as zf:
        zf.writestr("infercore/__init__.py", "")
    assert sbom.read_from_wheel(bare) is None
    with pytest.raises(BuildError, match="the SBOM did not reach the wheel"):
        pipeline.check_wheel(bare, budget_mib=1, work_dir=tmp_path / "w", sbom_text=text)


def test_the_binding_installs_it_into_scikit_build_cores_metadata_dir():
    cmake = (ROOT / "csrc" / "python" / "CMakeLists.txt").read_text()
    assert 'DESTINATION "${SKBUILD_METADATA_DIR}/sboms"' in cmake
    assert f"RENAME {sbom.FILENAME}" in cmake


def test_cyclonedx_is_pinned_with_its_schema_validation_extra():
    from importlib.metadata import version

    pinned = project.pin(ROOT, "buildsys", "cyclonedx-python-lib[json-validation]")
    assert pinned == f"cyclonedx-python-lib[json-validation]=={version('cyclonedx-python-lib')}"


# --- what Conan reports -------------------------------------------------------------------


RECIPE = """\
from conan import ConanFile


class Pkg(ConanFile):
    name = "{name}"
    package_type = "header-library"
"""


@needs_conan
def test_used_packages_are_the_host_requirements_of_the_real_conan_graph(tmp_path):
    """A project with a requirement, a test requirement and a tool: only the requirement
    is what the wheels link."""
    from buildsys.deps import profiles as conanprofiles

    index = tmp_path / "index"
    for name in ("liba", "libtest", "tool"):
        folder = index / "recipes" / name
        (folder / "all").mkdir(parents=True)
        (folder / "config.yml").write_text('versions:\n  "1.0":\n    folder: all\n')
        (folder / "all" / "conanfile.py").write_text(RECIPE.format(name=name))
    proj = tmp_path / "project"
    proj.mkdir()
    (proj / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (proj / "conanfile.py").write_text(
        "from conan import ConanFile\n\n\nclass App(ConanFile):\n"
        '    settings = "os", "arch", "compiler", "build_type"\n\n'
        '    def requirements(self):\n        self.requires("liba/1.0")\n\n'
        "    def build_requirements(self):\n"
        '        self.test_requires("libtest/1.0")\n        self.tool_requires("tool/1.0")\n'
    )
    c = context(tmp_path, root=proj, **{conan.REMOTES_ENV: f"testindex={index}"})
    log = tmp_path / "conan.log"
    conan.setup_home(c, log=log)
    written = conanprofiles.write_profiles(c.matrix, tmp_path / "profiles", ROOT)
    profiles = {"cpu-x86_64": written["cpu-x86_64"], "build": written["build"]}
    lockfile = tmp_path / "conan.lock"
    conan.create_lock(c, lockfile, profiles, log=log)
    graph = conan.resolve_against_lock(c, "cpu-x86_64", profiles, lockfile, log=log)
    (liba,) = conan.used_packages(graph)
    assert (liba.name, liba.version) == ("liba", "1.0") and liba.package_id
    assert sbom.locked_revisions(lockfile)["liba"] == ("1.0", liba.revision)
    assert "libtest" in sbom.locked_revisions(lockfile)  # locked, but not linked
