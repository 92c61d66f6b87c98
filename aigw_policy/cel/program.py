"""A compiled CEL expression: a Python function plus what it was made from."""

from __future__ import annotations

import types as _pytypes
from collections.abc import Mapping
from typing import Any

from .budget import NAMES as BUDGET_NAMES
from .codegen import Generated
from .guards import NAMES as GUARD_NAMES
from .optionals import NAMES as OPTIONAL_NAMES
from .runtime.helpers import namespace
from .runtime.values import CelError
from .types import Type

__all__ = ["Program", "build", "entry_source", "exact_source", "instantiate"]


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
            if e.span is None:
                e.span = self.error_span(e)
            raise

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        return self._fn(activation)

    def __repr__(self) -> str:
        return f"<cel.Program {self.name} {self.source!r}>"


def build(gen: Generated, filename: str, code: Any = None) -> Any:
    """Compile generated source into a function with its own namespace of helpers.

    ``code`` is the compiled entry part (:func:`entry_source`); the exact body is compiled
    the first time it runs (see :func:`instantiate`).
    """
    if code is None:
        code = compile(entry_source(gen.source), filename, "exec")
    return instantiate(code, gen.name, {**gen.constants, **gen.functions}, gen.source, filename)


_EXACT_MARK = "\ndef _exact(act):"


def entry_source(source: str) -> str:
    """The entry function (the fast body) of a generated module, without the exact body."""
    cut = source.find(_EXACT_MARK)
    return source if cut == -1 else source[: cut + 1]


def exact_source(source: str) -> str | None:
    """The exact body of a generated module, after blank lines that keep its line numbers."""
    cut = source.find(_EXACT_MARK)
    if cut == -1:
        return None
    return "\n" * source.count("\n", 0, cut + 1) + source[cut + 1:]


class _LazyExact:
    """Stands for ``_exact`` until it is first called: then compiles the exact body (with the
    module's file name and line numbers) into the function's namespace, replacing itself.

    Most programs never raise in their fast body, so most never pay for compiling it (about
    two thirds of Python's compile time for a typical condition)."""

    __slots__ = ("ns", "source", "filename")  # source: the whole generated module

    def __init__(self, ns: dict[str, Any], source: str, filename: str) -> None:
        self.ns = ns
        self.source = source
        self.filename = filename

    def __call__(self, act: Any) -> Any:
        exact = self.ns.get("_exact")
        if exact is self:
            try:
                code = compile(exact_source(self.source) or "", self.filename, "exec")
            except (RecursionError, SyntaxError, MemoryError) as e:
                raise CelError(f"expression too complex to evaluate: {type(e).__name__}") from None
            exec(code, self.ns)  # noqa: S102 - generated from a checked AST
            exact = self.ns["_exact"]
        return exact(act)


def instantiate(code: Any, name: str, names: dict[str, object], source: str | None = None,
                filename: str | None = None) -> Any:
    """Run a compiled module of generated code in a fresh namespace; its entry function.

    With the full generated ``source``, an ``_exact`` the code does not define is compiled
    from it on first use."""
    ns = namespace()
    ns.update(BUDGET_NAMES)
    ns.update(OPTIONAL_NAMES)
    ns.update(GUARD_NAMES)
    ns.update(names)
    exec(code, ns)  # noqa: S102 - generated from a checked AST, no user text is executed
    fn = ns[name]
    assert isinstance(fn, _pytypes.FunctionType)
    if "_exact" not in ns and source is not None:
        ns["_exact"] = _LazyExact(ns, source, filename or code.co_filename)
    return fn

