"""Hypothesis strategies for whole IR documents.

``policies()`` draws valid :class:`Policy` IR: every action type, random but valid configs
(built through the action models, so validators run), CEL sources drawn from a small list of
valid expressions (some spanning lines), names with unicode, quotes, backslashes and control
characters, templates with ``${...}`` interpolations, and set-vars values of every JSON shape.
Rule names and limit names are unique, as the lint passes want.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from aigw_policy.ir.actions import ACTIONS, PERIODS, parse_duration
from aigw_policy.ir.nodes import Action, Expr, Policy, Rule

__all__ = [
    "CONDITIONS",
    "actions",
    "cel_conditions",
    "policies",
    "rules",
    "templates",
    "texts",
]

# CEL ------------------------------------------------------------------------------------

CONDITIONS = (
    'ai.model == "gpt-4.1"',
    "identity.team != 'research'",
    'ai.model in ["gpt-4.1", "claude-opus-4"]',
    'limits["team-monthly"].remaining < 50.0',
    'req.url.path.startsWith("/v1/")',
    "size(ai.tools) > 0",
    'ai.prompt.matches("(?i)pass(word)?\\\\s*[:=]")',
    '!(identity.tier in ["trial", "free"])',
    "ai.max_output_tokens > 4096 || ai.input_tokens > 100000",
    '"env" in identity.labels && identity.labels["env"] == "prod"',
    "ai.stream ? ai.max_output_tokens > 100 : false",
    '"x-team" in req.headers',
    "vars.route == '/v1/chat/completions'",
    'ai.model == "gpt-4.1" &&\n  identity.team != "research"',
    "ai.model in [\n    'a',\n    'b'\n]",
    "conn.client_ip.startsWith('10.')",
    "1u + 2u == 3u",
    "true",
    "req.method == 'POST' && req.content_length > 1024",
    "time.now > '2026-01-01T00:00:00Z'",
    "ai.prompt.lowerAscii().contains(\"ignore all previous instructions\")",
    "identity.team == \"r\\u00e9search \\\"q\\\"\"",
    "[1, 2, 3].exists(x, x > 2)",
    "{'a': 1}['a'] == 1",
)
RESPONSE_CONDITIONS = CONDITIONS + (
    "res.status_code >= 500",
    "ai.usage.total_tokens > 1000 && ai.cost_usd > 0.5",
)
BUCKET_KEYS = (
    "identity.team",
    "identity.key",
    "identity.org",
    "ai.model",
    "conn.client_ip",
    'req.headers["x-user"][0]',
    "identity.labels['project']",
    'identity.org + "/" + identity.team',
)
SHARD_KEYS = BUCKET_KEYS + ('has(identity.org) ? identity.org : identity.team',)
"""String CEL texts over the request: the document's ``shard_key``."""
COSTS = (
    "ai.usage.total_tokens",
    "ai.input_tokens + ai.max_output_tokens",
    "ai.usage.output_tokens * 4 + ai.usage.input_tokens",
    "ai.stream ? 2 : 1",
    "1",
    "2.5",
    "double(ai.usage.total_tokens) * 0.5",
    "ai.cost_usd",
    "ai.usage.total_tokens -\n  ai.usage.cached_input_tokens",
)
INTERPOLATIONS = (
    "${ai.model}",
    "${identity.team}",
    "${res.status_code}",
    "${limits['team-tpm'].remaining}",
    '${ai.model == "x" ? "a" : "b"}',
    "${vars.route}",
)


def cel_conditions(*, response: bool = False) -> st.SearchStrategy[str]:
    return st.sampled_from(RESPONSE_CONDITIONS if response else CONDITIONS)


# text -----------------------------------------------------------------------------------

