"""Policy IR -> :class:`CompiledPolicy`: every condition, bucket key, cost expression and
``${...}`` interpolation compiled once.

A compiled policy is immutable and holds no per-request state, so one instance serves any
number of threads and engines. Generated functions are named after their source
(``<cel:acme.aigw:premium-models-for-research:0>``), so a traceback or a profile points at
the rule that produced them.
"""

from __future__ import annotations

import os

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cel import CelError
from ..env import compile_condition
from ..cel.budget import DEFAULT_BUDGET
from ..cel.cost import MAX_POLICY_NODES
from ..cel.runtime.ops import to_string
from ..diagnostics import Diagnostic, PolicyError
from ..ir import Action, Policy, Rule
from ..ir.actions import PERIODS, parse_duration
from ..ir.nodes import SETTINGS, Phase
from ..limits.model import LimitSpec
from ..source import Span
from ..template import Interpolation, TemplateError, double_text, split_template

__all__ = ["CompiledAction", "CompiledExpr", "CompiledPolicy", "CompiledRule", "LimitPlan", "Template", "compile_policy"]

Fn = Callable[[dict[str, Any]], Any]

#: requested output tokens assumed when a request does not say (documented in docs/engine.md)
DEFAULT_MAX_OUTPUT_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    source: str
    span: Span | None
    fn: Fn
    node: Any = field(default=None, compare=False, repr=False)  # the parsed CEL, for the index


class Template:
    """A compiled string config value: constant text, one ``${...}`` (keeps the CEL type),
    or text with interpolations rendered as strings (ngrok's rule)."""

    __slots__ = ("text", "constant", "single", "parts", "sources")

    def __init__(self, text: str, parts: list[str | tuple[str, Fn]]) -> None:
        self.text = text
        self.constant = not any(isinstance(p, tuple) for p in parts)
        self.single: Fn | None = parts[0][1] if len(parts) == 1 and isinstance(parts[0], tuple) else None
        self.parts = tuple(parts)
        self.sources = tuple(p[0] for p in parts if isinstance(p, tuple))

    def render(self, act: dict[str, Any]) -> Any:
        """The value; a CEL error raises :class:`CelError`."""
        if self.constant:
            return self.text
        if self.single is not None:
            return self.single(act)
        out = []
        for p in self.parts:
            out.append(p if isinstance(p, str) else text_of(p[1](act)))
        return "".join(out)


def text_of(value: Any) -> str:
    """A CEL value inside a string template: CEL's ``string()`` (doubles to 15 digits,
    :func:`~aigw_policy.template.double_text`); lists and maps as JSON."""
    if isinstance(value, (list, tuple, dict)) or value is None:
        import json

        from .trace import jsonable

        return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=False)
    if type(value) is float:
        return double_text(value)
    return to_string(value)


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
    uses_content_length: bool = False
    uses_url: bool = True  # some text reads req.url.* or req.host: split the URL per request
    uses_time: bool = True  # some text reads time.now

    def rules(self, phase: Phase) -> tuple[CompiledRule, ...]:
        return self.request_rules if phase == "on_http_request" else self.response_rules

    def all_rules(self) -> tuple[CompiledRule, ...]:
        return self.request_rules + self.response_rules


def _setting(policy: Policy, name: str) -> str:
    value = getattr(policy, name, None)
    return value if value is not None else SETTINGS[name][0]


