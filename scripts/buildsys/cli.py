"""Command line of the build system: `python -m buildsys COMMAND --help`.

Every command validates its arguments and the configuration before it starts
anything. A user error ends with its what/why/fix message and the exit code of its
class (buildsys/errors.py documents them); a traceback is shown only for a bug in
buildsys itself. SIGINT and SIGTERM stop every child process and exit 130 / 143.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import config
from .errors import BUG_EXIT_CODE, BuildError, Interrupted, UsageError
from .util import console, runner
from .util.paths import Paths

if TYPE_CHECKING:
    from .cuda.toolchain import Compiler

AUTO = "auto"


class Parser(argparse.ArgumentParser):
    """argparse whose errors are UsageErrors (what, why, fix; exit 2), with suggestions."""

    def error(self, message: str) -> NoReturn:
        fix = f"see `python -m buildsys {self.prog.split(' ', 1)[-1]} --help`"
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [
                c.strip() for c in m.group(2).split(",")
            ]
            close = difflib.get_close_matches(m.group(1), choices, n=1)
            if close:
                fix = f"did you mean '{close[0]}'?"
        raise UsageError(f"{self.prog}: {message}", fix=fix)


def positive_int(text: str) -> int:
    # ASCII digits only: int() would also take "٣" or " 3".
    if not re.fullmatch(r"-?[0-9]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def python_version(text: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Python version like 3.11")
    return text


def name(text: str) -> str:
    """A name from build-matrix.toml or sources.lock.toml as given on the command line."""
    if not text.strip() or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a name (empty or padded)")
    return text


def directory(text: str) -> Path:
    """A directory that may not exist yet (it is created), but is not a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path names no directory")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file, not a directory")
    return path


def existing_directory(text: str) -> Path:
    path = directory(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not an existing directory")
    return path


def _target_option(sub: argparse.ArgumentParser, default: str, help_default: str) -> None:
    sub.add_argument(
        "--target",
        type=name,
        default=default,
        help=f"a [targets] name from build-matrix.toml, or {help_default}",
    )


def _jobs(sub: argparse.ArgumentParser, what: str = "parallel compile jobs") -> None:
    sub.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"{what} (default: the CPUs this process may use)",
    )


def _mirrors(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--mirror",
        action="append",
        type=existing_directory,
        default=[],
        metavar="DIR",
        help="a directory of pinned files (by file name or sha256), tried first",
    )


def _toolchain(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--toolchain",
        choices=["host", "pinned"],
        default=None,
        help="where nvcc comes from: host ($CUDACXX, PATH, /usr/local/cuda) or pinned (the "
        "CUDA wheels of sources.lock.toml, fetched and assembled on first use); default "
        "$INFERCORE_TOOLCHAIN, else host",
    )


