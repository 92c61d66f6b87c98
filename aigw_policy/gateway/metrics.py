"""Observability for the gateway: one event per finished request becomes

- a structured decision log line (JSON, logger ``aigw_policy.gateway.decisions``);
- Prometheus metrics in a registry of its own (``/metrics``; needs ``prometheus-client``);
- an OpenTelemetry span and GenAI metrics (needs ``opentelemetry-api``; a no-op until the
  application installs an SDK).

Names follow the OpenTelemetry GenAI conventions (``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.client.token.usage``).
Every backend is optional; a missing one is skipped, never an error.

Metric labels never take a value straight from a request: a requested model's label value is
the name the price catalog (or an override) priced it as (``GPT-4O`` and
``gpt-4o-2024-08-06`` are ``gpt-4o``: a client's spellings are not values of their own), while
fewer than ``max_models`` names have been admitted; any other model is counted under ``other``. Every other label comes from a bounded set (verdicts, statuses, provider
labels, the policy's rule and limit names).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from .metric_tables import Tables
from .scrub import MIN_SECRET

__all__ = ["GATEWAY_MADE", "KNOWN_METHODS", "Observer", "attempt_outcome", "logged_method", "masked_values"]

_OTEL_PROVIDER = {"gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai", "azure_openai": "azure.ai.openai",
                  "azure_ai": "azure.ai.inference", "bedrock": "aws.bedrock", "mistral": "mistral_ai", "xai": "x_ai"}
_OTEL_OPERATION = {"chat": "chat", "messages": "chat", "responses": "chat", "completion": "text_completion",
                   "embeddings": "embeddings"}
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
DEFAULT_MAX_MODELS = 100
"""Distinct model label values at most; past them, and for unpriced models: ``other``."""
LOGGED_PATH = 256
"""Characters of a request's path a log line or span says at most."""
KNOWN_METHODS = frozenset((
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "COPY", "LOCK", "MKCOL",
    "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT",
    "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "MKCALENDAR",
    "LINK", "UNLINK", "SOURCE", "QUERY"))
"""The methods a log line names as sent (llhttp's list): any other is OpenTelemetry's ``_OTHER``
(``http.request.method``), since h11, and a server under ``PolicyMiddleware``, pass any token
on, a key pasted into a request line's first word included (serve29)."""


def logged_method(method: Any) -> Any:
    """``method`` as a log line names it (:data:`KNOWN_METHODS`; None, a head never read, as is)."""
    return method if method is None or method in KNOWN_METHODS else "_OTHER"


GATEWAY_MADE = frozenset(("time", "aigw.request.id", "http.request.method", "url.path", "aigw.verdict",
                          "aigw.phase", "gen_ai.operation.name", "aigw.usage.source", "aigw.upstream.request_id"))
"""A line's fields the gateway makes itself (its clock, ids, bounded words; the path, masked by
``paths``; the provider's request id, which no client chooses): every other string of a
line, however deep in its lists and maps, may quote what a client wrote (a model it named, a
reason or a ``log`` metadata interpolating its request, a limit's key, the model an upstream
echoed) and goes through ``texts`` (serve28: a list of the quoting fields missed four)."""


def masked_values(value: Any, texts: Callable[[str], str]) -> Any:
    """``value`` with each string in it (map keys too, lists and maps walked) through ``texts``;
    ``value`` itself when nothing changed. (Types compared, not ``isinstance``: a line holds
    JSON's types alone, and this runs on every line.)

    >>> masked_values({"logs": [{"said": "sk-abcdefgh asked"}], "n": 1}, lambda t: t.replace("sk-abcdefgh", "***"))
    {'logs': [{'said': '*** asked'}], 'n': 1}
    """
    kind = type(value)
    if kind is str:
        return texts(value) if len(value) >= MIN_SECRET else value
    if kind is dict:
        changed = False
        out = {}
        for k, v in value.items():
            mk = texts(k) if type(k) is str and len(k) >= MIN_SECRET else k
            kind = type(v)
            mv = (texts(v) if len(v) >= MIN_SECRET else v) if kind is str else \
                masked_values(v, texts) if kind in _WALKED else v
            if mk is not k or mv is not v:
                changed = True
            out[mk] = mv
        return out if changed else value
    if kind is list or kind is tuple:
        seq = [masked_values(v, texts) if type(v) in _WALKED else v for v in value]
        return seq if any(m is not v for m, v in zip(seq, value)) else value
    return value


