"""Formatting through `fmt`: the canonical DSL text, or a refusal (as `fmt` refuses)."""

from __future__ import annotations

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..diagnostics import PolicyError
from ..fmt import format_policy
from .documents import Document
from .positions import Lines

__all__ = ["FormatRefused", "format_edits"]


class FormatRefused(JsonRpcException):
    """LSP's RequestFailed: the request was valid, the document cannot be formatted."""

    CODE = -32803


def format_edits(document: Document, text: str, lines: Lines) -> list[types.TextEdit]:
    """One edit replacing the whole text, none when it is already formatted."""
    if not document.is_dsl:
        raise FormatRefused("fmt formats DSL files (.aigw); use `aigw-policy convert` for YAML/JSON")
    try:
        formatted = format_policy(text, name=str(document.path))
    except PolicyError as error:
        first = error.diagnostics[0]
        where = f"{first.span.line}:{first.span.column}: " if first.span else ""
        more = len(error.diagnostics) - 1
        raise FormatRefused(
            f"not formatted: {where}{first.severity.value}[{first.code}]: {first.message}"
            + (f" (and {more} more)" if more else ""),
        ) from None
    return [] if formatted == text else [types.TextEdit(lines.whole(), formatted)]
