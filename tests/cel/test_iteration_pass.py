"""A macro over a dyn list whose body only selects from its variable skips the pass that reads
the elements as JSON numbers (aigw_policy/cel/iteration.py); every other body keeps it. Each
row is evaluated, and the generated code is checked for the pass, so the row fails both when
the answer changes and when the pass comes back where it is not needed."""

from __future__ import annotations

import pytest

from aigw_policy import cel

BIG = 2**70
ROWS = [
    # (expression, activation, answer, pass kept)
    ("x.exists(m, m.a > 0)", {"x": [{"a": BIG}]}, True, False),
    ("x.all(m, type(m.a) == double)", {"x": [{"a": BIG}]}, True, False),
    ("x.map(m, m['a'])", {"x": [{"a": 1}]}, [1], False),
    ("x.exists(m, has(m.a))", {"x": [{"a": 1}]}, True, False),
    ("x.all(m, type(m) == double)", {"x": [BIG]}, True, True),          # the element itself is read
    ("x.exists(m, m == 1 || m.a > 0)", {"x": [{"a": 1}]}, True, True),  # m compared as a value too
    ("x.filter(m, has(m.a)).size() == 1", {"x": [{"a": 1}]}, True, True),  # filter returns the elements
    ("x.sortBy(m, m.a).size() == 1", {"x": [{"a": 1}]}, True, True),
    ("x.exists(m, [m].exists(m, m == 1))", {"x": [1]}, True, True),  # bound again inside: a use
    ("x.exists(m, y.exists(n, n.a == m.a))", {"x": [{"a": 1}], "y": [{"a": 1}]}, True, False),
]


@pytest.mark.parametrize("src, act, answer, kept", ROWS)
def test_the_pass_only_where_an_element_is_read(src: str, act: dict, answer: object, kept: bool) -> None:
    fn = cel.compile(src)
    assert fn(act) == answer
    fast = fn.python_source.split("def _exact")[0]
    assert ("_dvs(" in fast) is kept
