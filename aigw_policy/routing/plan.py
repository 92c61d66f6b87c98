"""Planning: a compiled route, a classified request and live metrics -> a :class:`Plan`.

0. A request of a vendor's native API (Bedrock's, Cohere's, Ollama's:
   :func:`~aigw_policy.routing.paths.native_format`) is planned as OpenAI's format is, then
   only the candidates of that vendor are kept (none: 422 ``ERR_NGROK_3805``, in the
   client's own error shape).
1. ``max_input_tokens``: a request over it is refused (413, ngrok's ERR_NGROK_3811).
2. What the client asked for: ``model`` then the body's ``models: [...]`` fallbacks, each
   ``gpt-4o`` (the catalog: every provider serving that id or alias, configured ones
   first, each group in alphabetical order of the provider ids, as ngrok tries them), ``provider:model`` (that provider; an unknown model passes through with
   ``m.known == false``) or ``ngrok/auto`` (the strategies choose among ``ai.models``: the
   models of the providers the action lists, every model when it lists none; no strategy is
   ``ai.models`` itself); a request that names no model is ``ngrok/auto``, as ngrok's models
   page says.
   ``only_allow_configured_providers`` / ``_models`` refuse the others (403
   ``provider_not_allowed`` / ``model_not_allowed``); a name nothing knows is 422
   (ERR_NGROK_3804).
3. Requested models are dropped, each with its reason, when their provider or the model
   is disabled, their provider does not speak the request's API format, or the input is
   over the model's context window.
4. ``model_selection.strategy``: the first strategy returning a non-empty list wins; an
   erroring strategy is recorded and the next one runs. When the client named models,
   ``ai.models`` is those models and the strategy only filters them (the client's order is
   kept); with ``ngrok/auto`` it is that pool and the strategy's order is the order.
   Nothing left: 422 (ERR_NGROK_3803 after an error, 3806 for a result that is no model,
   else 3805).
5. Keys: a provider's configured keys in order, or as ``api_key_selection`` orders them
   (per provider, once per plan); a provider without configured keys gives one candidate
   with ``key_id`` None (no key of ours). Candidates: for each model in order, its keys in
   order; a (provider, model, key) never twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..cel.runtime.checks import type_name
from ..cel.runtime.values import CelError
from ..providers import AiRequest
from ..providers.classify import inference_endpoint, interaction_path
from .elements import Elements, key_elements
from .incremental import kept_filter
from .model import ApiFormat, Candidate, MetricsSnapshot, ModelInfo, Plan, RouteFormat, StrategyResult
from .ngrok_messages import input_too_large, not_elements
from .paths import NATIVE, native_format, speaks_native
from .selection import RNG

if TYPE_CHECKING:
    from .compile import CompiledRoute, CompiledStrategy

__all__ = ["AUTO", "UNSUPPORTED", "build_plan", "requested_models"]

AUTO = "ngrok/auto"
UNSUPPORTED = "unsupported_endpoint"
"""The refusal (404) of a request that is no inference API (:func:`~aigw_policy.providers.classify.
inference_endpoint`): the route would lend the provider key to whatever endpoint the client named."""
KEEP_ANSWERS = True
"""Keep each model's answer to an elementwise strategy between snapshots (:mod:`.incremental`);
False: evaluate it over the whole pool each time (the tests compare the two)."""
_FORMATS = ("openai", "anthropic", "gemini")
_NO_MODEL = frozenset(("", ".", ".."))
"""Names passed through to a provider that name no model: sent, they are a path's dot segment
(Bedrock's ``/model/{id}/``: ``/model/../converse`` is ``/converse`` to any server) or empty."""


def requested_models(ai: AiRequest) -> tuple[str, ...]:
    """The model names the client asked for, in its order: ``model``, then ``models``."""
    names = ([ai.model] if ai.model else []) + list(getattr(ai, "models", ()) or ())
    return tuple(dict.fromkeys(names))


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.error = (status, code, message)


def _resolve(route: CompiledRoute, name: str) -> list[ModelInfo]:
    """The models a requested name stands for (raises :class:`_Refused`): an id or alias;
    ``provider:model``; else a model genai-prices matches (``claude-3-5-sonnet-20241022``)."""
    low = name.lower()
    head, sep, tail = name.partition(":")
    if sep and head.lower() in route.provider_names:
        pid = route.provider_names[head.lower()]
        if pid not in route.providers:
            raise _not_allowed("provider", pid)
        m = route.by_provider.get(pid, {}).get(tail.lower())
        if m is not None:
            return [m]
        if route.only_configured_models:
            raise _not_allowed("model", name)
        if tail in _NO_MODEL:  # would be a dot segment of Bedrock's path (`/model/../converse`), or empty
            raise _Refused(422, "ERR_NGROK_3804", f"No matching models found: `{name}` names no model")
        return [route.catalog.match(tail, pid) or ModelInfo(id=tail, provider_id=pid, known=False)]
    found = route.by_name.get(low)
    if found:
        return list(found)
    known = next((m for per in route.catalog_models.values() if (m := per.get(low)) is not None), None)
    known = known or route.catalog.match(name)
    if known is not None:
        if known.provider_id not in route.providers:
            raise _not_allowed("provider", known.provider_id, name)
        if route.only_configured_models:
            raise _not_allowed("model", name)
        return [known]
    if sep:
        raise _Refused(422, "ERR_NGROK_3804", f"No matching models found: unknown provider `{head}`")
    raise _Refused(422, "ERR_NGROK_3804", f"No matching models found: `{name}` is not in the catalog; "
                   f"prefix it with a provider (`openai:{name}`) to pass it through")


def _not_allowed(what: str, name: str, model: str | None = None) -> _Refused:
    """403 ``provider_not_allowed`` / ``model_not_allowed``, its message ngrok's sentence
    (``guides/restricting-access``: "Provider 'google' is not allowed by gateway
    configuration"), then the flag that refused and the model the provider was read from."""
    of = f"; model `{model}`" if model else ""
    flag = "only_allow_configured_providers" if what == "provider" else "only_allow_configured_models"
    return _Refused(403, f"{what}_not_allowed",
                    f"{what.capitalize()} '{name}' is not allowed by gateway configuration ({flag}{of})")


def _why_not(route: CompiledRoute, m: ModelInfo, fmt: str) -> str | None:
    """Why ``m`` cannot be tried for a request of API format ``fmt``, whatever its size."""
    p = route.providers[m.provider_id]
    if p.disabled:
        return f"provider `{p.id}` is disabled"
    if m.disabled:
        return "model is disabled"
    if fmt not in p.formats:
        return f"provider `{p.id}` does not speak the {fmt} API format ({', '.join(p.formats)} only)"
    return None


def _too_long(tokens: int, window: int) -> str:
    return f"input of {tokens} tokens is over the model's context window of {window}"


def _as_list(value: Any, what: str, source: str) -> list[dict[str, Any]]:
    """A strategy's result as a list of elements; a :class:`_Refused` (3806) for another type."""
    if isinstance(value, dict) and "_ref" in value:
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) and "_ref" in v for v in value):
        return value
    raise _Refused(422, "ERR_NGROK_3806", not_elements(source, what, type_name(value)))


