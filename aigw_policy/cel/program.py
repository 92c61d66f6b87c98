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

    __slots__ = ("source", "name", "python_source", "type", "cost", "line_spans", "_fn", "__weakref__")

    def __init__(
        self,
        source: str,
        name: str,
        python_source: str,
        fn: Any,
        type_: Type | None,
        cost: Any = None,
        line_spans: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.source = source
        self.name = name
        self.python_source = python_source
        self.type = type_
        self.cost = cost
        self.line_spans = line_spans or {}
        self._fn = fn

    @property
    def filename(self) -> str:
        """The file name of the generated code (what tracebacks show)."""
        return self._fn.__code__.co_filename

    def span_at(self, lineno: int) -> tuple[int, int] | None:
        """The CEL span (start, end offsets in ``source``) computed at a generated line."""
        return self.line_spans.get(lineno)

    def error_span(self, error: BaseException) -> tuple[int, int] | None:
        """Where in the CEL source an error raised by this program happened: the innermost
        generated line of its traceback, mapped back through :attr:`line_spans`."""
        found = None
        tb = error.__traceback__
        filename = self.filename
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                span = self.line_spans.get(tb.tb_lineno)
                if span is not None:
                    found = span
            tb = tb.tb_next
        return found

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
        try:
            return self._fn(act)
        except CelError as e:
            if getattr(e, "span", None) is None:
                e.span = self.error_span(e)  # type: ignore[attr-defined]
            raise

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        return self._fn(activation)

    def __repr__(self) -> str:
        return f"<cel.Program {self.name} {self.source!r}>"


def build(gen: Generated, filename: str, code: Any = None) -> Any:
    """Compile generated source into a function with its own namespace of helpers."""
    if code is None:
        code = compile(gen.source, filename, "exec")
    return instantiate(code, gen.name, {**gen.constants, **gen.functions})


def instantiate(code: Any, name: str, names: dict[str, object]) -> Any:
    """Run a compiled module of generated code in a fresh namespace; its entry function."""
    ns = namespace()
    ns.update(names)
    exec(code, ns)  # noqa: S102 - generated from a checked AST, no user text is executed
    fn = ns[name]
    assert isinstance(fn, _pytypes.FunctionType)
    return fn


_ = CelError
