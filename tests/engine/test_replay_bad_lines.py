"""`replay` over a file of bad lines: a bounded number of error records, then one summary
line (stderr), never one line of output per input line; a line longer than any request is
skipped as it streams by, not read whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy import files
from aigw_policy.cli import app
from aigw_policy.cli import replay as replay_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLICY = str(EXAMPLES / "key-limits.aigw")
GOOD = json.dumps({"now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "tier": "pro"},
                   "request": {"url": "https://api.openai.com/v1/chat/completions",
                               "body": {"model": "gpt-4o", "max_tokens": 10, "messages": []}}})


def _replay(tmp_path: Path, data: bytes, *args: str) -> tuple[int, list[str], str]:
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_bytes(data)
    result = CliRunner().invoke(app, ["replay", str(traffic), "--policy", POLICY, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout.splitlines(), result.stderr


@pytest.mark.parametrize("bad", [b"garbage", b"\xff\xfe\x00\x81 binary", b"[1, 2]", b'{"request": 5}'])
def test_many_bad_lines_print_a_bounded_number_of_errors_and_a_summary(tmp_path: Path, bad: bytes) -> None:
    count = replay_cli.SHOWN_ERRORS * 5
    code, out, err = _replay(tmp_path, (bad + b"\n") * count + GOOD.encode() + b"\n")
    assert code == 2
    errors = [json.loads(line) for line in out if '"error"' in line]
    assert [e["line"] for e in errors] == list(range(1, replay_cli.SHOWN_ERRORS + 1))
    assert json.loads(out[-1])["verdict"] == "allow"  # the good line after them all is replayed
    assert len(out) == replay_cli.SHOWN_ERRORS + 1
    assert f"{count:,} of {count + 1:,} lines are no request" in err, err
    assert f"the first {replay_cli.SHOWN_ERRORS} are shown" in err, err


def test_a_few_bad_lines_are_all_shown_without_a_summary(tmp_path: Path) -> None:
    code, out, err = _replay(tmp_path, b"garbage\n" + GOOD.encode() + b"\ngarbage\n")
    assert code == 2
    assert [json.loads(line).get("line") for line in out] == [1, 2, 3]
    assert err == ""


def test_a_line_longer_than_any_request_is_an_error_read_in_pieces(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_cli, "MAX_LINE", 1000)
    reads: list[int] = []
    real = files.bounded_lines

    def counting(f, limit):  # type: ignore[no-untyped-def]
        for line, length in real(f, limit):
            reads.append(len(line or b""))
            yield line, length

    monkeypatch.setattr(replay_cli, "bounded_lines", counting)
    code, out, _ = _replay(tmp_path, b"x" * 50_000 + b"\n" + GOOD.encode() + b"\n" + b"[" * 5000)
    assert code == 2
    first, second, third = (json.loads(line) for line in out)
    assert first == {"line": 1, "error": "longer than 1,000 bytes: no request is this long"}
    assert second["verdict"] == "allow"
    assert third == {"line": 3, "error": "longer than 1,000 bytes: no request is this long"}
    assert max(reads) <= 1000


def test_the_summary_format_counts_them(tmp_path: Path) -> None:
    code, out, _ = _replay(tmp_path, b"garbage\n" * 300 + GOOD.encode() + b"\n", "--format", "summary")
    assert code == 2
    assert out[0] == "301 requests, 300 unreadable"
