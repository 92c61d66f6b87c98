"""Check-acceptance differential: does an expression type-check, ours against cel-cpp?

``test_differential_more.py`` draws well-typed expressions and skips whatever cel-cpp's
checker refuses, so a checker of ours that accepts too much is never seen there. Here each
operator, function, macro and literal form takes operands of kinds drawn independently
(ints, uints, doubles, strings, bytes, bools, null, lists, maps, timestamps, durations, type
values, optionals, ``dyn(...)``), most of them ill-typed; ours (``cel.compile`` with the
declarations of ``test_differential_more``) and cel-cpp (``env.compile``, same variables and
extensions) must agree on *compiles or not*. Where both compile, the value (or error) is
compared by ``test_differential_more.agree``.

    CEL_DIFF_EXAMPLES=20000 .venv/bin/python -m pytest tests/cel/test_differential_check.py
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel
from aigw_policy.cel.runtime.values import Optional

c = pytest.importorskip("cel_expr_python.cel")
from test_differential_more import DATA, DECLS, KINDS, _Draw, _env, agree, expr as typed, ours as run_ours  # noqa: E402

COMPILE_CODES = frozenset({"syntax_error", "check_error", "compile_error"})
OPTIONALS = ["optional.of(1)", "optional.none()", "optional.of('a')", "{'a': 1}[?'a']", "[1][?0]",
             "optional.ofNonZeroValue('')", "md.?a", "optional.of([1])"]  # fmt: skip
OPERANDS = [*KINDS, "opt"]

# each shape's holes `{}` take an operand of any kind; `x` is a macro's variable
SHAPES = [
    *(f"({{}} {op} {{}})" for op in ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in"]),
    "-({})", "!({})", "({} ? {} : {})", "({})[{}]", "({})[?{}]", "({}).a", "({}).?a", "has(({}).a)",
    "[{}, {}]", "[?{}]", "{{{}: {}}}", "{{?{}: {}}}", "{{'k': {}, 'j': {}}}",
    *(f"{f}({{}})" for f in ["size", "int", "uint", "double", "string", "bytes", "bool", "timestamp",
                             "duration", "type", "dyn"]),
    "({}).size()", "({}).contains({})", "({}).startsWith({})", "({}).endsWith({})", "({}).matches({})",
    "({}).getHours()", "({}).getFullYear({})", "({}).getMilliseconds()", "({}).getDayOfWeek()",
    "({}).charAt({})", "({}).indexOf({})", "({}).lastIndexOf({}, {})", "({}).lowerAscii()",
    "({}).replace({}, {})", "({}).split({})", "({}).substring({}, {})", "({}).trim()", "({}).join({})",
    "'%s'.format({})", "({}).format([{}])", "strings.quote({})",
    "math.greatest({}, {})", "math.least({})", "math.ceil({})", "math.abs({})", "math.sign({})",
    "math.bitAnd({}, {})", "math.bitShiftLeft({}, {})", "math.isNaN({})",
    "base64.encode({})", "base64.decode({})",
    "optional.of({})", "optional.ofNonZeroValue({})", "({}).hasValue()", "({}).value()",
    "({}).orValue({})", "({}).or({})", "({}).optMap(x, {})",
    "({}).all(x, {})", "({}).exists(x, {})", "({}).exists_one(x, {})", "({}).map(x, {})",
    "({}).map(x, {}, {})", "({}).filter(x, {})", "cel.bind(x, {}, {})",
]  # fmt: skip
VARIABLE_USES = ["x", "(x == {})", "(x + {})", "(x < {})", "x[{}]", "size(x)"]


def operand(r: _Draw, depth: int, in_macro: bool) -> str:
    if in_macro and r.int(0, 2) == 0:
        use = r.pick(VARIABLE_USES)
        return use.format(operand(r, depth - 1, in_macro)) if "{}" in use else use
    if depth > 0 and r.int(0, 2) == 0:
        return loose(r, depth - 1, in_macro)
    kind = r.pick(OPERANDS)
    return r.pick(OPTIONALS) if kind == "opt" else typed(r, kind, r.int(0, 1))


def loose(r: _Draw, depth: int, in_macro: bool = False) -> str:
    """One shape over operands of independent kinds (``x`` bound inside a macro's body)."""
    shape = r.pick(SHAPES)
    holes = shape.count("{}")
    binds = "(x," in shape or "bind(x," in shape
    args = [operand(r, depth, in_macro or (binds and i > 0)) for i in range(holes)]
    return shape.format(*args)


def ours(text: str) -> str | None:
    """None when ours compiles ``text``, else the compile error."""
    try:
        cel.compile(text, DECLS)
    except cel.CelError as e:
        assert e.code in COMPILE_CODES, (text, e.code, str(e))
        return str(e)
    return None


def theirs(text: str) -> str | None:
    try:
        _env().compile(text)
    except Exception as e:  # noqa: BLE001 - cel-cpp's parser or checker said no (every issue, warnings first)
        return str(e)
    return None


_CPP_CONVERSIONS = re.compile(r"`(duration|int)` applied to `\((int|google\.protobuf\.Duration)\)`")


def deliberate(text: str, got: str | None, want: str | None) -> bool:
    """Where we check as cel-go does, not as cel-cpp (docs/cel.md, wave 11, "Check-time
    differences we keep"):

    * ``[?dyn(x)]``, ``{?k: dyn(x)}``: cel-go's checker lets a ``dyn`` be an optional entry
      (``!isOptional && !isDyn(elemType)``), cel-cpp asks for ``optional_type(dyn)``;
    * ``duration(1)``, ``int(duration('1s'))``: conversions of cel-cpp's checker beyond
      the langdef's signatures; cel-go and the langdef have none (at run time neither have we);
    * ``null[k]``, ``null[?k]``: null is no list or map; cel-cpp checks the index as ``dyn``
      and fails every evaluation (``Invalid container type``);
    """
    if got is None and want is not None:  # each of cel-cpp's errors (not its warnings) is one of these
        errors = re.findall(r"ERROR: <input>:\d+:\d+: ([^\n]*)", want)
        return bool(errors) and all("optional_type(dyn)' but found 'dyn'" in e for e in errors)
    if got is not None and want is None:
        return bool(_CPP_CONVERSIONS.search(got) or re.search(r"`_\[\??_\]` applied to `\(null_type,", got))
    return False


def _holds_optional(v: object) -> bool:
    if isinstance(v, Optional):
        return True
    if isinstance(v, dict):
        return any(_holds_optional(x) for x in v.values())
    return isinstance(v, list) and any(_holds_optional(x) for x in v)


def same_value(text: str) -> None:
    """Both compiled: the value or error-ness agrees (``test_differential_more.agree``).
    cel-cpp's Python binding crashes (SIGSEGV) converting an optional held in a list or map,
    so such a result is compared by its error-ness alone."""
    got = run_ours(text)
    if got[0] == "value" and _holds_optional(got[1]):
        return
    if got[0] == "error" and re.search(r"optional\.|\[\?|\.\?|\{\?", text):
        try:
            r = _env().compile(text).eval(data=DATA)
        except Exception:  # noqa: BLE001 - cel-cpp cannot evaluate it (`has(m.?a.b)`): not comparable
            return
        assert r.type() == c.Type.ERROR, (text, got, str(r.type()))
        return
    agree(text)


def compare(text: str) -> None:
    got, want = ours(text), theirs(text)
    if (got is None) != (want is None) and not deliberate(text, got, want):
        raise AssertionError(f"{text}\n  ours:    {got or 'compiles'}\n  cel-cpp: {want or 'compiles'}")
    if got is None and want is None:
        same_value(text)


N = int(os.environ.get("CEL_DIFF_EXAMPLES", "400"))


@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_check_acceptance_agrees_with_cel_cpp(data: st.DataObject) -> None:
    r = _Draw(data)
    r.top = 0  # no top-level text of doubles or times: see test_differential_more
    compare(loose(r, r.int(0, 2)))


@pytest.mark.parametrize("text", ["[?dyn(1)]", "{?'a': dyn(1)}", "duration(1)",
                                  "int(duration('1s'))", "null[1]", "null[?'a']"])
def test_each_kept_difference_is_still_one(text: str) -> None:
    """The list above is honest: each class still divides the two checkers, and is kept."""
    got, want = ours(text), theirs(text)
    assert (got is None) != (want is None), (text, got, want)
    assert deliberate(text, got, want), (text, got, want)
