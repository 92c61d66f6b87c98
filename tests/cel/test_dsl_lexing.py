"""Lexing a long string literal is the regex engine's work, not Python's: the Python calls
made to read a DSL document do not grow with the length of its literals (counted, not timed)."""

from __future__ import annotations

import sys

import pytest

from aigw_policy.loader import read


def python_calls(fn) -> int:  # type: ignore[no-untyped-def]
    count = 0

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shape", [
    'policy {{ on request {{ rule "r" {{ deny {{ message: "{}" }} }} }} }}',
    'policy {{ on request {{ rule "r" {{ deny 403 "{}" }} }} }}',
    'policy "{}" {{ on request {{ rule "r" {{ deny 403 }} }} }}',
    'policy {{ on request {{ rule "r" {{ deny {{ message: """{}""" }} }} }} }}',
    'policy {{ on request {{ rule "r" {{ when req.method == "{}" deny 403 }} }} }}',
])
def test_reading_a_long_literal_costs_no_more_python_calls(shape: str) -> None:
    read(shape.format("warm"))  # the parsers are built once
    read(shape.format("w" * 90_000))  # and a long text's cache tag is hashed once (else in `big`, alone)
    small = python_calls(lambda: read(shape.format("x" * 1_000)))
    big = python_calls(lambda: read(shape.format("x" * 90_000)))
    assert big <= small * 1.2 + 200, (small, big)
