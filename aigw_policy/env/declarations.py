"""The declarations of the policy CEL environment (SPEC §5): variables, their types, ngrok macros.

Every dotted name is declared on its own (``req.url.path: string``) with ngrok's type, so
``lint`` type-checks ngrok documents precisely. ngrok has names that are both a value and
a namespace (``req.url`` is the full URL and ``req.url.path`` its path; ``conn.client_ip``
and ``conn.client_ip.categories``): the longest declared name wins, and at run time each
declared name is one key of the activation (``activation["req.url.path"]``), with nested
mappings as a slower fallback (see docs/cel.md, "Activation").
"""

from __future__ import annotations

from ..cel.decls import CROSS_NUMERIC_ORDERING

__all__ = ["POLICY_VARIABLES", "POLICY_FUNCTIONS", "POLICY_OPERATORS"]

_HEADERS = "map(string, list(string))"
_COOKIES = "map(string, list(map(string, dyn)))"
_LIST = "list(string)"


def _cert(prefix: str) -> dict[str, str]:
    """A TLS certificate's variables (``conn.tls.client.*``, ``conn.tls.server.*``)."""
    out = {
        f"{prefix}.extensions": "list(map(string, dyn))",
        f"{prefix}.pem": "string",
        f"{prefix}.san": "string",
        f"{prefix}.serial_number": "string",
        f"{prefix}.signature_algorithm": "string",
        f"{prefix}.validity.not_after": "timestamp",
        f"{prefix}.validity.not_before": "timestamp",
    }
    for who in ("issuer", "subject"):
        out[f"{prefix}.{who}"] = "string"
        out[f"{prefix}.{who}.common_name"] = "string"
        for f in ("country", "locality", "organization", "organizational_unit", "postal_code",
                  "province", "street_address"):  # fmt: skip
            out[f"{prefix}.{who}.{f}"] = _LIST
    for f in ("dns_names", "email_addresses", "ip_addresses", "uris"):
        out[f"{prefix}.san.{f}"] = _LIST
    return out


def _ip_intel(prefix: str) -> dict[str, str]:
    """ngrok's IP intelligence (``conn.client_ip.*``, ``conn.server_ip.*``)."""
    out = {
        f"{prefix}.categories": _LIST,
        f"{prefix}.is_on_blocklist": "bool",
        f"{prefix}.is_tor_node": "bool",
        f"{prefix}.as.number": "int",
        f"{prefix}.as.organization": "string",
    }
    for where in ("location", "registered_location"):
        for f in ("city", "continent", "country", "country_code", "metro_code", "subdivision",
                  "timezone"):  # fmt: skip
            out[f"{prefix}.geo.{where}.{f}"] = "string"
        out[f"{prefix}.geo.{where}.is_eu"] = "bool"
    for f in ("latitude", "longitude", "postal_code", "radius"):
        out[f"{prefix}.geo.location.{f}"] = "string"
    return out


POLICY_VARIABLES: dict[str, str] = {
    # request (ngrok's names and types)
    "req.content_encoding": _LIST,
    "req.content_length": "int",
    "req.content_type": "string",
    "req.content_type.parameters": "map(string, string)",
    "req.content_type.raw": "string",
    "req.cookies": _COOKIES,
    "req.headers": _HEADERS,
    "req.host": "string",
    "req.id": "string",
    "req.location": "string",
    "req.method": "string",
    "req.trailers": _HEADERS,
    "req.ts.body_received": "timestamp",
    "req.ts.header_received": "timestamp",
    "req.url": "string",
    "req.url.authority": "string",
    "req.url.host": "string",
    "req.url.path": "string",
    "req.url.port": "int",
    "req.url.query": "string",
    "req.url.query_params": _HEADERS,
    "req.url.raw": "string",
    "req.url.raw_path": "string",
    "req.url.scheme": "string",
    "req.url.uri": "string",
    "req.url.user_password": "string",
    "req.user_agent": "string",
    "req.user_agent.name": "string",
    "req.user_agent.version": "string",
    "req.user_agent.os": "string",
    "req.user_agent.os_version": "string",
    "req.user_agent.device": "string",
    "req.user_agent.is_mobile": "bool",
    "req.user_agent.is_tablet": "bool",
    "req.user_agent.is_desktop": "bool",
    "req.user_agent.is_bot": "bool",
    "req.user_agent.url": "string",
    "req.version": "string",
    # response
    "res.content_encoding": _LIST,
    "res.content_length": "int",
    "res.content_type": "string",
    "res.content_type.parameters": "map(string, string)",
    "res.content_type.raw": "string",
    "res.cookies": _COOKIES,
    "res.headers": _HEADERS,
    "res.location": "string",
    "res.status_code": "int",
    "res.trailers": _HEADERS,
    # connection
    "conn.bytes_in": "int",
    "conn.bytes_out": "int",
    "conn.client_ip": "string",
    "conn.client_port": "int",
    "conn.server_ip": "string",
    "conn.server_port": "int",
    "conn.server_region": "string",
    "conn.ts.start": "timestamp",
    "conn.ts.end": "timestamp",
    **{f"conn.geo.{f}": "string" for f in (
        "city", "country", "country_code", "latitude", "longitude", "radius", "subdivision")},
    **_ip_intel("conn.client_ip"),
    **_ip_intel("conn.server_ip"),
    # the originating pod, on endpoints with a `kubernetes` binding
    "conn.k8s.pod.id": "string",
    "conn.k8s.pod.metadata.name": "string",
    "conn.k8s.pod.metadata.namespace": "string",
    "conn.k8s.pod.metadata.annotations": "map(string, string)",
    "conn.k8s.pod.metadata.error_code": "string",
    "conn.k8s.pod.metadata.error_message": "string",
    "conn.tls.cipher_suite": "string",
    "conn.tls.ja4_fingerprint": "string",
    "conn.tls.negotiated_alpn": "string",
    "conn.tls.session_resumed": "bool",
    "conn.tls.sni": "string",
    "conn.tls.version": "string",
    **_cert("conn.tls.client"),
    **_cert("conn.tls.server"),
    # endpoint, time
    "endpoint.addr": "string",
    "endpoint.host": "string",
    "endpoint.id": "string",
    "endpoint.port": "int",
    "endpoint.protocol": "string",
    "endpoint.url": "string",
    "time.now": "string",
# identity
    "identity.key": "string",
    "identity.user": "string",
    "identity.team": "string",
    "identity.org": "string",
    "identity.tier": "string",
    "identity.labels": "map(string, string)",
    # AI classification
    "ai.provider": "string",
    "ai.operation": "string",
    "ai.model": "string",
    "ai.stream": "bool",
    "ai.max_output_tokens": "int",
    "ai.input_tokens": "int",
    "ai.messages": "int",
    "ai.tools": "list(string)",
    "ai.prompt": "string",
    "ai.usage.input_tokens": "int",
    "ai.usage.output_tokens": "int",
    "ai.usage.cached_input_tokens": "int",
    "ai.usage.cache_creation_input_tokens": "int",
    "ai.usage.cache_creation_1h_input_tokens": "int",
    "ai.usage.reasoning_tokens": "int",
    "ai.usage.total_tokens": "int",
    "ai.usage.source": "string",
    "ai.cost_usd": "double",
    # results of earlier actions
    "vars": "map(string, dyn)",
    "limits": "map(string, dyn)",
    "actions": "map(string, dyn)",
}

