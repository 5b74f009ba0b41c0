"""What a built shared object needs from the system, read with pyelftools.

Used for two checks on every wheel: the torch-free / system-only dependency
allowlist, and the explanation of why a host-built wheel cannot carry the
manylinux2014 tag (the symbol versions it needs, read against auditwheel's own
policy data rather than a table copied here).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from elftools.elf.elffile import ELFFile

# Libraries a wheel of ours may link dynamically: the C/C++ runtime. The CUDA
# driver is loaded at run time by the static CUDA runtime, never linked.
# ld-linux is glibc's own loader (the static CUDA runtime binds __tls_get_addr there).
ALLOWED_NEEDED = re.compile(
    r"^(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s)\.so\.\d+$"
    r"|^ld-linux-(x86-64|aarch64)\.so\.\d+$"
)
# Undefined symbols without a version must come from the Python interpreter.
PYTHON_API = re.compile(r"^_?Py|^_Py")
# Symbols that would mean a torch dependency crept in (mangled C++ namespaces too).
TORCH = re.compile(r"(_ZN\d*c10|_ZN\d*at\d|_ZN\d*torch|^THP|c10::|at::|torch::)")


@dataclass(frozen=True)
class Symbol:
    name: str
    version: str | None  # "GLIBC_2.34", or None when unversioned


@dataclass(frozen=True)
class ElfDeps:
    needed: tuple[str, ...]
    undefined: tuple[Symbol, ...]
    exported: tuple[str, ...]


def read(path: Path) -> ElfDeps:
    with path.open("rb") as f:
        elf = ELFFile(f)
        dynamic = elf.get_section_by_name(".dynamic")
        needed = (
            tuple(tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED")
            if dynamic
            else ()
        )
        names_by_index: dict[int, str] = {}
        verneed = elf.get_section_by_name(".gnu.version_r")
        if verneed is not None:
            for _, aux_entries in verneed.iter_versions():
                for aux in aux_entries:
                    names_by_index[aux["vna_other"]] = aux.name
        versym = elf.get_section_by_name(".gnu.version")
        dynsym = elf.get_section_by_name(".dynsym")
        undefined, exported = [], []
        for i, sym in enumerate(dynsym.iter_symbols() if dynsym else ()):
            if not sym.name:
                continue
            if sym["st_shndx"] != "SHN_UNDEF":
                if sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                    exported.append(sym.name)
                continue
            if sym["st_info"]["bind"] == "STB_WEAK":
                continue  # optional hooks (__gmon_start__, _ITM_*) resolve to nothing if absent
            version = None
            if versym is not None:
                ndx = versym.get_symbol(i)["ndx"]
                version = names_by_index.get(ndx) if isinstance(ndx, int) else None
            undefined.append(Symbol(sym.name, version))
    return ElfDeps(needed=needed, undefined=tuple(undefined), exported=tuple(exported))


def dependency_problems(path: Path) -> list[str]:
    """Anything the object needs beyond the C/C++ runtime and the Python API."""
    deps = read(path)
    problems = [
        f"links {lib} (allowed: glibc's libraries and loader, libstdc++, libgcc_s)"
        for lib in deps.needed
        if not ALLOWED_NEEDED.match(lib)
    ]
    for sym in deps.undefined:
        if TORCH.search(sym.name):
            problems.append(f"references torch/c10/ATen symbol {sym.name}")
        elif sym.version is None and not PYTHON_API.match(sym.name):
            problems.append(
                f"needs unversioned symbol {sym.name}, which no allowed library provides"
            )
    return problems


def export_problems(path: Path) -> list[str]:
    """A Python extension should export its PyInit_ function and nothing else."""
    return [
        f"exports {name} (only the module's PyInit_* function should be visible)"
        for name in read(path).exported
        if not name.startswith("PyInit_")
    ]


@functools.cache
def _policies() -> dict[str, dict[str, list[str]]]:
    text = resources.files("auditwheel.policy").joinpath("manylinux-policy.json").read_text()
    out = {}
    for policy in json.loads(text):
        versions = policy["symbol_versions"].get("x86_64", {})
        for name in (policy["name"], *policy["aliases"]):
            out[name] = versions
    return out


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def symbols_beyond(path: Path, policy: str) -> dict[str, list[str]]:
    """{"GLIBC_2.34": [symbols...], ...}: symbol versions newer than the policy allows."""
    allowed = _policies()[policy]
    beyond: dict[str, list[str]] = {}
    for sym in read(path).undefined:
        if sym.version is None or "_" not in sym.version:
            continue
        family, _, number = sym.version.partition("_")
        if family not in allowed or not allowed[family]:
            continue
        newest = max(allowed[family], key=_key)
        if number and number[0].isdigit() and _key(number) > _key(newest):
            beyond.setdefault(sym.version, []).append(sym.name)
    return dict(sorted(beyond.items(), key=lambda kv: (kv[0].split("_")[0], _key(kv[0]))))
