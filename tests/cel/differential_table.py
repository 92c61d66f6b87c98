"""The checks every differential wave runs on its table of rows ``(class, expression, want)``,
``want`` being ``("value", CEL literal)``, ``("error", piece of the message)`` or
``("check_error", piece)``: ours type-checked, and the row as cel-cpp's answer too."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from test_differential_more import norm

from aigw_policy import cel

Run = Callable[..., tuple[str, object]]
"""``(expr, checked) -> (kind, value or message)``: ours (``_ours``) or cel-cpp's (``theirs``)."""


def check_classes(cases: Iterable[tuple[str, str, tuple[str, str]]], classes: dict[str, str]) -> None:
    cases = list(cases)
    assert {k for k, _, _ in cases} <= set(classes), {k for k, _, _ in cases} - set(classes)
    assert all(w[0] in ("value", "error", "check_error") for _, _, w in cases)


def check_ours(ours: Run, expr: str, want: tuple[str, str], syntax: bool) -> None:
    """Our type-checked answer is the row's; a row of a syntax class is refused unchecked too."""
    kind, got = ours(expr, True)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)
    if syntax and kind == "check_error":
        assert ours(expr, checked=False)[0] == "check_error", expr


def check_cpp(ours: Run, theirs: Run, expr: str, want: tuple[str, str], same_kind: bool) -> None:
    """The row is cel-cpp's answer too; a row refused by the checker runs unchecked in both and
    they agree on the value and on the kind (``same_kind``) or only on whether it is a value."""
    kind, got = theirs(expr)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (expr, got)
    if kind == "check_error":
        mine, cpp = ours(expr, checked=False), theirs(expr, checked=False)
        if same_kind:
            assert mine[0] == cpp[0], (expr, mine, cpp)
        else:
            assert (mine[0] == "value") == (cpp[0] == "value"), (expr, mine, cpp)
        if mine[0] == "value":
            assert norm(mine[1]) == norm(cpp[1]), (expr, mine, cpp)
