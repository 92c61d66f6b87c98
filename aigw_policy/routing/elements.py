"""The values selection strategies read: one dict per model, provider, author and key (the
fields of :data:`aigw_policy.routing.selection.OBJECTS`), built once per compiled route and
grouped by API format; live metrics are laid over a copy per plan, only for the pairs that
have some.

Hidden keys CEL cannot name (the checker knows no such fields): ``_ref``, the
``(provider, model)`` or ``(provider, key id)`` an element stands for; ``_prices``, a
model's known prices (``underCost`` and ``sortBy('price')`` tell unknown from zero);
``_models``, a provider's enabled models (``getModel``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .model import ApiFormat, MetricsSnapshot, ModelInfo, ProviderInfo

if TYPE_CHECKING:
    from .compile import CompiledRoute, Extra

__all__ = ["Elements", "key_elements", "metric_scope", "model_metrics"]

_FORMATS: tuple[ApiFormat, ...] = ("openai", "anthropic", "gemini")
_PRICE_KEYS = ("input", "output", "input_cache_read", "input_cache_write", "input_batch", "output_batch")
_LATENCY = ("upstream_ms_avg", "upstream_ms_p95", "gateway_ms_avg", "gateway_ms_p95",
            "time_to_first_token_ms_avg", "time_to_first_token_ms_p95")  # fmt: skip
_ERRORS = ("total", "timeout", "rate_limit", "client", "server")
_TOKENS = ("provider_input", "provider_output", "estimated_input", "estimated_output")
_QUOTA = ("remaining_requests", "remaining_tokens", "limit_requests", "limit_tokens")


def _floats(source: Any, names: tuple[str, ...]) -> dict[str, float]:
    """``source``'s numbers under ``names`` as floats (absent or not a number: 0.0)."""
    if type(source) is not dict:
        return dict.fromkeys(names, 0.0)
    out = {}
    for n in names:
        v = source.get(n)
        out[n] = float(v) if type(v) in (int, float) else 0.0
    return out


def metric_scope(data: Any) -> dict[str, Any]:
    """One metrics scope in ngrok's shape from what the store measured (absent: zero)."""
    src = data if type(data) is dict else {}
    count = src.get("request_count")
    tokens = src.get("token")
    tokens = tokens if type(tokens) is dict else {}
    return {
        "request_count": count if type(count) is int else 0,
        "latency": _floats(src.get("latency"), _LATENCY),
        "error_rate": _floats(src.get("error_rate"), _ERRORS),
        "token": {n: v if type(v := tokens.get(n)) is int else 0 for n in _TOKENS},
    }


