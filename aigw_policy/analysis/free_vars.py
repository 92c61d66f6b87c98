"""Free variables of a parsed CEL expression: which names, and which functions, it can read.

``free_vars(node)`` walks the tree once (no recursion, so a deep expression cannot overflow
the stack) and answers with :class:`FreeVars`:

- ``names``: every dotted path the expression reads from the activation, as tuples
  (``req.url.path`` -> ``("req", "url", "path")``; a leading dot is dropped). A path is as
  long as the text spells it: ``limits.gpt.remaining`` and ``limits["gpt"]`` both give
  ``("limits", "gpt", ...)``. Reading a path may read anything below it (``ai[k]`` with
  ``k`` computed gives ``("ai",)``), so :meth:`FreeVars.reads` answers true for a
  path's ancestors and descendants alike.
- ``functions``: every function called, as written (``size``, ``startsWith``,
  ``getReqHeader``, ``math.greatest``).

Variables a comprehension (``all``, ``exists``, ``map``, ``filter``, ``transformList``,
...) or ``cel.bind`` introduces are bound inside its body only: ``[1].all(time, time > 0)``
reads no ``time``. Text inside string literals is never a name. The answer errs on the side
of reading: a receiver call on a dotted name (``math.greatest(...)``) also counts the name.

Compile asks these questions (``does any text read time.now?``), never the text itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..cel import ast
from ..cel.codegen import MACROS

__all__ = ["ACTIVATION_READS", "EMPTY", "FreeVars", "Path", "free_vars", "of_text", "remember", "union"]

Path = tuple[str, ...]

ACTIVATION_READS: dict[str, str] = {
    "getReqHeader": "req.headers", "hasReqHeader": "req.headers",
    "getResHeader": "res.headers", "hasResHeader": "res.headers",
    "getQueryParam": "req.url.query_params", "hasQueryParam": "req.url.query_params",
    "getReqCookie": "req.cookies", "hasReqCookie": "req.cookies",
    "getResCookie": "res.cookies", "hasResCookie": "res.cookies",
    "secrets.get": "secrets",
}  # fmt: skip
"""Functions that read a variable of the activation without naming it (the ngrok functions
of SPEC §5): calling one reads that variable."""


@dataclass(frozen=True, slots=True)
class FreeVars:
    """What an expression (or several: :func:`union`) reads."""

    names: frozenset[Path] = frozenset()
    functions: frozenset[str] = frozenset()

    def reads(self, name: str) -> bool:
        """Whether the expression can read variable ``name`` (dotted): it reads the name, a
        path below it, or a path above it (which may reach it); or calls a function that
        reads one of those."""
        path = tuple(name.split("."))
        n = len(path)
        for p in self.names:
            m = len(p)
            if (p[:n] == path) if m >= n else (path[:m] == p):
                return True
        for f in self.functions:
            var = ACTIVATION_READS.get(f)
            if var is not None:
                p = tuple(var.split("."))
                m = len(p)
                if (p[:n] == path) if m >= n else (path[:m] == p):
                    return True
        return False

    def reads_any(self, names: Iterable[str]) -> bool:
        return any(self.reads(n) for n in names)

    def __or__(self, other: FreeVars) -> FreeVars:
        return FreeVars(self.names | other.names, self.functions | other.functions)


EMPTY = FreeVars()


def union(items: Iterable[FreeVars]) -> FreeVars:
    """Everything any of ``items`` reads."""
    names: set[Path] = set()
    functions: set[str] = set()
    for fv in items:
        names |= fv.names
        functions |= fv.functions
    return FreeVars(frozenset(names), frozenset(functions))


def _path(node: ast.Expr) -> Path | None:
    """``a.b.c`` (idents and plain selections, maybe ``a["b"]``) as a path, or None."""
    parts: list[str] = []
    n: ast.Expr = node
    while True:
        if isinstance(n, ast.Select) and not n.optional:
            parts.append(n.field)
            n = n.operand
        elif (isinstance(n, ast.Index) and not n.optional and isinstance(n.index, ast.Literal)
              and n.index.kind == "string"):
            parts.append(n.index.value)  # type: ignore[arg-type]
            n = n.operand
        elif isinstance(n, ast.Ident):
            parts.append(n.name)
            parts.reverse()
            return tuple(parts)
        else:
            return None


def _bound_count(function: str, argc: int) -> int:
    """How many leading arguments of receiver macro ``function`` are variable names (as the
    code generator reads them)."""
    if function in ("map", "optMap", "optFlatMap", "sortBy"):
        return 1
    if function in ("transformList", "transformMap", "transformMapEntry"):
        return 2
    return {2: 1, 3: 2, 4: 2}[argc]


def free_vars(node: ast.Expr) -> FreeVars:
    """The variables and functions ``node`` reads (see the module's docstring)."""
    names: set[Path] = set()
    functions: set[str] = set()
    # (node, variables bound where it stands)
    stack: list[tuple[ast.Expr, frozenset[str]]] = [(node, frozenset())]
    while stack:
        n, bound = stack.pop()
        if type(n) is ast.Literal:  # most leaves: they read nothing
            continue
        path = _path(n)
        if path is not None:
            root = path[0]
            if root.startswith("."):
                names.add((root[1:],) + path[1:])
            elif root not in bound:
                names.add(path)
            continue
        if isinstance(n, ast.Call):
            f = n.function
            target = n.target
            args = n.args
            if target is None:
                functions.add(f.lstrip("."))
                stack.extend((a, bound) for a in args)
                continue
            tpath = _path(target)
            if (f == "bind" and len(args) == 3 and tpath == ("cel",) and "cel" not in bound
                    and isinstance(args[0], ast.Ident) and not args[0].name.startswith(".")):
                functions.add("cel.bind")
                stack.append((args[1], bound))
                stack.append((args[2], bound | {args[0].name}))
                continue
            if (f, True, len(args)) in MACROS:
                k = _bound_count(f, len(args))
                variables = args[:k]
                if all(isinstance(v, ast.Ident) and not v.name.startswith(".") for v in variables):
                    functions.add(f)
                    inner = bound | {v.name for v in variables}  # type: ignore[union-attr]
                    stack.append((target, bound))
                    stack.extend((a, inner) for a in args[k:])
                    continue
            functions.add(f)
            if tpath is not None and (tpath[0].startswith(".") or tpath[0] not in bound):
                functions.add(".".join(tpath).lstrip(".") + "." + f)  # a namespaced function
            stack.append((target, bound))
            stack.extend((a, bound) for a in args)
            continue
        if isinstance(n, ast.Select):  # optional selection, or on a computed operand
            stack.append((n.operand, bound))
        elif isinstance(n, ast.Index):
            stack.append((n.operand, bound))
            stack.append((n.index, bound))
        else:
            stack.extend((c, bound) for c in ast.children(n))
    return FreeVars(frozenset(names), frozenset(functions))


_known: dict[str, FreeVars] = {}
"""What each text reads, handed over with its parse by the whole-policy cache (:func:`remember`)."""


def remember(reads: dict[str, FreeVars]) -> None:
    """Let :func:`of_text` answer these texts (the whole-policy cache keeps what each of a
    policy's texts reads beside its node); replaces those given before."""
    global _known
    _known = dict(reads)


def of_text(text: str, node: ast.Expr) -> FreeVars:
    """What ``node``, the parse of ``text``, reads: as the whole-policy cache remembered it
    (the same walk, when the record was written: its key holds this code's hash), else
    :func:`free_vars`. A 10,000-rule policy's walks were a tenth of a load from that cache."""
    known = _known.get(text)
    return known if known is not None else free_vars(node)
