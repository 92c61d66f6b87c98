"""The model of an OpenAI Realtime session made over HTTP: a WebRTC call (``POST
/v1/realtime/calls``, or the beta's ``POST /v1/realtime``, with an SDP offer) or an ephemeral
client secret (``POST /v1/realtime/client_secrets``). Such a request names its model where no
other API does: in the query (``?model=gpt-realtime``, beside an ``application/sdp`` body), in
a JSON body's ``session.model``, or in the JSON of a multipart ``session`` field. The session
it opens then runs between the client and the provider (media over WebRTC, or the client's own
connection with the secret), never through the gateway: its model is judged here or nowhere.

>>> session_model("/v1/realtime/calls?model=gpt-realtime", {})
('gpt-realtime', None)
>>> session_model("/v1/realtime/client_secrets", {"session": {"type": "realtime", "model": "o1"}})
('o1', None)
>>> session_model("/v1/realtime/calls?model=a", {"session": '{"model": "b"}'})[1][0]
'request.body.session.model'
>>> session_model("/v1/chat/completions?model=a", {})
(None, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from .usage import loads

__all__ = ["realtime_path", "session_model"]

_PATHS = ("/realtime", "/realtime/calls", "/realtime/client_secrets")


def realtime_path(path: str) -> bool:
    """Whether ``path`` makes a Realtime session whose model is named in its query or its
    ``session``."""
    return path.rstrip("/").endswith(_PATHS)


def session_model(url: str, body: Mapping[str, object]) -> tuple[str | None, tuple[str, str] | None]:
    """``(model, problem)``: the model a Realtime session request names (its query's ``model``,
    its ``session``'s: a JSON object, or a multipart field's JSON text), or None; ``problem``
    (a field and why) when two of them name different models, as an upstream would serve one
    of them and the policy cannot know which. ``(None, None)`` for any other URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, None
    if not realtime_path(parts.path):
        return None, None
    named = [value for name, value in parse_qsl(parts.query, keep_blank_values=True) if name == "model"]
    session = body.get("session")
    if isinstance(session, str):  # a multipart `session` field (providers.forms)
        session, _ = loads(session)
    if isinstance(session, Mapping) and isinstance(model := session.get("model"), str):
        named.append(model)
    if not named:
        return None, None
    if len(set(named)) > 1:
        said = ", ".join(f"`{m[:80]}`" for m in dict.fromkeys(named))
        return None, ("request.body.session.model", f"the session's model is named more than once, as {said}: "
                      "name it once (in the query or the session)")
    return named[0], None
