"""``req.user_agent.*`` from the User-Agent header (env/user_agent.py, docs/cel.md): ngrok's
documented examples work on requests that carry only the header."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.env.user_agent import FIELDS, MAX_LENGTH, user_agent_entries

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 Edg/120.0.0.0")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.1 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
        "Mobile/15E148 Safari/604.1")
ANDROID_TABLET = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PIXEL = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
         "Mobile Safari/537.36")
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
       "Safari/605.1.15")
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"

CASES: list[tuple[str | None, dict[str, Any]]] = [
    (GOOGLEBOT, {"name": "Googlebot", "version": "2.1", "device": "Spider", "url": "http://www.google.com/bot.html",
                 "is_bot": True}),
    (GPTBOT, {"name": "GPTBot", "version": "1.2", "url": "https://openai.com/gptbot", "is_bot": True}),
    (EDGE, {"name": "Edge", "version": "120.0.0.0", "os": "Windows", "os_version": "10", "is_desktop": True}),
    (MAC, {"name": "Safari", "os": "macOS", "os_version": "10.15.7", "device": "Mac", "is_desktop": True}),
    (IPHONE, {"name": "Safari", "os": "iOS", "os_version": "17.1", "device": "iPhone", "is_mobile": True}),
    (PIXEL, {"name": "Chrome", "os": "Android", "os_version": "14", "is_mobile": True}),
    (IPAD, {"device": "iPad", "is_tablet": True}),
    (ANDROID_TABLET, {"os": "Android", "is_tablet": True}),
    ("curl/8.17.0", {"name": "curl", "version": "8.17.0", "os": "Other", "url": ""}),
    (None, {"name": "Other", "version": "", "os": "Other", "os_version": "", "device": "Other", "url": ""}),
]
FLAGS = ("is_bot", "is_mobile", "is_tablet", "is_desktop")


@pytest.mark.parametrize(("header", "want"), CASES, ids=lambda c: str(c)[:20])
def test_the_header_parsed(header: str | None, want: dict[str, Any]) -> None:
    got = {k.removeprefix("req.user_agent."): v for k, v in user_agent_entries(header)}
    assert set(got) == set(FIELDS)
    assert {k: got[k] for k in want} == want
    assert all(got[f] is False for f in FLAGS if f not in want)  # the one flag the case names, no other


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=2 * MAX_LENGTH), st.sampled_from([c[0] for c in CASES]).map(
    lambda h: (h or "") + " x" * 300)))
def test_any_header_gives_every_entry_of_its_type(header: str | None) -> None:
    got = dict(user_agent_entries(header))
    assert [k.removeprefix("req.user_agent.") for k in got] == list(FIELDS)
    flags = [got["req.user_agent." + f] for f in FLAGS]
    assert all(type(v) is bool for v in flags) and sum(flags) <= 1
    assert all(type(got["req.user_agent." + f]) is str for f in FIELDS if f not in FLAGS)


def test_only_the_first_characters_are_parsed() -> None:
    assert user_agent_entries(GOOGLEBOT + "x" * 10_000) == user_agent_entries((GOOGLEBOT + "x" * 10_000)[:MAX_LENGTH])


# ngrok's user-agent filtering example (https://ngrok.com/docs/traffic-policy/examples/user-agent-filtering/)
NGROK_EXAMPLE = """\
on_http_request:
  - expressions:
      - req.user_agent.name == 'Edge'
    actions:
      - type: custom-response
        config:
          status_code: 200
          body: Hello Edge User!
  - expressions:
      - req.user_agent.is_bot
    actions:
      - type: deny
        config:
          status_code: 403
"""


@pytest.mark.parametrize(("headers", "status", "rule"), [
    ({"User-Agent": GOOGLEBOT}, 403, "#2"),
    ({"user-agent": EDGE}, 200, "#1"),
    ({"User-Agent": IPHONE}, 200, None),
    ({}, 200, None),  # no header: not a bot, not an error
])
def test_ngroks_example_decides_from_the_header(headers: dict[str, str], status: int, rule: str | None) -> None:
    engine = ap.Engine(ap.loads(NGROK_EXAMPLE, format="yaml"))
    d = engine.evaluate({"request": {"method": "GET", "url": "https://x.example/", "headers": headers}},
                        expect_response=False)
    assert (d.status_code, d.rule, d.errors) == (status, rule, [])


def test_what_the_embedder_supplies_wins() -> None:
    engine = ap.Engine(ap.loads(NGROK_EXAMPLE, format="yaml"))
    d = engine.evaluate({"request": {"method": "GET", "url": "https://x.example/", "headers": {"User-Agent": GOOGLEBOT}},
                         "req": {"user_agent": {"is_bot": False, "name": "Internal"}}}, expect_response=False)
    assert (d.verdict, d.rule) == ("allow", None)
