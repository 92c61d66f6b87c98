"""CEL types for the checker: primitives, containers, type parameters and opaque types.

Types are frozen values; ``parse_type("map(string, list(int))")`` reads the notation used in
declarations, and ``str(t)`` writes it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Type", "parse_type", "TypeParseError",
    "DYN", "INT", "UINT", "DOUBLE", "BOOL", "STRING", "BYTES", "NULL", "TIMESTAMP",
    "DURATION", "ERROR", "ANY_TYPE", "list_of", "map_of", "type_of", "optional_of", "opaque",
    "param",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Type:
    """``kind`` is one of: dyn, int, uint, double, bool, string, bytes, null, timestamp,
    duration, error, list, map, type, opaque (``name`` + ``params``), param (``name``)."""

    kind: str
    params: tuple[Type, ...] = ()
    name: str = ""

    def __str__(self) -> str:
        k = self.kind
        if k == "list":
            return f"list({self.params[0]})"
        if k == "map":
            return f"map({self.params[0]}, {self.params[1]})"
        if k == "type":
            return f"type({self.params[0]})" if self.params else "type"
        if k == "opaque":
            if self.name == "optional_type":
                return f"optional({self.params[0]})"
            if self.params:
                return f"{self.name}({', '.join(map(str, self.params))})"
            return self.name
        if k == "param":
            return self.name
        if k == "null":
            return "null_type"
        if k == "timestamp":
            return "google.protobuf.Timestamp"
        if k == "duration":
            return "google.protobuf.Duration"
        return k

    @property
    def is_dyn(self) -> bool:
        return self.kind == "dyn"

    def runtime_name(self) -> str:
        """The name of the runtime type value (``type(x)``) for values of this type."""
        k = self.kind
        if k == "opaque":
            return self.name
        if k == "null":
            return "null_type"
        if k in ("timestamp", "duration", "list", "map", "type"):
            return str(Type(k, ())) if k in ("timestamp", "duration") else k
        return k


DYN = Type("dyn")
INT = Type("int")
UINT = Type("uint")
DOUBLE = Type("double")
BOOL = Type("bool")
STRING = Type("string")
BYTES = Type("bytes")
NULL = Type("null")
TIMESTAMP = Type("timestamp")
DURATION = Type("duration")
ERROR = Type("error")
ANY_TYPE = Type("type", (DYN,))


def list_of(t: Type) -> Type:
    return Type("list", (t,))


def map_of(k: Type, v: Type) -> Type:
    return Type("map", (k, v))


def type_of(t: Type) -> Type:
    return Type("type", (t,))


def optional_of(t: Type) -> Type:
    return Type("opaque", (t,), "optional_type")


def opaque(name: str, *params: Type) -> Type:
    return Type("opaque", tuple(params), name)


def param(name: str) -> Type:
    return Type("param", (), name)


_SIMPLE = {
    "dyn": DYN, "any": DYN, "int": INT, "uint": UINT, "double": DOUBLE, "bool": BOOL,
    "string": STRING, "bytes": BYTES, "null": NULL, "null_type": NULL,
    "timestamp": TIMESTAMP, "google.protobuf.Timestamp": TIMESTAMP,
    "duration": DURATION, "google.protobuf.Duration": DURATION,
    "type": Type("type", (DYN,)), "list": list_of(DYN), "map": map_of(DYN, DYN),
    "ip": opaque("net.IP"), "net.IP": opaque("net.IP"),
    "cidr": opaque("net.CIDR"), "net.CIDR": opaque("net.CIDR"),
}  # fmt: skip


_OBJECT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$")
"""An object type an environment declares (``aigw.Model``): opaque, its fields known to the
checker through ``Environment(objects=...)``."""


class TypeParseError(ValueError):
    pass


_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*|[(),<>])")


@lru_cache(maxsize=4096)
def parse_type(text: str) -> Type:
    """Read ``int``, ``list(string)``, ``map(string, dyn)``, ``optional(int)`` (also ``<>``)."""
    tokens = _TOKEN.findall(text)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        raise TypeParseError(f"invalid type `{text}`")
    pos = 0

    def read() -> Type:
        nonlocal pos
        if pos >= len(tokens):
            raise TypeParseError(f"invalid type `{text}`")
        name = tokens[pos]
        pos += 1
        args: list[Type] = []
        if pos < len(tokens) and tokens[pos] in ("(", "<"):
            close = ")" if tokens[pos] == "(" else ">"
            pos += 1
            while True:
                args.append(read())
                if pos < len(tokens) and tokens[pos] == ",":
                    pos += 1
                    continue
                if pos < len(tokens) and tokens[pos] == close:
                    pos += 1
                    break
                raise TypeParseError(f"invalid type `{text}`")
        if name == "list" and len(args) == 1:
            return list_of(args[0])
        if name == "map" and len(args) == 2:
            return map_of(args[0], args[1])
        if name in ("optional", "optional_type") and len(args) == 1:
            return optional_of(args[0])
        if name == "type" and len(args) == 1:
            return type_of(args[0])
        if not args and name in _SIMPLE:
            return _SIMPLE[name]
        if not args and _OBJECT_NAME.match(name):
            return opaque(name)
        raise TypeParseError(f"unknown type `{text}`")

    t = read()
    if pos != len(tokens):
        raise TypeParseError(f"invalid type `{text}`")
    return t
