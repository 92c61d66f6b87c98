"""One usage record per finished request (SPEC section 7), named after OpenTelemetry GenAI.

``UsageRecord`` holds short attribute names (also the SQL column names);
:meth:`UsageRecord.to_dict` gives the wire/JSONL form keyed by the OpenTelemetry GenAI names
(``gen_ai.*``) plus ours (``aigw.*``). :data:`FIELDS` is the one mapping between the two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from typing import Any

from ..providers.classify import AiRequest
from ..providers.prices import Cost
from ..providers.usage import Usage

#: attribute -> record key (OpenTelemetry GenAI where a convention exists, else ``aigw.*``)
FIELDS: dict[str, str] = {
    "time": "time",
    "request_id": "aigw.request.id",
    "key": "aigw.identity.key",
    "user": "aigw.identity.user",
    "team": "aigw.identity.team",
    "org": "aigw.identity.org",
    "provider": "gen_ai.provider.name",
    "operation": "gen_ai.operation.name",
    "aigw_operation": "aigw.operation",
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "stream": "aigw.request.stream",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_creation_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "cache_creation_1h_input_tokens": "aigw.usage.cache_creation_1h.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
    "total_tokens": "aigw.usage.total_tokens",
    "usage_source": "aigw.usage.source",
    "cost_usd": "aigw.cost_usd",
    "cost_source": "aigw.cost.source",
    "verdict": "aigw.verdict",
    "status_code": "http.response.status_code",
    "rule": "aigw.rule",
    "limits": "aigw.limits",
    "latency_ms": "aigw.latency_ms",
    "attempts": "aigw.attempts",
    "route_key_id": "aigw.route.key_id",
    "would_deny": "aigw.would_deny",
    "reason": "aigw.reason",
}
_BY_KEY = {v: k for k, v in FIELDS.items()}
_JSON = ("limits", "would_deny")  # held as JSON text (a SQL column, a Protobuf string)
PENDING = "pending"
"""The verdict of an intent record: the request was forwarded, its final record is not
written yet (still in flight, or the gateway died first: then it stays, at the estimate)."""
#: our operation -> OpenTelemetry ``gen_ai.operation.name`` well-known value
OTEL_OPERATION = {
    "chat": "chat",
    "messages": "chat",
    "responses": "chat",
    "completion": "text_completion",
    "embeddings": "embeddings",
    "other": "other",
}
#: our provider label -> OpenTelemetry ``gen_ai.provider.name`` well-known value
OTEL_PROVIDER = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral": "mistral_ai",
    "perplexity": "perplexity",
    "xai": "x_ai",
}


REASON_CHARS = 240
"""The most characters of a reason a record keeps (the decision's own is not cut)."""
_CREDENTIAL = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # an Authorization value
    r"|\b(?:sk-|sk_|xai-|ghp_|gho_|glpat-|hf_|AIza)[A-Za-z0-9_-]{16,}"  # provider and forge keys
    r"|\b[A-Za-z0-9_-]{40,}\b")  # any long opaque token


def short_reason(text: str | None) -> str | None:
    """A decision's reason as a record keeps it: one line, credential-like tokens shown as
    ``***`` (a deny message may quote a request header), at most :data:`REASON_CHARS`.

    >>> short_reason("key sk-proj-abcdefghijklmnopqrstuvwxyz0123 is  blocked")
    'key *** is blocked'
    """
    if text is None:
        return None
    flat = " ".join(_CREDENTIAL.sub("***", text).split())
    return flat if len(flat) <= REASON_CHARS else flat[:REASON_CHARS - 1] + "\u2026"


