"""Witnesses: a solver model as a complete REQUEST.json (SPEC §8), and the replay that checks
it through the engine, as ``explain`` runs it.

The request is an OpenAI chat completion whose body yields the ``ai.*`` values the model
chose (model, messages, prompt, tools, stream, max_tokens), the ``ai`` override for provider
and operation, the identity, the headers, and ngrok's other variables under their names.
A witness is only reported once the engine, run on it, gives the claimed verdict, status and
rule: a model that cannot be built faithfully is never shown as an answer.
"""

from __future__ import annotations

from typing import Any

import z3

from ..engine.compile import CompiledPolicy
from ..engine.runner import Engine
from ..env.activation import activation, classify_request
from ..env.policy import compile_condition
from ..env.request import Request
from ..limits import MemoryStore
from .symbolic import WITNESS_NOW, SymEnv, prompt_length
from .values import evaluate, text_of

__all__ = ["PAD_LIMIT", "STATE_FRACTIONS", "Replay", "build", "input_tokens", "pad_to", "replay", "variants", "where_holds"]

_IDENTITY = ("key", "user", "team", "org", "tier")
_NATIVE_REQ = frozenset({"req.method", "req.url.path", "req.host", "req.headers", "req.id"})


def _value(model: z3.ModelRef, term: Any) -> Any:
    v = evaluate(model, term)
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    if z3.is_int_value(v):
        return v.as_long()
    if z3.is_string_value(v):
        return text_of(v)
    if isinstance(v, z3.SeqRef):
        n = evaluate(model, z3.Length(term))
        if not z3.is_int_value(n):
            return None
        items = [evaluate(model, term[i]) for i in range(n.as_long())]
        return [text_of(i) for i in items] if all(z3.is_string_value(i) for i in items) else None
    return None


def build(env: SymEnv, model: z3.ModelRef) -> dict[str, Any]:
    """The REQUEST.json of ``model``; variables the policy never reads get plain values."""
    read = env.vars

    def val(name: str, default: Any) -> Any:
        if name not in read:
            return default
        got = _value(model, read[name].val)
        return default if got is None else got

    def present(name: str) -> bool:
        return name in read and bool(_value(model, env.present[name]))

    identity: dict[str, Any] = {k: val(f"identity.{k}", "") for k in _IDENTITY if present(f"identity.{k}")}
    labels = env.maps.get("identity.labels")
    if labels is not None:
        got = {k: _value(model, v) for k, (p, v) in labels.entries.items() if _value(model, p)}
        if got:
            identity["labels"] = got
    headers: dict[str, Any] = {"content-type": "application/json"}
    hm = env.maps.get("req.headers")
    if hm is not None:
        for k, (p, v) in hm.entries.items():
            if _value(model, p):
                headers[k] = _value(model, v)
    messages = min(val("ai.messages", 1), MAX_WITNESS_MESSAGES)  # more: not built (the replay tells)
    prompt = val("ai.prompt", "hi")
    if "ai.prompt" in env.implied:  # only its length matters: printable, no spaces
        prompt = "x" * (_value(model, prompt_length()) or 0)
    body: dict[str, Any] = {"model": val("ai.model", "gpt-4o-mini"),
                            "messages": ([{"role": "user", "content": prompt}] if messages else [])
                            + [{"role": "user"} for _ in range(max(messages - 1, 0))]}
    if val("ai.stream", False):
        body["stream"] = True
    out = val("ai.max_output_tokens", 0)
    if out:
        body["max_tokens"] = out
    tools = val("ai.tools", [])
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": t}} for t in tools]
    host = val("req.host", "gw.example") or "gw.example"
    path = val("req.url.path", "/v1/chat/completions")
    data: dict[str, Any] = {
        "id": val("req.id", "prove-witness") or "prove-witness",
        "now": WITNESS_NOW,
        "identity": identity,
        "request": {"method": val("req.method", "POST"), "url": f"https://{host}{path}",
                    "headers": headers, "body": body},
    }
    override = {k: val(f"ai.{k}", None) for k in ("provider", "operation") if f"ai.{k}" in read}
    if override:
        data["ai"] = override
    extra: dict[str, dict[str, Any]] = {"conn": {}, "endpoint": {}, "req": {}}
    for name, sym in read.items():
        top, _, rest = name.partition(".")
        if top in extra and name not in _NATIVE_REQ and present(name) and sym.kind in ("string", "int", "bool", "list"):
            extra[top][rest] = _value(model, sym.val)
    for top, values in extra.items():
        if values:
            data[top] = values
    return data


