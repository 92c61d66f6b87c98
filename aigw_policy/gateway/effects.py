"""A decision's effects on the exchange: the forwarded request's ``max-tokens`` clamp and
``include_usage``, the headers it adds, and the gateway key kept out of the query string."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from ..engine.compile import CAPPED_OPERATIONS
from ..providers import PROVIDERS
from ..providers.classify import COMPLETION_TOKENS, NO_STREAM_OPTIONS
from ..providers.bedrock_invoke import set_invoke_max_tokens
from .key_forms import holds_key, key_forms
from .keys import CREDENTIAL_HEADERS
from .scrub import MIN_SECRET

__all__ = ["FALLBACK_FIELDS", "KEY_IN_PATH", "decision_api", "effect", "header_effects", "key_in_path", "model_in_path",
           "rewritten_body", "rewritten_target", "secret_holders", "set_max_tokens", "strip_key", "unjudged_models",
           "wants_usage"]


def rewritten_body(decision: Any, body: dict[str, Any], path: str, inject_usage: bool) -> tuple[dict[str, Any] | None, bool]:
    """``body`` with the decision's model, output clamp and (``inject_usage``, a stream that
    would not report it) usage request written in: the new body, or None when nothing
    changed; and whether ``stream_options.include_usage`` was added (the client did not ask)."""
    ai = decision.ai
    new = dict(body)
    changed = injected = False
    model = effect(decision, "model")
    if model and model.get("to") and "model" in new:
        new["model"] = model["to"]
        changed = True
    clamp = effect(decision, "max_output_tokens")
    if clamp and clamp.get("to") is not None:
        set_max_tokens(new, decision_api(decision), ai.get("operation"), path, int(clamp["to"]), ai.get("provider"))
        changed = True
    if inject_usage and wants_usage(ai, new, decision_api(decision), path):
        opts = dict(new["stream_options"]) if isinstance(new.get("stream_options"), dict) else {}
        opts["include_usage"] = True
        new["stream_options"] = opts
        changed = injected = True
    return (new if changed else None), injected


def strip_key(query: bytes | str, secret: str | None = None) -> str:
    """The query string without ``key=`` (a gateway key the middleware authenticated with) and,
    given the ``secret`` the client authenticated with, without any parameter whose value holds
    it in any of its forms (``?api_key=``, ``?api-key=``: an SDK's or a user's other spelling
    of it; ``?token=<base64 of it>``, :mod:`.key_forms`)."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if not text:  # most requests: no query string
        return text
    # by the decoded name (`k%65y=` is `key=` to the upstream too), keeping every other pair
    # exactly as the client wrote it
    pairs = text.split("&")
    kept = [pair for pair in pairs if unquote_plus(pair.partition("=")[0]) != "key"]
    if secret is not None and len(secret) >= MIN_SECRET and (holds_key(text, secret) or secret in unquote_plus(text)):
        kept = [pair for pair in kept if not (holds_key(pair, secret) or secret in unquote_plus(pair))]
    return text if len(kept) == len(pairs) else "&".join(kept)


def secret_holders(headers: Mapping[str, str], secret: str | None) -> frozenset[str]:
    """The names of the headers (``headers``: by lower-case name, as decoded from Latin-1)
    whose value (or name) holds the gateway key the client authenticated with (``secret``; one
    shorter than :data:`~.scrub.MIN_SECRET` is no real key): each is the client's credential however it
    is named (``anthropic-api-key``, a ``cookie``), never the upstream's or the policy's to
    read. The key is looked for in every form :mod:`.key_forms` knows (as written, its Latin-1,
    percent-encoded, base64, hex: serve28). Worked out once a request, for both.

    >>> sorted(secret_holders({"cookie": "s=sk-abcdefgh", "accept": "*/*"}, "sk-abcdefgh"))
    ['cookie']
    >>> sorted(secret_holders({"x-sk-abcdefgh": "1", "accept": "*/*"}, "sk-ABCdefgh"))
    ['x-sk-abcdefgh']
    >>> secret_holders({"cookie": "s=sk-abc"}, "sk-abc"), secret_holders({"a": "b"}, None)
    (frozenset(), frozenset())
    """
    if secret is None or len(secret) < MIN_SECRET:
        return _NO_NAMES
    # one search over every value but the credential headers' (one copy of each taken out:
    # another header written alike is still searched), each header's own only on a find
    joined = "\n".join(headers.values())
    names: Iterable[str] = [name for name in CREDENTIAL_HEADERS if name in headers]
    for name in names:
        joined = joined.replace(headers[name], "", 1)
    # a header's name too (`sk-gw-...: 1`, a client's headers written the wrong way round: went
    # upstream until serve30), lower-cased by the parser: the key's lower-case forms
    lowered = secret.lower()
    if holds_key(joined, secret) or holds_key("\n".join(headers), lowered):
        names = headers
    return frozenset(name for name in names if holds_key(headers[name], secret) or holds_key(name, lowered))


