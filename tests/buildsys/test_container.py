"""buildsys.container: image names and tags, the inputs digest, docker/images.lock, the
heredoc lowering for old podman, and where a session runs (--container)."""

import os
import shutil
import stat
import textwrap
from pathlib import Path

import pytest
from buildsys import config
from buildsys.config.images import ImageBase
from buildsys.container import dockerfile, engine, imagelock, images, session, standin
from buildsys.errors import ConfigError, ToolMissing, UsageError
from buildsys.util.paths import ROOT, Paths

CFG = config.load(ROOT)
MATRIX, LOCK = CFG.matrix, CFG.lock
VERSION = "0.1.0"


def entry(**overrides) -> imagelock.Entry:
    """A docker/images.lock entry for test-x86; `overrides` replace fields."""
    values = {
        "tag": "x86-test0.1.0-debian12-x86_64",
        "ref": "localhost/infercore:x86-test0.1.0-debian12-x86_64",
        "id": "sha256:" + "a" * 64,
        "inputs": "sha256:" + "b" * 64,
        "base": "bookworm",
        "base_ref": "localhost/infercore-base:bookworm",
        "python": "3.11",
        "engine": "podman 4.3.1",
        "size_mib": 751.8,
        "build_seconds": 44.7,
    }
    return imagelock.Entry(**{**values, **overrides})


def paths_at(root: Path, tmp_path: Path) -> Paths:
    return Paths(root=root, build=tmp_path / "build", source_cache=tmp_path / "cache")


def test_tags_follow_the_convention():
    p = Paths.from_env()
    tags = {
        (r, pl): images.spec(p, MATRIX, r, pl).tag
        for r in ("dev", "test", "release")
        for pl in ("cuda", "x86")
    }
    assert tags[("dev", "cuda")] == f"cuda13.0-dev{VERSION}-almalinux8-x86_64"
    assert tags[("test", "x86")] == f"x86-test{VERSION}-almalinux8-x86_64"
    assert tags[("release", "x86")] == f"x86-release{VERSION}-manylinux2014-x86_64"
    assert tags[("release", "cuda")] == f"cuda13.0-release{VERSION}-manylinux_2_28-x86_64"
    assert all(t == t.lower() for t in tags.values())
    here = images.spec(p, MATRIX, "test", "x86", base="bookworm", python="3.11")
    assert here.tag == f"x86-test{VERSION}-debian12-x86_64"
    assert here.multiarch_tag == f"x86-test{VERSION}"


def test_a_base_below_the_cuda_floor_is_refused():
    with pytest.raises(UsageError) as err:
        images.spec(Paths.from_env(), MATRIX, "release", "cuda", base="manylinux2014-x86_64")
    assert "glibc 2.17" in str(err.value) and ">= 2.28" in str(err.value)
    with pytest.raises(UsageError, match="did you mean 'bookworm'"):
        images.spec(Paths.from_env(), MATRIX, "dev", "x86", base="bookwrm")


def test_every_cuda_image_default_base_meets_the_toolkit_floor():
    # The load-time cross-check: a CUDA role's default base carries glibc >= 2.28.
    for role in MATRIX.images.roles:
        s = images.spec(Paths.from_env(), MATRIX, role, "cuda")
        assert tuple(map(int, s.base.glibc.split("."))) >= (2, 28), role


def _recipe_copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(ROOT / "docker", root / "docker")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_inputs_digest_follows_every_input(tmp_path):
    root = _recipe_copy(tmp_path)
    p = paths_at(root, tmp_path)
    s = images.spec(p, MATRIX, "test", "x86", base="bookworm", python="3.11")
    first = images.inputs(p, LOCK, s)
    assert first == images.inputs(p, LOCK, s)  # deterministic
    assert first.startswith("sha256:") and len(first) == 71
    script = root / "docker" / "scripts" / "install-system.sh"
    script.write_text(script.read_text() + "\n# a change\n")
    changed = images.inputs(p, LOCK, s)
    assert changed != first
    script.chmod(script.stat().st_mode & ~stat.S_IXUSR)  # the mode counts too
    assert images.inputs(p, LOCK, s) != changed
    other_python = images.spec(p, MATRIX, "test", "x86", base="bookworm", python="3.12")
    assert images.inputs(p, LOCK, other_python) != images.inputs(p, LOCK, s)
    other_stage = images.spec(p, MATRIX, "dev", "x86", base="bookworm", python="3.11")
    assert images.inputs(p, LOCK, other_stage) != images.inputs(p, LOCK, s)


