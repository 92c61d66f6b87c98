"""A template's text renders a string value as it is (issue #15: no conversion call for the
usual value); every value renders as CEL's ``string()`` would (the plain path)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.cel.runtime.ops import to_string
from aigw_policy.engine.compile import CompiledExpr, Template, text_of
from aigw_policy.engine.trace import jsonable
from aigw_policy.template import double_text

values = st.text() | st.integers(-2**63, 2**63 - 1) | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=4).map(str.encode)


def _plain(value: Any) -> str:
    """text_of as it was before its fast path (the reference)."""
    if isinstance(value, (list, tuple, dict)) or value is None:
        return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=False)
    if type(value) is float:
        return double_text(value)
    return to_string(value)


@given(values)
@example(" padded\t")
@example("")
@example(b"bytes")
def test_text_of_is_cel_string(value: Any) -> None:
    assert text_of(value) == _plain(value)


@given(st.lists(st.text(max_size=4) | values.map(lambda v: ("expr", v)), min_size=2, max_size=5))
@example(["a ", ("expr", " b "), ("expr", 3), ("expr", True), ("expr", [1, "x"])])
def test_a_template_renders_as_its_parts_joined(parts: list[Any]) -> None:
    parts = [*parts, ("expr", 1.5)]  # not a constant text
    compiled = [p if isinstance(p, str) else CompiledExpr("v", None, lambda act, v=p[1]: v) for p in parts]
    got = Template("t", compiled).render({})
    assert got == "".join(p if isinstance(p, str) else _plain(p[1]) for p in parts)


@pytest.mark.parametrize(("text", "reason"), [
    ("null", "null"), ("1", "1"), ("1.5", "1.5"), ("[1, 'x']", '[1,"x"]'), ("true", "true"), ("'s'", "s"),
    ("{'k': 2}", '{"k":2}'), ("b'b'", "b"),
])
def test_a_deny_message_of_one_interpolation_reads_as_text(text: str, reason: str) -> None:
    """``deny 403 "${...}"`` keeps the value's CEL type in the template; the message is its
    text (``null`` reads "null", not the rule's default reason)."""
    engine = ap.Engine(ap.loads(f'policy {{ on request {{ rule "r" {{ deny 403 "${{{text}}}" }} }} }}'))
    d = engine.evaluate({"request": {"url": "https://api.openai.com/v1/chat/completions",
                                     "body": {"model": "gpt-4o", "messages": []}}})
    assert (d.verdict, d.reason) == ("deny", reason)