def model_metrics(data: Any, per_key: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A model element's ``metrics``: its pair's numbers (``data``) and its keys' (by key id)."""
    scope = metric_scope(data)
    keys = {k: metric_scope(v) for k, v in (per_key or {}).items()}
    return {"global": scope, "region": scope, "account": scope, "endpoint": scope, "api_keys": keys}


_NO_METRICS = model_metrics(None)


def _quota(data: Any) -> dict[str, int | None]:
    src = data if type(data) is dict else {}
    return {n: v if type(v := src.get(n)) is int else None for n in _QUOTA}


def key_elements(provider: ProviderInfo, metrics: MetricsSnapshot | None) -> list[dict[str, Any]]:
    """``ai.keys`` for one provider: its configured keys, in order, with live quota and errors."""
    seen = (metrics or {}).get("keys") or {}
    out = []
    for k in provider.keys:
        m = seen.get((provider.id, k.id)) or {}
        out.append({"id": k.id, "value": k.value, "provider_id": provider.id, "quota": _quota(m.get("quota")),
                    "error_rate": _floats(m.get("error_rate"), _ERRORS), "_ref": (provider.id, k.id)})
    return out


def _provider_element(p: ProviderInfo) -> dict[str, Any]:
    meta = dict(p.metadata)
    return {
        "id": p.id, "id_aliases": list(p.aliases), "display_name": str(meta.get("display_name", p.id)),
        "description": "", "website": "", "base_url": p.base_url or "", "metadata": meta,
        "known": p.builtin, "custom": p.configured and not p.builtin, "disabled": p.disabled, "_models": [],
    }


class Elements:
    """Every element of a compiled route, by API format."""

    def __init__(self, route: CompiledRoute, extras: Mapping[tuple[str, str], Extra]) -> None:
        self.route = route
        self.extras = extras
        self.model: dict[tuple[str, str], dict[str, Any]] = {}
        self.info: dict[tuple[str, str], ModelInfo] = {}
        for m in route.models:
            self.model[(m.provider_id, m.id)] = self.model_element(m)
            self.info[(m.provider_id, m.id)] = m
        #: format -> the enabled models of providers that speak it, in catalog order
        self.models: dict[str, list[dict[str, Any]]] = {}
        self.providers: dict[str, list[dict[str, Any]]] = {}
        self.authors: dict[str, list[dict[str, Any]]] = {}
        #: format -> the refs of ``models[format]``
        self.refs: dict[str, frozenset[tuple[str, str]]] = {}
        self.positions: dict[str, dict[tuple[str, str], int]] = {}
        #: provider id -> ``ai.keys`` without live metrics, and its key ids in order
        self.keys = {pid: key_elements(p, None) for pid, p in route.providers.items()}
        self.key_ids = {pid: tuple(k.id for k in p.keys) for pid, p in route.providers.items()}
        provider_el = {pid: _provider_element(p) for pid, p in route.providers.items()}
        for m in route.models:  # ``provider.getModel(id)`` reads the provider's enabled models
            if not m.disabled:
                provider_el[m.provider_id]["_models"].append(self.model[(m.provider_id, m.id)])
        # ngrok's CEL reference: `ai.models` "returns all available models from configured
        # providers" (every provider's when the action lists none)
        pooled = route.configured_providers
        for fmt in _FORMATS:
            speaks = {pid for pid, p in route.providers.items() if fmt in p.formats and not p.disabled}
            ms = [self.model[(m.provider_id, m.id)] for m in route.models
                  if m.provider_id in speaks and not m.disabled
                  and (not pooled or m.provider_id in pooled)]  # fmt: skip
            self.models[fmt] = ms
            self.refs[fmt] = frozenset(m["_ref"] for m in ms)
            self.positions[fmt] = {m["_ref"]: i for i, m in enumerate(ms)}
            self.providers[fmt] = [provider_el[pid] for pid in route.providers if pid in speaks]
            authors = dict.fromkeys(m["author_id"] for m in ms if m["author_id"])
            self.authors[fmt] = [{"id": a, "id_aliases": [], "display_name": a} for a in authors]

    def element(self, m: ModelInfo) -> dict[str, Any]:
        """The element of a model (built now for an unknown pass-through model)."""
        el = self.model.get((m.provider_id, m.id))
        return el if el is not None else self.model_element(m)

    def model_element(self, m: ModelInfo) -> dict[str, Any]:
        route = self.route
        provider = route.providers.get(m.provider_id)
        extra = self.extras.get((m.provider_id, m.id))
        prices = dict(route.catalog.prices.get((m.provider_id, m.id), {}))
        if m.input_per_mtok is not None:
            prices.setdefault("input", float(m.input_per_mtok))
        if m.output_per_mtok is not None:
            prices.setdefault("output", float(m.output_per_mtok))
        text = {k: prices.get(k, 0.0) for k in _PRICE_KEYS}
        return {
            "id": m.id, "id_aliases": list(m.aliases), "provider_id": m.provider_id,
            "provider_id_aliases": list(provider.aliases) if provider else [],
            "author_id": m.author_id or "", "author_id_aliases": [],
            "display_name": (extra.display_name if extra else None) or m.id,
            "description": (extra.description if extra else None) or "",
            "known": m.known, "custom": m.custom, "disabled": m.disabled,
            "metadata": {**provider.metadata, **m.metadata} if provider else dict(m.metadata),
            "input_modalities": list(extra.input_modalities) if extra else [],
            "output_modalities": list(extra.output_modalities) if extra else [],
            "supported_features": list(extra.supported_features) if extra else [],
            "max_context_window": m.max_context_window or 0, "max_output_tokens": m.max_output_tokens or 0,
            "parameter_count": 0, "quantization": "", "data_training_policy": "", "data_retention_days": 0,
            "data_retention_policy": "", "pricing": {**text, "text": text}, "datacenters": [],
            "metrics": _NO_METRICS, "_ref": (m.provider_id, m.id), "_prices": prices,
        }  # fmt: skip

    @staticmethod
    def with_metrics(items: list[dict[str, Any]], metrics: MetricsSnapshot | None,
                     positions: Mapping[tuple[str, str], int] | None = None) -> list[dict[str, Any]]:
        """``items`` with the live metrics of the pairs the snapshot has (copies of those
        only). ``positions``: ref -> index in ``items``, to visit the snapshot's pairs rather
        than every item when there are fewer."""
        seen = (metrics or {}).get("models")
        if not seen:
            return items
        per_key: dict[tuple[str, str], dict[str, Any]] = {}
        for (pid, mid, kid), data in ((metrics or {}).get("model_keys") or {}).items():
            per_key.setdefault((pid, mid), {})[kid] = data
        out = list(items)
        if positions is not None and len(seen) < len(items):
            for ref, data in seen.items():
                i = positions.get(ref)
                if i is not None:
                    out[i] = {**items[i], "metrics": model_metrics(data, per_key.get(ref))}
            return out
        for i, el in enumerate(items):
            data = seen.get(el["_ref"])
            if data is not None:
                out[i] = {**el, "metrics": model_metrics(data, per_key.get(el["_ref"]))}
        return out
