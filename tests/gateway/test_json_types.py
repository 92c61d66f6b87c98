"""Only a JSON document's content type is judged as one JSON body (``malformed.json_type``): JSON
Lines, NDJSON and ``json-seq`` are a JSON text a line, which no JSON parser reads whole. Before
(payloads29) any type naming ``json`` was: Anthropic's batch results (``application/x-jsonl``)
through ``serve`` were a 502 ``upstream_malformed`` (tests/gateway/test_anthropic_batch_serve.py)."""

from __future__ import annotations

import pytest

from aigw_policy.gateway.malformed import malformed

LINES = b'{"custom_id":"a","result":{"type":"expired"}}\n{"custom_id":"b","result":{"type":"expired"}}\n'
ROWS = [  # (content type, body, malformed?)
    ("application/x-jsonl", LINES, False),
    ("application/jsonl; charset=utf-8", LINES, False),
    ("application/jsonlines", LINES, False),
    ("application/json-seq", b"\x1e{}\n\x1e{}\n", False),
    ("application/x-ndjson", LINES, False),
    ("application/json", LINES, True),
    ("application/json; charset=utf-8", b'{"id": "x", "cho', True),
    ("application/problem+json", b'{"type": "x", "tit', True),
    ("text/json", b"{", True),
    ("application/json", b'{"ok": true}', False),
]


@pytest.mark.parametrize(("ctype", "body", "bad"), ROWS, ids=[f"{r[0]}-{r[2]}" for r in ROWS])
def test_only_a_json_documents_type_is_judged_as_one(ctype: str, body: bytes, bad: bool) -> None:
    assert (malformed(200, ctype, body) is not None) == bad
