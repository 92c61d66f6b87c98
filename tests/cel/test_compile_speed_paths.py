"""The fast compile paths give what the plain ones give: the direct (tree-less) parse vs
the lark tree + ``Lowering`` path the DSL uses, and ``compile_conditions`` with its one-file
batch cache vs ``compile_condition``."""

from __future__ import annotations

import dataclasses
import json
import os
import random

import pytest

from aigw_policy import cel, env
from aigw_policy.cel import cache
from aigw_policy.cel import fast_parser, parser as P
from aigw_policy.cel.grammar import lark_parser
from aigw_policy.cel.syntax_errors import syntax_diagnostic
from lark.exceptions import UnexpectedInput
from aigw_policy.source import Source

from shared_data import CEL_SPEC as SPEC_DIR, require


def _tree_path(text: str):  # type: ignore[no-untyped-def]
    src = Source(text)
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as e:
        return ("diags", _dump([syntax_diagnostic(e, text, src, 0, "AIGW200")]))
    low = P.Lowering(text, src, 0)
    node = low.lower(tree)
    return ("diags", _dump(low.diagnostics)) if low.diagnostics else ("ok", _dump(node))


def _direct_path(text: str):  # type: ignore[no-untyped-def]
    try:
        return ("ok", _dump(P.parse(text)))
    except P.CelSyntaxError as e:
        return ("diags", _dump(e.diagnostics))