class _Pool:
    """What strategies range over: the static elements, the same with live metrics (made on
    first need), the refs they may return, and the key their memoized results are filed under."""

    __slots__ = ("static", "overlay", "metrics", "key", "positions", "_refs", "_live")

    def __init__(self, static: list[dict[str, Any]], overlay: Any, metrics: MetricsSnapshot | None, key: Any,
                 refs: frozenset[Any] | None = None,
                 positions: Mapping[Any, int] | Callable[[], Mapping[Any, int]] | None = None) -> None:
        self.static = static
        self.overlay = overlay
        self.metrics = metrics
        self.key = key
        # ref -> index in static (or what makes it): where elementwise strategies are kept
        self.positions = positions
        self._refs = refs
        self._live: list[dict[str, Any]] | None = None

    def elements(self, live: bool) -> list[dict[str, Any]]:
        if not live or not self.metrics:
            return self.static
        if self._live is None:
            self._live = self.overlay(self.static, self.metrics)
        return self._live

    def keep(self, got: list[dict[str, Any]]) -> tuple[Any, ...]:
        """The refs of ``got`` that are in the pool, each once, in ``got``'s order."""
        if self._refs is None:
            self._refs = frozenset(el["_ref"] for el in self.static)
        refs = self._refs
        return tuple(dict.fromkeys(r for el in got if (r := el["_ref"]) in refs))


