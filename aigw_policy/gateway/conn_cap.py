"""The cap on a server's open client connections (``aigw-policy serve --max-connections``).

A connection costs a file descriptor and ~7 KB whether it carries a request or idles. Without
a cap, ~20,000 idle keep-alive connections (this machine's ``ulimit -n``; one request each, a
401 will do, then 75 s of keep-alive) used every descriptor, and ``accept`` failed for
everyone else while they lasted. With the cap, a connection past it first takes the place of
the longest-idle one (opened or kept alive, no byte of a request read: nginx reuses such
connections when it runs short, ``worker_connections``); when every open connection is busy
with a request, the new one is answered 503 ``too_many_connections`` with ``Retry-After: 1``
and closed. A request in progress is never cut for a newcomer.

uvicorn's own ``limit_concurrency`` was weighed: it still accepts every connection (and so
still runs out of descriptors) and answers 503 to requests while it is over, idle holders
included, so an idle flood refuses every client's requests instead of only its own idling.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

__all__ = ["DEFAULT_MAX_CONNECTIONS", "RESERVED_FILES", "fitting_cap"]

DEFAULT_MAX_CONNECTIONS = 10_000
"""Open client connections ``serve`` keeps by default (~70 MB of idle ones at most): far
above what one event loop serves busy (a few thousand streams), far below the descriptors a
process may open once ``serve`` has raised its soft limit (:func:`fitting_cap`)."""

RESERVED_FILES = 1024
"""Descriptors kept for everything but client connections: the upstream clients' pools
(512 connections for the plain upstream, more for an ``ai-gateway`` route's providers), the
store's and the ledger's sockets or files, the policy file, GeoIP databases."""

_log = logging.getLogger("aigw_policy.gateway")


def fitting_cap(wanted: int) -> tuple[int, str | None]:
    """``(cap, note)``: ``wanted`` connections when the process may open them and
    :data:`RESERVED_FILES` more (its soft ``RLIMIT_NOFILE`` raised toward the hard one if need
    be, as Go's runtime does at start-up), else as many as fit, at least half the limit;
    ``note`` says why the cap is lower than asked (None when it is not)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # no such limit here: take the word as given
        return wanted, None
    need = wanted + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < need:
        raised = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted, None
    cap = min(wanted, max(soft - RESERVED_FILES, soft // 2))
    if cap == wanted:
        return wanted, None
    return cap, (f"--max-connections {wanted} lowered to {cap}: the process may open {soft} files "
                 f"(ulimit -n) and keeps {RESERVED_FILES} for the upstream, the store and the ledger")


class Capped:
    """The cap (a mixin of the server protocol classes): :meth:`_admit` when a connection is
    made, :meth:`_spare` once an answer is complete and the connection kept, :meth:`_taken`
    at its next bytes (only while it is spare: one attribute read a read otherwise). The spare
    connections of one server are a dict in its uvicorn ``server_state``, oldest first."""

    max_connections: int | None = DEFAULT_MAX_CONNECTIONS
    connections: set[Any]
    server_state: Any
    transport: Any
    cycle: Any
    timeout_keep_alive_task: Any
    _is_spare = False

    def _spares(self) -> dict[Any, None]:
        state = self.server_state
        spares: dict[Any, None] | None = getattr(state, "aigw_spare_connections", None)
        if spares is None:
            spares = state.aigw_spare_connections = {}
        return spares

    def _admit(self, refuse: Any) -> bool:
        """A connection was made (uvicorn counted it): within the cap it is kept, spare until
        its first byte; past it the longest-spare connection is closed for it, or, none being
        spare, ``refuse()`` answers it (a 503) and False is returned."""
        cap = self.max_connections
        spares = self._spares()
        if cap is not None and len(self.connections) > cap:
            oldest = next(iter(spares), None)
            if oldest is None:
                _warn(self.server_state, f"{cap} client connections are open, each with a request in progress: "
                      "new connections are answered 503 `too_many_connections` (--max-connections)")
                refuse()
                return False
            del spares[oldest]
            oldest._is_spare = False
            _warn(self.server_state, f"{cap} client connections are open: the longest idle ones are closed "
                  "for new ones (--max-connections)")
            oldest.transport.close()
        spares[self] = None
        self._is_spare = True
        return True

    def _taken(self) -> None:
        """Bytes of a request came: no longer spare."""
        self._is_spare = False
        self._spares().pop(self, None)

    def _spare(self) -> None:
        """After uvicorn's ``on_response_complete``: spare when the connection is kept alive
        with no request in progress (its keep-alive timer runs only then)."""
        if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
            self._spares()[self] = None
            self._is_spare = True

    def _unspare(self) -> None:
        """The connection is lost."""
        if self._is_spare:
            self._taken()


_WARN_EVERY = 1000
"""Of the connections past the cap, closed or refused, the first and then one in 1000 of each
are warned of (a flood makes one line per 1000 connections, not one each)."""


def _warn(state: Any, message: str) -> None:
    """Count ``message`` (a connection closed, or one refused) and say it on its first time and
    each :data:`_WARN_EVERY` th."""
    counts: dict[str, int] = getattr(state, "aigw_over_cap", None) or {}
    state.aigw_over_cap = counts
    count = counts[message] = counts.get(message, 0) + 1
    if count % _WARN_EVERY == 1:
        _log.warning("%s (%d so far)", message, count)
