"""Property tests: no malformed build-matrix.toml or sources.lock.toml gets past the loader
as anything but a ConfigError that says where, and what is allowed or how to fix it.

Each test mutates the repository's real data (1-4 mutations per example): deletes keys,
inserts near-miss keys (typos of real ones), replaces values with values of other types
(strings, integers including huge ones, floats including inf/nan, booleans, lists,
tables, None, unicode), empties lists, and puts unsafe names where names go.
1000 examples per test and run (2000 malformed configurations in all); each test takes
a few seconds on a 2-core machine.
"""

import copy
from pathlib import Path

from buildsys import config
from buildsys.config import ConfigError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
MATRIX = config.read_toml(ROOT / "build-matrix.toml")
LOCK = config.read_toml(ROOT / "sources.lock.toml")

EXAMPLES = 1000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

UNSAFE_NAMES = ["../x", "/abs", "a/b", "", "..", "a\x00b", "x" * 200, " sp", "a\nb", "ü"]


def _paths(node, prefix=()):
    """Every path (keys and list indices) into the data, the root included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


MATRIX_PATHS = list(_paths(MATRIX))
LOCK_PATHS = list(_paths(LOCK))
KEYS = sorted({p[-1] for p in MATRIX_PATHS + LOCK_PATHS if p and isinstance(p[-1], str)})

scalars = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x80), max_size=6),  # unicode
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=2**63, max_value=2**400),  # huge
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(UNSAFE_NAMES),
    st.sampled_from(["13.0", "80", "manylinux_2_28", "bf16", "fa2", "sm90", "ci", "https://x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*KEYS, "x", ""]), inner, max_size=3),
    ),
    max_leaves=6,
)


def _typo(key: str, how: int, pos: int) -> str:
    if not key:
        return "x"
    pos %= len(key)
    return [
        key[:pos] + key[pos + 1 :],  # a letter dropped
        key[:pos] + key[pos] + key[pos:],  # doubled
        key.replace("-", "_"),  # snake_case
        key[:pos] + key[pos + 1 : pos + 2] + key[pos : pos + 1] + key[pos + 2 :],  # swapped
        key + "s",
        key.upper(),
    ][how % 6]


@st.composite
def mutation(draw, paths):
    return (
        draw(st.sampled_from(paths)),
        draw(st.sampled_from(["delete", "typo", "replace", "empty", "unsafe-name", "rename"])),
        draw(values),
        draw(st.integers(0, 5)),
        draw(st.integers(0, 40)),
    )


def _node(data, path):
    for key in path:
        data = data[key]
    return data


def _apply(data, path, action, value, how, pos):
    if not path:
        return
    try:
        parent = _node(data, path[:-1])
    except (KeyError, IndexError, TypeError):
        return  # an earlier mutation removed or replaced it
    key = path[-1]
    if isinstance(parent, dict) and key not in parent:
        return
    if isinstance(parent, list) and not (isinstance(key, int) and key < len(parent)):
        return
    if not isinstance(parent, (dict, list)):
        return
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif action == "empty":
        parent[key] = [] if isinstance(parent[key], list) or how % 2 else {}
    elif action == "unsafe-name":
        bad = UNSAFE_NAMES[pos % len(UNSAFE_NAMES)]
        if isinstance(parent, dict) and how % 2:
            parent[bad] = parent.pop(key)  # a table's name (its key)
        else:
            parent[key] = bad  # a name's value
    elif isinstance(parent, dict) and isinstance(key, str):
        new = _typo(key, how, pos) if action == "typo" else KEYS[pos % len(KEYS)]
        if new != key:
            parent[new] = parent.pop(key) if action == "rename" or how % 2 else value


def _check(parse, base, file, mutations):
    data = copy.deepcopy(base)
    for m in mutations:
        _apply(data, *m)
    try:
        parse(data)
    except ConfigError as err:  # anything else fails the test
        text = str(err)
        assert file in text
        assert err.problems, text
        for problem in err.problems:
            line = str(problem)
            assert line.startswith(f"{file}: "), line
            assert "fix:" in line or "did you mean" in line or "allowed" in line, line


@FUZZ
@given(st.lists(mutation(MATRIX_PATHS), min_size=1, max_size=4))
def test_malformed_build_matrix_is_a_config_error(mutations):
    _check(config.parse_matrix, MATRIX, "build-matrix.toml", mutations)


@FUZZ
@given(st.lists(mutation(LOCK_PATHS), min_size=1, max_size=4))
def test_malformed_sources_lock_is_a_config_error(mutations):
    _check(config.parse_lock, LOCK, "sources.lock.toml", mutations)
