"""Selection strategies in CEL: the environment they are checked and compiled in, the
values they see (``ai.models``, ``ai.providers``, ``ai.authors``, ``ai.keys``) and ngrok's
functions over them (``reference/cel-functions.mdx``).

A strategy sees everything a policy condition sees (identity, limits, vars, req, ``ai.*``
of the request...) plus the collections; model strategies see ``ai.models``,
``ai.providers`` and ``ai.authors`` (:data:`MODELS`), key strategies ``ai.keys`` and
``ai.providers`` (:data:`KEYS`). Elements are typed objects (``aigw.Model``, ``aigw.Key``...)
so ``m.idd`` is a lint error; at run time they are dicts built once per compiled route.

Choices where ngrok is silent:

- an unknown price, context window or metric reads as ``0`` (ngrok's zero values); but
  ``underCost`` drops models of unknown price and ``sortBy('price')`` puts them last;
- ``k.quota.*`` is ``null`` until a provider's rate-limit headers told it (ngrok's note;
  typed ``dyn``): comparing it (``k.quota.remaining_requests > 100``) is then an error, so
  that strategy is recorded with its error and the next one runs (write ``ai.keys`` last as
  a fallback, or test ``k.quota.remaining_requests != null && ...``);
- ``k.value`` is the key's text as written in the config (usually the
  ``${secrets.get(...)}`` template), never the secret: strategies never see a secret;
- the metric scopes ``global``, ``region``, ``account`` and ``endpoint`` all read what this
  gateway's store measured (there is no wider fleet to ask); ``m.metrics.api_keys[id]`` is
  the same per key of the model's provider, when the snapshot has it (``model_keys``);
- ``random()`` and ``randomize()`` draw from the ``random.Random`` the planner is given
  (seeded in tests and ``explain``); ``random()`` of an empty list is an error.
"""

from __future__ import annotations

import contextvars
import random as _random
from collections.abc import Mapping
from typing import Any

from ..cel import ast
from ..cel.environment import Environment
from ..cel.names import qualified_name
from ..cel.parser import CelSyntaxError, parse
from ..cel.runtime.values import CelError
from ..env.declarations import POLICY_FUNCTIONS, POLICY_OPERATORS, POLICY_VARIABLES
from ..env.ngrok import ACTIVATION_FUNCTIONS, FUNCTIONS
from .catalog import PRICE_TYPES

__all__ = ["KEYS", "MODELS", "MODEL_TYPES", "KEY_TYPES", "OBJECTS", "RNG", "dependencies", "elementwise", "get_metadata"]

_LAT = ("upstream_ms_avg", "upstream_ms_p95", "gateway_ms_avg", "gateway_ms_p95",
        "time_to_first_token_ms_avg", "time_to_first_token_ms_p95")  # fmt: skip
_ERR = ("total", "timeout", "rate_limit", "client", "server")
_TOK = ("provider_input", "provider_output", "estimated_input", "estimated_output")
_PRICES = ("input", "output", "input_cache_read", "input_cache_write", "input_batch", "output_batch")
_SL = "list(string)"

OBJECTS: dict[str, dict[str, str]] = {
    "aigw.Model": {
        "id": "string", "id_aliases": _SL, "provider_id": "string", "provider_id_aliases": _SL,
        "author_id": "string", "author_id_aliases": _SL, "display_name": "string",
        "description": "string", "known": "bool", "custom": "bool", "disabled": "bool",
        "metadata": "map(string, dyn)", "input_modalities": _SL, "output_modalities": _SL,
        "supported_features": _SL, "max_context_window": "int", "max_output_tokens": "int",
        "parameter_count": "int", "quantization": "string", "data_training_policy": "string",
        "data_retention_days": "int", "data_retention_policy": "string", "pricing": "aigw.Pricing",
        "datacenters": "list(aigw.Datacenter)", "metrics": "aigw.Metrics",
    },
    "aigw.Pricing": {**{p: "double" for p in _PRICES}, "text": "aigw.TextPricing"},
    "aigw.TextPricing": {p: "double" for p in _PRICES},
    "aigw.Datacenter": {"country_code": "string", "region": "string"},
    "aigw.Metrics": {**{s: "aigw.MetricScope" for s in ("global", "region", "account", "endpoint")},
                     "api_keys": "map(string, aigw.MetricScope)"},
    "aigw.MetricScope": {"request_count": "int", "latency": "aigw.Latency", "error_rate": "aigw.ErrorRate",
                         "token": "aigw.TokenCounts"},
    "aigw.Latency": {f: "double" for f in _LAT},
    "aigw.ErrorRate": {f: "double" for f in _ERR},
    "aigw.TokenCounts": {f: "int" for f in _TOK},
    "aigw.Provider": {
        "id": "string", "id_aliases": _SL, "display_name": "string", "description": "string",
        "website": "string", "base_url": "string", "metadata": "map(string, dyn)", "known": "bool",
        "custom": "bool", "disabled": "bool",
    },
    "aigw.Author": {"id": "string", "id_aliases": _SL, "display_name": "string"},
    "aigw.Key": {"id": "string", "value": "string", "provider_id": "string", "quota": "aigw.Quota",
                 "error_rate": "aigw.ErrorRate"},
    # ``dyn``: an int, or null until a provider's rate-limit headers told it
    "aigw.Quota": {f: "dyn" for f in ("remaining_requests", "remaining_tokens", "limit_requests", "limit_tokens")},
}  # fmt: skip

