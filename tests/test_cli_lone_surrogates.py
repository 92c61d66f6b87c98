"""A request's JSON may spell a text that is no Unicode: a lone surrogate (`"\\ud800"`), which
JSON allows and Python reads. Whatever a command prints of it (explain's model and team, a
test's failure) reached a UTF-8 stdout as a `UnicodeEncodeError` traceback
with nothing printed. The command's own streams write such a character as its escape
(`\\ud800`): visible in text, and in JSON the very escape it was read from. Run as the real
command (a subprocess), since the streams are the process's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

POLICY = """on_http_request:
  - name: support-only
    expressions: ["identity.team == 'support'"]
    actions: [{type: deny, config: {message: "no ${identity.team} with ${ai.model}"}}]
"""
REQUEST = ('{"identity": {"team": "\\ud800"}, "request": {"method": "POST", "url": '
           '"https://gw.example/v1/chat/completions", "headers": {"content-type": "application/json"}, '
           '"body": {"model": "m\\udfff", "messages": [{"role": "user", "content": "hi\\ud83d"}]}}}')


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aigw_policy.cli", *args], cwd=tmp_path, capture_output=True,
                          encoding="utf-8", errors="strict", timeout=300, env={"PYTHONIOENCODING": "utf-8",
                                                                              "PATH": "/usr/bin:/bin",
                                                                              **_pythonpath()})


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.mark.parametrize("form", ["text", "json"])
def test_explain_prints_a_lone_surrogate_as_its_escape(tmp_path: Path, form: str) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "r.json").write_text(REQUEST)
    got = _run(tmp_path, "explain", "r.json", "--policy", "p.yaml", "--format", form)
    assert "Traceback" not in got.stderr, got.stderr
    assert got.returncode == 0, got.stderr  # allowed: the team is not `support`
    if form == "json":
        decision = json.loads(got.stdout)
        assert decision["verdict"] == "allow"
        assert "m\udfff" in json.dumps(decision, ensure_ascii=False)  # read back as it was sent
    else:
        assert "\\udfff" in got.stdout, got.stdout

