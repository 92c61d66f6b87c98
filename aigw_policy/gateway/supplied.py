"""The declared variables ``serve`` never supplies, and the rules of a policy that read them.

A rule that reads a variable the request does not supply fails (a CEL error), and its
``on_error`` decides: under the default, every request it meets is refused with 500. ngrok's
documents read variables only ngrok's edge knows (TLS client certificates, IP reputation,
Kubernetes pods, its endpoints and timestamps). ``serve`` names the rules that read such a
variable when it loads a policy (and at each reload), so that the operator learns it at
start, not from a stream of 500s. An embedder of ``PolicyMiddleware`` supplies what it
knows itself (``conn`` and ``endpoint`` of the engine's request).
"""

from __future__ import annotations

from typing import Any

from .geoip import GEO_PREFIXES

__all__ = ["NEVER_SUPPLIED", "basic_auth_rules", "unsupplied_readers", "warning"]

NEVER_SUPPLIED: tuple[tuple[str, ...], ...] = tuple(tuple(p.split(".")) for p in (
    "conn.tls",  # serve speaks plain HTTP: TLS ends at a proxy in front of it
    "conn.client_ip.categories", "conn.client_ip.is_on_blocklist", "conn.client_ip.is_tor_node",  # IP reputation
    "conn.server_ip.as", "conn.server_ip.geo", "conn.server_ip.categories", "conn.server_ip.is_on_blocklist",
    "conn.server_ip.is_tor_node",
    "conn.k8s", "conn.server_region", "conn.bytes_in", "conn.bytes_out",  # ngrok's edge and agent
    "conn.ts.end",  # a connection still open has no end
    "endpoint",  # ngrok's endpoint objects
))
"""The declared variables (and the paths below them) that ``serve`` never supplies, whatever
the request; ``GEO_PREFIXES`` too without ``--geoip``. tests/gateway/test_supplied.py holds
the list to what a request through ``serve`` actually gets."""


def unsupplied_readers(compiled: Any, geoip: bool) -> list[tuple[str, list[str]]]:
    """The rules (by label) of a compiled policy that read a variable ``serve`` will not
    supply, each with those variables (dotted, sorted); ``geoip``: serve has ``--geoip``."""
    never = NEVER_SUPPLIED if geoip else NEVER_SUPPLIED + GEO_PREFIXES
    found = []
    for rule in (*compiled.request_rules, *compiled.response_rules):
        names = {p for t in (*rule.exprs, *rule.actions) for p in t.reads.names}
        read = sorted(".".join(p) for p in names if any(p[:len(n)] == n for n in never))
        if read:
            found.append((rule.label, read))
    return found


def warning(readers: list[tuple[str, list[str]]], geoip: bool) -> str:
    """The start-up warning that names ``readers`` (:func:`unsupplied_readers`)."""
    rules = "; ".join(f"`{label}` reads {', '.join(f'`{n}`' for n in names[:4])}"
                      f"{f' (and {len(names) - 4} more)' if len(names) > 4 else ''}" for label, names in readers[:10])
    more = f"; and {len(readers) - 10} more rules" if len(readers) > 10 else ""
    geo = any(n.startswith(("conn.geo", "conn.client_ip.geo", "conn.client_ip.as")) for _, names in readers for n in names)
    hint = (" conn.geo.*, conn.client_ip.geo.* and conn.client_ip.as.* come with --geoip FILE (a MaxMind DB)."
            if geo and not geoip else "")
    return (f"serve does not supply some variables this policy reads: {rules}{more}. Each such rule fails, "
            f"and its on_error decides (by default: 500).{hint}")


def basic_auth_rules(compiled: Any) -> list[str]:
    """The rules (by label) with an enforced ``basic-auth`` action: under a keys file they never
    see a credential (the middleware keeps the credential headers from the policy)."""
    return [r.label for r in compiled.request_rules
            if any(a.type == "basic-auth" and getattr(a.config, "enforce", True) is not False for a in r.actions)]
