"""A circuit breaker for a store that stalls (serve25).

A Redis that stops answering (``CLIENT PAUSE``, a failover, a network that drops packets)
made every call wait its full time-out (``timeout``, 1 s by default, and up to
``pool_timeout`` more in line for a connection) before failing: under ``fail_open`` every
request at once was served a second or more late, under ``fail_closed`` answered 503 as late,
and the paused calls held every pooled connection. Once a call has timed out the breaker is
open: one call at a time goes to the store (the probe); every other fails at once
(:class:`StoreUnavailable`, which ``store_failure`` turns into a 503 or an uncounted request,
as a timed-out call is). A call that succeeds closes it. No timer keeps it open: the probe
that is under way when the store answers again, or the next call after one failed, finds it
back at once.

Settlements are not lost to it: a reconcile or release that fails at once is kept in the
store's outbox and retried (:mod:`.outbox`), as one that timed out was. A reserve that fails
at once never reached the store, so nothing is left to find by its request id.

>>> b = Breaker()
>>> b.admit()  # closed: every call goes, none is the probe
(True, False)
>>> b.failed(timed_out=True)
>>> b.admit(), b.admit()  # open: the first is the probe, the next fails at once
((True, True), (False, False))
>>> b.over(); b.ok(); b.admit()
(True, False)
"""

from __future__ import annotations

import threading

__all__ = ["Breaker"]


class Breaker:
    __slots__ = ("_lock", "_probing", "_tripped")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tripped = False
        self._probing = False

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
            if self._probing:
                return False, False
            self._probing = True
            return True, True

    def over(self) -> None:
        """The probe ended."""
        with self._lock:
            self._probing = False

    def failed(self, timed_out: bool) -> None:
        """A call failed: a time-out opens the breaker (any other failure leaves it as it is)."""
        if timed_out and not self._tripped:
            with self._lock:
                self._tripped = True

    def ok(self) -> None:
        """A call succeeded: the store answers."""
        if self._tripped:
            with self._lock:
                self._tripped = False
