"""``Usage.of`` and ``Usage.with_model`` build through the slots (faster than the frozen
dataclass's ``__init__`` and ``dataclasses.replace``): the objects must be the same."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.providers.usage import Usage

counts = st.integers(0, 2**53 - 1)
models = st.none() | st.text(max_size=8)
notes = st.lists(st.text(max_size=5), max_size=3).map(tuple)


@given(inp=counts, out=counts, cached=counts, created=counts, one_hour=counts, reasoning=counts,
       source=st.sampled_from(["provider", "estimate", "none"]), model=models, note=notes, other=models)
def test_built_through_the_slots_as_by_the_constructor(inp, out, cached, created, one_hour, reasoning, source, model,
                                                       note, other) -> None:
    fast = Usage.of(inp, out, cached_input_tokens=cached, cache_creation_input_tokens=created,
                    cache_creation_1h_input_tokens=one_hour, reasoning_tokens=reasoning, source=source, model=model,
                    notes=note)
    plain = Usage(input_tokens=inp, output_tokens=out, cached_input_tokens=cached,
                  cache_creation_input_tokens=created, cache_creation_1h_input_tokens=one_hour,
                  reasoning_tokens=reasoning, total_tokens=inp + out, source=source, model=model, notes=note)
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert dataclasses.asdict(fast) == dataclasses.asdict(plain)
    moved = fast.with_model(other)
    want = plain if other is None or other == model else dataclasses.replace(plain, model=other)
    assert moved == want and repr(moved) == repr(want) and type(moved) is Usage


def test_still_frozen() -> None:
    u = Usage.of(1, 2).with_model("m")
    try:
        u.model = "x"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        return
    raise AssertionError("a Usage could be changed")
