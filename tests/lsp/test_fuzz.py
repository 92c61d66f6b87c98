"""A broken document never breaks the server: random edits of real policies go through
didChange (incremental, as editors send them), every request is still answered, and the
diagnostics of the final text are still exactly lint's."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.analysis import LintOptions
from aigw_policy.cli.lint import lint_text

from .client import LspClient
from .conftest import ROOT, position

BASES = [(p.read_text(), p.suffix) for p in sorted((ROOT / "examples").iterdir()) if p.suffix in (".aigw", ".yaml")]
PIECES = ["{", "}", "[", "]", "(", ")", '"', "'", "${", ":", ",", "\n", "\r\n", "\r", "  ", "- ", "#", "//",
          "when ", "rule ", "on request ", "deny", "token-limit", "limits[\"", "ai.", "vars.", "identity.",
          "config:", "type: ", "expressions: [", "1m", "200_000", "&&", "==", ".startsWith(", "é", "😀",
          "\t", "\x00", "\u2028", "x"]
_n = itertools.count()

edit = st.tuples(st.floats(0, 1), st.integers(0, 24), st.lists(st.sampled_from(PIECES), max_size=6).map("".join))


def _range(text: str, start: int, end: int) -> dict:
    return {"start": position(text, start), "end": position(text, end)}


@settings(max_examples=25)
@given(base=st.sampled_from(BASES), edits=st.lists(edit, min_size=1, max_size=6), probes=st.lists(st.floats(0, 1), min_size=1, max_size=3))
def test_random_edits_never_break_the_server(server: LspClient, base: tuple[str, str], edits: list, probes: list[float]) -> None:
    text, suffix = base
    uri = f"file:///tmp/fuzz-{next(_n)}{suffix}"
    server.open(uri, text, "aigw" if suffix == ".aigw" else "yaml")
    version = 1
    for where, length, insert in edits:
        start = int(where * len(text))
        end = min(len(text), start + length)
        version += 1
        server.change(uri, version, edits=[{"range": _range(text, start, end), "text": insert}])
        text = text[:start] + insert + text[end:]
    for where in probes:
        pos = position(text, int(where * len(text)))
        for method in ("textDocument/hover", "textDocument/completion", "textDocument/definition"):
            server.at(method, uri, pos["line"], pos["character"])  # an error response raises
    server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    version += 1
    server.change(uri, version, text)  # the whole text: what the server holds is what lint reads
    got = server.diagnostics(uri, version)
    _, _, want = lint_text(Path(uri.removeprefix("file://")), text, LintOptions())
    assert [(d["code"], d["message"]) for d in got] == [
        (d.code, d.message + (f"\nhelp: {d.help}" if d.help else "")) for d in want]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.process.poll() is None