_WALKED = frozenset((str, dict, list, tuple))


def logged_path(path: str, masked: Callable[[str], str] | None) -> str:
    """``path`` as a log line says it: its whole segments within :data:`LOGGED_PATH`
    characters and ``/...`` for the rest (a segment is never cut: a cut key would not be
    recognised), through ``masked`` (the keys file's keys as ``***``).

    >>> logged_path("/v1/" + "z" * 300, None), logged_path("*" + "z" * 300, None), logged_path("/v1/chat", str.upper)
    ('/v1/...', '/...', '/V1/CHAT')
    """
    if len(path) > LOGGED_PATH:
        path = path[:max(path.rfind("/", 0, LOGGED_PATH + 1), 0)] + "/..."
    return masked(path) if masked is not None else path


OTHER = "other"
PRICED = frozenset(("genai-prices", "override"))
"""The cost sources of a decision that priced its model by a name of the catalog's or the
operator's (``unknown``, ``not-forwarded`` and ``not-billed`` did not: a made-up model refused
or never run is no label value; nor did ``provider``, a figure the upstream reported for a
name the client may have chosen)."""
_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
"""Line breaks to Unicode-aware readers (``str.splitlines``, JavaScript before ES2019) that
JSON leaves raw: escaped, so a client's text (a model name) cannot start a forged log line."""
_MAX_SPELLINGS = 4096
"""Requested names whose label is remembered at most (then forgotten all at once)."""


