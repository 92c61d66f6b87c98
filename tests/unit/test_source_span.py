"""``Source.span`` (which inlines two ``position`` lookups and reuses the start's line for
the end) gives the span that two ``position`` calls give, for any text and offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.source import Source


def by_positions(source: Source, start: int, end: int | None) -> tuple:
    end = start if end is None else max(start, end)
    return (start, end, *source.position(start), *source.position(end))


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab\n\r", max_size=30), st.integers(-5, 40), st.none() | st.integers(-5, 40))
def test_a_span_is_two_positions(text: str, start: int, end: int | None) -> None:
    source = Source(text, "f")
    span = source.span(start, end)
    assert (span.start, span.end, span.line, span.column, span.end_line, span.end_column) == \
        by_positions(source, start, end)
    assert span.file == "f"
