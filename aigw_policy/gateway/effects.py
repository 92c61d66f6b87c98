"""A decision's effects on the exchange: the forwarded request's ``max-tokens`` clamp and
``include_usage``, the headers it adds, and the gateway key kept out of the query string."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from ..providers import PROVIDERS

__all__ = ["effect", "header_effects", "rewritten_target", "set_max_tokens", "sniff_content_type", "strip_key", "wants_usage"]


def strip_key(query: bytes | str) -> str:
    """The query string without ``key=`` (a gateway key the middleware authenticated with)."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if not text:  # most requests: no query string
        return text
    # by the decoded name (`k%65y=` is `key=` to the upstream too), keeping every other pair
    # exactly as the client wrote it
    pairs = text.split("&")
    kept = [pair for pair in pairs if unquote_plus(pair.partition("=")[0]) != "key"]
    return text if len(kept) == len(pairs) else "&".join(kept)


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


def wants_usage(ai: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether an OpenAI stream needs ``stream_options.include_usage`` to report its usage."""
    if PROVIDERS.get(ai.get("provider"), "openai") != "openai" or not ai.get("stream"):
        return False
    if ai.get("operation") not in ("chat", "completion"):
        return False
    opts = body.get("stream_options")
    return not (isinstance(opts, dict) and opts.get("include_usage"))


def set_max_tokens(body: dict[str, Any], provider: Any, operation: Any, path: str, value: int) -> None:
    """The ``max-tokens`` clamp, in the field the provider and operation read."""
    api = PROVIDERS.get(provider, "openai")
    if operation == "other":
        return  # images, audio, moderations, token counting: no output cap to write (an unknown field is refused)
    if path.startswith(("/api/chat", "/api/generate")):  # Ollama's native API (its provider maps to openai)
        options = dict(body["options"]) if isinstance(body.get("options"), dict) else {}
        options["num_predict"] = value
        body["options"] = options
    elif api in ("anthropic", "cohere"):  # Cohere's native API names it as Anthropic's does
        body["max_tokens"] = value
    elif api == "bedrock" and path.rstrip("/").endswith(("/converse", "/converse-stream")):
        config = dict(body["inferenceConfig"]) if isinstance(body.get("inferenceConfig"), dict) else {}
        config["maxTokens"] = value  # Bedrock Converse (InvokeModel: the model's own body, below)
        body["inferenceConfig"] = config
    elif api == "gemini":
        config = dict(body["generationConfig"]) if isinstance(body.get("generationConfig"), dict) else {}
        config["maxOutputTokens"] = value
        body["generationConfig"] = config
    elif operation == "responses":
        body["max_output_tokens"] = value
    elif operation == "chat":
        if "max_tokens" in body and "max_completion_tokens" not in body:
            body["max_tokens"] = value
        else:
            body["max_completion_tokens"] = value
    else:
        body["max_tokens"] = value



_HTML = re.compile(rb"\s*<(?:!doctype html|html|head|body|title|h1|p|div|table|br)[\s/>]", re.IGNORECASE)


def sniff_content_type(body: bytes) -> bytes:
    """The ``content-type`` of a ``custom-response`` that names none, inferred from its body as
    ngrok's is: HTML (an opening tag browsers sniff as HTML), JSON (an object or an array),
    else plain text."""
    if _HTML.match(body[:128]):
        return b"text/html; charset=utf-8"
    if body.lstrip()[:1] in (b"{", b"["):
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            pass
        else:
            return b"application/json"
    return b"text/plain; charset=utf-8"


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
