"""The usage chunk the gateway asked for on a client's behalf, kept from that client.

An OpenAI chat or completions stream reports its usage only when the request sets
``stream_options.include_usage``; the gateway sets it for a client that did not, so that usage
is exact (docs/gateway.md, "What happens to a request"). The upstream then ends its stream
with one chunk more, ``choices: []`` with ``usage``, that this client never asked for: code
written to the stream as the API documents it without the option (``chunk.choices[0].delta``,
the SDK's own README loop) raises ``IndexError`` on it.

:class:`HideInjectedUsage` wraps the exchange's ASGI ``send`` for such a request: the exchange
reads the stream (usage, ledger, response phase) before it, and the client gets every byte but
that chunk's. Only whole events are judged: the unfinished event at a chunk's end is held until
its end (at most :data:`MAX_HELD` bytes, then passed on as it is), as the routed path's framer
holds it. An answer that is no event stream (a JSON error) is left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_HELD", "HideInjectedUsage"]

MAX_HELD = 1024 * 1024
"""Bytes of an unfinished event held back at most."""

_SPLIT = re.compile(rb"(\r?\n\r?\n)")
_HINT, _HINT_SPACED = b'"choices":[]', b'"choices": []'  # how the usage chunk is written (OpenAI, vLLM, ...)


class HideInjectedUsage:
    """``send`` (an ASGI send) without the usage-only chunks of an event stream."""

    __slots__ = ("send", "on", "held")

    def __init__(self, send: Any) -> None:
        self.send = send
        self.on = False
        self.held = bytearray()
        """The unfinished event at the end of what came (each byte looked at once for its end)."""

    async def __call__(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            ctype = next((v for k, v in message.get("headers", ()) if k.lower() == b"content-type"), b"")
            self.on = b"event-stream" in ctype.lower()
        elif kind == "http.response.body" and self.on:
            data = message.get("body", b"")
            more = message.get("more_body", False)
            held = self.held
            if not held and _HINT not in data and _HINT_SPACED not in data and (data.endswith(b"\n\n") or not more):
                await self.send(message)  # whole events, none the usage chunk (nearly every chunk): as it is
                return
            start = max(len(held) - 3, 0)  # an event's end may begin in what was held
            held += data
            cut = _whole(held, start) if more else len(held)
            if len(held) - cut > MAX_HELD:
                cut = len(held)
            if not cut and more:
                return
            body = _without_usage(bytes(held[:cut]))
            del held[:cut]
            message = {**message, "body": body}
        await self.send(message)


def _whole(data: bytearray, start: int) -> int:
    """Where the whole events of ``data`` end (0: none is whole); none ends before ``start``."""
    lf, crlf = data.rfind(b"\n\n", start), data.rfind(b"\r\n\r\n", start)
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _without_usage(data: bytes) -> bytes:
    """Whole events (and, at the stream's end, what is left) without the usage-only ones."""
    if _HINT not in data and _HINT_SPACED not in data:
        return data
    parts = _SPLIT.split(data)  # event, separator, event, separator, ..., the rest
    kept = [part for event, sep in zip(parts[::2], parts[1::2]) if not _usage_only(event) for part in (event, sep)]
    return b"".join(kept) + parts[-1]


def _usage_only(event: bytes) -> bool:
    if _HINT not in event and _HINT_SPACED not in event:
        return False
    lines = event.replace(b"\r\n", b"\n").split(b"\n")
    data = b"\n".join(line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:"))
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return (isinstance(obj, dict) and obj.get("choices") == [] and isinstance(obj.get("usage"), dict)
            and len(lines) == sum(1 for line in lines if line.startswith(b"data:")))
