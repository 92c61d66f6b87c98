"""Planning: a compiled route, a classified request and live metrics -> a :class:`Plan`.

1. ``max_input_tokens``: a request over it is refused (413, ngrok's ERR_NGROK_3811).
2. What the client asked for: ``model`` then the body's ``models: [...]`` fallbacks, each
   ``gpt-4o`` (the catalog: every provider serving that id or alias, configured ones
   first), ``provider:model`` (that provider; an unknown model passes through with
   ``m.known == false``) or ``ngrok/auto`` (the strategies choose among every model).
   ``only_allow_configured_providers`` / ``_models`` refuse the others (403
   ``provider_not_allowed`` / ``model_not_allowed``); a name nothing knows is 422
   (ERR_NGROK_3804).
3. Requested models are dropped, each with its reason, when their provider or the model
   is disabled, their provider does not speak the request's API format, or the input is
   over the model's context window.
4. ``model_selection.strategy``: the first strategy returning a non-empty list wins; an
   erroring strategy is recorded and the next one runs. When the client named models,
   ``ai.models`` is those models and the strategy only filters them (the client's order is
   kept); with ``ngrok/auto`` it is every model and the strategy's order is the order.
   Nothing left: 422 (ERR_NGROK_3803 after an error, 3806 for a result that is no model,
   else 3805).
5. Keys: a provider's configured keys in order, or as ``api_key_selection`` orders them
   (per provider, once per plan); a provider without configured keys gives one candidate
   with ``key_id`` None (no key of ours). Candidates: for each model in order, its keys in
   order; a (provider, model, key) never twice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..cel.runtime.values import CelError
from ..providers import AiRequest
from .elements import Elements, key_elements
from .model import ApiFormat, Candidate, MetricsSnapshot, ModelInfo, Plan, StrategyResult
from .selection import MODELS_OF, RNG

if TYPE_CHECKING:
    from .compile import CompiledRoute, CompiledStrategy

__all__ = ["build_plan", "requested_models", "AUTO"]

AUTO = "ngrok/auto"
_FORMATS = ("openai", "anthropic", "gemini")


def requested_models(ai: AiRequest) -> tuple[str, ...]:
    """The model names the client asked for, in its order: ``model``, then ``models``."""
    names = ([ai.model] if ai.model else []) + list(getattr(ai, "models", ()) or ())
    return tuple(dict.fromkeys(names))


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.error = (status, code, message)


def _resolve(route: CompiledRoute, name: str) -> list[ModelInfo]:
    """The models a requested name stands for (raises :class:`_Refused`)."""
    low = name.lower()
    head, sep, tail = name.partition(":")
    if sep and head.lower() in route.provider_names:
        pid = route.provider_names[head.lower()]
        if pid not in route.providers:
            raise _Refused(403, "provider_not_allowed", f"provider `{pid}` is not allowed by this gateway "
                           "(only_allow_configured_providers)")
        m = route.by_provider.get(pid, {}).get(tail.lower())
        if m is not None:
            return [m]
        if route.only_configured_models:
            raise _Refused(403, "model_not_allowed", f"model `{name}` is not allowed by this gateway "
                           "(only_allow_configured_models)")
        return [ModelInfo(id=tail, provider_id=pid, known=False)]
    found = route.by_name.get(low)
    if found:
        return list(found)
    for pid, per in route.catalog_models.items():
        if low in per:
            if pid not in route.providers:
                raise _Refused(403, "provider_not_allowed", f"provider `{pid}` of model `{name}` is not "
                               "allowed by this gateway (only_allow_configured_providers)")
            raise _Refused(403, "model_not_allowed", f"model `{name}` is not allowed by this gateway "
                           "(only_allow_configured_models)")
    if sep:
        raise _Refused(422, "ERR_NGROK_3804", f"No matching models found: unknown provider `{head}`")
    raise _Refused(422, "ERR_NGROK_3804", f"No matching models found: `{name}` is not in the catalog; "
                   f"prefix it with a provider (`openai:{name}`) to pass it through")


def _why_not(route: CompiledRoute, m: ModelInfo, fmt: str, tokens: int) -> str | None:
    p = route.providers[m.provider_id]
    if p.disabled:
        return f"provider `{p.id}` is disabled"
    if m.disabled:
        return "model is disabled"
    if fmt not in p.formats:
        return f"provider `{p.id}` does not speak the {fmt} API format ({', '.join(p.formats)} only)"
    if m.max_context_window and tokens > m.max_context_window:
        return f"input of {tokens} tokens is over the model's context window of {m.max_context_window}"
    return None


def _as_list(value: Any, what: str, source: str) -> list[dict[str, Any]]:
    """A strategy's result as a list of elements; a :class:`_Refused` (3806) for another type."""
    if isinstance(value, dict) and "_ref" in value:
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) and "_ref" in v for v in value):
        return value
    kind = type(value).__name__
    raise _Refused(422, "ERR_NGROK_3806", f"Expression '{source}' must return an {what} or []{what}, got {kind}")


