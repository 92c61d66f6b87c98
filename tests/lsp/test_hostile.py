"""What an editor, or anything on the other end of the pipe, may send that it should not: a
change to a document it never opened, parameters of the wrong shape, a body that is not JSON,
and documents that are huge, binary or nested without end. Every request is still answered
(an error code where the message is wrong), nothing pops up an "Error in server", no
traceback reaches the log, and the server keeps serving (the module's server checks the last
two when it shuts down)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .client import LspClient, ResponseError

_n = itertools.count()
OPEN = 'policy "p" {\n  on request {\n    rule "r" {\n      when ai.model == "m"\n      deny\n    }\n  }\n}\n'


def _range(a: int, b: int, c: int, d: int) -> dict[str, Any]:
    return {"start": {"line": a, "character": b}, "end": {"line": c, "character": d}}


# (name, method, params, whether it is a request, the answer's error code or None for a result)
# `{open}` in a URI is the test's open document; any other URI was never opened.
MESSAGES: list[tuple[str, str, Any, bool, int | None]] = [
    ("change of a document never opened", "textDocument/didChange",
     {"textDocument": {"uri": "file:///tmp/never.aigw", "version": 2}, "contentChanges": [{"text": "x"}]}, False, None),
    ("incremental change of a document never opened", "textDocument/didChange",
     {"textDocument": {"uri": "file:///tmp/never.aigw", "version": 2},
      "contentChanges": [{"range": _range(0, 0, 0, 0), "text": "x"}]}, False, None),
    ("close of a document never opened", "textDocument/didClose", {"textDocument": {"uri": "file:///tmp/never.aigw"}},
     False, None),
    ("change of a notebook never opened", "notebookDocument/didChange",
     {"notebookDocument": {"uri": "file:///tmp/never.ipynb", "version": 2}, "change": {}}, False, None),
    ("change without contentChanges", "textDocument/didChange", {"textDocument": {"uri": "{open}", "version": 2}},
     False, None),
    ("change with a negative position", "textDocument/didChange",
     {"textDocument": {"uri": "{open}", "version": 2}, "contentChanges": [{"range": _range(-1, -5, 0, 0), "text": "x"}]},
     False, None),
    ("change past the end", "textDocument/didChange",
     {"textDocument": {"uri": "{open}", "version": 2}, "contentChanges": [{"range": _range(900, 5, 1000, 0), "text": "x"}]},
     False, None),
    ("open whose document is a number", "textDocument/didOpen", {"textDocument": 5}, False, None),
    ("hover at a negative line", "textDocument/hover",
     {"textDocument": {"uri": "{open}"}, "position": {"line": -1, "character": 0}}, True, -32602),
    ("hover without a position", "textDocument/hover", {"textDocument": {"uri": "{open}"}}, True, -32602),
    ("completion whose params are a list", "textDocument/completion", [1, 2], True, -32602),
    ("hover far past the end", "textDocument/hover",
     {"textDocument": {"uri": "{open}"}, "position": {"line": 10**6, "character": 10**6}}, True, None),
    ("a method nobody defined", "aigw/nothing", {}, True, -32601),
    ("a command the server has not", "workspace/executeCommand", {"command": "nope", "arguments": []}, True, -32602),
]


@pytest.mark.parametrize(("method", "params", "is_request", "code"), [m[1:] for m in MESSAGES],
                         ids=[m[0] for m in MESSAGES])
def test_a_wrong_message_is_answered_and_the_server_goes_on(server: LspClient, method: str, params: Any,
                                                            is_request: bool, code: int | None) -> None:
    uri = f"file:///tmp/hostile-{next(_n)}.aigw"
    server.open(uri, OPEN)
    server.diagnostics(uri)
    params = _with_uri(params, uri)
    if is_request:
        if code is None:
            server.request(method, params)
        else:
            with pytest.raises(ResponseError) as error:
                server.request(method, params)
            assert error.value.code == code
            assert "Traceback" not in error.value.message
    else:
        server.notify(method, params)
    hover = server.at("textDocument/hover", uri, 3, 12)  # `model` of ai.model: still served
    assert hover is not None and "ai.model" in hover["contents"]["value"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"42", b'{"jsonrpc": "2.0", "id": 7}', b"\xff\xfe\x00"],
                         ids=["not json", "a list", "a number", "an answer to nothing", "not utf-8"])
def test_a_body_that_is_not_a_message_is_dropped(server: LspClient, body: bytes) -> None:
    server.send_raw(body)
    uri = f"file:///tmp/hostile-{next(_n)}.aigw"
    server.open(uri, OPEN)
    assert [d["code"] for d in server.diagnostics(uri)] == []


# Documents no one should write, each with the code lint gives it: the server answers within
# bounds (the client's wait), as `lint` does.
DOCUMENTS: list[tuple[str, str, str, str]] = [
    ("dsl nested 100,000 deep", "aigw", 'policy "p" {\n' + "(" * 100_000 + "\n}\n", "AIGW001"),
    ("yaml nested 20,000 deep", "yaml", "on_http_request:\n" + "- " * 20_000 + "x\n", "AIGW008"),
    ("json nested 100,000 deep", "json", "[" * 100_000, "AIGW008"),
    ("binary", "yaml", "\x00\x01\ud800\ufffe binary \x7f", "AIGW007"),
    ("a megabyte on one line", "aigw", "x" * 1_000_000, "AIGW006"),
    ("3,000 rules", "yaml", "on_http_request:\n" + "  - expressions: [\"ai.model == 'm'\"]\n    actions: [{type: nope}]\n" * 3_000,
     "AIGW"),
]


@pytest.mark.parametrize(("language", "text", "code"), [d[1:] for d in DOCUMENTS], ids=[d[0] for d in DOCUMENTS])
def test_a_hostile_document_gets_diagnostics_and_answers(server: LspClient, language: str, text: str, code: str) -> None:
    uri = f"file:///tmp/hostile-{next(_n)}.{language}"
    server.open(uri, text, language)
    codes = [d["code"] for d in server.diagnostics(uri)]
    assert codes and codes[0].startswith(code), codes
    server.at("textDocument/hover", uri, 0, 3)
    server.at("textDocument/completion", uri, 0, 3)
    server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def _with_uri(params: Any, uri: str) -> Any:
    if isinstance(params, dict):
        return {k: _with_uri(v, uri) for k, v in params.items()}
    if isinstance(params, list):
        return [_with_uri(v, uri) for v in params]
    return uri if params == "{open}" else params
