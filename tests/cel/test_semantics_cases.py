"""The CEL cases of ``data/semantics.yaml``: one expression and what it must give per line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from aigw_policy import cel
from aigw_policy.cel.runtime.values import MixedKeyMap, Optional
from aigw_policy.cel.types import parse_type

CASES = yaml.safe_load((Path(__file__).parent / "data" / "semantics.yaml").read_text())
RUNS = [(c, m) for c in CASES for m in (("checked",) if {"type", "check_error"} & c.keys() else ("checked", "dyn"))]


def same(a: object, b: object) -> bool:
    """Strict value equality: CEL kinds apart (1, 1u, 1.0, true), -0.0 apart, NaN == NaN."""
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        ka = sorted((repr(type(k)), repr(k)) for k in a)
        kb = sorted((repr(type(k)), repr(k)) for k in b)  # type: ignore[attr-defined]
        return ka == kb and all(same(v, b[k]) for k, v in a.items())  # type: ignore[index]
    if isinstance(a, Optional):
        return a.present == b.present and (not a.present or same(a.value, b.value))  # type: ignore[attr-defined]
    return a == b


def run(expr: str, mode: str) -> object:
    prog = cel.compile(expr, {}) if mode == "checked" else cel.compile(expr)
    return prog({})


@pytest.mark.parametrize(("case", "mode"), RUNS, ids=[f"{c['expr']}-{m}" for c, m in RUNS])
def test_case(case: dict, mode: str) -> None:
    expr = case["expr"]
    if "type" in case:
        assert cel.compile(expr, {}).type == parse_type(case["type"]), expr
        return
    if "check_error" in case:
        with pytest.raises(cel.CelError) as info:
            cel.compile(expr, {})
        assert case["check_error"] in str(info.value), (expr, str(info.value))
        return
    if "error" in case:
        with pytest.raises(cel.CelError) as info:
            run(expr, mode)
        assert case["error"] in str(info.value), (expr, str(info.value))
        return
    got = run(expr, mode)
    want = cel.compile(case["value"])({})
    assert same(got, want), (expr, got, want)


def test_a_map_with_bool_and_int_keys_is_a_map_to_python_callers() -> None:
    m = cel.compile("{true: 'a', 1: 'b'}", {})({})
    assert type(m) is MixedKeyMap and len(m) == 2
    assert sorted(map(repr, m)) == ["1", "True"] and m[True] == "a" and m[1] == "b"
    assert m.items() == [(True, "a"), (1, "b")] and m.copy().items() == m.items()
    import pickle

    assert pickle.loads(pickle.dumps(m)).items() == m.items()
