"""Function declarations of the CEL standard library and extensions (signatures only).

One line per overload: ``name  [receiver.](params) -> result``. Type parameters are single
capital letters. Implementations live in :mod:`.runtime.stdlib`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .types import Type, parse_type

_ORD = ["int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration"]


CROSS_NUMERIC_ORDERING = [
    f"{op} ({a}, {b}) -> bool"
    for op in ("_<_", "_<=_", "_>_", "_>=_")
    for a in ("int", "uint", "double")
    for b in ("int", "uint", "double")
    if a != b
]
"""cel-go's check-time overloads of ``<`` across int, uint and double (``1 < 2u``, ``x < 0.5``
for an ``int`` x). Not standard: the langdef's signatures are same-type and "comparisons
require strict type equality at type-check time" (cel-cpp refuses them); an environment that
wants cel-go's checker (the policy one: ngrok documents compare so) adds these lines. At run
time numbers of every kind order on one number line, declared or not."""


def _std() -> list[str]:
    lines: list[str] = []
    for op in ("_+_",):
        for t in ("int", "uint", "double", "string", "bytes", "duration"):
            lines.append(f"{op} ({t}, {t}) -> {t}")
        lines += [
            "_+_ (list(A), list(A)) -> list(A)",
            "_+_ (timestamp, duration) -> timestamp",
            "_+_ (duration, timestamp) -> timestamp",
        ]
    for t in ("int", "uint", "double", "duration"):
        lines.append(f"_-_ ({t}, {t}) -> {t}")
    lines += ["_-_ (timestamp, timestamp) -> duration", "_-_ (timestamp, duration) -> timestamp"]
    for op in ("_*_", "_/_"):
        for t in ("int", "uint", "double"):
            lines.append(f"{op} ({t}, {t}) -> {t}")
    lines += ["_%_ (int, int) -> int", "_%_ (uint, uint) -> uint"]
    lines += ["-_ (int) -> int", "-_ (double) -> double", "!_ (bool) -> bool"]
    lines += ["_==_ (A, A) -> bool", "_!=_ (A, A) -> bool"]
    for op in ("_<_", "_<=_", "_>_", "_>=_"):
        for t in _ORD:
            lines.append(f"{op} ({t}, {t}) -> bool")
    lines += ["@in (A, list(A)) -> bool", "@in (A, map(A, B)) -> bool"]
    for t in ("string", "bytes", "list(A)", "map(A, B)"):
        lines += [f"size ({t}) -> int", f"size {t}.() -> int"]
    for f in ("contains", "startsWith", "endsWith", "matches"):
        lines.append(f"{f} string.(string) -> bool")
    lines.append("matches (string, string) -> bool")
    conv = {
        "int": ["int", "uint", "double", "string", "timestamp"],
        "uint": ["int", "uint", "double", "string"],
        "double": ["int", "uint", "double", "string"],
        "string": ["int", "uint", "double", "bool", "string", "bytes", "timestamp", "duration", "net.IP", "net.CIDR"],
        "bytes": ["bytes", "string"],
        "bool": ["bool", "string"],
        "timestamp": ["string", "int", "timestamp"],
        "duration": ["string", "duration"],
    }
    for target, sources in conv.items():
        for s in sources:
            lines.append(f"{target} ({s}) -> {target}")
    lines += ["type (A) -> type(A)", "dyn (A) -> dyn"]
    for f in ("getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear"):
        lines += [f"{f} timestamp.() -> int", f"{f} timestamp.(string) -> int"]
    for f in ("getHours", "getMinutes", "getSeconds", "getMilliseconds"):
        lines += [f"{f} timestamp.() -> int", f"{f} timestamp.(string) -> int", f"{f} duration.() -> int"]
    lines += [
        "_?_:_ (bool, A, A) -> A",
        "_&&_ (bool, bool) -> bool",
        "_||_ (bool, bool) -> bool",
        # optionals
        "optional.of (A) -> optional(A)",
        "optional.ofNonZeroValue (A) -> optional(A)",
        "optional.none () -> optional(A)",
        "hasValue optional(A).() -> bool",
        "value optional(A).() -> A",
        "or optional(A).(optional(A)) -> optional(A)",
        "orValue optional(A).(A) -> A",
        "optional.unwrap (list(optional(A))) -> list(A)",
        "unwrapOpt list(optional(A)).() -> list(A)",
        # strings
        "charAt string.(int) -> string",
        "indexOf string.(string) -> int",
        "indexOf string.(string, int) -> int",
        "lastIndexOf string.(string) -> int",
        "lastIndexOf string.(string, int) -> int",
        "lowerAscii string.() -> string",
        "upperAscii string.() -> string",
        "replace string.(string, string) -> string",
        "replace string.(string, string, int) -> string",
        "split string.(string) -> list(string)",
        "split string.(string, int) -> list(string)",
        "substring string.(int) -> string",
        "substring string.(int, int) -> string",
        "trim string.() -> string",
        "join list(string).() -> string",
        "join list(string).(string) -> string",
        "strings.quote (string) -> string",
        "reverse string.() -> string",
        "format string.(list(dyn)) -> string",
        # math
        "math.ceil (double) -> double",
        "math.floor (double) -> double",
        "math.round (double) -> double",
        "math.trunc (double) -> double",
        "math.isNaN (double) -> bool",
        "math.isInf (double) -> bool",
        "math.isFinite (double) -> bool",
        "base64.encode (bytes) -> string",
        "base64.decode (string) -> bytes",
        # regex
        "regex.replace (string, string, string) -> string",
        "regex.replace (string, string, string, int) -> string",
        "regex.extract (string, string) -> optional(string)",
        "regex.extractAll (string, string) -> list(string)",
        # lists
        "distinct list(A).() -> list(A)",
        "flatten list(list(A)).() -> list(A)",
        "flatten list(dyn).(int) -> list(dyn)",
        "lists.range (int) -> list(int)",
        "reverse list(A).() -> list(A)",
        "slice list(A).(int, int) -> list(A)",
        "last list(A).() -> optional(A)",
        "first list(A).() -> optional(A)",
        "sets.contains (list(A), list(A)) -> bool",
        "sets.equivalent (list(A), list(A)) -> bool",
        "sets.intersects (list(A), list(A)) -> bool",
        # network
        "ip (string) -> net.IP",
        "cidr (string) -> net.CIDR",
        "isIP (string) -> bool",
        "isCIDR (string) -> bool",
        "ip.isCanonical (string) -> bool",
        "family net.IP.() -> int",
        "containsIP net.CIDR.(net.IP) -> bool",
        "containsIP net.CIDR.(string) -> bool",
        "containsCIDR net.CIDR.(net.CIDR) -> bool",
        "containsCIDR net.CIDR.(string) -> bool",
        "ip net.CIDR.() -> net.IP",
        "masked net.CIDR.() -> net.CIDR",
        "isMask net.CIDR.() -> bool",
        "prefixLength net.CIDR.() -> int",
        # ngrok helpers
        "inCidrRange (string, string) -> bool",
        "inCidrRanges (string, list(string)) -> bool",
    ]
    for f in ("isUnspecified", "isLoopback", "isGlobalUnicast", "isLinkLocalMulticast", "isLinkLocalUnicast"):
        lines.append(f"{f} net.IP.() -> bool")
    lines += [f"sort list({t}).() -> list({t})" for t in _ORD]  # cel-go's comparableTypes
    for t in ("int", "uint", "double"):
        lines += [f"math.abs ({t}) -> {t}", f"math.sign ({t}) -> {t}", f"math.sqrt ({t}) -> double"]
    for t in ("int", "uint"):
        for f in ("bitOr", "bitAnd", "bitXor"):
            lines.append(f"math.{f} ({t}, {t}) -> {t}")
        lines += [
            f"math.bitNot ({t}) -> {t}",
            f"math.bitShiftLeft ({t}, int) -> {t}",
            f"math.bitShiftRight ({t}, int) -> {t}",
        ]
    return lines


@dataclass(frozen=True)
class Overload:
    name: str
    receiver: Type | None
    params: tuple[Type, ...]
    result: Type

    @property
    def arity(self) -> int:
        return len(self.params) + (1 if self.receiver is not None else 0)


def parse_overload(line: str) -> Overload:
    name, rest = line.split(" ", 1)
    sig, result = rest.rsplit("->", 1)
    sig = sig.strip()
    receiver = None
    if not sig.startswith("("):
        recv, _, sig = sig.partition(".(")
        receiver = _ty(recv)
        sig = "(" + sig
    inner = sig.strip()[1:-1].strip()
    params = tuple(_ty(p) for p in _split(inner)) if inner else ()
    return Overload(name, receiver, params, _ty(result.strip()))


def _split(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    out.append(cur.strip())
    return out


def _ty(text: str) -> Type:
    from .types import param

    text = text.strip()
    if len(text) == 1 and text.isupper():
        return param(text)
    if "(" in text:
        head, _, inner = text.partition("(")
        args = [_ty(a) for a in _split(inner[:-1])]
        from .types import Type as T

        if head == "list":
            return T("list", (args[0],))
        if head == "map":
            return T("map", (args[0], args[1]))
        if head == "optional":
            return T("opaque", (args[0],), "optional_type")
        if head == "type":
            return T("type", (args[0],))
    return parse_type(text)


@lru_cache(maxsize=1)
def standard() -> dict[str, list[Overload]]:
    out: dict[str, list[Overload]] = {}
    for line in _std():
        o = parse_overload(line)
        out.setdefault(o.name, []).append(o)
    return out
