"""``or`` and ``orValue`` evaluate their argument only when the optional is empty."""

from __future__ import annotations

import pytest

from aigw_policy import cel


class Counting(list):  # type: ignore[type-arg]
    def __init__(self, items, counter) -> None:  # type: ignore[no-untyped-def]
        super().__init__(items)
        self.counter = counter

    def __iter__(self):  # type: ignore[no-untyped-def]
        for x in list.__iter__(self):
            self.counter[0] += 1
            yield x


DECLS = {"l": "list(int)", "m": "map(string, int)"}
CASES = [  # (expression, value when `m` has "a": 1, value when it does not)
    ("m[?'a'].orValue(l.exists(x, x == 2) ? 5 : 6)", 1, 5),
    ("m[?'a'].or(optional.of(l.filter(x, x > 0).size())).value()", 1, 3),
    ("m.?a.orValue(l.map(x, x).size())", 1, 3),
    ("m[?'a'].or(m[?'b']).orValue(l.all(x, x > 0) ? 7 : 8)", 1, 7),
]


@pytest.mark.parametrize("src,present,absent", CASES)
def test_the_argument_is_evaluated_only_when_needed(src: str, present: int, absent: int) -> None:
    prog = cel.compile(src, DECLS)
    for body in (prog.function, prog.function.__globals__["_exact"]):  # the fast and the exact body
        counter = [0]
        assert body({"l": Counting([1, 2, 3], counter), "m": {"a": 1}}) == present
        assert counter[0] == 0
        assert body({"l": Counting([1, 2, 3], counter), "m": {}}) == absent
        assert counter[0] > 0


def test_an_error_in_an_unneeded_argument_is_no_error() -> None:
    assert cel.compile("optional.of(1).orValue(1 / 0)")({}) == 1
    assert cel.compile("optional.of(1).or(optional.of(1 / 0)).value()")({}) == 1
    with pytest.raises(cel.CelError, match="divide by zero"):
        cel.compile("optional.none().orValue(1 / 0)")({})
    with pytest.raises(cel.CelError):
        cel.compile("dyn(1).orValue(2)")({})
