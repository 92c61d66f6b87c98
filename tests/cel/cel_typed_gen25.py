"""Wave 25: session 24's type-directed generator widened where it was thin (``Gen25``).

``draw(seed)`` gives ``(expression, declarations, activation)``: the expression reads declared
variables of every messages-free type (scalars, lists and maps of scalars, lists of maps, maps
of lists and maps) whose values are drawn from edge values, and adds productions the wave-24
grammar lacked: ``has()`` on variable maps one and two levels deep, optional chaining on
variable maps and lists (``m.?a.?b``, ``l[?i]``, ``m[?k][?i]``), comprehensions and
``cel.bind`` whose variable shadows a declared one (and nested comprehensions reusing a
name), heterogeneous equality and ``in`` between variables, ``type()`` of variables compared
with type denotations, ``string.format`` of every verb over variables, time arithmetic and
accessors over variables, and error-producing operands (division by zero, overflow, index out
of range, no such key) next to values under ``&&``, ``||`` and ``?:``.

The activation is plain Python (ints, floats, strs, bytes, bools, ``datetime``, ``timedelta``,
lists, dicts), as a host hands it to ours and to cel-cpp's binding alike. Durations and
timestamps are whole microseconds (the binding's ``timedelta``/``datetime`` precision).
"""

from __future__ import annotations

import datetime as dt
import random

from cel_typed_gen import FORMATS, INTS, STRINGS, TYPE_NAMES, TYPES, Gen

_UTC = dt.timezone.utc
# name: (declaration, wave-24 kind, candidate host values)
VARS: dict[str, tuple[str, str, list[object]]] = {
    "vi": ("int", "int", [0, 1, -1, 7, 2**63 - 1, -(2**63), 2**53 + 1]),
    "vu": ("uint", "uint", [0, 1, 7, 2**64 - 1, 2**63]),
    "vd": ("double", "double", [0.0, -0.0, 1.0, -1.5, 2.5, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324,
                                9007199254740993.0, 2.0**63]),
    "vs": ("string", "string", ["", "a", "é", "😀", "a,b", "%s", "1", "A b", "\t", "ΣΑΣ"]),
    "vb": ("bytes", "bytes", [b"", b"a", b"\xff", b"\xc3\xa9", b"\x01\x7f"]),
    "vo": ("bool", "bool", [True, False]),
    "vt": ("timestamp", "timestamp", [dt.datetime(1970, 1, 1, tzinfo=_UTC), dt.datetime(1, 1, 1, 0, 0, 1, tzinfo=_UTC),
                                      dt.datetime(9999, 12, 31, 23, 59, 58, tzinfo=_UTC),
                                      dt.datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=_UTC),
                                      dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=_UTC)]),
    "vr": ("duration", "duration", [dt.timedelta(0), dt.timedelta(seconds=1), dt.timedelta(microseconds=-1),
                                    dt.timedelta(hours=-25, microseconds=7), dt.timedelta(days=10000),
                                    dt.timedelta(seconds=1.5)]),
    "vl": ("list(int)", "list", [[], [1, 2, 3], [0], [-1, 2**63 - 1], [3, 1, 2, 1]]),
    "vls": ("list(string)", "list", [[], ["a", "b"], ["", "é"], ["b", "a", "b"]]),
    "vld": ("list(double)", "list", [[], [1.0, -0.0], [float("nan")], [0.5, 2.5]]),
    "vlm": ("list(map(string, int))", "list", [[], [{"a": 1}], [{}, {"a": 1, "b": 2}]]),
    "vm": ("map(string, int)", "map", [{}, {"a": 1}, {"a": 0, "b": -1}, {"k": 7, "": 0}]),
    "vmi": ("map(int, string)", "map", [{}, {1: "a"}, {0: "", -1: "x", 2: "b"}]),
    "vmu": ("map(uint, bool)", "map", [{}, {1: True}, {0: False, 2**64 - 1: True}]),
    "vmo": ("map(bool, int)", "map", [{}, {True: 1}, {False: 0, True: 2}]),
    "vml": ("map(string, list(string))", "map", [{}, {"a": []}, {"a": ["x", "y"], "b": [""]}]),
    "vmm": ("map(string, map(string, int))", "map", [{}, {"a": {}}, {"a": {"b": 1}}, {"a": {"b": 0}, "c": {"d": 2}}]),
    "vy": ("dyn", "dyn", [1, "a", [1, "a"], {"a": 1}, None, 2.5, True, b"z"]),
}
_KIND_VARS: dict[str, list[str]] = {}
for _n, (_d, _k, _) in VARS.items():
    _KIND_VARS.setdefault(_k, []).append(_n)
