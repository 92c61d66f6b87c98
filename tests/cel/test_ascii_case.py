"""``lowerAscii``/``upperAscii`` take ``str.lower``/``str.upper`` for ASCII text (fast) and
the A-Z table otherwise: both ways give what the table gives, for any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.cel.runtime.stdlib import _ASCII_LOWER, _ASCII_UPPER, lower_ascii, upper_ascii

ascii_text = st.text(st.characters(max_codepoint=127))
any_text = st.text() | st.text(st.sampled_from("aZß\u0130\u0131ﬁΣσ\u212aKk"))


@settings(max_examples=500)
@given(ascii_text | any_text)
def test_case_changes_only_ascii_letters(text: str) -> None:
    assert lower_ascii(text) == text.translate(_ASCII_LOWER)
    assert upper_ascii(text) == text.translate(_ASCII_UPPER)
