"""docs/prove.md's worked questions are transcripts of the command line: each `$ aigw-policy
...` line, run on the doc's own `support.yaml` and `support-v2.yaml`, prints the lines shown
under it (``...`` stands for any text) and exits with the status its `$ echo $?` shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "prove.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)
# the two policies, in the order the doc introduces them
POLICIES = dict(zip(("support.yaml", "support-v2.yaml"), (body for lang, body in BLOCKS if lang == "yaml"), strict=False))


def _transcripts() -> list[tuple[str, list[str], int | None]]:
    """(command, the lines it prints, its exit status or None when the doc shows none)."""
    out: list[tuple[str, list[str], int | None]] = []
    for _, body in BLOCKS:
        lines = body.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ aigw-policy "):
                continue
            shown = []
            for rest in lines[i + 1:]:
                if rest.startswith("$ "):
                    break
                shown.append(rest)
            status = None
            if lines[i + 1 + len(shown):i + 2 + len(shown)] == ["$ echo $?"]:
                status = int(lines[i + 2 + len(shown)])
            out.append((line[2:], shown, status))
    return out


TRANSCRIPTS = _transcripts()
# the solver may find either difference of the equiv example (the doc says so)
EITHER = re.compile(r"verdict deny, status_code (403|500), rule support-no-opus")


def _like(shown: str, printed: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in EITHER.sub("verdict deny, status_code 403, rule support-no-opus",
                                                                 shown).split("..."))
    return re.fullmatch(pattern, EITHER.sub("verdict deny, status_code 403, rule support-no-opus", printed)) is not None


def test_the_doc_has_its_transcripts() -> None:
    assert len(POLICIES) == 2
    assert [cmd.split()[2] for cmd, _, _ in TRANSCRIPTS] == ["query", "query", "rules", "equiv"]
    assert all(status is not None for _, _, status in TRANSCRIPTS)


@pytest.mark.parametrize(("command", "shown", "status"), TRANSCRIPTS, ids=[c[:60] for c, _, _ in TRANSCRIPTS])
def test_each_transcript_is_what_the_command_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     command: str, shown: list[str], status: int) -> None:
    for name, text in POLICIES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    printed = result.output.splitlines()
    assert len(printed) == len(shown), result.output
    for want, got in zip(shown, printed):
        assert _like(want, got), f"doc: {want}\nprinted: {got}"
    assert result.exit_code == status, result.output