class Observer:
    """Call it with a middleware event: ``observer(event)``.

    ``logger``: where decision logs go (``None``: no logs). ``prometheus``: keep Prometheus
    metrics (skipped when prometheus-client is missing). ``otel``: emit spans and metrics
    through the OpenTelemetry API when it is installed. ``prices``: the
    :class:`~aigw_policy.providers.PriceBook` that says which models are real (default: the
    catalog alone); ``max_models``: distinct model label values at most. ``paths``: what a
    request's path is logged and traced as (``Gateway``: its keys masked,
    :meth:`~.keys.KeyRing.masked`), of its first :data:`LOGGED_PATH` characters; ``texts``:
    what every other string of a line (all but :data:`GATEWAY_MADE`'s) is logged and traced as
    (:meth:`~.keys.KeyRing.masked_text`).
    """

    def __init__(self, *, logger: logging.Logger | None = None, prometheus: bool = True, otel: bool = True,
                 prices: Any = None, max_models: int = DEFAULT_MAX_MODELS,
                 paths: Callable[[str], str] | None = None, texts: Callable[[str], str] | None = None) -> None:
        self.logger = logger
        self.paths = paths
        self.texts = texts
        self.prices = prices
        self.max_models = max_models
        self._models: set[str] = set()
        self._labels: dict[str, str] = {}  # a requested name -> its label value
        self._providers: set[str] = set()
        self.registry: Any = None
        self.reloads: Any = None
        if prometheus:
            self._setup_prometheus()
        self._tracer: Any = None
        self._sdk_second: int | None = None  # when the tracer provider was last looked at
        self._sdk = False  # whether it was an SDK's then
        if otel:
            self._setup_otel()

    # -- backends ------------------------------------------------------------------------------

    def _setup_prometheus(self) -> None:
        try:
            from prometheus_client import CollectorRegistry
        except ImportError:
            return
        t = Tables()
        self.requests = t.counter("aigw_requests", "Requests through the gateway by outcome",
                                  ["verdict", "status_code", "rule", "provider", "model"])
        self.latency = t.histogram("aigw_request_duration_seconds", "Time from request to last byte",
                                   ["provider", "stream"], buckets=_LATENCY_BUCKETS)
        self.overhead = t.histogram("aigw_policy_overhead_seconds",
                                    "Time spent deciding (request and response phase, limits, ledger)",
                                    buckets=_LATENCY_BUCKETS)
        self.tokens = t.histogram("gen_ai_client_token_usage", "Tokens per request (gen_ai.client.token.usage)",
                                  ["gen_ai_token_type", "gen_ai_provider_name", "gen_ai_request_model"],
                                  buckets=_TOKEN_BUCKETS)
        self.cost = t.counter("aigw_cost_usd", "Priced cost of the traffic", ["provider", "model"])
        self.limit_outcomes = t.counter("aigw_limit_outcomes", "Limit outcomes", ["limit", "outcome"])
        self.upstream_errors = t.counter("aigw_upstream_errors", "Upstream failures", ["kind"])
        self.disconnects = t.counter("aigw_client_disconnects", "Clients that left before the end")
        self.reloads = t.counter("aigw_policy_reloads", "Policy reloads", ["result"])
        self.attempts = t.counter("aigw_route_attempts", "Upstream attempts of routed requests (ai-gateway)",
                                  ["provider", "outcome"])
        self.failovers = t.counter("aigw_route_failovers", "Failed attempts another attempt followed, by the "
                                   "provider that failed", ["provider"])
        self.would_deny = t.counter("aigw_shadow_would_deny", "Requests a shadow rule (mode: shadow, enforce: "
                                    "false) would have denied, let through", ["rule", "status_code"])
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(t)

    def _setup_otel(self) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            return
        self._trace = trace
        self._tracer = trace.get_tracer("aigw_policy.gateway")
        meter = metrics.get_meter("aigw_policy.gateway")
        self._otel_tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                                   description="Tokens per request")
        self._otel_duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                                     description="Request duration")

    # -- events --------------------------------------------------------------------------------

    def reload(self, ok: bool) -> None:
        if self.reloads is not None:
            self.reloads.inc(("ok" if ok else "rejected",))

    def metrics_text(self) -> tuple[bytes, str] | None:
        if self.registry is None:
            return None
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def __call__(self, event: dict[str, Any]) -> None:
        logs = self.logger is not None and self.logger.isEnabledFor(logging.INFO)
        spans = self._tracer is not None and self.spans_wanted(self._trace)
        if (logs or spans) and isinstance(path := event.get("path"), str):
            event["path"] = logged_path(path, self.paths)
        # a record for the metrics alone (no log line, no span) skips what only those show
        record = summarize(event, full=logs or spans)
        if (logs or spans) and self.texts is not None:  # what may quote the client: its keys masked
            texts = self.texts
            for name, value in record.items():
                if type(value) in _WALKED and name not in GATEWAY_MADE:
                    record[name] = masked_values(value, texts)
        if logs:
            line = json.dumps(record, ensure_ascii=False, default=str)
            if not line.isascii():  # (O(1); the common line is ASCII and goes as it is)
                line = line.translate(_LINE_BREAKS)
            self.logger.info(line)
        if self.registry is None and self._tracer is None:
            return
        d = event.get("decision")
        requested = record.get("gen_ai.request.model")
        cost = (d.cost if d is not None else None) or {}
        # the decision priced this very model (not another one the answer named)
        model = self.model_label(d.ai.get("provider") if d is not None else None, requested,
                                 priced=cost.get("source") in PRICED and cost.get("model") == requested)
        if self.registry is not None:
            self._prometheus(record, model)
        if self._tracer is not None:
            self._otel(record, event, model, spans)

    def model_label(self, provider: str | None, model: str | None, *, priced: bool = False) -> str:
        """The label value for ``model``: the name it is priced as once admitted, else ``other``
        (``""``: none). ``priced``: the request's own decision priced this very name (a routed
        provider of the config's own, ``acme`` at ``api.openai.com``, is priced as the vendor
        its host names, which the observer's book does not know); else the book is asked, and
        its name for the model is the label (the catalog matches case-insensitively and by
        dated version: a client's spellings of one model are one value, and cannot use up
        ``max_models``). A decision that priced the model its answer named, not the requested
        one, says nothing of the requested name."""
        if not model:
            return ""
        label = self._labels.get(model)
        if label is None:
            name = model if priced else self._priced(provider or "", model)
            if name is None:  # unpriced (not remembered: a price may come with the decision)
                return OTHER
            if name in self._models or len(self._models) < self.max_models:
                self._models.add(name)
                label = name
            else:
                label = OTHER
            if len(self._labels) >= _MAX_SPELLINGS:
                self._labels.clear()
            self._labels[model] = label
        return label

    def _priced(self, provider: str, model: str) -> str | None:
        """The name the book prices ``model`` as; None when it has no price."""
        from ..providers import PriceBook, Usage

        if self.prices is None:
            self.prices = PriceBook()
        cost = self.prices.cost(provider, model, Usage.of(1, 1))
        return (cost.model or model) if cost.known else None

    def _prometheus(self, r: dict[str, Any], model: str) -> None:
        provider = r.get("gen_ai.provider.name") or ""
        self.requests.inc((r.get("aigw.verdict") or "", str(r.get("http.response.status_code") or ""),
                           r.get("aigw.rule") or "", provider, model))
        self.latency.observe((provider, "true" if r.get("aigw.request.stream") else "false"),
                             r["aigw.latency_ms"] / 1000)
        self.overhead.observe((), r["aigw.overhead_ms"] / 1000)
        for kind in ("input", "output"):
            n = r.get(f"gen_ai.usage.{kind}_tokens")
            if n is not None:
                self.tokens.observe((kind, provider, model), n)
        if r.get("aigw.cost_usd"):
            self.cost.inc((provider, model), r["aigw.cost_usd"])
        for lim in r.get("aigw.limits") or ():
            self.limit_outcomes.inc((lim["name"], lim["outcome"]))
        if r.get("aigw.upstream.error"):
            self.upstream_errors.inc((r["aigw.upstream.error"],))
        if r.get("aigw.client.disconnected"):
            self.disconnects.inc(())
        would = r.get("aigw.would_deny")
        if would:  # labels from the policy (its rule names) and status codes: bounded
            self.would_deny.inc((would.get("rule") or "", str(would.get("status") or "")))
        tried = r.get("aigw.route.attempts") or ()
        for i, a in enumerate(tried):
            label = self.provider_label(a.get("provider"))
            self.attempts.inc((label, attempt_outcome(a.get("status"), a.get("error"))))
            if i < len(tried) - 1:
                self.failovers.inc((label,))

    def provider_label(self, provider: str | None) -> str:
        """A routed provider's label value: itself while fewer than ``max_models`` providers
        are admitted, else ``other`` (provider ids come from the policy and the catalog)."""
        if not provider:
            return ""
        if provider in self._providers or len(self._providers) < self.max_models:
            self._providers.add(provider)
            return provider
        return OTHER

    def spans_wanted(self, trace: Any) -> bool:
        """Whether the process has installed a tracer provider (an SDK), so that spans go
        somewhere: looked up at most once a second (the lookup reads the environment: 3-5 us a
        request on a busy 2-core machine, docs/gateway.md "Sixth pass"), so spans start within
        a second of an SDK's installation. The plain answer is
        ``not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)``."""
        second = int(time.monotonic())
        if second != self._sdk_second:
            self._sdk_second = second
            self._sdk = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        return self._sdk

    def _otel(self, r: dict[str, Any], event: dict[str, Any], label: str, spans: bool) -> None:
        op = r.get("gen_ai.operation.name") or "other"
        model = r.get("gen_ai.request.model")
        if spans:  # spans_wanted(): no SDK yet, spans go nowhere
            attrs = {k: v for k, v in r.items()
                     if isinstance(v, (str, int, float, bool)) and not k.startswith("aigw.limit")}
            span = self._tracer.start_span(f"{op} {model}" if model else op, start_time=event.get("start_ns"),
                                           attributes=attrs)
            if (r.get("http.response.status_code") or 0) >= 500:
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, r.get("aigw.reason") or ""))
            span.end()
        common = {"gen_ai.operation.name": op, "gen_ai.provider.name": r.get("gen_ai.provider.name") or "",
                  "gen_ai.request.model": label}  # metric attributes: bounded, as Prometheus labels
        self._otel_duration.record(r["aigw.latency_ms"] / 1000, common)
        for kind in ("input", "output"):
            n = r.get(f"gen_ai.usage.{kind}_tokens")
            if n is not None:
                self._otel_tokens.record(n, {**common, "gen_ai.token.type": kind})


