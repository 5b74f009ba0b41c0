"""auditwheel repair, the policy it reached, and why it is not the release policy."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from ..config import policy_glibc, version_tuple
from ..errors import BuildError
from ..util import runner
from . import elfinfo


@dataclass(frozen=True)
class Repaired:
    wheel: Path
    policy: str  # the best platform tag reached, e.g. "manylinux_2_35_x86_64"
    why_not_release: str | None  # why the release policy (manylinux2014) was not reached


def platform_tags(wheel: Path) -> list[str]:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    return sorted({t.platform for t in tags})


def _policy_name(tag: str) -> str:
    """'manylinux_2_17_x86_64' and 'manylinux2014_x86_64' -> their policy names."""
    for arch in ("_x86_64", "_aarch64"):
        if tag.endswith(arch):
            return tag[: -len(arch)]
    return tag


def _tag_glibc(tag: str) -> tuple[int, ...] | None:
    """The glibc a platform tag needs: manylinux_2_28_x86_64 -> (2, 28); None if not manylinux."""
    try:
        return version_tuple(policy_glibc(_policy_name(tag)))
    except BuildError:
        return None


def _release_tags(release: str, arch: str) -> set[str]:
    aliases = {"manylinux2014": "manylinux_2_17", "manylinux_2_17": "manylinux2014"}
    return {f"{release}_{arch}", f"{aliases.get(release, release)}_{arch}"}


def extension_modules(wheel: Path, into: Path) -> list[Path]:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".so") or ".so." in n]
        for name in names:
            zf.extract(name, into)
    return [into / n for n in names]


def explain_policy_gap(wheel: Path, release: str) -> str:
    """The newest symbol version per library family that keeps this wheel above `release`."""
    newest: dict[str, tuple[str, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for so in extension_modules(wheel, Path(tmp)):
            # symbols_beyond is ordered oldest to newest within each family.
            for version, symbols in elfinfo.symbols_beyond(so, release).items():
                newest[version.split("_")[0]] = (version, symbols)
    if not newest:
        return f"auditwheel did not grant {release}"
    needs = ", ".join(
        f"{version} (e.g. {sorted(set(symbols))[0]})" for version, symbols in newest.values()
    )
    return (
        f"compiled against this host's glibc and libstdc++, it needs {needs}, newer than "
        f"{release} allows; {release} wheels are built in the pinned {release} image "
        "by cibuildwheel"
    )


def repair(
    wheel: Path,
    *,
    out_dir: Path,
    exclude: tuple[str, ...],
    release: str,
    arch: str,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> Repaired:
    """auditwheel repair; `env` must carry SOURCE_DATE_EPOCH (the rewritten wheel's zip
    timestamps come from it, so two builds of one commit stay byte-identical)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["auditwheel", "repair", "-w", out_dir]
    for soname in exclude:
        cmd += ["--exclude", soname]
    runner.call([*cmd, wheel], log=log, what=f"auditwheel repair of {wheel.name}", env=env)
    produced = sorted(out_dir.glob("*.whl"))
    if len(produced) != 1:
        raise BuildError(
            f"auditwheel repair produced {len(produced)} wheels in {out_dir}",
            why="expected exactly one",
            fix=f"read {log}",
        )
    repaired = produced[0]
    best = best_policy(repaired)
    # Reached when the best policy needs no newer glibc than the release one (a wheel that
    # runs on manylinux_2_5 runs on manylinux2014 too).
    have = _tag_glibc(best)
    reached = have is not None and have <= version_tuple(policy_glibc(release))
    why = None if reached else explain_policy_gap(repaired, release)
    return Repaired(wheel=repaired, policy=best, why_not_release=why)


def best_policy(wheel: Path) -> str:
    """The most compatible policy of a repaired wheel's tags (auditwheel lists several):
    the one with the lowest glibc, e.g. "manylinux_2_28"."""
    tags = platform_tags(wheel)
    manylinux = [t for t in tags if _tag_glibc(t) is not None]
    best = min(manylinux, key=lambda t: _tag_glibc(t) or ()) if manylinux else tags[0]
    return _policy_name(best)
