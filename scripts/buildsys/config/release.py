"""The models of build-matrix.toml's [release]: the release cells.

A cell is one (target, manylinux policy, image, CUDA toolkit): cibuildwheel builds its
wheels, one per [python] version, in the cell's image. Whether a cell can exist at all is
checked when the file loads (cell_problems, called by BuildMatrix): its policy's glibc
and its image's glibc must meet the toolkit's floor, the image's gcc must be one the
toolkit accepts, and the image must carry the policy's glibc, so an impossible cell is
refused before any container starts, with the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, StrictBool

from . import compat
from .values import Model, Policy, SafeName, Version, check

if TYPE_CHECKING:
    from .matrix import BuildMatrix


class ReleaseCell(Model):
    """[release.NAME]: one release cell."""

    target: SafeName = Field(description="the build target ([targets])")
    manylinux: Policy = Field(description="the manylinux policy its wheels are repaired to")
    image: SafeName = Field(description="the [images.bases] image cibuildwheel builds in")
    cuda: Version | None = Field(
        None, description="the CUDA toolkit ([cuda-toolkits]); CUDA targets only"
    )
    build: StrictBool = Field(
        True,
        description="false: documented and checked, but not built by `nox -s wheels` "
        "(e.g. a toolkit no machine here carries)",
    )
    description: str = Field("", description="what the cell is for, in a line")


def cell_problems(matrix: BuildMatrix) -> list[dict[str, Any]]:
    """Every reason a [release] cell cannot be built, with the fix."""
    problems: list[dict[str, Any]] = []
    for name, cell in matrix.release.items():
        where = ("release", name)
        target = matrix.targets.get(cell.target)
        base = matrix.images.bases.get(cell.image)
        if target is None or base is None:
            table, value = (
                ("targets", cell.target) if target is None else ("images.bases", cell.image)
            )
            problems.append(
                check(
                    (*where, "target" if target is None else "image"),
                    f"{value!r} is not in [{table}]",
                    found=value,
                    fix=f"name one of [{table}]",
                )
            )
            continue
        policy_glibc = compat.policy_glibc(cell.manylinux)
        if compat.version_tuple(base.glibc) != compat.version_tuple(policy_glibc):
            problems.append(
                check(
                    (*where, "image"),
                    f"image {cell.image!r} has glibc {base.glibc}, and {cell.manylinux} "
                    f"means glibc {policy_glibc}",
                    found=cell.image,
                    fix=f"build {cell.manylinux} wheels in a {cell.manylinux} image, or set "
                    f"manylinux to {compat.policy_for_glibc(base.glibc)}",
                )
            )
        if not target.is_cuda:
            if cell.cuda is not None:
                problems.append(
                    check(
                        (*where, "cuda"),
                        f"target {cell.target!r} is CPU-only: a CUDA toolkit means nothing",
                        fix="drop cuda, or name a CUDA target",
                    )
                )
            continue
        version = cell.cuda or target.cuda
        toolkit = matrix.toolkits.get(version or "")
        if toolkit is None:
            problems.append(
                check(
                    (*where, "cuda"),
                    f"CUDA {version} is not in [cuda-toolkits]",
                    found=version,
                    fix="name a known toolkit",
                )
            )
            continue
        floor = toolkit.min_glibc
        for what, glibc in ((cell.manylinux, policy_glibc), (f"image {cell.image!r}", base.glibc)):
            if compat.version_tuple(glibc) < compat.version_tuple(floor):
                problems.append(
                    check(
                        (*where, "manylinux" if what == cell.manylinux else "image"),
                        f"CUDA {version}'s compiler needs glibc >= {floor}, and {what} has {glibc}",
                        found=cell.manylinux if what == cell.manylinux else cell.image,
                        fix=f"build CUDA {version} wheels for {compat.policy_for_glibc(floor)} "
                        f"or newer, or use a CUDA 12.x toolkit (glibc 2.17) for {cell.manylinux}",
                    )
                )
        if base.gcc is not None and base.gcc > toolkit.max_gcc:
            problems.append(
                check(
                    (*where, "image"),
                    f"image {cell.image!r} compiles with gcc {base.gcc}, and CUDA {version} "
                    f"accepts gcc <= {toolkit.max_gcc}",
                    found=cell.image,
                    fix=f"use an image with gcc <= {toolkit.max_gcc}, or a newer CUDA",
                )
            )
        for arch in target.sass_archs:
            if arch not in toolkit.sass:
                problems.append(
                    check(
                        (*where, "cuda"),
                        f"CUDA {version} cannot compile sm_{arch}, which [targets."
                        f"{cell.target}] needs",
                        found=version,
                        fix="use a toolkit that compiles every sass-archs entry",
                    )
                )
    return problems
