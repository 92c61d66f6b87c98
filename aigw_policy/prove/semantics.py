"""A compiled policy's request phase as formulas over the symbolic request (SPEC §4, §6).

The walk mirrors ``engine/phases.py``: rules top to bottom; a rule matches when no condition
is false and none errs (a false one wins over an error); an error follows the rule's
``on_error`` (deny 500, or skip); actions run in order and a terminating one ends the phase;
the limits' reserve comes after the phase; then the document's default. Each rule gets
``reached`` and ``fired`` formulas; the outcome is a verdict, a status and the deciding rule.

What is not modelled is over-approximated: a limit's state is an uninterpreted function of
its bucket and cost (any state, the same for the same bucket and cost), a construct without
an encoding is an unknown value, and an action type without an encoding (``ai-gateway``)
sets ``opaque`` wherever it may run, so that no proof is claimed past it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import z3

from ..engine.compile import CAPPED_OPERATIONS, DEFAULT_MAX_OUTPUT_TOKENS, CompiledAction, CompiledPolicy, CompiledRule, Template
from ..providers.classify import PROVIDERS
from .model_names import allow_holds, deny_holds
from .symbolic import WITNESS_NOW, Sym, SymEnv
from .translate import as_bool, translate_source
from .values import str_val

__all__ = ["Encoding", "Outcome", "RuleFacts", "encode"]

_PLAIN = frozenset({"deny", "custom-response", "allow", "add-headers", "remove-headers", "set-vars",
                    "log", "set-model", "model-access", "max-tokens", "restrict-ips"})
_LIMITS = frozenset({"rate-limit", "token-limit", "usage-cap"})


@dataclass
class RuleFacts:
    label: str
    position: int
    reached: Any
    fired: Any
    matched: Any  # its conditions hold, whether or not it is reached
    stops: Any  # it ends the phase
    opaque_before: Any
    conds: frozenset[int] = frozenset()  # its conditions (value and no error), as z3 term ids
    sources: frozenset[str] = frozenset()  # its conditions' CEL text
    ends: bool = False  # whenever it fires, it ends the phase (its first action does, error or not)


@dataclass
class Outcome:
    """The request's fate under one policy, as formulas."""

    allow: Any
    status: Any
    rule: Any  # the deciding rule's position, -1 for none (the default)
    opaque: Any
    rules: list[RuleFacts]
    response_rules: int
    limit_hits: list[tuple[Any, Any]] = field(default_factory=list)  # (charged, limited)
    room: list[Any] = field(default_factory=list)  # what a witness needs to stay under the limits


