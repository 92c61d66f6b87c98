"""An ``ai-gateway`` config compiled once per policy: the catalog merged with the config,
indexes by name, the CEL elements strategies read, the strategies compiled.

    route = compile_route(config)
    plan = route.plan(ai, act, metrics, rng)     # see :mod:`.plan`

Planning only reads what is built here (nothing is rebuilt per request).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..cel.program import Program
from ..cel.runtime.values import CelError
from ..ir.ai_gateway import AiGateway, ModelConfig, ProviderConfig
from ..ir.fields import parse_duration
from ..providers import AiRequest
from ..providers.classify import vendor_of
from ..providers.error_shapes import NATIVE
from ..source import Span
from . import elements
from .catalog import Catalog, author_of, builtin
from .model import ApiFormat, Candidate, KeyRef, MetricsSnapshot, ModelInfo, Plan, ProviderInfo
from .plan import build_plan
from .selection import KEYS, MODELS, dependencies, elementwise

__all__ = ["CompiledRoute", "CompiledStrategy", "compile_route", "key_id_of"]

_MEMO = 4096
FORMATS: tuple[ApiFormat, ...] = ("openai", "anthropic", "gemini")
DEFAULT_FAILOVER_ON: tuple[int | str, ...] = ("connect", "timeout", "malformed", "4xx", "5xx")


def key_id_of(value: str) -> str:
    """The default id of an API key: a short hash of its text as written (the template,
    never a resolved secret)."""
    return "key-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class CompiledStrategy:
    source: str
    program: Program | None
    error: str | None = None
    """Why it could not be compiled (lint reports it first; at run time it is recorded)."""
    pure: bool = False
    """Its result depends on the collections only (:func:`.selection.dependencies`)."""
    live: bool = True
    """It reads live metrics."""
    elementwise: bool = False
    """A pure ``ai.models.filter(m, P)`` whose ``P`` reads ``m`` alone
    (:func:`.selection.elementwise`): the planner keeps each model's answer between
    snapshots (:mod:`.incremental`)."""


def _compile_strategies(sources: tuple[str, ...], env: Any) -> tuple[CompiledStrategy, ...]:
    out = []
    for i, src in enumerate(sources):
        pure, live = dependencies(src)
        try:
            out.append(CompiledStrategy(src, env.compile(src, name=f"strategy_{i}"), None, pure, live,
                                        pure and live and elementwise(src)))
        except CelError as e:
            out.append(CompiledStrategy(src, None, str(e)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Extra:
    """What a config says of a model beyond :class:`ModelInfo` (for its CEL element)."""

    display_name: str | None = None
    description: str | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    supported_features: tuple[str, ...] = ()


_AUTH = {"anthropic": "x-api-key", "gemini": "x-goog-api-key"}
"""A configured provider's auth style by its first API format (a built-in one keeps its own)."""


def _provider(cfg: ProviderConfig, base: ProviderInfo | None) -> ProviderInfo:
    refs: dict[str, KeyRef] = {}
    for i, k in enumerate(cfg.api_keys or ()):
        kid = k.id or key_id_of(k.value)
        refs.setdefault(kid, KeyRef(kid, k.value, i))  # a repeated key (same id) is tried once
    keys = tuple(refs.values())
    surfaces = cfg.supported_api_surfaces or ()
    formats = tuple(dict.fromkeys(s.format for s in surfaces)) if surfaces else None
    if formats and not set(formats) - NATIVE:  # a vendor of a native API (Ollama's...) speaks OpenAI's too
        formats = (*formats, "openai")
    params = {(s.format, s.surface): frozenset(p.name for p in s.supported_params)
              for s in surfaces if s.supported_params and s.surface}  # fmt: skip
    aliases = tuple(dict.fromkeys((*(base.aliases if base else ()), *(cfg.id_aliases or ()))))
    return ProviderInfo(
        id=base.id if base else cfg.id, aliases=aliases,
        base_url=cfg.base_url or (base.base_url if base else None),
        formats=formats or (base.formats if base else ("openai",)),
        auth=base.auth if base else _AUTH.get((formats or ("openai",))[0], "bearer"),
        builtin=base is not None, configured=True,
        disabled=bool(cfg.disabled), metadata=dict(cfg.metadata or {}), keys=keys, supported_params=params,
    )  # fmt: skip


def _model(cfg: ModelConfig, pid: str, base: ModelInfo | None) -> ModelInfo:
    aliases = tuple(dict.fromkeys((*(base.aliases if base else ()), *(cfg.id_aliases or ()))))
    return ModelInfo(
        id=base.id if base else cfg.id, provider_id=pid, aliases=aliases,
        author_id=cfg.author_id or (base.author_id if base else author_of(cfg.id, pid)),
        known=base is not None, custom=True, disabled=bool(cfg.disabled), metadata=dict(cfg.metadata or {}),
        input_per_mtok=base.input_per_mtok if base else None,
        output_per_mtok=base.output_per_mtok if base else None,
        max_context_window=cfg.max_context_window or (base.max_context_window if base else None),
        max_output_tokens=cfg.max_output_tokens or (base.max_output_tokens if base else None),
        unsupported_params=frozenset(p.name for p in cfg.unsupported_params or ()),
    )  # fmt: skip


