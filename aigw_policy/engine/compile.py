"""Policy IR -> :class:`CompiledPolicy`: every condition, bucket key, cost expression and
``${...}`` interpolation compiled once.

Compiling is the named, ordered tuple :data:`STAGES`; each stage takes the
:class:`Compilation` so far and returns the next one:

``lower`` (walk the IR once: rules, actions, templates; every CEL text parsed, its free
variables found) -> ``check_size`` (AIGW305 when the texts together are too large) ->
``compile_cel`` (every text compiled in one batch, one cache file with ``cache_dir``) ->
``report`` (raise the diagnostics, in document order) -> ``mark_eager`` (limits whose
outcome a later text reads) -> ``index`` (the rule index) -> ``facts`` (which request
variables any text reads, so the activation computes only those).

Every question about what a text reads is answered from its parsed CEL
(:mod:`aigw_policy.analysis.free_vars`), never by searching the text.

A compiled policy is immutable and holds no per-request state, so one instance serves any
number of threads and engines. Generated functions are named after their source
(``<cel:acme.aigw:premium-models-for-research:0>``), so a traceback or a profile points at
the rule that produced them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..analysis.free_vars import EMPTY, FreeVars, of_text, union
from ..cel import CelError
from ..cel.parser import CelSyntaxError, node_count, parse as parse_cel
from ..cel.budget import DEFAULT_BUDGET
from ..cel.cost import MAX_POLICY_NODES
from ..diagnostics import Diagnostic, PolicyError
from ..env.activation import AI_NAMES, FULL, IDENTITY_NAMES, ActivationPlan
from ..env.declarations import POLICY_VARIABLES
from ..env.user_agent import FIELDS as USER_AGENT_FIELDS, warm as warm_user_agents
from ..gc_pause import gc_paused
from ..ir import Action, Policy, Rule
from ..ir.actions import PERIODS, parse_duration
from ..ir.nodes import SETTINGS, Phase
from ..limits.model import LimitSpec
from ..providers.request_fields import CAPPED_OPERATIONS  # (re-exported: the engine's, prove's and the clamp's)
from .quiet_answer import quiet_answers
from .rate_headers import limit_items
from .route_facts import model_gates, per_attempt
from ..source import Span
from ..template import Interpolation, TemplateError, split_template
from .templates import Template, text_of

__all__ = [
    "STAGES", "CompiledAction", "CompiledExpr", "CompiledPolicy", "CompiledRule", "Compilation", "LimitPlan",
    "Template", "compile_policy",
]

Fn = Callable[[dict[str, Any]], Any]

#: requested output tokens assumed when a request does not say (documented in docs/engine.md)
DEFAULT_MAX_OUTPUT_TOKENS = 4096

_URL_VARIABLES = ("req.url", "req.host")
"""Variables that need the request URL split (``req.url.path``, ``req.host``, ...)."""
_HEADER_PARTS = ("req.cookies", "req.content_type.parameters", "req.content_encoding", "req.location",
                 "req.trailers")
"""Variables that are a request header read apart (env/header_parts.py)."""
_HEADER_VARIABLES = ("req.headers", "req.host", "req.user_agent", "req.content_type", "req.content_length",
                     *_HEADER_PARTS)
"""Variables whose values come from the request's headers."""


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    """One CEL text at one place of the policy. ``fn`` is set once, by the ``compile_cel``
    stage; ``reads`` is what the text reads (its free variables)."""

    source: str
    span: Span | None
    fn: Fn
    node: Any = field(default=None, compare=False, repr=False)  # the parsed CEL, for the index
    label: str = field(default="", compare=False, repr=False)
    reads: FreeVars = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """A limit action, ready to charge: its spec, bucket key and cost expressions."""

    spec: LimitSpec
    kind: str  # rate-limit | token-limit | usage-cap
    bucket: tuple[CompiledExpr, ...]
    cost: CompiledExpr | None
    on_unknown_price: str = "deny"


