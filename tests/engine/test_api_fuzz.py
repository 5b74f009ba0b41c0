"""Malformed calls of the engine's API (hypothesis): never a crash, only TypeError or ValueError
whose message names the argument.

The calls run in a worker process (_fuzz_worker.py) fed cases as JSON lines, so a crash is
a recorded failure naming the case, not the end of the suite; the worker is restarted after
one. Cases cover hostile DLPack producers (ctypes capsules around hand-made DLManagedTensor /
DLManagedTensorVersioned: wild ndim, shapes, strides, NULL or misaligned data, byte offsets,
dtype codes/bits/lanes, device types and versions; a __dlpack__ or __dlpack_device__ that
raises or returns junk; used capsules), NumPy arrays of unsupported dtypes, shapes and
layouts, and wrong types and values for every keyword.

A hostile producer is trusted to own the memory its capsule describes (no consumer can check
that), so the cases only lie about memory in ways the core must detect: a shape claiming
more than the buffer always carries a defect the validation reports.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORKER = Path(__file__).with_name("_fuzz_worker.py")
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
CASE_TIMEOUT_S = 30
# INFERCORE_FUZZ_SCALE=10 runs ten times the cases (a soak run); the default keeps the
# suite near 10 s.
SCALE = max(1, int(os.environ.get("INFERCORE_FUZZ_SCALE", "1")))

ATTENTION_NAMES = ("q", "k", "v", "out", "causal", "scale", "backend")
GEMM_NAMES = ("a", "b", "out", "backend")
BACKEND_NAMES = (
    "device",
    "dtype",
    "headdim",
    "causal",
    "seqlen_q",
    "seqlen_k",
    "nheads",
    "nheads_kv",
    "batch",
)
# Valid arguments every case starts from.
SHAPES = {
    "q": [1, 3, 2, 4],
    "k": [1, 5, 1, 4],
    "v": [1, 5, 1, 4],
    "a": [2, 3],
    "b": [3, 4],
    "out_attention": [1, 3, 2, 4],
    "out_gemm": [2, 4],
}


class Worker:
    """One persistent worker process; restarted after a crash."""

    def __init__(self):
        self.proc = None
        self.cases = 0
        self.crashes = []
        self.outcomes: dict[str, int] = {}

    def start(self):
        env = dict(os.environ, INFERCORE_NUM_THREADS="1", PYTHONFAULTHANDLER="")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def call(self, case: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.cases += 1
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], CASE_TIMEOUT_S)
            line = self.proc.stdout.readline() if ready else ""
        except BrokenPipeError:
            line = ""
        if line:
            answer = json.loads(line)
            outcome = answer.get("type", answer["status"])
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            return answer
        if self.proc.poll() is None:  # hung: stop it
            self.proc.kill()
        code = self.proc.wait()
        self.proc = None
        self.crashes.append(case)
        return {"status": "crash", "returncode": code}

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()
    print(f"\napi fuzz: {w.cases} cases, {len(w.crashes)} crashes, outcomes {w.outcomes}")


def check(worker: Worker, case: dict, names: tuple[str, ...], allow_runtime: bool = False):
    """Runs the case; it must succeed or raise TypeError/ValueError naming one of `names`."""
    answer = worker.call(case)
    status = answer["status"]
    assert status != "crash", f"the worker crashed (exit {answer['returncode']}) on case {case}"
    if status == "ok":
        return
    kind, message = answer["type"], answer["message"]
    if allow_runtime and kind == "RuntimeError" and "CPU-only" in message:
        return
    # Valid arguments the build has no kernel for (a CUDA build with a small profile): the
    # documented error listing what the build contains, not a malformed call.
    if kind == "ValueError" and re.match(r"attention: no kernel for .* It contains: ", message):
        return
    assert kind in ("TypeError", "ValueError"), f"{kind}: {message} for case {case}"
    named = message.split(":", 1)[0]
    assert named in names, f"message does not name an argument: {message!r} for case {case}"


# Python values, as JSON tags the worker decodes.
def tagged_values():
    return st.one_of(
        st.sampled_from(
            [
                ["none"],
                ["nan"],
                ["inf", 1],
                ["inf", -1],
                ["object"],
                ["bytes", "auto"],
                ["complex", 1.0, 2.0],
                ["list", []],
                ["list", [["int", 1]]],
                ["tuple", [["int", 1], ["int", 0]]],
                ["type", "int"],
                ["type", "ndarray"],
                ["capsule", "dltensor"],
                ["capsule", "dltensor_versioned"],
                ["capsule", "used_dltensor"],
                ["capsule", "something_else"],
                ["npbool", True],
                ["npbool", False],
            ]
        ),
        st.tuples(st.just("bool"), st.booleans()).map(list),
        st.tuples(
            st.just("int"),
            st.one_of(
                st.integers(-5, 300),
                st.sampled_from([INT32_MAX, INT32_MAX + 1, 2**62, INT64_MAX, 2**64, 2**100, -1]),
            ),
        ).map(list),
        st.tuples(st.just("float"), st.floats(allow_nan=False, allow_infinity=False, width=64)).map(
            list
        ),
        st.tuples(
            st.just("str"),
            st.one_of(
                st.sampled_from(
                    ["", "auto", "reference", "fa2", "False", "True", "1", "float32", "bf16"]
                ),
                st.text(max_size=8),
            ),
        ).map(list),
        st.tuples(
            st.just("npfloat"),
            st.sampled_from(["float16", "float32", "float64"]),
            st.floats(-10, 10),
        ).map(list),
        st.tuples(
            st.just("npint"), st.sampled_from(["int8", "int64", "uint16"]), st.integers(0, 100)
        ).map(list),
    )


def numpy_spec(rank: int):
    dtypes = st.sampled_from(
        [
            "float32",
            "float16",
            "float64",
            "int8",
            "int32",
            "uint8",
            "bool",
            "complex64",
            "complex128",
            "longdouble",
            "object",
            "U3",
            "S2",
            "datetime64[s]",
            "timedelta64[ms]",
            "V4",
        ]
    )
    shapes = st.one_of(
        st.lists(st.integers(0, 5), min_size=rank, max_size=rank),
        st.lists(st.integers(0, 4), min_size=0, max_size=6),
    )
    layouts = st.sampled_from(
        ["c", "c", "strided", "transposed", "misaligned", "broadcast", "readonly"]
    )
    return st.fixed_dictionaries(
        {"kind": st.just("numpy"), "dtype": dtypes, "shape": shapes, "layout": layouts}
    )


DIMS = st.one_of(
    st.integers(0, 6),
    st.sampled_from(
        [
            -1,
            -(2**31),
            INT32_MAX,
            INT32_MAX + 1,
            2**32,
            2**62,
            INT64_MAX,
            -(2**63),
            2**63,
            2**64 - 1,
        ]
    ),
)


@st.composite
def hostile_spec(draw, rank: int, layout_only: bool = False):
    """A hostile producer's capsule; with layout_only, only its layout fields are wild."""
    ndim = draw(
        st.one_of(
            st.just(rank),
            st.integers(0, 8),
            st.sampled_from([-1, -(2**31), 63, 64, 65, 1000, INT32_MAX]),
        )
    )
    shape = draw(st.lists(DIMS, min_size=rank, max_size=rank))
    strides_kind = draw(st.sampled_from(["none", "contiguous", "wild"]))
    # Mostly the one device and dtype that reach the shape and memory checks on this CPU build.
    device = draw(
        st.one_of(
            st.just([1, 0]),
            st.just([1, 0]),
            st.just([1, 0]),
            st.just([3, 0]),
            st.tuples(
                st.sampled_from([1, 2, 3, 4, 7, 8, 9, 10, 13, 14, 0, -1, INT32_MAX]),
                st.sampled_from([0, 1, -1, INT32_MAX]),
            ).map(list),
        )
    )
    dtype = draw(
        st.one_of(
            st.just([2, 32, 1]),
            st.just([2, 32, 1]),
            st.just([2, 32, 1]),
            st.sampled_from(
                [[2, 16, 1], [4, 16, 1], [2, 64, 1], [0, 32, 1], [6, 8, 1], [2, 32, 4]]
            ),
            st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535)).map(list),
        )
    )
    spec = {
        "kind": "hostile",
        "ndim": ndim,
        "shape": shape,
        "device": device,
        "dtype": dtype,
        "data": draw(st.sampled_from(["buffer", "buffer", "null", "misaligned", "top"])),
        "misalign": draw(st.integers(1, 3)),
        "byte_offset": draw(st.sampled_from([0, 0, 4, 8, 60, 1, 2, 3, 2**64 - 4, 2**64 - 64])),
        "versioned": draw(st.booleans()),
        "version": draw(st.sampled_from([[1, 0]] * 4 + [[1, 3], [0, 9], [2, 0], [2**32 - 1, 0]])),
        "flags": draw(st.sampled_from([0, 1, 2, 2**64 - 1])),
        "null_shape": draw(st.booleans()) and draw(st.booleans()),
        "dlpack": draw(
            st.sampled_from(["capsule"] * 12 + ["raise", "raise_legacy", "return", "used"])
        ),
        "dlpack_device": draw(st.sampled_from(["same"] * 12 + ["raise", "junk"])),
        "exception": draw(
            st.sampled_from(["BufferError", "RuntimeError", "TypeError", "KeyError"])
        ),
    }
    if layout_only:
        spec.update(
            device=[1, 0], dtype=[2, 32, 1], version=[1, 0], dlpack="capsule", dlpack_device="same"
        )
    if spec["dlpack"] == "return":
        spec["value"] = draw(tagged_values())
    if spec["dlpack_device"] == "junk":
        spec["dlpack_device"] = draw(
            st.sampled_from(
                [
                    ["none"],
                    ["str", "cpu"],
                    ["tuple", [["int", 1]]],
                    ["tuple", [["int", 2**70], ["int", 0]]],
                    ["tuple", [["str", "a"], ["int", 0]]],
                    ["list", [["int", 1], ["int", 0]]],
                ]
            )
        )
    dims = (shape + [1] * 64)[: max(0, min(ndim, 64))]
    if strides_kind == "contiguous":
        strides, step = [], 1
        for d in reversed(dims):
            strides.insert(0, step)
            step *= max(d, 1)
        spec["strides"] = [to_int64(s) for s in strides]
    elif strides_kind == "wild":
        spec["strides"] = draw(
            st.lists(
                st.sampled_from([0, 1, -1, 2, 7, INT64_MAX, -(2**63), 2**40]),
                min_size=len(dims),
                max_size=len(dims),
            )
        )
    make_honest(spec, dims)
    return spec


