"""The shapes routing is made of, shared by the catalog, the planner, the engine and the
gateway. Plain frozen data; no behaviour beyond ``to_dict``.

The flow of one routed request (SPEC §12):

1. the request phase reaches an ``ai-gateway`` action; the planner turns the catalog, the
   config and the strategies into a :class:`Plan` (candidates in order; every dropped one
   says why) and the decision carries it (``decision.routing``);
2. the caller asks the engine for the next step, ``engine.attempt(rid, outcome)``
   (``aattempt`` in asyncio): the first call passes ``outcome=None``; the answer is
   :class:`Next` (forward this :class:`Attempt`), :class:`Serve` (the last attempt's answer
   is the answer: stream it, then ``complete(rid, response)``) or :class:`Finished` (the
   gateway answers itself: all failed 503, total timeout 504, or what later rules decided
   after ``on_error: continue``);
3. each attempt reserves the limits that depend on the model or provider under its own
   charge; a failed attempt releases them (or charges what the upstream reported); only the
   serving attempt is reconciled by ``complete``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "ApiFormat",
    "Attempt",
    "AttemptOutcome",
    "Candidate",
    "Finished",
    "KeyRef",
    "ModelInfo",
    "Next",
    "Plan",
    "RouteFormat",
    "MetricsSnapshot",
    "ProviderInfo",
    "RouteMetrics",
    "Serve",
    "StrategyResult",
]

ApiFormat = Literal["openai", "anthropic", "gemini"]
"""The wire format of a request: OpenAI-compatible, Anthropic messages, Gemini."""
RouteFormat = Literal["openai", "anthropic", "gemini", "bedrock", "cohere", "ollama"]
"""A routed request's format: a provider's (:data:`ApiFormat`), or a vendor's native API, sent
only to that vendor's providers (:mod:`.paths`)."""

AuthStyle = Literal["bearer", "x-api-key", "x-goog-api-key", "none"]