@dataclass(frozen=True, slots=True)
class CompiledAction:
    type: str
    position: int
    span: Span | None
    config: Any  # the IR config (read-only)
    terminating: bool
    templates: dict[str, Any] = field(default_factory=dict)  # field -> Template | dict[str, Template]
    limit: LimitPlan | None = None
    ir: Action | None = field(default=None, compare=False, repr=False)
    eager: bool = False  # a limit whose outcome a later request-phase rule reads: checked at once
    reads: FreeVars = field(default=EMPTY, compare=False, repr=False)  # what its CEL texts read


@dataclass(frozen=True, slots=True)
class CompiledRule:
    phase: Phase
    position: int  # in its phase
    name: str | None
    label: str  # the name, or `#3` (1-based position) for an unnamed rule
    span: Span | None
    exprs: tuple[CompiledExpr, ...]
    actions: tuple[CompiledAction, ...]
    on_error: str  # deny | skip, the rule's or the document's
    ir: Rule | None = field(default=None, compare=False, repr=False)
    shadow: bool = False  # `mode: shadow`: a denial is recorded as `would_deny`, the request goes on


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """An immutable, thread-safe compiled policy: compile once, evaluate many."""

    policy: Policy
    name: str | None
    default: str
    on_error: str
    store_failure: str
    upstream_error: str
    request_rules: tuple[CompiledRule, ...]
    response_rules: tuple[CompiledRule, ...]
    limits: dict[str, tuple[CompiledRule, CompiledAction]]
    request_index: Any = None  # index.RuleIndex | None
    response_index: Any = None
    response_reads: FreeVars = field(default=EMPTY, compare=False, repr=False)
    """What the response phase can read: response rules and the limits' ``cost``."""
    activation: ActivationPlan = field(default=FULL, compare=False, repr=False)
    """The entries of the request-phase activation that some text (or the engine) can read;
    ``activation.build`` builds them per request (:func:`activation_plan`)."""
    routed: bool = False
    """Some request rule has an ``ai-gateway`` action."""
    reads_actions: bool = True
    """Some text reads ``actions``: the plain actions then publish what they did there
    (``actions.ngrok.add_headers``, ...), else nobody would read it."""
    limits_read_after: bool = True
    """Some response-phase text can read ``limits[...]`` (or ``actions``, where the limits
    publish too): else the outcomes of the reserve and the settle are not published."""
    response_headers: bool = True
    """Some response-phase text reads a ``res.*`` variable besides ``res.status_code`` (all
    of them come from the response's headers): else only the status is set."""
    per_attempt: frozenset[tuple[int, int]] = frozenset()
    """(rule, action) positions of the request-phase limits charged per routing attempt: they
    come before an ``ai-gateway`` action and depend on the model (SPEC §12, budget-correct)."""
    model_gates: frozenset[tuple[int, int]] = frozenset()
    """(rule, action) positions of the request-phase refusals that may refuse a model the route
    sends and the client did not name as such (``GPT-4.1``, ``openai:gpt-4.1``, a ``models``
    fallback): a ``model-access``, or a ``deny`` / ``custom-response`` whose rule condition reads
    the model, before an ``ai-gateway`` action and enforced; checked again for each candidate."""
    quiet_answers: Any = None
    """engine/quiet_answer.py: whether no response rule runs for the gateway's answer of a status."""
    shard_key: CompiledExpr | None = None
    """The document's ``shard_key``, evaluated once per request that charges a limit."""
    runners: list[Any] = field(default_factory=lambda: [None, None], compare=False, repr=False)
    """Each phase's rules as one function (request, response), made by the first engine
    (engine/phase_code.py ``install``); None: the general runner."""
    header_items: dict[str, tuple[str, float, str, str]] = field(default_factory=dict, compare=False, repr=False)
    """Each limit's unit, capacity, ``RateLimit-Policy`` item and quoted name
    (:func:`~aigw_policy.engine.rate_headers.limit_items`): formatted once, not per decision."""

    def rules(self, phase: Phase) -> tuple[CompiledRule, ...]:
        return self.request_rules if phase == "on_http_request" else self.response_rules

    def all_rules(self) -> tuple[CompiledRule, ...]:
        return self.request_rules + self.response_rules