def to_int64(x: int) -> int:
    return (x + 2**63) % 2**64 - 2**63


def make_honest(spec: dict, dims: list[int]) -> None:
    """Keeps the producer from lying about memory in ways no consumer could detect.

    What the core cannot check is whether the memory a capsule describes exists: it must
    believe a capsule's data pointer and shape. So a capsule whose every field is valid gets
    a buffer of the size it claims, and a pointer it claims near the end of the address
    space is only kept where the core can tell it runs past the end.
    """
    dims = [to_int64(d) for d in dims]  # what the int64 shape array holds
    if any(d < 0 or d > INT32_MAX for d in dims):
        return  # refused by the dimension checks
    n = 1
    for d in dims:
        n *= d
    nbytes = n * 4  # only float32 reaches memory on the CPU
    if nbytes > INT64_MAX:
        return  # refused by the overflow check
    if nbytes > 1 << 20:
        # Huge but representable: a dimension beyond int32 makes the lie detectable.
        big = max(range(len(dims)), key=lambda i: dims[i])
        spec["shape"][big] = INT32_MAX + 1
        return
    spec["buffer_bytes"] = nbytes
    if spec["data"] == "top" and nbytes <= 16:
        spec["data"] = "buffer"


def value_spec():
    return st.fixed_dictionaries({"kind": st.just("value"), "value": tagged_values()})


