"""An expression past Python's own limits on the code it compiles to is refused with a message a
policy author can act on, not the name of a Python exception."""

from __future__ import annotations

import pytest

import aigw_policy as ap


@pytest.mark.parametrize("depth", [127, 300])
def test_deep_calls_are_refused_in_words(depth: int) -> None:
    text = "size(" * depth + '"a"' + ")" * depth
    with pytest.raises(ap.cel.CelError) as info:
        ap.cel.compile(text)
    message = str(info.value)
    assert "nest too deeply" in message or "nested too deeply" in message
    assert "SyntaxError" not in message and "RecursionError" not in message
