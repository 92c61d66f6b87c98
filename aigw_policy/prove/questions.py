"""The three questions of SPEC §13, over every request: which rules can fire, can a request
of some kind get some verdict, do two policies decide every request the same.

Soundness first. The encoding over-approximates what it cannot model (see
:mod:`.semantics`), so "no solution" is a proof; "a solution" is only an answer once a
witness built from it, run through the engine, does what the model claimed. Otherwise, or
when the solver gives up within its time, the answer is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations, islice
from typing import Any

import z3

from ..engine.compile import CompiledPolicy
from .semantics import Encoding, Outcome, RuleFacts, encode
from .solving import Budget, check
from .symbolic import SymEnv
from .translate import translate_source
from .values import TEXT_MAX, Unencodable, evaluate
from .witness import Replay, input_tokens, pad_to, replay, variants, where_holds

__all__ = ["Answer", "Budget", "RuleAnswer", "equiv", "query", "rules"]


def _fresh_context() -> None:
    """Start a question in a new z3 context: z3 keeps caches (regex derivatives, rewrites) per
    context, and a long-lived one made each further question slower (a 50-rule `equiv` went
    from half a second to a time-out over four runs in one process). z3's Python API creates
    its main context lazily; every term here is made after this call."""
    z3.z3._main_ctx = None  # type: ignore[attr-defined]


@dataclass
class RuleAnswer:
    rule: str
    position: int
    phase: str
    result: str  # reachable | unreachable | shadowed | unknown
    reason: str
    witness: dict[str, Any] | None = None
    by: list[str] = field(default_factory=list)  # shadowed: the earlier rules that answer first
    decision: dict[str, Any] | None = None  # reachable: the witness's verdict, status and rule

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "phase": self.phase, "result": self.result, "reason": self.reason}
        if self.by:
            out["shadowed_by"] = self.by
        if self.witness is not None:
            out["witness"] = self.witness
            out["decision"] = self.decision
        return out


@dataclass
class Answer:
    result: str
    witness: dict[str, Any] | None
    details: list[dict[str, Any]]


def _witness(budget: Budget, env: SymEnv, outs: list[Outcome], goal: Any,
             accept: Callable[[dict[str, Any], z3.ModelRef], bool],
             first: z3.ModelRef | None = None) -> dict[str, Any] | None:
    """A REQUEST.json meeting ``goal`` that ``accept`` confirms, or None. Tries the model
    already found (``first``, free of cost), then the exact token estimate, then a free
    prompt with the estimate pinned from a first build."""
    if first is not None:
        for data in variants(env, first):
            if accept(data, first):
                return data
        padded = _padded(env, first, data)  # the model's token estimate, the prompt lengthened to it
        if padded is not None and accept(padded, first):
            return padded
    room = [c for o in outs for c in o.room]
    no_hits = [z3.Not(z3.And(charged, hit)) for o in outs for charged, hit in o.limit_hits]
    for strict in (True, False):
        extra: list[Any] = []
        for _ in range(2):
            # the exact estimate can stall on long prompts: a quarter of the time, then the other way
            state, model = check(budget, env.facts, goal, *env.realizable(strict_tokens=strict), *room, *no_hits,
                                 *extra, share=0.25 if strict else 1.0, question="witness")
            if model is None:
                break
            for data in variants(env, model):
                if accept(data, model):
                    return data
            seen = input_tokens(data)
            if not strict:
                padded = _padded(env, model, data)
                if padded is not None and accept(padded, model):
                    return padded
            if strict or seen is None or "ai.input_tokens" not in env.vars or extra:
                break
            pin = [env.vars["ai.input_tokens"].val == seen]
            for name in ("ai.prompt", "ai.tools", "ai.messages"):
                if name in env.vars and name not in env.implied:
                    pin.append(env.vars[name].val == evaluate(model, env.vars[name].val))
            extra = pin
    return None


def _padded(env: SymEnv, model: z3.ModelRef, data: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` with its prompt lengthened until the input token estimate is the model's, or
    None (no estimate in the model, or already at or above it)."""
    seen = input_tokens(data)
    if seen is None or "ai.input_tokens" not in env.vars:
        return None
    want = evaluate(model, env.vars["ai.input_tokens"].val)
    if not z3.is_int_value(want) or want.as_long() <= seen:
        return None
    body = data["request"]["body"]
    if not body.get("messages") and "ai.messages" in env.implied:  # the policy does not read the count
        data = {**data, "request": {**data["request"], "body": {**body, "messages": [{"role": "user", "content": "x"}]}}}
    return pad_to(data, want.as_long())