# -- the compilation, stage by stage ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compilation:
    """What compiling has made of a policy so far; each stage returns the next one."""

    policy: Policy
    prefix: str  # generated functions are named `<cel:PREFIX:rule:...>`
    cache_dir: str | os.PathLike[str] | None = None
    budget: int | None = DEFAULT_BUDGET
    index: bool = True
    index_min_rules: int = 8
    request_rules: tuple[CompiledRule, ...] = ()
    response_rules: tuple[CompiledRule, ...] = ()
    exprs: tuple[CompiledExpr, ...] = ()  # every CEL text, at every place, in document order
    issues: tuple[tuple[tuple[int, int], Diagnostic], ...] = ()  # (document order, diagnostic)
    request_index: Any = None
    response_index: Any = None
    shard_key: CompiledExpr | None = None
    compiled: CompiledPolicy | None = None


Stage = Callable[[Compilation], Compilation]


def network_range(net: Any) -> tuple[int, int, int, str]:
    """A `restrict-ips` range as its action matches it: (version, first, last, text)."""
    return net.version, int(net.network_address), int(net.broadcast_address), str(net)


def _setting(policy: Policy, name: str) -> str:
    value = getattr(policy, name, None)
    return value if value is not None else SETTINGS[name][0]


def _unlinked(act: dict[str, Any]) -> Any:
    raise CelError("expression used before it was compiled", "compile_error")


