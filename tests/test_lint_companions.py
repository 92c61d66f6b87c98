"""`lint DIR` on the layout the docs recommend: a policy, its tests, a request and a keys file
beside it. Each file is checked as what it is; the summary says what was checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

DOCS = Path(__file__).parent.parent / "docs"
runner = CliRunner()


def _block_after(doc: str, marker: str) -> str:
    """The first fenced code block after ``marker`` in a doc."""
    text = (DOCS / doc).read_text()
    start = text.index(marker)
    m = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.DOTALL)
    assert m, f"no code block after {marker!r} in {doc}"
    return m.group(1)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The getting-started directory: gateway.aigw, request.json, gateway.test.yaml, keys.yaml."""
    (tmp_path / "gateway.aigw").write_text(_block_after("getting-started.md", "Save this as `gateway.aigw`"))
    (tmp_path / "request.json").write_text(_block_after("getting-started.md", "`request.json`:"))
    (tmp_path / "gateway.test.yaml").write_text(_block_after("getting-started.md", "in `gateway.test.yaml`"))
    (tmp_path / "keys.yaml").write_text(_block_after("gateway.md", "## The keys file"))
    return tmp_path


def test_the_documented_layout_lints_clean(layout: Path) -> None:
    out = runner.invoke(app, ["lint", str(layout)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == _block_after("getting-started.md", "the last line counts each kind").strip()
    test = runner.invoke(app, ["test", str(layout)])
    assert test.exit_code == 0, test.output


def test_a_test_file_is_checked_as_a_test_file(layout: Path) -> None:
    path = layout / "gateway.test.yaml"
    path.write_text(path.read_text().replace("expect:", "expct:", 1))
    out = runner.invoke(app, ["lint", str(layout), "--format", "json"])
    assert out.exit_code == 1
    [d] = [d for d in json.loads(out.output)["diagnostics"] if d["code"] == "AIGW700"]
    assert d["help"] == "did you mean `expect`?" and d["span"]["file"].endswith("gateway.test.yaml")
    assert "AIGW100" not in out.output  # never read as a policy


def test_a_keys_file_is_checked_as_a_keys_file_without_its_secrets(layout: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert runner.invoke(app, ["lint", str(layout / "keys.yaml")]).exit_code == 0  # ${env.X} is not read
    path = layout / "keys.yaml"
    path.write_text(path.read_text().replace("team: research", "squad: research"))
    out = runner.invoke(app, ["lint", str(path)])
    assert out.exit_code == 1 and "AIGW601" in out.output and "squad" in out.output
    assert "keys.yaml:3:" in out.output


def test_a_request_file_named_by_hand_is_not_linted_as_a_policy(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"id": "r1", "request": {"method": "POST", "url": "/v1/chat/completions"}}))
    out = runner.invoke(app, ["lint", str(request)])
    assert out.exit_code == 2 and "AIGW100" not in out.output and "explain" in out.output
    policy = tmp_path / "p.aigw"
    policy.write_text('policy { on request { rule "r" { deny 403 } } }\n')
    out = runner.invoke(app, ["lint", str(policy), str(request)])
    assert out.exit_code == 0 and "1 request file skipped" in out.output, out.output


def test_nothing_read_is_not_called_no_problems(tmp_path: Path) -> None:
    out = runner.invoke(app, ["lint", str(tmp_path / "missing.aigw")])
    assert out.exit_code == 2 and "no problems" not in out.output and "nothing checked" in out.output


def test_the_getting_started_policy_is_canonical(tmp_path: Path) -> None:
    """What a new user copies first passes `fmt --check` as it stands."""
    (tmp_path / "gateway.aigw").write_text(_block_after("getting-started.md", "Save this as `gateway.aigw`"))
    out = runner.invoke(app, ["fmt", "--check", str(tmp_path / "gateway.aigw")])
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize(("files", "summary"), [
    ({"a.aigw": 1, "b.aigw": 1}, "2 files: no problems"),
    ({"a.aigw": 1, "b.aigw": 1, "c.test.yaml": 0}, "3 files (2 policies, 1 policy test file): no problems"),
    ({"a.aigw": 1, "a.test.yaml": 0, "b.test.yaml": 0},
     "3 files (1 policy, 2 policy test files): no problems"),
])
def test_the_summary_counts_each_kind_in_english(tmp_path: Path, files: dict[str, int], summary: str) -> None:
    """Each kind in its own plural (`policies`, not `policys`)."""
    policy = 'policy { on request { rule "r" { deny 403 } } }\n'
    test_file = "policy: a.aigw\ncases:\n  - name: c\n    request: {now: '2026-11-26T12:00:00Z', request: {url: /v1/models}}\n" \
                "    expect: {verdict: deny}\n"
    for name, is_policy in files.items():
        (tmp_path / name).write_text(policy if is_policy else test_file)
    out = runner.invoke(app, ["lint", str(tmp_path)])
    assert out.output.splitlines()[-1] == summary, out.output
