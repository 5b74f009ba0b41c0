"""The release images' pins: build-matrix.toml's manylinux bases are the digests the pinned
cibuildwheel pins itself (cibuildwheel's configuration is generated: test_release_cibw.py)."""

from buildsys import config
from buildsys.util import project
from buildsys.util.paths import ROOT

MATRIX = config.load(ROOT).matrix


def test_every_x86_64_targets_release_policy_has_a_pinned_image():
    for target in MATRIX.targets.values():
        if target.arch == "x86_64":
            image = MATRIX.release_image(target)
            assert image and "@sha256:" in image, target.name


def test_the_release_bases_are_the_digests_cibuildwheel_pins():
    """No registry is reachable here to look digests up: the manylinux bases are the ones
    the pinned cibuildwheel pins itself (resources/pinned_docker_images.cfg)."""
    import configparser
    import importlib.resources

    import pytest

    try:
        resources = importlib.resources.files("cibuildwheel") / "resources"
    except ModuleNotFoundError:
        pytest.skip("cibuildwheel is not installed (the release dependency group)")
    pins = configparser.ConfigParser()
    pins.read_string((resources / "pinned_docker_images.cfg").read_text())
    checked = 0
    for name, base in MATRIX.images.bases.items():
        if base.image is None or not base.os.startswith("manylinux"):
            continue
        pinned = pins[base.arch or "x86_64"][base.os].split("#")[0].strip()
        assert base.image == pinned, name
        checked += 1
    assert checked == 2
    from importlib.metadata import version

    assert (
        project.pin(ROOT, "release", "cibuildwheel") == f"cibuildwheel=={version('cibuildwheel')}"
    )