def _marker(metrics: MetricsSnapshot | None) -> Any:
    """What identifies a metrics snapshot for the memo: None without metrics, its
    ``version`` (an int a store bumps when its numbers change) when it has one; else
    :data:`_UNVERSIONED`: a strategy reading the metrics of such a snapshot is not memoized
    (holding snapshots, or trusting ``id()``, would keep memory or serve stale results)."""
    if not metrics:
        return None
    version = metrics.get("version")
    return ("version", version) if type(version) is int else _UNVERSIONED


_UNVERSIONED = object()


def _run(route: CompiledRoute, strategies: tuple[CompiledStrategy, ...], scope: dict[str, Any], name: str,
         pool: _Pool, what: str, log: list[StrategyResult]) -> tuple[tuple[Any, ...], tuple[str, str] | None]:
    """The refs of the first strategy with a non-empty result (within the pool), and the
    first error met. A pure strategy's result is memoized on the route per pool (and per
    metrics snapshot object when it reads live metrics); an elementwise one keeps each model's
    answer between snapshots (:mod:`.incremental`), over the auto pool and a named one."""
    first_error: tuple[str, str] | None = None
    memo = route.memo
    for i, s in enumerate(strategies):
        if s.program is None:
            log.append(StrategyResult(s.source, 0, s.error, what=what))
            first_error = first_error or ("ERR_NGROK_3803", s.error or "")
            continue
        hit: Any
        if s.elementwise and pool.positions is not None and KEEP_ANSWERS:  # each model's answer kept (incremental.py)
            key = None
            hit = kept_filter(route, s, ("each", what, i, pool.key), pool.static, pool.positions, pool.metrics,
                              scope, name)
        else:
            marker = _marker(pool.metrics) if s.live else None
            key = (what, i, pool.key, marker) if s.pure and marker is not _UNVERSIONED else None
            hit = memo.get(key) if key is not None else None
        if hit is not None:
            refs, count, error = hit
        else:
            scope[name] = pool.elements(s.live)
            refs, count, error = (), 0, None
            try:
                got = _as_list(s.program.function(scope), what, s.source)
                refs, count = pool.keep(got), len(got)
            except CelError as e:
                error = ("ERR_NGROK_3803", str(e))
            except _Refused as e:
                error = (e.error[1], e.error[2])
            if key is not None:
                route.remember(key, (refs, count, error))
        log.append(StrategyResult(s.source, count, error[1] if error else None, refs, what))
        if error is not None:
            first_error = first_error or error
        elif refs:
            return refs, None
    return (), first_error


def build_plan(route: CompiledRoute, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None,
               rng: random.Random | None) -> Plan:
    fmt: ApiFormat = ai.api if ai.api in _FORMATS else "openai"  # type: ignore[assignment]
    requested = requested_models(ai)
    skipped: list[Candidate] = []
    log: list[StrategyResult] = []
    path = act.get("req.url.path")
    native = native_format(path) if isinstance(path, str) and inference_endpoint("POST", path) else None
    if native is not None:  # resolved as OpenAI's format is (what every provider speaks), then filtered
        return _natively(route, native, fmt, _planned(route, ai, act, metrics, rng, "openai", requested, skipped, log))
    return _planned(route, ai, act, metrics, rng, fmt, requested, skipped, log)


