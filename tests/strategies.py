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
header_names = st.from_regex(r"\A[A-Za-z0-9_!#$%&'*+.^`|~-]{1,16}\Z")
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
    header_map = st.dictionaries(header_names, templates(), min_size=1, max_size=3)
    d: dict[str, Any]
    if type_name == "deny":
        d = {"status_code": draw(_maybe(st.integers(400, 599))),
             "message": draw(_maybe(templates()))}
    elif type_name == "custom-response":
        d = {"status_code": draw(_maybe(st.integers(100, 599))),
             "body": draw(_maybe(templates())),
             "headers": draw(_maybe(st.dictionaries(header_names, templates(), max_size=3)))}
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
    else:  # pragma: no cover - a new action type needs a strategy here
        raise AssertionError(f"no strategy for action `{type_name}`")
    return {k: v for k, v in d.items() if v is not None}


RESPONSE_ACTIONS = tuple(t for t, m in ACTIONS.items() if not m.REQUEST_ONLY)


@st.composite
def actions(draw: st.DrawFn, *, response: bool = False, limit_name: str = "limit") -> Action:
    type_name = draw(st.sampled_from(RESPONSE_ACTIONS if response else tuple(ACTIONS)))
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
        # a phase is absent (None), written empty (()) or has rules
        on_http_request=draw(st.none()) if n_req == 0 and draw(st.booleans())
        else tuple(draw(rules(index=i)) for i in range(n_req)),
        on_http_response=draw(st.none()) if n_res == 0 and draw(st.booleans())
        else tuple(draw(rules(response=True, index=n_req + i)) for i in range(n_res)),
    )
