"""Keys cooling down after a rate limit (docs/routing.md, "Cooldown"): a (provider, key,
model) whose attempt was answered 429 with when to come back (``Retry-After``,
``retry-after-ms``, or the reset of a rate-limit header whose remaining is 0) is tried *last*
by later requests until then: after every other candidate of their plan, in the
plan's order, never skipped (a pool whose every key is cooling still answers what the providers
would). Each process keeps its table in memory, at most :data:`MAX_ENTRIES` pairs, each wait
capped at :data:`MAX_WAIT_S`; with a shared limit store (SQLite, Redis) the live metrics'
store publishes what it notes and brings what the other processes noted, in the round trip
that records an attempt (:meth:`Cooldowns.drain`, :meth:`Cooldowns.merge`;
``routing/cooling_store.py``). The decision's ``routing.cooling`` and its trace say which
candidates were put last and until when.

>>> c = Cooldowns()
>>> c.note("openai", "k1", "gpt-4o", 429, {"retry-after": "20"}, 1000.0)
20.0
>>> c.until("openai", "k1", "gpt-4o", 1010.0), c.until("openai", "k1", "gpt-4o", 1020.0)
(1020.0, None)
>>> c.note("openai", "k1", "gpt-4o", 500, {"retry-after": "20"}, 1000.0) is None  # only a rate limit
True
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..routing.cooling_store import Cool
from .route_errors import upstream_wait

__all__ = ["MAX_ENTRIES", "MAX_WAIT_S", "Cooldowns", "rate_limit_wait"]

MAX_ENTRIES = 4096
"""(provider, key, model) pairs one process remembers; past it the least recently noted go."""
MAX_WAIT_S = 300.0
"""The longest a key is put last (a daily limit's reset hours away is read as this): a limit
raised or lifted early is noticed within it, and the order of a plan is never stale for long."""

_RESETS = (("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
           ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
           ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
           ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
           ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
           ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"))
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?")


def _duration(text: str, now: datetime) -> float | None:
    """A reset as providers write it: seconds (``"12"``, ``"0.5"``), Go's duration text
    (OpenAI's and Groq's ``"6m0s"``, ``"1h2m3.5s"``, ``"20ms"``), or an RFC 3339 time
    (Anthropic's ``"2026-12-07T12:00:30Z"``); None when it is none of these.

    >>> now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    >>> [_duration(t, now) for t in ("12", "6m0s", "1h2m3.5s", "20ms", "2026-12-07T12:00:30Z", "soon", "")]
    [12.0, 360.0, 3723.5, 0.02, 30.0, None, None]
    """
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if 0 <= value < 1e9 else None
    m = _DURATION.fullmatch(text)
    if text and m is not None and any(m.groups()):
        h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mi * 60 + s + ms / 1000
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return max(0.0, (at - now).total_seconds())


def rate_limit_wait(status: int | None, headers: Mapping[str, str], now: float, body: Any = None) -> float | None:
    """Seconds a 429 answer says its key is limited for: ``retry-after-ms``, else
    ``Retry-After`` (seconds or an HTTP date), else what its error ``body`` says (Google's
    ``RetryInfo.retryDelay``: Gemini sends no header), else the longest reset among the
    rate-limit headers whose remaining is 0 (OpenAI's and Groq's ``x-ratelimit-*``,
    Anthropic's ``anthropic-ratelimit-*``); capped at :data:`MAX_WAIT_S`. None: not a 429,
    or nothing readable (no cooldown: nothing is known of when the key is back).

    >>> rate_limit_wait(429, {"retry-after-ms": "1500", "retry-after": "2"}, 0.0)
    1.5
    >>> rate_limit_wait(429, {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s",
    ...                       "x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s"}, 0.0)
    300.0
    >>> rate_limit_wait(429, {"retry-after": "soon"}, 0.0), rate_limit_wait(503, {"retry-after": "5"}, 0.0)
    (None, None)
    """
    if status != 429:
        return None
    lower = {k.lower(): v for k, v in headers.items() if isinstance(v, str)}
    at = datetime.fromtimestamp(now, timezone.utc)
    wait = upstream_wait(lower, at, body)
    if wait is None:
        resets = [_duration(lower[reset], at) for remaining, reset in _RESETS
                  if reset in lower and lower.get(remaining, "").strip() == "0"]
        known = [r for r in resets if r is not None]
        wait = max(known) if known else None
    if wait is None or not math.isfinite(wait) or wait <= 0:
        return None
    return min(wait, MAX_WAIT_S)


class Cooldowns:
    """This process's (provider, key id, model) -> (until, why, when noted), bounded;
    thread-safe (the gateway's loop and a library user's threads may share one engine)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._until: OrderedDict[tuple[str, str, str], tuple[float, str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._outbox: OrderedDict[tuple[str, str, str], Cool] | None = None  # (None: nobody publishes them)

    def __len__(self) -> int:
        return len(self._until)

    def clear(self) -> None:
        with self._lock:
            self._until.clear()
            if self._outbox is not None:
                self._outbox.clear()

    def note(self, provider: str, key_id: str | None, model: str, status: int | None,
             headers: Mapping[str, str], now: float, body: Any = None) -> float | None:
        """Remember an attempt's answer; the seconds its key now cools down (None: it does not).
        A key of the client's own (``key_id`` None: passthrough) is no key of the route's and is
        not remembered. A later, shorter wait replaces a longer one: the provider's latest word."""
        if key_id is None:
            return None
        wait = rate_limit_wait(status, headers, now, body)
        if wait is None:
            return None
        pair = (provider, key_id, model)
        why = f"answered 429 asking to wait {_seconds(wait)}"
        with self._lock:
            self._put(pair, (now + wait, why, now))
            if self._outbox is not None:
                self._outbox.pop(pair, None)
                self._outbox[pair] = (provider, key_id, model, now + wait, now, why)
                while len(self._outbox) > self.max_entries:
                    self._outbox.popitem(last=False)
        return wait

    def _put(self, pair: tuple[str, str, str], entry: tuple[float, str, float]) -> None:
        self._until.pop(pair, None)
        self._until[pair] = entry
        while len(self._until) > self.max_entries:
            self._until.popitem(last=False)

    def publishing(self) -> None:
        """From now on, keep what :meth:`note` learns for a shared store to take (:meth:`drain`)."""
        with self._lock:
            if self._outbox is None:
                self._outbox = OrderedDict()

    def drain(self) -> list[Cool]:
        """What was noted since the last drain, to publish: (provider, key id, model, until,
        noted at, why) each."""
        with self._lock:
            if not self._outbox:
                return []
            out = list(self._outbox.values())
            self._outbox.clear()
            return out

    def merge(self, found: Iterable[Cool], now: float) -> None:
        """Take what the shared store holds (every process's notes): a pair's entry replaces
        this process's when it was noted at the same time or later (the provider's latest
        word); one whose wait is over, or that is not of the published shape, is left."""
        with self._lock:
            for entry in found:
                try:
                    provider, key_id, model, until, noted, why = entry
                    until, noted = float(until), float(noted)
                except (TypeError, ValueError):
                    continue
                if not (isinstance(provider, str) and isinstance(key_id, str) and isinstance(model, str)
                        and isinstance(why, str)) or not until > now or not math.isfinite(until):
                    continue
                pair = (provider, key_id, model)
                mine = self._until.get(pair)
                if mine is None or (noted >= mine[2] and (until, why) != mine[:2]):
                    self._put(pair, (until, why, noted))

    def until(self, provider: str, key_id: str | None, model: str, now: float) -> float | None:
        """When the pair's cooldown ends, while it lasts (None: not cooling)."""
        found = self.cooling(provider, key_id, model, now)
        return found[0] if found is not None else None

    def cooling(self, provider: str, key_id: str | None, model: str, now: float) -> tuple[float, str] | None:
        """When the pair's cooldown ends and why, while it lasts (None: not cooling)."""
        if key_id is None or not self._until:
            return None
        pair = (provider, key_id, model)
        with self._lock:
            found = self._until.get(pair)
            if found is not None and found[0] <= now:
                del self._until[pair]
                return None
        return None if found is None else found[:2]


def _seconds(wait: float) -> str:
    return f"{wait:g}s" if wait < 10 else f"{math.ceil(wait)}s"


def defer_cooling(run: Any, cooldowns: Cooldowns, now: float) -> list[dict[str, Any]]:
    """Put the tries of ``run`` (a :class:`~aigw_policy.engine.route.RouteRun` before its first
    attempt) whose key is cooling after the others, each group in plan order; what was put
    last, for the decision's ``routing.cooling``. A read of a stored response (a pinned plan)
    is left as it is: only its holder can answer it."""
    if run.plan.pinned or not len(cooldowns):
        return []
    first, last, told = [], [], []
    for t in run.tries:
        c = t.candidate
        found = None if t.skip is not None else cooldowns.cooling(c.provider, c.key_id, c.model, now)
        if found is None:
            first.append(t)
            continue
        last.append(t)
        until = datetime.fromtimestamp(found[0], timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        told.append({"provider": c.provider, "model": c.model, "key_id": c.key_id, "until": until,
                     "because": f"{found[1]}; tried after the other candidates until {until}"})
    if told:
        run.tries[:] = first + last
    return told
