"""A config value written as a CEL expression but without ``${...}`` (AIGW204): ngrok, like
this engine, interpolates only ``${...}``, so ``tier: json.decode(actions.ngrok.http_request.res.body).tier``
(ngrok's own pre-tier guide) sets the variable to that text, and ``x-ip: conn.client_ip``
sends the words ``conn.client_ip``. The value is taken as written (a warning): it is read as
CEL here only when the whole text is an expression that type-checks against the policy
environment and reads a variable or calls a function (a select, an index or a call), so a
`text/html`, `nosniff`, `https://a.internal` or `true` is never one.

>>> [d.code for d in bare_cel("conn.client_ip", None)], bare_cel("text/html", None), bare_cel("true", None)
(['AIGW204'], [], [])
>>> bare_cel("2023-10-01", None), [d.code for d in bare_cel("getReqHeader('x')[0]", None)]
([], ['AIGW204'])
"""

from __future__ import annotations

from ..cel import ast
from ..diagnostics import Diagnostic
from ..source import Span

__all__ = ["bare_cel"]


def bare_cel(text: str, span: Span | None) -> list[Diagnostic]:
    """AIGW204 for a template ``text`` with no ``${...}`` that is a whole CEL expression."""
    stripped = text.strip()
    if "${" in text or not stripped or "\n" in stripped or len(stripped) > 1_000:
        return []
    from ..env import check_text

    known = check_text(stripped)
    if known is None or known[1] or type(known[0]) not in (ast.Select, ast.Call, ast.Index):
        return []
    if not _reads(known[0]):  # `2023-10-01` (a date, as an ai-gateway query parameter) is arithmetic
        return []
    return [Diagnostic.make(
        "AIGW204", f"`{stripped}` is CEL written without `${{...}}`: the value is this text, not "
                   "what it evaluates to", span,
        help=f"write `${{{stripped}}}` to use its value (only `${{...}}` is interpolated, on ngrok too)")]


def _reads(node: object) -> bool:
    """Whether ``node`` reads a variable or calls a named function (not only operators on
    literals)."""
    todo = [node]
    while todo:
        n = todo.pop()
        if type(n) is ast.Ident or (type(n) is ast.Call and n.function[:1].isalpha()):
            return True
        for field in getattr(type(n), "__slots__", ()):
            if field == "span":
                continue
            v = getattr(n, field, None)
            todo.extend(v if isinstance(v, tuple) else [v] if hasattr(type(v), "__slots__") else [])
    return False
