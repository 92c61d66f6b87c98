"""The checker's side of well-known message literals (``runtime/wellknown.py`` builds them):
each field's type, and the type of the literal. A wrapper is typed as cel-go's and cel-cpp's
``wrapper(int)``: its primitive (``google.protobuf.Int32Value{value: 1} + 1``), also assignable
to ``null`` (``google.protobuf.Int32Value{} != null`` checks), and nothing else
(``google.protobuf.Int64Value{value: 1} == 'a'`` or ``|| true`` is a check error)."""

from __future__ import annotations

from collections.abc import Callable

from .runtime.wellknown import FIELDS
from .types import BOOL, BYTES, DOUBLE, DURATION, DYN, INT, STRING, TIMESTAMP, UINT, Type, list_of, map_of

_TYPES = {"bool": BOOL, "bytes": BYTES, "double": DOUBLE, "int": INT, "uint": UINT, "string": STRING,
          "map": map_of(STRING, DYN), "list": list_of(DYN)}
ANY = Type("dyn", (), "google.protobuf.Any")
"""An ``Any`` literal's type: ``dyn`` wherever a value is wanted (its packed message's value at
run time, which the checker cannot read), but, as cel-go's and cel-cpp's ``google.protobuf.Any``,
no comprehension range (``Any{...}.all(x, x)`` is refused; ``dyn(Any{...}).all(x, x)`` checks)."""
WRAPPER = "wrapper"
"""The name that makes a primitive type a wrapper's (``Type("int", (), WRAPPER)``, written
``int``): the checker's ``unify`` takes it as its primitive or ``null``."""
_RESULT = {"google.protobuf.Struct": map_of(STRING, DYN), "google.protobuf.ListValue": list_of(DYN),
           "google.protobuf.Duration": DURATION, "google.protobuf.Timestamp": TIMESTAMP, "google.protobuf.Any": ANY,
           **{name: Type(_TYPES[f["value"]].kind, (), WRAPPER) for name, f in FIELDS.items() if name.endswith("Value")
              and list(f) == ["value"]}}

_NULLABLE = frozenset({"opaque", "timestamp", "duration"})


def nullable(t: Type) -> bool:
    """``null`` is assignable to a value of type ``t`` (the checker's ``unify`` and ``join``): an
    opaque type, a timestamp or duration (cel-go's and cel-cpp's legacy), a wrapper."""
    return t.kind in _NULLABLE or t.name == WRAPPER


def literal_type(name: str) -> Type:
    """The type of a literal of the well-known message ``name``."""
    return _RESULT.get(name, DYN)


def field_problem(name: str, field: str, got: Type, fits: Callable[[Type, Type], bool]) -> str | None:
    """Why ``field`` of ``name`` cannot hold a value of type ``got`` (``fits(want, got)``), or None."""
    kind = FIELDS[name].get(field)
    if kind is None:
        return f"undefined field `{field}` in `{name}` (its fields: {', '.join(FIELDS[name])})"
    if not fits(_TYPES[kind], got):
        return f"field `{field}` of `{name}` takes `{_TYPES[kind]}`, not `{got}`"
    return None