def array_arg(name: str, rank: int):
    valid = st.just({"kind": "numpy", "dtype": "float32", "shape": SHAPES[name], "layout": "c"})
    return st.one_of(
        valid, valid, numpy_spec(rank), hostile_spec(rank), hostile_spec(rank), value_spec()
    )


def keyword(valid: list):
    return st.one_of(st.sampled_from(valid), tagged_values())


COMMON = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(COMMON, max_examples=400 * SCALE)
@given(
    q=array_arg("q", 4),
    k=array_arg("k", 4),
    v=array_arg("v", 4),
    out=st.one_of(st.none(), array_arg("out_attention", 4)),
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            "causal": keyword([["bool", True], ["bool", False], ["npbool", True]]),
            "scale": keyword([["none"], ["float", 0.5], ["int", 1], ["npfloat", "float32", 0.25]]),
            "backend": keyword([["str", "auto"], ["str", "reference"]]),
        },
    ),
)
def test_attention_fuzz(worker, q, k, v, out, kwargs):
    case = {"op": "attention", "args": [q, k, v], "kwargs": kwargs}
    if out is not None:
        case["out"] = out
    check(worker, case, ATTENTION_NAMES)


@settings(COMMON, max_examples=300 * SCALE)
@given(
    a=array_arg("a", 2),
    b=array_arg("b", 2),
    out=st.one_of(st.none(), array_arg("out_gemm", 2)),
    kwargs=st.fixed_dictionaries(
        {}, optional={"backend": keyword([["str", "auto"], ["str", "reference"]])}
    ),
)
def test_gemm_fuzz(worker, a, b, out, kwargs):
    case = {"op": "gemm", "args": [a, b], "kwargs": kwargs}
    if out is not None:
        case["out"] = out
    check(worker, case, GEMM_NAMES)