def attempt_outcome(status: int | None, error: str | None) -> str:
    """An attempt's result as a bounded label: ``ok``, ``429``, ``4xx``, ``5xx``, ``timeout``,
    ``connect``, ``malformed``, ``client_closed``.

    >>> attempt_outcome(503, None), attempt_outcome(None, "timeout"), attempt_outcome(200, None)
    ('5xx', 'timeout', 'ok')
    """
    if error is not None or status is None:
        return error or "connect"
    if status == 429:
        return "429"
    return "ok" if status < 400 else "4xx" if status < 500 else "5xx"


_SECOND: list[Any] = [None, ""]  # the second last formatted and its text


def _utc_second() -> str:
    """The current UTC second, RFC 3339 (``2026-12-05T12:55:39Z``), formatted once per second."""
    now = int(time.time())
    if _SECOND[0] != now:
        _SECOND[:] = [now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))]
    return _SECOND[1]  # type: ignore[no-any-return]


def summarize(event: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """The decision log record of one request (OTel GenAI names where they exist).
    ``full=False``: without the fields only a log line or a span shows (the identity, the
    model rewrite, the response model, the policy's logs, the error count), for the metrics
    alone."""
    d = event.get("decision")
    out: dict[str, Any] = {
        "time": _utc_second(),
        "aigw.request.id": event.get("request_id"),
        "http.request.method": logged_method(event.get("method")),
        "url.path": event.get("path"),
        "aigw.verdict": event.get("verdict"),
        "http.response.status_code": event.get("status_code"),
        "aigw.rule": event.get("rule"),
        "aigw.reason": event.get("reason"),
        "aigw.phase": event.get("phase"),
        "aigw.latency_ms": event.get("latency_ms", 0.0),
        "aigw.overhead_ms": event.get("overhead_ms", 0.0),
    }
    if "upstream_ms" in event:
        out["aigw.upstream.latency_ms"] = event["upstream_ms"]
        out["aigw.upstream.status_code"] = event.get("upstream_status")
        out["aigw.request.stream"] = event.get("stream")
    if event.get("upstream_request_id"):  # the provider's id, which a forwarded answer carries to the client
        out["aigw.upstream.request_id"] = str(event["upstream_request_id"])[:128]
    if event.get("upstream_error"):
        out["aigw.upstream.error"] = event["upstream_error"]
    if event.get("disconnected"):
        out["aigw.client.disconnected"] = True
    if event.get("attempts"):  # a routed request: each attempt's provider and result (never a key)
        out["aigw.route.attempts"] = [dict(a) for a in event["attempts"]]
    if d is None:
        return out
    routing = d.routing
    if routing and routing.get("cooling"):  # keys put last after a 429 (engine/cooldown.py): ids, never a key
        out["aigw.route.cooling"] = [{k: c[k] for k in ("provider", "model", "key_id", "until")}
                                     for c in routing["cooling"]]
    ai = d.ai or {}
    if full:
        ident = event.get("identity") or {}
        for k in ("key", "user", "team", "org"):
            if ident.get(k):
                out[f"aigw.identity.{k}"] = ident[k]
    provider = ai.get("provider")
    out["gen_ai.provider.name"] = _OTEL_PROVIDER.get(provider, provider)
    out["gen_ai.operation.name"] = _OTEL_OPERATION.get(ai.get("operation"), "other")
    out["gen_ai.request.model"] = ai.get("model") or None
    if ai.get("max_output_tokens"):
        out["gen_ai.request.max_tokens"] = ai["max_output_tokens"]
    model = d.effect("model") if full else None  # two effects read: the others (rate-limit headers) never built
    if model:
        out["aigw.model.rewrite"] = f"{model.get('from')} -> {model.get('to')}"
    usage = d.usage
    if usage:
        if full and usage.get("model"):
            out["gen_ai.response.model"] = usage["model"]
        out["gen_ai.usage.input_tokens"] = usage.get("input_tokens")
        out["gen_ai.usage.output_tokens"] = usage.get("output_tokens")
        if full:
            out["aigw.usage.source"] = usage.get("source")
    if d.cost_usd is not None:
        out["aigw.cost_usd"] = d.cost_usd
    if d.limits:
        out["aigw.limits"] = [{"name": e["name"], "key": e.get("key"), "outcome": e.get("outcome"),
                               "remaining": e.get("remaining")} for e in d.limits]
    if full:
        logs = d.effect("logs")
        if logs:
            out["aigw.logs"] = logs
        if d.errors:
            out["aigw.errors"] = len(d.errors)
    would = getattr(d, "would_deny", None)
    if would:
        out["aigw.would_deny"] = dict(would)
    return out
