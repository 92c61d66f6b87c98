"""``malformed`` in the sans-IO core: a REQUEST.json's simulated attempt may be ``error:
malformed`` (an answer that came but cannot be the API's), which fails over under ngrok's
default triggers and under a ``failover_on`` naming ``malformed``, ``5xx`` or ``502``, and is a
502 ``upstream_malformed`` in the client's shape under one that names none of them; the live
metrics count it as a server error (docs/routing.md, "Failover")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.routing.metrics import fields_of
from aigw_policy.routing.model import AttemptOutcome

OK = {"status_code": 200, "body": {"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [],
                                   "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}}
ROWS: list[tuple[str, str | None, Any]] = [  # (failover_on, served attempt or None, final status)
    ("", 2, 200), ("[malformed]", 2, 200), ("[5xx]", 2, 200), ("[502]", 2, 200),
    ("[429, timeout, connect]", None, 502), ("[4xx]", None, 502),
]


@pytest.mark.parametrize(("triggers", "served", "status"), ROWS, ids=[r[0] or "default" for r in ROWS])
def test_a_simulated_malformed_answer_fails_over_as_the_triggers_say(tmp_path: Path, triggers: str,
                                                                    served: int | None, status: int) -> None:
    line = f"\n          failover_on: {triggers}" if triggers else ""
    (tmp_path / "p.yaml").write_text(f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:{line}
          providers:
            - {{id: p0, base_url: "http://p0.test/v1", api_keys: [{{value: k0, id: k0}}], models: [{{id: gpt-4o}}]}}
            - {{id: p1, base_url: "http://p1.test/v1", api_keys: [{{value: k1, id: k1}}], models: [{{id: gpt-4o}}]}}
""")
    engine = ap.Engine(str(tmp_path / "p.yaml"))
    d = engine.evaluate({"request": {"method": "POST", "url": "http://gw/v1/chat/completions",
                                     "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}},
                         "attempts": [{"error": "malformed"}, OK]})
    assert d.status_code == status
    assert d.routing["attempts"][0]["error"] == "malformed"
    if served is None:
        assert d.response["body"]["aigw"]["code"] == "upstream_malformed" and len(d.routing["attempts"]) == 1
    else:
        assert d.routing["served"]["attempt"] == served


def test_a_malformed_answer_is_a_server_error_in_the_live_metrics() -> None:
    counts = fields_of(AttemptOutcome(error="malformed", latency_ms=3.0))
    assert counts["e.total"] == 1 and counts["e.server"] == 1
