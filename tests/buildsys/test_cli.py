"""buildsys.cli: arguments are checked before anything starts, every user error ends with
what/why/fix and its exit code, and only a bug in buildsys shows a traceback."""

import json
import signal

import pytest
from buildsys import cli, config
from buildsys.errors import (
    BUG_EXIT_CODE,
    BuildError,
    ConfigError,
    Interrupted,
    SourceError,
    ToolMissing,
    UsageError,
)
from buildsys.util.paths import ROOT

# The exit codes a user error may end with (buildsys.errors); never BUG_EXIT_CODE.
USER_ERROR_CODES = {
    cls.exit_code for cls in (BuildError, UsageError, ConfigError, ToolMissing, SourceError)
}


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """cli.main installs its own SIGINT/SIGTERM handlers: give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no command
        ["wheels", "--bogus"],
        ["wheels", "--python", "3"],
        ["wheels", "--python", "three.eleven"],
        ["wheel"],  # --out is required
        ["wheel", "--out", ""],
        ["wheels", "--dist", ""],
        ["bench", "kernel"],
        ["sources", "--fill-mirror", " "],
    ],
)
def test_usage_errors_exit_2_with_a_fix(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == UsageError.exit_code == 2, err
    assert err.startswith("usage error: buildsys")
    assert "fix:" in err
    assert "Traceback" not in err


def test_help_is_not_an_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "COMMAND" in out and "kernels" in out and "generate" in out


def test_an_unknown_command_suggests_a_close_one(capsys):
    code, _, err = run(capsys, "plna")
    assert code == 2
    assert "invalid choice: 'plna'" in err and "did you mean 'plan'?" in err
    code, _, err = run(capsys, "bench", "kernal")
    assert code == 2 and "did you mean 'kernels'?" in err


@pytest.mark.parametrize("jobs", ["0", "-3", "many", "1.5"])
def test_jobs_must_be_a_positive_whole_number(capsys, jobs):
    code, _, err = run(capsys, "kernels", "sm90", "--jobs", jobs)
    assert code == 2, err
    assert "--jobs" in err and "fix:" in err


def test_kernels_takes_several_groups():
    args = cli.parser().parse_args(["kernels", "sm80", "sm90", "--jobs", "4", "--offline"])
    assert args.groups == ["sm80", "sm90"] and args.jobs == 4 and args.offline


def test_plan_json_lists_targets_and_sources(capsys):
    code, out, err = run(capsys, "plan", "--json")
    assert code == 0, err
    plan = json.loads(out)
    matrix, lock = config.load(ROOT).matrix, config.load(ROOT).lock
    assert [t["name"] for t in plan["targets"]] == list(matrix.targets)
    assert {s["name"] for s in plan["sources"]} == set(lock.keys())
    assert all(isinstance(s["cached"], bool) for s in plan["sources"])
    cuda = next(t for t in plan["targets"] if t["name"] == "cuda-x86_64")
    assert cuda["kernel_profile"] == "ci"
    assert [g["group"] for g in cuda["kernel_groups"]] == ["sm80", "sm90"]
    sm90 = cuda["kernel_groups"][1]
    assert sm90["families"]["cutlass-sm90"]["archs"] == ["90a"]
    assert sm90["units"] == sum(len(f["units"]) for f in sm90["families"].values())
    assert cuda["image"] == matrix.images.bases["manylinux_2_28-x86_64"].image
    assert plan["default_target"] in matrix.targets
    assert set(plan["pythons"]) == set(matrix.python_versions)


def test_plan_of_one_target_with_a_profile(capsys):
    code, out, _ = run(capsys, "plan", "--json", "--target", "cpu-x86_64", "--profile", "release")
    assert code == 0
    plan = json.loads(out)
    assert [t["name"] for t in plan["targets"]] == ["cpu-x86_64"]
    # A CPU-only plan needs no kernel sources.
    assert {s["name"] for s in plan["sources"]}.isdisjoint({"cutlass", "flash-attention"})


def test_plan_prints_a_table_too(capsys):
    code, out, _ = run(capsys, "plan")
    assert code == 0
    assert "plan valid:" in out and "nothing compiled" in out and "cuda-x86_64" in out


def test_an_unknown_target_is_a_build_error_not_a_traceback(capsys):
    code, _, err = run(capsys, "plan", "--target", "nope")
    assert code in USER_ERROR_CODES and code != BUG_EXIT_CODE
    assert "unknown build target 'nope'" in err and "fix:" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "plan", "--profile", "nightly")
    assert code in USER_ERROR_CODES and "unknown kernel profile 'nightly'" in err


def test_a_bad_kernel_group_fails_before_any_tool(capsys):
    code, _, err = run(capsys, "kernels", "sm75", "--offline")
    assert code in USER_ERROR_CODES and "unknown kernel arch group 'sm75'" in err
    assert "Traceback" not in err


def test_generated_files_are_up_to_date(capsys):
    code, _, err = run(capsys, "generate", "--check")
    assert code == 0, err


def test_exit_codes_of_other_failures(capsys, monkeypatch):
    def fails(error):
        def dispatch(_args, _paths):
            raise error

        monkeypatch.setattr(cli, "dispatch", dispatch)
        return run(capsys, "plan")

    code, _, err = fails(ConfigError("build-matrix.toml is broken", fix="repair it"))
    assert code == 3 and err.startswith("config error: build-matrix.toml is broken")
    code, _, err = fails(Interrupted(signal.SIGTERM))
    assert code == 143 and "interrupted: SIGTERM: every step was stopped" in err
    code, _, err = fails(KeyboardInterrupt())
    assert code == 130 and "interrupted: SIGINT" in err
    code, _, err = fails(RuntimeError("oops"))
    assert code == BUG_EXIT_CODE
    assert "Traceback" in err and "RuntimeError: oops" in err
    assert "bug: this is a bug in buildsys itself" in err


def test_a_broken_configuration_exits_3_naming_the_key(capsys, tmp_path):
    from buildsys.util.paths import Paths

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    text = (ROOT / "build-matrix.toml").read_text()
    (checkout / "build-matrix.toml").write_text(
        text.replace('kernel-profile = "ci"', 'kernel-profle = "ci"')
    )
    (checkout / "sources.lock.toml").write_bytes((ROOT / "sources.lock.toml").read_bytes())
    paths = Paths(root=checkout, build=tmp_path / "build", source_cache=tmp_path / "cache")
    code = cli.run(["plan"], paths)
    err = capsys.readouterr().err
    assert code == ConfigError.exit_code == 3
    assert err.startswith("config error: build-matrix.toml")
    assert "kernel-profle" in err and "did you mean 'kernel-profile'?" in err
    assert "Traceback" not in err