MAX_WITNESS_MESSAGES = 1000
"""The most messages a witness is built with (a model may count up to 2^57)."""


STATE_FRACTIONS = (0.95, 1.0)
"""How full a limit whose state the policy reads is in a witness's further tries (its
``state``, SPEC §8): nearly full, then full. The first try has every limit as it starts, empty."""


def variants(env: SymEnv, model: z3.ModelRef) -> list[dict[str, Any]]:
    """The REQUEST.json of ``model`` (:func:`build`) and, when the policy reads limits' state
    (``limits[name]``, not modelled), the same request with those limits' buckets filled to
    each of :data:`STATE_FRACTIONS`: the engine's replay decides which, if any, is a witness."""
    data = build(env, model)
    out = [data]
    limits: dict[str, dict[str, Any]] = {}
    for name in sorted(env.limit_reads & env.limit_buckets.keys()):
        capacity, unit, bucket = env.limit_buckets[name]
        key = _value(model, bucket)
        if isinstance(key, str):
            limits[name] = {"key": key, "capacity": capacity, "unit": unit}
    for fraction in STATE_FRACTIONS if limits else ():
        state = {}
        for name, got in limits.items():
            used = got["capacity"] * fraction
            state[name] = {got["key"]: {"used": used if got["unit"] == "usd" else int(used)}}
        out.append({**data, "state": {"limits": state}})
    return out


def input_tokens(data: dict[str, Any]) -> int | None:
    """The input token estimate the engine will see for ``data`` (None if it is invalid)."""
    try:
        return classify_request(Request.parse(data)).input_tokens
    except ValueError:
        return None


PAD_LIMIT = 1_000_000
"""The most input tokens a prompt is padded to (4 MB of text): a model's estimate is not
bounded by a witness's constraints, and padding to 2^62 would build a string of 2^64."""


def pad_to(data: dict[str, Any], target: int) -> dict[str, Any] | None:
    """``data`` with its first message's text lengthened (`` xxxx...``) until the input token
    estimate is ``target``; None if no padding reaches it (or ``target`` is past
    :data:`PAD_LIMIT`). The prompt changes: the replay decides whether the policy still
    answers as claimed."""
    import copy

    if target > PAD_LIMIT:
        return None

    messages = data["request"]["body"].get("messages") or []
    if not messages or not isinstance(messages[0].get("content"), str):
        return None
    base = messages[0]["content"]
    have = input_tokens(data)
    if have is None or have > target:
        return None
    chars = 4 * (target - have)
    for _ in range(8):
        out = copy.deepcopy(data)
        out["request"]["body"]["messages"][0]["content"] = base + (" " + "x" * chars if chars else "")
        got = input_tokens(out)
        if got is None:
            return None
        if got == target:
            return out
        chars = max(0, chars + 4 * (target - got))
    return None


class Replay:
    """What ``explain`` says about a witness: verdict, status, deciding rule, matched rules."""

    def __init__(self, verdict: str, status: int, rule: str | None, matched: set[str]) -> None:
        self.verdict = verdict
        self.status = status
        self.rule = rule
        self.matched = matched

    def claims(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "status_code": self.status, "rule": self.rule}


def replay(cp: CompiledPolicy, data: dict[str, Any]) -> Replay | None:
    """Run ``data`` as ``explain`` does (fresh in-memory store, trace on); None if the engine
    refuses it or cannot run it (an action it does not implement yet): not confirmed."""
    try:
        d = Engine(cp, store=MemoryStore(), trace=True).evaluate(data, apply_state=True, request_id="explain")
    except Exception:  # noqa: BLE001 - whatever went wrong, the witness is not confirmed
        return None
    matched = {t["rule"] for t in d.trace or () if t.get("phase") == "on_http_request" and t.get("matched") is True}
    return Replay(d.verdict, d.status_code, d.rule, matched)


def where_holds(source: str, data: dict[str, Any]) -> bool:
    """Whether the CEL condition ``source`` is true (not an error) on the request ``data``."""
    req = Request.parse(data)
    act = activation(req, classify_request(req), data.get("id") or "explain",
                     req.unix_now() or 0.0, content_length=True)
    try:
        return compile_condition(source)(act) is True
    except Exception:  # noqa: BLE001 - an error is "does not hold"
        return False
