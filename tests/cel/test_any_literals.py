"""Literals of ``google.protobuf.Any`` that pack a well-known message.

Class ``any-literal`` (session 29): ``google.protobuf.Any{type_url: ..., value: ...}`` was refused
("message type ... is not supported"), checked or not, where cel-cpp and cel-go unpack it: the
value is the packed message's (``Any{type_url: 'type.googleapis.com/google.protobuf.Int32Value',
value: b'\\x08\\x01'}`` is the int 1), and cel-spec's ``dynamic/any/literal_empty``
(``google.protobuf.Any{}``) is an evaluation error, not a compile error. The bytes are read as
protobuf's parser reads them (``runtime/anyunpack.py``).

``data/any_literals.json`` holds the rows in the conformance files' shape, run through
``tests/conformance/run.py``'s ``run_test`` and against cel-cpp, checked and unchecked. Two
properties draw messages with the ``protobuf`` package: a message as it is serialized is the
value its fields give (an oracle written here, so it runs without cel-cpp), and any mutation of
those bytes gives cel-cpp's answer.
"""

from __future__ import annotations

import math

import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance_rows import row_ids, rows_of, run_test
from shared_data import in_ci
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave26 import mine, ours, theirs

from aigw_policy import cel
from aigw_policy.cel import CelError
from aigw_policy.cel.parser import parse
from aigw_policy.cel.runtime.values import Duration, Timestamp, UInt

_ROWS = rows_of("any_literals.json")
_KEYS = {"name", "expr", "value", "eval_error", "disable_check"}
_URL = "type.googleapis.com/google.protobuf."


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=row_ids(_ROWS))
def test_conformance_row(section: str, row: dict) -> None:
    assert set(row) <= _KEYS and ("value" in row) != ("eval_error" in row), row  # a misspelled key fails
    cel.clear_cache()
    ok, why = run_test(row)
    assert ok, (row["expr"], why)


def test_every_section_has_rows() -> None:
    assert len(_ROWS) >= 90 and any(s == "upstream_dynamic_any" for s, _ in _ROWS)


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: Any literals are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=row_ids(_ROWS))
def test_row_is_cel_cpps_answer(cpp: None, section: str, row: dict) -> None:
    expr = row["expr"]
    for checked in (False,) if row.get("disable_check") else (True, False):
        mine_out, cpp_out = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
        if "eval_error" in row:
            assert mine_out[0] == "error" and cpp_out[0] == "error", (expr, checked, mine_out, cpp_out)
        else:
            assert mine_out[0] == "value" and cpp_out == mine_out, (expr, checked, mine_out, cpp_out)


_REFUSED = [  # type-checked, a field of another type or a field Any does not have
    "google.protobuf.Any{type_url: 1}",
    "google.protobuf.Any{type_url: null}",
    f"google.protobuf.Any{{type_url: '{_URL}Int32Value', value: 'x'}}",
    "google.protobuf.Any{foo: 1}",
    "google.protobuf.Any{value: [1]}",
]


@pytest.mark.parametrize("expr", _REFUSED)
def test_a_mistyped_field_is_a_check_error(expr: str) -> None:
    with pytest.raises(CelError) as e:
        cel.compile(expr, {})
    assert e.value.code == "check_error", e.value
    with pytest.raises(CelError):  # unchecked it fails when evaluated
        cel.compile_ast(parse(expr), check=False)({})


_LIST = f"google.protobuf.Any{{type_url: '{_URL}ListValue', value: b'\\x0a\\x02\\x20\\x01'}}"  # [true]
# an Any literal is typed `google.protobuf.Any` (cel-cpp, cel-go): `dyn` wherever a value is
# wanted, but no comprehension range, where it was `dyn` and these checked (session 30)
_NO_RANGE = [f"{_LIST}.all(x, x)", f"{_LIST}.map(x, x) == [true]", f"{_LIST}.exists(i, v, v)",
             f"cel.bind(a, {_LIST}, a.exists(x, x))", f"[{_LIST}][0].filter(x, x) == [true]",
             f"optional.of({_LIST}).value().all(x, x)", f"{{'k': {_LIST}}}.k.exists_one(x, x)"]
_RANGE_OF_DYN = [f"dyn({_LIST}).all(x, x)", f"{_LIST}.size() == 1", f"{_LIST}[0]", f"{_LIST} == [true]",
                 f"true in {_LIST}", f"[{_LIST}].map(l, l.size()) == [1]"]


@pytest.mark.parametrize("expr", _NO_RANGE)
def test_an_any_literal_is_no_comprehension_range(expr: str) -> None:
    with pytest.raises(CelError) as e:
        cel.compile(expr, {})
    assert "`google.protobuf.Any` cannot be the range" in str(e.value), e.value
    assert ours(expr, {}, {}, False) == ("value", True)  # unchecked it ranges over the packed list


@pytest.mark.parametrize("expr", _NO_RANGE + _RANGE_OF_DYN)
def test_an_any_literal_checks_as_cel_cpp(cpp: None, expr: str) -> None:
    for checked in (True, False):
        mine_out, cpp_out = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
        assert mine_out[0] == cpp_out[0], (expr, checked, mine_out, cpp_out)
        assert mine_out[0] != "value" or mine_out == cpp_out, (expr, checked, mine_out, cpp_out)
    assert expr in _NO_RANGE or ours(expr, {}, {}, True) == ("value", True)


# messages drawn with the protobuf package --------------------------------------------------
_numbers = st.sampled_from([0.0, -0.0, 1.5, -3.0, 1e300, math.inf, -math.inf, math.nan])
_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=3)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=3)),
    max_leaves=8,
)