_NO_NAMES: frozenset[str] = frozenset()

KEY_IN_PATH = "invalid request path: it holds the request's API key, which goes in a header (or `?key=`) only"


def key_in_path(path: str, secret: str | None) -> str | None:
    """``path`` with the gateway key the client authenticated with masked (``***``) when the
    path holds it (in any form :mod:`.key_forms` knows: serve28), else None. Such a path was
    forwarded as it came and written whole into the decision log (serve23): the request is
    refused, its log line says the masked path (each segment holding the key in a form mixed
    with percent-encoding is ``***`` whole; a base64 form's edge characters, which the key's
    bytes share with their neighbours', stay). ~0.3 us.

    >>> key_in_path("/v1/chat/completions/sk-abcdefgh", "sk-abcdefgh"), key_in_path("/v1/x", "sk-abcdefgh")
    ('/v1/chat/completions/***', None)
    >>> key_in_path("/v1/c2stYWJjZGVmZ2g/x", "sk-abcdefgh"), key_in_path("/v1/a%2573k-abcdefgh", "sk-abcdefgh")
    ('/v1/***g/x', '/v1/***')
    """
    if secret is None or len(secret) < MIN_SECRET or not holds_key(path, secret):
        return None
    for form in key_forms(secret):
        path = path.replace(form, "***")
    return "/".join("***" if holds_key(segment, secret) else segment for segment in path.split("/"))


FALLBACK_FIELDS = ("models", "fallbacks")
"""Body fields that name other models for the upstream to serve when the first fails:
OpenRouter's ``models`` (ngrok's AI gateway takes it too), LiteLLM's proxy's ``fallbacks``."""


def unjudged_models(body: Any) -> str | None:
    """Why a body going to a plain upstream (no ``ai-gateway`` route) is refused: it names, in a
    fallback list (:data:`FALLBACK_FIELDS`), a model other than its ``model``, which the upstream
    may serve though the policy judged only ``model``; None when it names none.

    >>> unjudged_models({"model": "gpt-4o", "models": ["gpt-4o"]}) is None, unjudged_models([1]) is None
    (True, True)
    >>> unjudged_models({"model": "gpt-4o", "models": ["gpt-4o", "o1"]})[:53]
    '`models` names a model other than the `model` judged:'
    """
    if type(body) is not dict or not ("models" in body or "fallbacks" in body):  # (most bodies: neither)
        return None
    model = body.get("model")
    for name in FALLBACK_FIELDS:
        listed = body.get(name)
        if listed is not None and listed != [] and (not isinstance(listed, list) or any(m != model for m in listed)):
            return (f"`{name}` names a model other than the `model` judged: an upstream would serve it when "
                    "`model` fails, unjudged by the policy (route with an `ai-gateway` action, which judges each)")
    return None


def effect(decision: Any, name: str) -> Any:
    """``decision.effects.get(name)``, read alone where the decision can
    (:meth:`~aigw_policy.engine.decision.Decision.effect`): the whole ``effects`` builds the
    rate-limit headers and copies every other effect, ~3-5 us, on the way to the upstream."""
    one = getattr(decision, "effect", None)
    return one(name) if one is not None else decision.effects.get(name)


def header_effects(decision: Any, name: str) -> list[tuple[bytes, bytes]]:
    """The headers the decision adds (``name``: ``request_headers`` or ``response_headers``)."""
    add = (effect(decision, name) or {}).get("add") or {}
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1", "replace")) for k, v in add.items()]


def wants_usage(ai: Mapping[str, Any], body: Mapping[str, Any], api: str, path: str) -> bool:
    """Whether a stream in OpenAI's wire format (``api``, :attr:`~aigw_policy.engine.decision.
    Decision.api`: not the provider label, which names who serves it) to one of OpenAI's
    endpoints (``path``: ``…/chat/completions``, ``…/completions``; not a body of that shape
    sent elsewhere, Mistral's ``:rawPredict`` on Vertex AI) needs
    ``stream_options.include_usage`` to report its usage: Gemini's and Vertex AI's
    OpenAI-compatible endpoints do, a native Gemini or Bedrock stream never has the field."""
    if api != "openai" or not ai.get("stream") or ai.get("provider") in NO_STREAM_OPTIONS:
        return False
    if not path.rstrip("/").endswith("/completions"):
        return False
    if ai.get("operation") not in ("chat", "completion"):
        return False
    opts = body.get("stream_options")
    return not (isinstance(opts, dict) and opts.get("include_usage"))


