"""Shadow mode on the ``ai-gateway`` action (``enforce: false``, or its rule in ``mode: shadow``):
the route's own refusal (413 input too large, 403 model not allowed, 422 nothing selected) is
recorded as ``would_deny`` with the status, reason and rule the enforced route answers, and the
request is routed by the route without its filters. When even that finds nothing to try, the
refusal ends the rule and the request goes on as without it."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger
from aigw_policy.ledger.reader import read_ledger

NOW = "2026-11-26T12:00:00Z"
ROUTE = """\
on_http_request:
  - name: route
MODE
    actions:
      - type: ai-gateway
        config:
ENFORCE
          providers:
            - id: openai
              api_keys: [{value: "${secrets.get('v','a')}", id: ka}]
              models: [{id: gpt-4o}, {id: gpt-4o-mini}]
FILTER
AFTER
"""
FILTERS = {
    "too-large": ("max_input_tokens: 1", "gpt-4o", 413, "ERR_NGROK_3811"),
    "not-allowed": ("only_allow_configured_models: true", "gpt-4.1", 403, None),
    "nothing-selected": ('model_selection: {strategy: ["ai.models.filter(m, m.id == \'none\')"]}', "gpt-4o",
                        422, "ERR_NGROK_3805"),
}


def policy(flt: str, how: str, after: str = "") -> ap.Policy:
    text = (ROUTE.replace("MODE", "    mode: shadow" if how == "mode" else "")
            .replace("ENFORCE", "          enforce: false" if how == "enforce" else "")
            .replace("FILTER", textwrap.indent(flt, " " * 10)).replace("AFTER", after))
    return ap.loads("\n".join(line for line in text.splitlines() if line.strip()) + "\n", format="yaml")


def request(model: str, rid: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"id": rid, "now": NOW, "identity": {"key": "k1"}, "request": {
        "url": "https://api.openai.com/v1/chat/completions",
        "body": {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hello there"}]}}, **extra}


def ok(model: str) -> dict[str, Any]:
    return {"status_code": 200, "body": {"model": model, "choices": [],
                                         "usage": {"prompt_tokens": 5, "completion_tokens": 7}}}


@pytest.mark.parametrize("how", ["enforce", "mode"])
@pytest.mark.parametrize("case", sorted(FILTERS))
def test_the_refusal_is_recorded_and_the_request_routed_without_the_filter(case: str, how: str) -> None:
    flt, model, status, code = FILTERS[case]
    enforced = ap.Engine(policy(flt, "none")).evaluate(request(model, attempts=[]))
    assert (enforced.verdict, enforced.status_code, enforced.kind) == ("deny", status, "route-error")
    if code is not None:
        assert enforced.response["body"]["error"]["code"] == code
    shadow = ap.Engine(policy(flt, how)).evaluate(request(model, attempts=[ok(model)]))
    assert (shadow.verdict, shadow.status_code, shadow.complete) == ("allow", 200, True)
    assert shadow.would_deny == {"status": status, "reason": enforced.reason, "rule": "route"}
    served = shadow.routing["served"]
    assert (served["model"], served["key_id"]) == (model, "ka")


def test_a_route_that_serves_records_nothing() -> None:
    d = ap.Engine(policy("max_input_tokens: 1000", "enforce")).evaluate(request("gpt-4o", attempts=[ok("gpt-4o")]))
    assert d.verdict == "allow" and d.would_deny is None and d.routing["served"]["model"] == "gpt-4o"


def test_nothing_to_route_to_even_unfiltered_goes_on_to_the_next_rule() -> None:
    after = "  - name: fallback\n    actions:\n      - type: custom-response\n        config: {status_code: 299}\n"
    p = policy("only_allow_configured_models: true", "enforce", after)
    d = ap.Engine(p).evaluate(request("no-such-model-anywhere", attempts=[]))
    assert (d.verdict, d.status_code, d.rule) == ("deny", 299, "fallback")
    assert d.would_deny is not None and d.would_deny["rule"] == "route" and d.would_deny["status"] == 422


def test_the_ledger_and_trace_say_it(tmp_path) -> None:
    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    ledger = Ledger(url)
    d = ap.Engine(policy(FILTERS["too-large"][0], "enforce"), ledger=ledger).evaluate(
        request("gpt-4o", attempts=[ok("gpt-4o")]), trace=True)
    ledger.close()
    assert "shadow: would deny 413" in d.text(trace=True)
    (rec,) = read_ledger(url)
    assert rec.verdict == "allow" and rec.to_dict()["aigw.would_deny"] == d.would_deny
    assert rec.attempts == 1 and rec.route_key_id == "ka"


def test_only_the_setting_that_refused_is_unset() -> None:
    """Too large for `max_input_tokens`, routed without it: the `model_selection` that did not
    refuse still chooses (gpt-4o-mini of the two the client named)."""
    flt = "max_input_tokens: 1\nmodel_selection: {strategy: [\"ai.models.filter(m, m.id == 'gpt-4o-mini')\"]}"
    req = request("gpt-4o", attempts=[ok("gpt-4o-mini")])
    req["request"]["body"]["models"] = ["gpt-4o-mini"]
    d = ap.Engine(policy(flt, "enforce")).evaluate(req, trace=True)
    assert d.would_deny is not None and d.would_deny["status"] == 413
    assert d.routing["served"]["model"] == "gpt-4o-mini"
    skipped = {c["model"]: c["skipped_because"] for c in d.routing["candidates"]}
    assert skipped["gpt-4o"] == "not chosen by model_selection"
    assert "without max_input_tokens, routed" in d.text(trace=True)


def test_each_refusing_setting_in_turn() -> None:
    """Too large, and then a model not allowed: both unset; the first refusal is the one recorded."""
    flt = "max_input_tokens: 1\nonly_allow_configured_models: true"
    d = ap.Engine(policy(flt, "enforce")).evaluate(request("gpt-4.1", attempts=[ok("gpt-4.1")]), trace=True)
    assert d.would_deny is not None and d.would_deny["status"] == 413
    assert d.routing["served"]["model"] == "gpt-4.1"
    assert "without max_input_tokens, only_allow_configured_models, routed" in d.text(trace=True)


def test_the_attempts_use_the_route_that_planned() -> None:
    """Without `only_allow_configured_providers`, a built-in provider the route did not list
    serves: the attempt is made with that route's provider (it was a KeyError)."""
    p = ap.loads("""
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          enforce: false
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: http://127.0.0.1:9/v1
              models: [{id: gpt-4o}]
""", format="yaml")
    req = request("gpt-4.1", attempts=[ok("gpt-4.1")])
    req["request"]["headers"] = {"authorization": "Bearer sk-client-own"}  # keyless: the client's own key goes
    d = ap.Engine(p).evaluate(req)
    assert d.would_deny is not None and d.would_deny["status"] == 403
    assert d.routing["served"] == {"provider": "openai", "model": "gpt-4.1", "key_id": None, "attempt": 1}
