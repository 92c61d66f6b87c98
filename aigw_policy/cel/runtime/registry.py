"""The table of a function library: ``@registrar(TABLE)("name", ".name")`` files a function
under each key (a receiver-style function is keyed ``.name``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["registrar"]


def registrar(table: dict[str, Callable[..., object]]) -> Callable[..., Any]:
    """A decorator factory: ``fn("a", ".a")(f)`` puts ``f`` in ``table`` under both keys."""

    def fn(*keys: str) -> Callable[[Any], Any]:
        def register(f: Any) -> Any:
            for key in keys:
                table[key] = f
            return f

        return register

    return fn