def _claimed(model: z3.ModelRef, out: Outcome) -> dict[str, Any] | None:
    """The verdict, status and rule ``model`` claims for ``out`` (None if it names none)."""
    allow = z3.is_true(evaluate(model, out.allow))
    status, pos = evaluate(model, out.status), evaluate(model, out.rule)
    if not (z3.is_int_value(status) and z3.is_int_value(pos)):
        return None
    status, pos = status.as_long(), pos.as_long()
    rule = next((r.label for r in out.rules if r.position == pos), None)
    return {"verdict": "allow" if allow else "deny", "status_code": status, "rule": rule}


def _same(got: Replay | None, claimed: dict[str, Any] | None) -> bool:
    return got is not None and claimed is not None and got.claims() == claimed


_UNENCODABLE = (f"the policy names a character above U+{TEXT_MAX:X} in a text the solver needs, "
                "and its texts do not hold such characters exactly")


def rules(cp: CompiledPolicy, *, limits_ok: bool = False, budget: Budget | None = None,
          witnesses: bool = True) -> list[RuleAnswer]:
    """Each rule: ``reachable`` (with a witness), ``unreachable``, ``shadowed`` or ``unknown``.
    The budget's total time bounds the encoding too: it is checked between rules, and the
    rules left when it is spent are ``unknown``, unasked (and not encoded)."""
    try:
        return _rules(cp, limits_ok, budget or Budget(), witnesses)
    except Unencodable:
        return [RuleAnswer(r.label, r.position, phase, "unknown", _UNENCODABLE)
                for phase, rs in (("on_http_request", cp.request_rules), ("on_http_response", cp.response_rules))
                for r in rs]


def _rules(cp: CompiledPolicy, limits_ok: bool, budget: Budget, witnesses: bool) -> list[RuleAnswer]:
    answers: list[RuleAnswer] = []
    _fresh_context()  # one context and one encoding for all the rules; a fresh solver per check
    env = SymEnv()
    encoding = Encoding(cp, env, limits_ok=limits_ok)
    # a witness's claim reads the whole phase's outcome; without witnesses, a rule is encoded
    # when it is asked about (its facts depend on the rules before it only)
    out = encoding.outcome(lambda: not budget.spent()) if witnesses else None
    ends = _Ends()
    seen: list[tuple[dict[str, Any], Replay]] = []  # confirmed witnesses and what the engine did on them
    for rule in cp.request_rules:
        if budget.spent():
            answers.append(RuleAnswer(rule.label, rule.position, "on_http_request", "unknown",
                                      "not asked: the solver's time ran out"))
            continue
        facts = encoding.upto(rule.position)
        budget.topic = rule.label
        answer = _known(facts, seen) or _by_ends(budget, env, ends, facts)
        if answer is None:
            answer = _rule(cp, env, out, encoding.rules, facts, budget, seen)
        answers.append(answer)
        ends.add(facts, answer)
    budget.encoded += len(encoding.rules)
    for rule in cp.response_rules:
        answers.append(RuleAnswer(rule.label, rule.position, "on_http_response", "unknown",
                                  "the response phase is not modelled"))
    return answers


def _known(facts: Any, seen: list[tuple[dict[str, Any], Replay]]) -> RuleAnswer | None:
    """Reachable without the solver: a witness already confirmed for an earlier rule, on which
    the engine's trace shows this rule matching too."""
    for data, got in seen:
        if facts.label in got.matched:
            return RuleAnswer(facts.label, facts.position, "on_http_request", "reachable",
                              "a request reaches it and matches", data, decision=got.claims())
    return None


SHORTCUT_TEXTS = 6
"""The most condition texts a rule may have for :func:`_by_ends` to look for the earlier rules
whose texts are among its own (one look-up per subset); a rule with more is left to the
solver's general question."""

SHORTCUT_TERMS = 4
"""The earlier ending rules :class:`_Ends` keeps per set of condition texts (the first of each
set of terms): the same texts read after different actions (a ``set-model`` between) are
different terms."""


class _Ends:
    """The earlier rules that end the phase whenever they fire, indexed once by their condition
    texts, so that a rule looks up its candidates rather than scanning every earlier rule."""

    def __init__(self) -> None:
        self.by_texts: dict[frozenset[str], dict[frozenset[int], tuple[RuleFacts, RuleAnswer]]] = {}

    def add(self, facts: RuleFacts, answer: RuleAnswer) -> None:
        if not facts.ends:
            return
        terms = self.by_texts.setdefault(facts.sources, {})
        if facts.conds not in terms and len(terms) < SHORTCUT_TERMS:
            terms[facts.conds] = (facts, answer)  # a later one with the same terms never answers first

    def candidates(self, facts: RuleFacts) -> list[tuple[RuleFacts, RuleAnswer]]:
        """The indexed rules whose condition texts are among ``facts``', first to last."""
        texts = sorted(facts.sources)
        if len(texts) > SHORTCUT_TEXTS:
            return []
        found = [hit for k in range(len(texts) + 1) for sub in combinations(texts, k)
                 for hit in self.by_texts.get(frozenset(sub), {}).values()]
        return sorted(found, key=lambda hit: hit[0].position)