def _run(strategies: tuple[CompiledStrategy, ...], act: dict[str, Any], what: str,
         keep: Any, log: list[StrategyResult]) -> tuple[list[Any], tuple[str, str] | None]:
    """The first non-empty result of ``strategies`` (after ``keep``), and the first error."""
    first_error: tuple[str, str] | None = None
    for s in strategies:
        if s.program is None:
            log.append(StrategyResult(s.source, 0, s.error))
            first_error = first_error or ("ERR_NGROK_3803", s.error or "")
            continue
        try:
            got = _as_list(s.program.function(act), what, s.source)
        except CelError as e:
            log.append(StrategyResult(s.source, 0, str(e)))
            first_error = first_error or ("ERR_NGROK_3803", str(e))
            continue
        except _Refused as e:
            log.append(StrategyResult(s.source, 0, e.error[2]))
            first_error = first_error or (e.error[1], e.error[2])
            continue
        chosen = keep(got)
        log.append(StrategyResult(s.source, len(got)))
        if chosen:
            return chosen, None
    return [], first_error


def build_plan(route: CompiledRoute, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None,
               rng: random.Random | None) -> Plan:
    fmt: ApiFormat = ai.api if ai.api in _FORMATS else "openai"  # type: ignore[assignment]
    requested = requested_models(ai)
    skipped: list[Candidate] = []
    log: list[StrategyResult] = []
    try:
        return _plan(route, ai, act, metrics, rng, fmt, requested, skipped, log)
    except _Refused as e:
        return Plan(fmt, requested, tuple(log), tuple(skipped), e.error)


def _plan(route: CompiledRoute, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None,
          rng: random.Random | None, fmt: ApiFormat, requested: tuple[str, ...], skipped: list[Candidate],
          log: list[StrategyResult]) -> Plan:
    limit = route.config.max_input_tokens
    if limit is not None and ai.input_tokens > limit:
        raise _Refused(413, "ERR_NGROK_3811", f"Input too large: {ai.input_tokens} tokens (max {limit}). "
                       "Shorten your prompt.")
    els: Elements = route.elements
    auto = not requested or any(n.lower() == AUTO for n in requested)
    scope = dict(act)
    scope["ai.providers"] = els.providers[fmt]
    scope["ai.authors"] = els.authors[fmt]
    token = RNG.set(rng) if rng is not None else None
    models_token = MODELS_OF.set(els.models_of[fmt])
    try:
        if auto:
            if not requested and not route.model_strategies:
                raise _Refused(422, "ERR_NGROK_3804", "No matching models found: the request names no model")
            pool = els.with_metrics(els.models[fmt], metrics)
            if not pool:
                raise _Refused(422, "ERR_NGROK_3805", f"Model selection returned no results: no provider "
                               f"speaks the {fmt} API format")
            if route.model_strategies:
                scope["ai.models"] = pool
                chosen, error = _run(route.model_strategies, scope, "AIModel", _unique, log)
                if not chosen:
                    raise _no_models(error)
            else:
                chosen = pool
            models = [els.info[el["_ref"]] for el in chosen]
        else:
            models = _named(route, requested, fmt, ai.input_tokens, skipped)
            if route.model_strategies:
                pool = els.with_metrics([els.element(m) for m in models], metrics)
                scope["ai.models"] = pool
                chosen, error = _run(route.model_strategies, scope, "AIModel", _keeper(pool), log)
                if not chosen:
                    raise _no_models(error)
                kept = {el["_ref"] for el in chosen}
                for m in models:
                    if (m.provider_id, m.id) not in kept:
                        skipped.append(Candidate(m.provider_id, m.id, None, "not chosen by model_selection"))
                models = [m for m in models if (m.provider_id, m.id) in kept]
        candidates = _with_keys(route, models, scope, metrics, log, skipped)
    finally:
        MODELS_OF.reset(models_token)
        if token is not None:
            RNG.reset(token)
    error = None
    if not any(c.skipped_because is None for c in candidates):
        error = (422, "ERR_NGROK_3808", "API key selection strategy failed: no key chosen for any candidate")
    return Plan(fmt, requested, tuple(log), tuple(candidates) + tuple(skipped), error)


