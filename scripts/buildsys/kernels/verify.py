"""Checks on a built kernel library before anything links it.

- SASS for every arch the plan asked for, per family (cuobjdump --list-elf);
- PTX where asked (--list-ptx), and none for arch-specific families;
- wgmma (HGMMA in SASS) in every Hopper CUTLASS object: code built for plain
  sm_90 instead of sm_90a compiles without complaint and aborts at run time;
- no undefined symbol outside an allowlist (no torch, c10 or ATen).
- FA4's exported variants (a CuTe DSL fatbin each, embedded in the group's FA4
  object where cuobjdump does not look for it): SASS for their arch only, no PTX,
  the arch's tensor-core instruction (HGMMA on sm_90a, UTCHMMA on sm_100a), and no
  torch, Python or TVM-FFI symbol among the undefined ones.

cuobjdump and nvdisasm come from their PyPI wheels (the `kernels` dependency
group) when the toolkit has none.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError, ToolMissing
from ..util import runner


class VerificationFailed(BuildError):
    """A built library lacks code it must carry, or links what it must not."""


# Undefined symbols a kernel library may leave to the final link: the CUDA
# runtime (linked statically by the core), the C++ runtime and libc/libm.
ALLOWED_UNDEFINED = tuple(
    re.compile(p)
    for p in (
        r"^_?_?cuda\w*$",  # cudaLaunchKernel, __cudaRegisterFatBinary, ...
        r"^_?_?cudart\w*$",
        # Mangled names in std:: (libstdc++): St, and the abbreviations Ss (string), Sa
        # (allocator), Si/So/Sd (istream/ostream/iostream).
        r"^_Z\w*S[tsaiod]\w*$",
        r"^__(u?(div|mod)|mul)[a-z]i3$",  # libgcc's 128-bit arithmetic helpers
        r"^_Znw\w*$|^_Zna\w*$|^_Zdl\w*$|^_Zda\w*$",  # operator new/delete
        r"^__cxa_\w+$|^__gxx_personality_v0$|^_Unwind_Resume$|^__dso_handle$",
        r"^_ZTV(N10__cxxabiv1|St)\w*$|^_ZTI\w*St\w*$|^_ZTS\w*$",  # typeinfo of std types
        r"^(mem(cpy|set|move|cmp)|str\w+|f?printf|v?snprintf|fputs|fwrite|fflush|stderr|stdout)$",
        r"^(abort|exit|getenv|malloc|free|calloc|realloc|atexit|__stack_chk_fail)$",
        r"^__\w+_chk$",  # glibc's _FORTIFY_SOURCE variants (__fprintf_chk...), default on Ubuntu
        r"^(exp|log|sqrt|pow|floor|ceil|fabs|fmax|fmin|tanh)f?$",
        r"^(pthread_\w+|__tls_get_addr|_GLOBAL_OFFSET_TABLE_|__assert_fail|__errno_location)$",
    )
)
FORBIDDEN = re.compile(
    r"(^|[^A-Za-z])(_ZN2at|_ZN3c10|_ZN5torch|at::|c10::|torch::)"
    # Python's C API and TVM-FFI (the DSL's other export flavour): never in a kernel library.
    r"|^_?(Py[A-Z_]\w*|_Py\w+|TVMFFI\w*|tvm_ffi\w*)$"
)


@dataclass
class Verification:
    sass: dict[str, set[str]] = field(default_factory=dict)  # object -> {"sm_90", ...}
    ptx: dict[str, set[str]] = field(default_factory=dict)
    wgmma: dict[str, int] = field(default_factory=dict)  # object -> HGMMA count
    undefined: list[str] = field(default_factory=list)
    # FA4: "MEMBER#i" (the i-th variant's fatbin in the member) -> {"sass": [...],
    # "ptx": [...], "mma": {instruction: count}}
    fatbins: dict[str, dict] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "sass": {k: sorted(s) for k, s in self.sass.items()},
            "ptx": {k: sorted(s) for k, s in self.ptx.items()},
            "wgmma": self.wgmma,
            "undefined": self.undefined,
            "fatbins": self.fatbins,
        }

    def __post_init__(self) -> None:  # from as_json(): lists back to sets
        self.sass = {k: set(s) for k, s in self.sass.items()}
        self.ptx = {k: set(s) for k, s in self.ptx.items()}


def nvidia_tool(name: str) -> Path:
    """A CUDA binary tool: PATH, then the toolkit, then the nvidia-* PyPI wheels."""
    if found := shutil.which(name):
        return Path(found)
    candidates = [Path("/usr/local/cuda/bin") / name]
    try:
        import nvidia  # namespace package of the nvidia-cuda-* wheels

        candidates += [Path(p) / "cu13" / "bin" / name for p in nvidia.__path__]
    except ImportError:
        pass
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ToolMissing(
        f"{name} was not found",
        why="checked PATH, /usr/local/cuda/bin and the nvidia-cuda-* wheels in this environment",
        fix="run through nox (it installs the `kernels` dependency group), or "
        f"pip install nvidia-cuda-{name}",
    )


def _members(listing: str, kind: str) -> dict[str, set[str]]:
    """cuobjdump --list-elf/--list-ptx of an archive -> {member: {"sm_90a", ...}}."""
    out: dict[str, set[str]] = {}
    member = "?"
    for line in listing.splitlines():
        if m := re.match(r"member .*?:([^:]+):$", line.strip()):
            member = m.group(1)
            out.setdefault(member, set())
        elif m := re.search(rf"{kind} file\s+\d+: \S*?\.(sm_\w+)\.(cubin|ptx)", line):
            out.setdefault(member, set()).add(m.group(1))
    return out


def _run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    what = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd[:2]))
    return runner.call(cmd, what=what, env=env, capture=True, echo=False).output


def archive_members(library: Path) -> list[str]:
    return _run(["ar", "t", str(library)]).split()


def dsl_fatbins(obj: Path) -> list[bytes]:
    """The fatbins of a CuTe DSL export (or of objects joined from several by `ld -r`):
    each is a `kernels_binary` symbol's bytes in a data section, not CUDA's .nv_fatbin
    section that cuobjdump looks in. In link order, i.e. the exports' order."""
    from elftools.elf.elffile import ELFFile

    found = []
    with obj.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        for sym in symtab.iter_symbols() if symtab is not None else ():
            if sym.name != "kernels_binary" or not isinstance(sym["st_shndx"], int):
                continue
            section = elf.get_section(sym["st_shndx"])
            found.append((section["sh_offset"] + sym["st_value"], sym["st_size"]))
        blobs = []
        for start, size in sorted(found):
            f.seek(start)
            blobs.append(f.read(size))
    return blobs


