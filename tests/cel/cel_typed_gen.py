"""A type-directed random generator of CEL expressions (wave 24).

``Gen(rng).expr(t)`` builds the text of an expression of CEL type ``t`` (``"int"``, ``"uint"``,
``"double"``, ``"string"``, ``"bytes"``, ``"bool"``, ``"timestamp"``, ``"duration"``,
``"list"``, ``"map"``, ``"opt"``, ``"dyn"``, ``"type"``, ``"null"``) from every operator, macro,
conversion and extension function we claim, over edge values (int64/uint64 bounds, -0.0, NaN,
infinities, astral and combining characters, invalid UTF-8 bytes, empty lists and maps, maps
with keys of several numeric kinds, nested optionals, timestamps at years 1 and 9999 with time
zones, durations at their bounds). With probability ``ill`` an operand is drawn of another
type, so about as many expressions are ill-typed (the checker's answer is compared too).

It is seeded by a ``random.Random``: the hypothesis property draws the seed, the throwaway
campaign (docs/decisions.md, session 24) drew hundreds of thousands of them.
"""

from __future__ import annotations

import random

SCALARS = ["int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration"]
TYPES = SCALARS + ["list", "map", "opt", "dyn", "type", "null"]

INTS = ["0", "1", "-1", "2", "7", "-7", "63", "64", "9223372036854775807", "-9223372036854775808",
        "-9223372036854775807", "4611686018427387904", "0x7fffffffffffffff", "-0x8000000000000000",
        "1000000000", "253402300799", "-62135596800", "315576000000", "9007199254740993"]
UINTS = ["0u", "1u", "2u", "7u", "63u", "64u", "18446744073709551615u", "9223372036854775807u",
         "9223372036854775808u", "0xffffffffffffffffu", "4294967296u"]
DOUBLES = ["0.0", "-0.0", "1.0", "-1.0", "0.5", "-0.5", "2.5", "-2.5", "1e308", "-1e308", "1.7976931348623157e308",
           "5e-324", "-5e-324", "2.2250738585072014e-308", "1e21", "1e-7", "9223372036854775807.0",
           "-9223372036854775808.0", "18446744073709551615.0", "18446744073709551616.0", "9007199254740993.0",
           "double('NaN')", "double('inf')", "double('-inf')", "0.49999999999999994", "123.456", "1e100",
           "4503599627370497.0", "-4503599627370496.5"]
STRINGS = ["''", "'a'", "'abc'", "'ABC'", "' a b '", "'é'", "'e\\u0301'", "'😀'", "'a😀b'", "'\\U0001F600x'",
           "'ß'", "'İ'", "'ΣΑΣ'", "'\\t\\n'", "'\\x00'", "'\\u00ff'", "'%'", "'%d'", "'%s %s'", "'1'", "'-1'",
           "'1.5'", "'NaN'", "'inf'", "'-inf'", "'true'", "'false'", "'0x10'", "'9223372036854775808'",
           "'18446744073709551615'", "'1e3'", "'1s'", "'-1.5h'", "'2023-01-01T00:00:00Z'", "'a,b,,c'",
           "'日本語'", "'\\uFEFFx'", "'x\\u200dy'", "'Ⅻ'", "'\\u2028'", "'  '", "'\\\\'", "'\"'", "\"'\"",
           "'🏳️‍🌈'", "'abcabc'", "'AbC'", "'k'", "'1u'", "'1.0'", "'-0'", "'+1'", "' 1'", "'1 '"]
BYTES = ["b''", "b'a'", "b'abc'", "b'\\xff'", "b'\\xc3'", "b'\\xc3\\xa9'", "b'\\x00\\x01'", "b'\\xf0\\x9f\\x98\\x80'",
         "b'\\xed\\xa0\\x80'", "b'\\xc0\\x80'", "b'YWJj'", "b'YQ=='", "b'YQ'", "b'\\x80'", "b'\\xfe\\xff'"]
