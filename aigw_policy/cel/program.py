"""A compiled CEL expression: a Python function plus what it was made from."""

from __future__ import annotations

import types as _pytypes
from collections.abc import Mapping
from typing import Any

from .codegen import Generated
from .runtime.helpers import namespace
from .runtime.values import CelError
from .types import Type

__all__ = ["Program", "build"]


class Program:
    """A compiled expression: call it with a mapping of variables, get a CEL value.

    ``fn({"a": 1})`` or ``fn(a=1)``. A CEL error raises :class:`CelError`. Programs are
    immutable and safe to share across threads.
    """

    __slots__ = ("source", "name", "python_source", "type", "cost", "_fn", "__weakref__")

    def __init__(self, source: str, name: str, python_source: str, fn: Any, type_: Type | None, cost: Any = None) -> None:
        self.source = source
        self.name = name
        self.python_source = python_source
        self.type = type_
        self.cost = cost
        self._fn = fn

    @property
    def function(self) -> Any:
        """The generated Python function: ``function(activation_dict) -> value``."""
        return self._fn

    def __call__(self, activation: Mapping[str, Any] | None = None, /, **variables: Any) -> Any:
        if variables:
            act = dict(activation or {})
            act.update(variables)
        else:
            act = activation if activation is not None else {}
        return self._fn(act)

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        return self._fn(activation)

    def __repr__(self) -> str:
        return f"<cel.Program {self.name} {self.source!r}>"


def build(gen: Generated, filename: str) -> Any:
    """Compile generated source into a function with its own namespace of helpers."""
    ns = namespace()
    ns.update(gen.constants)
    ns.update(gen.functions)
    code = compile(gen.source, filename, "exec")
    exec(code, ns)  # noqa: S102 - generated from a checked AST, no user text is executed
    fn = ns[gen.name]
    assert isinstance(fn, _pytypes.FunctionType)
    return fn


_ = CelError
