"""``Engine(max_done=N)``: the completed decisions remembered for a repeated ``complete()``
(docs/embedding.md). Within the last N completions a repeat gets the first decision; past
them, or with none remembered, it is an unknown request; anything but an int of 0 or more is
refused at construction."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.engine.runner import MAX_DONE

POLICY = 'policy { on request { rule "t" { token-limit { name: "t", capacity: 100_000, rate: 1h } } } }'
CHAT = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
        "body": {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}}
RESPONSE = {"status_code": 200, "body": {"usage": {"prompt_tokens": 3, "completion_tokens": 2}}}


def _completed(engine: ap.Engine, n: int) -> list[ap.Decision]:
    out = []
    for i in range(n):
        engine.evaluate({"id": f"r{i}", "request": CHAT})
        out.append(engine.complete(f"r{i}", RESPONSE))
    return out


@pytest.mark.parametrize("max_done", [0, 1, 3])
def test_a_repeat_within_the_last_max_done_completions_gets_the_first_decision(max_done: int) -> None:
    engine = ap.Engine(ap.loads(POLICY), max_done=max_done)
    first = _completed(engine, 5)
    assert len(engine._done) == max_done
    for i, decision in enumerate(first):
        if i >= 5 - max_done:
            assert engine.complete(f"r{i}", RESPONSE) is decision
        else:
            with pytest.raises(ap.UnknownRequestError) as err:
                engine.complete(f"r{i}", RESPONSE)
            said = str(err.value)
            assert ("remembers no completions: max_done=0" in said) if max_done == 0 else \
                (f"more than {max_done:,} completions ago" in said)


def test_the_default_is_max_done() -> None:
    assert ap.Engine(ap.loads(POLICY)).max_done == MAX_DONE


@pytest.mark.parametrize("bad", [-1, True, 2.0, "3", None])
def test_max_done_is_an_int_of_zero_or_more(bad: object) -> None:
    with pytest.raises(ValueError, match="max_done must be an int of 0 or more"):
        ap.Engine(ap.loads(POLICY), max_done=bad)  # type: ignore[arg-type]