# YAML treats U+0085, U+2028 and U+2029 as line breaks: a writer must escape them.
_LINE_BREAKS = ["\u0085", "\u2028", "\u2029"]
_SPECIAL = st.sampled_from(
    list("\"\\'\n\t\r\x01\x7f${}#/ ") + ["//", "# x", "\ufeff"] + _LINE_BREAKS
)
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
_TEXT_PART = st.one_of(st.text(_CHARS, min_size=1, max_size=6), _SPECIAL)


def texts(*, min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """Unicode text with quotes, backslashes, newlines, control characters and `#`."""
    text = st.lists(_TEXT_PART, max_size=6).map(lambda parts: "".join(parts)[:max_size])
    return text.filter(lambda s: len(s) >= min_size) if min_size else text


_PLAIN_PART = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="$"),
    min_size=1, max_size=8,
) | st.sampled_from(["\"", "\\", "\n", "'", "{", "}", "$5", " ", "é", "☃"])


def templates(*, min_size: int = 0) -> st.SearchStrategy[str]:
    """Strings with well-formed ``${...}`` interpolations among plain text.

    Plain parts hold no ``$`` except in ``$5``, so every ``${`` starts an interpolation.
    """
    part = st.one_of(_PLAIN_PART, st.sampled_from(INTERPOLATIONS))
    return st.lists(part, max_size=4).map("".join).filter(lambda s: len(s) >= min_size)


names = texts(min_size=0, max_size=24)
# a header value written with a control character is refused at load (AIGW126): none here
header_values = templates().map(lambda s: s.replace("\n", " "))
header_names = st.from_regex(r"\A[A-Za-z0-9_!#$%&'*+.^`|~-]{1,16}\Z")
header_keys = st.from_regex(r"\A[A-Za-z0-9_-]{1,16}\Z")  # ngrok's names in a map of headers to set
durations = st.builds(
    lambda n, unit: f"{n}{unit}",
    st.integers(1, 400),
    st.sampled_from(["ms", "s", "m", "h", "d"]),
).filter(lambda d: _valid_duration(d))
periods = st.sampled_from(PERIODS) | durations
timezones = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
networks = st.sampled_from(
    ["10.0.0.0/8", "192.168.1.1", "2001:db8::/32", "::1", "203.0.113.0/24", "0.0.0.0/0"]
)
algorithms = st.sampled_from(["sliding_window", "fixed_window", "token_bucket"])
positive_floats = st.floats(min_value=1e-6, max_value=1e20, allow_nan=False,
                            allow_infinity=False)
fractions = st.sampled_from([0.8, 0.5, 0.07, 0.125, 0.99, 0.01, 0.3, 0.1 + 0.2]) | st.floats(
    min_value=1e-9, max_value=1 - 1e-9, exclude_min=True, exclude_max=True
)
int64 = st.integers(-(2**63), 2**63 - 1)


def _valid_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | int64 | st.floats(
        allow_nan=False, allow_infinity=False
    ) | templates()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(texts(max_size=8), inner, max_size=3),
        max_leaves=6,
    )


# actions --------------------------------------------------------------------------------


