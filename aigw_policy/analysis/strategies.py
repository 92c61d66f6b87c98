"""The ``ai-gateway`` action's selection strategies type-check against the selection
environment (:mod:`aigw_policy.routing.selection`) and return what they must.

Codes: AIGW320-324 for a strategy that does not check (the CEL checker's AIGW300-303 and
compile errors, renumbered so a strategy's error is told from a condition's), AIGW410-414
for routing analysis (wrong result type, ``only_allow_configured_models`` with nothing
listed, strategies that never run, key strategies with no key to choose from). Syntax
errors keep their AIGW2xx codes. Spans point into the strategy text, through its offsets
when it is not verbatim in the document (a `|` block: :mod:`.value_offsets`), else at the
strategy's value.
"""

from __future__ import annotations

from ..cel.environment import Environment
from ..cel.parser import CelSyntaxError, parse
from ..cel.runtime.values import CelError
from ..diagnostics import Diagnostic
from ..ir import Action, Policy
from ..ir.ai_gateway import AiGateway
from ..routing.selection import KEY_TYPES, KEYS, MODEL_TYPES, MODELS
from ..source import Source, Span
from .value_offsets import placed, value_offsets

__all__ = ["check"]

_RENUMBER = {"AIGW300": "AIGW320", "AIGW301": "AIGW321", "AIGW302": "AIGW322", "AIGW303": "AIGW323"}
_SELECTIONS = (
    ("model_selection", MODELS, MODEL_TYPES, "AIGW410", "a model or a list of models", "ai.models"),
    ("api_key_selection", KEYS, KEY_TYPES, "AIGW411", "a key or a list of keys", "ai.keys"),
)


def check(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for _, rule in policy.rules():
        for action in rule.actions:
            if isinstance(action.config, AiGateway):
                found.extend(check_action(action, source))
    return found


def check_action(action: Action, source: Source | None) -> list[Diagnostic]:
    config: AiGateway = action.config  # type: ignore[assignment]
    found: list[Diagnostic] = []
    for field, env, want, code, what, everything in _SELECTIONS:
        selection = getattr(config, field)
        if selection is None:
            continue
        for i, text in enumerate(selection.strategy):
            span = action.span_of(f"{field}.strategy.{i}")
            found.extend(_check_strategy(text, span, source, env, want, code, what))
            if text.strip() == everything and i + 1 < len(selection.strategy):
                found.append(Diagnostic.make(
                    "AIGW413", f"the strategies after `{everything}` never run", span,
                    help=f"`{everything}` returns every one whenever there is any; make it the last strategy",
                ))
                break
    if config.only_allow_configured_models and not any(p.models for p in config.providers or ()):
        found.append(Diagnostic.make(
            "AIGW412", "only_allow_configured_models is true but no provider lists `models`",
            action.span_of("only_allow_configured_models"),
            help="list the allowed models under `providers[].models`, or drop the flag",
        ))
    if config.api_key_selection is not None and not any(p.api_keys for p in config.providers or ()):
        found.append(Diagnostic.make(
            "AIGW414", "api_key_selection has no key to choose from: no provider has `api_keys`",
            action.span_of("api_key_selection"),
            help="add `api_keys` to the providers, or drop `api_key_selection`",
        ))
    return found


def _offset(text: str, span: Span | None, source: Source | None) -> int | None:
    """Where ``text`` stands verbatim inside ``span`` (a quoted value starts one later)."""
    if span is None or source is None:
        return None
    at = source.text.find(text, span.start, max(span.end, span.start + len(text)) + 1)
    return at if at != -1 and at <= span.start + 1 else None


def _check_strategy(text: str, span: Span | None, source: Source | None, env: Environment,
                    want: tuple[str, ...], code: str, what: str) -> list[Diagnostic]:
    offset = _offset(text, span, source)
    at = value_offsets(text, span, source) if offset is None else None
    try:
        node = parse(text, source=source, offset=offset) if offset is not None else parse(text)
    except CelSyntaxError as e:
        return [_placed(d, d.code, offset, span, at, source) for d in e.diagnostics]
    try:
        program = env.compile(text, node=node)
    except CelError as e:
        if e.diagnostics:
            return [_placed(d, _RENUMBER.get(d.code, "AIGW324"), offset, span, at, source)
                    for d in e.diagnostics]
        return [Diagnostic.make("AIGW324", f"selection strategy could not be compiled: {e}", span)]
    rt = program.type
    if rt is not None and not rt.is_dyn and str(rt) not in want:
        return [Diagnostic.make(code, f"this strategy returns `{rt}`, not {what}", span,
                                help="return the collection itself, filtered or sorted (`.filter(...)`, "
                                "`.sortBy(...)`), or one element of it (`.random()`, `[0]`)")]
    return []


def _placed(d: Diagnostic, code: str, offset: int | None, span: Span | None, at: list[int] | None,
            source: Source | None) -> Diagnostic:
    """``d`` renumbered; at its own span when the text was parsed in place, else through the
    text's offsets ``at``, else at ``span``."""
    where = d.span if offset is not None else placed([d], at, span, source)[0].span
    return Diagnostic(code, d.message, where, d.help, d.severity)