@settings(COMMON, max_examples=250 * SCALE)
@given(
    which=st.sampled_from(["a", "b", "out"]),
    spec=hostile_spec(2, layout_only=True),
)
def test_hostile_layout_fuzz(worker, which, spec):
    """Wild ndim, shapes, strides, data pointers and byte offsets behind valid headers."""
    args = {n: {"kind": "numpy", "dtype": "float32", "shape": SHAPES[n]} for n in "ab"}
    case = {"op": "gemm", "args": [args["a"], args["b"]]}
    if which == "out":
        case["out"] = spec
    else:
        case["args"]["ab".index(which)] = spec
    check(worker, case, GEMM_NAMES)


@settings(COMMON, max_examples=150 * SCALE)
@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            "device": keyword([["int", 0], ["str", "cuda:0"], ["str", "cuda"]]),
            "dtype": keyword([["str", "bfloat16"], ["str", "float16"]]),
            "headdim": keyword([["int", 128]]),
            "causal": keyword([["bool", True]]),
            "seqlen_q": keyword([["int", 1]]),
            "seqlen_k": keyword([["int", 4096], ["none"]]),
            "nheads": keyword([["int", 32]]),
            "nheads_kv": keyword([["int", 8], ["none"]]),
            "batch": keyword([["int", 2]]),
        },
    )
)
def test_attention_backend_fuzz(worker, kwargs):
    check(worker, {"op": "attention_backend", "kwargs": kwargs}, BACKEND_NAMES, allow_runtime=True)


@settings(COMMON, max_examples=100 * SCALE)
@given(
    name=st.sampled_from(["causal", "scale", "backend"]),
    value=tagged_values(),
)
def test_attention_keyword_types(worker, name, value):
    """Every keyword alone, with valid arrays: a wrong one is refused naming it."""
    valid = [{"kind": "numpy", "dtype": "float32", "shape": SHAPES[n]} for n in "qkv"]
    answer = worker.call({"op": "attention", "args": valid, "kwargs": {name: value}})
    assert answer["status"] in ("ok", "error"), f"crash on {name}={value}"
    if answer["status"] == "error":
        assert answer["type"] in ("TypeError", "ValueError"), answer
        assert answer["message"].startswith(f"{name}: "), answer


def test_a_crash_is_recorded_and_the_worker_restarted():
    w = Worker()
    try:
        answer = w.call({"op": "__crash__"})
        assert answer["status"] == "crash"
        assert answer["returncode"] < 0  # killed by a signal (SIGSEGV)
        assert w.crashes == [{"op": "__crash__"}]
        valid = [{"kind": "numpy", "dtype": "float32", "shape": SHAPES[n]} for n in "ab"]
        assert w.call({"op": "gemm", "args": valid})["status"] == "ok"
    finally:
        w.stop()


def test_suite_ran_enough_cases_without_crashes(worker):
    if worker.cases < 1000:
        pytest.skip(f"only {worker.cases} cases ran (a subset of the suite was selected)")
    assert worker.crashes == []
