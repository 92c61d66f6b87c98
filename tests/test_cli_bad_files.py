"""Every file a command reads, given as a missing path, a directory or bytes that are not
UTF-8 text: a one-line diagnostic naming the file and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

EXAMPLES = Path(__file__).parent.parent / "examples"
POLICY = str(EXAMPLES / "key-limits.yaml")
REQUEST = str(EXAMPLES / "requests" / "key-limits-batch.json")
# serve: an address no socket can take, so a file read by mistake fails later instead of serving
SERVE = ("serve", "--policy", POLICY, "--upstream", "http://127.0.0.1:9", "--host", "256.0.0.1", "--port", "1")

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
    if kind == "directory":
        (tmp / "a-directory.json").mkdir()
        return tmp / "a-directory.json"
    path = tmp / "not-text.yaml"
    path.write_bytes(b"\xff\xfe\xfa\x00\x81 binary" * 8)
    return path


@pytest.mark.parametrize("kind", ["missing", "directory", "not-utf8"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(a for a in c if "/" not in a))
def test_a_bad_file_is_a_diagnostic_and_exit_2(command: tuple[str, ...], kind: str, tmp_path: Path) -> None:
    path = _bad_file(kind, tmp_path)
    (tmp_path / "ledger.jsonl").write_text("")
    argv = [a.replace("{}", str(path)).replace("{out}", str(tmp_path / "out.html"))
            .replace("{ledger}", str(tmp_path / "ledger.jsonl")) for a in command]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert path.name in result.output, result.output
