"""The gateway: ``aigw-policy serve`` and its parts (SPEC §11).

:mod:`.middleware` (:class:`~.middleware.PolicyMiddleware`, the engine in front of any ASGI
app) and what it uses for one request: :mod:`.exchange` (the request's way through),
:mod:`.paths` (canonical paths), :mod:`.request_body` (strict body parsing), :mod:`.effects`
(the decision's edits), :mod:`.captured` (an answer's usage), :mod:`.hops` (hop-by-hop
headers); :mod:`.keys` (keys file -> identities), :mod:`.errors` (provider error shapes),
:mod:`.proxy` (forward to the upstream, stream back), :mod:`.http_client` (the HTTP/1.1
client both send upstream with), :mod:`.routing` (the attempts of
requests an ``ai-gateway`` action routes, with failover), :mod:`.reload` (hot reload),
:mod:`.metrics` (logs, Prometheus, OpenTelemetry), :mod:`.app` (the assembled ASGI app),
:mod:`.server` (uvicorn's header timeout). The ``aigw-policy serve`` command is
:mod:`aigw_policy.cli.serve`.
"""

from .app import Gateway
from .errors import error_body, wire_api
from .http_client import HttpClient, UpstreamError
from .keys import KeyRing, KeysError, key_from, load_keys, parse_keys
from .metrics import Observer
from .proxy import UpstreamProxy
from .reload import PolicyHolder, ReloadError

__all__ = ["Gateway", "HttpClient", "KeyRing", "KeysError", "Observer", "PolicyHolder", "ReloadError",
           "UpstreamError", "UpstreamProxy", "error_body", "key_from", "load_keys", "parse_keys", "wire_api"]