def _config(draw: st.DrawFn, type_name: str, limit_name: str) -> dict[str, Any]:
    """Plain config data for one action type; ``None`` values are dropped (not written)."""
    bucket_key = _maybe(st.lists(st.sampled_from(BUCKET_KEYS), min_size=1, max_size=3))
    header_map = st.dictionaries(header_keys, header_values, min_size=1, max_size=3)
    d: dict[str, Any]
    if type_name == "deny":
        d = {"status_code": draw(_maybe(st.integers(400, 599))),
             "message": draw(_maybe(templates()))}
    elif type_name == "custom-response":
        d = {"status_code": draw(_maybe(st.integers(100, 599))),
             "body": draw(_maybe(templates())),
             "headers": draw(_maybe(st.dictionaries(header_keys, header_values, max_size=3)))}
    elif type_name == "allow":
        d = {}
    elif type_name in ("rate-limit", "token-limit"):
        d = {"name": limit_name, "algorithm": draw(_maybe(algorithms)),
             "capacity": draw(st.integers(1, 2_000_000_000)), "rate": draw(durations),
             "bucket_key": draw(bucket_key), "enforce": draw(_maybe(st.booleans()))}
        if type_name == "token-limit":
            d["cost"] = draw(_maybe(st.sampled_from(COSTS)))
    elif type_name == "usage-cap":
        d = {"name": limit_name,
             "limit": draw(st.integers(1, 10**12) | positive_floats),
             "unit": draw(st.sampled_from(["tokens", "usd", "requests"])),
             "period": draw(periods), "timezone": draw(_maybe(timezones)),
             "bucket_key": draw(bucket_key), "warn_at": draw(_maybe(fractions)),
             "cost": draw(_maybe(st.sampled_from(COSTS))),
             "on_unknown_price": draw(_maybe(st.sampled_from(["deny", "allow"]))),
             "enforce": draw(_maybe(st.booleans()))}
    elif type_name == "model-access":
        patterns = st.lists(texts(max_size=12), max_size=3)
        d = {"allow": draw(_maybe(patterns)), "deny": draw(_maybe(patterns)),
             "status_code": draw(_maybe(st.integers(400, 599)))}
        if d["allow"] is None and d["deny"] is None:
            d["allow"] = ["openai/*"]
    elif type_name == "max-tokens":
        d = {"input": draw(_maybe(st.integers(1, 10**9))),
             "output": draw(_maybe(st.integers(1, 10**9))),
             "mode": draw(_maybe(st.sampled_from(["reject", "clamp"])))}
        if d["input"] is None and d["output"] is None:
            d["output"] = draw(st.integers(1, 10**6))
    elif type_name == "set-model":
        d = {"model": draw(templates(min_size=1)), "provider": draw(_maybe(texts(max_size=10)))}
    elif type_name == "add-headers":
        d = {"headers": draw(header_map)}
    elif type_name == "remove-headers":
        d = {"headers": draw(st.lists(header_names, min_size=1, max_size=4))}
    elif type_name == "set-vars":
        one = st.dictionaries(texts(max_size=10), json_values(), min_size=1, max_size=1)
        d = {"vars": draw(st.lists(one, min_size=1, max_size=3))}
    elif type_name == "log":
        d = {"metadata": draw(_maybe(st.dictionaries(texts(max_size=10), templates(),
                                                     max_size=3)))}
    elif type_name == "restrict-ips":
        nets = st.lists(networks, max_size=3)
        d = {"allow": draw(_maybe(nets)), "deny": draw(_maybe(nets)),
             "enforce": draw(_maybe(st.booleans()))}
    elif type_name in ("redirect", "url-rewrite"):
        d = {"from": draw(_maybe(texts(min_size=1, max_size=12))), "to": draw(templates(min_size=1))}
        if type_name == "redirect":
            d["status_code"] = draw(_maybe(st.sampled_from([301, 302, 303, 307, 308])))
            d["headers"] = draw(_maybe(st.dictionaries(header_keys, header_values, max_size=3)))
    elif type_name == "compress-response":
        d = {"algorithms": draw(_maybe(st.lists(st.sampled_from(["br", "compress", "deflate", "gzip"]),
                                                 unique=True, max_size=4)))}
    elif type_name == "forward-internal":
        # a written url names an HTTP internal endpoint (any other is refused at load, AIGW126);
        # one with `${...}` is checked when it is rendered
        written = st.from_regex(r"https?://[a-z][a-z0-9-]{0,12}\.internal(:[1-9][0-9]{1,3})?", fullmatch=True)
        url = st.one_of(written, templates(min_size=1).filter(lambda t: "${" in t))
        d = {"url": draw(url), "on_error": draw(_maybe(st.sampled_from(["halt", "continue"])))}
    elif type_name == "basic-auth":
        user = st.from_regex(r"[a-z]{1,8}", fullmatch=True)
        password = st.from_regex(r"[A-Za-z0-9:!]{8,16}", fullmatch=True)
        d = {"credentials": draw(st.lists(st.builds(lambda u, p: f"{u}:{p}", user, password), min_size=1, max_size=3)),
             "realm": draw(_maybe(st.from_regex(r"[ -~]{1,20}", fullmatch=True))),
             "enforce": draw(_maybe(st.booleans()))}
    elif type_name == "ai-gateway":
        d = _ai_gateway(draw)
    else:  # pragma: no cover - a new action type needs a strategy here
        raise AssertionError(f"no strategy for action `{type_name}`")
    return {k: v for k, v in d.items() if v is not None}


