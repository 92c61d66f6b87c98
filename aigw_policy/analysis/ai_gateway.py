"""Structural checks of ``ai-gateway`` configs (SPEC §12): what the config's model cannot say
alone. Ids that must be unique, a custom provider's ``base_url``, ngrok's
``supported_params``-needs-``surface`` rule, timeouts that cannot both hold, and API keys
written into the policy.

The strategies (``model_selection.strategy[]``, ``api_key_selection.strategy[]``) are CEL
over the selection environment (``ai.models``, ``ai.keys``), not the policy's: the generic
CEL pass (:mod:`.cel_check`) does not see them (it reads a config's top-level fields only;
they sit inside its parts); the planner's own lint stage checks them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..diagnostics import Diagnostic
from ..ir import Action
from ..ir.ai_gateway import AiGateway, ProviderConfig, secret_ref
from ..ir.fields import parse_duration
from ..source import Span
from ..routing.catalog_data import BUILTIN_PROVIDERS as CATALOG_PROVIDERS
from ..routing.rewrite import CREDENTIAL_HEADERS

__all__ = ["BUILTIN_PROVIDERS", "check_action", "is_builtin_provider"]

#: the catalog's built-in providers, ids and aliases (a provider of one's own needs a base_url)
BUILTIN_PROVIDERS = frozenset(
    name for pid, spec in CATALOG_PROVIDERS.items() for name in (pid, *spec["aliases"]))
_BUILTIN_FOLDED = frozenset(p.casefold() for p in BUILTIN_PROVIDERS)
DEFAULT_PER_REQUEST = "30s"
DEFAULT_TOTAL = "5m"

# What provider keys look like: a known prefix, or a long run of key characters.
_KEY_PREFIXES = ("sk-", "sk_", "sk-ant-", "gsk_", "AIza", "xai-", "pk-", "key-", "Bearer ")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-]{32,}")


def is_builtin_provider(provider_id: str) -> bool:
    """Whether ``provider_id`` names a built-in provider (case does not matter, as ngrok)."""
    return provider_id.casefold() in _BUILTIN_FOLDED


def check_action(action: Action) -> list[Diagnostic]:
    config = action.config
    assert isinstance(config, AiGateway)
    found: list[Diagnostic] = []
    span = action.span_of
    found += _unique(
        ((f"providers.{i}.id", p.id) for i, p in enumerate(config.providers or ())),
        span, "AIGW140", "provider id", "", "give each provider its own id (case does not "
        "matter); to let one provider also answer to another's name, use `id_aliases`")
    for i, provider in enumerate(config.providers or ()):
        at = f"providers.{i}"
        found += _unique(
            ((f"{at}.models.{j}.id", m.id) for j, m in enumerate(provider.models or ())),
            span, "AIGW141", "model id", f" in provider `{provider.id}`", "list each model once "
            "(case does not matter)")
        found += _model_aliases(provider, at, span)
        found += _keys(provider, at, span)
        found += _surfaces(provider, at, span)
        found += _base_url(provider, at, span)
    found += _timeouts(config, span)
    found += [Diagnostic.make(
        "AIGW149", f"header `{name}` in the `ai-gateway`'s `headers` is never sent: a credential reaches a "
        "provider only from its `api_keys`", span(f"headers.{name}"),
        help="write the key as `api_keys: [{value: \"${secrets.get('vault', 'name')}\"}]` of the provider; "
        "it is sent in the provider's own style (`authorization: Bearer`, `x-api-key`, ...). ngrok would send "
        "this header; here no client or policy text is sent as a credential")
        for name in (config.headers or {}) if name.lower() in CREDENTIAL_HEADERS]
    return found


def _unique(entries: Iterable[tuple[str, str]], span: Callable[[str], Span | None], code: str,
            what: str, where: str, help: str) -> list[Diagnostic]:
    """Ids compared without case (ngrok: names are not case-sensitive); the second use of
    each is reported. Aliases may repeat another entry's id: ngrok's multi-provider example
    gives `openai-eu` the alias `openai` so that both serve requests for `openai`."""
    seen: dict[str, str] = {}
    found = []
    for path, name in entries:
        folded = name.casefold()
        first = seen.get(folded)
        if first is not None:
            at = span(first)
            line = f" (line {at.line})" if at is not None else ""
            found.append(Diagnostic.make(
                code, f"duplicate {what} `{name}`{where}: `{_shown(first)}`{line} is the same "
                "name", span(path), help=help))
        else:
            seen[folded] = path
    return found


def _model_aliases(provider: ProviderConfig, at: str, span: Callable[[str], Span | None]) -> list[Diagnostic]:
    """A model's alias that another model of the provider has as its id or alias (ngrok's models
    page: "Aliases must be unique across all models. You cannot use an alias that is already in
    use as an ID or alias by another model"). Read, the name would stand for both models and
    a client naming the other model's id could be sent to this one. An alias that repeats its
    own model's id, or a model of another provider, is no conflict (one model; failover)."""
    owner: dict[str, tuple[int, str]] = {}
    for j, m in enumerate(provider.models or ()):
        owner.setdefault(m.id.casefold(), (j, f"{at}.models.{j}.id"))
    found = []
    for j, m in enumerate(provider.models or ()):
        for a, alias in enumerate(m.id_aliases or ()):
            path = f"{at}.models.{j}.id_aliases.{a}"
            first = owner.setdefault(alias.casefold(), (j, path))
            if first[0] != j:
                where = span(first[1])
                line = f" (line {where.line})" if where is not None else ""
                found.append(Diagnostic.make(
                    "AIGW141", f"model alias `{alias}` in provider `{provider.id}` is already a name of another "
                    f"model: `{_shown(first[1])}`{line}", span(path),
                    help="an alias must be unique across the provider's models, ids and aliases alike (case does "
                    "not matter): a client naming it could be sent to either model"))
    return found