def _dump(x):  # type: ignore[no-untyped-def]
    """Nodes with their spans (which node equality ignores), diagnostics field by field."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, tuple((f.name, _dump(getattr(x, f.name))) for f in dataclasses.fields(x)))
    if isinstance(x, (list, tuple)):
        return tuple(_dump(i) for i in x)
    return repr(x)


def _spec_expressions() -> list[str]:
    out: list[str] = []
    for path in sorted(require(SPEC_DIR).glob("*.json")):  # skips visibly (fails under CI) without it
        for section in json.loads(path.read_text()).get("section", []):
            out += [t["expr"] for t in section.get("test", []) if isinstance(t.get("expr"), str)]
    return out


HAND = [
    "a.b.c(1, 2)[x].?y[?0]", "(a).b", "((a)).b{}", "Msg{f: 1, ?g: 2,}", "x.y.Z{`a.b`: 1}",
    "[1, ?a, 3,]", "{1: 2, ?3: 4}", "{,}", "[,]", ".a.b(.c)", "-(-1)", "- 1", "--1", "!!a",
    "-9223372036854775808", "-9223372036854775809", "9223372036854775808", "a ? b : c ? d : e",
    "a || b && c == d + e * f", "1 in [1] && 'a' in {'a': 1}", "f(for)", "x.for", "package",
    "a.in", "b'\\xff' + r'\\n' + '''x\ny'''", "1.5e3 + .5 + 1u", "`a`", "a.`b`", "a // c\n + 1",
    "(" * 210 + "1" + ")" * 210, "-" * 300 + "1", "!" * 300 + "a", "[" * 200 + "]" * 200,
    "a" + ".b" * 300, "1" + " + 1" * 300, "for + " + "-" * 200 + "9223372036854775809",
    "[" * 130 + "for" + "]" * 130, "a" + "[0]" * 200, "f(" * 150 + ")" * 150, "a +", "(a",
    "a = 1", "'abc", "1 +* 2", "a.b(", "{1: }", "x{1: 2}",
]


def _fuzz(n: int) -> list[str]:
    rnd = random.Random(7)
    toks = ["a", "b.c", "(", ")", "[", "]", "{", "}", ",", "?", ":", ".", "-", "!", "1", "1u",
            "2.5", "'s'", "in", "&&", "||", "+", "*", "==", "f(", "x.y(", "for", "true",
            "null", "`a.b`", ".?", "[?", "{?", "Msg{", "-9223372036854775808", " "]
    return [" ".join(rnd.choice(toks) for _ in range(rnd.randint(1, 10))) for _ in range(n)]


def test_the_direct_parse_matches_the_tree_path() -> None:
    differ = [t for t in HAND + _fuzz(3000) if _tree_path(t) != _direct_path(t)]
    assert not differ, differ[:5]


def test_the_direct_parse_matches_the_tree_path_on_cel_spec() -> None:
    expressions = _spec_expressions()
    assert len(expressions) > 1000
    differ = [t for t in expressions if _tree_path(t) != _direct_path(t)]
    assert not differ, differ[:5]


SOURCES = ["ai.model == 'a' && ai.max_output_tokens < 10", "req.method in ['GET', 'POST']",
           "bad +", "nope.x()", "18446744073709551615u > 1u && ai.prompt.matches('(?i)x')"]


def test_compile_conditions_returns_programs_and_errors() -> None:
    out = env.compile_conditions(SOURCES, names=["a", "b", "c", "d", "e"])
    assert [type(p).__name__ for p in out] == ["Program", "Program", "CelError", "CelError", "Program"]
    assert out[0].name == "a"  # type: ignore[union-attr]
    for source, prog in zip(SOURCES, out):
        if isinstance(prog, cel.Program):
            assert env.compile_condition(source, name=prog.name).python_source == prog.python_source


def test_a_batch_is_one_cache_file_and_reloads_without_compiling(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cel.clear_cache()
    first = env.compile_conditions(SOURCES, cache_dir=tmp_path)
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].endswith(".celb") and cache.engine_version() in files[0]
    cel.clear_cache()
    compile_ast = env.POLICY.compile_ast
    compiled: list[str] = []

    def counting(node, *args, **kwargs):  # type: ignore[no-untyped-def]
        compiled.append(kwargs["source"])
        return compile_ast(node, *args, **kwargs)

    monkeypatch.setattr(env.POLICY, "compile_ast", counting)
    again = env.compile_conditions(SOURCES, cache_dir=tmp_path)
    assert compiled == ["nope.x()"]  # only what failed (errors are not cached)
    assert os.listdir(tmp_path) == files  # nothing new to write
    assert [getattr(p, "python_source", None) for p in again] == [getattr(p, "python_source", None) for p in first]
    act = {"ai.model": "a", "ai.max_output_tokens": 3}
    assert again[0](act) is first[0](act) is True  # type: ignore[operator]
    cel.clear_cache()
    env.compile_conditions(SOURCES[:1] + ["1 == 1"], cache_dir=tmp_path)  # another batch
    assert compiled[1:] == [SOURCES[0], "1 == 1"] and len(os.listdir(tmp_path)) == 2


def test_a_corrupt_batch_file_is_only_a_miss(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env.compile_conditions(SOURCES[:2], cache_dir=tmp_path)
    for f in os.listdir(tmp_path):
        (tmp_path / f).write_bytes(b"garbage")
    cel.clear_cache()
    out = env.compile_conditions(SOURCES[:2], cache_dir=tmp_path)
    assert out[1]({"req.method": "GET"}) is True  # type: ignore[operator]


def test_the_exact_body_is_compiled_on_first_use_with_its_line_numbers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aigw_policy.cel.program import _LazyExact

    src = "x + 1 > 0 && [1, 2][x] == 1"
    for attempt in ("fresh", "from disk"):
        cel.clear_cache()
        prog = cel.compile(src, {"x": "int"}, cache_dir=tmp_path)
        assert isinstance(prog.function.__globals__["_exact"], _LazyExact), attempt
        assert prog({"x": 1}) is False  # the fast body: nothing compiled yet
        assert isinstance(prog.function.__globals__["_exact"], _LazyExact)
        with pytest.raises(cel.CelError) as info:
            prog({"x": 5})
        start, end = info.value.span  # type: ignore[attr-defined]
        assert src[start:end] == "[1, 2][x]", attempt
        assert not isinstance(prog.function.__globals__["_exact"], _LazyExact)
        assert prog({"x": 0}) is True and "def _exact(act)" in prog.python_source


def test_the_direct_parse_is_in_use() -> None:
    # it falls back to the tree path silently if lark's internals change: notice that here
    assert fast_parser.direct_parser() is not None, (
        "lark's internals changed: cel/fast_parser.py no longer drives them; parse is on the slow tree path")
