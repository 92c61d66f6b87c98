"""The built-in routing catalog: providers (:mod:`.catalog_data`) and their models, with
prices and context windows from genai-prices' bundled snapshot (never the network).

Built once per process, on first use (:func:`builtin`); a compiled route merges its config
into it once (:mod:`.compile`), and planning only reads the result.

Names are case-insensitive (ngrok: ``GPT-4o`` is ``gpt-4o``): every index is keyed by the
lower-cased id or alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any

from .catalog_data import AUTHOR_PREFIXES, BUILTIN_PROVIDERS, FORMAT_BASE_URLS, MODEL_ALIASES
from .model import ApiFormat, ModelInfo, ProviderInfo

__all__ = ["Catalog", "author_of", "base_url_for", "builtin", "PRICE_TYPES"]

#: ngrok's ``underCost`` price types -> the key of a model's price table (USD)
PRICE_TYPES: dict[str, str] = {
    "text.input": "input", "text.output": "output",
    "text.input_cache_write": "input_cache_write", "text.input_cache_read": "input_cache_read",
    "text.input_batch": "input_batch", "text.output_batch": "output_batch",
    "tools.web_search.per_search_call": "web_search",
    "tools.code_interpreter.per_execution_call": "code_interpreter",
    "tools.file_search.per_storage_gb": "file_search",
    "tools.image_generation.per_image_generation": "image_generation",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Catalog:
    """Providers and models, in a stable order, and their prices (USD per million tokens,
    keyed ``(provider, model)``; a price the data does not give is absent)."""

    providers: tuple[ProviderInfo, ...]
    models: tuple[ModelInfo, ...]
    prices: Mapping[tuple[str, str], Mapping[str, float]]
    matchers: tuple[tuple[ModelInfo, Any], ...] = ()
    """Each genai-prices model with its match clause (prefixes, dated versions), in order."""

    def match(self, name: str, provider_id: str | None = None) -> ModelInfo | None:
        """The catalog model genai-prices matches ``name`` to (``claude-3-5-sonnet-20241022``
        -> ``claude-3-5-sonnet``), of ``provider_id`` when given; None when none does. The
        model is named ``name`` itself (the client's exact version goes upstream) and
        priced and limited as the matched one."""
        low = name.lower()
        for m, clause in self.matchers:
            if (provider_id is None or m.provider_id == provider_id) and clause.is_match(low):
                return replace(m, id=name, aliases=())
        return None

    def provider_ids(self) -> dict[str, str]:
        """Lower-cased id or alias -> provider id."""
        out: dict[str, str] = {}
        for p in self.providers:
            for name in (p.id, *p.aliases):
                out.setdefault(name.lower(), p.id)
        return out


def base_url_for(provider: ProviderInfo, fmt: ApiFormat) -> str | None:
    """Where ``provider`` serves requests of format ``fmt`` (Gemini's native API is not under
    Google's OpenAI-compatible base URL); a configured ``base_url`` always wins."""
    default = BUILTIN_PROVIDERS.get(provider.id, {}).get("base_url")
    if provider.base_url != default:
        return provider.base_url
    return FORMAT_BASE_URLS.get((provider.id, fmt), provider.base_url)


def author_of(model_id: str, provider_id: str) -> str:
    """The author of a model: the ``author/`` prefix of its id, else by its first word
    (``gpt`` -> openai, ``llama`` -> meta...), else its provider."""
    head, slash, _ = model_id.partition("/")
    low = model_id.lower()
    if slash:
        for prefix, author in AUTHOR_PREFIXES:
            if head.lower().startswith(prefix):
                return author
        return head.lower()
    for prefix, author in AUTHOR_PREFIXES:
        if low.startswith(prefix):
            return author
    return provider_id


def _base(value: Any) -> float | None:
    """A genai-prices price (a Decimal, or tiered: its base) as a float."""
    if value is None:
        return None
    base = getattr(value, "base", value)
    return float(base) if isinstance(base, (Decimal, int, float)) else None


def _current(prices: Any) -> Any:
    """The price that applies now: genai-prices lists conditional prices oldest first."""
    if isinstance(prices, list):
        return prices[-1].prices if prices else None
    return prices


def _price_table(p: Any) -> dict[str, float]:
    if p is None:
        return {}
    pairs = {
        "input": _base(getattr(p, "input_mtok", None)),
        "output": _base(getattr(p, "output_mtok", None)),
        "input_cache_read": _base(getattr(p, "cache_read_mtok", None)),
        "input_cache_write": _base(getattr(p, "cache_write_mtok", None)),
    }
    per_k = _base(getattr(p, "web_searches_kcount", None))
    if per_k is not None:
        pairs["web_search"] = per_k / 1000
    return {k: v for k, v in pairs.items() if v is not None}


def _equals(clause: Any) -> list[str]:
    """The exact names a genai-prices match clause accepts (its ``equals``, through ``or``)."""
    if hasattr(clause, "equals"):
        return [clause.equals]
    return [n for c in getattr(clause, "or_", None) or () for n in _equals(c)]


@cache
def builtin() -> Catalog:
    """The built-in catalog (built on first use, then shared)."""
    from genai_prices import data

    by_id = {p.id: p for p in data.providers}
    aliases_of: dict[tuple[str, str], list[str]] = {}
    for alias, key in MODEL_ALIASES.items():
        aliases_of.setdefault(key, []).append(alias)
    providers: list[ProviderInfo] = []
    models: list[ModelInfo] = []
    prices: dict[tuple[str, str], dict[str, float]] = {}
    matchers: list[tuple[ModelInfo, Any]] = []
    for pid, spec in BUILTIN_PROVIDERS.items():
        providers.append(ProviderInfo(
            id=pid, aliases=tuple(spec["aliases"]), base_url=spec["base_url"], formats=spec["formats"],
            auth=spec["auth"], builtin=True,
        ))  # fmt: skip
        source = by_id.get(spec["prices"]) if spec["prices"] else None
        seen: set[str] = set()
        for m in source.models if source is not None else ():
            if m.id.lower() in seen:
                continue
            seen.add(m.id.lower())
            table = _price_table(_current(m.prices))
            names = [n for n in _equals(m.match) if n.lower() != m.id.lower()]
            names += aliases_of.pop((pid, m.id), [])
            info = ModelInfo(
                id=m.id, provider_id=pid, aliases=tuple(dict.fromkeys(names)),
                author_id=author_of(m.id, pid), known=True, custom=False,
                input_per_mtok=Decimal(str(table["input"])) if "input" in table else None,
                output_per_mtok=Decimal(str(table["output"])) if "output" in table else None,
                max_context_window=m.context_window,
            )  # fmt: skip
            models.append(info)
            matchers.append((info, m.match))
            if table:
                prices[(pid, m.id)] = table
    # ngrok's aliases whose target genai-prices does not list: the target is a known model
    for (pid, mid), names in aliases_of.items():
        models.append(ModelInfo(id=mid, provider_id=pid, aliases=tuple(names), author_id=author_of(mid, pid)))
    return Catalog(tuple(providers), tuple(models), prices, tuple(matchers))
