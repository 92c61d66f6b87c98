"""Lint's diagnostics as LSP diagnostics: the same code, message, span and help."""

from __future__ import annotations

from lsprotocol import types

from ..codes import Severity
from ..diagnostics import Diagnostic
from .positions import Lines

__all__ = ["SOURCE", "to_lsp"]

SOURCE = "aigw-policy"

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def to_lsp(diagnostic: Diagnostic, lines: Lines, uri: str) -> types.Diagnostic:
    """One diagnostic; the help follows the message on its own line (``help: ...``), as
    `lint` prints it, and related places become related information."""
    message = diagnostic.message
    if diagnostic.help:
        message += f"\nhelp: {diagnostic.help}"
    related = [
        types.DiagnosticRelatedInformation(types.Location(uri, lines.range(span)), note)
        for note, span in diagnostic.related
    ]
    return types.Diagnostic(
        range=lines.range(diagnostic.span),
        message=message,
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
    )