_HASHES = ("md5", "sha1", "sha256", "sha512", "crc32", "crc64", "xxhash64")

POLICY_OPERATORS = CROSS_NUMERIC_ORDERING
"""Operator overloads beyond the standard ones: cel-go's (so ngrok's) checker orders int, uint
and double across kinds (`ai.cost_usd > 1`), which the langdef's checker does not."""

POLICY_FUNCTIONS = [
    # reading the request and response (the activation)
    "getReqHeader (string) -> list(string)",
    "hasReqHeader (string) -> bool",
    "getResHeader (string) -> list(string)",
    "hasResHeader (string) -> bool",
    "getQueryParam (string) -> list(string)",
    "hasQueryParam (string) -> bool",
    "getReqCookie (string) -> map(string, dyn)",
    "hasReqCookie (string) -> bool",
    "getResCookie (string) -> map(string, dyn)",
    "hasResCookie (string) -> bool",
    "secrets.get (string, string) -> string",
    # networks
    "inCidrRange (string, string) -> bool",
    "inCidrRanges (string, list(string)) -> bool",
    "isPrivateIp string.() -> bool",
    # encodings
    "basic_auth.encode (string, string) -> string",
    "encodeBase64 string.() -> string",
    "decodeBase64 string.() -> string",
    "b64.encode (string) -> string",  # the former names (ngrok's utility macros page)
    "b64.decode (string) -> string",
    "json.encode (list(A)) -> string",
    "json.encode (map(A, B)) -> string",
    "encodeJson list(A).() -> string",
    "encodeJson map(A, B).() -> string",
    "json.decode (string) -> dyn",
    "decodeJson string.() -> dyn",
    "isJson string.() -> bool",
    "isJson (string) -> bool",  # as ngrok's HTTP macros page lists it, and the two below
    "url.escape (string) -> string",
    "escapeUrl string.() -> string",
    "url.unescape (string) -> string",
    "unescapeUrl string.() -> string",
    "url.parse (string) -> map(string, dyn)",
    "parseUrl string.() -> map(string, dyn)",
    "isURL string.() -> bool",
    "isUrl (string) -> bool",
    "queryString.decode (string) -> map(string, list(string))",
    "decodeQueryString string.() -> map(string, list(string))",
    "queryString.encode (map(string, A)) -> string",
    "encodeQueryString map(string, A).() -> string",
    "isQueryString string.() -> bool",
    "isQueryString (string) -> bool",
    "lower string.() -> string",
    "split string.() -> list(string)",
    "upper string.() -> string",
    # random
    "rand.double () -> double",
    "rand.int () -> int",
    "rand.int (int, int) -> int",
    # hashes: hash.sha256(s), hash.sha256(s, 'base64'), s.sha256(), s.sha256('hex')
    *[f"hash.{h} (string) -> string" for h in _HASHES],
    *[f"hash.{h} (string, string) -> string" for h in _HASHES],
    *[f"{h} string.() -> string" for h in _HASHES],
    *[f"{h} string.(string) -> string" for h in _HASHES],
]
