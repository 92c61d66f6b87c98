"""Literals of protobuf's well-known messages: ``google.protobuf.Int32Value{value: 1}``, the
other wrappers, ``Value``, ``Struct``, ``ListValue``, ``Duration`` and ``Timestamp``.

Class ``wkt-literal`` (session 27): every message literal was refused ("message type ... is
not supported"), so the conformance suite's wrapper and JSON literals in ``dynamic``,
``comparisons`` and ``proto2`` (84 cases that need no ``TestAllTypes``) failed, and so did a
variable declared as a wrapper (``message_type: google.protobuf.Int32Value``). They are now the
values they stand for, as in cel-go and cel-cpp: a wrapper is its primitive (an ``Int32Value``
or ``UInt32Value`` out of range an error, a ``FloatValue`` rounded to 32 bits), a ``Value``,
``Struct`` or ``ListValue`` its JSON value (numbers doubles, integers past 2^53 - 1 their text,
bytes base64, times their JSON text), a ``Duration`` or ``Timestamp`` its time value.

``data/wellknown_literals.json`` holds the rows in the conformance files' own shape
(``upstream_*`` sections are cel-spec's, the others their siblings), run through
``tests/conformance/run.py``'s ``run_test``; each row without a container is also cel-cpp's
answer, checked and unchecked (values compared whole, outcomes by kind).
"""

from __future__ import annotations

import datetime as dt

import pytest

from conformance_rows import row_ids, rows_of, run_test, to_value
from shared_data import in_ci
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave26 import mine, ours, theirs

from aigw_policy import cel
from aigw_policy.cel import CelError

_ROWS = rows_of("wellknown_literals.json")
_IDS = row_ids(_ROWS)


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=_IDS)
def test_conformance_row(section: str, row: dict) -> None:
    cel.clear_cache()
    ok, why = run_test(row)
    assert ok, (row["expr"], why)


def test_every_section_has_rows() -> None:
    assert len(_ROWS) >= 150 and all(t.get("expr") for _, t in _ROWS)


KEPT = {"duration_past_int64_ns": "durations are int64 nanoseconds (docs/cel.md); cel-cpp's reach "
                                   "protobuf's +-10,000 years"}
_CPP_ROWS = [(s, t) for s, t in _ROWS if not t.get("container") and not t.get("bindings") and t["name"] not in KEPT]


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: well-known literals are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@pytest.mark.parametrize(("section", "row"), _CPP_ROWS, ids=[f"{s}/{t['name']}" for s, t in _CPP_ROWS])
def test_row_is_cel_cpps_answer(cpp: None, section: str, row: dict) -> None:
    expr = row["expr"]
    checks = (False,) if row.get("disable_check") else (True, False)
    for checked in checks:
        mine_out, cpp_out = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
        if "eval_error" in row:
            assert mine_out[0] != "value" and cpp_out[0] != "value", (expr, checked, mine_out, cpp_out)
            continue
        assert mine_out == ("value", mine(to_value(row["value"]))), (expr, checked, mine_out)
        assert cpp_out == mine_out, (expr, checked, mine_out, cpp_out)


# host values inside a JSON literal are read as a `dyn` value is where it is taken out --------
_HOST = [
    ((1, 2), [1.0, 2.0]),  # a tuple is a list
    ({"a": (1,)}, {"a": [1.0]}),
    (2**70, 2.0**70),  # an int past 64 bits is a JSON number's double, not its text
    (-(2**64), -(2.0**64)),
    (2**60, str(2**60)),  # a CEL int past 2^53 - 1 is its text
    (dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), CelError),  # no CEL value under `dyn`
    ({1, 2}, CelError),
    ({1: "a"}, CelError),  # a JSON object's keys are strings
]


@pytest.mark.parametrize(("host", "want"), _HOST, ids=[repr(h)[:30] for h, _ in _HOST])
def test_host_values_inside_json_literals(host: object, want: object) -> None:
    for expr in ("google.protobuf.ListValue{values: y}", "google.protobuf.Struct{fields: {'k': y[0]}}"):
        prog = cel.compile(expr, {"y": "list(dyn)"})
        if want is CelError:
            with pytest.raises(CelError):
                prog({"y": [host]})
            continue
        got = prog({"y": [host]})
        assert got == ([want] if expr.startswith("google.protobuf.ListValue") else {"k": want}), (expr, got)
