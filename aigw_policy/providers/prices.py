"""Cost of a request: user overrides first, then the genai-prices library; unknown is unknown.

Pure lookups: overrides arrive as data (a mapping, e.g. from the policy or a file read by the
caller, see :func:`PriceBook.from_mapping`); genai-prices answers from its bundled snapshot
(this module never asks it to update over the network). Pass ``at`` (the request's time) for
a deterministic answer when a model's price changed over time.
"""

from __future__ import annotations

import copy
import fnmatch
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..diagnostics import did_you_mean
from .errors import ProviderError
from .price_gaps import fill
from .price_plan import counts, plan_for
from .usage import Usage

_MTOK = Decimal(1_000_000)
#: our provider label -> genai-prices provider id (None: self-hosted, no public price)
LIBRARY_PROVIDERS: dict[str, str | None] = {
    "openai": "openai",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex_ai": "google",
    "openai_compatible": None,
    "vllm": None,
    "ollama": None,
    # the vendors known by their hosts (classify._HOSTS): what each bills, as genai-prices names it
    "azure_ai": "azure",
    "xai": "x-ai",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "together": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "moonshot": "moonshotai",
    "voyage": "voyageai",
    **{name: name for name in ("zai", "zhipuai", "minimax", "novita", "baseten", "ovhcloud", "doubleword", "arcee", "avian")},
    "cohere": "cohere",
    "bedrock": "aws",
}


