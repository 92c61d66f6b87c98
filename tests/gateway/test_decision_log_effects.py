"""The decision log reads a completed decision's ``model`` and ``logs`` effects one by one
(``Decision.effect``): its record holds what the whole ``effects`` map says."""

from __future__ import annotations

import aigw_policy as ap
from aigw_policy.gateway.metrics import summarize

POLICY = """
policy "effects" {
  on request {
    rule "cheaper" {
      when ai.model == 'gpt-4o'
      set-model "gpt-4o-mini"
    }
  }
  on response {
    rule "note" {
      log { metadata: { upstream_status: res.status_code } }
    }
  }
}
"""

ANSWER = {"status_code": 200, "headers": {"content-type": "application/json"},
          "body": {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}}


def test_the_record_holds_the_model_change_and_the_logs() -> None:
    engine = ap.Engine(ap.loads(POLICY))
    request = {"id": "r1", "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                       "headers": {"content-type": "application/json"},
                                       "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
    decision = engine.evaluate(request)
    final = engine.complete(decision.id, ANSWER)
    record = summarize({"request_id": decision.id, "decision": final})
    effects = final.effects
    assert effects.get("model") and effects.get("logs")  # the case is what it claims
    assert record["aigw.model.rewrite"] == f"{effects['model']['from']} -> {effects['model']['to']}" \
        == "gpt-4o -> gpt-4o-mini"
    assert record["aigw.logs"] == effects["logs"]
    assert decision.verdict == "allow"
