"""One circuit breaker per node of a Redis Cluster (:mod:`.breaker`), so that a stalled
primary fails its own shard's calls at once without failing the tenants of the others.

Before (serve26 left it), a paused primary made every call to its shard resend for
``failover_wait`` seconds (5 s), each send waiting its ``timeout``: every request of its
tenants at once was served (``fail_open``) or refused (``fail_closed``) that late, holding its
task or thread all along. Now once a call to a node timed out, one call at a time goes to that
node (the probe, which still resends for ``failover_wait``); every other call to it fails at
once (:class:`~.model.StoreUnavailable`, which ``store_failure`` turns into a 503 or an
uncounted request). A call that succeeds closes the node's breaker; calls to other nodes are
never held. A call whose node is unknown (the client has not learned the layout yet) goes.
A pipeline that times out as a whole trips the breakers of every node it held calls for: a
healthy one is closed again by its next call. A node's probe that timed out rests its breaker
(:mod:`.breaker`, serve28): a client calling one at a time waits ``failover_wait`` once a
rest, not on every call.

>>> nb = NodeBreakers()
>>> nb.admit(["a:1", "b:2", None])[0]
[True, True, True]
>>> nb.timed_out("a:1"); go, probes = nb.admit(["a:1", "a:1", "b:2"]); go  # the probe's batch
[True, True, True]
>>> nb.admit(["a:1", "b:2"])[0]  # while it is under way
[False, True]
>>> nb.release(probes); nb.answered("a:1"); nb.admit(["a:1"])[0]
[True]
"""

from __future__ import annotations

import threading

from .breaker import Breaker

__all__ = ["NodeBreakers"]


class NodeBreakers:
    __slots__ = ("_by_node", "_lock")

    def __init__(self) -> None:
        self._by_node: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def _of(self, node: str) -> Breaker:
        breaker = self._by_node.get(node)
        if breaker is None:
            with self._lock:
                breaker = self._by_node.setdefault(node, Breaker())
        return breaker

    def admit(self, nodes: list[str | None]) -> tuple[list[bool], list[Breaker]]:
        """Whether each call (by its node's name, None: unknown) may go, and the breakers whose
        probe this batch took (:meth:`release` them when it ends, however it ends)."""
        go: list[bool] = []
        probes: list[Breaker] = []
        for node in nodes:
            if node is None:
                go.append(True)
                continue
            breaker = self._of(node)
            if breaker in probes:  # this batch probes the node already: its other calls go with it
                go.append(True)
                continue
            admitted, probe = breaker.admit()
            go.append(admitted)
            if probe:
                probes.append(breaker)
        return go, probes

    @staticmethod
    def release(probes: list[Breaker]) -> None:
        for breaker in probes:
            breaker.over()

    def why(self, node: str | None) -> str:
        """Why a call to ``node`` was not admitted (:meth:`.Breaker.why`)."""
        return self._of(node).why() if node is not None else ""

    def timed_out(self, node: str | None) -> None:
        if node is not None:
            self._of(node).failed(timed_out=True)

    def answered(self, node: str | None) -> None:
        if node is not None:
            self._of(node).ok()
