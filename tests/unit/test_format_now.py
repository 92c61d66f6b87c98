"""``time.now`` text: the cached second never leaks into another second, before 1970 too."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.env.activation import format_now

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
times = st.integers(min_value=-2_000_000_000_000_000, max_value=4_000_000_000_000_000).map(lambda us: us / 1_000_000)


def expected(now: float) -> str:
    at = EPOCH + timedelta(microseconds=round(now * 1_000_000))
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond:06d}".rstrip("0")
    return text + "Z"


@given(st.lists(times, min_size=1, max_size=20))
def test_format_now_matches_datetime_in_any_order(nows: list[float]) -> None:
    for now in nows:
        assert format_now(now) == expected(now)


def test_a_time_before_1970_counts_back() -> None:
    assert format_now(-1.5) == "1969-12-31T23:59:58.5Z"
    assert format_now(-1.5) == format_now(-1.5)