TIMESTAMPS = ["timestamp('0001-01-01T00:00:00Z')", "timestamp('9999-12-31T23:59:59.999999999Z')",
              "timestamp('1970-01-01T00:00:00Z')", "timestamp('2024-02-29T12:34:56.789Z')",
              "timestamp('2023-03-12T02:30:00-05:00')", "timestamp('2000-01-01T00:00:00+14:00')",
              "timestamp('1969-12-31T23:59:59.999999999Z')", "timestamp(0)", "timestamp(-1)",
              "timestamp(253402300799)", "timestamp(-62135596800)", "timestamp('2021-12-31T23:59:60Z')",
              "timestamp('0001-01-01T00:00:00+01:00')", "timestamp('9999-12-31T23:59:59-01:00')",
              "timestamp('2020-06-15T10:00:00.5+05:30')", "timestamp('2016-12-31T23:59:59.123456789Z')"]
DURATIONS = ["duration('0s')", "duration('1s')", "duration('-1s')", "duration('1ns')", "duration('-1ns')",
             "duration('1.5h')", "duration('-90m')", "duration('315576000000s')", "duration('-315576000000s')",
             "duration('9223372036s')", "duration('-9223372036s')", "duration('9223372036.854775807s')",
             "duration('-9223372036.854775808s')", "duration('1h2m3s4ms5us6ns')", "duration('0.000000001s')",
             "duration('24h')", "duration('-0s')", "duration('1000000h')", "duration('2562047h')"]
ZONES = ["'UTC'", "'America/New_York'", "'Asia/Kolkata'", "'Australia/Lord_Howe'", "'+05:30'", "'-08:00'",
         "'+00:00'", "'-00:00'", "'Europe/Dublin'", "'Pacific/Kiritimati'", "'Pacific/Pago_Pago'", "'+23:59'",
         "'-23:59'", "'America/St_Johns'", "'Etc/GMT+12'", "'Nope/Zone'", "''", "'5:00'", "'+24:00'", "'Z'",
         "'utc'", "'Asia/Kathmandu'"]
TYPE_NAMES = ["int", "uint", "double", "string", "bytes", "bool", "null_type", "list", "map", "type",
              "google.protobuf.Timestamp", "google.protobuf.Duration"]
FORMATS = ["'%s'", "'%d'", "'%f'", "'%.2f'", "'%e'", "'%.3e'", "'%x'", "'%X'", "'%o'", "'%b'", "'%.0f'",
           "'%10s'", "'%-5d'", "'%%'", "'%s-%s'", "'%.20f'", "'%.f'", "'%'", "'%q'"]
REGEXES = ["'a'", "'^a'", "'a+'", "'(a)(b)?'", "'[0-9]+'", "'\\\\d'", "'.'", "'(?i)abc'", "''", "'^$'",
           "'\\\\p{L}'", "'(x'", "'a{2,}'", "'\\\\b'", "'(?P<n>a)'", "'[[:alpha:]]'", "'é|😀'",
           "'(a*)*'", "'$'", "'\\\\pN'"]
NAMES = ["x", "y", "k", "v", "i", "a"]

# declared variables (name: (our declaration, its type here)); their values are drawn from EDGE_VALUES
VARIABLES = {"vi": ("int", "int"), "vu": ("uint", "uint"), "vd": ("double", "double"), "vs": ("string", "string"),
             "vb": ("bytes", "bytes"), "vo": ("bool", "bool"), "vt": ("timestamp", "timestamp"),
             "vr": ("duration", "duration"), "vl": ("list(int)", "list"), "vm": ("map(string, int)", "map"),
             "vy": ("dyn", "dyn")}