def _names_of(x: ProviderInfo | ModelInfo) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.lower() for n in (x.id, *x.aliases)))


class CompiledRoute:
    """One ``ai-gateway`` action, ready to plan. Immutable after construction; shared by threads."""

    def __init__(self, config: AiGateway, where: Span | None, catalog: Catalog) -> None:
        self.config = config
        self.where = where
        self.per_request_timeout_s = parse_duration(config.per_request_timeout or "30s")
        self.total_timeout_s = parse_duration(config.total_timeout or "5m")
        self.on_error = config.on_error or "halt"
        self.failover_on: tuple[int | str, ...] = config.failover_on or DEFAULT_FAILOVER_ON
        self.only_configured_providers = bool(config.only_allow_configured_providers)
        self.only_configured_models = bool(config.only_allow_configured_models)
        builtin_ids = catalog.provider_ids()
        builtin_by_id = {p.id: p for p in catalog.providers}
        providers: dict[str, ProviderInfo] = {}
        models: list[ModelInfo] = []
        extras: dict[tuple[str, str], Extra] = {}
        configured_models: set[tuple[str, str]] = set()
        catalog_models: dict[str, dict[str, ModelInfo]] = {}
        for m in catalog.models:
            per = catalog_models.setdefault(m.provider_id, {})
            for n in _names_of(m):
                per.setdefault(n, m)
        overridden: set[tuple[str, str]] = set()
        for pc in config.providers or ():
            base = builtin_by_id.get(builtin_ids.get(pc.id.lower(), ""))
            info = _provider(pc, base)
            providers[info.id] = info
            # a provider of the config's own is priced as the vendor its base_url's host names (billed_as)
            vendor = catalog_models.get(builtin_ids.get(vendor_of(info.base_url or "") or "", "")) if base is None \
                else None
            for mc in pc.models or ():
                cat = catalog_models.get(info.id, {}).get(mc.id.lower())
                mi = _model(mc, info.id, cat)
                if cat is None and vendor and (billed := vendor.get(mc.id.lower())) is not None:
                    mi = replace(mi, input_per_mtok=billed.input_per_mtok, output_per_mtok=billed.output_per_mtok,
                                 max_context_window=mi.max_context_window or billed.max_context_window,
                                 max_output_tokens=mi.max_output_tokens or billed.max_output_tokens)
                if cat is not None:
                    overridden.add((info.id, cat.id))
                models.append(mi)
                configured_models.add((info.id, mi.id))
                extras[(info.id, mi.id)] = Extra(
                    mc.display_name, mc.description, mc.input_modalities or (), mc.output_modalities or (),
                    mc.supported_features or ())  # fmt: skip
        if not self.only_configured_models:
            for p in catalog.providers:
                if p.id not in providers and not self.only_configured_providers:
                    providers[p.id] = p
            for m in catalog.models:
                if m.provider_id in providers and (m.provider_id, m.id) not in overridden:
                    models.append(m)
        self.providers: Mapping[str, ProviderInfo] = providers
        self.models: tuple[ModelInfo, ...] = tuple(models)
        self.configured_models = frozenset(configured_models)
        self.configured_providers = frozenset(builtin_ids.get(pc.id.lower(), pc.id) for pc in config.providers or ())
        """The providers the action lists (the others come from the catalog alone)."""
        self.catalog = catalog
        #: lower-cased provider id or alias -> id, for every provider known (allowed or not)
        self.provider_names: dict[str, str] = dict(builtin_ids)
        for p in providers.values():
            for n in _names_of(p)[1:]:
                self.provider_names[n] = p.id
        for p in providers.values():  # an id names its own provider, whatever another's aliases say
            self.provider_names[p.id.lower()] = p.id
        #: lower-cased model id or alias -> the models of that name, in try order (below)
        self.by_name: dict[str, list[ModelInfo]] = {}
        self.by_provider: dict[str, dict[str, ModelInfo]] = {}
        for m in self.models:
            per = self.by_provider.setdefault(m.provider_id, {})
            for n in _names_of(m):
                self.by_name.setdefault(n, []).append(m)
                per.setdefault(n, m)
        for same in self.by_name.values():  # ngrok: "providers are tried in alphabetical order, not the
            # order they are configured" (a strategy orders otherwise); the configured ones first, as before
            same.sort(key=lambda m: (m.provider_id not in self.configured_providers, m.provider_id))
        #: every catalog model of a provider, allowed here or not (to say why not)
        self.catalog_models = catalog_models
        self.elements = elements.Elements(self, extras)
        self.model_strategies = _compile_strategies(
            tuple(config.model_selection.strategy) if config.model_selection else (), MODELS)
        self.key_strategies = _compile_strategies(
            tuple(config.api_key_selection.strategy) if config.api_key_selection else (), KEYS)
        #: some model strategy is elementwise: its answers are kept per model (:mod:`.incremental`)
        self.elementwise_models = any(s.elementwise for s in self.model_strategies)

        # memos (bounded; a dict's get and set are atomic, so threads may share them)
        self.memo: dict[Any, Any] = {}
        """Pure strategies' results per pool (:func:`.plan._run`)."""
        self.resolved: dict[str, Any] = {}
        """Requested model names already resolved to catalog or configured models, or refused."""
        self.relaxed: dict[frozenset[str], CompiledRoute] = {}
        """:meth:`without`'s routes."""
        self.made_candidates: dict[tuple[Any, ...], tuple[Candidate, ...]] = {}
        """(provider, model, key ids) -> its candidates, for catalog and configured models
        (they are immutable: made once)."""

    def without(self, settings: frozenset[str]) -> CompiledRoute:
        """This route with the refusing ``settings`` (values of :data:`REFUSED_BY`) unset: what
        a route that is not enforced tries when it would refuse. Compiled once per set (at most
        32), on first need."""
        found = self.relaxed.get(settings)
        if found is None:
            found = self.relaxed[settings] = CompiledRoute(
                self.config.model_copy(update=dict.fromkeys(settings)), self.where, self.catalog)
        return found

    def remember(self, key: Any, value: Any) -> None:
        if len(self.memo) >= _MEMO:
            self.memo.clear()
        self.memo[key] = value

    def remember_name(self, name: str, models: Any) -> None:
        if len(self.resolved) >= _MEMO:
            self.resolved.clear()
        self.resolved[name] = models

    def remember_candidates(self, key: tuple[Any, ...], value: tuple[Candidate, ...]) -> None:
        if len(self.made_candidates) >= 4 * _MEMO:
            self.made_candidates.clear()
        self.made_candidates[key] = value

    def __repr__(self) -> str:
        return f"<CompiledRoute {len(self.providers)} providers, {len(self.models)} models>"

    def provider(self, id: str) -> ProviderInfo:
        """A provider by id or alias (any case); ``KeyError`` when nothing knows it."""
        return self.providers[self.provider_names.get(id.lower(), id)]

    def model(self, provider_id: str, model_id: str) -> ModelInfo | None:
        """A model of a provider by id or alias (any case); None when not in the catalog."""
        pid = self.provider_names.get(provider_id.lower(), provider_id)
        return self.by_provider.get(pid, {}).get(model_id.lower())

    def plan(self, ai: AiRequest, act: Mapping[str, Any], metrics: MetricsSnapshot | None = None,
             rng: random.Random | None = None) -> Plan:
        """The candidates for this request, in try order, and why every other one was dropped."""
        return build_plan(self, ai, act, metrics, rng)


