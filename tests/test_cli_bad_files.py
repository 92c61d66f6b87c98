"""Every file a command reads, given as a missing path, a directory or bytes that are not
UTF-8 text: a coded diagnostic placed at the file (docs/cli.md) and exit 2, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy import files
from aigw_policy.cli import app

EXAMPLES = Path(__file__).parent.parent / "examples"
POLICY = str(EXAMPLES / "key-limits.yaml")
REQUEST = str(EXAMPLES / "requests" / "key-limits-batch.json")
# serve: an address no socket can take, so a file read by mistake fails later instead of serving
SERVE = ("serve", "--policy", POLICY, "--upstream", "http://127.0.0.1:9", "--host", "256.0.0.1", "--port", "1")

BOUND = 50_000  # the input bound for these tests: above POLICY and REQUEST, below `too-large`

# each command line reads the file at `{}`
COMMANDS = [
    ("lint", "{}"),
    ("convert", "{}", "--to", "dsl"),
    ("explain", "{}", "--policy", POLICY),
    ("explain", REQUEST, "--policy", "{}"),
    ("explain", REQUEST, "--policy", POLICY, "--prices", "{}"),
    ("replay", REQUEST, "--policy", "{}"),
    ("replay", REQUEST, "--policy", POLICY, "--against", "{}"),
    ("replay", REQUEST, "--policy", POLICY, "--prices", "{}"),
    ("limits", "--store", "memory:", "--key", "k1", "--policy", "{}"),
    ("limits", "--store", "memory:", "--policy", POLICY, "--keys", "{}", "--key", "k1"),
    ("reconcile", "--ledger", "jsonl:{ledger}", "--provider-usage", "{}"),
    ("reconcile", "--ledger", "jsonl:{ledger}", "--store", "memory:", "--policy", "{}"),
    ("report", "--ledger", "jsonl:{ledger}", "--store", "memory:", "--policy", "{}", "-o", "{out}"),
    ("prove", "rules", "{}"),
    ("prove", "query", "{}", "--verdict", "deny", "--where", "true"),
    ("prove", "equiv", POLICY, "{}"),
    (*SERVE[:2], "{}", *SERVE[3:]),
    (*SERVE, "--keys", "{}"),
    (*SERVE, "--secrets", "{}"),
    (*SERVE, "--prices", "{}"),
    (*SERVE, "--geoip", "{}"),
]


def _bad_file(kind: str, tmp: Path) -> Path:
    if kind == "missing":
        return tmp / "no-such-file.yaml"
    if kind == "endless":  # a device that never ends (read whole, it took all memory)
        return Path("/dev/zero")
    if kind == "too-large":  # a policy, bigger than any input file may be (the bound is lowered)
        path = tmp / "too-large.yaml"
        path.write_bytes(b"on_http_request: []\n" + b"# padding\n" * (BOUND // 10 + 1))
        return path
    if kind == "directory":
        (tmp / "a-directory.json").mkdir()
        return tmp / "a-directory.json"
    path = tmp / "not-text.yaml"
    path.write_bytes(b"\xff\xfe\xfa\x00\x81 binary" * 8)
    return path


@pytest.mark.parametrize("kind", ["missing", "directory", "not-utf8", "endless", "too-large"])
@pytest.mark.parametrize("command", COMMANDS + [("test", "{}")], ids=lambda c: " ".join(a for a in c if "/" not in a))
def test_a_bad_file_is_a_diagnostic_and_exit_2(command: tuple[str, ...], kind: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_INPUT_BYTES", BOUND)
    path = _bad_file(kind, tmp_path)
    (tmp_path / "ledger.jsonl").write_text("")
    argv = [a.replace("{}", str(path)).replace("{out}", str(tmp_path / "out.html"))
            .replace("{ledger}", str(tmp_path / "ledger.jsonl")) for a in command]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert coded_at(result.output, path), result.output


def coded_at(output: str, path: Path) -> bool:
    """A coded diagnostic placed at ``path`` (lint's shape: `error[AIGWnnn]: ...`, `--> path`)."""
    return re.search(rf"error\[AIGW\d{{3}}\]: [^\n]*(\n[^\n]*)*?\n  --> {re.escape(str(path))}(:\d+(:\d+)?)?\n",
                     output + "\n") is not None


# The same file as text can come: a UTF-8 BOM or CRLF line ends answer exactly as the plain
# file does; an empty file or one with a control character is a coded diagnostic with the
# command's documented exit code (lint, convert and fmt: 1, a finding in the file; the others
# cannot run on it: 2), never a traceback.
PLAIN = EXAMPLES / "team-model-access.yaml"
PLAIN_DSL = EXAMPLES / "team-model-access.aigw"
TESTS = Path(__file__).parent / "engine" / "data" / "example-content-guard.test.yaml"
AS_TEXT = [
    ("lint", "{yaml}"), ("lint", "{dsl}"), ("convert", "{yaml}", "--to", "dsl"), ("convert", "{dsl}", "--to", "yaml"),
    ("fmt", "--check", "{dsl}"), ("explain", REQUEST, "--policy", "{yaml}"), ("test", "{test}"),
    ("prove", "rules", "{dsl}"), ("prove", "query", "{yaml}", "--verdict", "deny", "--where", "ai.model == 'x'"),
    ("prove", "equiv", str(PLAIN), "{yaml}"), ("limits", "--store", "memory:", "--key", "k1", "--policy", "{yaml}"),
]
FINDING_EXIT = {"lint": 1, "convert": 1, "fmt": 1}


def _as(kind: str, original: Path, tmp: Path) -> Path:
    data = original.read_bytes()
    if original == TESTS:  # the test file names its policy and requests relative to itself
        data = data.replace(b"../../../examples/", str(EXAMPLES).encode() + b"/")
    got = {"plain": data, "bom": b"\xef\xbb\xbf" + data, "crlf": data.replace(b"\n", b"\r\n"), "empty": b"",
           "control": data.replace(b"\n", b"\n\x07", 1)}[kind]
    path = tmp / f"{kind}-{original.name}"
    path.write_bytes(got)
    return path


def _run(command: tuple[str, ...], kind: str, tmp: Path) -> tuple[int, str]:
    paths = {"{yaml}": PLAIN, "{dsl}": PLAIN_DSL, "{test}": TESTS}
    argv, named = [], "?"
    for a in command:
        if a in paths:
            path = _as(kind, paths[a], tmp)
            argv.append(str(path))
            named = str(path)
        else:
            argv.append(a)
    result = CliRunner().invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output.replace(named, "FILE").replace(Path(named).name, "FILE")


@pytest.mark.parametrize("kind", ["bom", "crlf"])
@pytest.mark.parametrize("command", AS_TEXT, ids=" ".join)
def test_a_bom_or_crlf_answers_as_the_plain_file(command: tuple[str, ...], kind: str, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    plain = _run(command, "plain", tmp_path / "plain")
    got = _run(command, kind, tmp_path)
    if command[0] == "prove":  # the witnesses depend on which solver attempt answered first: the answers do not
        got, plain = (got[0], [line.split()[:2] for line in got[1].splitlines()]), \
            (plain[0], [line.split()[:2] for line in plain[1].splitlines()])
    assert got == plain


@pytest.mark.parametrize("kind", ["empty", "control"])
@pytest.mark.parametrize("command", AS_TEXT, ids=" ".join)
def test_an_empty_file_or_a_control_character_is_a_coded_diagnostic(command: tuple[str, ...], kind: str,
                                                                      tmp_path: Path) -> None:
    code, output = _run(command, kind, tmp_path)
    assert code == FINDING_EXIT.get(command[0], 2), output
    assert re.search(r"AIGW\d{3}", output), output
    assert "FILE" in output, output


# Files a parser can choke on: nested thousands deep (JSON and YAML, flow and block), and a
# YAML alias bomb (nine levels of nine aliases: 387 million leaves if expanded). Each command
# that reads one answers with a coded diagnostic or a one-line one naming the file and its
# documented exit code (lint and convert: 1, a finding; the others cannot run on it: 2), never
# a traceback.
CHOKING = {
    "nested-json": lambda: b"[" * 100_000,
    "nested-yaml-flow": lambda: b"keys: " + b"[" * 50_000 + b"\n",
    "nested-yaml-block": lambda: b"keys:\n" + b"- " * 20_000 + b"x\n",
    "alias-bomb": lambda: b'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        b"%s: &%s [%s]\n" % (chr(98 + i).encode(), chr(98 + i).encode(), b",".join([b"*" + chr(97 + i).encode()] * 9))
        for i in range(9)),
}
LEDGER_READERS = [("usage", "--ledger", "jsonl:{}"), ("report", "--ledger", "jsonl:{}", "-o", "{out}")]


@pytest.mark.parametrize("kind", sorted(CHOKING))
@pytest.mark.parametrize("command", [c for c in COMMANDS if c[0] != "serve"] + LEDGER_READERS,
                         ids=lambda c: " ".join(a for a in c if "/" not in a))
def test_a_file_that_chokes_a_parser_is_a_diagnostic(command: tuple[str, ...], kind: str, tmp_path: Path) -> None:
    suffix = ".json" if kind == "nested-json" else ".yaml"
    path = tmp_path / f"{kind}{suffix}"
    path.write_bytes(CHOKING[kind]())
    (tmp_path / "ledger.jsonl").write_text("")
    argv = [a.replace("{}", str(path)).replace("{out}", str(tmp_path / "out.html"))
            .replace("{ledger}", str(tmp_path / "ledger.jsonl")) for a in command]
    result = CliRunner().invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == FINDING_EXIT.get(command[0], 2), result.output
    assert coded_at(result.output, path), result.output
