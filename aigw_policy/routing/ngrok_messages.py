"""The messages of ngrok's AI gateway errors whose reference gives a whole sentence with a
link (https://ngrok.com/docs/ai-gateway/reference/error-codes): the same words, ngrok's
placeholders filled as ngrok's gateway fills them (a Go duration, a CEL type name).

>>> timed_out(300)
'Request timed out after 5m0s. Try a shorter prompt or increase your timeout. See https://ngrok.com/docs/ai-gateway/reference/error-codes#err-ngrok-3810 for more information.'
>>> go_duration(90), go_duration(30), go_duration(3600), go_duration(1.5), go_duration(0.25)
('1m30s', '30s', '1h0m0s', '1.5s', '250ms')
"""

from __future__ import annotations

__all__ = ["go_duration", "input_too_large", "not_elements", "timed_out"]

_REFERENCE = "https://ngrok.com/docs/ai-gateway/reference/error-codes#err-ngrok-"


def _see(code: int) -> str:
    return f" See {_REFERENCE}{code} for more information."


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration`` prints itself (``5m0s``, ``1m30s``, ``250ms``),
    the form ngrok's ``TIMEOUT`` placeholder takes (and its durations are written in)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:  # below a second: the largest unit that keeps it whole or decimal
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def timed_out(seconds: float) -> str:
    """ERR_NGROK_3810's message."""
    return (f"Request timed out after {go_duration(seconds)}. Try a shorter prompt or increase your timeout."
            + _see(3810))


def input_too_large(tokens: int, limit: int) -> str:
    """ERR_NGROK_3811's message."""
    return f"Input too large: {tokens} tokens (max {limit}). Shorten your prompt." + _see(3811)


def not_elements(source: str, what: str, kind: str) -> str:
    """ERR_NGROK_3806's message (``what``: ``AIModel``; ``kind``: the CEL type it got)."""
    return f"Expression '{source}' must return an {what} or []{what}, got {kind}." + _see(3806)
