"""buildsys.host.memory: the memory budget of the compiles, and the CPUs this process has."""

import math
import os

import pytest
from buildsys.errors import UsageError
from buildsys.host import memory


@pytest.mark.parametrize(("value", "gib"), [("100", 100.0), ("12.5", 12.5), (" 8 ", 8.0)])
def test_the_override_is_used_as_given(value, gib):
    assert memory.budget_gib({"INFERCORE_BUILD_MEMORY_GIB": value}) == gib


@pytest.mark.parametrize("value", ["nan", "0", "-1", "x", "", "inf", "lots"])
def test_a_bad_override_is_a_usage_error(value):
    with pytest.raises(UsageError) as info:
        memory.budget_gib({"INFERCORE_BUILD_MEMORY_GIB": value})
    assert info.value.exit_code == 2
    assert f"INFERCORE_BUILD_MEMORY_GIB={value!r} is not a positive number of GiB" in str(
        info.value
    )
    assert "fix:" in str(info.value)


def test_the_override_comes_from_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("INFERCORE_BUILD_MEMORY_GIB", "100")
    assert memory.budget_gib() == 100.0
    monkeypatch.setenv("INFERCORE_BUILD_MEMORY_GIB", "lots")
    with pytest.raises(UsageError):
        memory.budget_gib()


def test_without_an_override_the_machine_sets_the_budget():
    budget = memory.budget_gib({})
    assert math.isfinite(budget) and budget >= 1.0
    with open("/proc/meminfo") as f:
        total = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) / 2**20
    assert budget < total  # a reserve is kept for the rest of the system
    assert memory.budget_gib({}) == budget  # the same figure every time: no reconfigure


def test_cpus():
    assert 1 <= memory.cpus() <= (os.cpu_count() or 1)
    assert memory.cpus() == len(os.sched_getaffinity(0))
