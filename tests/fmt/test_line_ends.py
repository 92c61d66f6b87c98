"""`fmt` keeps a file's line ends and its UTF-8 BOM: a formatted CRLF (or CR) file is
formatted, a rewritten one keeps CRLF (when all its lines end alike; a mixed file gets LF;
continuation lines of a multi-line condition keep theirs) and its BOM; the language server's
formatting of such a document is no edit, or an edit in its line ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.fmt import format_policy
from aigw_policy.lsp.documents import document_of
from aigw_policy.lsp.formatting import format_edits
from aigw_policy.lsp.positions import Lines

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.aigw"))
UNFORMATTED = ('policy "p" {\n  on request {\n    rule "r" {\n      when ai.model == "a" ||\n'
               '        ai.model == "b"\n      deny    403\n    }\n  }\n}\n')
ENDS = {"crlf": "\r\n", "cr": "\r"}
BOM = "\ufeff"


def _breaks(text: str) -> set[str]:
    return set(re.findall(r"\r\n|\r|\n", text))


# the examples have comments, which end at a lone CR too (Session 27)
@pytest.mark.parametrize("end", sorted(ENDS))
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_a_formatted_crlf_file_is_formatted(example: Path, end: str) -> None:
    text = example.read_text().replace("\n", ENDS[end])
    assert format_policy(text) == text


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
@pytest.mark.parametrize("end", sorted(ENDS) + ["lf"])
def test_fmt_writes_the_files_line_ends_and_bom(tmp_path: Path, end: str, bom: bool) -> None:
    eol = ENDS.get(end, "\n")
    path = tmp_path / "p.aigw"
    path.write_bytes(((BOM if bom else "") + UNFORMATTED.replace("\n", eol)).encode())
    runner = CliRunner()
    assert runner.invoke(app, ["fmt", "--check", str(path)]).exit_code == 1  # `deny    403`
    assert runner.invoke(app, ["fmt", str(path)]).exit_code == 0
    written = path.read_bytes().decode()
    assert written.startswith(BOM) == bom
    assert _breaks(written) == {eol}
    assert "      deny 403" + eol in written
    assert "||" + eol + "        ai.model" in written  # the condition's own line break
    checked = runner.invoke(app, ["fmt", "--check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert path.read_bytes().decode() == written


def test_a_conditions_own_line_breaks_are_kept() -> None:
    # a lone CR inside a CRLF file's condition stays; a file of mixed ends (a lone LF, which
    # inside a condition is its text) is printed with LF, as before: never refused as AIGW009
    kept = UNFORMATTED.replace("\n", "\r\n").replace("||\r\n", "||\r")
    out = format_policy(kept)
    assert "||\r        ai.model" in out and _breaks(out.replace("||\r", "")) == {"\r\n"}
    assert format_policy(out) == out
    mixed = UNFORMATTED.replace("\n", "\r\n").replace("||\r\n", "||\n")
    out = format_policy(mixed)
    assert "||\n        ai.model" in out and _breaks(out) == {"\n"}
    assert format_policy(out) == out


@pytest.mark.parametrize("end", sorted(ENDS))
def test_the_language_server_formats_in_the_documents_line_ends(end: str) -> None:
    eol = ENDS[end]
    document = document_of("file:///tmp/p.aigw", "aigw")
    formatted = format_policy(UNFORMATTED).replace("\n", eol)
    assert format_edits(document, formatted, Lines(formatted)) == []
    text = UNFORMATTED.replace("\n", eol)
    (edit,) = format_edits(document, text, Lines(text))
    assert _breaks(edit.new_text) == {eol}