def inspect_fatbins(library: Path, members: list[str], *, mma: dict[str, str]) -> dict[str, dict]:
    """Every embedded DSL fatbin of the library's `members`: its SASS and PTX archs and how
    often each arch's tensor-core instruction (`mma`: arch -> mnemonic prefix) occurs."""
    cuobjdump = nvidia_tool("cuobjdump")
    nvdisasm = nvidia_tool("nvdisasm")
    env = {**os.environ, "PATH": f"{nvdisasm.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="infercore-fatbins-") as tmp:
        work = Path(tmp)
        for member in members:
            runner.call(["ar", "x", library, member], what="ar x", cwd=work, echo=False)
            for i, blob in enumerate(dsl_fatbins(work / member)):
                fatbin = work / f"{member}.{i}.fatbin"
                fatbin.write_bytes(blob)
                sass = _members(_run([str(cuobjdump), "--list-elf", str(fatbin)]), "ELF")
                ptx = _members(_run([str(cuobjdump), "--list-ptx", str(fatbin)]), "PTX")
                archs = sorted(set().union(*sass.values())) if sass else []
                listing = _run([str(cuobjdump), "-sass", str(fatbin)], env=env)
                counts = {
                    arch: len(re.findall(rf"\b{mma[arch]}\w*", listing))
                    for arch in archs
                    if arch in mma
                }
                out[f"{member}#{i}"] = {
                    "sass": archs,
                    "ptx": sorted(set().union(*ptx.values())) if ptx else [],
                    "mma": counts,
                }
    return out


def check_fatbins(
    fatbins: dict[str, dict], expected: list[str], *, mma: dict[str, str]
) -> list[str]:
    """Problems of the embedded fatbins against `expected`: each variant's arch, in order."""
    problems = []
    if len(fatbins) != len(expected):
        problems.append(
            f"FA4: {len(fatbins)} embedded fatbin(s) for {len(expected)} exported variant(s)"
        )
    for (name, found), arch in zip(fatbins.items(), expected, strict=False):
        if found["sass"] != [arch]:
            problems.append(
                f"{name}: SASS for {', '.join(found['sass']) or 'nothing'}, expected {arch} only"
            )
        if found["ptx"]:
            problems.append(
                f"{name}: carries PTX ({', '.join(found['ptx'])}) that was not asked for"
            )
        if not found["mma"].get(arch):
            problems.append(
                f"{name}: no {mma.get(arch, '?')} instruction in its {arch} code: not a "
                "tensor-core FlashAttention kernel for this arch"
            )
    return problems


def inspect(library: Path, *, count_wgmma: bool) -> Verification:
    cuobjdump = nvidia_tool("cuobjdump")
    v = Verification(
        sass=_members(_run([str(cuobjdump), "--list-elf", str(library)]), "ELF"),
        ptx=_members(_run([str(cuobjdump), "--list-ptx", str(library)]), "PTX"),
    )
    if count_wgmma:
        nvdisasm = nvidia_tool("nvdisasm")
        env = {**os.environ, "PATH": f"{nvdisasm.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        with_members = _run([str(cuobjdump), "-sass", "-arch", "sm_90a", str(library)], env=env)
        member = "?"
        for line in with_members.splitlines():
            if m := re.match(r"member .*?:([^:]+):$", line.strip()):
                member = m.group(1)
            elif "HGMMA" in line:
                v.wgmma[member] = v.wgmma.get(member, 0) + 1
    nm = _run(["nm", "--format=posix", str(library)])
    defined, undefined = set(), set()
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.endswith(":"):
            (undefined if parts[1] in ("U", "w") else defined).add(parts[0])
    v.undefined = sorted(undefined - defined)
    return v


def check(
    v: Verification,
    *,
    expect_sass: dict[str, set[str]],
    expect_ptx: dict[str, set[str]],
    hopper_objects: list[str],
) -> list[str]:
    """Problems found (empty when the library is good). expect_*: object -> archs."""
    problems = []
    for obj, archs in expect_sass.items():
        missing = archs - v.sass.get(obj, set())
        if missing:
            problems.append(f"{obj}: no SASS for {', '.join(sorted(missing))}")
        extra = v.sass.get(obj, set()) - archs
        if extra:
            problems.append(f"{obj}: unexpected SASS for {', '.join(sorted(extra))}")
    for obj, archs in expect_ptx.items():
        if archs - v.ptx.get(obj, set()):
            problems.append(f"{obj}: no PTX for {', '.join(sorted(archs - v.ptx.get(obj, set())))}")
        if not archs and v.ptx.get(obj):
            problems.append(
                f"{obj}: carries PTX ({', '.join(sorted(v.ptx[obj]))}) that was not asked for"
            )
    for obj in hopper_objects:
        if not v.wgmma.get(obj):
            problems.append(
                f"{obj}: no wgmma (HGMMA) instruction in its sm_90a code: a Hopper CUTLASS "
                "kernel without it aborts at run time (built for sm_90 instead of sm_90a?)"
            )
    for sym in v.undefined:
        if FORBIDDEN.search(sym):
            problems.append(f"undefined symbol from PyTorch: {sym}")
        elif not any(p.search(sym) for p in ALLOWED_UNDEFINED):
            problems.append(f"undefined symbol outside the allowlist: {sym}")
    return problems
