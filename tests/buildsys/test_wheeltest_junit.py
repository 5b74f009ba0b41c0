from buildsys.wheeltest import read_junit


def test_junit_counts(tmp_path):
    junit = tmp_path / "j.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" skipped="3">'
        "</testsuite></testsuites>"
    )
    counts = read_junit(junit)
    assert (counts.passed, counts.failed, counts.skipped) == (5, 2, 3)
    assert str(counts) == "5 passed, 2 failed, 3 skipped"
