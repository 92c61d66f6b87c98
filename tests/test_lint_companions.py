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
    assert "3 files (1 policy, 1 policy test file, 1 keys file): no problems; 1 request file skipped" in out.output
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
