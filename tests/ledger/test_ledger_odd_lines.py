"""A JSONL ledger's lines that are JSON but no usage record (a number, a record whose time or
counts have the wrong type) are skipped like a torn line, never a crash; a file in which no
line is a record (another file named by mistake) is an error naming its first line, not an
empty report."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.ledger import LedgerError, UsageRecord, make_record
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.report import summarize

NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("data", [5, [1], "x", None,
                                  {"aigw.request.id": "a", "time": 5},
                                  {"aigw.request.id": 7, "time": "2026-11-26T12:00:00.000000Z"},
                                  {"aigw.request.id": "a", "time": "2026-11-26T12:00:00.000000Z",
                                   "gen_ai.usage.input_tokens": "7"},
                                  {"aigw.request.id": "a", "time": "2026-11-26T12:00:00.000000Z",
                                   "aigw.request.stream": "yes"},
                                  {"aigw.request.id": "a", "time": "2026-11-26T12:00:00.000000Z", "aigw.cost_usd": "1"},
                                  # a time not in the ledger's one form (compared as text)
                                  {"aigw.request.id": "a", "time": "2026-11-26T12:00:00+05:00"},
                                  {"aigw.request.id": "a", "time": "2026-11-26T12:00:00.000000z"},
                                  {"aigw.request.id": "a", "time": "next tuesday"},
                                  {"aigw.request.id": "a", "time": "2026-02-30T12:00:00.000000Z"}])
def test_a_value_that_is_no_record_is_a_type_error(data: object) -> None:
    with pytest.raises(TypeError):
        UsageRecord.from_dict(data)  # type: ignore[arg-type]


def test_odd_lines_are_skipped_and_the_rest_read(tmp_path: Path) -> None:
    good = [make_record(f"r{i}", time=NOW, identity={"key": "k"}) for i in range(3)]
    lines = [json.dumps(good[0].to_dict()), "5", '{"aigw.request.id": "x", "time": 5}', '{"torn": ',
             json.dumps(good[1].to_dict()), json.dumps({**good[2].to_dict(), "gen_ai.usage.input_tokens": "9"})]
    path = tmp_path / "u.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got = list(read_ledger(f"jsonl:{path}"))
    assert [r.request_id for r in got] == ["r0", "r1"]
    assert summarize(got, ("key",)).total.requests == 2


def test_a_file_without_one_record_is_no_ledger(tmp_path: Path) -> None:
    other = tmp_path / "policy.aigw"
    other.write_text('policy "p" {\n}\n')
    with pytest.raises(LedgerError, match="is not a usage ledger: line 1 is no usage record"):
        list(read_ledger(f"jsonl:{other}"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert list(read_ledger(f"jsonl:{empty}")) == []  # a ledger nothing was written to yet
    result = CliRunner().invoke(app, ["usage", "--ledger", f"jsonl:{other}"])
    assert result.exit_code == 2 and "is not a usage ledger" in result.output, result.output


@pytest.mark.parametrize("reader", ["cli", "sink"])
def test_a_line_longer_than_any_record_is_skipped_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             reader: str) -> None:
    """A line past ``MAX_RECORD_LINE`` (``/dev/zero``, a binary file) is no record, read in
    pieces of at most that many bytes, never held whole (it took all memory)."""
    from aigw_policy import files
    from aigw_policy.ledger import reader as reader_module
    from aigw_policy.ledger import sinks

    held: list[int] = []
    real = files.bounded_lines

    def counting(f, limit):  # type: ignore[no-untyped-def]
        for line, length in real(f, 1000):
            held.append(len(line or b""))
            yield line, length

    monkeypatch.setattr(reader_module, "bounded_lines", counting)
    monkeypatch.setattr(sinks, "bounded_lines", counting)
    good = make_record("r0", time=NOW, identity={"key": "k"})
    path = tmp_path / "u.jsonl"
    path.write_bytes(b"\0" * 50_000 + b"\n" + json.dumps(good.to_dict()).encode() + b"\n" + b"{" * 50_000)
    got = list(read_ledger(f"jsonl:{path}")) if reader == "cli" else list(sinks.JsonlSink(str(path)).read())
    assert [r.request_id for r in got] == ["r0"]
    assert held and max(held) <= 1000
    only_long = tmp_path / "long.jsonl"
    only_long.write_bytes(b"\0" * 50_000)
    if reader == "cli":
        with pytest.raises(LedgerError, match="line 1 is no usage record \\(longer than"):
            list(read_ledger(f"jsonl:{only_long}"))


def _ledger_with_odd_lines(tmp_path: Path) -> Path:
    good = [make_record(f"r{i}", time=NOW, identity={"key": "k"}) for i in range(2)]
    lines = [json.dumps(good[0].to_dict()), "", "5", json.dumps(good[1].to_dict()), '{"torn": ']
    path = tmp_path / "u.jsonl"
    path.write_text("\n".join(lines))
    return path


def test_the_reader_tells_how_many_lines_it_left_out(tmp_path: Path) -> None:
    """Skipped lines are counted (blank lines are not: they hold nothing), the first one named."""
    path = _ledger_with_odd_lines(tmp_path)
    told: list[tuple[int, int, str]] = []
    got = list(read_ledger(f"jsonl:{path}", skipped=lambda n, line, why: told.append((n, line, why))))
    assert [r.request_id for r in got] == ["r0", "r1"]
    assert [(n, line) for n, line, _ in told] == [(2, 3)]
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps(got[0].to_dict()) + "\n\n")
    told.clear()
    assert len(list(read_ledger(f"jsonl:{clean}", skipped=lambda *a: told.append(a)))) == 1
    assert told == []


@pytest.mark.parametrize("command", [["usage"], ["usage", "--shadow"], ["reconcile", "--provider-usage", "{tmp}/p.json"],
                                     ["report", "-o", "{tmp}/r.html"]])
def test_commands_warn_of_lines_left_out_of_their_totals(tmp_path: Path, command: list[str]) -> None:
    """`usage`, `reconcile` and `report` count what the ledger holds: lines they could not read
    are said, coded and placed (AIGW905, a warning on stderr), and the command goes on."""
    path = _ledger_with_odd_lines(tmp_path)
    (tmp_path / "p.json").write_text('{"data": []}')
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(app, [*args, "--ledger", f"jsonl:{path}"])
    assert result.exit_code == 0, result.output
    assert f"warning[AIGW905]: 2 lines of the ledger hold no usage record and are not counted\n  --> {path}:3" \
           in result.stderr, result.stderr
    assert "AIGW905" not in result.stdout
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps(make_record("r9", time=NOW, identity={"key": "k"}).to_dict()) + "\n")
    result = CliRunner().invoke(app, [*args, "--ledger", f"jsonl:{clean}"])
    assert result.exit_code == 0 and "AIGW905" not in result.stderr, result.output
