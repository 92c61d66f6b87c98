"""The language server and the CLI place things alike whatever ends a document's lines (LF,
CRLF, a lone CR, a mix) and whatever characters sit before them (astral ones, two UTF-16
units, in comments and strings): each diagnostic's range is lint's span in UTF-16 columns,
after the document is opened and after incremental edits made in UTF-16 positions; hover and
go to definition answer at the same places; formatting gives `fmt`'s text."""

from __future__ import annotations

import re

import pytest

from aigw_policy.fmt import format_policy
from aigw_policy.loader import read

from .client import LspClient
from .conftest import position

DOC = ('# 😀 a comment with an astral character\npolicy "p" { // 😀 too\n  on request {\n'
       '    rule "r" {  # rule 😀\n      when ai.model == "😀" || # first\n        ai.modle == "b" // second\n'
       '        || ai.model == "c"\n      deny 403\n    }\n    rule "s" {\n'
       '      when limits["rpm"].remaining < 1\n      deny 429\n    }\n  }\n}\n')
ENDS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


def _ended(text: str, kind: str) -> str:
    if kind == "mixed":
        parts = text.split("\n")
        return "".join(p + ("\n", "\r\n", "\r")[i % 3] for i, p in enumerate(parts[:-1])) + parts[-1]
    return text.replace("\n", ENDS[kind])


def _lint_ranges(text: str) -> list[tuple[str, dict, dict]]:
    _, found = read(text, name="/tmp/doc.aigw", format="dsl", cache_dir=None)
    return sorted((d.code, position(text, d.span.start), position(text, d.span.end)) for d in found if d.span)


def _lsp_ranges(diagnostics: list[dict]) -> list[tuple[str, dict, dict]]:
    return sorted((d["code"], d["range"]["start"], d["range"]["end"]) for d in diagnostics)


@pytest.mark.parametrize("kind", ["lf", "crlf", "cr", "mixed"])
def test_diagnostics_agree_with_lint_before_and_after_incremental_edits(server: LspClient, kind: str) -> None:
    uri = f"file:///tmp/ends-{kind}.aigw"
    text = _ended(DOC, kind)
    server.open(uri, text)
    got = _lsp_ranges(server.diagnostics(uri, 1))
    assert got and got == _lint_ranges(text)
    # an edit after the astral character of line 5, in UTF-16 units: `"😀"` -> `"😀😀"`
    at = text.index('😀"') + 1
    start = position(text, at)
    server.change(uri, 2, edits=[{"range": {"start": start, "end": start}, "text": "😀"}])
    text = text[:at] + "😀" + text[at:]
    assert _lsp_ranges(server.diagnostics(uri, 2)) == _lint_ranges(text)
    # replace `ai.modle` (the misspelling) across nothing else
    at = text.index("ai.modle")
    server.change(uri, 3, edits=[{"range": {"start": position(text, at), "end": position(text, at + 8)},
                                  "text": "ai.model"}])
    text = text[:at] + "ai.model" + text[at + 8:]
    assert _lsp_ranges(server.diagnostics(uri, 3)) == _lint_ranges(text)
    # definition of the limit read on the last rule: none declared, so no location, never an error
    at = text.index('"rpm"') + 2
    assert server.at("textDocument/definition", uri, **position(text, at)) in (None, [])
    hover = server.at("textDocument/hover", uri, **position(text, text.index("ai.model") + 4))
    assert hover is not None and "model" in json_text(hover)
    edits = server.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                       "options": {"tabSize": 2, "insertSpaces": True}})
    if kind != "mixed":
        formatted = format_policy(text)
        assert _apply(text, edits or []) == formatted
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def json_text(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _apply(text: str, edits: list[dict]) -> str:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def offset(p: dict) -> int:
        line = text[starts[p["line"]]:]
        units = 0
        for i, ch in enumerate(line):
            if units >= p["character"]:
                return starts[p["line"]] + i
            units += len(ch.encode("utf-16-le", "surrogatepass")) // 2
        return len(text)

    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                       reverse=True):
        text = text[:offset(edit["range"]["start"])] + edit["newText"] + text[offset(edit["range"]["end"]):]
    return text
