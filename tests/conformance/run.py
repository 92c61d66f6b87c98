"""Run cel-spec conformance files (the JSON form of ``SimpleTestFile``) against our compiler.

    python tests/conformance/run.py [DIR_OR_FILE ...]      (default: ../shared/cel-spec)

Prints a per-file table and ends with ``N passed, M failed``; exits 1 on any failure.
Without arguments and without the data (a fresh clone with nothing beside it) it prints
``conformance: skipped, ../shared/cel-spec not found`` and exits 0, except under ``CI=true``
where missing data is a failure (exit 1). A path given that does not exist: exit 2.
``-v`` lists each failure with its reason; ``-k TEXT`` keeps tests whose id contains TEXT.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from aigw_policy.cel import CelError, compile_ast  # noqa: E402
from aigw_policy.cel.parser import parse  # noqa: E402
from aigw_policy.cel.runtime.checks import TYPES  # noqa: E402
from aigw_policy.cel.runtime.ops import eq  # noqa: E402
from aigw_policy.cel.runtime.timefmt import parse_duration, parse_timestamp  # noqa: E402
from aigw_policy.cel.runtime.values import Duration, Optional, Timestamp, TypeValue, UInt  # noqa: E402
from aigw_policy.cel.types import (  # noqa: E402
    BOOL, BYTES, DOUBLE, DURATION, DYN, INT, NULL, STRING, TIMESTAMP, UINT, Type,
    list_of, map_of, opaque, param, type_of,
)  # fmt: skip

from shared_data import CEL_SPEC as DEFAULT, in_ci


def to_value(v: dict):  # type: ignore[no-untyped-def]
    """A cel.expr.Value (JSON form) -> our runtime value."""
    if "null_value" in v:
        return None
    if "bool_value" in v:
        return bool(v["bool_value"])
    if "int64_value" in v:
        return int(v["int64_value"])
    if "uint64_value" in v:
        return UInt(int(v["uint64_value"]))
    if "double_value" in v:
        d = v["double_value"]
        return float(d) if not isinstance(d, str) else float(d.replace("Infinity", "inf"))
    if "string_value" in v:
        return v["string_value"]
    if "bytes_value" in v:
        return base64.b64decode(v["bytes_value"])
    if "list_value" in v:
        return [to_value(x) for x in v["list_value"].get("values", [])]
    if "map_value" in v:
        out = {}
        for e in v["map_value"].get("entries", []):
            out[to_value(e["key"])] = to_value(e["value"])
        return out
    if "type_value" in v:
        name = v["type_value"]
        return TYPES.get(name) or TypeValue(name)
    if "object_value" in v:
        return _well_known(v["object_value"])
    if not v:
        return None
    raise Unsupported(f"value {v}")


_WRAPPERS = {"BoolValue": bool, "BytesValue": base64.b64decode, "DoubleValue": float, "FloatValue": float,
             "Int32Value": int, "Int64Value": int, "UInt32Value": lambda x: UInt(int(x)),
             "UInt64Value": lambda x: UInt(int(x)), "StringValue": str}


def _well_known(o: dict):  # type: ignore[no-untyped-def]
    """An ``object_value`` (a ``google.protobuf.Any``, JSON form: ``@type`` and the message's
    JSON, a well-known type's under ``value``) of a well-known type -> our runtime value;
    a user message is unsupported. Also the field form (``seconds``/``nanos``)."""
    name = str(o.get("@type", "")).rsplit("/", 1)[-1]
    if not name.startswith("google.protobuf."):
        raise Unsupported("protobuf message values")
    kind, fields = name.rsplit(".", 1)[-1], o.get("@fields", o)
    if kind in ("Duration", "Timestamp") and "value" not in o:
        ns = int(fields.get("seconds", 0)) * 10**9 + int(fields.get("nanos", 0))
        return Duration(ns) if kind == "Duration" else Timestamp(ns)
    if kind == "Duration":
        return parse_duration(o["value"])
    if kind == "Timestamp":
        return parse_timestamp(o["value"])
    if kind in _WRAPPERS:
        return _WRAPPERS[kind](o.get("value", _WRAPPERS[kind]("" if kind in ("StringValue", "BytesValue") else 0)))
    if kind in ("Value", "Struct", "ListValue"):
        return _json(o.get("value"))
    if kind == "Any" and isinstance(o.get("value"), dict):
        return _well_known(o["value"])
    raise Unsupported(f"well-known type {name}")


def _json(x):  # type: ignore[no-untyped-def]
    """A ``google.protobuf.Value`` in its JSON form: numbers are doubles."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, list):
        return [_json(e) for e in x]
    return {k: _json(e) for k, e in x.items()}


_MESSAGES = {"google.protobuf.Duration": DURATION, "google.protobuf.Timestamp": TIMESTAMP,
             "google.protobuf.Any": DYN, "google.protobuf.Value": DYN, "google.protobuf.Struct": map_of(STRING, DYN),
             "google.protobuf.ListValue": list_of(DYN),
             **{f"google.protobuf.{w}Value": DYN for w in ("Bool", "Bytes", "Double", "Float", "Int32", "Int64",
                                                           "UInt32", "UInt64", "String")}}
"""A wrapper is nullable: ``dyn`` as its literal is typed (aigw_policy/cel/wellknown.py)."""


_PRIM = {"BOOL": BOOL, "INT64": INT, "UINT64": UINT, "DOUBLE": DOUBLE, "STRING": STRING, "BYTES": BYTES}
_WELL = {"TIMESTAMP": TIMESTAMP, "DURATION": DURATION}


def to_type(t: dict) -> Type:
    if "primitive" in t:
        return _PRIM[t["primitive"]]
    if "dyn" in t:
        return DYN
    if "null" in t:
        return NULL
    if "well_known" in t:
        return _WELL.get(t["well_known"], DYN)
    if "list_type" in t:
        return list_of(to_type(t["list_type"].get("elem_type", {"dyn": {}})))
    if "map_type" in t:
        m = t["map_type"]
        return map_of(to_type(m["key_type"]), to_type(m["value_type"]))
    if "type_param" in t:
        return param(t["type_param"])
    if "abstract_type" in t:
        a = t["abstract_type"]
        return opaque(a["name"], *(to_type(p) for p in a.get("parameter_types", [])))
    if "type" in t:
        return type_of(to_type(t["type"]))
    if "message_type" in t:
        if t["message_type"] in _MESSAGES:
            return _MESSAGES[t["message_type"]]
        raise Unsupported("protobuf message types")
    return DYN  # `dyn`, or a `wrapper` (nullable: `dyn`, as a wrapper literal is typed)


class Unsupported(Exception):
    pass


def same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Value equality for matching results: typed, NaN matches NaN, maps unordered."""
    if type(a) is not type(b):
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            pass
        else:
            return False
    if isinstance(a, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            match = [kb for kb in b if type(kb) is type(k) and kb == k]
            if not match or not same(v, b[match[0]]):
                return False
        return True
    if isinstance(a, Optional):
        return a.present == b.present and (not a.present or same(a.value, b.value))
    return bool(eq(a, b))


def run_test(t: dict) -> tuple[bool, str]:
    expr = t["expr"]
    decls: dict[str, Type] = {}
    functions: dict[str, list] = {}
    for d in t.get("type_env", []):
        if "ident" in d:
            decls[d["name"]] = to_type(d["ident"]["type"])
        elif "function" in d:
            functions[d["name"]] = d["function"].get("overloads", [])
    bindings = {k: to_value(v["value"]) for k, v in t.get("bindings", {}).items()}
    for k in bindings:
        decls.setdefault(k, DYN)
    check = not t.get("disable_check", False)
    try:
        node = parse(expr)
        prog = compile_ast(
            node,
            decls,
            source=expr,
            container=t.get("container", ""),
            check=check,
            function_decls=functions,
        )
    except CelError as e:
        if "eval_error" in t or "any_eval_errors" in t:
            return True, ""
        return False, f"compile error: {e}"
    except Exception as e:  # noqa: BLE001
        if "eval_error" in t or "any_eval_errors" in t:
            return True, ""
        return False, f"compile crash: {type(e).__name__}: {e}"
    typed = t.get("typed_result")
    if typed and "deduced_type" in typed:
        want = to_type(typed["deduced_type"])
        if prog.type != want:
            return False, f"deduced type {prog.type}, want {want}"
    if t.get("check_only"):
        return True, ""
    try:
        got = prog(bindings)
    except CelError as e:
        if "eval_error" in t or "any_eval_errors" in t:
            return True, ""
        return False, f"eval error: {e}"
    except Exception as e:  # noqa: BLE001
        return False, f"eval crash: {type(e).__name__}: {e}"
    if "eval_error" in t or "any_eval_errors" in t:
        return False, f"want an error, got {got!r}"
    if typed and "result" in typed:
        want_v = to_value(typed["result"])
    elif "value" in t:
        want_v = to_value(t["value"])
    else:
        want_v = True
    if not same(got, want_v):
        return False, f"got {got!r}, want {want_v!r}"
    return True, ""


def files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(path.glob("*.json")))
        else:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="keyword", default=None)
    args = ap.parse_args(argv)
    if not args.paths:
        if not DEFAULT.is_dir():
            shown = os.path.relpath(DEFAULT)
            if in_ci():
                print(f"conformance: FAILED, {shown} not found (CI=true needs the data; "
                      "set AIGW_SHARED to the shared data directory)", file=sys.stderr)
                return 1
            print(f"conformance: skipped, {shown} not found (set AIGW_SHARED to run it)")
            return 0
        args.paths = [str(DEFAULT)]
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"conformance: {', '.join(missing)} not found", file=sys.stderr)
        return 2
    total_pass = total_fail = 0
    failures: list[str] = []
    rows = []
    for f in files(args.paths):
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            print(f"{f}: unreadable: {e}", file=sys.stderr)
            return 2
        if not isinstance(doc, dict) or "section" not in doc and "name" not in doc:
            continue
        p = n = 0
        for section in doc.get("section", []):
            for t in section.get("test", []):
                tid = f"{doc.get('name', f.stem)}/{section.get('name')}/{t.get('name')}"
                if args.keyword and args.keyword not in tid:
                    continue
                try:
                    ok, why = run_test(t)
                except Unsupported as e:
                    ok, why = False, f"unsupported: {e}"
                except Exception as e:  # noqa: BLE001
                    ok, why = False, f"runner crash: {type(e).__name__}: {e}"
                n += 1
                if ok:
                    p += 1
                else:
                    failures.append(f"{tid}: {t['expr']!r}: {why}")
        if n:
            rows.append((f.name, p, n - p))
            total_pass += p
            total_fail += n - p
    width = max((len(r[0]) for r in rows), default=10)
    print(f"{'file':<{width}}  passed  failed")
    for name, p, fl in rows:
        print(f"{name:<{width}}  {p:>6}  {fl:>6}")
    if args.verbose:
        for line in failures:
            print("FAIL", line)
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
