"""The Redis Cluster store: limits sharded over the primaries of a Redis Cluster.

``redis+cluster://host:port`` names one node of the cluster (a seed: the client learns the
others). Each limit bucket's keys carry the hash tag of its shard key (``sharding.py``), so
the limits of one tenant live on one shard and the tenants spread over all primaries. A call
sends one script call per tag the request touches, all in one pipeline: one round trip per
shard (the calls to different primaries go out together). A reserve that touches one tag is
the one-shard store's reserve; one that touches several is reserved in two phases
(``two_phase.py``): the second phase is a second round trip.

Failover: a call answered ``MOVED``/``ASK``, ``TRYAGAIN``, ``CLUSTERDOWN`` or lost with its
connection is sent again (after the client has relearned the cluster's layout) for up to
``failover_wait`` seconds. Sending again is safe: every step is idempotent by request id
(a reserve that did run finds its record and returns the first outcomes). What a primary
acknowledged but had not yet copied to its replica when it died is lost (Redis replication
is asynchronous): that is the bounded overshoot of docs/limits.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .base import DEFAULT_RECORD_TTL, DEFAULT_RESERVATION_TTL
from .model import StoreUnavailable
from .node_breakers import NodeBreakers
from .protocol_store import ProtocolStore
from .redis_lua import SCRIPT
from .sharding import RULES, ShardRule
from .two_phase import DEFAULT_PREPARE_TTL, Batch, ClusterProtocol

__all__ = ["RedisClusterStore"]

DEFAULT_CLUSTER_TIMEOUT = 1.0
"""Seconds to connect to a node, and for each reply."""
DEFAULT_FAILOVER_WAIT = 5.0
"""Seconds a call keeps resending while the cluster moves slots or fails a primary over."""
DEFAULT_MAX_CONNECTIONS = 1024
"""Connections per node and process (the cluster client fails a call past it: keep it above
the number of threads or tasks that call the store at once)."""


def _node_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis+cluster", "rediss+cluster"):
        raise ValueError("a cluster store url starts with redis+cluster:// or rediss+cluster://")
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+")[0], query=""))


class RedisClusterStore(ProtocolStore):
    """Limits in a Redis Cluster, shared by every gateway that points at any of its nodes.

    ``url``: ``redis+cluster://host:port`` (or ``rediss+cluster://``), one node of the
    cluster. ``shard``: the shard rule (``first``, ``key`` or ``one``; ``sharding.py``).
    ``prepare_ttl``: seconds a first-phase hold of a cross-shard reserve lasts when its
    commit never comes. ``timeout``, ``clock``, ``hash_tag`` (the base of every tag),
    ``reservation_ttl`` and ``record_ttl`` as for :class:`~aigw_policy.limits.RedisStore`.
    ``round_trips`` counts batches sent (one per phase, whatever the number of shards).
    """

    def __init__(self, url: str, *, shard: ShardRule = "first",
                 timeout: float = DEFAULT_CLUSTER_TIMEOUT, clock: str = "server",
                 hash_tag: str = "aigw", reservation_ttl: float = DEFAULT_RESERVATION_TTL,
                 record_ttl: float = DEFAULT_RECORD_TTL, prepare_ttl: float = DEFAULT_PREPARE_TTL,
                 failover_wait: float = DEFAULT_FAILOVER_WAIT,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        if clock not in ("server", "client"):
            raise ValueError("clock must be 'server' or 'client'")
        if shard not in RULES:
            raise ValueError(f"shard must be one of {', '.join(RULES)}, not {shard!r}")
        if "{" in hash_tag or "}" in hash_tag:
            raise ValueError("hash_tag must not contain braces")
        self.url = url
        self._node = _node_url(url)
        self.timeout = float(timeout)
        self.failover_wait = float(failover_wait)
        self.reservation_ttl = float(reservation_ttl)
        self.record_ttl = float(record_ttl)
        self._proto = ClusterProtocol(hash_tag, shard, clock, self.reservation_ttl,
                                      self.record_ttl, float(prepare_ttl))
        self._max_connections = max_connections
        self._init_lock = threading.Lock()
        self._client: Any = None
        self._aclient: Any = None
        self._sha: str | None = None
        self.round_trips = 0
        self.breakers = NodeBreakers()  # a stalled primary fails its shard's calls at once (node_breakers)

    @property
    def cross_shard(self) -> int:
        """Reserves that spanned shards (two phases) since this store was made."""
        return self._proto.cross_shard

    def _options(self) -> dict[str, Any]:
        return dict(socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                    decode_responses=True, max_connections=self._max_connections)

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"redis cluster store {self._safe_url()}: {error}")

    def _safe_url(self) -> str:
        from ..redact import redact

        return redact(self.url)

    # sync -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        client = self._client
        if client is None:
            from redis.cluster import RedisCluster

            with self._init_lock:
                if self._client is None:
                    self._client = RedisCluster.from_url(self._node, **self._options())
                client = self._client
        return client

    def _load(self, client: Any) -> str:
        self._sha = _load_everywhere(client)
        return self._sha

    def _send(self, calls: list[list[str]]) -> list[Any]:
        """One pipeline of script calls; what fails for a passing reason is sent again."""
        import redis

        replies: list[Any] = [None] * len(calls)
        nodes = self._nodes(self._client, calls)
        todo, probes = self._admitted(nodes, replies)
        deadline = time.monotonic() + self.failover_wait
        try:
            while todo:
                try:
                    client = self._connect()
                    sha = self._sha or self._load(client)
                    pipe = client.pipeline()
                    for i in todo:
                        pipe.evalsha(sha, 1, calls[i][1] + "pending", *calls[i])
                    self.round_trips += 1
                    got = pipe.execute(raise_on_error=False)
                except (redis.RedisError, redis.exceptions.RedisClusterException) as e:
                    got = [e] * len(todo)
                todo = self._sort(todo, got, replies, deadline, nodes)
                if todo:
                    time.sleep(0.05)
                    self._relearn()
            return replies
        finally:
            self.breakers.release(probes)

    def _nodes(self, client: Any, calls: list[list[str]]) -> list[str | None]:
        """The node (``host:port``) each call's key lives on, as the client knows the layout
        (None: not known yet)."""
        out: list[str | None] = []
        for call in calls:
            try:
                out.append(client.get_node_from_key(call[1] + "pending").name)
            except Exception:  # noqa: BLE001 - no layout learned yet, a slot not covered: no breaker
                out.append(None)
        return out

    def _admitted(self, nodes: list[str | None], replies: list[Any]) -> tuple[list[int], list[Any]]:
        """The calls that may go (:mod:`.node_breakers`), the others' replies set to a
        :class:`StoreUnavailable`; and the probes taken."""
        go, probes = self.breakers.admit(nodes)
        for i, admitted in enumerate(go):
            if not admitted:
                replies[i] = StoreUnavailable(f"redis cluster store {self._safe_url()}: its node {nodes[i]} stalled "
                                              f"(a call timed out) and {self.breakers.why(nodes[i])}")
        return [i for i, admitted in enumerate(go) if admitted], probes

    def _sort(self, todo: list[int], got: list[Any], replies: list[Any], deadline: float,
              nodes: list[str | None]) -> list[int]:
        """Put each reply in its place (a :class:`StoreUnavailable` for a call that failed for
        good); return the calls to send again: those that failed for a passing reason, or
        found the script missing (a promoted replica), while ``failover_wait`` lasts. Each
        reply, or time-out, is told to its node's breaker."""
        import redis

        again = []
        for i, r in zip(todo, got):
            if not isinstance(r, Exception):
                replies[i] = r
                self.breakers.answered(nodes[i])
                continue
            if isinstance(r, redis.TimeoutError):
                self.breakers.timed_out(nodes[i])
            if isinstance(r, redis.exceptions.NoScriptError):
                self._sha = None
            if (isinstance(r, redis.exceptions.NoScriptError) or _passing(r)) \
                    and time.monotonic() < deadline:
                again.append(i)
            else:
                replies[i] = self._unavailable(r)
        return again

    def _relearn(self) -> None:
        try:
            if self._client is not None:
                self._client.nodes_manager.initialize()
        except Exception:  # noqa: BLE001 - the next send finds out and retries or fails
            pass

    def _run(self, step: Batch) -> Any:
        try:
            calls = next(step)
            while True:
                calls = step.send(self._send(calls))
        except StopIteration as done:
            return done.value

    # async ----------------------------------------------------------------------------

    async def _asend(self, calls: list[list[str]]) -> list[Any]:
        import redis
        from redis.asyncio.cluster import RedisCluster

        replies: list[Any] = [None] * len(calls)
        nodes = self._nodes(self._aclient, calls)
        todo, probes = self._admitted(nodes, replies)
        deadline = time.monotonic() + self.failover_wait
        try:
            while todo:
                try:
                    if self._aclient is None:  # no await in between: one coroutine creates it
                        self._aclient = RedisCluster.from_url(self._node, **self._options())
                    client = self._aclient
                    sha = self._sha or await _aload_everywhere(client)
                    self._sha = sha
                    pipe = client.pipeline()
                    for i in todo:
                        pipe.evalsha(sha, 1, calls[i][1] + "pending", *calls[i])
                    self.round_trips += 1
                    got = await pipe.execute(raise_on_error=False)
                except (redis.RedisError, redis.exceptions.RedisClusterException) as e:
                    got = [e] * len(todo)
                todo = self._sort(todo, got, replies, deadline, nodes)
                if todo:
                    await asyncio.sleep(0.05)
                    try:
                        await self._aclient.nodes_manager.initialize()
                    except Exception:  # noqa: BLE001 - the next send finds out and retries or fails
                        pass
            return replies
        finally:
            self.breakers.release(probes)

    async def _arun(self, step: Batch) -> Any:
        try:
            calls = next(step)
            while True:
                calls = step.send(await self._asend(calls))
        except StopIteration as done:
            return done.value

    # housekeeping -----------------------------------------------------------------------

    def clear(self) -> None:
        """Delete every key of this store's tags on every primary (tests)."""
        import redis

        client = self._connect()
        base = self._proto.base
        try:
            for node in client.get_primaries():
                conn = client.get_redis_connection(node)
                for pattern in ("\\{" + base + "\\}:*", "\\{" + base + ":*"):
                    for key in list(conn.scan_iter(match=pattern, count=1000)):
                        conn.delete(key)
        except redis.RedisError as e:
            raise self._unavailable(e) from e

    def close(self) -> None:
        self._stop_retry()
        with self._init_lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            client, self._aclient = self._aclient, None
            await client.aclose()
        await asyncio.to_thread(self.close)

    def __enter__(self) -> RedisClusterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _passing(error: BaseException) -> bool:
    """An error after which the call may be sent again: it did not run (the slot moved, the
    cluster is failing over, the node is loading or became a replica), or it may have run and
    sending it again changes nothing (a lost connection: every step is idempotent by request
    id)."""
    import redis.exceptions as x

    if isinstance(error, (x.ConnectionError, x.TimeoutError, x.ClusterError, x.AskError,
                          x.RedisClusterException,
                          x.TryAgainError, x.SlotNotCoveredError, x.BusyLoadingError,
                          x.ReadOnlyError)):
        return True
    return isinstance(error, x.ResponseError) and str(error).startswith(
        ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "READONLY"))


def _load_everywhere(client: Any) -> str:
    """Load the script on every primary (a replica promoted later answers NOSCRIPT once)."""
    from redis.cluster import RedisCluster

    shas = client.execute_command("SCRIPT LOAD", SCRIPT, target_nodes=RedisCluster.PRIMARIES)
    return shas if isinstance(shas, str) else next(iter(shas.values()))


async def _aload_everywhere(client: Any) -> str:
    shas = await client.execute_command("SCRIPT LOAD", SCRIPT, target_nodes=client.get_primaries())
    return shas if isinstance(shas, str) else next(iter(shas.values()))