_M, _P, _A, _K = "aigw.Model", "aigw.Provider", "aigw.Author", "aigw.Key"
MODEL_TYPES = (f"list({_M})", _M)
KEY_TYPES = (f"list({_K})", _K)

_FUNCTIONS = [
    *[f"{f} list({t}).(list(string)) -> list({t})" for f in ("only", "ignore") for t in (_M, _P, _A, _K)],
    *[f"{f} list({_M}).(list(string)) -> list({_M})"
      for f in ("onlyProviders", "ignoreProviders", "onlyAuthors", "ignoreAuthors")],
    f"inRegion list({_M}).(string) -> list({_M})",
    f"inCountryCode list({_M}).(string) -> list({_M})",
    f"underCost list({_M}).(string, double) -> list({_M})",
    f"underCost list({_M}).(string, int) -> list({_M})",
    f"sortBy list({_M}).(string) -> list({_M})",
    *[f"random list({t}).() -> {t}" for t in (_M, _P, _A, _K)],
    *[f"randomize list({t}).() -> list({t})" for t in (_M, _P, _A, _K)],
    *[f"get list({t}).(string) -> {t}" for t in (_P, _A, _K)],
    f"get list({_M}).(string, string) -> {_M}",
    f"getModel {_P}.(string) -> {_M}",
    *[f"getMetadata {t}.(string) -> dyn" for t in (_M, _P)],
]

RNG: contextvars.ContextVar[_random.Random] = contextvars.ContextVar("aigw_route_rng")
"""The random source of the strategy being evaluated (the planner sets it)."""
_FALLBACK_RNG = _random.Random()  # noqa: S311 - load spreading, not security


def _names(x: Mapping[str, Any]) -> list[str]:
    return [x["id"].lower(), *(a.lower() for a in x.get("id_aliases", ()))]


def _ids(ids: object, fn: str) -> frozenset[str]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise CelError(f"{fn}() takes a list of strings", "invalid_argument")
    return frozenset(i.lower() for i in ids)


def _only(items: list, ids: object) -> list:
    want = _ids(ids, "only")
    return [x for x in items if any(n in want for n in _names(x))]


def _ignore(items: list, ids: object) -> list:
    drop = _ids(ids, "ignore")
    return [x for x in items if not any(n in drop for n in _names(x))]


def _by(field: str, keep: bool, fn: str) -> Any:
    aliases = field + "_aliases"

    def run(models: list, ids: object) -> list:
        want = _ids(ids, fn)
        return [m for m in models
                if (m[field].lower() in want or any(a.lower() in want for a in m[aliases])) is keep]

    return run


def _in_region(models: list, region: object) -> list:
    return [m for m in models if any(d["region"] == region for d in m["datacenters"])]


def _in_country(models: list, code: object) -> list:
    if not isinstance(code, str):
        raise CelError("inCountryCode() takes a string", "invalid_argument")
    up = code.upper()
    return [m for m in models if any(d["country_code"].upper() == up for d in m["datacenters"])]


def _price(m: Mapping[str, Any], key: str) -> float | None:
    return m["_prices"].get(key)


def _under_cost(models: list, price_type: object, limit: object) -> list:
    key = PRICE_TYPES.get(price_type) if isinstance(price_type, str) else None
    if key is None:
        raise CelError(f"underCost(): unknown price type {price_type!r}; use one of "
                       + ", ".join(PRICE_TYPES), "invalid_argument")
    out = []
    for m in models:
        p = _price(m, key)
        if p is not None and p < limit:  # type: ignore[operator]
            out.append(m)
    return out


def _sort_by(models: list, field: object) -> list:
    if field != "price":
        raise CelError(f"sortBy(): only 'price' is supported, not {field!r}", "invalid_argument")
    inf = float("inf")
    return sorted(models, key=lambda m: (p if (p := _price(m, "input")) is not None else inf))


def _rng() -> _random.Random:
    return RNG.get(_FALLBACK_RNG)


def _random_one(items: list) -> Any:
    if not items:
        raise CelError("random() of an empty list", "invalid_argument")
    return items[_rng().randrange(len(items))]


def _randomize(items: list) -> list:
    out = list(items)
    _rng().shuffle(out)
    return out


def _get(items: list, a: object, b: object = None) -> Any:
    if b is None:
        want = str(a).lower()
        for x in items:
            if want in _names(x):
                return x
        raise CelError(f"get(): no `{a}`", "not_found")
    pa, mb = str(a).lower(), str(b).lower()
    for m in items:
        if (m["provider_id"].lower() == pa or pa in (x.lower() for x in m["provider_id_aliases"])) \
                and mb in _names(m):
            return m
    raise CelError(f"get(): no model `{b}` of provider `{a}`", "not_found")