_VY_CMP = ["1", "1u", "1.0", "null", "[1, 'a']", "{'a': 1}", "'a'"]
_VM_CMP = ["vmi", "{}", "{'a': 1u}", "{'a': 1.0}"]
_DUR_TEXT = ["'1s'", "'-1ns'", "'86400s'", "'-315537897599s'"]
KEYS = ["'a'", "'b'", "'k'", "''", "'z'"]
ERRORS = ["1 / 0", "1 % 0", "9223372036854775807 + 1", "[1][5]", "{'a': 1}['z']", "-(-9223372036854775808)",
          "0u - 1u", "int(1e19)", "'a'.charAt(9)"]


class Gen25(Gen):
    """Session 24's grammar plus the productions above, over ``VARS``."""

    def __init__(self, rng: random.Random, ill: float = 0.04, max_depth: int = 3) -> None:
        super().__init__(rng, ill=ill, max_depth=max_depth)

    def leaf(self, t: str) -> str:
        names = _KIND_VARS.get(t)
        if names and self.r.random() < 0.45:
            return self.r.choice(names)
        return super().leaf(t)

    def expr(self, t: str, depth: int = 0) -> str:
        if depth < self.max_depth and self.r.random() < 0.35:
            extra = getattr(self, "x_" + t, None)
            if extra is not None:
                return extra(depth + 1)
        return super().expr(t, depth)

    # productions the wave-24 grammar lacked ----------------------------------------------
    def _err(self, t: str) -> str:
        """An operand that fails at run time, of (static) type ``t`` where it matters."""
        e = self.r.choice(ERRORS)
        return {"bool": f"({e}) == 0", "int": f"({e}) + 0" if "u" not in e else "int(" + e + ")"}.get(t, f"dyn({e})")

    def x_bool(self, d: int) -> str:
        e, r, p = self.expr, self.r, self.r.choice
        x = p(["vi", "vs", "vl", "vm", "x"])  # a comprehension variable shadowing a declared one (or not)
        forms = [
            lambda: f"has(vm.{p(['a', 'b', 'k', 'z'])})",
            lambda: f"has(vmm.{p(['a', 'c', 'z'])}.{p(['b', 'd', 'z'])})",
            lambda: f"has(vml.{p(['a', 'b'])})",
            lambda: f"has(vy.{p(['a', 'b'])})",
            lambda: f"vl.exists({x}, {x} == {e('int', d)})",
            lambda: f"vl.all(vi, vi > vi - 1) && vi == vi",
            lambda: f"vm.exists(vs, vs == {p(KEYS)}) || vs == {p(STRINGS)}",
            lambda: f"vlm.exists(vm, has(vm.a) && vm.a > 0)",
            lambda: f"vmm.all(k, v, v.all(k, k != ''))",
            lambda: f"vl.exists(i, v, v == i) != vl.exists_one(v, v == 0)",
            lambda: f"[[1], [2, 3]].exists(x, x.exists(x, x == {e('int', d)}))",
            lambda: f"cel.bind(vi, {e('int', d)}, vi == vi) && vi == vi",
            lambda: f"{p(['vi', 'vu', 'vd'])} == {p(['vi', 'vu', 'vd', 'dyn(vy)'])}",
            lambda: f"dyn({p(['vi', 'vu', 'vd'])}) < dyn({p(['vi', 'vu', 'vd'])})",
            lambda: f"{p(['vi', 'vu', 'vd', 'vy'])} in {p(['vl', 'vld', 'vmi', 'vmu', 'vmo', '[vi, vu, vd]'])}",
            lambda: f"dyn(vl) == dyn({p(['vld', 'vls', '[1, 2, 3]', '[1u, 2.0, 3]'])})",
            lambda: f"dyn(vm) == dyn({p(_VM_CMP)})",
            lambda: f"type({p(list(VARS))}) == {p(TYPE_NAMES)}",
            lambda: f"{self._err('bool')} {p(['||', '&&'])} {e('bool', d)}",
            lambda: f"{e('bool', d)} {p(['||', '&&'])} {self._err('bool')}",
            lambda: f"vl.exists(v, 1 / v > 0)",
            lambda: f"vl.all(v, 10 / v != 0)",
            lambda: f"vm.?{p(['a', 'z'])}.hasValue()",
            lambda: f"vy == {p(_VY_CMP)}",
        ]
        return r.choice(forms)()

    def x_int(self, d: int) -> str:
        e, r, p = self.expr, self.r, self.r.choice
        forms = [
            lambda: f"vm.?{p(['a', 'b', 'z'])}.orValue({e('int', d)})",
            lambda: f"vmm.?{p(['a', 'c', 'z'])}.?{p(['b', 'd', 'z'])}.orValue({p(INTS)})",
            lambda: f"vl[?{e('int', d)}].orValue({p(INTS)})",
            lambda: f"vlm[?0].?a.orValue(-1)",
            lambda: f"vl[{e('int', d)}]",
            lambda: f"vm[{p(KEYS)}]",
            lambda: f"vmm[{p(KEYS)}][{p(KEYS)}]",
            lambda: f"size({p(['vl', 'vm', 'vs', 'vb', 'vml', 'vmm'])})",
            lambda: f"vl.map(vi, vi * 2).size() + vi",
            lambda: f"cel.bind(vi, vi + 1, vi)",
            lambda: f"vt.{p(['getFullYear', 'getMonth', 'getDayOfYear', 'getDate', 'getHours', 'getMilliseconds'])}"
                    f"({p(['', repr('UTC'), repr('-08:00'), repr('Asia/Kolkata'), repr('+14:00')])})",
            lambda: f"vr.{p(['getHours', 'getMinutes', 'getSeconds', 'getMilliseconds'])}()",
            lambda: f"int(vt)",
            lambda: f"{p(['vi', 'int(vu)', 'int(vd)'])} {p(['+', '-', '*', '/', '%'])} {p(['vi', '1', '-1', '0'])}",
            lambda: f"({e('bool', d)} ? {self._err('int')} : {e('int', d)})",
        ]
        return r.choice(forms)()

    def x_string(self, d: int) -> str:
        r, p = self.r, self.r.choice
        forms = [
            lambda: f"{p(FORMATS)}.format([{p(list(VARS))}])",
            lambda: f"'%s %d'.format([{p(['vs', 'vl', 'vm', 'vt', 'vr', 'vy'])}, {p(['vi', 'vu', 'vd'])}])",
            lambda: f"string({p(['vi', 'vu', 'vd', 'vs', 'vb', 'vt', 'vr', 'vo'])})",
            lambda: f"vml.?{p(['a', 'b', 'z'])}[?{p(['0', '1'])}].orValue('-')",
            lambda: f"vmi[?{p(['0', '1', '1u', '1.0', '-1', '2.0'])}].orValue('none')",
            lambda: f"vls.join({p(['', repr(','), 'vs'])})",
            lambda: f"vs.{p(['upperAscii()', 'lowerAscii()', 'reverse()', 'trim()', 'charAt(0)', 'substring(1)'])}",
            lambda: f"vs + {p(STRINGS)}",
            lambda: f"strings.quote(vs)",
        ]
        return r.choice(forms)()

    def x_timestamp(self, d: int) -> str:
        p = self.r.choice
        return p([f"vt + vr", f"vt - vr", f"vr + vt", f"timestamp(int(vt) + {p(INTS)})",
                  f"vt + duration({p(_DUR_TEXT)})"])

    def x_duration(self, d: int) -> str:
        p = self.r.choice
        return p(["vr + vr", "vr - vr", "vt - vt", f"vt - timestamp({p(INTS)})", "duration(string(vr))"])

    def x_list(self, d: int) -> str:
        p = self.r.choice
        return p(["vl.map(x, x * 2)", "vls.filter(s, s != '')", "vlm.map(m, m.?a.orValue(0))",
                  "vmm.map(k, k)", "vml.map(k, vml[k].size())",
                  "vl + vld", "[vi, vu, vd].map(n, dyn(n))", f"vl.filter(v, {self._err('bool')} || v > 0)",
                  "[vl, [vi]][0]", "vls.sort()", "vl.sortBy(v, -v)", "vlm.map(m, m.transformList(k, v, k))"])

    def x_map(self, d: int) -> str:
        p = self.r.choice
        return p(["vm.transformMap(k, v, v + 1)", "{'x': vm, ?'y': vmm.?a}", "{vs: vi}", "{vi: vs, vu: vo}",
                  "vmm.?a.orValue({})", "{'a': vl, 'b': vls}", "{vo: vd}"])

    def x_opt(self, d: int) -> str:
        p = self.r.choice
        return p([f"vm.?{p(['a', 'z'])}", "vmm.?a.?b", "vl[?0]", f"vml[?{p(KEYS)}]", "vy.?a", "optional.of(vy)",
                  "vlm[?0].?a", "optional.ofNonZeroValue(vs)", "optional.ofNonZeroValue(vl)"])


def draw(seed: int) -> tuple[str, dict[str, str], dict[str, object]]:
    """An expression of a drawn type, the declarations of every variable and their values."""
    r = random.Random(seed)
    expr = Gen25(r, ill=0.0 if seed % 3 else 0.05, max_depth=r.choice([1, 2, 3])).expr(r.choice(TYPES))
    decls = {n: d for n, (d, _, _) in VARS.items()}
    act = {n: r.choice(vals) for n, (_, _, vals) in VARS.items()}
    return expr, decls, act
