"""Docs that mirror code cannot drift: the generated files equal what the code generates,
and the noxfile's script block pins what pyproject.toml pins."""

import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from buildsys import generated
from buildsys.util.paths import Paths

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_current():
    paths = Paths(root=ROOT, build=ROOT / "build", source_cache=ROOT / "build" / "cache")
    stale = [
        str(path.relative_to(ROOT))
        for path, text in generated.expected(paths).items()
        if not path.is_file() or path.read_text() != text
    ]
    assert not stale, f"run `PYTHONPATH=scripts python -m buildsys generate`: {stale}"


def test_readme_lists_every_session_of_the_noxfile():
    table = generated.session_table(ROOT)
    readme = (ROOT / "README.md").read_text()
    for name in generated.sessions(ROOT):
        assert f"`nox -s {name}`" in table and f"`nox -s {name}`" in readme
    assert "kernels-sm90" in generated.sessions(ROOT)  # from build-matrix.toml's groups


def _script_block(text: str) -> dict:
    block = re.search(r"^# /// script\n((?:#.*\n)*?)# ///$", text, re.MULTILINE)
    assert block, "noxfile.py has no PEP 723 script block"
    body = "\n".join(line[2:] for line in block.group(1).splitlines())
    return tomllib.loads(body)


def test_noxfile_script_block_pins_what_pyproject_pins():
    script = _script_block((ROOT / "noxfile.py").read_text())["dependencies"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = pyproject["dependency-groups"]
    pinned = {r for g in ("buildsys", "test") for r in groups[g] if isinstance(r, str)}
    for requirement in script:
        assert requirement in pinned, f"{requirement} differs from pyproject.toml's pin"
    readme = (ROOT / "README.md").read_text()
    nox_pin = next(r for r in script if r.startswith("nox=="))
    assert f"pip install {nox_pin}" in readme and nox_pin in (ROOT / ".ci" / "run").read_text()