def format_time(t: datetime) -> str:
    """UTC, fixed width, so that text order is time order (``2026-11-26T12:00:00.000000Z``)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    return f"{t.year:04d}-" + t.strftime("%m-%dT%H:%M:%S.%fZ")  # strftime's %Y: `999`, not `0999`


def parse_time(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    request_id: str
    time: str  # see format_time
    key: str | None = None
    user: str | None = None
    team: str | None = None
    org: str | None = None
    provider: str | None = None
    operation: str | None = None
    aigw_operation: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    max_output_tokens: int | None = None
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    """The 1-hour cache writes among ``cache_creation_input_tokens`` (Anthropic's); 0 in a
    record written before the ledger had them."""
    reasoning_tokens: int = 0
    total_tokens: int = 0
    usage_source: str = "estimate"
    cost_usd: float | None = None
    cost_source: str = "unknown"
    verdict: str = "allow"
    status_code: int | None = None
    rule: str | None = None
    limits: str = "[]"  # JSON array, as in the decision's ``limits``
    latency_ms: float | None = None
    attempts: int | None = None
    """Upstream attempts of a routed request, the serving one included (None: not routed)."""
    route_key_id: str | None = None
    """The id of the API key that served a routed request (never the key itself)."""
    would_deny: str | None = None
    """What a shadow rule or an unenforced limit would have answered (SPEC section 14): a JSON
    object ``{status, reason, rule}``, as in the decision; None when nothing would have denied."""
    reason: str | None = None
    """Why the gateway denied the request (the decision's reason, see :func:`short_reason`);
    None for a request it let through (its deciding rule is ``rule``)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[FIELDS[f.name]] = json.loads(value) if f.name in _JSON and value is not None else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageRecord:
        """A record from its JSON form; ``TypeError`` when ``data`` is none (not an object, no
        request id or time, a field of the wrong type: a count that is text, ...)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a usage record is a JSON object, not {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            attr = _BY_KEY.get(key, key if key in FIELDS else None)
            if attr is None:
                continue
            if attr in _JSON and value is not None and not isinstance(value, str):
                value = json.dumps(value, sort_keys=True, separators=(",", ":"))
            wrong = wrong_field(attr, value)
            if wrong is not None:
                raise TypeError(wrong.replace(f"`{attr}`", f"`{FIELDS[attr]}`", 1))
            kwargs[attr] = value
        return cls(**kwargs)

    def as_row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def model(self) -> str | None:
        """The served model, else the requested one."""
        return self.response_model or self.request_model

    def limit_entries(self) -> list[dict[str, Any]]:
        """The decision's limit entries kept in ``limits``; none when the text is not a JSON
        array (a hand-edited or torn record), and only the entries that are objects."""
        try:
            found = json.loads(self.limits or "[]")
        except ValueError:
            return []
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(UsageRecord))


def _is_int(v: Any) -> bool:
    return type(v) is int


MAX_AMOUNT = 1e15
"""The largest cost (USD) or latency (ms) a record may hold: past any one request, and small
enough that a sum over a ledger stays finite (Python's json reads `NaN`, `Infinity` and
`1e308`; two of those made a total `inf`, and `usage --format json` printed `Infinity`)."""


def _is_number(v: Any) -> bool:
    return v is None or (type(v) in (int, float) and -MAX_AMOUNT <= v <= MAX_AMOUNT)  # NaN compares false


def _is_text(v: Any) -> bool:
    return v is None or isinstance(v, str)


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)


def _is_time(v: Any) -> bool:
    """The one form :func:`format_time` writes (UTC, fixed width): a ledger's reads compare
    times as text (`since <= time < until` in SQL, `--by day` as its first ten characters),
    so a time in another form (an offset, no fraction, a word) would be misplaced, not read."""
    if not isinstance(v, str) or not _TIME.fullmatch(v):
        return False
    try:
        datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:  # 2026-02-30
        return False
    return True


_COUNTS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens",
           "cache_creation_1h_input_tokens", "reasoning_tokens", "total_tokens")
_TYPES = {name: _is_text for name in COLUMNS} | dict.fromkeys(_COUNTS, _is_int) | {
    "request_id": lambda v: isinstance(v, str) and bool(v),
    "time": _is_time,
    "stream": lambda v: type(v) is bool,
    "max_output_tokens": lambda v: v is None or _is_int(v),
    "status_code": lambda v: v is None or _is_int(v),
    "attempts": lambda v: v is None or _is_int(v),
    "cost_usd": _is_number,
    "latency_ms": _is_number,
    "usage_source": lambda v: isinstance(v, str),
    "cost_source": lambda v: isinstance(v, str),
    "verdict": lambda v: isinstance(v, str),
    "limits": lambda v: isinstance(v, str),
}
"""What :meth:`UsageRecord.from_dict` accepts for each field (JSON's types)."""


def wrong_field(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be field ``name`` of a record (its type named), or None."""
    if _TYPES[name](value):
        return None
    if name == "time" and isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"`time` is {shown!r}: not a UTC time as the ledger writes it (2026-11-26T12:00:00.000000Z)"
    if type(value) in (int, float) and name in ("cost_usd", "latency_ms"):
        return f"`{name}` is {value!r}: not a finite amount of at most {MAX_AMOUNT:g}"
    return f"`{name}` is {type(value).__name__}: not a usage record's"


def make_record(
    request_id: str,
    *,
    time: datetime,
    ai: AiRequest | None = None,
    usage: Usage | None = None,
    cost: Cost | None = None,
    identity: Mapping[str, Any] | None = None,
    verdict: str = "allow",
    status_code: int | None = None,
    rule: str | None = None,
    limits: Sequence[Mapping[str, Any]] = (),
    latency_ms: float | None = None,
    attempts: int | None = None,
    route_key_id: str | None = None,
    would_deny: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> UsageRecord:
    """Build the record of one finished request from the pieces the engine holds: ``reason``
    is kept for a denied request only, short (:func:`short_reason`), as is ``would_deny``'s."""
    ident = identity or {}
    if would_deny is not None and isinstance(would_deny.get("reason"), str):
        would_deny = {**would_deny, "reason": short_reason(would_deny["reason"])}

    def s(name: str) -> str | None:
        value = ident.get(name)
        return str(value) if value is not None else None

    u = usage or Usage.of(0, 0, source="estimate")
    return UsageRecord(
        request_id=str(request_id),
        time=format_time(time),
        key=s("key"),
        user=s("user"),
        team=s("team"),
        org=s("org"),
        provider=OTEL_PROVIDER.get(ai.provider, ai.provider) if ai else None,
        operation=OTEL_OPERATION.get(ai.operation, ai.operation) if ai else None,
        aigw_operation=ai.operation if ai else None,
        request_model=ai.model if ai else None,
        response_model=u.model if usage else None,
        max_output_tokens=ai.max_output_tokens if ai else None,
        stream=bool(ai and ai.stream),
        **u.counts(),
        usage_source=u.source,
        cost_usd=cost.as_float() if cost else None,
        cost_source=cost.source if cost else "unknown",
        verdict=verdict,
        status_code=status_code,
        rule=rule,
        limits=json.dumps(list(limits), sort_keys=True, separators=(",", ":"), default=str),
        latency_ms=latency_ms,
        attempts=attempts,
        route_key_id=route_key_id,
        would_deny=json.dumps(dict(would_deny), sort_keys=True, separators=(",", ":"), default=str)
        if would_deny is not None else None,
        reason=short_reason(reason) if verdict == "deny" else None,
    )


def as_pending(record: UsageRecord, ai: AiRequest | None = None) -> UsageRecord:
    """The intent record of a request about to be forwarded: verdict ``pending``, usage at
    the request-time estimate (the input estimate, and ``max_output_tokens`` when the request
    sets it). The request's final record replaces it."""
    if ai is None:
        return replace(record, verdict=PENDING)
    out = ai.max_output_tokens or 0
    return replace(record, verdict=PENDING, input_tokens=ai.input_tokens, output_tokens=out,
                   total_tokens=ai.input_tokens + out, usage_source="estimate")


def not_forwarded(record: UsageRecord, status: int = 503) -> UsageRecord:
    """The final record of a request whose intent may have been written but that was never
    forwarded (the ledger failed it): no usage, $0, the gateway's ``error`` with ``status``.
    It replaces the intent, which would otherwise stay at the estimate."""
    zero: dict[str, Any] = {f.name: 0 for f in fields(record) if f.name.endswith("_tokens")}
    return replace(record, **zero, verdict="error", status_code=status, usage_source="none", cost_usd=0.0,
                   cost_source="not-forwarded")


def keep_final(found: dict[str, UsageRecord], rec: UsageRecord) -> None:
    """Keep in ``found`` (by request id) the first final record of each request, else its
    ``pending`` intent: how every reader of an append-only ledger (JSONL) picks a request's line."""
    first = found.get(rec.request_id)
    if first is None or (first.verdict == PENDING and rec.verdict != PENDING):
        found[rec.request_id] = rec