REFUSED_BY = {"ERR_NGROK_3811": "max_input_tokens", "provider_not_allowed": "only_allow_configured_providers",
              "model_not_allowed": "only_allow_configured_models", "ERR_NGROK_3803": "model_selection",
              "ERR_NGROK_3805": "model_selection", "ERR_NGROK_3806": "model_selection",
              "ERR_NGROK_3808": "api_key_selection"}
"""A plan error's code -> the setting of the route that refused (when the route sets it: a
3805 without ``model_selection`` is that no provider can serve the request, a fact)."""


def billed_as(routes: Iterable[CompiledRoute]) -> dict[str, str]:
    """A config's own provider ids -> the provider label that bills them, named by the host of
    their ``base_url`` (``acme`` at ``https://api.openai.com/v1``: ``openai``;
    :func:`~aigw_policy.providers.classify.vendor_of`), for the price book
    (:meth:`~aigw_policy.providers.PriceBook.with_labels`): priced by its id alone, such a
    provider's every model was unknown. A host that names no vendor (a self-hosted server) adds
    nothing; an id two actions give different hosts keeps the first action's."""
    found: dict[str, str] = {}
    for route in routes:
        for p in route.providers.values():
            if p.configured and not p.builtin and p.id not in found:
                vendor = vendor_of(p.base_url or "")
                if vendor is not None and vendor != p.id:
                    found[p.id] = vendor
    return found


def compile_route(config: AiGateway, *, where: Span | None = None) -> CompiledRoute:
    """Compile an ``ai-gateway`` config (raises nothing for a config that loaded: a strategy
    that does not compile is recorded, lint reports it before)."""
    return CompiledRoute(config, where, builtin())
