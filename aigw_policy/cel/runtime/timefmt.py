"""Timestamps and durations: RFC 3339 and Go-style duration text, time zones, accessors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from .values import NS, CelError, Duration, Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def parse_timestamp(text: str) -> Timestamp:
    from .ops import check_ts

    m = _RFC3339.match(text)
    if m is None:
        raise CelError(f"timestamp parse error: {text!r}", "invalid_argument")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year < 1:
        raise CelError("timestamp out of range", "range")
    try:
        dt = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc)
    except ValueError:
        raise CelError(f"timestamp parse error: {text!r}", "invalid_argument") from None
    frac = m.group(7) or ""
    nanos = int(frac.ljust(9, "0")) if frac else 0
    tz = m.group(8)
    offset = 0
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    delta = dt - _EPOCH
    secs = delta.days * 86400 + delta.seconds + (second - min(second, 59)) - offset
    return check_ts(secs * NS + nanos)


def format_timestamp(ts: Timestamp) -> str:
    secs, nanos = divmod(ts.ns, NS)
    dt = _EPOCH + timedelta(seconds=secs)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.year < 1000:
        base = f"{dt.year:04d}" + base[base.index("-") :]
    if nanos:
        frac = f"{nanos:09d}".rstrip("0")
        return f"{base}.{frac}Z"
    return base + "Z"


_DUR_UNITS = {
    "h": 3600 * NS,
    "m": 60 * NS,
    "s": NS,
    "ms": 1_000_000,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ns": 1,
}
_DUR_PART = re.compile(r"(\d*)(?:\.(\d*))?(h|ms|m|s|us|µs|μs|ns)")


def parse_duration(text: str) -> Duration:
    from .ops import check_dur

    s = text
    sign = 1
    if s[:1] in "+-":
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
        whole = int(m.group(1) or "0")
        unit = _DUR_UNITS[m.group(3)]
        total += whole * unit
        frac = m.group(2)
        if frac:
            total += int(frac) * unit // (10 ** len(frac))
        pos = m.end()
    return check_dur(sign * total)


def format_duration(d: Duration) -> str:
    ns = d.ns
    sign = "-" if ns < 0 else ""
    secs, nanos = divmod(abs(ns), NS)
    if nanos:
        return f"{sign}{secs}.{f'{nanos:09d}'.rstrip('0')}s"
    return f"{sign}{secs}s"


# -- time zones and accessors -----------------------------------------------------------------

_FIXED = re.compile(r"([+-]?)(\d{2}):(\d{2})\Z")


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    m = _FIXED.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    if name == "UTC":
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        raise CelError(f"unknown time zone: {name!r}", "invalid_argument") from None


def _datetime(ts: Timestamp, tz: str | None) -> datetime:
    secs = ts.ns // NS
    dt = _EPOCH + timedelta(seconds=secs)
    if tz is not None:
        dt = dt.astimezone(zone(tz))
    return dt


def ts_full_year(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).year


def ts_month(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).month - 1


def ts_date(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).day


def ts_day_of_month(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).day - 1


def ts_day_of_week(ts: Timestamp, tz: str | None = None) -> int:
    return (_datetime(ts, tz).weekday() + 1) % 7


def ts_day_of_year(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).timetuple().tm_yday - 1


def ts_hours(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).hour


def ts_minutes(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).minute


def ts_seconds(ts: Timestamp, tz: str | None = None) -> int:
    return _datetime(ts, tz).second


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
    from .ops import check_ts

    return check_ts(secs * NS)


def from_datetime(dt: datetime) -> Timestamp:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return Timestamp((delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000)