class Gen:
    """Draws expression texts of a given CEL type from ``rng``; ``ill`` is the chance that an
    operand is drawn of a wrong type."""

    def __init__(self, rng: random.Random, ill: float = 0.06, max_depth: int = 4, variables: bool = False) -> None:
        self.r = rng
        self.variables = variables
        self.ill = ill
        self.max_depth = max_depth
        self.scope: list[tuple[str, str]] = []  # comprehension variables in scope: (name, type)

    def pick(self, xs: list[str]) -> str:
        return self.r.choice(xs)

    def expr(self, t: str, depth: int = 0) -> str:
        r = self.r
        if r.random() < self.ill:
            t = r.choice(TYPES)
        if self.scope and r.random() < 0.25:
            same = [n for n, vt in self.scope if vt == t or vt == "dyn"]
            if same:
                return r.choice(same)
        if depth >= self.max_depth or r.random() < 0.3:
            return self.leaf(t)
        return getattr(self, "g_" + t)(depth + 1)

    # leaves -------------------------------------------------------------------------------
    def leaf(self, t: str) -> str:
        p = self.pick
        if self.variables and self.r.random() < 0.4:
            names = [n for n, (_, vt) in VARIABLES.items() if vt == t]
            if names:
                return self.r.choice(names)
        return {
            "int": lambda: p(INTS), "uint": lambda: p(UINTS), "double": lambda: p(DOUBLES),
            "string": lambda: p(STRINGS), "bytes": lambda: p(BYTES), "bool": lambda: p(["true", "false"]),
            "timestamp": lambda: p(TIMESTAMPS), "duration": lambda: p(DURATIONS),
            "list": lambda: p(["[]", "[1, 2, 3]", "[1u, 2.0, 3]", "['a', 'b']", "[[1], []]", "[null]",
                               "[-0.0, 0.0]", "[double('NaN')]", "[1, 'a', true]", "[b'a', b'']",
                               "[optional.none()]", "[{}]", "[3, 1, 2, 1]", "['b', 'a', 'c']"]),
            "map": lambda: p(["{}", "{'a': 1}", "{1: 'a', 2u: 'b', 3.0: 'c'}", "{true: 1, 1: 2}",
                              "{'a': {'b': 1}}", "{-1: -1, 0u: 0}", "{'a': null}", "{1: [1], 2: []}",
                              "{'': ''}", "{'😀': 1, 'é': 2}", "{'x': optional.of(1)}"]),
            "opt": lambda: p(["optional.none()", "optional.of(1)", "optional.of(optional.none())",
                              "optional.of(optional.of(0))", "optional.ofNonZeroValue(0)",
                              "optional.ofNonZeroValue('')", "optional.of('a')", "optional.of(null)",
                              "optional.ofNonZeroValue([])", "optional.of(-0.0)", "optional.ofNonZeroValue(-0.0)"]),
            "dyn": lambda: "dyn(" + self.leaf(self.r.choice(SCALARS + ["list", "map"])) + ")",
            "type": lambda: p(TYPE_NAMES + ["type(1)", "type(null)", "type(type)"]),
            "null": lambda: "null",
        }[t]()

    # composite productions ---------------------------------------------------------------
    def common(self, t: str, d: int) -> list[str]:
        """Forms of any type: a ternary, a binding, an index, a `dyn`, an optional's value."""
        e = self.expr
        x = self.r.choice(NAMES)
        outs = [
            f"({e('bool', d)} ? {e(t, d)} : {e(t, d)})",
            f"cel.bind({x}, {e(t, d)}, {x})",
            f"[{e(t, d)}][0]",
            f"{{'k': {e(t, d)}}}['k']",
            f"optional.of({e(t, d)}).value()",
            f"{e('opt', d)}.orValue({e(t, d)})",
            f"[{e(t, d)}, {e(t, d)}][{e('int', d)}]",
        ]
        if t != "dyn":
            outs.append(f"dyn({e(t, d)})")
        return outs

    def choose(self, t: str, d: int, forms: list[str]) -> str:
        if self.r.random() < 0.15:
            return self.r.choice(self.common(t, d))
        return self.r.choice(forms)

    def lazy(self, t: str, d: int, forms: list) -> str:  # type: ignore[type-arg]
        if self.r.random() < 0.15:
            return self.r.choice(self.common(t, d))
        return self.r.choice(forms)()

    def num(self, d: int) -> str:
        return self.expr(self.r.choice(["int", "uint", "double"]), d)

    def g_int(self, d: int) -> str:
        e = self.expr
        op = lambda: self.r.choice(["+", "-", "*", "/", "%"])  # noqa: E731
        return self.lazy("int", d, [
            lambda: f"({e('int', d)} {op()} {e('int', d)})",
            lambda: f"-{e('int', d)}",
            lambda: f"-({e('int', d)})",
            lambda: f"int({e(self.r.choice(['uint', 'double', 'string', 'timestamp', 'int', 'dyn', 'bool', 'duration']), d)})",
            lambda: f"size({e(self.r.choice(['string', 'bytes', 'list', 'map']), d)})",
            lambda: f"{e(self.r.choice(['string', 'bytes', 'list', 'map']), d)}.size()",
            lambda: f"{e('string', d)}.indexOf({e('string', d)})",
            lambda: f"{e('string', d)}.indexOf({e('string', d)}, {e('int', d)})",
            lambda: f"{e('string', d)}.lastIndexOf({e('string', d)})",
            lambda: f"{e('string', d)}.lastIndexOf({e('string', d)}, {e('int', d)})",
            lambda: f"math.abs({e('int', d)})", lambda: f"math.sign({e('int', d)})",
            lambda: f"math.greatest({e('int', d)}, {e('int', d)})",
            lambda: f"math.least({e('int', d)}, {self.num(d)})",
            lambda: f"math.greatest([{e('int', d)}, {self.num(d)}])",
            lambda: f"math.bitAnd({e('int', d)}, {e('int', d)})",
            lambda: f"math.bitOr({e('int', d)}, {e('int', d)})",
            lambda: f"math.bitXor({e('int', d)}, {e('int', d)})",
            lambda: f"math.bitNot({e('int', d)})",
            lambda: f"math.bitShiftLeft({e('int', d)}, {e('int', d)})",
            lambda: f"math.bitShiftRight({e('int', d)}, {e('int', d)})",
            lambda: f"{e('timestamp', d)}.{self.r.choice(_TS_GET)}({self.r.choice(['', *ZONES])})",
            lambda: f"{e('duration', d)}.{self.r.choice(['getHours', 'getMinutes', 'getSeconds', 'getMilliseconds'])}()",
            lambda: f"{e('list', d)}.map({self.v('dyn')}, {e('int', d)})[{e('int', d)}]",
            lambda: f"{e('list', d)}.exists_one({self.v('dyn')}, {e('bool', d)}) ? 1 : 0",
            lambda: f"lists.range({e('int', d)} % 50).size()",
            lambda: f"{e('list', d)}.first().orValue(0)",
            lambda: f"{e('map', d)}.transformList(k, v, {e('int', d)}).size()",
        ])

    def v(self, t: str) -> str:
        return self.r.choice(NAMES)

    def g_uint(self, d: int) -> str:
        e = self.expr
        op = lambda: self.r.choice(["+", "-", "*", "/", "%"])  # noqa: E731
        return self.lazy("uint", d, [
            lambda: f"({e('uint', d)} {op()} {e('uint', d)})",
            lambda: f"uint({e(self.r.choice(['int', 'double', 'string', 'uint', 'dyn', 'bool']), d)})",
            lambda: f"-{e('uint', d)}",
            lambda: f"math.abs({e('uint', d)})", lambda: f"math.sign({e('uint', d)})",
            lambda: f"math.bitAnd({e('uint', d)}, {e('uint', d)})",
            lambda: f"math.bitNot({e('uint', d)})",
            lambda: f"math.bitShiftLeft({e('uint', d)}, {e('int', d)})",
            lambda: f"math.bitShiftRight({e('uint', d)}, {e('int', d)})",
            lambda: f"math.greatest({e('uint', d)}, {e('uint', d)})",
            lambda: f"math.least([{e('uint', d)}, {e('uint', d)}, {e('uint', d)}])",
        ])

    def g_double(self, d: int) -> str:
        e = self.expr
        op = lambda: self.r.choice(["+", "-", "*", "/"])  # noqa: E731
        return self.lazy("double", d, [
            lambda: f"({e('double', d)} {op()} {e('double', d)})",
            lambda: f"({e('double', d)} % {e('double', d)})",
            lambda: f"-{e('double', d)}",
            lambda: f"double({e(self.r.choice(['int', 'uint', 'string', 'double', 'dyn', 'bool']), d)})",
            lambda: f"math.{self.r.choice(['ceil', 'floor', 'round', 'trunc', 'abs', 'sign', 'sqrt'])}({self.num(d)})",
            lambda: f"math.greatest({self.num(d)}, {self.num(d)})",
            lambda: f"math.least({e('double', d)}, {self.num(d)}, {self.num(d)})",
            lambda: f"math.greatest([{e('double', d)}, {e('double', d)}])",
        ])

    def g_string(self, d: int) -> str:
        e, p = self.expr, self.pick
        return self.lazy("string", d, [
            lambda: f"({e('string', d)} + {e('string', d)})",
            lambda: f"string({e(self.r.choice(SCALARS + ['dyn', 'type', 'null', 'list']), d)})",
            lambda: f"{e('string', d)}.charAt({e('int', d)})",
            lambda: f"{e('string', d)}.substring({e('int', d)})",
            lambda: f"{e('string', d)}.substring({e('int', d)}, {e('int', d)})",
            lambda: f"{e('string', d)}.{p(['lowerAscii', 'upperAscii', 'trim', 'reverse'])}()",
            lambda: f"{e('string', d)}.replace({e('string', d)}, {e('string', d)})",
            lambda: f"{e('string', d)}.replace({e('string', d)}, {e('string', d)}, {e('int', d)})",
            lambda: f"{e('list', d)}.join()",
            lambda: f"{e('list', d)}.join({e('string', d)})",
            lambda: f"{e('string', d)}.split({e('string', d)}).join('|')",
            lambda: f"{e('string', d)}.split({e('string', d)}, {e('int', d)}).join('|')",
            lambda: f"strings.quote({e('string', d)})",
            lambda: f"{p(FORMATS)}.format([{e(self.r.choice(TYPES), d)}])",
            lambda: f"{p(FORMATS)}.format([{e(self.r.choice(SCALARS), d)}, {e('string', d)}])",
            lambda: f"base64.encode({e('bytes', d)})",
            lambda: f"string({e('bytes', d)})",
            lambda: f"regex.replace({e('string', d)}, {p(REGEXES)}, {e('string', d)})",
            lambda: f"regex.extract({e('string', d)}, {p(REGEXES)}).orValue('-')",
            lambda: f"regex.extractAll({e('string', d)}, {p(REGEXES)}).join(',')",
            lambda: f"{e('list', d)}.map({(x := self.v('s'))}, string({x})).join(',')",
        ])

    def g_bytes(self, d: int) -> str:
        e = self.expr
        return self.lazy("bytes", d, [
            lambda: f"({e('bytes', d)} + {e('bytes', d)})",
            lambda: f"bytes({e(self.r.choice(['string', 'bytes', 'dyn', 'int']), d)})",
            lambda: f"base64.decode({e('string', d)})",
            lambda: f"base64.decode(base64.encode({e('bytes', d)}))",
        ])

    def g_bool(self, d: int) -> str:
        e, p, r = self.expr, self.pick, self.r
        t = lambda: r.choice(TYPES)  # noqa: E731
        x = lambda: self.v("")  # noqa: E731

        def cmp() -> str:
            a = r.choice(TYPES)
            b = a if r.random() < 0.6 else r.choice(["int", "uint", "double", "dyn"])
            return f"({e(a, d)} {p(['==', '!=', '<', '<=', '>', '>='])} {e(b, d)})"

        def macro() -> str:
            v = x()
            rng = e(r.choice(["list", "map"]), d)
            self.scope.append((v, "dyn"))
            try:
                body = e("bool", d)
            finally:
                self.scope.pop()
            return f"{rng}.{p(['all', 'exists', 'exists_one', 'existsOne'])}({v}, {body})"

        def macro2() -> str:
            a, b = r.sample(NAMES, 2)
            rng = e(r.choice(["list", "map"]), d)
            self.scope += [(a, "dyn"), (b, "dyn")]
            try:
                body = e("bool", d)
            finally:
                del self.scope[-2:]
            return f"{rng}.{p(['all', 'exists', 'existsOne'])}({a}, {b}, {body})"

        return self.lazy("bool", d, [
            cmp, cmp, cmp, macro, macro2,
            lambda: f"({e('bool', d)} {p(['&&', '||'])} {e('bool', d)})",
            lambda: f"!{e('bool', d)}",
            lambda: f"({e(t(), d)} in {e(r.choice(['list', 'map']), d)})",
            lambda: f"bool({e(r.choice(['string', 'bool', 'dyn', 'int']), d)})",
            lambda: f"{e('string', d)}.{p(['contains', 'startsWith', 'endsWith', 'matches'])}({e('string', d)})",
            lambda: f"{e('string', d)}.matches({p(REGEXES)})",
            lambda: f"has({e('map', d)}.{p(['a', 'b', 'x'])})",
            lambda: f"math.{p(['isNaN', 'isInf', 'isFinite'])}({e('double', d)})",
            lambda: f"sets.{p(['contains', 'equivalent', 'intersects'])}({e('list', d)}, {e('list', d)})",
            lambda: f"{e('opt', d)}.hasValue()",
            lambda: f"({e('opt', d)} == {e('opt', d)})",
            lambda: f"(type({e(t(), d)}) == {e('type', d)})",
            lambda: f"({e('list', d)} == {e('list', d)})",
            lambda: f"({e('map', d)} == {e('map', d)})",
        ])

    def g_timestamp(self, d: int) -> str:
        e = self.expr
        return self.lazy("timestamp", d, [
            lambda: f"({e('timestamp', d)} + {e('duration', d)})",
            lambda: f"({e('duration', d)} + {e('timestamp', d)})",
            lambda: f"({e('timestamp', d)} - {e('duration', d)})",
            lambda: f"timestamp({e(self.r.choice(['int', 'string', 'timestamp', 'dyn']), d)})",
            lambda: f"timestamp(int({e('timestamp', d)}))",
        ])

    def g_duration(self, d: int) -> str:
        e = self.expr
        return self.lazy("duration", d, [
            lambda: f"({e('duration', d)} {self.r.choice(['+', '-'])} {e('duration', d)})",
            lambda: f"({e('timestamp', d)} - {e('timestamp', d)})",
            lambda: f"duration({e(self.r.choice(['string', 'duration', 'dyn', 'int']), d)})",
            lambda: f"-{e('duration', d)}",
        ])

    def g_list(self, d: int) -> str:
        e, r = self.expr, self.r

        def comp(m: str) -> str:
            v = self.v("")
            rng = e(r.choice(["list", "map"]), d)
            self.scope.append((v, "dyn"))
            try:
                body = e(r.choice(TYPES) if m == "map" else "bool", d)
                if m == "map3":
                    return f"{rng}.map({v}, {e('bool', d)}, {e('int', d)})"
            finally:
                self.scope.pop()
            return f"{rng}.{m}({v}, {body})"

        def comp2() -> str:
            a, b = r.sample(NAMES, 2)
            rng = e(r.choice(["list", "map"]), d)
            self.scope += [(a, "dyn"), (b, "dyn")]
            try:
                body = e(r.choice(TYPES), d)
            finally:
                del self.scope[-2:]
            return f"{rng}.transformList({a}, {b}, {body})"

        return self.lazy("list", d, [
            lambda: f"[{', '.join(e(r.choice(TYPES), d) for _ in range(r.randint(0, 3)))}]",
            lambda: f"[{', '.join(e('int', d) for _ in range(r.randint(0, 4)))}]",
            lambda: f"({e('list', d)} + {e('list', d)})",
            lambda: comp("map"), lambda: comp("filter"), lambda: comp("map3"), comp2,
            lambda: f"{e('list', d)}.{r.choice(['sort', 'distinct', 'reverse', 'flatten'])}()",
            lambda: f"{e('list', d)}.flatten({e('int', d)})",
            lambda: f"{e('list', d)}.slice({e('int', d)}, {e('int', d)})",
            lambda: f"lists.range({e('int', d)} % 50)",
            lambda: f"{e('list', d)}.sortBy({(x := self.v(''))}, {x})",
            lambda: f"{e('string', d)}.split({e('string', d)})",
            lambda: f"optional.unwrap([{e('opt', d)}, {e('opt', d)}])",
            lambda: f"[{e('int', d)}, ?{e('opt', d)}]",
            lambda: f"{e('map', d)}.map(k, k)",
        ])

    def g_map(self, d: int) -> str:
        e, r = self.expr, self.r
        keys = ["int", "uint", "string", "bool", "double"]
        return self.lazy("map", d, [
            lambda: "{" + ", ".join(f"{e(r.choice(keys), d)}: {e(r.choice(TYPES), d)}"
                                    for _ in range(r.randint(0, 3))) + "}",
            lambda: f"{{'a': {e(r.choice(TYPES), d)}, ?'b': {e('opt', d)}}}",
            lambda: f"{e('list', d)}.transformMap({self.v('')}, {self.v('')}, {e(r.choice(TYPES), d)})",
            lambda: f"{{{e('string', d)}: {e('map', d)}}}",
        ])

    def g_opt(self, d: int) -> str:
        e, r = self.expr, self.r
        return self.lazy("opt", d, [
            lambda: f"optional.of({e(r.choice(TYPES), d)})",
            lambda: f"optional.ofNonZeroValue({e(r.choice(TYPES), d)})",
            lambda: f"{e('map', d)}.?{r.choice(['a', 'b', 'x'])}",
            lambda: f"{e('map', d)}[?{e(r.choice(['string', 'int', 'uint', 'double', 'bool']), d)}]",
            lambda: f"{e('list', d)}[?{e('int', d)}]",
            lambda: f"{e('opt', d)}.or({e('opt', d)})",
            lambda: f"{e('opt', d)}.optMap({self.v('')}, {e(r.choice(TYPES), d)})",
            lambda: f"{e('opt', d)}.optFlatMap({self.v('')}, {e('opt', d)})",
            lambda: f"{e('list', d)}.first()",
            lambda: f"{e('list', d)}.last()",
            lambda: f"regex.extract({e('string', d)}, {self.pick(REGEXES)})",
        ])

    def g_dyn(self, d: int) -> str:
        return f"dyn({self.expr(self.r.choice(TYPES), d)})"

    def g_type(self, d: int) -> str:
        return self.lazy("type", d, [lambda: f"type({self.expr(self.r.choice(TYPES), d)})"])

    def g_null(self, d: int) -> str:
        return self.lazy("null", d, [lambda: "null", lambda: "{'a': null}['a']"])


_TS_GET = ["getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours",
           "getMinutes", "getSeconds", "getMilliseconds"]


def draw(seed: int) -> str:
    """One expression of a type drawn with the seed."""
    r = random.Random(seed)
    return Gen(r).expr(r.choice(TYPES))
