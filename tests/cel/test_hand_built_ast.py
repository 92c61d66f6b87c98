"""``compile_ast`` is public: a hand-built tree's names and literals never become code.

Every payload below, pasted into generated source, would run
``_land.__globals__['INJECTED'].append(1)`` (``_land`` is a helper every generated
namespace holds; its module globals are the real ones). The control test proves that the
payloads are live; the property test proves that no tree built from them runs one.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel
from aigw_policy.cel import ast
from aigw_policy.cel.program import instantiate
from aigw_policy.cel.runtime import helpers
from aigw_policy.source import Source

AT = Source("").span(0, 0)
RUN = "_land.__globals__['INJECTED'].append(1)"
PAYLOADS = [
    f"x={RUN}",                               # a lambda parameter with a default
    f"x: {RUN} or x",
    f"a')) or {RUN} or (('",
    f"a\n{RUN}\n",
    f"__import__('os') if {RUN} else x",
    f"x_{RUN}",
]


class EvilStr(str):
    def __repr__(self) -> str:
        return RUN


class EvilInt(int):
    def __repr__(self) -> str:
        return RUN


class EvilBool:
    def __repr__(self) -> str:
        return RUN

    def __str__(self) -> str:
        return RUN

    def __bool__(self) -> bool:
        return True


class EvilSpan:
    start = f"0\n{RUN}\n#"
    end = 0


@pytest.fixture(autouse=True)
def injected(monkeypatch):  # type: ignore[no-untyped-def]
    sink: list[int] = []
    monkeypatch.setattr(helpers, "INJECTED", sink, raising=False)
    return sink


def test_control_the_payloads_run_when_pasted_into_code(injected) -> None:  # type: ignore[no-untyped-def]
    code = compile(f"(lambda v1_x={RUN}: 1)\ndef f(act):\n    return ({EvilInt(1)!r})\n", "<p>", "exec")
    instantiate(code, "f", {})({})
    assert injected == [1, 1]


names = st.sampled_from(PAYLOADS) | st.text(max_size=12) | st.sampled_from(["x", "y", ".z", "a.b"])
literal_values = st.sampled_from([EvilStr("s"), EvilInt(3), EvilBool(), b"b", "s", 1, 2**70, -(2**64), 1.5, True, None])
kinds = st.sampled_from(["int", "uint", "double", "string", "bytes", "bool", "null", RUN])
flags = st.sampled_from([False, True, EvilBool(), RUN])


def _trees() -> st.SearchStrategy[object]:
    leaves = st.one_of(
        st.builds(lambda v, k: ast.Literal(v, k, span=AT), literal_values, kinds),
        st.builds(lambda n: ast.Ident(n, span=AT), names),
        st.just(ast.Ident("x", span=EvilSpan())),  # type: ignore[arg-type]
    )

    def extend(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.one_of(
            st.builds(lambda o, f, opt: ast.Select(o, f, opt, span=AT), children, names, flags),  # type: ignore[arg-type]
            st.builds(lambda o, i, opt: ast.Index(o, i, opt, span=AT), children, children, flags),  # type: ignore[arg-type]
            st.builds(lambda f, a, t: ast.Call(f, tuple(a), t, span=AT),  # type: ignore[arg-type]
                      st.sampled_from(["_==_", "_+_", "size", "exists", "map", "all", "filter", "cel.bind"]) | names,
                      st.lists(children, max_size=3), st.none() | children),
            # macros whose variable is a hostile name: `target.exists(<name>, body)`
            st.builds(lambda m, n, t, b: ast.Call(m, (ast.Ident(n, span=AT), b), t, span=AT),  # type: ignore[arg-type]
                      st.sampled_from(["exists", "all", "map", "filter", "exists_one", "optMap", "sortBy"]),
                      names, children, children),
            st.builds(lambda es: ast.CreateList(tuple(es), span=AT), st.lists(children, max_size=3)),  # type: ignore[arg-type]
            st.builds(lambda k, v, opt: ast.CreateMap((ast.MapEntry(k, v, opt, span=AT),), span=AT),  # type: ignore[arg-type]
                      children, children, flags),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tree=_trees(), check=st.booleans())
def test_hand_built_trees_never_run_injected_code(tree, check, injected) -> None:  # type: ignore[no-untyped-def]
    try:
        prog = cel.compile_ast(tree, {"x": "dyn", "l": "list(int)"} if check else None, check=check)  # type: ignore[arg-type]
    except cel.CelError:
        assert not injected
        return
    for act in ({"x": [1, 2], "l": [1]}, {}):
        try:
            prog(act)
        except cel.CelError:
            pass
    assert not injected


@pytest.mark.parametrize("tree", [
    ast.Call("exists", (ast.Ident(PAYLOADS[0], span=AT), ast.Literal(True, "bool", span=AT)),
             ast.Ident("x", span=AT), span=AT),
    ast.Call("map", (ast.Ident(PAYLOADS[0], span=AT), ast.Literal(1, "int", span=AT)),
             ast.Ident("x", span=AT), span=AT),
    ast.Literal(EvilStr("s"), "string", span=AT),
    ast.Literal(EvilInt(1), "int", span=AT),
    ast.CreateMap((ast.MapEntry(ast.Literal("k", "string", span=AT), ast.Literal(1, "int", span=AT),
                                EvilBool(), span=AT),), span=AT),  # type: ignore[arg-type]
    ast.Call("size", (ast.Ident("x", span=EvilSpan()),), span=AT),  # type: ignore[arg-type]
    ast.Ident(PAYLOADS[2], span=AT),
])
def test_each_hostile_piece_is_refused_with_a_cel_error(tree, injected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cel.CelError) as info:
        cel.compile_ast(tree, {"x": "list(int)"}, check=False)(x=[1])
    assert info.value.code == "invalid_ast" and not injected
