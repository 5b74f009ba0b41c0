"""The dependency and policy checks (buildsys.wheels.elfinfo), on shared objects compiled
here with gcc."""

import shutil
import subprocess

import pytest
from buildsys.wheels import elfinfo

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def _shared_object(tmp_path, name, source, *flags):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"lib{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", out, src, *flags], check=True)
    return out


def test_clean_object_has_no_problems(tmp_path):
    so = _shared_object(
        tmp_path, "clean", "#include <string.h>\nint f(const char* s) { return (int)strlen(s); }\n"
    )
    assert elfinfo.dependency_problems(so) == []
    assert "libc.so.6" in elfinfo.read(so).needed


def test_torch_symbol_is_flagged(tmp_path):
    # A C declaration of the mangled name of c10::CPUAllocator(), as torch code would pull in.
    so = _shared_object(
        tmp_path,
        "torchy",
        "extern void* _ZN3c1012GetAllocatorEv(void);\n"
        "void* g(void) { return _ZN3c1012GetAllocatorEv(); }\n",
    )
    problems = elfinfo.dependency_problems(so)
    assert any("torch/c10/ATen symbol _ZN3c1012GetAllocatorEv" in p for p in problems)


def test_foreign_library_is_flagged(tmp_path):
    _shared_object(tmp_path, "foreign", "int foreign_fn(void) { return 1; }\n")
    so = _shared_object(
        tmp_path,
        "user",
        "int foreign_fn(void);\nint h(void) { return foreign_fn(); }\n",
        f"-L{tmp_path}",
        "-lforeign",
    )
    problems = elfinfo.dependency_problems(so)
    assert any("links libforeign.so" in p for p in problems)
    assert any("unversioned symbol foreign_fn" in p for p in problems)


def test_python_api_symbols_are_allowed_unversioned(tmp_path):
    so = _shared_object(
        tmp_path,
        "ext",
        "extern void* PyLong_FromLong(long);\nvoid* k(void) { return PyLong_FromLong(1); }\n",
    )
    assert elfinfo.dependency_problems(so) == []


def test_symbols_beyond_manylinux2014_name_the_new_glibc_versions(tmp_path):
    # pthread_create moved into libc at glibc 2.34: a host build needs GLIBC_2.34.
    so = _shared_object(
        tmp_path,
        "threads",
        "#include <pthread.h>\n"
        "static void* run(void* a) { return a; }\n"
        "int t(void) { pthread_t th; return pthread_create(&th, 0, run, 0); }\n",
        "-pthread",
    )
    beyond = elfinfo.symbols_beyond(so, "manylinux2014")
    glibc = {v: s for v, s in beyond.items() if v.startswith("GLIBC_")}
    assert glibc, f"expected glibc symbols newer than 2.17, got {beyond}"
    assert any("pthread_create" in symbols for symbols in glibc.values())
    assert elfinfo.symbols_beyond(so, "manylinux_2_39") == {}


def test_exports_beyond_the_module_init_are_flagged(tmp_path):
    so = _shared_object(
        tmp_path,
        "mod",
        "void* PyInit__core(void) { return 0; }\nint leaked_helper(void) { return 2; }\n",
    )
    assert elfinfo.export_problems(so) == [
        "exports leaked_helper (only the module's PyInit_* function should be visible)"
    ]
    hidden = _shared_object(
        tmp_path,
        "mod2",
        "void* PyInit__core(void) { return 0; }\n"
        '__attribute__((visibility("hidden"))) int h(void) { return 2; }\n',
    )
    assert elfinfo.export_problems(hidden) == []
