import sys
from pathlib import Path

import pytest

# The build system is a plain package under scripts/ (noxfile sets PYTHONPATH the same way).
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture
def tmp_paths(tmp_path):
    """The repository's sources with a build tree and a sources cache of the test's own."""
    from buildsys.util.paths import Paths

    return Paths(root=ROOT, build=tmp_path / "build", source_cache=tmp_path / "sources-cache")
