"""A routed stream cut at every point of its first answer (the upstream resets the connection
after ``n`` bytes, for ``n`` over the whole answer, one gateway for all): before its first event
is whole it fails over and the next candidate's stream is served alone; after, the client has
the events that came and an error event (the SDK raises), never both answers. Either way the
ledger has one final record per request and the limit store is charged once, with the served
stream's usage: the total after all the cuts is the sum of what each ledger record says."""

from __future__ import annotations

import time
from typing import Any

import openai

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of, routed_policy, ledger_lines
from .raw_upstream import Peer, RawUpstream, chunked, serve
from .test_routing_first_event import CLIENT_KEY, HEAD, _events

CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 100000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""
FIRST = HEAD + chunked(_events("first"))
STEP = 11


def test_a_stream_cut_anywhere_is_served_once_and_charged_once() -> None:
    cuts = list(range(len(HEAD), len(FIRST), STEP)) + [len(FIRST) - 1]
    pending = list(cuts)

    async def cutter(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(FIRST[:pending.pop(0)])
        peer.abort()

    good = HEAD + chunked(_events("second"))
    with RawUpstream(cutter) as a, RawUpstream(serve(good)) as b, \
            policy_gateway(CAP + routed_policy([a.url, b.url], key="sk-cut").removeprefix("on_http_request:\n"),
                           CLIENT_KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
        charged = 0
        seen: set[str] = set()
        for _ in cuts:
            text, failed = "", False
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o", stream=True,
                                                                   messages=[{"role": "user", "content": "hi"}])
            rid = raw.headers["x-aigw-decision-id"]
            try:
                for chunk in raw.parse():
                    text += "".join(c.delta.content or "" for c in chunk.choices)
            except openai.APIError:
                failed = True
            rec = record_of(gw.ledger, rid)
            if text == "second":  # failed over: nothing of the first reached the client
                assert not failed and (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
            else:  # served, then cut: the events that came, then the error event
                assert text in ("", "first") and (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p0", 1)
                assert failed or text == "first"
            seen.add(text)
            charged += rec["gen_ai.usage.input_tokens"] + rec["gen_ai.usage.output_tokens"]
        records = ledger_lines(gw.ledger)
        finals = [r for r in records if r["aigw.verdict"] != "pending"]
        assert len(finals) == len(cuts) == len({r["aigw.request.id"] for r in finals})
        engine = gw.app.holder.current
        spec = engine.compiled.limits["tokens"][1].limit.spec
        deadline = time.monotonic() + 30
        while engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used != charged:
            assert time.monotonic() < deadline, "the store never settled to what the ledger says"
            time.sleep(0.02)
        assert seen >= {"second", "first"}
