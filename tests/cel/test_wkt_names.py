"""The names of protobuf's well-known types and the ``NullValue`` enum's constant, as expressions.

Class ``wkt-names`` (session 28): ``google.protobuf.NullValue.NULL_VALUE`` (an enum constant:
the ``int`` 0), ``google.protobuf.NullValue`` (``null_type``), ``google.protobuf.Value`` (``dyn``),
``Struct`` (a map), ``ListValue`` (a list), the wrappers (``Int32Value`` is ``Int64Value``'s
type, CEL's ``wrapper(int)``) and ``Any`` were undeclared references, so cel-spec's
``dynamic/value_null/literal`` (``Value{null_value: NullValue.NULL_VALUE}`` in container
``google.protobuf``) failed; and the type names CEL did know (``int``, ``google.protobuf.Timestamp``)
were not looked up in the container (``Timestamp`` inside ``google.protobuf``). cel-cpp and
cel-go take them all. ``aigw_policy/cel/builtin_names.py`` now holds them, looked up in the
container after the declared variables, by the checker and the code generator alike.

``data/wkt_names.json`` holds rows in the conformance files' shape, run through
``tests/conformance/run.py``'s ``run_test``; each row without a container or bindings is also
cel-cpp's answer, checked and unchecked. A property: inside any container on the way to a name's
namespace, the name written relative to it is the same value as written whole.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance_rows import row_ids, rows_of, run_test, to_value
from shared_data import in_ci
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave26 import mine, ours, theirs

from aigw_policy import cel
from aigw_policy.cel.builtin_names import CONSTANTS, TYPE_NAMES
from aigw_policy.cel.cache import rebuild_constant
from aigw_policy.cel.parser import parse
from aigw_policy.cel.types import parse_type, type_of

_ROWS = rows_of("wkt_names.json")
_IDS = row_ids(_ROWS)


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_conformance_row(section: str, row: dict, checked: bool) -> None:
    cel.clear_cache()
    ok, why = run_test({**row, "disable_check": not checked})
    assert ok, (row["expr"], why)


_CPP_ROWS = [(s, t) for s, t in _ROWS if not t.get("container") and not t.get("bindings")]


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: well-known names are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@pytest.mark.parametrize(("section", "row"), _CPP_ROWS, ids=[f"{s}/{t['name']}" for s, t in _CPP_ROWS])
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_row_is_cel_cpps_answer(cpp: None, section: str, row: dict, checked: bool) -> None:
    expr = row["expr"]
    mine_out, cpp_out = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
    if "eval_error" in row:
        assert mine_out[0] != "value" and cpp_out[0] != "value", (expr, mine_out, cpp_out)
        return
    assert mine_out == ("value", mine(to_value(row["value"]))), (expr, mine_out)
    assert cpp_out == mine_out, (expr, mine_out, cpp_out)


_DOTTED = sorted(n for n in (*TYPE_NAMES, *CONSTANTS) if "." in n)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_DOTTED), st.data())
def test_a_name_relative_to_its_container_is_the_name(name: str, data: st.DataObject) -> None:
    parts = name.split(".")
    cut = data.draw(st.integers(1, len(parts) - 1), label="cut")
    # namespaces below the name's own, which the lookup walks out of
    inner = data.draw(st.lists(st.sampled_from(["x", "y", "z"]), max_size=2), label="inner")
    container = ".".join(parts[:cut] + inner)
    relative = ".".join(parts[cut:])
    checked = data.draw(st.booleans(), label="checked")
    expr = f"{name} == {relative}"  # the whole name beside the relative one: equal
    cel.clear_cache()
    if checked:
        prog = cel.compile(expr, {}, container=container)
    else:
        prog = cel.compile_ast(parse(expr), {}, source=expr, container=container, check=False)
    assert prog({}) is True, (expr, container)


@pytest.mark.parametrize("name", sorted(TYPE_NAMES))
def test_each_type_name_survives_the_disk_cache(name: str) -> None:
    """A program's constants and result type are written to the disk cache as text and read
    back (``cache.rebuild_constant``, ``parse_type``): a name whose type value or type could
    not be read back made every load of its program a silent miss."""
    runtime, static = TYPE_NAMES[name]
    value = cel.compile(name, {})({})
    assert rebuild_constant(("type", runtime)) == value, name
    assert parse_type(str(type_of(static))) == type_of(static), name
