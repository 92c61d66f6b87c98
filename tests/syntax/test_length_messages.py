"""A config list or mapping with too few or too many items says so in the policy's words (a
list, a mapping, its bounds), not in the validator's ("tuple should have at least 1 item after
validation")."""

from __future__ import annotations

import pytest

import aigw_policy as ap

_LIMIT = ("on_http_request:\n  - actions:\n      - type: rate-limit\n        config: {{name: a, capacity: 1, "
          "rate: 1s, algorithm: sliding_window, bucket_key: {keys}}}\n")

CASES = [
    (_LIMIT.format(keys="[]"), "`bucket_key` in `rate-limit` needs at least 1 item, not 0"),
    (_LIMIT.format(keys="[" + ", ".join(["conn.client_ip"] * 11) + "]"),
     "`bucket_key` in `rate-limit` takes at most 10 items, not 11"),
    ("on_http_request:\n  - actions:\n      - type: add-headers\n        config: {headers: {}}\n",
     "`headers` in `add-headers` needs at least 1 item, not 0"),
    ("on_http_request:\n  - actions:\n      - type: basic-auth\n        config: {credentials: []}\n",
     "`credentials` in `basic-auth` needs at least 1 item, not 0"),
]


@pytest.mark.parametrize(("text", "message"), CASES, ids=[c[1] for c in CASES])
def test_a_length_is_said_in_the_policys_words(text: str, message: str) -> None:
    _, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert [(d.code, d.message) for d in found] == [("AIGW123", message)]