class _Compiler:
    def __init__(self, policy: Policy, prefix: str, parsed: dict[str, Any] | None = None,
                 budget: int | None = DEFAULT_BUDGET) -> None:
        self.budget = budget
        self.policy = policy
        self.prefix = prefix
        self.errors: list[Diagnostic] = []
        self.parsed: dict[str, Any] = parsed if parsed is not None else {}

    def parse(self, source: str) -> Any:
        """The parsed CEL (None when it does not parse: compiling then reports why)."""
        from ..cel.parser import CelSyntaxError, parse

        if source not in self.parsed:
            try:
                self.parsed[source] = parse(source)
            except (CelSyntaxError, RecursionError):
                self.parsed[source] = None
        return self.parsed[source]

    def cel(self, source: str, span: Span | None, label: str) -> CompiledExpr:
        node = self.parse(source)
        try:
            prog = compile_condition(source, name=label, node=node, budget=self.budget)
        except CelError as error:
            diags = getattr(error, "diagnostics", None)
            code = "AIGW305" if error.code == "compile_budget" else "AIGW304"
            self.errors.append(
                Diagnostic.make(code, f"`{_short(source)}` could not be compiled: {error}", span)
                if not diags
                else Diagnostic.make(code, f"`{_short(source)}`: {diags[0].message}", span)
            )
            return CompiledExpr(source, span, _broken(str(error)))
        return CompiledExpr(source, span, prog.function, node)

    def template(self, text: str, span: Span | None, label: str) -> Template:
        try:
            pieces = split_template(text)
        except TemplateError as error:
            self.errors.append(Diagnostic.make("AIGW203", str(error), span))
            return Template(text, [text])
        parts: list[str | tuple[str, Fn]] = []
        for i, piece in enumerate(pieces):
            if isinstance(piece, Interpolation):
                parts.append((piece.source, self.cel(piece.source, span, f"{label}.{i}").fn))
            else:
                parts.append(piece)
        return Template(text, parts)

    def rule(self, phase: Phase, position: int, rule: Rule) -> CompiledRule:
        label = rule.name if rule.name is not None else f"#{position + 1}"
        base = f"{self.prefix}:{label}"
        exprs = tuple(self.cel(e.source, e.span, f"{base}:{i}") for i, e in enumerate(rule.expressions))
        actions = tuple(self.action(a, i, f"{base}:{a.type}{i}") for i, a in enumerate(rule.actions))
        on_error = rule.on_error or _setting(self.policy, "on_error")
        return CompiledRule(phase, position, rule.name, label, rule.span, exprs, actions, on_error, rule)

    def action(self, action: Action, position: int, label: str) -> CompiledAction:
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
        elif t == "restrict-ips":
            import ipaddress

            def ranges(items: Any) -> list[tuple[int, int, int, str]]:
                nets = [ipaddress.ip_network(x, strict=False) for x in items]
                return [(n.version, int(n.network_address), int(n.broadcast_address), str(n)) for n in nets]

            templates["networks"] = {
                "allow": ranges(cfg.allow) if cfg.allow is not None else None,
                "deny": ranges(cfg.deny or ()),
            }
        elif cfg.LIMIT:
            limit = self.limit(action, label)
        return CompiledAction(t, position, action.span, cfg, cfg.TERMINATING, templates, limit, action)

    def _value(self, value: Any, span: Span | None, label: str) -> Any:
        """A set-vars or log-metadata value: strings are templates, containers are walked."""
        if isinstance(value, str):
            return self.template(value, span, label)
        if isinstance(value, (list, tuple)):
            return [self._value(v, span, f"{label}_{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self._value(v, span, f"{label}_{i}") for i, (k, v) in enumerate(value.items())}
        return value

    def limit(self, action: Action, label: str) -> LimitPlan:
        cfg = action.config
        t = action.type
        bucket = tuple(
            self.cel(src, action.span_of(f"bucket_key.{i}"), f"{label}.key{i}")
            for i, src in enumerate(cfg.bucket_key or ())
        )
        enforce = cfg.enforce if cfg.enforce is not None else True
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


def _mark_eager(rules: tuple[CompiledRule, ...]) -> tuple[CompiledRule, ...]:
    """Flag each limit action that a later request-phase text reads (``limits``, ``actions``)."""
    import dataclasses

    texts: list[str] = []
    for rule in rules:
        texts.append(" ".join(e.source for e in rule.exprs))
        for a in rule.actions:
            texts.append(repr(a.config))
    reads = [("limits" in t or "actions" in t) for t in texts]
    later = [False] * (len(reads) + 1)
    for i in range(len(reads) - 1, -1, -1):
        later[i] = later[i + 1] or reads[i]
    out = []
    k = 0
    for rule in rules:
        k += 1  # the rule's expressions
        actions = []
        for a in rule.actions:
            k += 1
            if a.limit is not None and later[k]:
                a = dataclasses.replace(a, eager=True)
            actions.append(a)
        out.append(dataclasses.replace(rule, actions=tuple(actions)))
    return tuple(out)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _broken(message: str) -> Fn:
    def fn(act: dict[str, Any]) -> Any:
        raise CelError(f"expression could not be compiled: {message}", "compile_error")

    return fn


class _Collector(_Compiler):
    """A dry run of the compiler that only gathers every CEL text with its label."""

    def __init__(self, policy: Policy, prefix: str) -> None:
        super().__init__(policy, prefix, None)
        self.wanted: dict[tuple[str, str], Any] = {}
        self.spans: dict[str, Span | None] = {}

    def cel(self, source: str, span: Span | None, label: str) -> CompiledExpr:
        self.wanted.setdefault((source, label), self.parse(source))
        self.spans.setdefault(source, span)
        return CompiledExpr(source, span, _broken("not compiled"))

    def over_budget(self) -> Diagnostic | None:
        """AIGW305 where the policy's CEL texts together pass :data:`MAX_POLICY_NODES`
        (each distinct text counted once: compiling it once serves every use)."""
        from ..cel.ast import count_nodes

        total = 0
        for source, span in self.spans.items():
            node = self.parsed.get(source)
            if node is not None:
                total += count_nodes(node, MAX_POLICY_NODES)
            if total > MAX_POLICY_NODES:
                return Diagnostic.make(
                    "AIGW305", f"the policy's CEL expressions are too large to compile together "
                    f"(over {MAX_POLICY_NODES:,} nodes, reached at `{_short(source)}`)", span,
                    help="split the policy, or write long `||` chains of equalities as `x in [...]`")
        return None


def _compile_all_at_once(policy: Policy, prefix: str, cache_dir: Any, budget: int | None) -> dict[str, Any]:
    """Compile every CEL text of the policy in one batch (one cache file with
    ``cache_dir``); the per-expression compile that follows then hits the CEL cache."""
    from ..env import compile_conditions

    collector = _Collector(policy, prefix)
    for phase in ("on_http_request", "on_http_response"):
        for i, rule in enumerate(policy.phase(phase)):  # type: ignore[arg-type]
            collector.rule(phase, i, rule)  # type: ignore[arg-type]
    over = collector.over_budget()
    if over is not None:
        raise PolicyError([over])
    if collector.wanted:
        keys = list(collector.wanted)
        compile_conditions(
            [source for source, _ in keys],
            names=[label for _, label in keys],
            nodes=[collector.wanted[k] for k in keys],
            cache_dir=cache_dir,
            budget=budget,
        )
    return collector.parsed


def compile_policy(
    policy: Policy,
    *,
    index: bool = True,
    index_min_rules: int = 8,
    cache_dir: str | os.PathLike[str] | None = None,
    cel_budget: int | None = DEFAULT_BUDGET,
) -> CompiledPolicy:
    """Compile a policy; :class:`PolicyError` if a CEL text does not compile.

    With ``cache_dir``, compiled conditions are kept on disk (keyed by content hash and
    engine version), so reloading an unchanged policy in a new process skips compilation.
    ``cel_budget``: the comprehension iterations one evaluation of one CEL text may perform
    (past it the text fails with a CEL error, AIGW520; None: no limit).
    """
    first_span = next((r.span for _, r in policy.rules() if r.span is not None), None)
    file = first_span.file if first_span is not None and first_span.file else None
    prefix = (file.rsplit("/", 1)[-1] if file else None) or policy.name or "policy"
    parsed = _compile_all_at_once(policy, prefix, cache_dir, cel_budget)
    c = _Compiler(policy, prefix, parsed, cel_budget)
    request_rules = tuple(c.rule("on_http_request", i, r) for i, r in enumerate(policy.phase("on_http_request")))
    response_rules = tuple(c.rule("on_http_response", i, r) for i, r in enumerate(policy.phase("on_http_response")))
    if c.errors:
        raise PolicyError(c.errors)
    request_rules = _mark_eager(request_rules)
    limits: dict[str, tuple[CompiledRule, CompiledAction]] = {}
    for rule in request_rules + response_rules:
        for action in rule.actions:
            if action.limit is not None:
                limits.setdefault(action.limit.spec.name, (rule, action))
    req_index = resp_index = None
    if index:
        from .index import build_index

        req_index = build_index(request_rules, min_rules=index_min_rules)
        resp_index = build_index(response_rules, min_rules=index_min_rules)
    text = repr(policy)
    return CompiledPolicy(
        policy=policy,
        name=policy.name,
        default=_setting(policy, "default"),
        on_error=_setting(policy, "on_error"),
        store_failure=_setting(policy, "store_failure"),
        upstream_error=_setting(policy, "upstream_error"),
        request_rules=request_rules,
        response_rules=response_rules,
        limits=limits,
        request_index=req_index,
        response_index=resp_index,
        uses_content_length="content_length" in text,
        uses_url=any(w in text for w in ("req.url", "req.host", "QueryParam")),
        uses_time="time" in text,
    )
