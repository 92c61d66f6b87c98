"""Diagnostics in the editor are `lint`'s: the same codes, messages, help and spans, for
every example and every broken fixture, published at once on open and debounced on change."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .client import LspClient
from .conftest import ROOT

FILES = sorted([*(ROOT / "examples").glob("*.aigw"), *(ROOT / "examples").glob("*.yaml"),
                *(p for p in (ROOT / "tests" / "data" / "broken").iterdir()
                  if p.suffix in (".aigw", ".yaml", ".yml", ".json")),
                # policy test files: checked as test files, as `lint` checks them
                *(ROOT / "tests" / "engine" / "data").glob("limits*.test.yaml")])
LANGUAGE = {".aigw": "aigw", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
SEVERITY = {"error": 1, "warning": 2, "info": 3}


@pytest.fixture(scope="module")
def linted() -> dict[str, list[dict]]:
    """`aigw-policy lint --format json` of every file, by file."""
    out = subprocess.run([sys.executable, "-m", "aigw_policy.cli", "lint", "--format", "json",
                          *map(str, FILES)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode in (0, 1), out.stderr
    found: dict[str, list[dict]] = {str(p): [] for p in FILES}
    for d in json.loads(out.stdout)["diagnostics"]:
        found[d["span"]["file"]].append(d)
    return found


def expected(d: dict, text: str) -> dict:
    """A `lint --format json` diagnostic as the LSP one it must be."""
    lines = re.split(r"\r\n|\r|\n", text)  # as an editor shows them: lint's line N is the editor's N

    def at(line: int, column: int) -> dict:
        head = lines[line - 1][:column - 1]
        assert len(head) == column - 1, (line, column)  # a column past its line's end: wrong
        return {"line": line - 1, "character": len(head.encode("utf-16-le", "surrogatepass")) // 2}

    span = d["span"]
    return {
        "code": d["code"], "severity": SEVERITY[d["severity"]],
        "message": d["message"] + (f"\nhelp: {d['help']}" if d["help"] else ""),
        "range": {"start": at(span["line"], span["column"]), "end": at(span["end_line"], span["end_column"])},
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_open_publishes_what_lint_reports(server: LspClient, linted: dict[str, list[dict]], path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    uri = path.as_uri()
    server.open(uri, text, LANGUAGE[path.suffix])
    got = server.diagnostics(uri, 1)
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.diagnostics(uri)  # closing clears them
    want = [expected(d, text) for d in linted[str(path)]]
    assert [{k: d[k] for k in ("code", "severity", "message", "range")} for d in got] == want
    assert all(d["source"] == "aigw-policy" for d in got)


# An emoji (two UTF-16 units) before the fault, and every line end an editor may keep: the
# editor's range is lint's line and column, converted, whatever the line ends (lint counted
# only `\n` before, so a file with `\r` line ends was all on its line 1).
EMOJI = {
    "aigw": 'policy "p😀" {\n  on request {\n    rule "😀" {\n      when ai.modl == "😀😀" && identity.tem == "x"\n'
            '      deny\n    }\n  }\n}\n',
    "yaml": 'on_http_request:\n  - name: "😀😀 rule"\n    expressions: ["ai.modl == \'😀\' && identity.tem == \'x\'"]\n'
            '    actions: [{type: deny, config: {status_code: 99}}]\n',
}


BROKEN = ROOT / "tests" / "data" / "broken"
LINE_ENDS = [Path(p) for p in ("yaml-syntax-error.yaml", "word-operators.aigw", "cel-syntax-error.yaml",
                               "duplicate-limit-name.yaml", "bad-interpolation.aigw", "json-syntax-error.json")]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("text", [*EMOJI.items(), *((LANGUAGE[p.suffix], (BROKEN / p).read_text()) for p in LINE_ENDS)],
                         ids=lambda t: t[0] if isinstance(t, tuple) else t)
def test_every_line_end_and_emoji_gets_lints_places(server: LspClient, text: tuple[str, str], end: str,
                                                    tmp_path: Path) -> None:
    language, body = text
    body = body.replace("\n", end)
    path = tmp_path / f"policy.{ {'aigw': 'aigw', 'yaml': 'yaml', 'json': 'json'}[language]}"
    path.write_bytes(body.encode())
    out = subprocess.run([sys.executable, "-m", "aigw_policy.cli", "lint", "--format", "json", str(path)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    want = [expected(d, body) for d in json.loads(out.stdout)["diagnostics"]]
    assert want
    uri = path.as_uri()
    server.open(uri, body, language)
    got = server.diagnostics(uri, 1)
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.diagnostics(uri)
    assert [{k: d[k] for k in ("code", "severity", "message", "range")} for d in got] == want


def test_a_change_is_linted_and_stale_runs_never_publish_last(server: LspClient) -> None:
    uri = "file:///tmp/changes.aigw"
    good = (ROOT / "examples" / "acme-gateway.aigw").read_text()
    server.open(uri, good)
    assert server.diagnostics(uri, 1) == []
    for version in range(2, 12):  # typing: each version a little different
        server.change(uri, version, good.replace("identity.team", "identity.tea" + "m" * (version % 2)))
    final = 12
    server.change(uri, final, good.replace("ai.model in", "ai.modl in"))
    versions = []
    while not versions or versions[-1] != final:
        params = server.notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
        versions.append(params["version"])
        last = params["diagnostics"]
    assert versions == sorted(versions)  # a run overtaken by a change is dropped, not published late
    assert [d["code"] for d in last] == ["AIGW300"]
    assert "did you mean `ai.model`?" in last[0]["message"]


def test_incremental_edits_are_applied(server: LspClient) -> None:
    uri = "file:///tmp/incremental.aigw"
    text = 'policy "p" {\n  default allow\n}\n'
    server.open(uri, text)
    assert server.diagnostics(uri, 1) == []
    # `allow` -> `maybe` on line 2, as an editor sends it
    edit = {"range": {"start": {"line": 1, "character": 10}, "end": {"line": 1, "character": 15}}, "text": "maybe"}
    server.change(uri, 2, edits=[edit])
    diagnostics = server.diagnostics(uri, 2)
    assert diagnostics and diagnostics[0]["range"]["start"] == {"line": 1, "character": 10}


def test_duplicates_point_at_the_first(server: LspClient) -> None:
    path = ROOT / "tests" / "data" / "broken" / "duplicate-limit-name.yaml"
    text = path.read_text()
    uri = "file:///tmp/duplicate-limit-name.yaml"
    server.open(uri, text, "yaml")
    duplicate = next(d for d in server.diagnostics(uri, 1) if d["code"] == "AIGW131")
    related = duplicate["relatedInformation"]
    assert related[0]["location"]["uri"] == uri
    assert related[0]["location"]["range"]["start"]["line"] < duplicate["range"]["start"]["line"]


def test_a_language_id_names_the_form_of_an_untitled_document(server: LspClient) -> None:
    uri = "untitled:Untitled-1"
    server.open(uri, 'policy "p" {\n  default maybe\n}\n', "aigw")
    assert [d["code"] for d in server.diagnostics(uri, 1)] == ["AIGW125"]


def test_a_keys_file_is_checked_as_lint_checks_it(server: LspClient, tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - key: sk-1\n    identity: {key: k1, taem: research}\n")
    out = subprocess.run([sys.executable, "-m", "aigw_policy.cli", "lint", "--format", "json", str(keys)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    want = [expected(d, keys.read_text()) for d in json.loads(out.stdout)["diagnostics"]]
    assert want  # the misspelled key is reported
    server.open(keys.as_uri(), keys.read_text(), "yaml")
    got = server.diagnostics(keys.as_uri(), 1)
    assert [{k: d[k] for k in ("code", "severity", "message", "range")} for d in got] == want


FLAGGED = 'policy "p" {\n  on request {\n    rule "r" {\n      when identity.team == "x" && req.headers["x-a"][0] == "b"\n' \
          '      deny 403\n    }\n  }\n}\n'


@pytest.mark.parametrize("flags, codes", [
    ([], set()),
    (["--runtime-lookups"], {"AIGW403"}),
    (["--max-cost", "2"], {"AIGW310"}),
    (["--runtime-lookups", "--max-cost", "2"], {"AIGW403", "AIGW310"}),
])
def test_the_servers_flags_are_lints(tmp_path: Path, flags: list[str], codes: set[str]) -> None:
    """`aigw-policy lsp --runtime-lookups --max-cost N` checks as `lint` with those flags does."""
    path = tmp_path / "flagged.aigw"
    path.write_text(FLAGGED)
    out = subprocess.run([sys.executable, "-m", "aigw_policy.cli", "lint", "--format", "json", *flags, str(path)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    want = [expected(d, FLAGGED) for d in json.loads(out.stdout)["diagnostics"]]
    assert {d["code"] for d in want} == codes  # the flags change what lint says
    client = LspClient([sys.executable, "-m", "aigw_policy.cli", "lsp", *flags], cwd=ROOT)
    try:
        client.initialize(general={"positionEncodings": ["utf-16"]})
        client.open(path.as_uri(), FLAGGED, "aigw")
        got = client.diagnostics(path.as_uri(), 1)
    finally:
        assert client.close() == 0, client.log()
    assert [{k: d[k] for k in ("code", "severity", "message", "range")} for d in got] == want
