"""Timestamps and durations: RFC 3339 and Go-style duration text, time zones, accessors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from .checks import check_dur, check_ts
from .civil import civil_from_days, days_from_civil, month_days
from .values import NS, CelError, Duration, Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# RFC 3339 (ASCII digits only: Python's \d also matches other scripts' digits); any number
# of fraction digits, of which nanoseconds are kept (as Go's time.Parse)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def _bad_timestamp(text: str) -> CelError:
    return CelError(f"timestamp parse error: {text!r}", "invalid_argument")


def parse_timestamp(text: str) -> Timestamp:
    m = _RFC3339.match(text)
    if m is None:
        raise _bad_timestamp(text)
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year < 1:
        raise CelError("timestamp out of range", "range")
    if not (1 <= month <= 12 and 1 <= day <= month_days(year, month) and hour <= 23
            and minute <= 59 and second <= 60):
        raise _bad_timestamp(text)
    frac = m.group(7) or ""
    nanos = int(frac[:9].ljust(9, "0")) if frac else 0
    tz = m.group(8)
    offset = 0
    if tz not in ("Z", "z"):
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:  # RFC 3339: time-numoffset hours 00-23, minutes 00-59
            raise _bad_timestamp(text)
        offset = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
    # a leap second (:60) is the first second of the next minute, its fraction dropped
    # (cel-cpp: `:59:60.5Z` is `:00:00Z`, not a half second past it)
    if second == 60:
        nanos = 0
    secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return check_ts(secs * NS + nanos)


_DUR_UNITS = {
    "h": 3600 * NS,
    "m": 60 * NS,
    "s": NS,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}
_DUR_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(h|ms|m|s|us|ns)")
_MAX_DIGITS = 20  # more significant digits than this is out of range whatever the unit


def parse_duration(text: str) -> Duration:
    """Go's ``time.ParseDuration`` grammar: ``[-+]?([0-9]*(.[0-9]*)?unit)+`` or ``0``, with the
    langdef's units (``h m s ms us ns``): not Go's ``µs``/``μs``, which cel-cpp refuses."""
    s = text
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise CelError(f"invalid duration: {text!r}", "invalid_argument")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DUR_PART.match(s, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            raise CelError(f"invalid duration: {text!r}", "invalid_argument")
        whole = m.group(1).lstrip("0")
        if len(whole) > _MAX_DIGITS:
            raise CelError("duration out of range", "range")
        unit = _DUR_UNITS[m.group(3)]
        total += int(whole or "0") * unit
        frac = (m.group(2) or "")[:_MAX_DIGITS]
        if frac:
            total += int(frac) * unit // (10 ** len(frac))
        pos = m.end()
    return check_dur(sign * total)


# -- time zones and accessors -----------------------------------------------------------------

# a fixed offset as cel-go (strconv.Atoi of each side) and cel-cpp read one: one or two digits
# of hours and of minutes, added as they are (``+01:60`` is two hours ahead, ``+1:2`` one
# hour and two minutes); anything else is a zone name
_FIXED = re.compile(r"([+-]?)([0-9]{1,2}):([0-9]{1,2})\Z")


@lru_cache(maxsize=256)
def zone(name: str) -> int | tzinfo:
    """A time zone argument: a fixed offset in seconds, or an IANA zone. ``''`` is UTC."""
    m = _FIXED.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60)
    if name in ("", "UTC"):
        return 0
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        raise CelError(f"unknown time zone: {name!r}", "invalid_argument") from None


_DT_MIN = -62135596800 + 2 * 86400  # 0001-01-03: inside datetime's range whatever the zone
_DT_MAX = 253402300799 - 2 * 86400


def _local_seconds(ts: Timestamp, tz: str | None) -> int:
    """Seconds since the epoch of the wall-clock time of ``ts`` in ``tz`` (UTC if None)."""
    secs = ts.ns // NS
    if tz is None:
        return secs
    z = zone(tz)
    if type(z) is int:
        return secs + z
    # zones change no offsets in the first or last days of years 1 and 9999: look up the
    # offset a little inward there, where datetime can represent the local time
    at = _EPOCH + timedelta(seconds=min(max(secs, _DT_MIN), _DT_MAX))
    off = at.astimezone(z).utcoffset()  # type: ignore[arg-type]
    return secs + (int(off.total_seconds()) if off is not None else 0)


def _date(ts: Timestamp, tz: str | None) -> tuple[int, int, int, int]:
    """(year, month, day, days since the epoch) in ``tz``."""
    days = _local_seconds(ts, tz) // 86400
    y, m, d = civil_from_days(days)
    return y, m, d, days


def ts_full_year(ts: Timestamp, tz: str | None = None) -> int:
    return _date(ts, tz)[0]


def ts_month(ts: Timestamp, tz: str | None = None) -> int:
    return _date(ts, tz)[1] - 1


def ts_date(ts: Timestamp, tz: str | None = None) -> int:
    return _date(ts, tz)[2]


def ts_day_of_month(ts: Timestamp, tz: str | None = None) -> int:
    return _date(ts, tz)[2] - 1


def ts_day_of_week(ts: Timestamp, tz: str | None = None) -> int:
    return (_local_seconds(ts, tz) // 86400 + 4) % 7  # 1970-01-01 was a Thursday; 0 is Sunday


def ts_day_of_year(ts: Timestamp, tz: str | None = None) -> int:
    y, _, _, days = _date(ts, tz)
    return days - days_from_civil(y, 1, 1)


def ts_hours(ts: Timestamp, tz: str | None = None) -> int:
    return _local_seconds(ts, tz) % 86400 // 3600


def ts_minutes(ts: Timestamp, tz: str | None = None) -> int:
    return _local_seconds(ts, tz) % 3600 // 60


def ts_seconds(ts: Timestamp, tz: str | None = None) -> int:
    return _local_seconds(ts, tz) % 60


def ts_milliseconds(ts: Timestamp, tz: str | None = None) -> int:
    if tz is not None:
        zone(tz)
    return (ts.ns % NS) // 1_000_000


def _trunc(ns: int, unit: int) -> int:
    q = abs(ns) // unit
    return -q if ns < 0 else q


def dur_hours(d: Duration) -> int:
    return _trunc(d.ns, 3600 * NS)


def dur_minutes(d: Duration) -> int:
    return _trunc(d.ns, 60 * NS)


def dur_seconds(d: Duration) -> int:
    return _trunc(d.ns, NS)


def dur_milliseconds(d: Duration) -> int:
    ms = _trunc(d.ns, 1_000_000)
    r = abs(ms) % 1000
    return -r if ms < 0 else r


def timestamp_from_seconds(secs: int) -> Timestamp:
    return check_ts(secs * NS)
