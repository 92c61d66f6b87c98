"""What the connection tells of a request: ngrok's ``conn.*``, ``req.version`` and the host
it reached."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..cel.runtime.network import unmapped

__all__ = ["conn_of", "connection_reads", "http_version", "server_name", "timestamp_of"]

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)


def conn_of(client: Any, server: Any) -> dict[str, Any]:
    """``conn.*`` from the ASGI ``client`` and ``server``: the client's address and port, and
    the address and port it reached (ngrok's names; a socket without ports gives the client's
    address alone). An IPv4 client of a dual-stack socket is its IPv4 address (``1.2.3.4``,
    not ``::ffff:1.2.3.4``), as ngrok names it: ``conn.client_ip == '1.2.3.4'``, a bucket key
    and a geo lookup read one address. ``conn.geo.*``, IP categories and TLS are the
    embedder's to supply."""
    conn: dict[str, Any] = {"client_ip": _unmapped(client[0])}
    if type(client[1]) is int:
        conn["client_port"] = client[1]
    if server and type(server[1]) is int:
        conn["server_ip"] = _unmapped(server[0])
        conn["server_port"] = server[1]
    return conn


def connection_reads(engine: Any) -> tuple[bool, bool]:
    """Whether ``engine``'s policy reads ``conn.*``, and ngrok's ``req.*`` (``req.version``,
    ``req.ts.*``): its activation's plan (a routed policy's reads everything). Nothing else reads
    them, so a request of a policy that names none gets none built (nor the geo lookup). An
    engine-like object without a compiled policy (an embedder's wrapper) gets both."""
    plan = getattr(getattr(engine, "compiled", None), "activation", None)
    return (True, True) if plan is None else (plan.conn, plan.extras)


def _unmapped(address: Any) -> Any:
    """``::ffff:1.2.3.4`` -> ``1.2.3.4``; any other address as it is."""
    if type(address) is not str or "." not in address or ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    plain = unmapped(ip)
    return str(plain) if plain is not ip else address


def http_version(scope: Mapping[str, Any]) -> str | None:
    """ngrok's ``req.version`` (``HTTP/1.1``, ``HTTP/2.0``) from the ASGI ``http_version``."""
    version = scope.get("http_version")
    if not isinstance(version, str) or not version:
        return None
    return "HTTP/" + (version if "." in version else version + ".0")


def server_name(scope: Mapping[str, Any]) -> str:
    """The host the request reached, when it names none: the server's address and port."""
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return f"{host}:{port}" if port else str(host)


_last_second: tuple[int, tuple[int, int, int, int, int, int]] = (0, (1970, 1, 1, 0, 0, 0))
"""The last whole second :func:`timestamp_of` met and its date and time: every request makes
two or three timestamps, nearly always in the second of the one before."""


def timestamp_of(ns: int) -> datetime:
    """A wall-clock time in nanoseconds since the epoch, as the ``datetime`` a timestamp
    variable takes (microseconds: a ``datetime``'s grain): ``_EPOCH + timedelta(microseconds=ns
    // 1000)``, the second's date and time worked out once (that sum is ~7,000 instructions, a
    ``datetime`` made of its fields ~2,600)."""
    global _last_second
    second, rest = divmod(ns, 1_000_000_000)
    last = _last_second
    if last[0] != second:
        at = _EPOCH + timedelta(seconds=second)
        last = _last_second = (second, (at.year, at.month, at.day, at.hour, at.minute, at.second))
    year, month, day, hour, minute, sec = last[1]
    return datetime(year, month, day, hour, minute, sec, rest // 1000, _UTC)