REPORTED_COST = frozenset(("openrouter", "perplexity", "xai"))
"""The providers whose answers say what the request cost (``usage.cost``: OpenRouter's credits,
with the upstream's charge on your own key; Perplexity's total, its request fee and searches
included; xAI's ``usage.cost_in_usd_ticks``, its cache discount and server-side tool calls
included), priced from it rather than from genai-prices (which knows neither the upstream
OpenRouter chose nor Perplexity's fees); an override still wins. Another label's ``cost`` (a
self-hosted server's, a proxy's) is not trusted: its currency and meaning are unknown."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens. Cached and cache-creation prices default to the input price; the
    price of 1-hour cache writes (Anthropic's, ``cache_creation_1h``) to the cache-creation price,
    as genai-prices prices them for a model without one: what every write cost before. Audio
    tokens (``Usage.units``' ``input_audio_tokens`` / ``output_audio_tokens``, parts of the
    input and output) cost ``input_audio`` / ``output_audio`` when given, else the text price,
    with a note (:meth:`audio_note`)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_creation_per_mtok: Decimal | None = None
    cache_creation_1h_per_mtok: Decimal | None = None
    input_audio_per_mtok: Decimal | None = None
    output_audio_per_mtok: Decimal | None = None

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> ModelPrice:
        allowed = {"input", "output", "cached_input", "cache_creation", "cache_creation_1h", "input_audio",
                   "output_audio"}
        if not isinstance(data, Mapping):
            raise ProviderError("bad-override", f"price for `{name}` must be an object")
        unknown = set(data) - allowed
        if unknown:
            raise ProviderError(
                "bad-override",
                f"unknown key `{sorted(unknown)[0]}` in price for `{name}` (use {', '.join(sorted(allowed))}; usd per million tokens)",
            )
        if "input" not in data or "output" not in data:
            raise ProviderError("bad-override", f"price for `{name}` needs `input` and `output`")

        def dec(key: str) -> Decimal | None:
            if key not in data or data[key] is None:
                return None
            value = data[key]
            try:
                if isinstance(value, bool):
                    raise InvalidOperation
                d = Decimal(str(value))
            except (InvalidOperation, ValueError):
                raise ProviderError("bad-override", f"price `{key}` for `{name}` is not a number") from None
            if not d.is_finite() or d < 0:
                raise ProviderError("bad-override", f"price `{key}` for `{name}` must be a non-negative number")
            return d

        return cls(dec("input"), dec("output"), dec("cached_input"), dec("cache_creation"),  # type: ignore[arg-type]
                   dec("cache_creation_1h"), dec("input_audio"), dec("output_audio"))

    def cost(self, usage: Usage) -> tuple[Decimal, Decimal]:
        cached = usage.cached_input_tokens
        created = usage.cache_creation_input_tokens
        one_hour = min(usage.cache_creation_1h_input_tokens, created)  # a part of the writes
        plain = max(usage.input_tokens - cached - created, 0)
        cached_p = self.cached_input_per_mtok if self.cached_input_per_mtok is not None else self.input_per_mtok
        created_p = self.cache_creation_per_mtok if self.cache_creation_per_mtok is not None else self.input_per_mtok
        one_hour_p = self.cache_creation_1h_per_mtok if self.cache_creation_1h_per_mtok is not None else created_p
        audio_in = min(usage.unit("input_audio_tokens"), plain) if self.input_audio_per_mtok is not None else 0
        audio_out = min(usage.unit("output_audio_tokens"), usage.output_tokens) \
            if self.output_audio_per_mtok is not None else 0
        inp = ((plain - audio_in) * self.input_per_mtok + audio_in * (self.input_audio_per_mtok or 0)
               + cached * cached_p + (created - one_hour) * created_p + one_hour * one_hour_p) / _MTOK
        out = ((usage.output_tokens - audio_out) * self.output_per_mtok
               + audio_out * (self.output_audio_per_mtok or 0)) / _MTOK
        return inp, out

    def audio_note(self, usage: Usage) -> str | None:
        """What a usage's audio tokens were priced at when this price has no audio price for them
        (the text price, which no vendor charges for audio): None when it has, or there are none."""
        left = [d for d, have in (("input", self.input_audio_per_mtok), ("output", self.output_audio_per_mtok))
                if have is None and usage.unit(f"{d}_audio_tokens")]
        if not left:
            return None
        return f"{' and '.join(left)} audio tokens priced as text: the override has no `{left[0]}_audio` price"


@dataclass(frozen=True, slots=True)
class Cost:
    """``usd`` is None when the price is unknown; ``reason`` then says why (never $0)."""

    usd: Decimal | None
    source: Literal["override", "provider", "genai-prices", "unknown", "not-forwarded", "not-billed"]
    input_usd: Decimal | None = None
    output_usd: Decimal | None = None
    reason: str | None = None
    model: str | None = None  # the price entry that matched

    @property
    def known(self) -> bool:
        return self.usd is not None

    @classmethod
    def not_forwarded(cls) -> Cost:
        """A request the gateway answered itself: nothing reached the provider, $0."""
        return cls(Decimal(0), "not-forwarded", Decimal(0), Decimal(0))

    @classmethod
    def not_billed(cls) -> Cost:
        """A request that ran no model (``GET /v1/responses/{id}``: a read of a stored
        answer, whose usage was its call's): $0."""
        return cls(Decimal(0), "not-billed", Decimal(0), Decimal(0))

    def as_float(self) -> float | None:
        return float(self.usd) if self.usd is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd": self.as_float(),
            "source": self.source,
            "reason": self.reason,
            "model": self.model,
        }


