"""buildsys.kernels.shard: --shard I/N's parsing and its deterministic, balanced split
(the real sharded builds against a real Redis: tests/integration/test_compiler_cache.py;
the split of a real configured tree: test_kernel_configure.py)."""

import json

import pytest
from buildsys.errors import UsageError
from buildsys.kernels import shard


@pytest.mark.parametrize("text, index, count", [("1/1", 1, 1), ("2/3", 2, 3), (" 3/3", 3, 3)])
def test_a_shard_is_i_of_n(text, index, count):
    s = shard.parse(text)
    assert (s.index, s.count) == (index, count) and str(s) == f"{index}/{count}"


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "1/3/4", ""])
def test_a_bad_shard_says_the_form(text):
    with pytest.raises(UsageError) as err:
        shard.parse(text)
    assert "I/N" in str(err.value) and "--shard 2/3" in err.value.fix


def test_the_key_of_a_tu_is_the_same_in_every_checkout():
    a = "CMakeFiles/infercore_fa2_sm80.dir/tmp/a/build/sources/fa/src/flash_fwd_x.cu.o"
    b = "CMakeFiles/infercore_fa2_sm80.dir/work/b/build/sources/fa/src/flash_fwd_x.cu.o"
    assert shard.key(a) == shard.key(b) == "infercore_fa2_sm80/flash_fwd_x.cu.o"


def test_with_no_times_the_split_is_by_count_and_covers_everything_once():
    keys = [f"t/{i:02d}.o" for i in range(10)]
    parts = shard.partition(keys, {}, 3)
    assert sorted(k for p in parts for k in p) == keys
    assert sorted(map(len, parts)) == [3, 3, 4]
    # Deterministic whatever the order the graph listed them in.
    assert shard.partition(list(reversed(keys)), {}, 3) == parts
    assert shard.fingerprint(parts) == shard.fingerprint(shard.partition(keys, {}, 3))


def test_measured_times_balance_the_shards_longest_first():
    times = {"t/a": 100.0, "t/b": 60.0, "t/c": 50.0, "t/d": 40.0, "t/e": 10.0}
    parts = shard.partition(list(times), times, 2)
    loads = sorted(sum(times[k] for k in p) for p in parts)
    # Longest first onto the lighter shard: a->0 (100), b->1 (60), c->1 (110),
    # d->0 (140), e->1 (120).
    assert loads == [120.0, 140.0]
    assert parts == [["t/a", "t/d"], ["t/b", "t/c", "t/e"]]


def test_a_tu_without_a_measurement_weighs_the_mean():
    times = {"t/a": 90.0, "t/b": 30.0}  # mean 60: t/new goes where 60 fits best
    parts = shard.partition(["t/a", "t/b", "t/new"], times, 2)
    assert parts == [["t/a"], ["t/new", "t/b"]]


def test_more_shards_than_tus_leaves_some_empty():
    parts = shard.partition(["t/a", "t/b"], {}, 4)
    assert [len(p) for p in parts] == [1, 1, 0, 0]


def test_only_real_compiles_count_as_measurements(tmp_path):
    report = tmp_path / "r.json"
    records = [
        {"object": "CMakeFiles/x.dir/a.cu.o", "wall_s": 55.0, "cache": "miss", "rc": 0},
        {"object": "CMakeFiles/x.dir/b.cu.o", "wall_s": 0.3, "cache": "hit", "rc": 0},
        {"object": "CMakeFiles/x.dir/c.cu.o", "wall_s": 40.0, "cache": "uncached", "rc": 0},
        {"object": "CMakeFiles/x.dir/d.cu.o", "wall_s": 2.0, "cache": "miss", "rc": 1},
    ]
    report.write_text(json.dumps({"tus": records}))
    missing, broken = tmp_path / "none.json", tmp_path / "broken.json"
    broken.write_text("{")
    assert shard.measured_times([report, missing, broken]) == {"x/a.cu.o": 55.0, "x/c.cu.o": 40.0}
