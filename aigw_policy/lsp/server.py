"""The language server's wiring: pygls features over stdio, the debounced lint per document.

Lint runs on one worker thread (one lint at a time; the reader and checker caches are
shared), so requests are answered while a lint runs. A document is linted at once when it
is opened and ``DEBOUNCE`` seconds after the last change; a newer change cancels the
waiting run, and a run that finishes after a newer change is dropped, never published.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .._version import __version__
from .completion import complete
from .context import context_at
from .diagnostics import to_lsp
from .documents import Analysis, Document, Linter, analyse, document_of
from .formatting import FormatRefused, format_edits
from .hover import hover_at
from .navigation import definition_at, symbols
from .positions import Lines
from .protocol import Server, quiet_expected_errors

__all__ = ["DEBOUNCE", "build_server", "serve_stdio"]

DEBOUNCE = 0.15
"""Seconds of quiet after a change before it is linted."""

_WARM_UP = ('policy "warm-up" {\n  on request {\n    rule "r" {\n      when ai.model == "m"\n'
            '      deny\n    }\n  }\n}\n')


class _Documents:
    """Per open document: its form, its latest lint and the lint waiting to run."""

    def __init__(self, server: LanguageServer, lint: Linter) -> None:
        self.server = server
        self.lint = lint
        self.forms: dict[str, Document] = {}
        self.analyses: dict[str, Analysis] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aigw-lint")
        self.shut_down = False

    def encoding(self) -> str:
        encoding = self.server.workspace.position_encoding
        return str(getattr(encoding, "value", encoding) or "utf-16")

    def is_open(self, uri: str) -> bool:
        return self.opened(uri) is not None

    def opened(self, uri: str) -> tuple[Document, str, int | None] | None:
        """The form, text and version of ``uri`` if the editor has it open, else None. Only
        open documents are answered for, and a document may close while a request awaits
        its lint: pygls would read any other from the disk (a missing file was an internal
        error, ``/dev/zero`` a read without end, any other file not what the editor shows)."""
        document = self.server.workspace.text_documents.get(unquote(uri))
        if document is None:
            return None
        if uri not in self.forms:  # the URI written otherwise than when it was opened
            self.forms[uri] = document_of(uri, document.language_id)
        return self.forms[uri], document.source, document.version

    def text(self, uri: str) -> str | None:
        now = self.opened(uri)
        return None if now is None else now[1]

    async def _run(self, form: Document, text: str, version: int | None) -> Analysis:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, analyse, self.lint, form, text, version)

    async def current(self, uri: str) -> tuple[Document, Analysis] | None:
        """The document's form and the lint of its text as it is now (linted now if it is
        not yet), None if it is not open. The answer stands for the text the request was
        asked of, even if the document changed or closed while it was linted."""
        now = self.opened(uri)
        if now is None:
            return None
        form, text, version = now
        known = self.analyses.get(uri)
        if known is not None and known.text == text:
            return form, known
        analysis = await self._run(form, text, version)
        if self.text(uri) == text:
            self.analyses[uri] = analysis
        return form, analysis

    def latest(self, uri: str) -> Analysis | None:
        return self.analyses.get(uri)

    def schedule(self, uri: str, delay: float) -> None:
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._lint_later(uri, delay))

    async def _lint_later(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        now = self.opened(uri)
        if now is None:
            return
        form, text, version = now
        known = self.analyses.get(uri)  # a hover may have linted this text already
        if known is not None and known.text == text:
            analysis = replace(known, version=version)
        else:
            analysis = await self._run(form, text, version)
        if self.text(uri) != text:
            return  # closed, or changed while it ran: the newer run publishes
        self.analyses[uri] = analysis
        self.publish(uri, analysis)

    def publish(self, uri: str, analysis: Analysis) -> None:
        lines = analysis.lines(self.encoding())
        self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=analysis.version,
            diagnostics=[to_lsp(d, lines, uri) for d in analysis.diagnostics],
        ))

    def close(self, uri: str) -> None:
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        self.forms.pop(uri, None)
        self.analyses.pop(uri, None)
        self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def serve_stdio(lint: Linter) -> int:
    """Serve over stdin and stdout until `exit`: the exit status the protocol asks for (0
    after a `shutdown` request, else 1)."""
    server, docs = _build(lint)
    quiet_expected_errors(FormatRefused)  # a refused format is an answer
    server.start_io()
    docs.worker.shutdown(wait=False, cancel_futures=True)
    return 0 if docs.shut_down else 1


def build_server(lint: Linter) -> LanguageServer:
    """A language server for policies whose diagnostics are ``lint``'s (the command line's
    one code path), for any pygls transport."""
    return _build(lint)[0]


def _build(lint: Linter) -> tuple[LanguageServer, _Documents]:
    server = Server("aigw-policy", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
    docs = _Documents(server, lint)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LanguageServer, params: None) -> None:
        docs.shut_down = True

    @server.feature(types.INITIALIZED)
    def initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        docs.worker.submit(lint, Path("warm-up.aigw"), _WARM_UP, None)  # grammar and caches

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        docs.forms[uri] = document_of(uri, params.text_document.language_id)
        docs.schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        if docs.is_open(params.text_document.uri):
            docs.schedule(params.text_document.uri, DEBOUNCE)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        if docs.is_open(params.text_document.uri):
            docs.schedule(params.text_document.uri, 0)  # a test file's policy may have changed

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        docs.close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
        current = await docs.current(params.text_document.uri)
        if current is None:
            return None
        form, analysis = current
        lines = analysis.lines(docs.encoding())
        found = hover_at(analysis.text, lines.offset(params.position), form.is_dsl, analysis.policy)
        if found is None:
            return None
        body, (start, end) = found
        span = types.Range(lines.position(start), lines.position(end))
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, body), span)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=[".", "[", '"', "'", ":", " "]))
    def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        now = docs.opened(uri)
        if now is None:
            return types.CompletionList(is_incomplete=False, items=[])
        form, text, _ = now
        lines = Lines(text, docs.encoding())
        offset = lines.offset(params.position)
        typed = re.search(r"[\w-]*$", text[max(0, offset - 200):offset]).group()  # type: ignore[union-attr]
        edit = types.Range(lines.position(offset - len(typed)), params.position)
        latest = docs.latest(uri)
        items = complete(context_at(text, offset, form.is_dsl), latest.policy if latest else None, form.is_dsl, edit)
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
        current = await docs.current(params.text_document.uri)
        if current is None:
            return None
        analysis = current[1]
        lines = analysis.lines(docs.encoding())
        span = definition_at(analysis.policy, analysis.text, lines.offset(params.position))
        return types.Location(params.text_document.uri, lines.range(span)) if span is not None else None

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(ls: LanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        current = await docs.current(params.text_document.uri)
        if current is None:
            return []
        analysis = current[1]
        return symbols(analysis.policy, analysis.lines(docs.encoding()))

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: LanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        now = docs.opened(params.text_document.uri)
        if now is None:
            return []
        form, text, _ = now
        return format_edits(form, text, Lines(text, docs.encoding()))

    return server, docs
