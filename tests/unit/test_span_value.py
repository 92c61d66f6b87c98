"""A span is an immutable value (aigw_policy/source.py): a tuple of its seven fields since the
twenty-seventh pass (one tuple to make, not seven attribute stores), with the semantics it had
as a frozen dataclass: ``file`` out of its equality and hash, unequal to a plain tuple, no
attribute to set, pickled with every field, ``replace`` for a changed copy."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, strategies as st

from aigw_policy.source import Span

FIELDS = ("start", "end", "line", "column", "end_line", "end_column", "file")
ints = st.integers(min_value=0, max_value=10**9)
spans = st.builds(Span, ints, ints, ints, ints, ints, ints, st.none() | st.text(max_size=20))


@given(spans)
def test_fields_read_back_and_survive_every_copy(span: Span) -> None:
    values = tuple(getattr(span, name) for name in FIELDS)
    assert Span(*values) == span and Span(**dict(zip(FIELDS, values))) == span
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(span, protocol))
        assert type(back) is Span and tuple(getattr(back, n) for n in FIELDS) == values
    for twin in (copy.copy(span), copy.deepcopy(span)):
        assert type(twin) is Span and twin.file == span.file and twin == span


@given(spans, st.none() | st.text(max_size=5))
def test_the_file_is_out_of_equality_and_hash(span: Span, other_file: str | None) -> None:
    moved = span.replace(file=other_file)
    assert moved == span and not (moved != span) and hash(moved) == hash(span)
    assert moved.file == other_file
    assert span.replace(end=span.end + 1) != span


def test_a_span_is_no_plain_tuple_and_has_nothing_to_set() -> None:
    span = Span(0, 3, 1, 1, 1, 4, "p.aigw")
    assert span != (0, 3, 1, 1, 1, 4, "p.aigw") and (0, 3, 1, 1, 1, 4, "p.aigw") != span
    with pytest.raises(AttributeError):
        span.start = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        span.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="no field 'stop'"):
        span.replace(stop=2)
    assert repr(span) == "Span(start=0, end=3, line=1, column=1, end_line=1, end_column=4, file='p.aigw')"
    assert str(span) == "p.aigw:1:1" and str(span.replace(file=None)) == "1:1"
    assert span.to_dict() == {"file": "p.aigw", "start": 0, "end": 3, "line": 1, "column": 1, "end_line": 1,
                              "end_column": 4}
    assert {span: 1}[span.replace(file="q.aigw")] == 1  # a dict key as before
