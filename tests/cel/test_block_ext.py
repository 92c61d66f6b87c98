"""``cel.block`` and its comprehension variables: the cases of ``data/block_ext.yaml``, the same
cases through cel-cpp's ``cel.@block`` (when cel-expr-python is installed), and a property: a
block means its result with every entry written out in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel
from aigw_policy.cel import ast
from aigw_policy.cel.blocks import expand_blocks
from aigw_policy.cel.parser import parse
from aigw_policy.source import Source

from test_semantics_cases import same

CASES = yaml.safe_load((Path(__file__).parent / "data" / "block_ext.yaml").read_text())
EXPECTATIONS = {"value", "error", "diags"}
KEYS = EXPECTATIONS | {"expr", "decls", "vars", "budget"}
RUNS = [(c, m) for c in CASES for m in ("checked", "dyn")]
EVALUATED = [c for c in CASES if "diags" not in c]


def test_every_case_has_known_keys_and_one_expectation() -> None:
    for case in CASES:
        assert set(case) <= KEYS and "expr" in case, case
        assert len(EXPECTATIONS & set(case)) == 1, case


def _variables(case: dict) -> dict:
    return {k: cel.compile(v)({}) for k, v in case.get("vars", {}).items()}


def _compile(case: dict, mode: str) -> cel.Program:
    budget = case.get("budget", 10_000)
    if mode == "checked":
        return cel.compile(case["expr"], case.get("decls", {}), budget=budget)
    return cel.compile(case["expr"], budget=budget)


@pytest.mark.parametrize(("case", "mode"), RUNS, ids=[f"{c['expr'][:60]}-{m}" for c, m in RUNS])
def test_case(case: dict, mode: str) -> None:
    if "diags" in case:
        with pytest.raises(cel.CelError) as info:
            _compile(case, mode)
        got = [f"{d.code} {d.span.line}:{d.span.column}" for d in info.value.diagnostics]
        assert got == case["diags"], (case["expr"], str(info.value))
        assert all(d.message and not d.message.endswith(".") for d in info.value.diagnostics)
        return
    prog = _compile(case, mode)
    if "error" in case:
        with pytest.raises(cel.CelError) as info:
            prog(_variables(case))
        assert case["error"] in str(info.value), (case["expr"], str(info.value))
        return
    got = prog(_variables(case))
    want = cel.compile(case["value"])({})
    assert same(got, want), (case["expr"], got, want)


def test_an_entry_read_three_times_runs_once() -> None:
    """The budget case's counterpart written without a block runs its map three times."""
    text = "size([1, 2, 3].map(x, x * 2)) + size([1, 2, 3].map(x, x * 2)) + size([1, 2, 3].map(x, x * 2))"
    with pytest.raises(cel.CelError, match="budget"):
        cel.compile(text, {}, budget=3)({})


def test_a_tree_without_blocks_is_the_same_object() -> None:
    node = parse("[1].map(x, cel.bind(y, x, y + 1))")
    assert expand_blocks(node) == (node, []) and expand_blocks(node)[0] is node


def test_a_variable_named_cel_is_not_the_extension() -> None:
    assert cel.compile("[{'index': 1}].map(cel, cel.index)")({}) == [1]
    with pytest.raises(cel.CelError) as info:
        cel.compile("[1].map(cel, cel.index(0))", {})
    assert [d.code for d in info.value.diagnostics] == ["AIGW301"]


def test_a_hand_built_tree_too_deep_to_expand_is_a_diagnostic() -> None:
    span = Source("x").span(0, 1)
    node: ast.Expr = ast.Call("index", (ast.Literal(0, "int", span=span),), ast.Ident("cel", span=span), span=span)
    for _ in range(3000):
        node = ast.Call("-_", (node,), span=span)
    with pytest.raises(cel.CelError) as info:
        cel.compile_ast(node, check=False)
    assert [d.code for d in info.value.diagnostics] == ["AIGW008"]


def test_a_policy_batch_compiles_blocks_through_the_memoized_check() -> None:
    from aigw_policy.env import compile_conditions

    good, bad = compile_conditions([
        "cel.block([req.method, cel.index(0) == 'POST'], cel.index(1) && size(cel.index(0)) == 4)",
        "cel.block([1], cel.index(1)) == 1",
    ])
    assert isinstance(good, cel.Program)
    assert good({"req.method": "POST"}) is True and good({"req.method": "GET"}) is False
    assert isinstance(bad, cel.CelError) and [d.code for d in bad.diagnostics] == ["AIGW307"]


def test_lint_reports_a_bad_block_with_its_code() -> None:
    from aigw_policy.env import check_text

    known = check_text("cel.block([1], cel.index(1)) == 1")
    assert known is not None and [d.code for d in known[1]] == ["AIGW307"]
    assert check_text("cel.block([req.url.path], cel.index(0) == '/')")[1] == []  # type: ignore[index]


