"""serve28: a limit's bucket key a client writes is held at a bounded size.

A bucket key is the limit's name and the key's text (``req.headers['x-user'][0]``, a query
parameter, ``ai.prompt``): a client sent a 60 KB header per request and the store kept 60 KB
per cell for the limit's window (the memory store's dict, Redis's key names), the ledger's
``limits`` and the decision log the same: a flood of distinct long values grew the gateway's
memory by their bytes. A key of more than :data:`MAX_BUCKET_KEY` characters is now its first
characters and the sha256 of the whole (distinct keys stay distinct, equal ones one bucket).
"""

from __future__ import annotations

from typing import Any

import aigw_policy as ap
from aigw_policy.limits import MemoryStore
from aigw_policy.limits.algorithms import MAX_BUCKET_KEY, bounded_key

POLICY = '''policy "floods" {
  on request {
    rule "per-user" {
      rate-limit { name: "per-user", capacity: 2, rate: 1h, bucket_key: [req.headers["x-user"][0]] }
    }
  }
}
'''


def _request(i: int, user: str) -> dict[str, Any]:
    return {"id": f"r{i}", "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                       "headers": {"content-type": "application/json", "x-user": user},
                                       "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


def test_a_long_bucket_key_is_held_bounded_and_still_its_own_bucket() -> None:
    store = MemoryStore()
    engine = ap.Engine(ap.loads(POLICY), store=store)
    long_a, long_b = "a" * 60_000, "a" * 59_999 + "b"
    verdicts = [engine.evaluate(_request(i, user)).verdict for i, user in enumerate([long_a, long_b, long_a, long_a])]
    assert verdicts == ["allow", "allow", "allow", "deny"]  # a's third request is over; b is a bucket of its own
    cells = store._cells
    assert cells and max(len(k) for k in cells) < MAX_BUCKET_KEY + 100, [len(k) for k in cells]




def test_bounded_key() -> None:
    assert bounded_key("team-a") == "team-a"
    assert bounded_key("x" * MAX_BUCKET_KEY) == "x" * MAX_BUCKET_KEY
    long = bounded_key("x" * (MAX_BUCKET_KEY + 1))
    assert len(long) <= MAX_BUCKET_KEY and long != bounded_key("x" * (MAX_BUCKET_KEY + 2))
