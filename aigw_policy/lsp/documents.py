"""The open documents: their text, form and latest lint, keyed by URI.

The text itself is pygls's (it applies the edits); this store keeps, per document, the form
it is read in and the result of the last lint, tagged with the version it was made from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..loader import Format
from .positions import Lines

__all__ = ["Analysis", "Document", "Linter", "document_of"]

Linter = Callable[[Path, str, "Format | None"], tuple["Policy | None", list[Diagnostic]]]
"""``(path, text, format or None) -> (policy or None, diagnostics)``: the command line's
`lint` of one file's text (test and keys files included), handed to the server."""

_SUFFIXES: dict[str, Format] = {".aigw": "dsl", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_LANGUAGES: dict[str, Format] = {"aigw": "dsl", "yaml": "yaml", "json": "json", "jsonc": "json"}


@dataclass(frozen=True, slots=True)
class Document:
    """An open document as lint sees it: a path (the URI's, for names in diagnostics and
    for the files a test file names) and its form."""

    uri: str
    path: Path
    form: Format
    declared: bool
    """Whether ``form`` comes from the language id rather than the file name (then lint is
    told the form instead of finding it from the name)."""

    @property
    def is_dsl(self) -> bool:
        return self.form == "dsl"


def document_of(uri: str, language_id: str | None) -> Document:
    """The form of a document: by its file extension, else by its language id, else YAML."""
    parsed = urlparse(uri)
    raw = unquote(parsed.path) if parsed.scheme in ("file", "") else unquote(parsed.path or uri)
    path = Path(raw) if parsed.scheme in ("file", "") else Path(PurePosixPath(raw).name or "untitled")
    by_name = _SUFFIXES.get(path.suffix.lower())
    if by_name is not None:
        return Document(uri, path, by_name, False)
    return Document(uri, path, _LANGUAGES.get((language_id or "").lower(), "yaml"), True)


@dataclass(frozen=True, slots=True)
class Analysis:
    """A lint of one version of a document."""

    version: int | None
    text: str
    policy: Policy | None
    diagnostics: list[Diagnostic]

    def lines(self, encoding: str) -> Lines:
        return Lines(self.text, encoding)


def analyse(lint: Linter, document: Document, text: str, version: int | None) -> Analysis:
    policy, diagnostics = lint(document.path, text, document.form if document.declared else None)
    return Analysis(version, text, policy, diagnostics)