def _by_ends(budget: Budget, env: SymEnv, ends: _Ends, facts: RuleFacts) -> RuleAnswer | None:
    """Shadowed without a search over every earlier rule: an earlier rule that ends the phase
    whenever it fires, whose conditions hold whenever this rule's do (nothing unmodelled
    before it). Whenever this rule's conditions hold, that rule has fired and ended the phase,
    or something before it has. The candidates are the rules whose condition texts are among
    this rule's (looked up in ``ends``); the implication is proved by the solver unless the
    terms are the very same (no action in between changed what they read). Whether this rule's
    conditions can hold at all (else unreachable) is a check on them alone."""
    if not z3.is_false(z3.simplify(facts.opaque_before)):
        return None
    for other, before in ends.candidates(facts):
        budget.scanned += 1
        if not other.conds <= facts.conds:
            implied, _ = check(budget, env.facts, facts.matched, z3.Not(other.matched), share=0.2,
                               question=f"implies {other.label}")
            if implied != "unsat":
                continue
        if other.conds == facts.conds and before.result in ("reachable", "shadowed"):
            alone = "sat"  # the same conditions held for it
        else:
            alone, _ = check(budget, env.facts, facts.matched, question="conditions")
        if alone == "unsat":
            return RuleAnswer(facts.label, facts.position, "on_http_request", "unreachable",
                              "its conditions can never all hold (or one always fails and on_error skips it)")
        if alone == "unknown":
            return None
        return RuleAnswer(facts.label, facts.position, "on_http_request", "shadowed",
                          f"whenever its conditions hold, `{other.label}` already ended the phase "
                          "(its conditions hold too)", by=[other.label])
    return None


def _rule(cp: CompiledPolicy, env: SymEnv, out: Outcome | None, earlier: list[RuleFacts], facts: RuleFacts,
          budget: Budget, seen: list[tuple[dict[str, Any], Replay]]) -> RuleAnswer:
    """The rule's answer from the solver: ``out`` the whole phase's outcome when witnesses are
    wanted (None: none), ``earlier`` the rules before it."""
    phase = "on_http_request"
    label = facts.label
    matched = facts.matched
    # can it fire? Over the encoding and what every witness needs (cheap): one that can gives a
    # model to build the first witness from; one that cannot is asked again over the encoding
    # alone, the proof
    state, first = check(budget, env.facts, facts.fired, *env.buildable(), question="fires")
    if state == "unsat" and env.buildable():  # perhaps only for requests no witness can be: ask exactly
        state, first = check(budget, env.facts, facts.fired, question="fires at all")
    if out is not None and state != "unsat":
        claims: list[dict[str, Any]] = []

        def accept(data: dict[str, Any], m: z3.ModelRef) -> bool:
            got = replay(cp, data)
            claimed = _claimed(m, out)
            if got is not None and label in got.matched and claimed is not None and _same(got, claimed):
                claims.append(claimed)
                seen.append((data, got))
                return True
            return False

        w = _witness(budget, env, [out], facts.fired, accept, first)
        if w is not None:
            return RuleAnswer(label, facts.position, phase, "reachable", "a request reaches it and matches", w,
                              decision=claims[-1])
    if state == "sat":
        if out is None:
            return RuleAnswer(label, facts.position, phase, "reachable", "its conditions can hold when it is reached")
        return RuleAnswer(label, facts.position, phase, "unknown",
                          "the model says it can fire, but no request built from it was confirmed by the engine")
    if state == "unknown":
        return RuleAnswer(label, facts.position, phase, "unknown", "the solver gave up within its time")
    opaque = "unsat" if z3.is_false(z3.simplify(facts.opaque_before)) else \
        check(budget, env.facts, facts.opaque_before, question="opaque before")[0]
    if opaque != "unsat":
        return RuleAnswer(label, facts.position, phase, "unknown",
                          "an earlier action is not modelled (e.g. ai-gateway), so it may change what reaches this rule")
    alone, model = check(budget, env.facts, matched, question="conditions")
    if alone == "unsat":
        return RuleAnswer(label, facts.position, phase, "unreachable",
                          "its conditions can never all hold (or one always fails and on_error skips it)")
    if model is None:
        return RuleAnswer(label, facts.position, phase, "unknown", "the solver gave up within its time")
    # the request the model has, with its conditions holding: the earlier rule that ended the phase on it
    by = _enders(budget, model, earlier, facts.position)
    names = f" (`{by[0]}`, for one)" if by else ""
    return RuleAnswer(label, facts.position, phase, "shadowed",
                      f"whenever its conditions hold, an earlier rule has already ended the phase{names}", by=by)


