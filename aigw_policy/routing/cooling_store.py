"""Cooldowns shared through the limit store (docs/routing.md, "Cooldown"), as the live metrics
are: a key one gateway process saw answer 429 with a wait is tried last by every process over
the same SQLite file or Redis.

No round trip of its own: the live metrics' store (:mod:`.metrics`) records every attempt's
outcome, and in that same transaction (SQLite) or pipeline (Redis) it publishes the cooldowns
its process noted since (:meth:`CoolingBoard.drain`) and reads back every process's
(:meth:`CoolingBoard.merge`). A process so learns of the others' cooldowns with each attempt it
records. A pair's entry is replaced by a later note (the provider's latest word); entries whose
wait is over are deleted as they are met; at most :data:`MAX_SHARED` are kept (the oldest
noted go first). Only key *ids* are stored, never a key's value. A store that fails loses what
was published meanwhile: each process still has its own table (cooldowns are advice on order,
never a gate).

SQLite: table ``aigw_route_cooling`` beside the metrics'. Redis: one hash ``{tag}:rm:cool``
(field: the pair, value: ``[until, noted, why]``), expiring :data:`KEEP_S` after its last write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["KEEP_S", "MAX_SHARED", "SCHEMA", "CoolingBoard", "RedisCooling", "SharesCooling", "sqlite_exchange"]

MAX_SHARED = 4096
"""Cooldowns a shared store keeps (a process keeps as many: engine/cooldown.py MAX_ENTRIES)."""
KEEP_S = 600
"""Seconds Redis keeps the hash after its last write (the longest wait is 300 s)."""
SCHEMA = ("CREATE TABLE IF NOT EXISTS aigw_route_cooling ("
          " provider TEXT NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, until REAL NOT NULL,"
          " noted REAL NOT NULL, why TEXT NOT NULL, PRIMARY KEY (provider, key_id, model)) WITHOUT ROWID")

Cool = tuple[str, str, str, float, float, str]  # provider, key id, model, until, noted at, why


class CoolingBoard(Protocol):
    """A process's cooldowns as the store sees them (:class:`~aigw_policy.engine.cooldown.Cooldowns`)."""

    def publishing(self) -> None: ...

    def drain(self) -> list[Cool]: ...

    def merge(self, found: Iterable[Cool], now: float) -> None: ...


class SharesCooling:
    """A shared store of live metrics that carries its processes' cooldowns too."""

    _board: CoolingBoard | None = None

    def share_cooldowns(self, board: CoolingBoard) -> None:
        """Publish ``board``'s cooldowns with each record, and bring the other processes'."""
        board.publishing()
        self._board = board


def sqlite_exchange(db: Any, board: CoolingBoard, now: float) -> list[Cool]:
    """Inside a record's transaction: publish what ``board`` noted, delete what ended, and read
    every process's cooldowns (merge them once committed)."""
    for c in board.drain():
        db.execute("INSERT INTO aigw_route_cooling VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, key_id, model)"
                   " DO UPDATE SET until = excluded.until, noted = excluded.noted, why = excluded.why"
                   " WHERE excluded.noted >= aigw_route_cooling.noted", c)
    rows = db.execute("SELECT provider, key_id, model, until, noted, why FROM aigw_route_cooling").fetchall()
    if any(r[3] <= now for r in rows):
        db.execute("DELETE FROM aigw_route_cooling WHERE until <= ?", (now,))
        rows = [r for r in rows if r[3] > now]
    if len(rows) > MAX_SHARED:
        rows.sort(key=lambda r: r[4], reverse=True)
        db.execute("DELETE FROM aigw_route_cooling WHERE noted < ?", (rows[MAX_SHARED - 1][4],))
        rows = rows[:MAX_SHARED]
    return rows


class RedisCooling:
    """The Redis side: commands added to a record's pipeline, and the reading of its last reply."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._stale: list[str] = []  # fields met ended: deleted by the next pipeline

    def write(self, pipe: Any, board: CoolingBoard) -> None:
        """Queue the publication of what ``board`` noted, and the read of the hash (its last reply)."""
        drained = board.drain()
        if drained:
            pipe.hset(self.key, mapping={json.dumps(c[:3], separators=(",", ":")): json.dumps(c[3:])
                                         for c in drained})
            pipe.expire(self.key, KEEP_S)
        stale, self._stale = self._stale, []
        if stale:
            pipe.hdel(self.key, *stale)
        pipe.hgetall(self.key)

    def read(self, reply: Any, board: CoolingBoard, now: float) -> None:
        """Merge the hash's live entries into ``board``; note the ended and unreadable ones for deletion."""
        found: list[Cool] = []
        for field, value in (reply or {}).items():
            try:
                provider, key_id, model = json.loads(field)
                until, noted, why = json.loads(value)
                entry = (provider, key_id, model, float(until), float(noted), why)
            except (TypeError, ValueError):
                self._stale.append(field)
                continue
            if entry[3] > now:
                found.append(entry)
            else:
                self._stale.append(field)
        if len(found) > MAX_SHARED:
            found.sort(key=lambda c: c[4], reverse=True)
            self._stale += [json.dumps(c[:3], separators=(",", ":")) for c in found[MAX_SHARED:]]
            found = found[:MAX_SHARED]
        board.merge(found, now)
