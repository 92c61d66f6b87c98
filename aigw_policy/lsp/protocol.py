"""pygls's protocol, made to take what a client should not send without breaking.

pygls applies ``didChange`` to its workspace before any handler of ours runs, and that raised
``KeyError`` for a document (or notebook) never opened; a message whose parameters do not have
their method's shape was never answered (the editor waits for ever on a request) and, like a
body that is not JSON, was logged with a traceback and shown to the user as "Error in server".
Here a change to a document not open is ignored (LSP: the client must open a document before it
changes it, so there is nothing to change), a request of the wrong shape is answered with
``InvalidParams`` (-32602) and its reason, and a notification of the wrong shape or a body that
is not a message is dropped with one line in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.protocol import LanguageServerProtocol
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method

from .framing import Body, Framer

__all__ = ["Protocol", "Server", "quiet_expected_errors"]

_log = logging.getLogger(__name__)


class _Dropped:
    """A message that could not be read (answered already, when it was a request)."""

    jsonrpc = ""


_DROPPED = _Dropped()


class Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" not in data:  # an inner object of the message: pygls reads the whole one
            return data
        method = data.get("method")
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" in data and isinstance(method, str):
                self._send_response(data["id"], error=types.ResponseError(
                    code=types.ErrorCodes.InvalidParams, message=f"the params of {method} are not of its shape"))
            _log.warning("dropped a message that is not of its method's shape (%s): %s", method, error)
            return _DROPPED

    def handle_message(self, message: Any) -> None:
        if message is _DROPPED:
            return
        if not hasattr(message, "jsonrpc"):  # valid JSON but no message ([], 42, ...)
            _log.warning("dropped a body that is not a JSON-RPC message: %s", type(message).__name__)
            return
        method = getattr(message, "method", None)
        if self._workspace is None and method not in (None, types.INITIALIZE, types.EXIT):
            # LSP: before `initialize` a request errors with ServerNotInitialized and a
            # notification is dropped (pygls answered InternalError with its RuntimeError, and
            # a notification's handler raised it into the log)
            if getattr(message, "id", None) is not None:
                self._send_response(message.id, error=types.ResponseError(
                    code=types.ErrorCodes.ServerNotInitialized, message=f"{method} before initialize"))
            return
        if self._shutdown and method not in (None, types.EXIT) and getattr(message, "id", None) is not None:
            # pygls drops every message after `shutdown`; LSP: a request then errors with
            # InvalidRequest (an editor waiting on it would wait for ever)
            self._send_response(message.id, error=types.ResponseError(
                code=types.ErrorCodes.InvalidRequest, message=f"the server is shut down: {method} refused"))
            return
        super().handle_message(message)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if unquote(params.text_document.uri) not in self.workspace.text_documents:
            return  # never opened (or closed): nothing to change
        yield from super().lsp_text_document__did_change(params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(self, params: types.DidChangeNotebookDocumentParams) -> Any:
        if self.workspace.get_notebook_document(notebook_uri=params.notebook_document.uri) is None:
            return
        yield from super().lsp_notebook_document__did_change(params)


class Server(LanguageServer):
    """pygls's server, with :class:`Protocol`, and a body it cannot read logged, not shown;
    over stdio its messages are framed by :class:`Framer` (a malformed one costs no other)."""

    def __init__(self, name: str, version: str, **options: Any) -> None:
        super().__init__(name, version, protocol_cls=Protocol, **options)

    def _start_io_async(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._read_framed(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            _log.error("the client's pipe closed: shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    async def _read_framed(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        read = getattr(stdin, "read1", stdin.read)
        framer = Framer()
        assert self._stop_event is not None
        while not self._stop_event.is_set():
            data = await loop.run_in_executor(self.thread_pool, read, 65536)
            if not data:
                break
            for found in framer.feed(data):
                if isinstance(found, Body):
                    self._handle_body(found)
                else:
                    _log.warning("skipped %d bytes: %s", found.size, found.reason)
                if self._stop_event.is_set():
                    return

    def _handle_body(self, body: Body) -> None:
        try:
            text = body.text()
        except (LookupError, UnicodeDecodeError) as error:
            _log.warning("dropped a body that is not %s: %s", body.charset, type(error).__name__)
            return
        try:
            message = json.loads(text, object_hook=self.protocol.structure_message)
        except (ValueError, RecursionError) as error:
            _log.warning("dropped a body that is not JSON: %s", type(error).__name__)
            return
        try:
            self.protocol.handle_message(message)
        except Exception as error:  # pygls's reader does the same: log it, serve the next one
            _log.exception("could not handle a message")
            self._report_server_error(error, JsonRpcException)

    def report_server_error(self, error: Exception, source: Any) -> None:
        if source is JsonRpcException:  # the reader's: a body that is not JSON
            _log.warning("dropped a body that is not JSON: %s", type(error).__name__)
            return
        super().report_server_error(error, source)


class _Expected(logging.Filter):
    """pygls logs a traceback for every error answer and every message it cannot read; an
    error answer (a refused format, an unknown method or command) and a message the client got
    wrong are expected, so their records keep one line: the message, without the traceback."""

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.expected):
            record.exc_info = None
            record.exc_text = None
        if isinstance(record.msg, str) and record.msg.startswith(("Unable to deserialize message",
                                                                  "Unable to handle message")):
            return False  # ours says it in one line (structure_message, handle_message)
        return True


def quiet_expected_errors(*expected: type[BaseException]) -> None:
    """Log ``expected`` errors (and pygls's protocol errors) in one line, without traceback."""
    quiet = _Expected((JsonRpcException, *expected))
    for name in ("pygls.protocol.json_rpc", "pygls.io_", "pygls.server"):
        logging.getLogger(name).addFilter(quiet)