@dataclass(frozen=True, slots=True)
class KeyRef:
    """One configured API key. ``value`` is the text as written (usually a
    ``${secrets.get('vault', 'name')}`` template); only the gateway resolves it, and nothing
    but the upstream request ever holds the secret. ``id``: ``api_keys[].id`` when given,
    else a short hash of ``value``'s text (never of a resolved secret)."""

    id: str
    value: str
    index: int


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    aliases: tuple[str, ...] = ()
    base_url: str | None = None
    formats: tuple[RouteFormat, ...] = ("openai",)
    """The formats it speaks; a vendor's native one (``ollama``...) says it is that vendor's."""
    auth: AuthStyle = "bearer"
    builtin: bool = False
    configured: bool = False
    disabled: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[KeyRef, ...] = ()
    #: per (format, surface): the top-level body keys that surface accepts (ngrok's
    #: ``supported_api_surfaces[].supported_params``); a surface not here has no allowlist
    supported_params: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider_id: str
    aliases: tuple[str, ...] = ()
    author_id: str | None = None
    known: bool = True
    custom: bool = False
    disabled: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    max_context_window: int | None = None
    max_output_tokens: int | None = None
    unsupported_params: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """One selection strategy as it ran: its CEL text, how many it returned, its error, the
    refs it kept (``(provider, model)`` of a model strategy, ``(provider, key id)`` of a key
    strategy) and which it was (``AIModel`` or ``AIKey``)."""

    source: str
    candidates_returned: int
    error: str | None = None
    refs: tuple[Any, ...] = ()
    what: str = "AIModel"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "candidates_returned": self.candidates_returned, "error": self.error}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A (provider, model, key) the plan may try, in order; ``skipped_because`` says why one
    will not be tried (disabled, wrong API format, over limit `team-tpm`, ...)."""

    provider: str
    model: str
    key_id: str | None = None
    skipped_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "key_id": self.key_id,
                "skipped_because": self.skipped_because}


@dataclass(frozen=True, slots=True)
class Plan:
    """What the ``ai-gateway`` action decided before any attempt."""

    format: RouteFormat
    requested: tuple[str, ...]
    """The model names the client asked for, in its order (``ngrok/auto`` included)."""
    strategies: tuple[StrategyResult, ...]
    candidates: tuple[Candidate, ...]
    error: tuple[int, str, str] | None = None
    """(status, code, message) when the plan is empty or refused before any attempt:
    413 input too large, 403 provider_not_allowed / model_not_allowed, 422 empty selection."""
    pinned: bool = False
    """A read of a background response this route served (``GET /v1/responses/{id}``, ...):
    its one candidate is the provider, model and key that hold it (:mod:`.owners`), and its
    answer, whatever it is, is the client's (the response is nowhere else)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream request to make. The gateway builds it from the client's request:
    ``url`` = ``base_url`` + the request's path and query; the body's model set to
    ``model`` (Gemini: in the path); ``drop_params`` removed from the top level of the body,
    and, when ``keep_params`` is set, every other key not in it (the model is the attempt's);
    ``body`` merged in; ``headers`` and ``query`` added; the credential of ``key`` sent in the
    provider's ``auth`` style, and the client's own credential never."""

    number: int  # 1-based, in the order tried
    provider: ProviderInfo
    model: str
    key: KeyRef | None
    format: RouteFormat
    drop_params: frozenset[str] = frozenset()
    keep_params: frozenset[str] | None = None
    """The provider's ``supported_params`` for the request's surface (None: no allowlist)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 30.0
    """The per-attempt timeout, already cut to what remains of the total timeout."""
    idle_s: float | None = None
    """The longest quiet between two chunks of the answer once it is served: the per-request
    timeout, never cut by the total (which bounds the attempts, not a stream being served);
    None: ``timeout_s``."""


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What happened to an attempt, as the caller saw it."""

    status_code: int | None = None
    """The upstream's status; None when no answer came (see ``error``)."""
    error: Literal["timeout", "connect", "malformed", "client_closed"] | None = None
    """No answer: the attempt timed out, could not connect, got an answer that cannot be the
    API's (``malformed``: a success whose JSON does not parse, an HTML page, a body cut after
    its head; ``body`` says which), or was given up because the client closed the request
    (``client_closed``: no failover, nothing counted against the provider)."""
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """The upstream's response headers (rate-limit headers feed ``k.quota``)."""
    body: Any = None
    """The upstream's answer body when it is an error (JSON, or text), for usage it reports."""
    started: bool = False
    """A byte of the answer already reached the client: no failover is possible."""
    time_to_first_byte_ms: float | None = None
    """When the answer's status line and headers arrived (ngrok's debugging trace's
    ``upstream_latency.time_to_first_byte_ms``; ``time_to_first_token_ms`` stands in without it)."""
    answered: int | None = None
    """The status line of an answer that came but is ``malformed`` (a 200 HTML page): what the
    debugging trace's ``response.status_code`` shows; ``status_code`` stays None, so that no
    rule reads the attempt as a success."""
    late: bool = False
    """What became of an answer already served and counted (a stream the upstream cut or let go
    quiet after its first event): the live metrics count it as an error of the attempt's
    pairs, not as another request (:meth:`RouteMetrics.record` only; never an attempt's step)."""


@dataclass(frozen=True, slots=True)
class Next:
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class Serve:
    """The last attempt's answer is the client's: stream it, then ``complete(rid, response)``."""

    attempt: Attempt


@dataclass(frozen=True, slots=True)
class Finished:
    """The gateway answers the client itself with ``decision.response`` (503 all failed, 504
    total timeout, ...), or later rules decided after ``on_error: continue``."""

    decision: Any  # aigw_policy.engine.Decision (typed loosely: engine imports routing)


MetricsSnapshot = Mapping[str, Any]
"""Live metrics as selection strategies read them:
``{"models": {(provider, model): {"request_count": int, "latency": {...}, "error_rate": {...}}},
"keys": {(provider, key_id): {"quota": {...}, "error_rate": {...}}}}`` in ngrok's shapes
(``m.metrics.global.*``, ``k.quota.*``, ``k.error_rate.*``); absent pairs read as no traffic.
``"version"``: an int that changes whenever the numbers may have (the planner memoizes
strategies that read metrics per version)."""


class RouteMetrics:
    """Where live metrics are kept (the limit store, so every gateway process shares them).
    The engine records each attempt's outcome and reads a snapshot when it plans."""

    def record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        raise NotImplementedError

    async def arecord(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        self.record(attempt, outcome, now)

    def snapshot(self, now: float) -> MetricsSnapshot:
        raise NotImplementedError

    async def asnapshot(self, now: float) -> MetricsSnapshot:
        return self.snapshot(now)

    def share_cooldowns(self, board: Any) -> None:
        """Carry a process's cooldowns (:class:`~aigw_policy.engine.cooldown.Cooldowns`) to the
        others with the records (:mod:`.cooling_store`); a store in this process has no others."""
