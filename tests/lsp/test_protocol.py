"""The server's life over stdio: initialize, what it offers, shutdown and exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .client import LspClient, ResponseError
from .conftest import ROOT


def test_initialize_offers_every_feature() -> None:
    client = LspClient(cwd=ROOT)
    try:
        result = client.initialize()
        caps = result["capabilities"]
        assert result["serverInfo"]["name"] == "aigw-policy"
        for provider in ("hoverProvider", "definitionProvider", "documentSymbolProvider",
                         "documentFormattingProvider"):
            assert caps.get(provider), provider
        assert "." in caps["completionProvider"]["triggerCharacters"]
        assert caps["textDocumentSync"]["change"] == 2  # incremental
    finally:
        assert client.close() == 0, client.log()


def test_exit_without_shutdown_is_status_1() -> None:
    client = LspClient(cwd=ROOT)
    client.initialize()
    client.notify("exit")
    assert client.process.wait(timeout=60) == 1
    client.close()


@pytest.mark.parametrize("method", ["textDocument/hover", "shutdown", "aigw/nothing"])
def test_a_request_after_shutdown_is_refused_not_left_waiting(method: str) -> None:
    client = LspClient(cwd=ROOT)
    client.initialize()
    client.request("shutdown")
    with pytest.raises(ResponseError) as error:
        client.request(method, {"textDocument": {"uri": "file:///tmp/x.aigw"}, "position": {"line": 0, "character": 0}})
    assert error.value.code == -32600  # InvalidRequest
    client.notify("exit")
    assert client.process.wait(timeout=60) == 0
    client.close()


def test_before_initialize_a_request_is_refused_and_a_notification_dropped() -> None:
    client = LspClient(cwd=ROOT)
    uri = "file:///tmp/early.aigw"
    client.open(uri, 'policy "p" {\n  default maybe\n}\n')  # dropped: no diagnostics for it later
    for method in ("textDocument/hover", "textDocument/documentSymbol", "shutdown"):
        with pytest.raises(ResponseError) as error:
            client.at(method, uri, 0, 0)
        assert error.value.code == -32002, method  # ServerNotInitialized
    client.initialize()
    assert client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}) == []  # never opened
    assert client.close() == 0, client.log()
    assert "Traceback" not in client.log(), client.log()


def test_the_console_script_serves() -> None:
    script = Path(sys.executable).with_name("aigw-policy")
    command = str(script) if script.exists() else shutil.which("aigw-policy")
    if command is None:
        pytest.skip("the aigw-policy console script is not installed beside this Python")
    client = LspClient([command, "lsp"], cwd=ROOT)
    client.initialize()
    client.open("file:///tmp/console.aigw", 'policy "p" {\n  default maybe\n}\n')
    assert [d["code"] for d in client.diagnostics("file:///tmp/console.aigw")] != []
    assert client.close() == 0, client.log()


def test_without_pygls_it_says_which_extra_to_install() -> None:
    code = ("import sys; sys.modules['pygls'] = None; sys.argv = ['aigw-policy', 'lsp']; "
            "from aigw_policy.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "pip install 'aigw-policy[lsp]'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("path", ["/no/such/policy.aigw", "/dev/zero", "/proc/self/environ"])
def test_a_document_not_opened_gets_empty_answers(path: str) -> None:
    """pygls reads a document the editor never opened from the disk: a missing file was an
    internal error with a traceback, `/dev/zero` a read without end. Only open documents are
    answered for."""
    client = LspClient(cwd=ROOT)
    try:
        client.initialize()
        doc = {"textDocument": {"uri": "file://" + path}}
        at = {**doc, "position": {"line": 0, "character": 0}}
        assert client.request("textDocument/hover", at) is None
        assert client.request("textDocument/definition", at) is None
        assert client.request("textDocument/completion", at)["items"] == []
        assert client.request("textDocument/documentSymbol", doc) == []
        assert client.request("textDocument/formatting", {**doc, "options": {"tabSize": 2, "insertSpaces": True}}) == []
        client.notify("textDocument/didSave", doc)
    finally:
        assert client.close() == 0, client.log()
    assert "Traceback" not in client.log(), client.log()