def _value_message(v: object) -> struct_pb2.Value:
    out = struct_pb2.Value()
    if v is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, float):
        out.number_value = v
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, list):
        out.list_value.SetInParent()  # an empty list is still the list kind
        out.list_value.values.extend(_value_message(e) for e in v)
    else:
        out.struct_value.SetInParent()
        for k, e in v.items():  # type: ignore[attr-defined]
            out.struct_value.fields[k].CopyFrom(_value_message(e))
    return out


@st.composite
def _messages(draw: st.DrawFn) -> tuple[str, bytes, object]:
    """(message name, its bytes, the CEL value it stands for)."""
    kind = draw(st.sampled_from(["Bool", "Int32", "Int64", "UInt32", "UInt64", "Double", "Float", "String", "Bytes",
                                 "Duration", "Timestamp", "Value", "Struct", "ListValue"]))
    if kind == "Duration":
        s = draw(st.integers(-9_223_372_036, 9_223_372_035))
        n = draw(st.integers(0, 999_999_999)) * (-1 if s < 0 else 1)
        return kind, duration_pb2.Duration(seconds=s, nanos=n).SerializeToString(), Duration(s * 10**9 + n)
    if kind == "Timestamp":
        s, n = draw(st.integers(-62_135_596_800, 253_402_300_799)), draw(st.integers(0, 999_999_999))
        return kind, timestamp_pb2.Timestamp(seconds=s, nanos=n).SerializeToString(), Timestamp(s * 10**9 + n)
    if kind in ("Value", "Struct", "ListValue"):
        v = draw(_json if kind == "Value" else st.dictionaries(_texts, _json, max_size=3) if kind == "Struct"
                 else st.lists(_json, max_size=3))
        m = _value_message(v)
        msg = m if kind == "Value" else m.struct_value if kind == "Struct" else m.list_value
        return kind, msg.SerializeToString(), v
    strategy, convert = {
        "Bool": (st.booleans(), bool), "Int32": (st.integers(-(2**31), 2**31 - 1), int),
        "Int64": (st.integers(-(2**63), 2**63 - 1), int), "UInt32": (st.integers(0, 2**32 - 1), UInt),
        "UInt64": (st.integers(0, 2**64 - 1), UInt), "Double": (_numbers, float),
        "Float": (st.sampled_from([0.0, 1.5, -2.0, 3.4028234663852886e38, math.inf, math.nan]), float),
        "String": (_texts, str), "Bytes": (st.binary(max_size=4), bytes),
    }[kind]
    v = draw(strategy)
    message = getattr(wrappers_pb2, kind + "Value")(value=v)
    return kind + "Value", message.SerializeToString(), convert(v)


def _literal(name: str, data: bytes) -> str:
    escaped = "".join(f"\\x{b:02x}" for b in data)
    return f"google.protobuf.Any{{type_url: '{_URL}{name}', value: b'{escaped}'}}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_messages())
def test_a_packed_message_is_the_value_of_its_fields(m: tuple[str, bytes, object]) -> None:
    name, data, want = m
    kind, got = ours(_literal(name, data), {}, {}, True)
    assert (kind, got) == ("value", mine(want)), (name, data, got, want)


def _mutated(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for op, at, byte in edits:
        at = at % (len(out) + 1)
        if op == 0:
            out.insert(at, byte)
        elif op == 1 and at < len(out):
            del out[at]
        elif op == 2 and at < len(out):
            out[at] = byte
        else:
            out += bytes(out)
    return bytes(out)


_BYTES = st.sampled_from([0x00, 0x01, 0x08, 0x0A, 0x0B, 0x0C, 0x10, 0x12, 0x7F, 0x80, 0xFF]) | st.integers(0, 255)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_messages(), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 64), _BYTES), min_size=1, max_size=3))
def test_mutated_bytes_give_cel_cpps_answer(cpp: None, m: tuple[str, bytes, object], edits: list) -> None:
    name, data, _ = m
    expr = _literal(name, _mutated(data, edits))
    mine_out, cpp_out = ours(expr, {}, {}, True), theirs(expr, {}, {}, True)
    if mine_out[0] == "error" and "duration out of range" in str(mine_out[1]) and cpp_out[0] == "value":
        return  # kept: durations are int64 nanoseconds, cel-cpp's reach protobuf's 10,000 years
    assert mine_out[0] == cpp_out[0], (expr, mine_out, cpp_out)
    if mine_out[0] == "value":
        assert mine_out == cpp_out, (expr, mine_out, cpp_out)


def _nested(kind: str, levels: int) -> tuple[str, bytes]:
    """A message ``levels`` deep: lists in lists, structs in structs or groups in groups."""
    if kind == "group":
        return "Int32Value", b"\x0b" * levels + b"\x0c" * levels + b"\x08\x01"
    top = struct_pb2.Value()
    cur = top
    for _ in range(levels):
        cur = cur.list_value.values.add() if kind == "list" else cur.struct_value.fields["k"]
    cur.bool_value = True
    return "Value", top.SerializeToString()


# protobuf's parser stops at 100 levels: a list level is two messages, a struct level three (its
# entry is one), a group one
_DEPTHS = [("list", 50, True), ("list", 51, False), ("struct", 33, True), ("struct", 34, False),
           ("group", 100, True), ("group", 101, False)]


@pytest.mark.parametrize(("kind", "levels", "ok"), _DEPTHS)
def test_nesting_past_protobufs_limit_is_an_error(kind: str, levels: int, ok: bool) -> None:
    expr = f"size([{_literal(*_nested(kind, levels))}])"  # the deep value itself is not compared
    got = ours(expr, {}, {}, True)
    assert got[0] == ("value" if ok else "error"), (kind, levels, got)
    if c is not None:
        assert theirs(expr, {}, {}, True)[0] == got[0], (kind, levels)