class PriceBook:
    """Overrides (exact ``provider/model``, exact ``model``, then glob patterns, in order),
    then genai-prices (remembered per book: :class:`LibraryPrices`). Thread-safe."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None, *, use_library: bool = True,
                 use_reported: bool = True) -> None:
        self._exact: dict[str, ModelPrice] = {}
        self._globs: list[tuple[str, ModelPrice]] = []
        for key, price in (overrides or {}).items():
            if any(c in key for c in "*?["):
                self._globs.append((key, price))
            else:
                self._exact[key] = price
        self.use_library = use_library
        self.use_reported = use_reported  # the figure REPORTED_COST's providers name (False: genai-prices')
        self._tiered = any("@" in key for key in overrides or ())  # some override prices a service tier
        self._library = LibraryPrices()
        self._labels: Mapping[str, str] = {}

    def with_labels(self, labels: Mapping[str, str]) -> PriceBook:
        """This book (its overrides and remembered prices shared) with the providers of
        ``labels`` priced as the label each maps to: a routing config's own provider id
        (``acme``, its ``base_url`` at ``api.openai.com``) is billed as the vendor its host
        names (``openai``). An override still matches the id first (``acme/gpt-4o``), then the
        label (``openai/gpt-4o``), then the model. No labels: this book itself."""
        if not labels:
            return self
        book = copy.copy(self)
        book._labels = {**self._labels, **labels}
        return book

    def label(self, provider: str) -> str:
        """The provider label ``provider`` is priced as (itself unless :meth:`with_labels` said)."""
        return self._labels.get(provider, provider)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, use_library: bool = True) -> PriceBook:
        """``{"gpt-4o": {"input": 2.5, "output": 10}, "vllm/*": {"input": 0, "output": 0}}``;
        also accepts ``{"models": {...}}`` (the price-file shape)."""
        if data is None:
            return cls(use_library=use_library)
        if not isinstance(data, Mapping):
            raise ProviderError("bad-override", "prices must be an object of model -> price")
        if set(data) == {"models"} and isinstance(data["models"], Mapping):
            data = data["models"]
        elif len(data) == 1 and str(next(iter(data))).lower() != "models" and did_you_mean(
                str(next(iter(data))).lower(), ["models"]):
            key = str(next(iter(data)))  # `{modles: {...}}`: a misspelled `models`, not a model
            raise ProviderError("bad-override", f"`{key}` holds no price: write the models under "
                                "`models:` (`{models: {gpt-4o: {input: 2.5, output: 10}}}`)")
        return cls({str(k): ModelPrice.from_mapping(str(k), v) for k, v in data.items()}, use_library=use_library)

    def _override(self, provider: str, model: str, label: str,
                  tier: str | None = None) -> tuple[str, ModelPrice] | None:
        """The override for ``model``; at a service ``tier``, the tier's own first (a key ending
        in ``@tier``: ``anthropic/claude-opus-4-8@priority``, ``bedrock/*@flex``), then the model's."""
        if tier is not None and self._tiered:
            hit = self._lookup(provider, f"{model}@{tier}", label, True)
            if hit is not None:
                return hit
        return self._lookup(provider, model, label, False)

    def _lookup(self, provider: str, model: str, label: str, tiered: bool) -> tuple[str, ModelPrice] | None:
        """The override for ``model``: exact keys, then patterns (``tiered``: only the keys of a tier)."""
        keys = (f"{provider}/{model}", model) if label == provider else (
            f"{provider}/{model}", f"{label}/{model}", model)
        for key in keys:
            if key in self._exact:
                return key, self._exact[key]
        for pattern, price in self._globs:
            if (not tiered or "@" in pattern) and any(fnmatch.fnmatchcase(key, pattern) for key in keys):
                return pattern, price
        return None

    def warm(self) -> None:
        """Load genai-prices' catalog now rather than at the first priced request (~150 ms of
        imports and ~50,000 objects): a server calls it at start-up, so that its first request
        costs what the others do and the catalog is in the heap it freezes (``serve``)."""
        if self.use_library:
            self._library.warm()

    def cost(self, provider: str, model: str | None, usage: Usage, *, at: datetime | None = None) -> Cost:
        """The cost of ``usage`` on ``model`` at ``provider``, and of what its server-side tools
        ran on models of their own (:attr:`Usage.other_models`), each at its own model's price:
        unknown when any is (a figure the provider reported holds them all already). A usage
        that is the sum of those models' (:attr:`Usage.by_parts`: Groq's compound systems) is
        priced as its parts alone, unless an override prices ``model`` itself."""
        cost = self._own_cost(provider, model, usage, at)
        inp: Decimal | None
        out: Decimal | None
        if usage.by_parts and usage.other_models:
            if cost.source in ("override", "provider"):
                return cost
            cost = Cost(Decimal(0), "genai-prices", Decimal(0), Decimal(0), model=model)  # its parts' alone
            usd, inp, out, what = Decimal(0), Decimal(0), Decimal(0), "a model it ran"
        elif not usage.other_models or cost.usd is None or cost.source == "provider":
            return cost
        else:
            usd, inp, out, what = cost.usd, cost.input_usd, cost.output_usd, "a tool's use of"
        for name, part in usage.other_models:
            got = self._own_cost(provider, name, part, at)
            if got.usd is None:
                return Cost(None, "unknown", reason=f"{what} `{name}`: {got.reason}", model=cost.model)
            usd += got.usd
            inp = inp + got.input_usd if inp is not None and got.input_usd is not None else None
            out = out + got.output_usd if out is not None and got.output_usd is not None else None
        return replace(cost, usd=usd, input_usd=inp, output_usd=out)

    def _own_cost(self, provider: str, model: str | None, usage: Usage, at: datetime | None) -> Cost:
        if not model:
            return Cost(None, "unknown", reason="no model in request or response")
        label = self._labels.get(provider, provider) if self._labels else provider
        hit = self._override(provider, model, label, usage.service_tier)
        if hit is not None:
            key, price = hit
            inp, out = price.cost(usage)
            return Cost(inp + out, "override", inp, out, reason=price.audio_note(usage) if usage.units else None,
                        model=key)
        if usage.reported_usd is not None and self.use_reported and label in REPORTED_COST:
            return Cost(usage.reported_usd, "provider", model=model)
        if not self.use_library:
            return Cost(None, "unknown", reason=f"no price override for `{model}`")
        lib_provider = LIBRARY_PROVIDERS.get(label, label)
        if lib_provider is None:
            return Cost(None, "unknown", reason=f"`{provider}` is self-hosted: set a price override for `{model}`")
        return self._library.cost(lib_provider, model, usage, at)


class LibraryPrices:
    """genai-prices, remembered: the model a ``(provider, model)`` names is looked up once, and
    the cost of a usage once per price in force and token counts (bounded: ``max_models``
    models, ``max_costs`` costs; the oldest entry goes first). The answer is the library's
    own: on a miss, computed from the library's plan for the price and the usage's shape
    (:mod:`.price_plan`, ~5 us), or by its own call (~100 us) where no plan covers it; a hit
    ~2 us. The price in force is chosen for each request's time as the library chooses it, so
    a price that changes over time or by the hour is never answered from a stale entry."""

    def __init__(self, *, max_models: int = 1024, max_costs: int = 4096) -> None:
        self.max_models = max_models
        self.max_costs = max_costs
        self._models: dict[tuple[str, str], tuple[Any, Any] | str] = {}
        self._costs: dict[tuple[int, int, int, int, int, int], tuple[Any, Cost]] = {}
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Import genai-prices and build its catalog (nothing when it is not installed)."""
        try:
            from genai_prices import data_snapshot  # noqa: PLC0415 - optional dependency
        except ImportError:
            return
        data_snapshot.get_snapshot()

    def cost(self, provider_id: str, model: str, usage: Usage, at: datetime | None) -> Cost:
        found = self._models.get((provider_id, model))  # (a price found once: no import statement a request)
        if found is None:
            try:
                from genai_prices import data_snapshot  # noqa: PLC0415 - optional dependency, loaded on first use
            except ImportError:
                return Cost(None, "unknown", reason="genai-prices is not installed and no override matches")
            try:
                found = _find(data_snapshot, provider_id, model)
            except Exception as exc:  # noqa: BLE001 - a library failure is an unknown price, not a crash
                return Cost(None, "unknown", reason=f"price lookup failed: {type(exc).__name__}")
            self._keep(self._models, (provider_id, model), found, self.max_models)
        if isinstance(found, str):
            return Cost(None, "unknown", reason=found)
        lib_provider, info = found
        at = at or datetime.now(tz=UTC)
        try:
            price = info.get_prices(at)
        except Exception as exc:  # noqa: BLE001
            return Cost(None, "unknown", reason=f"price lookup failed: {type(exc).__name__}")
        if not usage.units and _billed_otherwise(price):
            # billed by something else than tokens (whisper-1 by the second, tts-1 by the
            # character, a rerank by the search) and the answer named none of it: unknown, never $0
            return Cost(None, "unknown", reason=f"`{model}` is not billed by the token and the answer "
                        "named none of what it is billed by")
        thought = bool(usage.reasoning_tokens) and getattr(price, "output_reasoning_mtok", None) is not None
        if usage.units or usage.service_tier or thought:
            # priced apart (reasoning too, where the model prices it: sonar-deep-research), or at a
            # tier's prices: the library's own call
            added, unknown = fill(lib_provider.id, model, info.id, price, usage.units) if usage.units else ({}, None)
            if unknown is not None:  # a count the vendor bills apart, with no price: not its text price
                return Cost(None, "unknown", reason=unknown)
            cost = _library_cost(lib_provider, info, model, usage, at, added, thought)
            if cost.known and usage.service_tier and not _tier_priced(lib_provider, info, usage.service_tier, at):
                cost = replace(cost, reason=f"no `{usage.service_tier}` price is known for `{model}`: priced at "
                               f"the standard price (an override `{model}@{usage.service_tier}` prices it)")
            if cost.known or not usage.units:
                return cost
            # parts the library cannot reconcile with the totals: the totals, at the text prices
            cost = self.cost(provider_id, model, replace(usage, units=()), at)
            return replace(cost, reason="the parts billed apart do not add up: priced as text") if cost.known else cost
        key = (id(price), usage.input_tokens, usage.output_tokens, usage.cached_input_tokens,
               usage.cache_creation_input_tokens, usage.cache_creation_1h_input_tokens)
        hit = self._costs.get(key)
        if hit is not None and hit[0] is price:  # the same price object: `id` was not reused
            return hit[1]
        cost = _planned_cost(lib_provider, info, price, usage) or _library_cost(lib_provider, info, model, usage, at)
        if cost.known:
            self._keep(self._costs, key, (price, cost), self.max_costs)
        return cost

    def _keep(self, cache: dict[Any, Any], key: Any, value: Any, bound: int) -> None:
        with self._lock:
            while len(cache) >= bound:
                del cache[next(iter(cache))]
            cache[key] = value


def _billed_otherwise(price: Any) -> bool:
    """Whether a genai-prices price bills something, but not tokens (whisper-1's audio hours,
    tts-1's characters): a usage of tokens alone cannot be priced by it. A price of nothing at
    all (OpenAI's moderation models) is free: $0 is its answer."""
    if getattr(price, "input_mtok", None) is not None or getattr(price, "output_mtok", None) is not None:
        return False
    fields = getattr(price, "__dict__", None) or {name: getattr(price, name, None)
                                                  for name in getattr(price, "__slots__", ())}
    return any(value is not None for value in fields.values())


def _units(usage: Usage) -> dict[str, int]:
    """``usage.units`` as genai-prices takes them. Cache reads and an audio (image, video) part
    of the input overlap in the cached audio: the library wants that count told, and a usage
    that does not break its cache reads down by modality has read none of it from the cache
    (its cached tokens are priced as text reads, its audio at the audio price)."""
    units = dict(usage.units)
    if usage.cached_input_tokens:
        for name in list(units):
            if name.startswith("input_"):
                units.setdefault(f"cache_{name.split('_')[1]}_read_tokens", 0)
    return units


def _find(data_snapshot: Any, provider_id: str, model: str) -> tuple[Any, Any] | str:
    """The library's provider and model for a request's ``(provider, model)``, or why there is
    none: what ``DataSnapshot.find_provider_model(model, None, provider_id, None)`` answers,
    without its caches. Those keep every model name they are asked (the answer for each
    spelling, found or not, and the lower-cased name), for the life of the process; the names
    are the clients' own, so a client spelling models at will (``claude-3-5-sonnet-1``,
    ``-2``, ... all match) grew the gateway without end. :class:`LibraryPrices` keeps its
    answers, bounded."""
    snapshot = data_snapshot.get_snapshot()
    provider = data_snapshot.find_provider_by_id(snapshot.providers, provider_id)
    info = provider.find_model(_library_name(provider_id, model), all_providers=snapshot.providers) \
        if provider is not None else None
    if info is None:
        return f"no known price for `{model}` at `{provider_id}`"
    return provider, info


def _library_name(provider_id: str, model: str) -> str:
    """The name genai-prices knows a model by: Vertex AI's OpenAI-compatible endpoint names
    Google's models with their publisher (``google/gemini-2.5-flash``), an answer of Google's may
    name its resource (``models/gemini-2.5-flash``), genai-prices neither."""
    return model.removeprefix("google/").removeprefix("models/") if provider_id == "google" else model


def _planned_cost(provider: Any, info: Any, price: Any, usage: Usage) -> Cost | None:
    """The library's cost from its plan for this price and usage shape (~5 us against ~100:
    :mod:`.price_plan`), or None when the library's own call must answer."""
    values = counts(usage)
    plan = plan_for(provider, info, price, values) if values is not None else None
    got = plan.cost(values) if plan is not None else None  # type: ignore[arg-type]
    if got is None:
        return None
    total, inp, out = got
    return Cost(total, "genai-prices", inp, out, model=info.id)


def _price_context(provider_id: str, tier: str) -> dict[str, str]:
    """genai-prices' price context of a ``Usage.service_tier``: a batch's requests
    (``batch``: providers/batches.py) at its ``processing: batch`` prices, Anthropic's fast mode
    (``usage.speed: fast``) at its ``speed: fast`` ones, any other tier by its name."""
    if tier == "batch":
        return {"processing": "batch"}
    if tier == "fast" and provider_id == "anthropic":
        return {"speed": "fast"}
    return {"service_tier": tier}


def _tier_priced(provider: Any, info: Any, tier: str, at: datetime) -> bool:
    """Whether genai-prices has a price for ``tier`` on ``info`` (a price variant, in force at
    ``at``, that the tier's price context selects): where it has none, its answer is the
    standard price (Anthropic's Priority Tier, Bedrock's tiers, a batch of a model without a
    batch price)."""
    context = _price_context(provider.id, tier)
    if not any(model is info for model in provider.models):  # found in another provider's list: no context
        return False
    return any(all(context.get(k) == v for k, v in variant.when.items())
               and (variant.constraint is None or variant.constraint.active(at))
               for variant in info.price_variants or ())


def _library_cost(provider: Any, info: Any, model: str, usage: Usage, at: datetime,
                  added: Mapping[str, Decimal] | None = None, thought: bool = False) -> Cost:
    """genai-prices' own call; ``added``: prices its snapshot lacks (:mod:`.price_gaps`), set
    on the price in force before it is applied; ``thought``: the reasoning tokens told apart
    (a model that prices them apart from the output)."""
    import genai_prices  # noqa: PLC0415 - optional dependency, loaded on first use

    counted = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cached_input_tokens or None,
        cache_write_tokens=usage.cache_creation_input_tokens or None,
        cache_write_1h_tokens=usage.cache_creation_1h_input_tokens or None,
        output_reasoning_tokens=usage.reasoning_tokens if thought else None,
        **_units(usage),
    )
    context = _price_context(provider.id, usage.service_tier) if usage.service_tier else None
    try:
        if added:
            price = copy.copy(info.get_prices(at, context))
            price.__dict__.update(added)
            got = price.calc_price(counted)
            return Cost(Decimal(got["total_price"]), "genai-prices", Decimal(got["input_price"]),
                        Decimal(got["output_price"]), model=info.id)
        calc = info.calc_price(counted, provider, genai_request_timestamp=at, price_context=context)
    except LookupError:
        return Cost(None, "unknown", reason=f"no known price for `{model}` at `{provider.id}`")
    except Exception as exc:  # noqa: BLE001 - a library failure is an unknown price, not a crash
        return Cost(None, "unknown", reason=f"price lookup failed: {type(exc).__name__}")
    return Cost(
        Decimal(calc.total_price),
        "genai-prices",
        Decimal(calc.input_price),
        Decimal(calc.output_price),
        model=getattr(calc.model, "id", model),
    )