def _no_models(error: tuple[str, str] | None) -> _Refused:
    if error is not None:
        code, message = error
        if code == "ERR_NGROK_3806":
            return _Refused(422, code, message)
        return _Refused(422, code, f"Model selection failed: {message}")
    return _Refused(422, "ERR_NGROK_3805", "Model selection returned no results: every strategy returned "
                    "no model (of those the client named, when it named some)")


def _unique(got: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for el in got:
        if el["_ref"] not in seen:
            seen.add(el["_ref"])
            out.append(el)
    return out


def _keeper(pool: list[dict[str, Any]]) -> Any:
    refs = {el["_ref"] for el in pool}
    return lambda got: [el for el in got if el["_ref"] in refs]


def _named(route: CompiledRoute, requested: tuple[str, ...], fmt: str, tokens: int,
           skipped: list[Candidate]) -> list[ModelInfo]:
    """The requested models in the client's order (each name's providers in catalog order),
    the unusable ones moved to ``skipped`` with their reason."""
    out: list[ModelInfo] = []
    seen: set[tuple[str, str]] = set()
    refusal: _Refused | None = None
    for name in requested:
        try:
            found = _resolve(route, name)
        except _Refused as e:
            refusal = refusal or e
            skipped.append(Candidate("", name, None, e.error[2]))
            continue
        for m in found:
            ref = (m.provider_id, m.id)
            if ref in seen:
                continue
            seen.add(ref)
            why = _why_not(route, m, fmt, tokens)
            if why is None:
                out.append(m)
            else:
                skipped.append(Candidate(m.provider_id, m.id, None, why))
    if not out:
        if refusal is not None:
            raise refusal
        raise _Refused(422, "ERR_NGROK_3805", "Model selection returned no results: " + "; ".join(
            f"{c.provider}:{c.model}: {c.skipped_because}" for c in skipped))
    return out


def _with_keys(route: CompiledRoute, models: list[ModelInfo], scope: dict[str, Any],
               metrics: MetricsSnapshot | None, log: list[StrategyResult],
               skipped: list[Candidate]) -> list[Candidate]:
    keys_of: dict[str, list[str | None] | str] = {}
    out: list[Candidate] = []
    seen: set[tuple[str, str, str | None]] = set()
    for m in models:
        pid = m.provider_id
        keys = keys_of.get(pid)
        if keys is None:
            keys = keys_of[pid] = _keys(route, pid, scope, metrics, log)
        if isinstance(keys, str):
            skipped.append(Candidate(pid, m.id, None, keys))
            continue
        for kid in keys:
            triple = (pid, m.id, kid)
            if triple not in seen:
                seen.add(triple)
                out.append(Candidate(pid, m.id, kid))
    return out


def _keys(route: CompiledRoute, pid: str, scope: dict[str, Any], metrics: MetricsSnapshot | None,
          log: list[StrategyResult]) -> list[str | None] | str:
    """The key ids of a provider in try order ([None]: no configured key), or why none."""
    provider = route.providers[pid]
    if not provider.keys:
        return [None]
    if not route.key_strategies:
        return [k.id for k in provider.keys]
    scope["ai.keys"] = key_elements(provider, metrics)
    chosen, error = _run(route.key_strategies, scope, "AIKey", _unique, log)
    if not chosen:
        detail = f": {error[1]}" if error else ""
        return f"api_key_selection chose no key of provider `{pid}`{detail}"
    return [el["id"] for el in chosen]