class _Lowering:
    """One walk over the IR: the compiled rules, with every CEL text registered (its ``fn``
    filled in later by ``compile_cel``)."""

    def __init__(self, policy: Policy, prefix: str) -> None:
        self.policy = policy
        self.prefix = prefix
        self.exprs: list[CompiledExpr] = []
        self.issues: list[tuple[tuple[int, int], Diagnostic]] = []
        self.parsed: dict[str, tuple[Any, FreeVars]] = {}

    def parse(self, source: str) -> tuple[Any, FreeVars]:
        """The parsed CEL and what it reads (None, nothing: it does not parse, and
        ``compile_cel`` reports why)."""
        hit = self.parsed.get(source)
        if hit is None:
            try:
                node = parse_cel(source)
            except (CelSyntaxError, RecursionError):
                hit = (None, EMPTY)
            else:
                hit = (node, of_text(source, node))
            self.parsed[source] = hit
        return hit

    def cel(self, source: str, span: Span | None, label: str) -> CompiledExpr:
        node, reads = self.parse(source)
        expr = CompiledExpr(source, span, _unlinked, node, label, reads)
        self.exprs.append(expr)
        return expr

    def template(self, text: str, span: Span | None, label: str) -> Template:
        try:
            pieces = split_template(text)
        except TemplateError as error:
            self.issues.append(((len(self.exprs), 0), Diagnostic.make("AIGW203", str(error), span)))
            return Template(text, [text])
        parts: list[str | CompiledExpr] = []
        for i, piece in enumerate(pieces):
            if isinstance(piece, Interpolation):
                parts.append(self.cel(piece.source, span, f"{label}.{i}"))
            else:
                parts.append(piece)
        return Template(text, parts)

    def rule(self, phase: Phase, position: int, rule: Rule) -> CompiledRule:
        label = rule.name or f"#{position + 1}"  # `name: ""` (generated documents write it) is no name
        base = f"{self.prefix}:{label}"
        exprs = tuple(self.cel(e.source, e.span, f"{base}:{i}") for i, e in enumerate(rule.expressions))
        shadow = rule.mode == "shadow"
        actions = tuple(self.action(a, i, f"{base}:{a.type}{i}", shadow) for i, a in enumerate(rule.actions))
        on_error = rule.on_error or _setting(self.policy, "on_error")
        return CompiledRule(phase, position, rule.name, label, rule.span, exprs, actions, on_error, rule, shadow)

    def action(self, action: Action, position: int, label: str, shadow: bool = False) -> CompiledAction:
        first = len(self.exprs)
        cfg = action.config
        t = action.type
        templates: dict[str, Any] = {}
        limit: LimitPlan | None = None
        if t in ("deny",) and cfg.message is not None:
            templates["message"] = self.template(cfg.message, action.span_of("message"), f"{label}.message")
        elif t == "custom-response":
            if cfg.body is not None:
                templates["body"] = self.template(cfg.body, action.span_of("body"), f"{label}.body")
            if cfg.headers:
                templates["headers"] = {
                    k: self.template(v, action.span_of(f"headers.{k}"), f"{label}.h{i}")
                    for i, (k, v) in enumerate(cfg.headers.items())
                }
        elif t == "add-headers":
            templates["headers"] = {
                k: self.template(v, action.span_of(f"headers.{k}"), f"{label}.h{i}")
                for i, (k, v) in enumerate(cfg.headers.items())
            }
            # what each request needs, computed once: the lowered name, the value, its field
            templates["items"] = tuple((k.lower(), v, f"headers.{k}") for k, v in templates["headers"].items())
        elif t == "log" and cfg.metadata:
            templates["metadata"] = {  # any value; strings at any depth are templates
                k: self._value(v, action.span_of(f"metadata.{k}"), f"{label}.m{i}")
                for i, (k, v) in enumerate(cfg.metadata.items())
            }
        elif t == "set-model":
            templates["model"] = self.template(cfg.model, action.span_of("model"), f"{label}.model")
        elif t == "set-vars":
            templates["vars"] = {
                k: self._value(v, action.span_of(f"vars.{i}.{k}"), f"{label}.v{i}")
                for i, entry in enumerate(cfg.vars)
                for k, v in entry.items()
            }
            templates["items"] = tuple((k, v, f"vars.{k}") for k, v in templates["vars"].items())
        elif t == "remove-headers":
            templates["lowered"] = tuple(dict.fromkeys(h.lower() for h in cfg.headers))
        elif t == "restrict-ips":
            import ipaddress

            def ranges(items: Any, key: str) -> list[Any]:  # a `${...}` one is rendered per request
                return [self.template(x, action.span_of(f"{key}.{i}"), f"{label}.{key}{i}") if "${" in x
                        else network_range(ipaddress.ip_network(x, strict=False)) for i, x in enumerate(items)]

            templates["networks"] = {
                "allow": ranges(cfg.allow, "allow") if cfg.allow is not None else None,
                "deny": ranges(cfg.deny or (), "deny"),
            }
            templates["rendered"] = any("${" in x for x in (*(cfg.allow or ()), *(cfg.deny or ())))
        elif t in ("redirect", "url-rewrite"):
            written = cfg.written()
            for key in ("from", "to"):
                if written.get(key) is not None:
                    templates[key] = self.template(written[key], action.span_of(key), f"{label}.{key}")
            if written.get("headers"):
                templates["headers"] = {
                    k: self.template(v, action.span_of(f"headers.{k}"), f"{label}.h{i}")
                    for i, (k, v) in enumerate(written["headers"].items())
                }
        elif t == "forward-internal":
            templates["url"] = self.template(cfg.url, action.span_of("url"), f"{label}.url")
        elif t == "basic-auth":
            templates["credentials"] = [self.template(c, action.span_of(f"credentials.{i}"), f"{label}.c{i}")
                                        for i, c in enumerate(cfg.credentials)]
        elif t == "ai-gateway":
            self.route(action, label, templates)
        elif cfg.LIMIT:
            limit = self.limit(action, label, shadow)
        reads = union(e.reads for e in self.exprs[first:])
        return CompiledAction(t, position, action.span, cfg, cfg.TERMINATING, templates, limit, action,
                              reads=reads)

    def route(self, action: Action, label: str, templates: dict[str, Any]) -> None:
        """An ``ai-gateway`` action: its route compiled once (the planner's), and its
        ``headers``, ``query_params`` and ``body`` templates (rendered per attempt)."""
        from ..routing.compile import compile_route

        cfg = action.config
        templates["route"] = compile_route(cfg, where=action.span)
        for name, values in (("headers", cfg.headers), ("query_params", cfg.query_params)):
            if values:
                templates[name] = {k: self.template(v, action.span_of(f"{name}.{k}"), f"{label}.{name[0]}{i}")
                                   for i, (k, v) in enumerate(values.items())}
        if cfg.body:
            templates["body"] = {k: self._value(v, action.span_of(f"body.{k}"), f"{label}.b{i}")
                                 for i, (k, v) in enumerate(cfg.body.items())}

    def _value(self, value: Any, span: Span | None, label: str) -> Any:
        """A set-vars or log-metadata value: strings are templates, containers are walked."""
        if isinstance(value, str):
            return self.template(value, span, label)
        if isinstance(value, (list, tuple)):
            return [self._value(v, span, f"{label}_{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self._value(v, span, f"{label}_{i}") for i, (k, v) in enumerate(value.items())}
        return value

    def limit(self, action: Action, label: str, shadow: bool = False) -> LimitPlan:
        """A limit action's plan; in a shadow rule it is not enforced (it counts and reports)."""
        cfg = action.config
        t = action.type
        bucket = tuple(
            self.cel(src, action.span_of(f"bucket_key.{i}"), f"{label}.key{i}")
            for i, src in enumerate(cfg.bucket_key or ())
        )
        enforce = (cfg.enforce if cfg.enforce is not None else True) and not shadow
        cost = None
        if getattr(cfg, "cost", None) is not None:
            cost = self.cel(cfg.cost, action.span_of("cost"), f"{label}.cost")
        if t == "usage-cap":
            calendar = cfg.period in PERIODS
            spec = LimitSpec(
                name=cfg.name,
                unit=cfg.unit,
                algorithm="calendar" if calendar else "fixed_window",
                capacity=float(cfg.limit),
                window=0.0 if calendar else parse_duration(cfg.period),
                period=cfg.period if calendar else None,
                timezone=cfg.timezone or "UTC",
                warn_at=cfg.warn_at,
                enforce=enforce,
            )
            return LimitPlan(spec, t, bucket, cost, cfg.on_unknown_price or "deny")
        spec = LimitSpec(
            name=cfg.name,
            unit="requests" if t == "rate-limit" else "tokens",
            algorithm=cfg.algorithm or "sliding_window",
            capacity=float(cfg.capacity),
            window=parse_duration(cfg.rate),
            enforce=enforce,
        )
        return LimitPlan(spec, t, bucket, cost)


def lower(c: Compilation) -> Compilation:
    """Walk the IR once: compiled rules whose CEL texts are parsed but not yet compiled."""
    w = _Lowering(c.policy, c.prefix)
    key = c.policy.shard_key
    shard = w.cel(key.source, key.span, f"{c.prefix}:shard_key") if key is not None else None
    request = tuple(w.rule("on_http_request", i, r) for i, r in enumerate(c.policy.phase("on_http_request")))
    response = tuple(w.rule("on_http_response", i, r) for i, r in enumerate(c.policy.phase("on_http_response")))
    return dataclasses.replace(c, request_rules=request, response_rules=response, exprs=tuple(w.exprs),
                               issues=tuple(w.issues), shard_key=shard)


def check_size(c: Compilation) -> Compilation:
    """AIGW305 (raised at once) where the policy's CEL texts together pass
    :data:`MAX_POLICY_NODES` (each distinct text counted once: compiling it once serves every
    use)."""
    total = 0
    seen: set[str] = set()
    for e in c.exprs:
        if e.source in seen:
            continue
        seen.add(e.source)
        if e.node is not None:
            total += node_count(e.source, e.node, MAX_POLICY_NODES)
        if total > MAX_POLICY_NODES:
            raise PolicyError([Diagnostic.make(
                "AIGW305", f"the policy's CEL expressions are too large to compile together "
                f"(over {MAX_POLICY_NODES:,} nodes, reached at `{_short(e.source)}`)", e.span,
                help="split the policy, or write long `||` chains of equalities as `x in [...]`")])
    return c


def compile_cel(c: Compilation) -> Compilation:
    """Compile every CEL text in one batch (one cache file with ``cache_dir``) and give each
    :class:`CompiledExpr` its function; a text that does not compile is AIGW304 (AIGW305
    past the compile budget)."""
    from ..env import compile_conditions
    from ..analysis.cel_check import pattern_diagnostics

    if not c.exprs:
        return c
    programs = compile_conditions(
        [e.source for e in c.exprs], names=[e.label for e in c.exprs], nodes=[e.node for e in c.exprs],
        cache_dir=c.cache_dir, budget=c.budget)
    issues = list(c.issues)
    for i, (expr, prog) in enumerate(zip(c.exprs, programs)):
        if isinstance(prog, CelError):
            diags = getattr(prog, "diagnostics", None)
            code = "AIGW305" if prog.code == "compile_budget" else "AIGW304"
            issues.append(((i, 1), Diagnostic.make(code, f"`{_short(expr.source)}` could not be compiled: {prog}",
                                                   expr.span)
                           if not diags
                           else Diagnostic.make(code, f"`{_short(expr.source)}`: {diags[0].message}", expr.span)))
            fn: Fn = _broken(str(prog))
        else:
            fn = prog.function
            if expr.node is not None:
                issues.extend(((i, 1), d) for d in pattern_diagnostics(expr.node, expr.source, expr.span))
        object.__setattr__(expr, "fn", fn)  # the one place a CompiledExpr changes: linking
    return dataclasses.replace(c, issues=tuple(issues))


def report(c: Compilation) -> Compilation:
    """Raise :class:`PolicyError` with every diagnostic so far, in document order."""
    if c.issues:
        raise PolicyError([d for _, d in sorted(c.issues, key=lambda item: item[0])])
    return c


def _reads_outcome(reads: FreeVars, name: str) -> bool:
    """Whether ``reads`` can read limit ``name``'s outcome: ``limits[name]`` (or below it, or
    all of ``limits``), or ``actions`` (where the limits publish theirs too). The path is
    compared whole: a name may hold dots."""
    if reads.reads("actions"):
        return True
    path = ("limits", name)
    return any(p[:2] == path if len(p) >= 2 else path[:len(p)] == p for p in reads.names)


def _route_reads_outcomes(a: CompiledAction) -> bool:
    """Whether an ``ai-gateway`` action's strategies may read ``limits``: a pure strategy reads
    nothing but the collections (:func:`aigw_policy.routing.selection.dependencies`)."""
    if a.type != "ai-gateway":
        return False
    route = a.templates.get("route")
    if route is None:
        return True
    return any(not s.pure for s in (*route.model_strategies, *route.key_strategies))


_ALL_OUTCOMES = FreeVars(frozenset({("limits",)}))


def _outcome_reads(reads: FreeVars) -> FreeVars:
    """The part of ``reads`` :func:`_reads_outcome` looks at: the paths under ``limits`` or
    ``actions`` (no function reads either: ``ACTIVATION_READS``)."""
    names = frozenset(p for p in reads.names if p[0] == "limits" or p[0] == "actions")
    return FreeVars(names) if names else EMPTY


def mark_eager(c: Compilation) -> Compilation:
    """Flag each request-phase limit whose outcome a later request-phase text reads
    (``limits[name]``, all of ``limits``, ``actions``; an ``ai-gateway`` action's strategies
    unless all are pure): it is checked at once rather than with the reserve."""
    if not any(a.limit is not None for rule in c.request_rules for a in rule.actions):
        return c  # no limit to flag (a 10,000-rule policy of denials: its reads are not walked)
    reads: list[FreeVars] = []  # per place: a rule's conditions, then each of its actions
    for rule in c.request_rules:  # (only what may read an outcome: the unions below stay small)
        reads.append(_outcome_reads(union(e.reads for e in rule.exprs)))
        reads.extend(_ALL_OUTCOMES if _route_reads_outcomes(a) else _outcome_reads(a.reads) for a in rule.actions)
    later = [EMPTY] * (len(reads) + 1)
    for i in range(len(reads) - 1, -1, -1):
        later[i] = later[i + 1] | reads[i]
    out = []
    k = 0
    for rule in c.request_rules:
        k += 1  # the rule's conditions
        actions = []
        for a in rule.actions:
            k += 1  # later[k]: the places after this action
            if a.limit is not None and _reads_outcome(later[k], a.limit.spec.name):
                a = dataclasses.replace(a, eager=True)
            actions.append(a)
        changed = any(a is not b for a, b in zip(actions, rule.actions))
        out.append(dataclasses.replace(rule, actions=tuple(actions)) if changed else rule)
    return dataclasses.replace(c, request_rules=tuple(out))


def index(c: Compilation) -> Compilation:
    """The rule index of each phase (None: not asked for, or too few rules to gain)."""
    if not c.index:
        return c
    from .index import build_index

    return dataclasses.replace(
        c, request_index=build_index(c.request_rules, min_rules=c.index_min_rules),
        response_index=build_index(c.response_rules, min_rules=c.index_min_rules))


def facts(c: Compilation) -> Compilation:
    """The :class:`CompiledPolicy`, with what its texts read: the request variables the
    activation computes only when some text needs them, and the response phase's reads."""
    policy = c.policy
    reads = union(e.reads for e in c.exprs)
    costs = (a.limit.cost for r in c.request_rules for a in r.actions if a.limit is not None and a.limit.cost)
    response = union([*(e.reads for r in c.response_rules for e in r.exprs),
                      *(a.reads for r in c.response_rules for a in r.actions),
                      *(e.reads for e in costs)])
    rules = c.request_rules + c.response_rules
    routed = any(a.type == "ai-gateway" for r in c.request_rules for a in r.actions)  # routes read the request
    limits: dict[str, tuple[CompiledRule, CompiledAction]] = {}
    for rule in rules:
        for action in rule.actions:
            if action.limit is not None:
                limits.setdefault(action.limit.spec.name, (rule, action))
    compiled = CompiledPolicy(
        policy=policy,
        name=policy.name,
        default=_setting(policy, "default"),
        on_error=_setting(policy, "on_error"),
        store_failure=_setting(policy, "store_failure"),
        upstream_error=_setting(policy, "upstream_error"),
        request_rules=c.request_rules,
        response_rules=c.response_rules,
        limits=limits,
        request_index=c.request_index,
        response_index=c.response_index,
        response_reads=response,
        reads_actions=(reads | response).reads("actions"),
        limits_read_after=response.reads("limits") or response.reads("actions"),
        response_headers=response.reads_any(n for n in POLICY_VARIABLES if n.startswith("res.") and n != "res.status_code"),
        activation=activation_plan(reads, rules, routed),
        routed=routed,
        per_attempt=per_attempt(c.request_rules),
        model_gates=model_gates(c.request_rules),
        quiet_answers=quiet_answers(c.response_rules),
        shard_key=c.shard_key,
        header_items=limit_items(limits),
    )
    return dataclasses.replace(c, compiled=compiled)


_ENGINE_AI = ("input_tokens", "max_output_tokens")
"""The ``ai.*`` entries the engine itself reads: a limit's estimate, ``max-tokens``."""


_USER_AGENT_PARTS = tuple("req.user_agent." + f for f in USER_AGENT_FIELDS)
_ROUTED = ActivationPlan(user_agent_parts=False)
"""A routed policy's activation when no text reads ``req.user_agent.*``: every other entry."""


def activation_plan(reads: FreeVars, rules: tuple[CompiledRule, ...], routed: bool) -> ActivationPlan:
    """The activation entries some text can read (``reads``: every CEL text of the policy:
    conditions, templates, bucket keys, costs, the shard key, both phases), and those the
    engine reads itself: ``ai.input_tokens``/``ai.max_output_tokens`` (a limit's estimate,
    ``max-tokens``), ``conn.client_ip`` (``restrict-ips``), and the ``vars``/``limits``/
    ``actions`` maps its actions write. A routed policy gets every entry (:data:`FULL`): its
    strategies and per-attempt texts see the whole activation."""
    user_agent = reads.reads_any(_USER_AGENT_PARTS)  # the parts, or the header (a path above them)
    if user_agent:
        warm_user_agents()  # the catalog loads with the policy, not at its first request
    if routed:
        return FULL if user_agent else _ROUTED
    types = {a.type for r in rules for a in r.actions}
    limited = any(a.limit is not None for r in rules for a in r.actions)
    engine_ai = limited or "max-tokens" in types
    ai = tuple(n for n in AI_NAMES if reads.reads("ai." + n) or (engine_ai and n in _ENGINE_AI))
    return ActivationPlan(
        url_parts=reads.reads_any(_URL_VARIABLES) or bool(types & _URL_ACTIONS),
        headers=reads.reads_any(_HEADER_VARIABLES) or "basic-auth" in types
        or ("remove-headers" in types and reads.reads("actions")),  # `headers_removed`: those there were
        user_agent_parts=user_agent,
        header_parts=reads.reads_any(_HEADER_PARTS),
        content_length=reads.reads("req.content_length"),
        conn=reads.reads("conn") or "restrict-ips" in types,
        time_now=reads.reads("time.now"),
        method=reads.reads("req.method"),
        url=reads.reads("req.url") or bool(types & _URL_ACTIONS),
        request_id=reads.reads("req.id"),
        endpoint=reads.reads("endpoint"),
        extras=reads.reads("req"),
        identity=tuple(n for n in IDENTITY_NAMES if reads.reads("identity." + n)),
        labels=reads.reads("identity.labels"),
        ai=None if ai == AI_NAMES else ai,
        ai_map=False,  # no text reads `ai` whole (it is not declared): the decision asks flow.ai
        vars="set-vars" in types or reads.reads("vars"),
        limits=limited or reads.reads("limits"),
        actions=limited or "restrict-ips" in types or reads.reads("actions"),
    )


_URL_ACTIONS = frozenset({"redirect", "url-rewrite"})
"""The actions that read the request URL (and rewrite it: later rules read the new one)."""


STAGES: tuple[tuple[str, Stage], ...] = (
    ("lower", lower),
    ("check_size", check_size),
    ("compile_cel", compile_cel),
    ("report", report),
    ("mark_eager", mark_eager),
    ("index", index),
    ("facts", facts),
)
"""The compiler: named stages, run in this order, each once."""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _broken(message: str) -> Fn:
    def fn(act: dict[str, Any]) -> Any:
        raise CelError(f"expression could not be compiled: {message}", "compile_error")

    return fn


def compile_policy(
    policy: Policy,
    *,
    index: bool = True,
    index_min_rules: int = 8,
    cache_dir: str | os.PathLike[str] | None = None,
    cel_budget: int | None = DEFAULT_BUDGET,
) -> CompiledPolicy:
    """Compile a policy (the :data:`STAGES`); :class:`PolicyError` if a CEL text does not compile.

    With ``cache_dir``, compiled conditions are kept on disk (keyed by content hash and
    engine version), so reloading an unchanged policy in a new process skips compilation.
    ``cel_budget``: the comprehension iterations one evaluation of one CEL text may perform
    (past it the text fails with a CEL error, AIGW520; None: no limit).
    """
    first_span = next((r.span for _, r in policy.rules() if r.span is not None), None)
    file = first_span.file if first_span is not None and first_span.file else None
    prefix = (file.rsplit("/", 1)[-1] if file else None) or policy.name or "policy"
    c = Compilation(policy, prefix, cache_dir=cache_dir, budget=cel_budget, index=index,
                    index_min_rules=index_min_rules)
    with gc_paused():
        for _name, stage in STAGES:
            c = stage(c)
    assert c.compiled is not None
    return c.compiled
