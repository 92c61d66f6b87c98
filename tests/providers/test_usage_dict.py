"""``Usage.to_dict`` (written out for speed, issue #15) holds every token count of
:data:`TOKEN_FIELDS`, in that order, then ``source``: what a comprehension over the fields gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.providers.usage import TOKEN_FIELDS, Usage

COUNTS = st.integers(0, 10**9)


@given(COUNTS, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS, st.sampled_from(["provider", "estimate", "none"]))
def test_to_dict_is_the_token_fields_then_the_source(inp: int, out: int, cached: int, created: int, one_hour: int,
                                                     reasoning: int, source: str) -> None:
    u = Usage.of(inp, out, cached_input_tokens=cached, cache_creation_input_tokens=created,
                 cache_creation_1h_input_tokens=one_hour, reasoning_tokens=reasoning,
                 source=source)  # type: ignore[arg-type]
    plain = {name: getattr(u, name) for name in TOKEN_FIELDS}
    plain["source"] = u.source
    got = u.to_dict()
    assert list(got.items()) == list(plain.items())