# ai-gateway ----------------------------------------------------------------------------

MODEL_STRATEGIES = (
    "ai.models",
    "ai.models.filter(m, m.provider_id == 'openai')",
    'ai.models.filter(m, m.provider_id in ["openai", "anthropic"] && m.id.startsWith("gpt-4"))',
    "ai.models.filter(m, m.metrics.global.error_rate.total < 0.05)",
    "limits['team-monthly'].remaining < 50.0 ? ai.models.filter(m, m.id == 'gpt-4o-mini')\n"
    "    : ai.models",
    "ai.models.filter(m,\n  m.pricing.input < 0.000005)",
    "[]",
)
KEY_STRATEGIES = (
    "ai.keys",
    "ai.keys.filter(k, k.quota.remaining_requests > 100)",
    "ai.keys.filter(k, k.error_rate.rate_limit < 0.1)",
)
SECRETS = ("${secrets.get('openai', 'k1')}", "${secrets.get('anthropic','primary')}")
ids = texts(min_size=1, max_size=12)
_id_lists = st.lists(ids, min_size=0, max_size=2)


def _part(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A part of a config: each optional field written or not."""
    out = {}
    for key, strategy in fields.items():
        value = draw(_maybe(strategy))
        if value is not None:
            out[key] = value
    return out


def _params(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [{"name": n} for n in draw(st.lists(ids, max_size=2))]


@st.composite
def _models(draw: st.DrawFn) -> dict[str, Any]:
    small = st.integers(1, 2_000_000)
    return {"id": draw(ids), **_part(draw, {
        "id_aliases": _id_lists, "author_id": ids, "display_name": texts(),
        "description": texts(), "disabled": st.booleans(),
        "metadata": st.dictionaries(texts(max_size=8), json_values(), max_size=2),
        "input_modalities": st.lists(st.sampled_from(["text", "image", "audio"]), max_size=2),
        "output_modalities": st.lists(st.sampled_from(["text", "image"]), max_size=2),
        "max_context_window": small, "max_output_tokens": small,
        "supported_features": st.lists(st.sampled_from(["tool-calling", "vision"]), max_size=2),
        "unsupported_params": st.lists(ids.map(lambda n: {"name": n}), max_size=2),
    })}


@st.composite
def _surfaces(draw: st.DrawFn) -> dict[str, Any]:
    surface = {"format": draw(st.sampled_from(["openai", "anthropic", "gemini"]))}
    if draw(st.booleans()):
        surface["surface"] = draw(st.sampled_from(["chat-completions", "messages", "responses"]))
        if draw(st.booleans()):
            surface["supported_params"] = _params(draw)
    return surface


@st.composite
def _providers(draw: st.DrawFn, index: int) -> dict[str, Any]:
    key = st.builds(dict, value=st.sampled_from(SECRETS) | texts(min_size=1, max_size=12))
    keyed = st.builds(lambda d, i: {**d, "id": i}, key, ids)
    return {"id": f"{draw(ids)}#{index}", **_part(draw, {
        "id_aliases": _id_lists,
        "base_url": st.sampled_from(["https://llm.internal.example/v1", "http://127.0.0.1:11434"]),
        "display_name": texts(), "description": texts(), "website": texts(),
        "disabled": st.booleans(),
        "metadata": st.dictionaries(texts(max_size=8), json_values(), max_size=2),
        "api_keys": st.lists(key | keyed, max_size=2),
        "models": st.lists(_models(), max_size=2),
        "supported_api_surfaces": st.lists(_surfaces(), max_size=2),
    })}


def _ai_gateway(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 2))
    tokens = st.integers(1, 500_000)
    triggers = st.lists(st.sampled_from([429, 401, 403, 500, "4xx", "5xx", "timeout", "connect"]),
                        min_size=1, max_size=3)
    return _part(draw, {
        "max_input_tokens": tokens, "max_output_tokens": tokens,
        "headers": st.dictionaries(header_names, header_values, max_size=2),
        "query_params": st.dictionaries(texts(max_size=8), templates(), max_size=2),
        "body": st.dictionaries(texts(max_size=8), json_values(), max_size=2),
        "on_error": st.sampled_from(["halt", "continue"]),
        "total_timeout": durations, "per_request_timeout": durations,
        "providers": st.just([draw(_providers(i)) for i in range(n)]),
        "only_allow_configured_providers": st.booleans(),
        "only_allow_configured_models": st.booleans(),
        "model_selection": st.builds(dict, strategy=st.lists(st.sampled_from(MODEL_STRATEGIES),
                                                             max_size=3)),
        "api_key_selection": st.builds(dict, strategy=st.lists(st.sampled_from(KEY_STRATEGIES),
                                                               min_size=1, max_size=2)),
        "failover_on": triggers,
    })


RESPONSE_ACTIONS = tuple(t for t, m in ACTIONS.items() if "on_http_response" in m.PHASES)
REQUEST_ACTIONS = tuple(t for t, m in ACTIONS.items() if "on_http_request" in m.PHASES)


@st.composite
def actions(draw: st.DrawFn, *, response: bool = False, limit_name: str = "limit") -> Action:
    type_name = draw(st.sampled_from(RESPONSE_ACTIONS if response else REQUEST_ACTIONS))
    config = ACTIONS[type_name].model_validate(_config(draw, type_name, limit_name))
    return Action(type=type_name, config=config)


@st.composite
def rules(draw: st.DrawFn, *, response: bool = False, index: int = 0) -> Rule:
    count = draw(st.integers(1, 3))
    acts = tuple(
        draw(actions(response=response, limit_name=f"{draw(texts(max_size=8))}#{index}.{i}"))
        for i in range(count)
    )
    exprs = draw(st.lists(cel_conditions(response=response), max_size=3))
    name = draw(_maybe(names))
    return Rule(
        name=None if name is None else f"{name}#{index}",
        expressions=tuple(Expr(source=s) for s in exprs),
        actions=acts,
        on_error=draw(_maybe(st.sampled_from(["deny", "skip"]))),
    )


@st.composite
def policies(draw: st.DrawFn, *, max_rules: int = 4) -> Policy:
    """A valid policy document, with unique rule and limit names."""
    n_req = draw(st.integers(0, max_rules))
    n_res = draw(st.integers(0, max_rules))
    return Policy(
        name=draw(_maybe(names)),
        default=draw(_maybe(st.sampled_from(["allow", "deny"]))),
        on_error=draw(_maybe(st.sampled_from(["deny", "skip"]))),
        store_failure=draw(_maybe(st.sampled_from(["fail_closed", "fail_open"]))),
        upstream_error=draw(_maybe(st.sampled_from(["release", "charge_input"]))),
        shard_key=draw(_maybe(st.sampled_from(SHARD_KEYS).map(lambda s: Expr(source=s)))),
        # a phase is absent (None), written empty (()) or has rules
        on_http_request=draw(st.none()) if n_req == 0 and draw(st.booleans())
        else tuple(draw(rules(index=i)) for i in range(n_req)),
        on_http_response=draw(st.none()) if n_res == 0 and draw(st.booleans())
        else tuple(draw(rules(response=True, index=n_req + i)) for i in range(n_res)),
    )
