"""Which [release] cell a `nox -s wheels` run builds, and the policy its image reaches.

A cell's image is the release role of docker/images.lock for the cell's platform. Where
no registry is reachable that image is built FROM a stand-in base instead of the pinned
manylinux one (docker/images.lock records which base): its wheels are repaired to what
the stand-in's glibc allows, and the run says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import BuildMatrix, Target, policy_for_glibc, policy_glibc, version_tuple
from ..config.images import ImageBase
from ..config.release import ReleaseCell
from ..config.values import did_you_mean
from ..container import imagelock
from ..errors import ConfigError, UsageError

AUTO = "auto"


@dataclass(frozen=True)
class Cell:
    name: str
    cell: ReleaseCell
    target: Target

    @property
    def image_name(self) -> str:
        """The docker/images.lock image it builds in: release-PLATFORM."""
        return f"release-{self.target.platform}"


def choose(matrix: BuildMatrix, *, cell: str | None, target: str) -> Cell:
    """--cell NAME, else the one built cell of --target (auto: the CUDA target's)."""
    built = {n: c for n, c in matrix.release.items() if c.build}
    if cell is not None:
        if cell not in matrix.release:
            hint = did_you_mean(cell, matrix.release)
            raise UsageError(
                f"--cell {cell}: not a release cell" + (f" ({hint})" if hint else ""),
                why=f"build-matrix.toml [release] defines: {', '.join(matrix.release)}",
                fix="name one of them",
            )
        if cell not in built:
            raise UsageError(
                f"release cell {cell!r} is documented but not built here (build = false)",
                why=matrix.release[cell].description or "its toolkit is not available",
                fix=f"build one of: {', '.join(built)}",
            )
        chosen = matrix.release[cell]
        if target != AUTO and chosen.target != target:
            raise UsageError(
                f"--cell {cell} builds target {chosen.target!r}, not --target {target}",
                fix="leave out --target, or pick the cell of that target",
            )
        return Cell(cell, chosen, matrix.target(chosen.target))
    wanted = matrix.default_target(cuda_available=True) if target == AUTO else matrix.target(target)
    names = [n for n, c in built.items() if c.target == wanted.name]
    if len(names) != 1:
        raise UsageError(
            f"target {wanted.name!r} has {len(names)} built release cells"
            + (f" ({', '.join(names)})" if names else ""),
            why="each [release] cell is one (target, policy, image, toolkit)",
            fix="pick one with --cell NAME"
            if names
            else f"add a [release] cell for {wanted.name} to build-matrix.toml, or build it "
            "on the host (--via host)",
        )
    return Cell(names[0], built[names[0]], wanted)


@dataclass(frozen=True)
class Reach:
    """What the image a cell builds in can give."""

    base_name: str  # the base docker/images.lock says the image was built FROM
    base: ImageBase
    stand_in: bool  # not the cell's configured image
    plat: str  # auditwheel repair --plat: e.g. manylinux2014_x86_64

    @property
    def policy(self) -> str:
        return self.plat.removesuffix(f"_{self.base.arch or 'x86_64'}")


def reach(matrix: BuildMatrix, cell: Cell, entry: imagelock.Entry) -> Reach:
    """The policy `entry` (the cell's image) repairs to: the cell's, or, built FROM a
    stand-in base, the newest its glibc allows, refused if that is below the cell's
    toolkit floor."""
    base = matrix.images.bases.get(entry.base)
    if base is None:
        raise ConfigError(
            f"docker/images.lock: {cell.image_name} was built FROM {entry.base!r}, which is "
            "not in build-matrix.toml [images.bases]",
            fix=f"rebuild it: nox -s images -- --role release --platform {cell.target.platform}",
        )
    arch = cell.target.arch
    if entry.base == cell.cell.image:
        return Reach(entry.base, base, stand_in=False, plat=f"{cell.cell.manylinux}_{arch}")
    policy = policy_for_glibc(base.glibc)
    if cell.target.is_cuda:
        floor = matrix.toolkits[str(cell.cell.cuda or cell.target.cuda)].min_glibc
        if version_tuple(base.glibc) < version_tuple(floor):
            raise ConfigError(
                f"{cell.image_name} was built FROM {entry.base} (glibc {base.glibc}), below "
                f"CUDA {cell.cell.cuda or cell.target.cuda}'s floor (glibc {floor})",
                fix="rebuild it FROM a newer base (nox -s images -- --role release --base ...)",
            )
    if version_tuple(base.glibc) < version_tuple(policy_glibc(cell.cell.manylinux)):
        policy = cell.cell.manylinux  # an older glibc than the policy's still meets it
    return Reach(entry.base, base, stand_in=True, plat=f"{policy}_{arch}")
