"""Runtime errors carry codes of the registry (AIGW5xx), as lint diagnostics do: each entry of
the decision's ``errors[]`` (and its ``store``, and a limit's entry that could not be priced)
names its code, and every such code is registered and documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.codes import CODES
from aigw_policy.stores import MemoryStore

DOCS = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"


def _request(**extra: object) -> dict:
    url = extra.pop("url", "https://api.openai.com/v1/chat/completions")
    model = extra.pop("model", "gpt-4o")
    return {"now": "2026-11-26T12:00:00Z", "identity": {"key": "k", "labels": {"env": "prod"}}, **extra,
            "request": {"method": "POST", "url": url,
                        "body": {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}}}


def _rule(body: str) -> str:
    return f'policy {{ on request {{ rule "r" {{ on-error skip\n{body} }} }} }}'


ERRORS = [
    ("AIGW500", 'when identity.labels["missing"] == "x"\n deny', "condition"),
    ("AIGW502", 'rate-limit { name: "b", capacity: 5, rate: 60s, bucket_key: [identity.labels["missing"]] }',
     "bucket_key.0"),
    ("AIGW503", 'add-headers { headers: { "x-a": "${identity.labels[\'missing\']}" } }', "headers.x-a"),
    ("AIGW504", 'add-headers { headers: { "x-a": "${req.url.query_params[\'echo\'][0]}" } }', "headers.x-a"),
    ("AIGW505", 'token-limit { name: "t", capacity: 1000, rate: 60s, cost: ai.input_tokens - 1000000 }', "cost"),
    ("AIGW520", 'when ai.tools.exists(a, ai.tools.exists(b, false))\n deny',
     "condition"),
]


@pytest.mark.parametrize(("code", "body", "field"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_runtime_error_carries_its_code_and_span(code: str, body: str, field: str) -> None:
    engine = ap.Engine(ap.loads(_rule(body), "dsl"), cel_budget=50 if code == "AIGW520" else 100_000)
    request = _request(url="https://api.openai.com/v1/chat/completions?echo=a%0D%0Ab")
    request["request"]["body"]["tools"] = [{"type": "function", "function": {"name": f"f{i}"}} for i in range(20)]
    errors = engine.evaluate(request, expect_response=False).to_dict()["errors"]
    assert [e["code"] for e in errors] == [code], errors
    error = errors[0]
    assert error["code"] in CODES and error["span"]["line"] >= 1 and error["message"]
    assert error.get("field", "condition") == field
    # every key the entries had before codes is still there
    assert {"phase", "rule", "source", "span", "message", "on_error"} <= error.keys()


def test_a_condition_that_is_not_a_bool_is_aigw501() -> None:
    policy = _rule('set-vars { vars: [{ v: "text" }] } }\n rule "n" { on-error skip\n when vars.v\n deny')
    errors = ap.Engine(ap.loads(policy, "dsl")).evaluate(_request(), expect_response=False).errors
    assert [e["code"] for e in errors] == ["AIGW501"] and "not bool" in errors[0]["message"]


class _DownStore(MemoryStore):
    def reserve(self, *args: object) -> list:  # type: ignore[override]
        raise ConnectionError("down")


def test_an_unavailable_store_is_aigw506() -> None:
    policy = ap.loads(_rule('token-limit { name: "t", capacity: 1000, rate: 60s }'), "dsl")
    d = ap.Engine(policy, store=_DownStore()).evaluate(_request(), expect_response=False)
    assert d.store is not None and d.store["code"] == "AIGW506" and d.store["message"] == "down"


def test_an_unknown_price_is_aigw507_on_the_limit() -> None:
    policy = ap.loads(_rule('usage-cap { name: "u", limit: 5, unit: "usd", period: "day", '
                            'on_unknown_price: "deny" }'), "dsl")
    d = ap.Engine(policy).evaluate(_request(model="no-such-model-anywhere"), expect_response=False)
    assert d.status_code == 403 and d.limits[0]["code"] == "AIGW507"


def test_every_runtime_code_is_registered_and_documented() -> None:
    from aigw_policy.engine import charging, rule_error

    codes = {v for m in (charging, rule_error) for k, v in vars(m).items()
             if k.isupper() and isinstance(v, str) and re.fullmatch(r"AIGW5\d\d", v)}
    assert len(codes) == 10
    documented = set(re.findall(r"`(AIGW5\d\d)`", DOCS.read_text()))
    assert codes <= CODES.keys() and codes <= documented