def _planned(route: CompiledRoute, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None,
             rng: random.Random | None, fmt: ApiFormat, requested: tuple[str, ...], skipped: list[Candidate],
             log: list[StrategyResult]) -> Plan:
    try:
        return _plan(route, ai, act, metrics, rng, fmt, requested, skipped, log)
    except _Refused as e:
        return Plan(fmt, requested, tuple(log), tuple(skipped), e.error)


def _natively(route: CompiledRoute, native: str, fmt: str, plan: Plan) -> Plan:
    """``plan`` for a request of a vendor's native format (:mod:`.paths`): only candidates of
    that vendor are kept, the others skipped as not speaking it; none left is 422
    ``ERR_NGROK_3805``. Its format (and so its errors' shape) is the native one (Claude's body
    on Vertex AI: Anthropic's)."""
    shape: RouteFormat = native if native in NATIVE else fmt  # type: ignore[assignment]
    if plan.error is not None:
        return replace(plan, format=shape)
    why = (f"does not speak the {native} API format (a provider of that vendor whose id and base_url do not say "
           f"so declares `supported_api_surfaces: [{{format: {native}}}]`)")
    out = [c if c.skipped_because is not None or speaks_native(route.providers[c.provider], native)
           else replace(c, skipped_because=f"provider `{c.provider}` {why}") for c in plan.candidates]
    error = None
    if all(c.skipped_because is not None for c in out):
        error = (422, "ERR_NGROK_3805", f"Model selection returned no results: no candidate's provider speaks the "
                 f"{native} API format of this request (only a provider of that vendor does)")
    return replace(plan, format=shape, candidates=tuple(out), error=plan.error or error)


def _plan(route: CompiledRoute, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None,
          rng: random.Random | None, fmt: ApiFormat, requested: tuple[str, ...], skipped: list[Candidate],
          log: list[StrategyResult]) -> Plan:
    method, path = act.get("req.method"), act.get("req.url.path")
    if isinstance(path, str) and not inference_endpoint(method if isinstance(method, str) else "POST", path):
        raise _Refused(404, UNSUPPORTED, f"`{method} {path[:200]}` is not an inference API: the ai-gateway action "
                       "routes POSTs to chat, completions, responses, embeddings, messages, generateContent, image "
                       "and audio endpoints only (it would send the provider key to any other)")
    if isinstance(path, str) and interaction_path(path):  # its model is in the body, its shape no other's
        raise _Refused(404, UNSUPPORTED, "Gemini's Interactions API is not routed by the ai-gateway action: "
                       "send it unrouted (a route's condition can leave it out)")
    unread = next((n for n in ai.notes if n == "request body is not a json object" or n.startswith("request body: ")),
                  None)
    if unread is not None:  # a JSON array, a string, text that is no JSON: no model can be read from it
        raise _Refused(400, "ERR_NGROK_3801", f"Invalid request body: {unread.removeprefix('request body: ')}")
    limit = route.config.max_input_tokens
    if limit is not None and ai.input_tokens > limit:
        raise _Refused(413, "ERR_NGROK_3811", input_too_large(ai.input_tokens, limit))
    els: Elements = route.elements
    auto = not requested or any(n.lower() == AUTO for n in requested)
    scope = dict(act)
    scope["ai.providers"] = els.providers[fmt]
    scope["ai.authors"] = els.authors[fmt]
    token = RNG.set(rng) if rng is not None else None
    try:
        if auto:  # ngrok's models page: `ngrok/auto` "is equivalent to omitting the model field entirely"
            static = els.models[fmt]
            if not static:
                raise _Refused(422, "ERR_NGROK_3805", f"Model selection returned no results: no provider "
                               f"speaks the {fmt} API format")
            if route.model_strategies:
                positions = els.positions[fmt]
                pool = _Pool(static, lambda items, snap: els.with_metrics(items, snap, positions), metrics,
                             ("auto", fmt), els.refs[fmt], positions)
                refs, error = _run(route, route.model_strategies, scope, "ai.models", pool, "AIModel", log)
                if not refs:
                    raise _no_models(error)
                if not route.key_strategies:  # the candidates are those of the models alone: kept per result
                    made = route.memo.get(("candidates", refs))
                    if made is None:
                        made = tuple(_with_keys(route, [els.info[r] for r in refs], scope, metrics, log, skipped))
                        route.remember(("candidates", refs), made)
                    return Plan(fmt, requested, tuple(log), made, None)
                models = [els.info[r] for r in refs]
            else:
                models = [els.info[el["_ref"]] for el in static]
        else:
            models = _named(route, requested, fmt, ai.input_tokens, skipped)
            if route.model_strategies:
                static, pool_key, named_at = _named_pool(route, models, fmt)
                # an elementwise strategy keeps each model's answer here too (the pool is the named ones)
                pool = _Pool(static, els.with_metrics, metrics, pool_key,
                             positions=named_at if metrics and route.elementwise_models else None)
                refs, error = _run(route, route.model_strategies, scope, "ai.models", pool, "AIModel", log)
                if not refs:
                    raise _no_models(error)
                chosen = route.memo.get(("chosen", pool_key, refs))
                if chosen is None:
                    kept = set(refs)
                    chosen = ([m for m in models if (m.provider_id, m.id) in kept],
                              tuple(Candidate(m.provider_id, m.id, None, "not chosen by model_selection")
                                    for m in models if (m.provider_id, m.id) not in kept))
                    if all(m.known or m.custom for m in models):
                        route.remember(("chosen", pool_key, refs), chosen)
                models = chosen[0]
                skipped.extend(chosen[1])
        if route.key_strategies:
            candidates = _with_keys(route, models, scope, metrics, log, skipped)
        else:  # the candidates are those of the models alone (no key strategy can skip one): kept per models
            candidates = _keyed(route, models, scope, metrics, log, skipped)
    finally:
        if token is not None:
            RNG.reset(token)
    error = None
    if not candidates:
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