def _get_model(provider: Mapping[str, Any], model_id: object) -> Any:
    want = str(model_id).lower()
    for m in provider["_models"]:
        if want in _names(m):
            return m
    raise CelError(f"getModel(): provider `{provider['id']}` has no model `{model_id}`", "not_found")


def get_metadata(obj: Mapping[str, Any], path: object) -> Any:
    """``x.getMetadata('a.b')``: a dot path into the metadata; null where it ends."""
    if type(path) is not str:
        raise CelError("getMetadata() takes a string", "invalid_argument")
    cur: Any = obj["metadata"]
    if "." not in path:
        return cur.get(path)
    for part in path.split("."):
        if type(cur) is not dict or part not in cur:
            return None
        cur = cur[part]
    return cur


_IMPLS: dict[str, object] = {
    ".only": _only, ".ignore": _ignore,
    ".onlyProviders": _by("provider_id", True, "onlyProviders"),
    ".ignoreProviders": _by("provider_id", False, "ignoreProviders"),
    ".onlyAuthors": _by("author_id", True, "onlyAuthors"),
    ".ignoreAuthors": _by("author_id", False, "ignoreAuthors"),
    ".inRegion": _in_region, ".inCountryCode": _in_country, ".underCost": _under_cost,
    ".sortBy": _sort_by, ".random": _random_one, ".randomize": _randomize, ".get": _get,
    ".getModel": _get_model, ".getMetadata": get_metadata,
}  # fmt: skip


def _environment(name: str, collections: dict[str, str]) -> Environment:
    return Environment(
        {**POLICY_VARIABLES, **collections}, [*POLICY_OPERATORS, *POLICY_FUNCTIONS, *_FUNCTIONS],
        {**FUNCTIONS, **_IMPLS},
        activation_functions=ACTIVATION_FUNCTIONS, dotted_variables=True, always_check=True, typed_activation=True,
        objects=OBJECTS, name=name,
    )  # fmt: skip


MODELS = _environment("route-models", {
    "ai.models": f"list({_M})", "ai.providers": f"list({_P})", "ai.authors": f"list({_A})"})
"""Where ``model_selection`` strategies are checked and compiled."""
KEYS = _environment("route-keys", {"ai.keys": f"list({_K})", "ai.providers": f"list({_P})"})
"""Where ``api_key_selection`` strategies are checked and compiled."""


_COLLECTIONS = frozenset({"models", "providers", "authors", "keys"})
_IMPURE = frozenset({"random", "randomize"})
_LIVE_FIELDS = frozenset({"metrics", "quota", "error_rate"})


def dependencies(source: str) -> tuple[bool, bool]:
    """``(pure, live)`` of a strategy: ``pure`` when its result depends on nothing but the
    collections (no other variable, no random draw, no function of the request), ``live``
    when it reads live metrics (``m.metrics``, ``k.quota``, ``k.error_rate``). The planner
    memoizes a pure strategy's result per pool (and per metrics snapshot when live).
    Conservative: a name it cannot place makes the strategy impure."""
    try:
        root = parse(source)
    except (CelSyntaxError, RecursionError):
        return False, True
    pure, live = True, False
    stack: list[ast.Expr] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Select):
            name = qualified_name(node)
            if name is not None and name.startswith("ai."):
                if name.split(".")[1] not in _COLLECTIONS:
                    pure = False
                continue
            if node.field in _LIVE_FIELDS:
                live = True
        elif isinstance(node, ast.Ident):
            if node.name.lstrip(".") in _POLICY_ROOTS:
                pure = False
        elif isinstance(node, ast.Call):
            f = node.function.lstrip(".")
            if f in _IMPURE or f.startswith("rand.") or f in ACTIVATION_FUNCTIONS or f in _ACT_CALLS:
                pure = False
        stack.extend(ast.children(node))
    return pure, live


def elementwise(source: str) -> bool:
    """Whether a strategy is ``ai.models.filter(v, P)`` where ``P`` names nothing but ``v``
    (no other variable or collection, no macro of its own, no namespaced function): whether
    ``v`` is kept then depends on that one model alone, so the planner can keep each model's
    answer and ask again only for the models whose live metrics changed (:mod:`.incremental`).
    A filter of such a predicate over a list is the list's models for which it is true, or the
    first error met, in order; and its cost is one iteration a model (no macro inside), so
    asking model by model decides the same."""
    try:
        root = parse(source)
    except (CelSyntaxError, RecursionError):
        return False
    if not (isinstance(root, ast.Call) and root.function == "filter" and len(root.args) == 2
            and root.target is not None and qualified_name(root.target) == "ai.models"
            and isinstance(root.args[0], ast.Ident)):
        return False
    var = root.args[0].name
    stack: list[ast.Expr] = [root.args[1]]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ident) and node.name != var:
            return False
        stack.extend(ast.children(node))
    return True


_POLICY_ROOTS = frozenset(n.split(".")[0] for n in POLICY_VARIABLES)
_ACT_CALLS = frozenset(n.lstrip(".") for n in ACTIVATION_FUNCTIONS)