def model_in_path(path: str, was: str, to: str) -> tuple[str, str] | None:
    """``(path, wire path)`` with a ``set-model``'s model written where the path names it
    (Gemini's and Vertex AI's ``/models/{model}:action``, Bedrock's ``/model/{id}/converse``, an
    Azure deployment, a legacy ``/engines/{model}/``...), or None when the path names no model
    (it is in the body). Before, Bedrock's and Azure's stayed: the upstream served and billed the
    old model, the ledger priced the new one."""
    from .paths import encode_path, encode_segment  # noqa: PLC0415 - a set-model effect only

    for prefix, suffix in (("/models/", ":"), ("/model/", "/"), ("/openai/deployments/", "/"), ("/engines/", "/")):
        before = f"{prefix}{was}{suffix}"
        if before in path:
            wire = encode_path(path).replace(encode_path(before), f"{prefix}{encode_segment(to)}{suffix}")
            return path.replace(before, f"{prefix}{to}{suffix}"), wire
    return None


def decision_api(decision: Any) -> str:
    """The wire format the engine classified the request in (``Decision.api``); a decision
    without one (an embedder's own): the one its provider label usually speaks."""
    api = getattr(decision, "api", None)
    if isinstance(api, str) and api != "unknown":
        return api
    return PROVIDERS.get(decision.ai.get("provider"), "openai")


def set_max_tokens(body: dict[str, Any], api: str, operation: Any, path: str, value: int,
                   provider: Any = None) -> None:
    """The ``max-tokens`` clamp, in the field the request's wire format (``api``) and operation
    read: Claude on Vertex AI or Bedrock takes Anthropic's ``max_tokens``, Gemini's
    OpenAI-compatible endpoint OpenAI's fields, Bedrock's InvokeModel the model family's own
    (:func:`~aigw_policy.providers.bedrock_invoke.set_invoke_max_tokens`); OpenAI's chat: the
    field the body names, else ``max_completion_tokens`` for OpenAI's own (``COMPLETION_TOKENS``)
    and ``max_tokens`` for every other vendor."""
    if operation not in CAPPED_OPERATIONS:
        return  # embeddings, images, audio, moderations, token counting: no output cap to write (an unknown
        # field is refused: OpenAI's embeddings answer `max_tokens` with a 400)
    if api == "ollama":  # Ollama's native API (its OpenAI-compatible one is api openai)
        options = dict(body["options"]) if isinstance(body.get("options"), dict) else {}
        options["num_predict"] = value
        body["options"] = options
    elif api in ("anthropic", "cohere"):  # Cohere's native API names it as Anthropic's does
        body["max_tokens"] = value
    elif api == "bedrock":
        if path.rstrip("/").endswith(("/converse", "/converse-stream")):
            config = dict(body["inferenceConfig"]) if isinstance(body.get("inferenceConfig"), dict) else {}
            config["maxTokens"] = value
            body["inferenceConfig"] = config
        else:  # InvokeModel: the model family's own body
            set_invoke_max_tokens(body, path, value)
    elif api == "gemini":  # in the config the body names (proto JSON takes snake_case too), under its name
        snake = ("generation_config" in body or path.rstrip("/").endswith("/interactions")) \
            and "generationConfig" not in body  # (the Interactions API's fields are snake_case)
        key = "generation_config" if snake else "generationConfig"
        config = dict(body[key]) if isinstance(body.get(key), dict) else {}
        names = [k for k in ("maxOutputTokens", "max_output_tokens") if k in config] or [
            "max_output_tokens" if key == "generation_config" else "maxOutputTokens"]
        for name in names:
            config[name] = value
        body[key] = config
    elif operation == "responses":
        body["max_output_tokens"] = value
    elif operation == "chat":  # the fields the body names (both, if it names both); else the vendor's
        names = [k for k in ("max_completion_tokens", "max_tokens") if k in body] or [
            "max_completion_tokens" if provider in COMPLETION_TOKENS else "max_tokens"]
        for name in names:
            body[name] = value
    else:
        body["max_tokens"] = value


def rewritten_target(url: str) -> tuple[str, bytes, bytes]:
    """The ASGI ``path``, ``raw_path`` and ``query_string`` of the URL a ``url-rewrite``
    made (a path alone, ``/v2/x?q=1``, too); :class:`~.paths.PathError` for a path the
    gateway refuses of a client (``..``, encoded slashes), or a URL that does not parse."""
    from urllib.parse import urlsplit

    from .paths import PathError, canonical_path, encode_path

    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise PathError(f"`{url[:200]}` is not a URL") from error
    path, wire = canonical_path(encode_path(parts.path or "/") if not parts.path.isascii() else parts.path or "/")
    return path, wire.encode("ascii"), parts.query.encode("utf-8")