# -- cel-cpp ---------------------------------------------------------------------------------
# cel-cpp plans `cel.@block` (what its optimizer emits) but its parser has no `cel.block`
# macro: the text is parsed with placeholder names of the same length, and the serialized
# parse has them renamed to `cel.@block`, `@indexN`, `@it:D:N`, `@ac:D:N`.

_PLACEHOLDERS = [
    (re.compile(r"cel\.block\("), lambda m: "celxxblock("),
    (re.compile(r"cel\.index\((\d+)\)"), lambda m: f"qindex{m[1]}"),
    (re.compile(r"cel\.(iterVar|accuVar)\((\d+), (\d+)\)"), lambda m: f"q{m[1][:2]}_{m[2]}_{m[3]}"),
]


def _for_cel_cpp(text: str) -> str | None:
    for pattern, to in _PLACEHOLDERS:
        text = pattern.sub(to, text)
    return None if "cel." in text else text


def _serialized_names(data: bytes) -> bytes:
    data = data.replace(b"celxxblock", b"cel.@block").replace(b"qindex", b"@index")
    return re.sub(rb"q(it|ac)_(\d+)_(\d+)", rb"@\1:\2:\3", data)


def _cel_cpp(case: dict) -> tuple[str, object]:
    c = pytest.importorskip("cel_expr_python.cel")
    from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

    text = _for_cel_cpp(case["expr"])
    if text is None:
        return "unrepresentable", None
    env = c.NewEnv(variables={}, extensions=[ext_bindings.ExtBindings(), ext_optional.ExtOptional(),
                                            ext_strings.ExtStrings()])
    try:
        expr = env.deserialize(_serialized_names(env.compile(text, disable_check=True).serialize()))
        r = expr.eval(data=_variables(case))
    except RuntimeError as e:  # refused when planned
        return "refused", str(e)
    return ("error" if r.type() == c.Type.ERROR else "value"), r.plain_value()


def _cel_cpp_refuses(case: dict, kind: str, got: object) -> bool:
    """Where cel-cpp refuses what we (and cel-go, whose names are plain identifiers) accept:
    a generated name as a variable of a two-variable comprehension ("out of scope reference
    to CSE generated comprehension variable")."""
    return (kind == "refused" and "out of scope reference to CSE" in str(got)
            and "all(cel.iterVar(0, 0), cel.iterVar(0, 1)" in case["expr"])


@pytest.mark.parametrize("case", CASES, ids=[c["expr"][:60] for c in CASES])
def test_cel_cpp_agrees(case: dict) -> None:
    kind, got = _cel_cpp(case)
    if _cel_cpp_refuses(case, kind, got):
        return
    if "diags" in case:
        assert kind in ("refused", "error", "unrepresentable"), (case["expr"], kind, got)
    elif "error" in case:
        assert kind == "error", (case["expr"], kind, got)
    else:
        from test_differential import same as same_plain

        assert kind == "value" and same_plain(got, cel.compile(case["value"])({})), (case["expr"], kind, got)


# -- a block means its result with the entries written out -----------------------------------
_OPS = st.sampled_from(["+", "-", "*", "/", "%"])


@st.composite
def _blocks(draw) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A block of int entries, each a literal or an operation on an earlier entry, and the
    same expression with each ``cel.index(i)`` replaced by entry ``i`` written out."""
    entries: list[str] = []
    inlined: list[str] = []
    for i in range(draw(st.integers(1, 6))):
        literal = str(draw(st.integers(-3, 3)))
        if i == 0 or draw(st.booleans()):
            entries.append(literal)
            inlined.append(literal)
            continue
        j, op = draw(st.integers(0, i - 1)), draw(_OPS)
        left = draw(st.booleans())
        entries.append(f"cel.index({j}) {op} {literal}" if left else f"{literal} {op} cel.index({j})")
        inlined.append(f"({inlined[j]}) {op} {literal}" if left else f"{literal} {op} ({inlined[j]})")
    reads = draw(st.lists(st.integers(0, len(entries) - 1), min_size=1, max_size=3))
    result = " + ".join(f"cel.index({k})" for k in reads)
    return (f"cel.block([{', '.join(entries)}], {result})", " + ".join(f"({inlined[k]})" for k in reads))


def _outcome(text: str) -> tuple[str, object]:
    try:
        return "value", cel.compile(text, {})({})
    except cel.CelError as e:
        return "error", e.message


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(pair=_blocks())
def test_a_block_is_its_entries_written_out(pair: tuple[str, str]) -> None:
    block, inlined = pair
    assert _outcome(block) == _outcome(inlined), pair
