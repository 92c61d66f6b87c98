"""Who served a background response (SPEC §12): the provider, model and key a routed
``POST /v1/responses`` with ``background: true`` went to, by the response's id, so that its
reads (``GET /v1/responses/{id}``, resumed as a stream, ``POST .../cancel``,
``.../input_items``, ``DELETE``) go to that provider with that key: the response lives there
and nowhere else.

Kept beside the limits, as the live metrics are (:func:`owners_for`): in the process for a
``memory:`` store (lost with it), in the limit store's SQLite file (table
``aigw_route_owners``) or its Redis (``{tag}:ro:<id>``), where every gateway process shares
them and a restart keeps them. Bounded: :data:`MAX_IDS` ids (the oldest go first; Redis: each
expires after :data:`KEEP_S`). Only ids and the route's own names are kept (a key's id, never
its value), and the creator as a hash of its identity: a read by another identity is not
routed (a response id is no credential).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .redis_clients import RedisClients

__all__ = ["KEEP_S", "MAX_IDS", "MemoryOwners", "Owners", "SQLiteOwners", "RedisOwners", "creator_of", "owners_for"]

MAX_IDS = 100_000
"""Background response ids remembered at most (the least recently stored go first)."""
KEEP_S = 30 * 86_400.0
"""Seconds an id is kept in Redis (OpenAI keeps a stored response 30 days)."""
_ID_CHARS = 256  # a response id longer than this is not remembered (OpenAI's are ~50)


def creator_of(identity: Mapping[str, Any] | None) -> str:
    """A short hash of the caller's identity (whose response it is), never the identity."""
    text = json.dumps(dict(identity or {}), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Owners:
    """Where owners are kept: ``remember(response_id, owner)``, ``owner(response_id)``
    (``{"provider", "model", "key_id", "creator"}`` or None); async twins for the event loop.
    A store that fails forgets (a read is then answered as one nobody routed)."""

    def remember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        raise NotImplementedError

    def owner(self, response_id: str, now: float) -> dict[str, Any] | None:
        raise NotImplementedError

    async def aremember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        self.remember(response_id, owner, now)

    async def aowner(self, response_id: str, now: float) -> dict[str, Any] | None:
        return self.owner(response_id, now)


class MemoryOwners(Owners):
    """In this process (thread-safe), the :data:`MAX_IDS` most recent."""

    def __init__(self, max_ids: int = MAX_IDS) -> None:
        self.max_ids = max_ids
        self._ids: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        if len(response_id) > _ID_CHARS:
            return
        with self._lock:
            self._ids[response_id] = dict(owner)
            self._ids.move_to_end(response_id)
            while len(self._ids) > self.max_ids:
                self._ids.popitem(last=False)

    def owner(self, response_id: str, now: float) -> dict[str, Any] | None:
        with self._lock:
            found = self._ids.get(response_id)
        return dict(found) if found is not None else None

    def __len__(self) -> int:
        return len(self._ids)


_SCHEMA = ("CREATE TABLE IF NOT EXISTS aigw_route_owners ( id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
           " at REAL NOT NULL) WITHOUT ROWID",
           "CREATE INDEX IF NOT EXISTS aigw_route_owners_at ON aigw_route_owners (at)")
_TRIM_EVERY = 256  # inserts between two trims of the table to max_ids


class SQLiteOwners(Owners):
    """In the limit store's SQLite file, shared by the host's processes and kept across restarts."""

    def __init__(self, path: str, *, max_ids: int = MAX_IDS, timeout: float = 5.0) -> None:
        from ..limits.sqlite_open import open_sqlite

        self.max_ids = max_ids
        self._lock = threading.Lock()
        self._db = open_sqlite(path, schema=_SCHEMA, synchronous="NORMAL", busy_timeout=timeout,
                               names=("aigw_route_owners", "aigw_route_owners_at"))
        self._writes = 0

    def remember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        if len(response_id) > _ID_CHARS:
            return
        import sqlite3

        try:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO aigw_route_owners VALUES (?, ?, ?)",
                                 (response_id, json.dumps(dict(owner)), now))
                self._writes += 1
                if self._writes % _TRIM_EVERY == 0:
                    self._db.execute("DELETE FROM aigw_route_owners WHERE id IN (SELECT id FROM aigw_route_owners "
                                     "ORDER BY at DESC LIMIT -1 OFFSET ?)", (self.max_ids,))
        except sqlite3.Error:
            return

    def owner(self, response_id: str, now: float) -> dict[str, Any] | None:
        import sqlite3

        try:
            with self._lock:
                row = self._db.execute("SELECT owner FROM aigw_route_owners WHERE id = ?", (response_id,)).fetchone()
        except sqlite3.Error:
            return None
        return json.loads(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisOwners(Owners):
    """In the limit store's Redis, each id expiring after :data:`KEEP_S`. The event loop's
    reads and writes (:meth:`aowner`, :meth:`aremember`) go through ``redis.asyncio``, as the
    limit store's and the live metrics' do: no worker thread per routed request. Each waits
    ``timeout`` seconds at most (connect and reply); a Redis that is down or stalls forgets."""

    def __init__(self, url: str, *, prefix: str = "{aigw}:", timeout: float = 2.0) -> None:
        self.url, self.prefix, self.timeout = url, prefix + "ro:", timeout
        self._clients = RedisClients(url, timeout)
        self._redis, self._async = self._clients.sync, self._clients.async_

    def remember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        if len(response_id) > _ID_CHARS:
            return
        try:
            self._redis().set(self.prefix + response_id, json.dumps(dict(owner)), ex=int(KEEP_S))
        except Exception:  # noqa: BLE001 - a store that fails forgets (see Owners)
            return

    def owner(self, response_id: str, now: float) -> dict[str, Any] | None:
        try:
            found = self._redis().get(self.prefix + response_id)
        except Exception:  # noqa: BLE001 - a store that fails forgets (see Owners)
            return None
        return json.loads(found) if found else None

    async def aremember(self, response_id: str, owner: Mapping[str, Any], now: float) -> None:
        if len(response_id) > _ID_CHARS:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._async().set(self.prefix + response_id, json.dumps(dict(owner)), ex=int(KEEP_S))
        except Exception:  # noqa: BLE001 - a store that fails forgets (see Owners)
            return

    async def aowner(self, response_id: str, now: float) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self.timeout):
                found = await self._async().get(self.prefix + response_id)
        except Exception:  # noqa: BLE001 - a store that fails forgets (see Owners)
            return None
        return json.loads(found) if found else None

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


def owners_for(store: Any) -> Owners:
    """The owners that go with a limit store: in its SQLite file, its Redis, else in memory."""
    from ..limits.redis_store import RedisStore
    from ..limits.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        return SQLiteOwners(store.path, timeout=store.timeout)
    if isinstance(store, RedisStore):
        return RedisOwners(store.url, prefix=store.prefix)
    return MemoryOwners()