def test_the_committed_lock_matches_the_recipe():
    """docker/images.lock must be rebuilt (nox -s images) whenever docker/ or a pin it
    installs changes: each recorded digest is what the recipe gives now."""
    entries = imagelock.read(ROOT)
    assert entries, "docker/images.lock records no image"
    for name, record in entries.items():
        base = MATRIX.images.bases[record.base]
        if base.interpreters == "host" and standin.host_pythons(MATRIX.python_versions)[1]:
            # Built FROM the stand-in manylinux base, which copies the build machine's
            # interpreters: a machine without them (one of the project's containers)
            # cannot say what the image would be made from.
            continue
        assert images.recipe_current(Paths.from_env(), LOCK, MATRIX, name, record), (
            f"{name}: run `nox -s images -- --role {name.split('-')[0]} ...` and commit "
            "docker/images.lock"
        )


def _standin_base(suite: str, glibc: str) -> ImageBase:
    return ImageBase.model_validate(
        {"debootstrap": suite, "os": "stand_in", "glibc": glibc, "package-manager": "apt",
         "interpreters": "host"}
    )  # fmt: skip


def test_the_standin_base_is_a_manylinux_like_release_base():
    s = images.spec(Paths.from_env(), MATRIX, "release", "x86", base="standin-bookworm")
    assert s.tag == f"x86-release{VERSION}-debian12_manylinux-x86_64"
    assert s.pythons == MATRIX.python_versions == ("3.10", "3.11", "3.12")
    assert s.python == "3.10"  # the [images] default: /opt/python/cp310-cp310 there
    assert standin.auditwheel_plat(s.base) == "manylinux_2_36_x86_64"
    e = engine.Engine(name="podman", path=Path("podman"), version=(4, 3), rootless=False)
    assert standin.ref(e, "infercore", s.base) == "localhost/infercore-base:bookworm-manylinux"
    # Only a stand-in carries the [python] versions; a plain debootstrap base none.
    assert images.spec(Paths.from_env(), MATRIX, "release", "x86", base="bookworm").pythons == ()


def _host_pythons() -> list:
    found, missing = standin.host_pythons(MATRIX.python_versions)
    if missing:
        pytest.skip(f"no self-contained CPython {', '.join(missing)} here (pyenv's)")
    return found


def test_the_inputs_name_the_interpreters_a_standin_copies(tmp_path):
    pythons = _host_pythons()
    p = Paths.from_env()
    s = images.spec(p, MATRIX, "release", "x86", base="standin-bookworm")
    identity = images.base_identity(p, s)
    assert identity.startswith("debootstrap:bookworm+standin:sha256:")
    assert identity == images.base_identity(p, s)  # deterministic
    # Another set of interpreters (a machine with other versions) is another base...
    fewer = images.ImageSpec(**{**s.__dict__, "pythons": s.pythons[:2]})
    assert images.inputs(p, LOCK, fewer) != images.inputs(p, LOCK, s)
    # ...and a version the machine lacks is recorded, never an error here.
    other = images.ImageSpec(**{**s.__dict__, "pythons": ("3.10", "3.99")})
    assert images.base_identity(p, other) != identity
    plain = images.spec(p, MATRIX, "release", "x86", base="bookworm")
    assert images.base_identity(p, plain) == "debootstrap:bookworm"
    assert all(py.prefix not in standin.SYSTEM_PREFIXES for py in pythons)


def test_a_standin_older_than_its_interpreters_glibc_is_refused(tmp_path):
    pythons = _host_pythons()
    need = max(standin.glibc_floor(py)[0] for py in pythons)
    assert need >= (2, 34)  # pyenv's builds here: GLIBC_2.34 in python, 2.35 in libpython
    text = ".".join(map(str, need))
    bullseye = _standin_base("bullseye", "2.31")
    with pytest.raises(ConfigError) as err:
        standin.check_glibc("standin-bullseye", bullseye, pythons)
    message = str(err.value)
    assert f"has glibc 2.31, and CPython {pythons[0].full_version}" in message
    assert f"needs GLIBC_{text}" in message and str(pythons[0].prefix) in message
    assert 'fix: build the stand-in FROM a newer suite: debootstrap = "bookworm"' in message
    standin.check_glibc("standin-bookworm", MATRIX.images.bases["standin-bookworm"], pythons)
    # ensure refuses before anything is built (no debootstrap, no engine call).
    e = engine.Engine(name="podman", path=tmp_path / "no-podman", version=(4, 3), rootless=False)
    with pytest.raises(ConfigError, match=f"needs GLIBC_{text}"):
        standin.ensure(
            paths_at(ROOT, tmp_path), e, "infercore", "standin-bullseye", bullseye, ("3.10",)
        )
    assert not (tmp_path / "build").exists()


