"""A circuit breaker for a store that stalls (serve25).

A Redis that stops answering (``CLIENT PAUSE``, a failover, a network that drops packets)
made every call wait its full time-out (``timeout``, 1 s by default, and up to
``pool_timeout`` more in line for a connection) before failing: under ``fail_open`` every
request at once was served a second or more late, under ``fail_closed`` answered 503 as late,
and the paused calls held every pooled connection. Once a call has timed out the breaker is
open: one call at a time goes to the store (the probe); every other fails at once
(:class:`StoreUnavailable`, which ``store_failure`` turns into a 503 or an uncounted request,
as a timed-out call is). A call that succeeds closes it.

A probe that times out rests the breaker (serve28): for :data:`REST` seconds, doubling with
each probe that fails in a row up to :data:`MAX_REST`, no call goes at all, so that a client
making one call at a time is no longer held on each (each was the probe: ``timeout``, or a
cluster's ``failover_wait``, on every request). The first call after a rest probes; a store
that answers again is found by it, :data:`MAX_REST` seconds late at most. The call that opened
the breaker starts no rest: the next call probes at once.

Settlements are not lost to it: a reconcile or release that fails at once is kept in the
store's outbox and retried (:mod:`.outbox`), as one that timed out was. A reserve that fails
at once never reached the store, so nothing is left to find by its request id.

>>> b = Breaker()
>>> b.admit()  # closed: every call goes, none is the probe
(True, False)
>>> b.failed(timed_out=True)
>>> b.admit(), b.admit()  # open: the first is the probe, the next fails at once
((True, True), (False, False))
>>> b.failed(timed_out=True); b.over(); b.admit(), b.why()  # the probe timed out: a rest
((False, False), 'it is probed again within 1.0 s')
>>> b.ok(); b.admit()
(True, False)
"""

from __future__ import annotations

import threading
import time

__all__ = ["MAX_REST", "REST", "Breaker"]

REST = 1.0
"""Seconds no call goes after a probe timed out (doubled for each one in a row)."""
MAX_REST = 16.0
"""The longest rest: how late a store that answers again is found, at most."""


class Breaker:
    __slots__ = ("_lock", "_probe_failed", "_probing", "_rests", "_resting_until", "_tripped", "rest")

    def __init__(self, rest: float = REST) -> None:
        self._lock = threading.Lock()
        self._tripped = False
        self._probing = False
        self._probe_failed = False
        self.rest = rest
        """The first rest's seconds (tests shorten it)."""
        self._rests = 0  # the rests in a row
        self._resting_until = 0.0

    @property
    def open(self) -> bool:
        return self._tripped

    def admit(self) -> tuple[bool, bool]:
        """Whether this call may go, and whether it is the probe (which must call
        :meth:`over` when it ends, however it ends)."""
        if not self._tripped:
            return True, False
        with self._lock:
            if not self._tripped:
                return True, False
            if self._probing or time.monotonic() < self._resting_until:
                return False, False
            self._probing = True
            self._probe_failed = False
            return True, True

    @property
    def resting(self) -> float:
        """Seconds the rest lasts still (0: none)."""
        return max(self._resting_until - time.monotonic(), 0.0) if self._tripped else 0.0

    def why(self) -> str:
        """Why a call was not admitted (for its error)."""
        if self._probing:
            return "another call is probing it"
        return f"it is probed again within {max(self._resting_until - time.monotonic(), 0.0):.1f} s"

    def over(self) -> None:
        """The probe ended: one that timed out rests the breaker."""
        with self._lock:
            self._probing = False
            if self._probe_failed and self._tripped:
                self._resting_until = time.monotonic() + min(self.rest * 2 ** self._rests, MAX_REST)
                self._rests = min(self._rests + 1, 16)
            self._probe_failed = False

    def failed(self, timed_out: bool) -> None:
        """A call failed: a time-out opens the breaker (any other failure leaves it as it is),
        and fails the probe under way."""
        if timed_out:
            with self._lock:
                self._tripped = True
                if self._probing:
                    self._probe_failed = True

    def ok(self) -> None:
        """A call succeeded: the store answers."""
        if self._tripped:
            with self._lock:
                self._tripped = False
                self._rests = 0
                self._resting_until = 0.0
