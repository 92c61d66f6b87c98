"""Names that mean something without a declaration: CEL's type names and the one enum
constant the well-known protobuf types bring (``google.protobuf.NullValue.NULL_VALUE``).

Looked up in the container as a variable is (``names.candidates``), and ranked against a
declared variable as the langdef ranks names (:func:`lookup`): inside container
``google.protobuf``, ``NullValue.NULL_VALUE`` is the constant and ``Timestamp`` the type, as in
cel-go and cel-cpp. A well-known type's name is the CEL type it stands for
(``google.protobuf.Value`` is ``dyn``, ``Struct`` a map, ``ListValue`` a list, ``NullValue``
``null_type``); a wrapper's or ``Any``'s is a type of its own, equal to no other but a wrapper
of the same CEL type (``Int32Value`` is ``Int64Value``). An enum constant is an ``int`` (CEL's
enums are ints, the langdef).
"""

from __future__ import annotations

from .names import candidates
from .types import (
    BOOL, BYTES, DOUBLE, DURATION, DYN, INT, NULL, STRING, TIMESTAMP, UINT, Type,
    list_of, map_of, opaque, optional_of, type_of,
)  # fmt: skip

__all__ = ["CONSTANTS", "TYPE_NAMES", "lookup"]

_WRAPPERS = {w: w for w in ("Bool", "Bytes", "Double", "Int64", "UInt64", "String")} | {
    "Float": "Double", "Int32": "Int64", "UInt32": "UInt64"}  # fmt: skip
"""A wrapper -> the wrapper of its CEL type: CEL has one wrapper type per primitive
(``wrapper(int)``), so ``google.protobuf.Int32Value == google.protobuf.Int64Value``."""

TYPE_NAMES: dict[str, tuple[str, Type]] = {
    "int": ("int", INT), "uint": ("uint", UINT), "double": ("double", DOUBLE),
    "bool": ("bool", BOOL), "string": ("string", STRING), "bytes": ("bytes", BYTES),
    "list": ("list", list_of(DYN)), "map": ("map", map_of(DYN, DYN)),
    "null_type": ("null_type", NULL), "type": ("type", type_of(DYN)),
    "google.protobuf.Timestamp": ("google.protobuf.Timestamp", TIMESTAMP),
    "google.protobuf.Duration": ("google.protobuf.Duration", DURATION),
    "net.IP": ("net.IP", opaque("net.IP")), "net.CIDR": ("net.CIDR", opaque("net.CIDR")),
    "optional_type": ("optional_type", optional_of(DYN)),
    "google.protobuf.NullValue": ("null_type", NULL),
    "google.protobuf.Value": ("dyn", DYN),
    "google.protobuf.Struct": ("map", map_of(STRING, DYN)),
    "google.protobuf.ListValue": ("list", list_of(DYN)),
    "google.protobuf.Any": ("google.protobuf.Any", DYN),
    **{f"google.protobuf.{w}Value": (f"google.protobuf.{c}Value", DYN)
       for w, c in _WRAPPERS.items()},
}  # fmt: skip
"""A type's name -> (the name of the runtime type value, the static type it denotes). A
wrapper's and ``Any``'s static type is ``dyn`` (what a literal of theirs is typed, wellknown.py):
a declaration cannot name them, and the text of ``type(dyn)`` is read back from the cache."""

CONSTANTS: dict[str, int] = {"google.protobuf.NullValue.NULL_VALUE": 0}


_LAST = frozenset(n.rpartition(".")[2] for n in (*TYPE_NAMES, *CONSTANTS))


def lookup(container: str, name: str, variable: tuple[str, int] | None = None) -> str | None:
    """The type name or constant ``name`` means inside ``container``, or None; None too when
    ``variable`` (what ``names.resolve`` found: a declared name, the parts of ``name`` it
    covers) ranks first. The langdef's order: the longest prefix of the name wins
    (``google.protobuf.Timestamp`` is the type although a variable ``google`` is declared), then
    the innermost container (inside ``google.protobuf``, ``NullValue`` is the type before a
    variable ``NullValue`` declared at the root); the same name is the variable."""
    if name.rpartition(".")[2] not in _LAST:
        return None  # most names: no candidate to build
    cands = candidates(container, name)
    found = next((c for c in cands if c in TYPE_NAMES or c in CONSTANTS), None)
    if found is None or variable is None:
        return found
    var, used = variable
    if used < len(name.lstrip(".").split(".")):
        return found
    return found if var in cands and cands.index(found) < cands.index(var) else None