def test_a_standin_needs_every_python_version(tmp_path):
    e = engine.Engine(name="podman", path=tmp_path / "no-podman", version=(4, 3), rootless=False)
    with pytest.raises(ToolMissing) as err:
        standin.ensure(
            paths_at(ROOT, tmp_path), e, "infercore", "s", _standin_base("bookworm", "2.36"),
            ("3.99",),
        )  # fmt: skip
    assert "CPython 3.99" in str(err.value) and "pyenv install" in str(err.value)


def test_glibc_needed_reads_the_symbol_versions(tmp_path):
    assert standin.glibc_needed(Path(os.path.realpath("/bin/sh"))) >= (2, 2)
    text = tmp_path / "not-elf"
    text.write_text("#!/bin/sh\n")
    assert standin.glibc_needed(text) == ()


def test_image_lock_round_trip(tmp_path):
    record = entry()
    (tmp_path / "docker").mkdir()
    imagelock.path(tmp_path).write_text(imagelock.render({"test-x86": record}))
    assert imagelock.read(tmp_path) == {"test-x86": record}
    text = imagelock.path(tmp_path).read_text().replace('python = "3.11"\n', "")
    imagelock.path(tmp_path).write_text(text)
    with pytest.raises(ConfigError, match="incomplete"):
        imagelock.read(tmp_path)
    assert imagelock.read(tmp_path, strict=False) == {}
    imagelock.path(tmp_path).write_text("[image.x\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        imagelock.read(tmp_path)


DOCKERFILE = textwrap.dedent(
    """\
    FROM base AS one
    RUN --mount=type=bind,source=a,target=/a \\
        --mount=type=secret,id=ca <<EOT
    set -eu
    echo "${X}" \\
      continued
    EOT

    RUN echo plain
    RUN <<-'END'
    \tindented
    END
    """
)


def test_heredocs_are_lowered_to_content_named_scripts():
    assert dockerfile.has_heredocs(DOCKERFILE)
    text, scripts = dockerfile.lower_heredocs(DOCKERFILE)
    assert "<<" not in text and not dockerfile.has_heredocs(text)
    assert list(scripts.values()) == [
        'set -eu\necho "${X}" \\\n  continued\n',  # a body is verbatim, never joined
        "indented\n",  # <<- strips leading tabs
    ]
    for name in scripts:
        assert f"sh {dockerfile.MOUNT_POINT}/{name}" in text
    assert (
        "RUN --mount=type=bind,source=a,target=/a --mount=type=secret,id=ca "
        f"--mount=type=bind,source={dockerfile.HEREDOC_DIR},target={dockerfile.MOUNT_POINT}"
    ) in text
    assert "RUN echo plain" in text
    changed, scripts2 = dockerfile.lower_heredocs(DOCKERFILE.replace("set -eu", "set -e"))
    assert set(scripts2) != set(scripts) and changed != text  # a changed body, a new step
    with pytest.raises(ValueError, match="unterminated"):
        dockerfile.lower_heredocs("FROM x\nRUN <<EOT\necho\n")


def test_the_project_dockerfile_lowers():
    # system, dev, test and release each run one heredoc step
    text, scripts = dockerfile.lower_heredocs((ROOT / "docker" / "Dockerfile").read_text())
    assert len(scripts) == 4 and "<<" not in text
    assert all(body.startswith("set -eu\n") for body in scripts.values())


# -- where a session runs ------------------------------------------------------------


def test_split_args():
    assert session.split_args(["--container", "never", "tests/engine"]) == (
        "never",
        None,
        ["tests/engine"],
    )
    assert session.split_args(["--container=always", "--image=test-x86", "-x"]) == (
        "always",
        "test-x86",
        ["-x"],
    )
    assert session.split_args([]) == (None, None, [])
    with pytest.raises(UsageError, match="needs a value"):
        session.split_args(["--container"])
    with pytest.raises(UsageError, match="did you mean 'always'"):
        session.split_args(["--container", "alwys"])


def test_session_images():
    assert session.image_name(MATRIX, "tests", [], None) == "test-cuda"
    assert session.image_name(MATRIX, "cpp-tests", [], None) == "test-x86"
    assert session.image_name(MATRIX, "kernels-sm90", [], None) == "dev-cuda"
    # --target picks the role's image for that target's platform
    assert session.image_name(MATRIX, "tests", ["--target", "cpu-x86_64"], None) == ("test-x86")
    assert session.image_name(MATRIX, "deps", ["--target=cpu-aarch64"], None) == "dev-arm"
    assert session.image_name(MATRIX, "tests", [], "test-x86") == "test-x86"
    with pytest.raises(UsageError, match="did you mean 'test-x86'"):
        session.image_name(MATRIX, "tests", [], "test-x68")
    with pytest.raises(ConfigError, match=r"\[images.sessions\]"):
        session.image_name(MATRIX, "bench", [], None)


def _host_paths(tmp_path: Path) -> Paths:
    root = tmp_path / "tree"
    (root / "docker").mkdir(parents=True)
    return paths_at(root, tmp_path)


def test_never_and_nested_run_on_the_host(tmp_path):
    p = _host_paths(tmp_path)
    env = {"PATH": os.environ["PATH"]}
    choice = session.resolve(p, MATRIX, LOCK, "cpp-tests", ["--container", "never", "-x"], env)
    assert choice.engine is None and choice.args == ["-x"]
    nested = {**env, "INFERCORE_IN_CONTAINER": "test-x86"}
    choice = session.resolve(p, MATRIX, LOCK, "cpp-tests", ["--container", "always"], nested)
    assert choice.engine is None  # inside a container, never another
    with pytest.raises(UsageError, match="INFERCORE_CONTAINER=sometimes"):
        session.resolve(
            p, MATRIX, LOCK, "cpp-tests", [], {**env, "INFERCORE_CONTAINER": "sometimes"}
        )


def test_always_without_an_engine_says_how(tmp_path):
    p = _host_paths(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    with pytest.raises(ToolMissing) as err:
        session.resolve(p, MATRIX, LOCK, "cpp-tests", ["--container", "always"], env)
    assert "--container never" in err.value.fix
    choice = session.resolve(p, MATRIX, LOCK, "cpp-tests", [], env)  # auto: the host
    assert choice.engine is None


def _fake_engine(tmp_path: Path, name: str, version_line: str) -> dict[str, str]:
    """A stand-in CLI for the version gate only (what `--version` prints)."""
    bin_dir = tmp_path / f"fake-{name}"
    bin_dir.mkdir()
    exe = bin_dir / name
    exe.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    exe.chmod(0o755)
    return {"PATH": str(bin_dir)}


def test_an_engine_too_old_is_refused(tmp_path):
    env = _fake_engine(tmp_path, "podman", "podman version 3.4.4")
    with pytest.raises(ToolMissing) as err:
        engine.find(env=env)
    assert "too old" in str(err.value) and ">= 4.0" in err.value.why
    env = _fake_engine(tmp_path, "docker", "Docker version 20.10.2, build 2291f61")
    with pytest.raises(ToolMissing, match="heredocs"):
        engine.find("docker", env=env)
    with pytest.raises(UsageError, match="unknown container engine"):
        engine.find("rkt")


PODMAN = shutil.which("podman")
needs_podman = pytest.mark.skipif(PODMAN is None, reason="needs podman")


@needs_podman
def test_a_lock_that_vouches_for_another_image_is_refused(tmp_path):
    p = _host_paths(tmp_path)
    eng = engine.find("podman")
    assert eng is not None
    # Any image the engine has, recorded with an id that is not its own.
    refs = [r for r in os.popen(f"{PODMAN} images --format '{{{{.Repository}}}}:{{{{.Tag}}}}'")]
    ref = next((r.strip() for r in refs if "infercore" in r), None)
    if ref is None:
        pytest.skip("no infercore image built here (nox -s images)")
    record = entry(ref=ref, id="sha256:" + "0" * 64, engine=eng.describe())
    imagelock.path(p.root).write_text(imagelock.render({"test-x86": record}))
    env = {"PATH": os.environ["PATH"], "INFERCORE_CONTAINER_ENGINE": "podman"}
    with pytest.raises(ConfigError) as err:
        session.resolve(p, MATRIX, LOCK, "cpp-tests", ["--container", "auto"], env)
    assert "docker/images.lock records sha256:0000" in str(err.value)
    assert "nox -s images -- --role test --platform x86 --base bookworm" in err.value.fix


@needs_podman
def test_a_missing_image(tmp_path):
    p = _host_paths(tmp_path)
    env = {"PATH": os.environ["PATH"], "INFERCORE_CONTAINER_ENGINE": "podman"}
    with pytest.raises(UsageError) as err:
        session.resolve(p, MATRIX, LOCK, "cpp-tests", ["--container", "always"], env)
    assert "records no test-x86 image" in str(err.value)
    assert err.value.fix.endswith("nox -s images -- --role test --platform x86")
    choice = session.resolve(p, MATRIX, LOCK, "cpp-tests", [], env)  # auto: the host
    assert choice.engine is None


def test_the_container_user_is_the_trees_owner(tmp_path):
    p = _host_paths(tmp_path)
    assert session.container_user(p) == (os.getuid(), os.getgid())
    if os.getuid() == 0:
        os.chown(p.root, 1234, 1235)
        assert session.container_user(p) == (1234, 1235)


def _choice(args: list[str], name: str = "podman", rootless: bool = False) -> session.Choice:
    eng = engine.Engine(name=name, path=Path(f"/usr/bin/{name}"), version=(5, 0), rootless=rootless)
    record = entry(id="sha256:" + "c" * 64, engine="podman 5.0")
    return session.Choice(name="test-x86", engine=eng, entry=record, args=args)


def test_the_container_command_line(tmp_path):
    p = _host_paths(tmp_path)
    outside = tmp_path / "elsewhere"
    env = {
        "HOME": str(tmp_path / "home"),
        "INFERCORE_SOURCE_CACHE": str(tmp_path / "cache"),
        "CCACHE_DIR": str(tmp_path / "ccache"),
        "INFERCORE_TEST_TORCH": "torch==2.9",
        "INFERCORE_BUILD_DIR": "/somewhere/else",  # never copied: the container has its own
        "SOURCE_DATE_EPOCH": "1700000000",
        "SECRET_TOKEN": "x",  # nothing else crosses
        "INFERCORE_CONTAINER_GPUS": "all",
    }
    cmd = session.run_command(p, _choice(["--dist", str(outside), "-x"]), "tests", env=env)
    text = " ".join(cmd)
    work = p.build / "container" / "test-x86"
    assert cmd[:3] == ["/usr/bin/podman", "run", "--rm"]
    assert f"--user {os.getuid()}:{os.getgid()}" in text
    assert f"-v {p.root}:{p.root}:rw" in text and f"-v {outside}:{outside}:rw" in text
    assert f"-e INFERCORE_BUILD_DIR={work / 'build'}" in text
    assert f"-e HOME={work / 'home'}" in text and "-e INFERCORE_IN_CONTAINER=test-x86" in text
    assert f"-e INFERCORE_SOURCE_CACHE={tmp_path / 'cache'}" in text
    assert f"-e CCACHE_DIR={tmp_path / 'ccache'}" in text
    assert "-e INFERCORE_TEST_TORCH=torch==2.9" in text and "SOURCE_DATE_EPOCH=1700000000" in text
    assert "SECRET_TOKEN" not in text and "/somewhere/else" not in text
    assert "--device nvidia.com/gpu=all" in text
    image_ref = f"localhost/infercore:x86-test0.1.0-debian12-x86_64@sha256:{'c' * 64}"
    assert f"-e INFERCORE_BUILD_IMAGE={image_ref}" in text
    image = cmd.index("sha256:" + "c" * 64)  # run by id, never by tag
    assert cmd[image + 1 :] == [
        "nox", "--envdir", str(work / "nox"), "-s", "tests", "--", "--dist", str(outside), "-x"
    ]  # fmt: skip
    rootless = session.run_command(p, _choice([], rootless=True), "plan", env=env)
    assert "--userns=keep-id" in rootless and "--user" not in rootless
    docker = session.run_command(p, _choice([], name="docker"), "plan", env=env)
    assert "--gpus" in docker and "--user" in docker