class _Walk:
    def __init__(self, cp: CompiledPolicy, env: SymEnv, limits_ok: bool) -> None:
        self.cp = cp
        self.env = env
        self.limits_ok = limits_ok
        self.done: Any = z3.BoolVal(False)
        self.allow: Any = z3.BoolVal(True)
        self.status: Any = z3.IntVal(200)
        self.rule: Any = z3.IntVal(-1)
        self.opaque: Any = z3.BoolVal(False)
        self.pending: list[tuple[Any, int]] = []  # (non-eager limit hit, rule position)
        self.out_hits: list[tuple[Any, Any]] = []
        self.room: list[Any] = []
        self.providers = sorted({*PROVIDERS, "unknown"} | {a.config.provider for r in cp.request_rules
                                                            for a in r.actions if a.type == "set-model" and a.config.provider})
        names = [a.limit.spec.name for r in cp.request_rules for a in r.actions if a.limit is not None]
        self.repeated = {n for n in names if names.count(n) > 1}

    def stop(self, when: Any, allow: bool, status: int, rule: int) -> None:
        when = z3.And(z3.Not(self.done), when)
        self.allow = z3.If(when, z3.BoolVal(allow), self.allow)
        self.status = z3.If(when, z3.IntVal(status), self.status)
        self.rule = z3.If(when, z3.IntVal(rule), self.rule)
        self.done = z3.Or(self.done, when)

    def rule_facts(self, rule: CompiledRule) -> RuleFacts:
        env = self.env
        reached = z3.Not(self.done)
        opaque_before = self.opaque
        done_before = self.done
        vals = [as_bool(env, ("condition", e.source), translate_source(env, e.source)) for e in rule.exprs]
        false_any = z3.Or(z3.BoolVal(False), *[z3.And(z3.Not(v.err), z3.Not(v.val)) for v in vals])
        err_any = z3.And(z3.Not(false_any), z3.Or(z3.BoolVal(False), *[v.err for v in vals]))
        matched = z3.And(z3.Not(false_any), z3.Not(err_any))
        if rule.on_error == "deny" and not rule.shadow:  # a shadow rule's failure only ends the rule
            self.stop(z3.And(reached, err_any), False, 500, rule.position)
        fired = z3.And(reached, matched)
        alive = fired
        for action in rule.actions:
            alive = self.action(rule, action, alive)
        stops = z3.And(z3.Not(done_before), self.done)
        conds = frozenset(z3.And(v.val, z3.Not(v.err)).get_id() for v in vals)
        return RuleFacts(rule.label, rule.position, reached, fired, matched, stops, opaque_before, conds,
                         frozenset(e.source for e in rule.exprs), _ends(rule))

    def error(self, rule: CompiledRule, alive: Any, err: Any, shadow: bool = False) -> Any:
        """An action's CEL error: ``on_error: deny`` ends with 500, ``skip`` skips the rest."""
        self.deny(rule, z3.And(alive, err) if rule.on_error == "deny" else z3.BoolVal(False), 500, shadow)
        return z3.And(alive, z3.Not(err))

    def deny(self, rule: CompiledRule, when: Any, status: int, shadow: bool) -> None:
        """The rule answers ``status`` itself ``when``; not enforced (``mode: shadow``,
        ``enforce: false``), that denial only ends the rule (engine/phases.py ``_stopped``):
        the caller's ``alive`` excludes ``when`` either way."""
        if not shadow:
            self.stop(when, False, status, rule.position)

    def template(self, tpl: Template | None, *, header: bool = False) -> Sym:
        """A template's value (a string when it is modelled) and error."""
        env = self.env
        if tpl is None or tpl.constant:
            text = "" if tpl is None else "".join(p for p in tpl.parts if isinstance(p, str))
            return Sym("string", str_val(text), z3.BoolVal(False))
        parts = [translate_source(env, p.source) if not isinstance(p, str) else None for p in tpl.parts]
        err = z3.Or(*[p.err for p in parts if p is not None])
        if header:  # a rendered header value may hold characters no header carries: unknown
            err = z3.Or(err, env.unknown(("header", tpl.text), "bool").val)
        single = parts[0] if len(parts) == 1 else None
        if single is not None and single.kind == "string":
            return Sym("string", single.val, err)
        return Sym("opaque", env.unknown(("template", tpl.text), "string").val, err)

    def action(self, rule: CompiledRule, action: CompiledAction, alive: Any) -> Any:
        env = self.env
        t = action.type
        cfg = action.config
        pos = rule.position
        tpls = action.templates
        shadow = rule.shadow or getattr(cfg, "enforce", None) is False
        if t in _LIMITS and action.limit is not None:
            return self.limit(rule, action, alive, shadow)
        if t not in _PLAIN:
            self.opaque = z3.Or(self.opaque, z3.And(alive, z3.Not(self.done)))
            env.bump(("opaque", t, repr(cfg), env.term_id(alive)))  # it may change what later rules read
            return alive
        if t == "deny":
            alive = self.error(rule, alive, self.template(tpls.get("message")).err, shadow)
            self.deny(rule, alive, cfg.status_code or 403, shadow)
            return z3.BoolVal(False)
        if t == "custom-response":
            errs = [self.template(tpls.get("body")).err]
            errs += [self.template(h, header=True).err for h in tpls.get("headers", {}).values()]
            alive = self.error(rule, alive, z3.Or(*errs), shadow)
            self.deny(rule, alive, cfg.status_code or 200, shadow)
            return z3.BoolVal(False)
        if t == "allow":
            self.stop(alive, True, 200, pos)
            return z3.BoolVal(False)
        if t == "add-headers":
            errs = [self.template(h, header=True).err for h in tpls["headers"].values()]
            return self.error(rule, alive, z3.Or(*errs), shadow)
        if t in ("set-vars", "log"):
            errs = [self.template(v).err for v in _templates(tpls.get("vars" if t == "set-vars" else "metadata", {}))]
            alive = self.error(rule, alive, z3.Or(z3.BoolVal(False), *errs), shadow)
            if t == "set-vars":
                env.bump(("set-vars", repr(cfg), env.term_id(alive)))
            return alive
        if t == "set-model":
            value = self.template(tpls["model"])
            alive = self.error(rule, alive, value.err, shadow)
            old = env.variable("ai.model")
            model = value.val if value.kind == "string" else env.fresh("string", "model").val
            env.set_state("ai.model", Sym("string", z3.If(alive, model, old.val), old.err))
            if cfg.provider:
                p = env.variable("ai.provider")
                env.set_state("ai.provider", Sym("string", z3.If(alive, str_val(cfg.provider), p.val), p.err))
            return alive
        if t == "model-access":
            return self.model_access(rule, cfg, alive, shadow)
        if t == "max-tokens":
            return self.max_tokens(rule, cfg, alive, shadow)
        if t == "restrict-ips":
            env.bump(("restrict-ips", repr(cfg), env.term_id(alive)))
            if cfg.enforce is False:  # recorded as would_deny by the action itself; the rule goes on
                return alive
            denied = z3.And(alive, self.ip_denied(rule, action))
            self.deny(rule, denied, 403, shadow)
            return z3.And(alive, z3.Not(denied))
        return alive  # remove-headers: nothing the decision depends on

    def priced(self) -> Any:
        """Whether the request's provider and model are one of the pairs :func:`_priced` knows
        a price for: a witness takes the model without a price (a usd cap's
        ``on_unknown_price``) exactly when it is not one of them."""
        env = self.env
        provider, model = env.variable("ai.provider").val, env.variable("ai.model").val
        names = {a.config.model for r in self.cp.request_rules for a in r.actions
                 if a.type == "set-model" and isinstance(a.config.model, str)}
        names.update(w for r in self.cp.request_rules for e in r.exprs for w in _QUOTED.findall(e.source))
        return z3.Or(z3.BoolVal(False), *[z3.And(provider == str_val(p), model == str_val(m))
                                          for p, m in _priced(tuple(sorted(names)))])

    def ip_denied(self, rule: CompiledRule, action: CompiledAction) -> Any:
        """Whether ``restrict-ips`` denies: exact without a client address (denied when it
        has an allow list) and for one address per network it names (the outcome computed
        here as the engine does); for any other address the solver's choice, which a witness
        avoids (:attr:`SymEnv.hints`)."""
        env = self.env
        ip = env.variable("conn.client_ip")
        nets = action.templates["networks"]
        denied: Any = env.unknown(("restrict-ips", repr(action.config)), "bool").val
        known = []
        for address in _addresses(nets):
            known.append(ip.val == str_val(address))
            denied = z3.If(known[-1], z3.BoolVal(_ip_denied(nets, address)), denied)
        env.hints.append(z3.Implies(z3.Not(ip.err), z3.Or(z3.BoolVal(False), *known)))
        return z3.If(ip.err, z3.BoolVal(nets["allow"] is not None), denied)

    def model_access(self, rule: CompiledRule, cfg: Any, alive: Any, shadow: bool) -> Any:
        env = self.env
        model = env.variable("ai.model").val
        provider = env.variable("ai.provider").val

        def hit(patterns: tuple[str, ...], holds: Any) -> Any:
            # the model alone, or `provider/model`: one case per provider the request can have
            # (the classifier's, or one a set-model names); names compared as the engine does
            # (aigw_policy.engine.model_names)
            terms = []
            for p in patterns:
                term = holds(model, provider, p, self.providers)
                terms.append(env.unknown(("glob", p, env.version), "bool").val if term is None else term)
            return z3.Or(z3.BoolVal(False), *terms)

        denied = hit(cfg.deny or (), deny_holds)
        if cfg.allow is not None:
            denied = z3.Or(denied, z3.Not(hit(cfg.allow, allow_holds)))
        self.deny(rule, z3.And(alive, denied), cfg.status_code or 403, shadow)
        return z3.And(alive, z3.Not(denied))

    def max_tokens(self, rule: CompiledRule, cfg: Any, alive: Any, shadow: bool) -> Any:
        env = self.env
        inp = env.variable("ai.input_tokens").val
        if cfg.input is not None:
            self.deny(rule, z3.And(alive, inp > cfg.input), 413, shadow)
            alive = z3.And(alive, inp <= cfg.input)
        if cfg.output is not None:
            out = env.variable("ai.max_output_tokens")
            op = env.variable("ai.operation").val
            capped = z3.Or(*[op == str_val(o) for o in sorted(CAPPED_OPERATIONS)])  # could set an output cap
            if (cfg.mode or "reject") == "clamp":
                clamp = z3.And(alive, capped, z3.Or(out.val == 0, out.val > cfg.output))
                env.set_state("ai.max_output_tokens", Sym("int", z3.If(clamp, z3.IntVal(cfg.output), out.val),
                                                         z3.And(out.err, z3.Not(clamp))))
            else:  # more than the cap, or no cap on an operation that could set one
                over = z3.Or(out.val > cfg.output, z3.And(out.val == 0, capped))
                self.deny(rule, z3.And(alive, over), 413, shadow)
                alive = z3.And(alive, z3.Not(over))
        return alive

    def limit(self, rule: CompiledRule, action: CompiledAction, alive: Any, shadow: bool) -> Any:
        env = self.env
        plan = action.limit
        assert plan is not None
        spec = plan.spec
        keys = [translate_source(env, e.source) for e in plan.bucket]
        alive = self.error(rule, alive, z3.Or(z3.BoolVal(False), *[k.err for k in keys]), shadow)
        cost: Any = None
        if plan.kind == "rate-limit" or (spec.unit == "requests" and plan.cost is None):
            cost = z3.IntVal(1)
        elif spec.unit == "tokens" and plan.cost is None:
            out = env.variable("ai.max_output_tokens").val
            op = env.variable("ai.operation").val
            default = z3.If(op == str_val("embeddings"), 0, DEFAULT_MAX_OUTPUT_TOKENS)
            cost = env.variable("ai.input_tokens").val + z3.If(out == 0, default, out)
            self.room.append(z3.Implies(alive, cost <= int(spec.capacity)))
        else:  # usd, or a cost expression: its value and errors are not modelled
            if spec.unit == "usd" and plan.on_unknown_price == "deny" and spec.enforce:
                unpriced = env.unknown(("unpriced",), "bool").val
                env.hints.append(unpriced == z3.Not(self.priced()))
                self.stop(z3.And(alive, unpriced), False, 403, rule.position)
                alive = z3.And(alive, z3.Not(unpriced))
            if plan.cost is not None:
                alive = self.error(rule, alive, env.unknown(("cost", plan.cost.source), "bool").val, shadow)
            # the cost's value: the price, or the expression's (an int stands for it: the
            # limit's state is any function of it, so any value is as good as the real one)
            cost = env.unknown(("cost value", plan.cost.source if plan.cost is not None else "price"), "int").val
        bucket = _bucket(env, keys, tuple(e.source for e in plan.bucket))
        env.limit_buckets.setdefault(spec.name, (spec.capacity, spec.unit, bucket))
        # `limits[name]` is there from now on, with this charge's state: what reads it is read afresh
        env.bump(("limit", repr(spec), env.term_id(alive), env.term_id(bucket), env.term_id(cost)))
        if self.limits_ok or not spec.enforce:
            return alive
        if cost is not None and spec.name not in self.repeated:
            state = z3.Function(f"limit {spec!r}",
                                z3.StringSort(), z3.IntSort(), z3.BoolSort())
            limited = state(bucket, cost)
        else:
            limited = env.fresh("bool", f"limited {spec.name}").val
        self.out_hits.append((alive, limited))
        if action.eager:
            self.stop(z3.And(alive, limited), False, 429, rule.position)
            return z3.And(alive, z3.Not(limited))
        self.pending.append((z3.And(alive, limited), rule.position))
        return alive

    def finish(self) -> None:
        if self.pending:
            free = z3.Or(z3.Not(self.done), self.allow)
            for hit, pos in self.pending:
                when = z3.And(free, hit)
                self.allow = z3.If(when, z3.BoolVal(False), self.allow)
                self.status = z3.If(when, z3.IntVal(429), self.status)
                self.rule = z3.If(when, z3.IntVal(pos), self.rule)
                free = z3.And(free, z3.Not(hit))
                self.done = z3.Or(self.done, when)
        if self.cp.default == "deny":
            self.stop(z3.BoolVal(True), False, 403, -1)