def _named(route: CompiledRoute, requested: tuple[str, ...], fmt: str, tokens: int,
           skipped: list[Candidate]) -> list[ModelInfo]:
    """The requested models in the client's order (each name's providers in catalog order),
    the unusable ones moved to ``skipped`` with their reason. What does not depend on the
    request's size is worked out once per names and format (:func:`_named_rows`)."""
    memo = ("named", requested, fmt)
    made = route.memo.get(memo)
    if made is None:
        made = _named_rows(route, requested, fmt)
        route.remember(memo, made)
    rows, refusal = made
    out: list[ModelInfo] = []
    for m, why, window in rows:
        if why is not None:
            skipped.append(why)
        elif window and tokens > window:
            skipped.append(Candidate(m.provider_id, m.id, None, _too_long(tokens, window)))
        else:
            out.append(m)
    if not out:
        if refusal is not None:
            raise _Refused(*refusal)  # a new one each time: a kept exception raised again keeps every traceback
        raise _Refused(422, "ERR_NGROK_3805", "Model selection returned no results: " + "; ".join(
            f"{c.provider}:{c.model}: {c.skipped_because}" for c in skipped))
    return out


def _named_rows(route: CompiledRoute, requested: tuple[str, ...], fmt: str) -> tuple[
        tuple[tuple[Any, Candidate | None, int], ...], tuple[int, str, str] | None]:
    """Each distinct (provider, model) the names resolve to, in order, with the candidate
    that says why it cannot be tried whatever the request's size (a name that resolves to
    none: its refusal's), or with its context window; and the first name's refusal (its
    ``error``: memos keep no exception, whose traceback would grow at each raise)."""
    rows: list[tuple[Any, Candidate | None, int]] = []
    seen: set[tuple[str, str]] = set()
    refusal: tuple[int, str, str] | None = None
    for name in requested:
        found = route.resolved.get(name)
        if found is None:
            try:
                found = _resolve(route, name)
            except _Refused as e:
                found = e.error
            route.remember_name(name, found)
        if type(found) is tuple:  # the name's refusal
            refusal = refusal or found
            rows.append((None, Candidate("", name, None, found[2]), 0))
            continue
        for m in found:
            ref = (m.provider_id, m.id)
            if ref in seen:
                continue
            seen.add(ref)
            why = _why_not(route, m, fmt)
            rows.append((m, None if why is None else Candidate(m.provider_id, m.id, None, why),
                         m.max_context_window or 0))
    return tuple(rows), refusal


