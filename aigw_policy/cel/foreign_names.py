"""Names written as another language (or ngrok's older docs) spells them, and CEL's name for
each: a help line on AIGW300/AIGW301 that names what to write.

ngrok's own pages write ``req.url.path.includes('/admin')`` (JavaScript's ``includes``; its
gateway examples), ``request.headers['x-foo']`` (its ``set-vars`` reference) and
``req.path``; closeness of spelling alone pointed the first at nothing and the second at
``res.headers``, the response's headers.

>>> function_help("includes", {"contains", "size"})
'did you mean `contains`? CEL strings have `contains`, `startsWith`, `endsWith` and `matches`'
>>> name_help("request.headers", {"req.headers", "res.headers"})
'did you mean `req.headers`? the request is `req`, the response `res`, the connection `conn`'
>>> name_help("request.nope", {"req.headers"}) is None
True
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["FUNCTIONS", "PREFIXES", "RENAMED", "function_help", "name_help"]

# another language's method or function name -> CEL's (`lower`, `upper` are ngrok's own, declared)
FUNCTIONS = {
    "includes": "contains", "contain": "contains", "has": "contains",
    "toLowerCase": "lowerAscii", "toLower": "lowerAscii", "lowercase": "lowerAscii",
    "toUpperCase": "upperAscii", "toUpper": "upperAscii", "uppercase": "upperAscii",
    "length": "size", "len": "size", "count": "size",
    "match": "matches", "test": "matches", "search": "matches", "regex": "matches",
    "replaceAll": "replace", "strip": "trim", "trimSpace": "trim",
    "hasPrefix": "startsWith", "hasSuffix": "endsWith",
    "startWith": "startsWith", "endWith": "endsWith",
}
# a variable's first segment as another language (or a long form) writes it -> ngrok's
PREFIXES = {"request": "req", "response": "res", "connection": "conn", "resp": "res",
            "ngrok": "conn"}
# ngrok's first releases' names whose today's name is not the same words re-cased (those the
# closest match finds: `req.ContentLength` is `req.content_length`); its 2023 expressions page
RENAMED = {
    "req.Params": "req.url.query_params", "req.Protocol": "req.version",
    "req.ClientTLS.CertCN": "conn.tls.client.subject.common_name",
    "req.ClientTLS.CipherSuite": "conn.tls.cipher_suite",
    "req.ClientTLS.Version": "conn.tls.version",
    "conn.Geo.LatLongRadiusKm": "conn.geo.radius",
}
_STRINGS = "CEL strings have `contains`, `startsWith`, `endsWith` and `matches`"
_ROOTS = "the request is `req`, the response `res`, the connection `conn`"


def function_help(name: str, known: Collection[str]) -> str | None:
    """``did you mean `contains`?`` for ``includes``, when CEL's name is declared."""
    meant = FUNCTIONS.get(name)
    if meant is None or meant not in known:
        return None
    tail = _STRINGS if meant in ("contains", "startsWith", "endsWith", "matches") else ""
    return f"did you mean `{meant}`?" + (f" {tail}" if tail else "")


def name_help(name: str, known: Collection[str]) -> str | None:
    """``did you mean `req.headers`?`` for ``request.headers``, when that name (or a field
    under it) is declared; ``req.url.query_params`` for ngrok's former ``req.Params``."""
    renamed = RENAMED.get(name)
    if renamed is not None and renamed in known:
        return f"did you mean `{renamed}`? (ngrok's former name)"
    head, dot, rest = name.partition(".")
    root = PREFIXES.get(head)
    if root is None or not dot:
        return None
    meant = f"{root}.{rest}"
    if meant in known or any(k.startswith(meant + ".") for k in known):
        return f"did you mean `{meant}`? {_ROOTS}"
    return None
