import pytest
from hypothesis import given, strategies as st

from aigw_policy.template import Interpolation, TemplateError, split_template


@pytest.mark.parametrize(
    "text, parts",
    [
        ("plain", ["plain"]),
        ("${a}", [Interpolation("a", 2)]),
        ("x ${a} y", ["x ", Interpolation("a", 4), " y"]),
        ("${a}${b}", [Interpolation("a", 2), Interpolation("b", 6)]),
        ("$ {a} $x", ["$ {a} $x"]),
        ("${req.headers['x-}'][0]}", [Interpolation("req.headers['x-}'][0]", 2)]),
        ('${{"a": 1}["a"]}', [Interpolation('{"a": 1}["a"]', 2)]),
        ("${'''}'''}", [Interpolation("'''}'''", 2)]),
    ],
)
def test_split(text, parts):
    assert split_template(text) == parts


@pytest.mark.parametrize("text, offset", [("${", 0), ("ab ${x", 3), ("${}", 0), ("${ 'a}", 0)])
def test_errors(text, offset):
    with pytest.raises(TemplateError) as info:
        split_template(text)
    assert info.value.offset == offset


@given(st.text(alphabet="${}'\"\\ab ", max_size=40))
def test_never_crashes_and_reassembles(text):
    try:
        parts = split_template(text)
    except TemplateError:
        return
    rebuilt = "".join(p if isinstance(p, str) else "${" + p.source + "}" for p in parts)
    assert rebuilt == text