def _enders(budget: Budget, model: z3.ModelRef, rules: list[RuleFacts], position: int) -> list[str]:
    """The rules before ``position`` that end the phase on ``model``'s request (as many as the
    budget's time lets it look at)."""
    found = []
    for o in islice(rules, position):
        if budget.spent():
            break
        budget.scanned += 1
        if z3.is_true(evaluate(model, o.stops)):
            found.append(o.label)
    return found


def query(cp: CompiledPolicy, where: str, verdict: str, *, limits_ok: bool = False,
          budget: Budget | None = None) -> Answer:
    """Is there a request satisfying ``where`` that gets ``verdict``?"""
    try:
        return _query(cp, where, verdict, limits_ok, budget or Budget())
    except Unencodable:
        return Answer("unknown", None, [{"reason": _UNENCODABLE}])


def _query(cp: CompiledPolicy, where: str, verdict: str, limits_ok: bool, budget: Budget) -> Answer:
    _fresh_context()
    env = SymEnv()
    w = translate_source(env, where)
    holds = z3.And(w.val, z3.Not(w.err)) if w.kind == "bool" else env.unknown(("where", where), "bool").val
    out = encode(cp, env, limits_ok=limits_ok)
    goal = z3.And(holds, out.allow if verdict == "allow" else z3.Not(out.allow))
    details: list[dict[str, Any]] = []
    state, model = check(budget, env.facts, goal, question="possible")
    if state == "sat":
        def accept(data: dict[str, Any], m: z3.ModelRef) -> bool:
            got = replay(cp, data)
            claimed = _claimed(m, out)
            if claimed is not None and _same(got, claimed) and where_holds(where, data):
                details.append(claimed)
                return True
            return False

        witness = _witness(budget, env, [out], goal, accept, model)
        if witness is not None:
            return Answer("possible", witness, details)
        return Answer("unknown", None, [{"reason": "the model has such a request, but none built from it was "
                                                   "confirmed by the engine"}])
    if state == "unknown":
        return Answer("unknown", None, [{"reason": "the solver gave up within its time"}])
    return _proof(budget, env, [out], holds, "impossible",
                  f"no request with `{where}` gets {verdict}")


def _proof(budget: Budget, env: SymEnv, outs: list[Outcome], premise: Any, result: str,
           reason: str) -> Answer:
    """``result`` when nothing unmodelled can change the answer; else unknown, saying why."""
    if any(o.response_rules for o in outs):
        return Answer("unknown", None, [{"reason": "response-phase rules can change the verdict, and the "
                                                   "response phase is not modelled"}])
    opaque = z3.Or(*[o.opaque for o in outs])
    state, _ = check(budget, env.facts, premise, opaque, question="opaque")
    if state != "unsat":
        return Answer("unknown", None, [{"reason": "an action that is not modelled (e.g. ai-gateway) may run "
                                                   "and decide the request"}])
    return Answer(result, None, [{"reason": reason}])


def equiv(old: CompiledPolicy, new: CompiledPolicy, *, limits_ok: bool = False,
          budget: Budget | None = None) -> Answer:
    """``equivalent``, or a request on which the verdict or status differs."""
    try:
        return _equiv(old, new, limits_ok, budget or Budget())
    except Unencodable:
        return Answer("unknown", None, [{"reason": _UNENCODABLE}])


def _equiv(old: CompiledPolicy, new: CompiledPolicy, limits_ok: bool, budget: Budget) -> Answer:
    _fresh_context()
    env = SymEnv()
    a = encode(old, env, limits_ok=limits_ok)
    env.restart()
    b = encode(new, env, limits_ok=limits_ok)
    differ = z3.Or(a.allow != b.allow, z3.And(z3.Not(a.allow), a.status != b.status))
    state, model = check(budget, env.facts, differ, question="differ")
    if state == "sat":
        details: list[dict[str, Any]] = []

        def accept(data: dict[str, Any], m: z3.ModelRef) -> bool:
            ca, cb = _claimed(m, a), _claimed(m, b)
            ra, rb = replay(old, data), replay(new, data)
            if ca is not None and cb is not None and _same(ra, ca) and _same(rb, cb):
                details.extend([{"policy": "old", **ca}, {"policy": "new", **cb}])
                return True
            return False

        witness = _witness(budget, env, [a, b], differ, accept, model)
        if witness is not None:
            return Answer("counterexample", witness, details)
        return Answer("unknown", None, [{"reason": "the model has a request they decide differently, but none "
                                                   "built from it was confirmed by the engine"}])
    if state == "unknown":
        return Answer("unknown", None, [{"reason": "the solver gave up within its time"}])
    return _proof(budget, env, [a, b], z3.BoolVal(True), "equivalent",
                  "every request gets the same verdict and status from both")
