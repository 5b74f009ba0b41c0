"""infercore.build_info() and __version__."""

import json
import re
import sys
from pathlib import Path

import infercore


def test_fields_and_types():
    info = infercore.build_info()
    for key in ("version", "git_sha", "build_type", "compiler", "cxx_flags", "python"):
        assert isinstance(info[key], str), key
    assert info["version"] == infercore.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", info["version"])
    assert info["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"

    cuda = info["cuda"]
    assert isinstance(cuda["enabled"], bool)
    for key in ("version", "compiler", "flags"):
        assert isinstance(cuda[key], str), key
    for key in ("sass_archs", "ptx_archs"):
        assert isinstance(cuda[key], list) and all(isinstance(a, str) for a in cuda[key])
    if cuda["enabled"]:
        assert cuda["version"] and cuda["sass_archs"]
    else:
        assert cuda["version"] == "" and cuda["sass_archs"] == [] and cuda["ptx_archs"] == []

    runtime = info["runtime"]
    assert isinstance(runtime["cuda_device_count"], int) and runtime["cuda_device_count"] >= 0
    if not cuda["enabled"]:
        assert runtime["cuda_device_count"] == 0
    assert runtime["cpu_isa"] in ("avx2", "baseline")
    assert isinstance(runtime["cpu_num_threads"], int) and runtime["cpu_num_threads"] >= 1


def test_each_call_returns_a_fresh_dict():
    first = infercore.build_info()
    first["cuda"]["sass_archs"].append("bogus")
    assert "bogus" not in infercore.build_info()["cuda"]["sass_archs"]


def test_the_sbom_of_the_installed_wheel():
    path = infercore.build_info()["sbom"]
    if path is None:  # a build without one (pip install .): nothing more to check
        return
    doc = json.loads(Path(path).read_text())
    assert Path(path).name == "infercore.cdx.json" and Path(path).parent.name == "sboms"
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    root = doc["metadata"]["component"]
    assert (root["name"], root["version"]) == ("infercore", infercore.__version__)


def test_the_build_image_is_the_one_the_sbom_records():
    info = infercore.build_info()
    if info["sbom"] is None:
        assert info["build_image"] is None
        return
    doc = json.loads(Path(info["sbom"]).read_text())
    props = {p["name"]: p["value"] for p in doc["metadata"].get("properties", [])}
    assert info["build_image"] == props.get("infercore:build-image")
    if info["build_image"] is not None:  # built in a container: reference@sha256:digest
        assert "@sha256:" in info["build_image"]


def test_the_kernel_inventory_names_each_kernels_library_and_fa4s_head_ratio():
    """build_info()["kernels"]: what each linked library compiled. FA4 variants carry the
    head ratio they are compiled for (nheads / nheads_kv); the other kernels take any
    (None). FA3 stays a named slot."""
    kernels = infercore.build_info()["kernels"]
    assert kernels["planned"] == ["fa3 (FlashAttention 3, Hopper)"]
    libraries = {lib.split(":")[0]: lib for lib in kernels["libraries"]}
    for k in kernels["attention"]:
        assert k["backend"] in ("fa2", "fmha-sm90", "fa4"), k
        assert k["dtype"] in ("bfloat16", "float16") and k["headdim"] in (64, 128, 256)
        assert k["library"] in libraries
        if k["backend"] == "fa4":
            assert isinstance(k["heads_ratio"], int) and k["heads_ratio"] >= 1
            assert k["cc_min"] == k["cc_max"] in (90, 100)  # sm_90a or sm_100a code only
            assert "fa4=" in libraries[k["library"]]
        else:
            assert k["heads_ratio"] is None
    if not infercore.build_info()["cuda"]["enabled"]:
        assert kernels["attention"] == [] and kernels["libraries"] == []


def test_the_hopper_rules_are_the_dispatchers_table():
    """build_info()["kernels"]["hopper_rules"]: dispatch.h's rows as data (a CUDA build),
    nothing in a CPU-only build, which dispatches nothing."""
    info = infercore.build_info()
    rules = info["kernels"]["hopper_rules"]
    if not info["cuda"]["enabled"]:
        assert rules == []
        return
    assert rules, "a CUDA build lists the Hopper rules"
    for r in rules:
        assert set(r) == {"backend", "causal", "min_seqlen_q", "max_seqlen_q", "headdim"}
        assert r["backend"] in ("fa4", "fmha-sm90") and r["causal"] in (None, True, False)
        assert r["max_seqlen_q"] is None or r["max_seqlen_q"] >= r["min_seqlen_q"] >= 0
        assert r["headdim"] in (None, 64, 128, 256)
