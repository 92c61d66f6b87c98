"""A small JSON-RPC client that drives `aigw-policy lsp` over its real stdio, as an editor
does: framed messages on the pipes, a reader thread, waits bounded by events (a queue)."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

WAIT = 60.0
"""The most any one answer is waited for (a bound, not a measure: answers come in ms)."""


class ResponseError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message", "")


class LspClient:
    def __init__(self, command: list[str] | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "aigw_policy.cli", "lsp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
        )
        self.ids = itertools.count(1)
        self.responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    # -- the wire ----------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def send_raw(self, body: bytes) -> None:
        """A framed message whose body is ``body`` as it is (not necessarily JSON)."""
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def send_bytes(self, data: bytes) -> None:
        """``data`` on the wire as it is: headers, bodies, garbage."""
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(data)
            self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.notifications.put({"method": "$/eof"})
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "a message without Content-Length"
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:  # a request of the server's
                self._send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.put(message)
            else:
                self._queue(message["id"]).put(message)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _queue(self, id: int) -> queue.Queue[dict[str, Any]]:
        with self.lock:
            return self.responses.setdefault(id, queue.Queue())

    # -- calls -------------------------------------------------------------------------------
    def request(self, method: str, params: Any = None) -> Any:
        id = next(self.ids)
        self._send({"id": id, "method": method, "params": params})
        return self.answer(id)

    def answer(self, id: int) -> Any:
        """The result of request ``id`` (sent already); an error answer raises."""
        message = self._queue(id).get(timeout=WAIT)
        if "error" in message:
            raise ResponseError(message["error"])
        return message.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    def notification(self, method: str, where: Any = lambda params: True) -> dict[str, Any]:
        """The next notification of ``method`` whose params satisfy ``where`` (others of
        it are dropped; other methods are kept)."""
        kept = []
        try:
            while True:
                message = self.notifications.get(timeout=WAIT)
                assert message["method"] != "$/eof", "the server closed its output:\n" + self.log()
                if message["method"] == method and where(message.get("params")):
                    return message["params"]
                if message["method"] != method:
                    kept.append(message)
        finally:
            for message in kept:
                self.notifications.put(message)

    def log(self) -> str:
        return b"".join(self.stderr).decode(errors="replace")[-4000:]

    # -- an editor's steps -------------------------------------------------------------------
    def initialize(self, **capabilities: Any) -> dict[str, Any]:
        result = self.request("initialize", {"processId": None, "rootUri": None,
                                             "capabilities": capabilities})
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, language: str = "aigw", version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": language, "version": version, "text": text}})

    def change(self, uri: str, version: int, text: str | None = None, edits: list[dict[str, Any]] | None = None) -> None:
        changes = edits if edits is not None else [{"text": text}]
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": changes})

    def diagnostics(self, uri: str, version: int | None = None) -> list[dict[str, Any]]:
        params = self.notification("textDocument/publishDiagnostics",
                                   lambda p: p["uri"] == uri and (version is None or p.get("version") == version))
        return params["diagnostics"]

    def at(self, method: str, uri: str, line: int, character: int, **extra: Any) -> Any:
        return self.request(method, {"textDocument": {"uri": uri},
                                     "position": {"line": line, "character": character}, **extra})

    def close(self) -> int:
        """shutdown, exit; the exit status."""
        if self.process.poll() is None:
            try:
                self.request("shutdown")
                self.notify("exit")
            except (OSError, ValueError):
                pass
        try:
            return self.process.wait(timeout=WAIT)
        finally:
            for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
