"""park() remembers, per policy, which activation keys the response phase can read: a
request parked with the remembered answers packs exactly what it packs without them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine.pending import MAX_KEPT, Kept, park

POLICY = """policy {
  on request {
    rule "tpm" { token-limit { name: "tpm", capacity: 1000000, rate: 60s, bucket_key: [identity.key] } }
  }
  on response {
    rule "eu" {
      when has(conn.geo.country) && conn.geo.country == "FR" && res.status_code >= 500
      log { metadata: { "who": "${identity.team}", "tls": "${conn.tls.sni}" } }
    }
  }
}
"""

conn_keys = st.sampled_from(["client_ip", "geo", "tls", "port", "x", "geo2"])
tls_values = st.dictionaries(st.sampled_from(["sni", "version"]), st.sampled_from(["a.example", "1.3"]), max_size=2)
conn_values = st.sampled_from(["FR", "203.0.113.7", "1.3", 7]) | st.dictionaries(
    st.sampled_from(["country", "city"]), st.sampled_from(["FR", "Paris"]), max_size=2)


def _flow(engine: ap.Engine, conn: dict[str, Any], n: int) -> Any:
    req = {"id": f"r{n}", "identity": {"key": "k", "team": "t"}, "conn": conn,
           "request": {"url": "https://api.openai.com/v1/chat/completions",
                       "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
    flow, parsed, explicit = engine.start(req, now=1_795_000_000.0 + n)
    engine._drive(engine._steps(flow, parsed, explicit, False), flow.now)
    return flow


@settings(max_examples=60)
@given(st.lists(st.dictionaries(conn_keys, conn_values, max_size=4), min_size=1, max_size=6), tls_values)
def test_remembered_answers_pack_the_same(conns: list[dict[str, Any]], tls: dict[str, str]) -> None:
    engine = ap.Engine(ap.loads(POLICY))
    kept = Kept()
    drawn = [{**c, "tls": tls} if "tls" in c else c for c in conns]
    for n, conn in enumerate([*drawn, {"tls": {"sni": "a.example"}}]):
        flow = _flow(engine, conn, n)
        plain = park(flow, True).blob
        assert park(flow, True, kept).blob == plain
        assert park(flow, True, kept).blob == plain  # the same keys again: the last answer reused
    assert kept.answers.get("conn.tls.sni") is True and kept.answers.get("identity.key") is False


def test_the_memory_is_bounded() -> None:
    engine = ap.Engine(ap.loads(POLICY))
    kept = Kept()
    kept.answers.update({f"conn.k{i}": False for i in range(MAX_KEPT)})
    flow = _flow(engine, {"tls": {"sni": "a.example"}, "fresh": "x"}, 0)
    assert park(flow, True, kept).blob == park(flow, True).blob
    assert len(kept.answers) == MAX_KEPT and "conn.fresh" not in kept.answers
