"""The Python a new user copies from the docs runs as written (SPEC §10's names, the
examples' paths): README.md's and getting-started's from a fresh directory holding what the
doc had them save, routing.md's attempt loop with the names it leaves to the reader (its
request, its forwarding function, the answer) given. docs/embedding.md's blocks run in
tests/engine/test_embedding_doc.py. No network: every provider answer is given here."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _blocks(doc: str, lang: str) -> list[str]:
    return [body for kind, body in re.findall(r"```(\w*)\n(.*?)```", (ROOT / doc).read_text(), re.S) if kind == lang]


def _block_after(doc: str, marker: str) -> str:
    text = (ROOT / doc).read_text()
    found = re.search(r"```[a-z]*\n(.*?)```", text[text.index(marker):], re.S)
    assert found, f"no block after {marker!r} in {doc}"
    return found.group(1)


def _readme(tmp: Path) -> dict[str, Any]:
    shutil.copytree(ROOT / "examples", tmp / "examples")
    return {}


def _getting_started(tmp: Path) -> dict[str, Any]:
    (tmp / "gateway.aigw").write_text(_block_after("docs/getting-started.md", "Save this as `gateway.aigw`"))
    return {}


def _routing(tmp: Path) -> dict[str, Any]:
    from aigw_policy.routing.model import AttemptOutcome

    budget = next(body for body in _blocks("docs/routing.md", "") if body.startswith('policy {\n  on request {\n    rule "team-budget"'))
    (tmp / "policy.aigw").write_text(budget)
    tried: list[Any] = []

    def my_forward(attempt: Any) -> Any:  # the first key is rate limited, the second serves
        tried.append(attempt)
        return AttemptOutcome(status_code=429 if len(tried) == 1 else 200, latency_ms=30.0)

    request = {"id": "req-doc", "now": "2026-11-26T12:00:00Z", "identity": {"team": "research"},
               "request": {"url": "https://gateway.example/v1/chat/completions",
                           "body": {"model": "gpt-4o", "models": ["gpt-4o", "gpt-4o-mini"], "max_tokens": 30,
                                    "messages": [{"role": "user", "content": "hi"}]}}}
    answer = {"model": "gpt-4o", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    return {"request": request, "my_forward": my_forward, "answer": answer, "tried": tried}


def _check_routing(names: dict[str, Any]) -> None:
    final = names["final"]
    assert len(names["tried"]) == 2 and final.to_dict()["routing"]["served"]["attempt"] == 2
    assert final.to_dict()["usage"]["output_tokens"] == 4


def _check_readme(names: dict[str, Any]) -> None:
    assert names["fn"]({"a": 1, "b": 0}) is True  # as its comment says
    assert names["final"].complete


# (doc, block, what the directory holds and the names the block leaves to the reader, a check of what it made)
CASES: list[tuple[str, int, Callable[[Path], dict[str, Any]], Callable[[dict[str, Any]], None] | None]] = [
    ("README.md", 0, _readme, _check_readme),
    ("docs/getting-started.md", 0, _getting_started, None),
    ("docs/routing.md", 0, _routing, _check_routing),
]


def test_every_python_block_of_these_docs_is_run() -> None:
    for doc in {doc for doc, _, _, _ in CASES}:
        assert sorted(i for d, i, _, _ in CASES if d == doc) == list(range(len(_blocks(doc, "python")))), doc


@pytest.mark.parametrize(("doc", "index", "setup", "check"), CASES, ids=[f"{d}#{i}" for d, i, _, _ in CASES])
def test_the_block_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: str, index: int,
                                   setup: Callable[[Path], dict[str, Any]],
                                   check: Callable[[dict[str, Any]], None] | None) -> None:
    monkeypatch.chdir(tmp_path)
    names = setup(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(_blocks(doc, "python")[index], doc, "exec"), names)  # noqa: S102 - our own docs
    if check is not None:
        check(names)