def parser() -> Parser:
    p = Parser(
        prog="buildsys", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = p.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    wheels = commands.add_parser(
        "wheels",
        help="build, repair and test the release wheels, then move them into dist/",
        description="Build the core once, then for each CPython: the wheel (binding only), "
        "auditwheel repair, checks, and the engine tests in a fresh venv; through "
        "cibuildwheel in the [release] cell's image when a container engine is there, else "
        "on this host. Only wheels that pass everything reach dist/, and an interrupted "
        "run publishes nothing.",
    )
    wheels.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="X.Y",
        type=python_version,
        help="a CPython version to build for (repeatable; default: every "
        "version in build-matrix.toml that is installed)",
    )
    wheels.add_argument(
        "--retest",
        action="store_true",
        help="run the engine tests even for a wheel byte-identical to one that already passed",
    )
    wheels.add_argument(
        "--dist",
        type=directory,
        default=None,
        metavar="DIR",
        help="where finished wheels go (default: dist-dir in build-matrix.toml)",
    )
    wheels.add_argument(
        "--via",
        choices=["auto", "host", "cibuildwheel"],
        default="auto",
        help="auto (default): cibuildwheel in the release cell's image when a container "
        "engine and the image (docker/images.lock) are there, else this host, saying so; "
        "host; cibuildwheel: insist. INFERCORE_CONTAINER=never|always means host|cibuildwheel",
    )
    wheels.add_argument(
        "--cell",
        type=name,
        default=None,
        help="the build-matrix.toml [release] cell cibuildwheel builds (default: the one "
        "of --target; auto: the CUDA target's)",
    )
    prep = commands.add_parser(
        "release-prepare",
        help="cibuildwheel's before-all, inside the release image: the core and kernels "
        "once, and the per-Python build configuration (run by `wheels --via cibuildwheel`)",
    )
    prep.add_argument("--cell", type=name, required=True, help="the [release] cell")
    prep.add_argument(
        "--python",
        action="append",
        required=True,
        metavar="X.Y",
        type=python_version,
        help="a CPython version the wheels are built for (repeatable)",
    )
    prep.add_argument("--profile", type=name, default=None, help="kernel profile")
    _jobs(prep)
    wheel = commands.add_parser(
        "wheel",
        help="build the core and one unrepaired wheel for the running Python (nox -s tests)",
    )
    for sub in (wheels, wheel):
        _target_option(sub, AUTO, "'auto' (default): CUDA when nvcc is found, else CPU")
        _jobs(sub)
        _toolchain(sub)
        sub.add_argument(
            "--profile",
            type=name,
            default=None,
            help="kernel profile for CUDA targets ([kernel-profiles]; default: "
            "the target's kernel-profile, e.g. ci; release for shipping)",
        )
    wheel.add_argument("--out", type=directory, required=True, help="directory for the wheel")

    srcs = commands.add_parser(
        "sources",
        help="fetch and verify the pinned sources (sources.lock.toml) into the cache",
        description="Fetch every pinned source (or the NAMEs given) into the content-addressed "
        "cache ($INFERCORE_SOURCE_CACHE, default ~/.cache/infercore/sources), verify each "
        "sha256, and unpack it under build/sources/.",
    )
    srcs.add_argument("names", nargs="*", type=name, help="sources to fetch (default: all)")
    srcs.add_argument(
        "--offline",
        action="store_true",
        help="use only the cache and --mirror directories; list what is missing",
    )
    _mirrors(srcs)
    srcs.add_argument(
        "--verify",
        action="store_true",
        help="hash every cached file in full (not only when its size or mtime changed); a "
        "corrupt one is quarantined and fetched again",
    )
    srcs.add_argument(
        "--fill-mirror",
        type=directory,
        metavar="DIR",
        help="copy the verified files into DIR (with SHA256SUMS) for air-gapped sites",
    )

    kern = commands.add_parser(
        "kernels",
        help="build, verify and report arch groups' fast-kernel libraries",
        description="Compile the kernel profile's translation units of the arch groups "
        "([kernel-archs] in build-matrix.toml) in one memory-sized pool into "
        "lib/libinfercore_kernels_GROUP.a under build/kernels/PROFILE/GROUP/install, verify "
        "each (SASS per arch, PTX, wgmma, FA4 fatbins, symbols) and print the per-TU build "
        "report and the schedule's efficiency. FA4 variants are exported with the CuTe DSL "
        "tool environment, created on first use from scripts/buildsys/kernels/"
        "cute-dsl.lock.txt. The CUDA wheels link the result.",
    )
    kern.add_argument(
        "groups",
        nargs="*",
        type=name,
        metavar="GROUP",
        help="arch group(s), e.g. sm90 ([kernel-archs] in build-matrix.toml; default: "
        "every group the CUDA target links, in one pool)",
    )
    kern.add_argument(
        "--profile",
        type=name,
        default=None,
        help="kernel profile ([kernel-profiles]; default: the CUDA target's)",
    )
    kern.add_argument(
        "--cuda",
        type=name,
        default=None,
        help="CUDA version (default: the CUDA target's, e.g. 13.0)",
    )
    _jobs(kern, "CPU jobs")
    kern.add_argument(
        "--offline", action="store_true", help="use only the sources cache, never the network"
    )
    kern.add_argument(
        "--shard",
        metavar="I/N",
        default=None,
        help="compile only the I-th of N deterministic shares of the TUs into the compiler "
        "cache and stop, without linking (CI fans the shares out over runners that share "
        "a ccache remote; the unsharded build afterwards is served from it; docs/CACHE.md)",
    )
    kern.add_argument(
        "--fa4-exports-only",
        action="store_true",
        help="export the groups' FA4 variants into the export cache (INFERCORE_EXPORT_CACHE) "
        "and compile nothing else: the cache is what a machine without the network needs "
        "to build the FA4 part of the libraries",
    )
    kern.add_argument(
        "--update-dsl-lock",
        action="store_true",
        help="re-create scripts/buildsys/kernels/cute-dsl.lock.txt (hashes of pyproject.toml's "
        "cute-dsl group, for the FA4 exporter) and build nothing",
    )
    _toolchain(kern)

    plan = commands.add_parser(
        "plan",
        help="validate the configuration and print what a build would do (compiles nothing)",
        description="Load and check build-matrix.toml and sources.lock.toml, resolve every "
        "target's kernel plan, find the Pythons and nvcc, and print targets, CUDA versions, "
        "per family the archs and translation units, the wheel policy and image, and the "
        "sources needed with their cache state.",
    )
    plan.add_argument("--target", type=name, default=None, help="only this target (default: all)")
    plan.add_argument(
        "--profile",
        type=name,
        default=None,
        help="kernel profile for the CUDA targets (default: each target's)",
    )
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    _toolchain(plan)

    repro = commands.add_parser(
        "reproducible",
        help="build one wheel twice from scratch in different trees and compare sha256",
    )
    repro.add_argument(
        "--python",
        type=python_version,
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    _target_option(repro, AUTO, "'auto' (default)")
    _toolchain(repro)
    repro.add_argument(
        "--via",
        choices=["host", "cibuildwheel"],
        default="host",
        help="which pipeline builds both wheels (default host; cibuildwheel: the release "
        "cell's image, each build with a fresh build tree mounted into it)",
    )

    tc = commands.add_parser(
        "toolchain",
        help="fetch and assemble the pinned CUDA toolchain and print its prefix",
        description="Fetch the CUDA wheels that sources.lock.toml pins for a CUDA version "
        '(toolchain = "cuda-X.Y"), verify each sha256, and assemble them into one '
        "CUDA_HOME prefix in the sources cache (toolchains/cuda-X.Y-HASH: bin/nvcc, include/, "
        "lib/, nvvm/), checked to report the pinned nvcc version. `--toolchain pinned` "
        "builds use it; the images assemble the same tree.",
    )
    tc.add_argument(
        "--cuda",
        type=name,
        default=None,
        help="CUDA version (default: the CUDA target's, e.g. 13.0)",
    )
    tc.add_argument(
        "--offline",
        action="store_true",
        help="use only the sources cache and --mirror directories; list what is missing",
    )
    _mirrors(tc)
    tc.add_argument(
        "--verify",
        action="store_true",
        help="hash the assembled tree against its manifest; one that differs is set aside "
        "and assembled again",
    )
    tc.add_argument(
        "--print-prefix",
        action="store_true",
        help="print only the prefix on stdout (progress goes to stderr), for "
        "CUDA_HOME=$(python -m buildsys toolchain --print-prefix)",
    )

    bench = commands.add_parser("bench", help="print benchmark figures (docs/BENCHMARKS.md)")
    bench.add_argument(
        "what",
        choices=["wheels", "kernels", "cpu-ops", "containers", "release", "cache", "doctor"],
        help="which benchmark",
    )
    bench.add_argument("--profile", default="ci", help="kernel profile (bench kernels)")
    bench.add_argument(
        "--groups",
        default="sm80,sm90",
        help="comma-separated arch groups (bench kernels; bench cache builds the first)",
    )
    bench.add_argument(
        "--python", type=python_version, default="3.11", help="the one-Python run's version"
    )
    bench.add_argument(
        "--images",
        default="test-x86",
        help="comma-separated ROLE-PLATFORM images (bench containers)",
    )
    bench.add_argument(
        "--base", default="bookworm", help="the [images.bases] to build FROM (bench containers)"
    )
    bench.add_argument(
        "--target", default="cpu-x86_64", help="the target whose cell is built (bench release)"
    )
    bench.add_argument(
        "--with-tests",
        action="store_true",
        help="also time nox -s tests in the container and on the host (bench containers)",
    )

    commands.add_parser(
        "conan-profiles",
        help="render a Conan profile for every build-matrix.toml target and load each",
        description="Write build/conan/profiles/TARGET (and `build`, this machine) from "
        "conan/profiles/*.jinja and build-matrix.toml, then check each with `conan profile "
        "show`.",
    )
    deps = commands.add_parser(
        "deps",
        help="conan install of the engine's C++ dependencies for one target",
        description="Install conanfile.py's dependencies for a target: profile, lockfile "
        "(conan.lock), sources verified before any build, packages built from source into "
        "the Conan cache, CMakeToolchain/CMakeDeps/presets in build/conan/TARGET/generators.",
    )
    tests = commands.add_parser(
        "cpp-tests",
        help="build the C++ tests (tests/cpp) with the Conan toolchain and run them with ctest",
    )
    _target_option(deps, AUTO, "'auto' (default): CUDA when nvcc is found, else CPU")
    _target_option(tests, "cpu", "'cpu' (default): this machine's CPU target")
    _toolchain(tests)
    for sub in (deps, tests):
        _jobs(sub, "parallel build jobs")
        sub.add_argument(
            "--offline",
            action="store_true",
            help="use only Conan's download cache, the sources cache and --mirror directories",
        )
        _mirrors(sub)
    deps.add_argument(
        "--update-lock",
        action="store_true",
        help="re-create the lockfile (conan lock create for every target) after "
        "a deliberate change to conanfile.py or conan/recipes",
    )

    images = commands.add_parser(
        "images",
        help="build the project's images (docker/Dockerfile) and record them in docker/images.lock",
        description="Build the selected images from build-matrix.toml's [images] (one "
        "stage of docker/Dockerfile per role, for each platform), or find them current: "
        "an image is rebuilt only when docker/, the pinned files it installs, its build "
        "args or its base changed (its inputs digest), or the engine lost it.",
    )
    images.add_argument(
        "--role",
        action="append",
        choices=["dev", "test", "release"],
        default=None,
        help="dev, test or release (repeatable; default: all three)",
    )
    images.add_argument(
        "--platform",
        action="append",
        choices=["cuda", "x86", "arm"],
        default=None,
        help="cuda, x86 or arm (repeatable; default: those this host's arch builds)",
    )
    images.add_argument(
        "--engine",
        choices=["docker", "podman"],
        default=None,
        help="the container engine (default: INFERCORE_CONTAINER_ENGINE, else "
        "build-matrix.toml's [images] engine if installed, else docker, else podman)",
    )
    images.add_argument(
        "--base",
        type=name,
        default=None,
        help="an [images.bases] name to build FROM instead of each role's default "
        "(e.g. bookworm: a debootstrap base, where no registry is reachable)",
    )
    images.add_argument(
        "--python",
        type=python_version,
        default=None,
        help="PYTHON_VERSION (default: [images] python); the base must package it",
    )
    images.add_argument(
        "--rebuild", action="store_true", help="build even when the record says current"
    )
    images.add_argument(
        "--no-cache", action="store_true", help="build without the engine's layer cache"
    )
    images.add_argument(
        "--update-tools-lock",
        action="store_true",
        help="re-create docker/tools.lock.txt (hashes of pyproject.toml's image group, "
        "needs the network) and exit",
    )

    crun = commands.add_parser(
        "container-run",
        help="run a nox session inside its image (what `-- --container` does)",
        description="Resolve the session's image ([images.sessions], --image, --target), "
        "check it against docker/images.lock and run `nox -s SESSION` inside it with the "
        "tree and caches mounted. Arguments after the session go to it.",
    )
    crun.add_argument("session", type=name, help="the nox session, e.g. cpp-tests")
    crun.add_argument("args", nargs=argparse.REMAINDER, help="the session's arguments")

    cim = commands.add_parser(
        "ci-matrix",
        help="print the CI matrix: one cell per CI-tagged nox session and target or arch "
        "group, the release cells and their images (what .github/workflows fan out over)",
        description="Derive the cells from the noxfile's tags (`nox -l --json -t ci gpu "
        "release`) and build-matrix.toml ([ci], [images.sessions], [release], "
        "[kernel-archs]) with docker/images.lock: each with its runner labels, image, "
        "Python, timeout, the arguments of its `nox -s SESSION` and a cache key.",
    )
    cim.add_argument("--json", action="store_true", help="machine-readable (one line)")
    cim.add_argument(
        "--only",
        choices=["build", "shards", "release", "images"],
        default=None,
        help="one matrix (ci.yml's build and its kernel shards, release.yml's, images.yml's) "
        "in the form `strategy.matrix` takes",
    )

    doc = commands.add_parser(
        "doctor",
        help="check, before a long build, everything that would make it fail late",
        description="Check the container engine and each image against docker/images.lock, "
        "nvcc against the target's archs and kernel profile (the resolver), the GPU driver, "
        "glibc and gcc per release cell, free memory and disk against the kernel pool's "
        "measured needs, the Pythons of the wheel matrix, the pinned sources (cache, "
        "mirrors; their URLs with --network) and the ccache binary and remote. A table "
        "with a verdict and the fix per row; the exit code of the first failed row's "
        "error class (docs/EXIT_CODES.md) when the build cannot succeed. Builds, fetches "
        "and writes nothing.",
    )
    _target_option(doc, AUTO, "'auto' (default): what `nox -s wheels` builds here")
    doc.add_argument(
        "--profile",
        type=name,
        default=None,
        help="kernel profile ([kernel-profiles]; default: the target's)",
    )
    _toolchain(doc)
    _jobs(doc, "the build's parallel jobs, which size the kernel pool")
    doc.add_argument(
        "--network",
        action="store_true",
        help="also ask each source the cache lacks whether its URLs answer (a HEAD each, "
        "in order, as a fetch tries them)",
    )
    doc.add_argument(
        "--offline",
        action="store_true",
        help="the build will run offline: a source in neither the cache nor a --mirror fails",
    )
    _mirrors(doc)
    doc.add_argument("--json", action="store_true", help="machine-readable results")

    gen = commands.add_parser(
        "generate",
        help="write the files generated from the code (JSON Schemas, README session table)",
    )
    gen.add_argument(
        "--check", action="store_true", help="write nothing; fail naming each file that differs"
    )
    return p


def dispatch(args: argparse.Namespace, paths: Paths) -> None:
    if args.command == "generate":
        from . import generated

        generated.run(paths, check=args.check)
        return
    cfg = config.load(paths.root)
    matrix, lock = cfg.matrix, cfg.lock
    if args.command == "images":
        from .container import cli as container_cli

        container_cli.images(paths, matrix, lock, args)
        return
    if args.command == "container-run":
        from .container import cli as container_cli

        container_cli.container_run(paths, matrix, lock, args.session, args.args)
        return
    if args.command == "ci-matrix":
        from .ci import matrix as ci_matrix

        ci_matrix.show(ci_matrix.make(paths.root, matrix), as_json=args.json, only=args.only)
        return
    if args.command == "doctor":
        from . import doctor

        doctor.main(paths, matrix, lock, args)
        return
    compiler = _compiler(args, paths, lock)
    if args.command == "wheels":
        from .release import run as release
        from .wheels import pipeline

        via = release.choose(paths, matrix, lock, via=args.via, cell=args.cell, target=args.target)
        if via is not None:
            release.run(
                paths,
                matrix,
                lock,
                *via,
                pythons=args.python,
                jobs=args.jobs,
                dist=args.dist,
                profile=args.profile,
            )
            return
        pipeline.run(
            paths,
            matrix,
            lock,
            pythons=args.python,
            target_name=args.target,
            jobs=args.jobs,
            dist=args.dist,
            retest=args.retest,
            profile=args.profile,
            compiler=compiler,
        )
    elif args.command == "release-prepare":
        from .host import memory
        from .release import prepare

        prepare.run(
            paths,
            matrix,
            lock,
            cell_name=args.cell,
            pythons=args.python,
            jobs=args.jobs or memory.cpus(),
            profile=args.profile,
            compiler=compiler,
        )
    elif args.command == "wheel":
        from .wheels import pipeline

        pipeline.build_for_running_python(
            paths,
            matrix,
            lock,
            out=args.out,
            target_name=args.target,
            jobs=args.jobs,
            profile=args.profile,
            compiler=compiler,
        )
    elif args.command == "sources":
        from .sources import cache

        names = args.names or None
        cache.report(
            paths,
            lock,
            cache.fetch_all(
                paths, lock, names, offline=args.offline, mirrors=args.mirror, verify=args.verify
            ),
        )
        if args.fill_mirror is not None:
            written = cache.fill_mirror(paths, lock, args.fill_mirror, names)
            console.say("mirror", f"{args.fill_mirror}: {len(written)} files and SHA256SUMS")
    elif args.command == "kernels" and args.update_dsl_lock:
        from .kernels import dsl_env

        dsl_env.update_lock(paths)
    elif args.command == "kernels" and args.fa4_exports_only:
        from .host import memory
        from .kernels import build, fa4

        plans = build.requested_plans(matrix, args.groups, profile=args.profile, cuda=args.cuda)
        pools = build.job_pools(
            [fa4.FAMILY],
            memory_gib=dict(matrix.kernel_memory),
            budget_gib=memory.budget_gib(),
            cpus=args.jobs or memory.cpus(),
        )
        records = fa4.fill_cache(paths, lock, plans, jobs=pools["heavy"], offline=args.offline)
        for r in sorted(records, key=lambda r: -r["wall_s"]):
            console.say("fa4", f"{Path(r['object']).name}: {r['wall_s']} s, {r['peak_mib']} MiB")
        groups = ", ".join(p.group.name for p in plans)
        console.say("fa4", f"every FA4 export of {groups} is in {paths.export_cache}")
    elif args.command == "kernels":
        from .kernels import build, shard

        build.run(
            paths,
            matrix,
            lock,
            groups=args.groups,
            profile=args.profile,
            cuda=args.cuda,
            jobs=args.jobs,
            offline=args.offline,
            compiler=compiler,
            shard=shard.parse(args.shard) if args.shard else None,
        )
    elif args.command == "plan":
        from . import plan

        plan.show(
            plan.make(
                paths,
                matrix,
                lock,
                target=args.target,
                profile=args.profile,
                choice=compiler.choice,
            ),
            as_json=args.json,
        )
    elif args.command == "reproducible":
        from .wheels import reproducible

        reproducible.check(
            paths,
            python=args.python,
            target=args.target,
            toolchain=compiler.choice,
            via=args.via,
        )
    elif args.command == "toolchain":
        from .cuda import toolchain_cli

        toolchain_cli.run(paths, matrix, lock, args)
    elif args.command == "bench":
        from . import bench

        if args.what == "wheels":
            bench.save(paths, "wheels", bench.wheels(paths, one=args.python))
        elif args.what == "kernels":
            groups = [g for g in args.groups.split(",") if g]
            for g in groups:
                matrix.group(g)
            bench.save(paths, "kernels", bench.kernels(paths, profile=args.profile, groups=groups))
        elif args.what == "containers":
            from .container import bench as container_bench
            from .container import cli as container_cli

            names = [n for n in args.images.split(",") if n]
            figures = container_bench.run(
                paths,
                matrix,
                lock,
                container_cli.engine_for(matrix, None),
                names=names,
                base=args.base,
                python=args.python,
                with_tests=args.with_tests,
            )
            bench.save(paths, "containers", figures)
        elif args.what == "cache":
            from .ccache import bench as cache_bench

            group = (args.groups.split(",") or ["sm80"])[0]
            matrix.group(group)
            bench.save(paths, "cache", cache_bench.run(paths.root, group=group))
        elif args.what == "release":
            from .release import bench as release_bench

            figures = release_bench.run(paths, target=args.target, one=args.python)
            bench.save(paths, "release", figures)
        elif args.what == "doctor":
            from .doctor import bench as doctor_bench

            bench.save(paths, "doctor", doctor_bench.run(paths))
        else:
            bench.save(paths, "cpu-ops", bench.cpu_ops())
    elif args.command == "conan-profiles":
        from .deps import cli as deps_cli

        deps_cli.profiles(paths, matrix, lock)
    elif args.command == "deps":
        from .deps import cli as deps_cli

        deps_cli.deps(paths, matrix, lock, args)
    elif args.command == "cpp-tests":
        from .engine import cpptests

        cpptests.run(
            paths,
            matrix,
            lock,
            args.target,
            jobs=args.jobs,
            offline=args.offline,
            mirrors=args.mirror,
            compiler=compiler,
        )


def _compiler(args: argparse.Namespace, paths: Paths, lock: config.SourcesLock) -> Compiler:
    """The command's --toolchain choice (default $INFERCORE_TOOLCHAIN, else host), with the
    command's --offline and --mirror for fetching the pinned wheels."""
    from .cuda import toolchain

    if not hasattr(args, "toolchain"):
        return toolchain.Compiler()
    return toolchain.Compiler(
        choice=args.toolchain or toolchain.default_choice(),
        paths=paths,
        lock=lock,
        offline=getattr(args, "offline", False),
        mirrors=tuple(getattr(args, "mirror", ())),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m buildsys`: the signal handlers, then run()."""
    if threading.current_thread() is threading.main_thread():
        runner.install_signal_handlers()
    code = run(argv)
    if runner.interrupted() is not None:
        runner.quiet_exit()
    return code


def run(argv: list[str] | None = None, paths: Paths | None = None) -> int:
    """Parse, validate and run one command; return its exit code (never raise for a user
    error). `paths`: where the tree and caches are (default: this checkout, environment)."""
    try:
        args = parser().parse_args(argv)
        dispatch(args, paths or Paths.from_env())
    except BuildError as err:
        console.error(err.kind, str(err))
        return err.exit_code
    except (Interrupted, KeyboardInterrupt) as err:
        signum = err.signum if isinstance(err, Interrupted) else 2
        runner.stop_children()
        name = "SIGINT" if signum == 2 else "SIGTERM" if signum == 15 else f"signal {signum}"
        console.error(
            "interrupted",
            f"{name}: every step was stopped; nothing unfinished was published (dist/ and "
            "the caches hold only complete results). Run the same command again to resume.",
        )
        return 128 + signum
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        console.error(
            "bug",
            "this is a bug in buildsys itself, not in your input: please report it with the "
            "traceback above",
        )
        return BUG_EXIT_CODE
    return 0
