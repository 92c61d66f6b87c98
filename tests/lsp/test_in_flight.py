"""A document closed or changed while a request about it waits for its lint (the lint is
held until the close or change is done, so no timing decides the case): the request is
answered for the text it was asked of, never from the disk. pygls reads a closed document's
URI from the disk: a missing file was an internal error with a traceback, an existing one an
answer about another text; a closed document's form was kept for ever."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from aigw_policy.cli.lint import lint_text
from aigw_policy.lsp.server import build_server

TEXT = ('policy "p" {\n  on request {\n    rule "a" {\n      token-limit { name: "tpm", capacity: 10, rate: 1m }\n'
        '    }\n    rule "b" {\n      when limits["tpm"].remaining < 5\n      deny\n    }\n  }\n}\n')
AT = types.Position(6, 18)  # inside `limits["tpm"]`
DOC = types.TextDocumentIdentifier
REQUESTS: dict[str, Any] = {
    types.TEXT_DOCUMENT_HOVER: lambda uri: types.HoverParams(DOC(uri), AT),
    types.TEXT_DOCUMENT_DEFINITION: lambda uri: types.DefinitionParams(DOC(uri), AT),
    types.TEXT_DOCUMENT_DOCUMENT_SYMBOL: lambda uri: types.DocumentSymbolParams(DOC(uri)),
}


class HeldLint:
    """``lint``, each call held until ``release``; ``entered`` is set when one is held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.go = threading.Event()

    def __call__(self, path: Path, text: str, form: Any) -> Any:
        self.entered.set()
        assert self.go.wait(60)
        return lint_text(path, text, None, form)[1:]


def _check(method: str, answer: Any, uri: str) -> None:
    """The answer for TEXT as it was when asked."""
    if method == types.TEXT_DOCUMENT_HOVER:
        assert "tpm" in answer.contents.value
    elif method == types.TEXT_DOCUMENT_DEFINITION:
        assert answer.uri == uri and answer.range.start.line == 3
    else:
        assert [s.name for s in answer] == ["on request"]


async def _in_flight(method: str, uri: str, then: Any) -> tuple[Any, Any]:
    lint = HeldLint()
    server = build_server(lint)
    for _ in server.protocol.lsp_initialize(types.InitializeParams(types.ClientCapabilities())):
        pass  # a generator: the workspace is made before its first step
    features = server.protocol.fm.features
    server.workspace.put_text_document(types.TextDocumentItem(uri, "aigw", 1, TEXT))
    opened = types.TextDocumentItem(uri, "aigw", 1, TEXT)
    features[types.TEXT_DOCUMENT_DID_OPEN](types.DidOpenTextDocumentParams(opened))
    asking = asyncio.ensure_future(features[method](REQUESTS[method](uri)))
    while not lint.entered.is_set():  # the request (or the open's lint) is linting
        await asyncio.sleep(0.01)
    then(server, features)
    lint.go.set()
    return server, await asking


@pytest.mark.parametrize("on_disk", ["missing", "another text"])
@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_a_document_closed_while_its_request_waits(tmp_path: Path, method: str, on_disk: str) -> None:
    path = tmp_path / "closing.aigw"
    if on_disk == "another text":
        path.write_text('policy "elsewhere" {\n}\n')
    uri = path.as_uri()

    def close(server: Any, features: Any) -> None:
        server.workspace.remove_text_document(uri)  # as pygls does before the handler
        features[types.TEXT_DOCUMENT_DID_CLOSE](types.DidCloseTextDocumentParams(DOC(uri)))

    server, answer = asyncio.run(_in_flight(method, uri, close))
    _check(method, answer, uri)
    later = asyncio.run(server.protocol.fm.features[method](REQUESTS[method](uri)))
    assert later in (None, [])
    assert server.protocol.fm.features  # the server was not torn down by the error


@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_a_document_changed_while_its_request_waits(method: str) -> None:
    uri = "file:///tmp/in-flight-changed.aigw"

    def change(server: Any, features: Any) -> None:
        moved = types.TextDocumentContentChangeWholeDocument("\n\n\n" + TEXT)
        server.workspace.update_text_document(types.VersionedTextDocumentIdentifier(2, uri), moved)

    _, answer = asyncio.run(_in_flight(method, uri, change))
    _check(method, answer, uri)
