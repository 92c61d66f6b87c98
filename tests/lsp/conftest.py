"""One language server per test module, spoken to over its real stdio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import LspClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[LspClient]:
    client = LspClient(cwd=ROOT)
    client.initialize(general={"positionEncodings": ["utf-16"]})
    yield client
    assert client.close() == 0, client.log()
    assert "Traceback" not in client.log(), client.log()
    shown = [m for m in list(client.notifications.queue) if m["method"] == "window/showMessage"]
    assert shown == []  # pygls shows "Error in server: ..." when a handler raised


def position(text: str, offset: int) -> dict[str, int]:
    """An offset as an LSP position (UTF-16 columns; lines end at \\r\\n, \\n or \\r)."""
    head = text[:offset]
    line = head.count("\n") + head.count("\r") - head.count("\r\n")
    start = max(head.rfind("\n"), head.rfind("\r")) + 1
    return {"line": line, "character": len(head[start:].encode("utf-16-le", "surrogatepass")) // 2}


def cursor(marked: str) -> tuple[str, dict[str, int]]:
    """A text with one `|` marking the cursor: the text without it, and the position."""
    offset = marked.index("|")
    text = marked[:offset] + marked[offset + 1:]
    return text, position(text, offset)