def _shown(path: str) -> str:
    """``providers.0.id_aliases.1`` -> ``providers[0].id_aliases[1]``, for messages."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


def _keys(provider: ProviderConfig, at: str, span: Callable[[str], Span | None]) -> list[Diagnostic]:
    found = []
    ids: dict[str, int] = {}
    values: dict[str, int] = {}
    for k, key in enumerate(provider.api_keys or ()):
        path = f"{at}.api_keys.{k}"
        if key.id is not None:
            if key.id in ids:
                found.append(Diagnostic.make(
                    "AIGW142", f"duplicate API key id `{key.id}` in provider `{provider.id}`",
                    span(f"{path}.id"), help=f"`api_keys[{ids[key.id]}]` has this id: key ids "
                    "name the key in decisions, the ledger and metrics, so each needs its own"))
            ids.setdefault(key.id, k)
        if key.value in values and secret_ref(key.value) is not None:
            found.append(Diagnostic.make(
                "AIGW142", f"the same secret twice in provider `{provider.id}`: `{key.value}`",
                span(f"{path}.value"), help=f"`api_keys[{values[key.value]}]` reads it too: "
                "failing over to the same key cannot help; remove one"))
        values.setdefault(key.value, k)
        if "${" in key.value and secret_ref(key.value) is None:
            found.append(Diagnostic.make(
                "AIGW148", f"an API key of provider `{provider.id}` holds `${{...}}` but is not a "
                "secret reference", span(f"{path}.value"),
                help="write `${secrets.get('vault', 'name')}`: ngrok's `secrets.get` takes a vault "
                "and a secret name, and nothing else is interpolated in a key (sent as written, "
                "the text would reach the provider instead of the key)"))
        elif secret_ref(key.value) is None and _looks_like_a_key(key.value):
            found.append(Diagnostic.make(
                "AIGW147", f"an API key is written in the policy (provider `{provider.id}`)",
                span(f"{path}.value"),
                help="anyone who reads the policy can use it: write "
                f"`${{secrets.get('{provider.id}', 'key-name')}}` and give the key to `serve` "
                "with `--secrets FILE` or an `AIGW_SECRET_...` environment variable"))
    return found


def _looks_like_a_key(value: str) -> bool:
    text = value.strip()
    if "${" in text:
        return False  # some other template: AIGW148
    return text.startswith(_KEY_PREFIXES) or _LONG_TOKEN.search(text) is not None


def _surfaces(provider: ProviderConfig, at: str,
              span: Callable[[str], Span | None]) -> list[Diagnostic]:
    found = []
    for s, surface in enumerate(provider.supported_api_surfaces or ()):
        if surface.supported_params is not None and surface.surface is None:
            found.append(Diagnostic.make(
                "AIGW143", "`supported_params` needs a `surface`",
                span(f"{at}.supported_api_surfaces.{s}.supported_params"),
                help="name the endpoint the allowlist is for, such as `surface: chat-completions`"
                " or `surface: messages` (ngrok's rule)"))
    return found


def _base_url(provider: ProviderConfig, at: str,
              span: Callable[[str], Span | None]) -> list[Diagnostic]:
    url = provider.base_url
    if url is None:
        if is_builtin_provider(provider.id):
            return []
        return [Diagnostic.make(
            "AIGW144", f"provider `{provider.id}` is not a built-in provider and has no "
            "`base_url`", span(f"{at}.id"),
            help="add `base_url: https://...` (the provider's API root), or use a built-in "
            "provider's id, such as openai, anthropic, google, groq, deepseek, mistral or "
            "openrouter")]
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if ok:
        return []
    return [Diagnostic.make(
        "AIGW145", f"`base_url` of provider `{provider.id}` is not an http(s) URL: `{url}`",
        span(f"{at}.base_url"), help="write the API root with its scheme and host, such as "
        "`https://llm.internal.example/v1`")]


def _timeouts(config: AiGateway, span: Callable[[str], Span | None]) -> list[Diagnostic]:
    per = config.per_request_timeout or DEFAULT_PER_REQUEST
    total = config.total_timeout or DEFAULT_TOTAL
    if parse_duration(per) <= parse_duration(total):
        return []
    written = "per_request_timeout" if config.per_request_timeout else "total_timeout"
    return [Diagnostic.make(
        "AIGW146", f"`per_request_timeout` ({per}) is longer than `total_timeout` ({total})",
        span(written), help="an attempt can never use its whole time: the total timeout ends it "
        "first; lower `per_request_timeout` or raise `total_timeout`")]
