"""ngrok's AI gateway docs' example policies, run as written through the engine: each row of
``data/ngrok_doc_examples.yaml`` takes one yaml block of a doc page (``has``: a text only
that block holds), optionally a documented strategy in place of its own, and one request,
and says what the decision is and which candidate is tried first.

A provider's ``metadata`` is its models' too (``m.metadata``, ``m.getMetadata()``), a model's
own keys over it: ngrok's configuration reference says provider metadata is "available in
selection strategies via ``m.getMetadata()``", and its regional failover example filters
``ai.models`` by ``m.metadata.region`` set on the providers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from shared_data import NGROK, require

import aigw_policy as ap

DOCS = NGROK / "ai-gateway-action"
ROWS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "data" / "ngrok_doc_examples.yaml").read_text())
KEYS = {"file", "has", "strategy", "model", "status", "first"}
_BLOCK = re.compile(r"```ya?ml[^\n]*\n(.*?)```", re.S)


def _block(row: dict[str, Any]) -> dict[str, Any]:
    text = (DOCS / row["file"]).read_text()
    found = [b for b in _BLOCK.findall(text) if row["has"] in b and "on_http_request" in b]
    assert len(found) == 1, f"{row['file']}: {len(found)} yaml blocks hold {row['has']!r}"
    doc: dict[str, Any] = yaml.safe_load(found[0])
    return doc


def test_rows_are_well_formed() -> None:
    assert len(ROWS) >= 5
    for row in ROWS:
        assert set(row) <= KEYS and {"file", "has", "model", "status"} <= set(row), row
        assert ("first" in row) == (row["status"] == 200), row


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['file']}:{r['has']}:{r['model']}" for r in ROWS])
def test_documented_example_chooses(row: dict[str, Any]) -> None:
    require(DOCS)
    doc = _block(row)
    if "strategy" in row:
        config = doc["on_http_request"][0]["config"]
        config["model_selection"] = {"strategy": row["strategy"]}
    policy = ap.loads(yaml.safe_dump(doc), format="yaml")
    request = {"now": "2026-11-26T12:00:00Z", "request": {
        "method": "POST", "url": "https://ai.example.com/v1/chat/completions",
        "headers": {"content-type": "application/json"},
        "body": {"model": row["model"], "messages": [{"role": "user", "content": "hi"}]}}}
    decision = ap.Engine(policy).evaluate(request).to_dict()
    assert decision["status_code"] == row["status"], decision["reason"]
    if "first" in row:
        first = decision["routing"]["candidates"][0]
        assert f"{first['provider']}:{first['model']}" == row["first"], decision["routing"]