def _named_pool(route: CompiledRoute, models: list[ModelInfo], fmt: str) -> tuple[
        list[dict[str, Any]], tuple[Any, ...], dict[tuple[str, str], int]]:
    """The elements of the named ``models`` (the pool their strategies range over), the key
    their memoized results are filed under, and each one's position; kept per models when every
    one is the route's (an unknown pass-through name is the client's: made each time)."""
    refs = tuple((m.provider_id, m.id) for m in models)
    memo = ("named pool", fmt, refs)
    made = route.memo.get(memo)
    if made is None:
        static = [route.elements.element(m) for m in models]
        made = (static, (fmt, *refs), {el["_ref"]: i for i, el in enumerate(static)})
        if all(m.known or m.custom for m in models):
            route.remember(memo, made)
    return made


def _keyed(route: CompiledRoute, models: list[ModelInfo], scope: dict[str, Any], metrics: MetricsSnapshot | None,
           log: list[StrategyResult], skipped: list[Candidate]) -> list[Candidate] | tuple[Candidate, ...]:
    """:func:`_with_keys` of a route without key strategies (each model's keys in their
    configured order, nothing skipped), kept per models as the ``ngrok/auto`` path keeps them."""
    memo = ("candidates", tuple((m.provider_id, m.id) for m in models))
    made = route.memo.get(memo)
    if made is None:
        made = tuple(_with_keys(route, models, scope, metrics, log, skipped))
        if all(m.known or m.custom for m in models):
            route.remember(memo, made)
    return made


def _with_keys(route: CompiledRoute, models: list[ModelInfo], scope: dict[str, Any],
               metrics: MetricsSnapshot | None, log: list[StrategyResult],
               skipped: list[Candidate]) -> list[Candidate]:
    """For each model in order, a candidate per key in key order. Models are distinct and a
    provider's key ids are distinct, so no (provider, model, key) comes twice."""
    keys_of: dict[str, tuple[str | None, ...] | str] = {}
    out: list[Candidate] = []
    made = route.made_candidates
    for m in models:
        pid = m.provider_id
        keys = keys_of.get(pid)
        if keys is None:
            keys = keys_of[pid] = _keys(route, pid, scope, metrics, log)
        if isinstance(keys, str):
            skipped.append(Candidate(pid, m.id, None, keys))
            continue
        memo = (pid, m.id, keys)
        cands = made.get(memo)
        if cands is None:
            cands = tuple(Candidate(pid, m.id, kid) for kid in keys)
            if m.known or m.custom:
                route.remember_candidates(memo, cands)
        out.extend(cands)
    return out


def _keys(route: CompiledRoute, pid: str, scope: dict[str, Any], metrics: MetricsSnapshot | None,
          log: list[StrategyResult]) -> tuple[str | None, ...] | str:
    """The key ids of a provider in try order ((None,): no configured key), or why none."""
    provider = route.providers[pid]
    if not provider.keys:
        return (None,)
    if not route.key_strategies:
        return route.elements.key_ids[pid]
    static = route.elements.keys[pid]
    pool = _Pool(static, lambda _s, snap: key_elements(provider, snap), metrics, ("keys", pid))
    refs, error = _run(route, route.key_strategies, scope, "ai.keys", pool, "AIKey", log)
    if not refs:
        detail = f": {error[1]}" if error else ""
        return f"api_key_selection chose no key of provider `{pid}`{detail}"
    return tuple(kid for _, kid in refs)