def _ends(rule: CompiledRule) -> bool:
    """Whether the rule ends the phase whenever it fires, read from its actions alone: its first
    action is deny, custom-response or allow, and a template error in it cannot let the rule go
    on (``on_error: deny`` ends the phase with 500, or the templates are constant)."""
    if not rule.actions or rule.actions[0].type not in ("deny", "custom-response", "allow"):
        return False
    if rule.actions[0].type != "allow" and (rule.shadow or getattr(rule.actions[0].config, "enforce", None) is False):
        return False  # a denial not enforced ends only the rule
    return rule.on_error == "deny" or all(t.constant for t in _templates(rule.actions[0].templates))


_QUOTED = re.compile(r"""["']([A-Za-z0-9][\w.:/-]{0,80})["']""")
"""A quoted word in a condition's text: perhaps a model name (a literal the policy compares)."""

_COMMON_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o3", "claude-sonnet-4-5", "gemini-2.5-flash")


@functools.lru_cache(maxsize=64)
def _priced(targets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The (provider, model) pairs, of a few common models and ``targets`` (set-model's models
    and the words the conditions quote), that the default price book prices at a witness's
    time."""
    from ..providers.prices import PriceBook
    from ..providers.usage import Usage

    book = PriceBook()
    at = datetime.fromisoformat(WITNESS_NOW)
    usage = Usage.of(1000, 1000, source="estimate", model=None)
    return tuple((p, m) for m in dict.fromkeys((*_COMMON_MODELS, *targets)) for p in PROVIDERS
                 if book.cost(p, m, usage, at=at).as_float() is not None)


def _addresses(nets: dict[str, Any]) -> list[str]:
    """One address per network of a ``restrict-ips`` (its first and its last), as text."""
    out: list[str] = []
    for version, first, last, _ in [*(nets["allow"] or ()), *nets["deny"]]:
        for n in (first, last):
            text = str(ipaddress.ip_address(n) if version == 4 else ipaddress.IPv6Address(n))
            if text not in out:
                out.append(text)
    return out


def _ip_denied(nets: dict[str, Any], address: str) -> bool:
    """The engine's ``restrict-ips`` outcome for a valid ``address`` (engine/actions.py)."""
    ip = ipaddress.ip_address(address)
    version, n = ip.version, int(ip)
    if any(r[0] == version and r[1] <= n <= r[2] for r in nets["deny"]):
        return True
    allow = nets["allow"]
    return allow is not None and not any(r[0] == version and r[1] <= n <= r[2] for r in allow)


def _templates(value: Any) -> list[Template]:
    if isinstance(value, Template):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _templates(v)]
    return []


