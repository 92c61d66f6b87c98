"""What every exchange works out from its request line alone is remembered, bounded, and the
same as working it out again; a request's timestamps are the instants they name.

The gateway's third-party-free hot path asks the same pure functions of the path on every
request (whether the path is an inference API, whose credentials its upstream gets): they
are remembered per path, in caches that stay bounded whatever paths a client invents.
``timestamp_of`` remembers the last second's date and time (every request makes two or
three timestamps, nearly always in the same second).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway import conn
from aigw_policy.gateway.proxy import _credential_api
from aigw_policy.providers.classify import inference_endpoint

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_YEAR_9999 = 253402300799_999_999_999  # the last nanosecond a datetime holds

instants = st.one_of(st.integers(0, _YEAR_9999),
                     # neighbours of a second's edges, where a remembered second could leak into the next
                     st.builds(lambda s, d: max(0, min(_YEAR_9999, s * 1_000_000_000 + d)),
                               st.integers(0, 253402300799), st.integers(-2000, 2000)))


@settings(max_examples=300)
@given(st.lists(instants, min_size=1, max_size=8))
def test_a_timestamp_is_the_instant_it_names(nss: list[int]) -> None:
    for ns in nss:  # in any order: each after whatever second the one before left remembered
        got = conn.timestamp_of(ns)
        assert got == _EPOCH + timedelta(microseconds=ns // 1000)
        assert got.tzinfo is timezone.utc and got.utcoffset() == timedelta(0)


def test_a_remembered_second_is_not_another_seconds_date() -> None:
    day = 86_400 * 1_000_000_000
    first = conn.timestamp_of(20_000 * day + 5)
    assert conn.timestamp_of(20_001 * day + 5) == first + timedelta(days=1)
    assert conn.timestamp_of(20_000 * day + 999_999_999) == first + timedelta(microseconds=999_999)


paths = st.one_of(
    st.sampled_from(["/v1/chat/completions", "/v1/messages", "/v1beta/models/gemini-2.0-flash:generateContent",
                     "/v1/embeddings", "/v1/files", "/model/anthropic.claude-3/converse", "/v1/models",
                     "/v1/projects/p/locations/l/publishers/anthropic/models/claude:rawPredict", "/api/chat"]),
    st.text(st.sampled_from("/v1:abcmodelsgenerateContent-."), max_size=40))


@settings(max_examples=300)
@given(st.sampled_from(["POST", "GET", "post", "HEAD"]), paths)
def test_remembered_path_facts_are_the_facts(method: str, path: str) -> None:
    assert inference_endpoint(method, path) == inference_endpoint.__wrapped__(method, path)
    assert _credential_api(path) == _credential_api.__wrapped__(path)


def test_the_remembered_paths_stay_bounded() -> None:
    for i in range(3000):  # a client inventing paths: the caches keep at most their bound
        inference_endpoint("POST", f"/v1/{i}/chat/completions")
        _credential_api(f"/v1/{i}/messages")
    for cached in (inference_endpoint, _credential_api):
        info = cached.cache_info()
        assert info.maxsize == 1024 and info.currsize <= 1024


def test_header_name_unions_are_the_unions_and_stay_bounded() -> None:
    from aigw_policy.gateway import hops

    own = frozenset({"content-length", "x-aigw-decision"})
    for i in range(300):  # every Connection value a client can invent gives hop_by_hop another set
        named = frozenset({"connection", f"x-hop-{i}"})
        for key in (True, False):
            assert hops.union_once(named, own, key) == named | own
        assert hops.union_once(named, own, True) is hops.union_once(named, own, True) or len(hops._unions) == 1
    assert len(hops._unions) <= 64