def _bucket(env: SymEnv, keys: list[Sym], sources: tuple[str, ...]) -> Any:
    if not keys:
        return str_val("")
    parts: list[Any] = []
    for i, k in enumerate(keys):
        if i:
            parts.append(str_val("|"))
        parts.append(k.val if k.kind == "string" else env.unknown(("bucket", sources[i]), "string").val)
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


class Encoding:
    """The request phase of ``cp`` over ``env``, encoded a rule at a time: :meth:`upto` for one
    rule's facts (each rule's depend on the rules before it only), :meth:`outcome` for the
    whole phase. ``rules`` holds the facts encoded so far."""

    def __init__(self, cp: CompiledPolicy, env: SymEnv, *, limits_ok: bool = False) -> None:
        self.cp = cp
        self.rules: list[RuleFacts] = []
        self._walk = _Walk(cp, env, limits_ok)

    def upto(self, position: int) -> RuleFacts:
        """The facts of request rule ``position``, encoding the rules up to it not yet encoded."""
        while len(self.rules) <= position:
            self.rules.append(self._walk.rule_facts(self.cp.request_rules[len(self.rules)]))
        return self.rules[position]

    def outcome(self, go_on: Callable[[], bool] = lambda: True) -> Outcome | None:
        """The whole phase, or None when ``go_on`` (asked before each rule) says to stop."""
        for rule in self.cp.request_rules[len(self.rules):]:
            if not go_on():
                return None
            self.upto(rule.position)
        walk = self._walk
        walk.finish()
        out = Outcome(walk.allow, walk.status, walk.rule, walk.opaque, self.rules, len(self.cp.response_rules))
        out.limit_hits = walk.out_hits
        out.room = walk.room
        return out


def encode(cp: CompiledPolicy, env: SymEnv, *, limits_ok: bool = False) -> Outcome:
    """The request phase of ``cp`` over ``env``."""
    out = Encoding(cp, env, limits_ok=limits_ok).outcome()
    assert out is not None
    return out
