"""Every CEL text in a policy parses and type-checks: conditions, CEL config fields, templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..diagnostics import Diagnostic
from ..ir import Action, Policy, Rule
from ..ir.actions import ActionConfig, field_kind
from ..source import Source, Span
from ..syntax.hints import literal_help, word_operator, word_operator_diagnostic
from ..template import Interpolation, TemplateError, split_template
from .bare_cel import bare_cel
from .value_offsets import placed, value_offsets


def check(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if policy.shard_key is not None:
        found.extend(check_shard_key(policy.shard_key.source, policy.shard_key.span, source))
    for _, rule in policy.rules():
        found.extend(check_rule(rule, source))
    return found


def check_shard_key(text: str, span: Span | None, source: Source | None = None) -> list[Diagnostic]:
    """The document's ``shard_key``: a CEL text like a condition, whose value is a string
    (AIGW306 when its type is known and is another; ``dyn`` is checked at run time)."""
    found = _parse(text, span, source)
    if found:
        return found
    from ..env import POLICY, check_text

    known = check_text(text)
    kind = POLICY.result_type(known[0]) if known is not None else None
    if kind is not None and kind.kind not in ("string", "dyn", "param"):
        return [Diagnostic.make("AIGW306", f"`shard_key` must give a string, not {kind}", span,
                                help="name the tenant: `shard_key: identity.org`, or "
                                "`string(...)` of another value")]
    return []


def check_condition_type(text: str, span: Span | None) -> list[Diagnostic]:
    """AIGW303 for a condition (one that type-checks) whose value is known not to be a
    bool: ``req.method``, ``5``, ``req.url.query_params``. Every request it reaches would
    fail the rule (ngrok: "Each expression must evaluate to `true`"), as a constant bad
    ``matches`` pattern would (AIGW304), so the document is refused where it is written.
    ``dyn`` values (``vars.*``, ``json.decode``) are left to run time."""
    from ..env import POLICY

    known = POLICY.check_text(text)  # memoized, with the whole check: its type, not a second check
    kind = known[3].type if known is not None and not known[1] else None
    if kind is None or kind.kind in ("bool", "dyn", "param"):
        return []
    return [Diagnostic.make("AIGW303", f"a condition must give a bool, not `{kind}`", span,
                            help="compare the value: `req.method == 'GET'`, `size(x) > 0`, "
                            "`'k' in req.url.query_params`")]


def check_rule(rule: Rule, source: Source | None = None) -> list[Diagnostic]:
    """The CEL diagnostics of one rule. The readers also run it on a rule they leave out of
    the policy for its errors, so a misspelled action does not hide a type error beside it."""
    found: list[Diagnostic] = []
    for expr in rule.expressions:
        found.extend(_parse(expr.source, expr.span, source) or check_condition_type(expr.source, expr.span))
    for action in rule.actions:
        for text, span, is_template in _cel_texts(action):
            if is_template:
                found.extend(_parse_template(text, span, source))
            else:
                found.extend(_parse(text, span, source))
    return found


def cel_texts(policy: Policy) -> Iterator[tuple[str, Span | None]]:
    """Every CEL text of a policy with where it was written: conditions, CEL config
    fields and the expressions inside ``${...}`` interpolations."""
    for _, rule in policy.rules():
        for text, span, _ in rule_cel_texts(rule):
            yield text, span


def rule_cel_texts(rule: Rule) -> Iterator[tuple[str, Span | None, bool]]:
    """Every CEL text of one rule: (text, where, whether it is in an action)."""
    for expr in rule.expressions:
        yield expr.source, expr.span, False
    for action in rule.actions:
        for text, span in action_cel_texts(action):
            yield text, span, True


def action_cel_texts(action: Action) -> Iterator[tuple[str, Span | None]]:
    """Every CEL text of one action's config: CEL fields, and each ``${...}`` of a template."""
    for text, span, is_template in _cel_texts(action):
        if not is_template:
            yield text, span
            continue
        try:
            parts = split_template(text)
        except TemplateError:
            continue
        for part in parts:
            if isinstance(part, Interpolation):
                yield part.source, span


def _cel_texts(action: Action) -> Iterator[tuple[str, Span | None, bool]]:
    config = action.config
    return _field_texts(type(config), config.written(), action.span_of)


def _field_texts(model: type[ActionConfig], values: dict[str, Any],
                 span_of: Callable[[str], Span | None]) -> Iterator[tuple[str, Span | None, bool]]:
    """(text, where, is a template) for every CEL text among an action's config values."""
    for name, value in values.items():
        kind = field_kind(model, name)
        if kind == "cel" and isinstance(value, str):
            yield value, span_of(name), False
        elif kind == "cel_list" and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield item, span_of(f"{name}.{i}"), False
        elif kind == "template" and isinstance(value, str):
            yield value, span_of(name), True
        elif kind == "template_list" and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield item, span_of(f"{name}.{i}"), True
        elif kind == "template_map" and isinstance(value, dict):  # header values; log metadata: any value
            for key, item in value.items():
                for text in _strings(item):
                    yield text, span_of(f"{name}.{key}"), True
        elif model.TYPE == "set-vars" and isinstance(value, (list, tuple)):
            for i, entry in enumerate(value):
                if not isinstance(entry, dict):
                    continue
                for key, item in entry.items():
                    for text in _strings(item):
                        yield text, span_of(f"{name}.{i}.{key}"), True


def check_config(model: type[ActionConfig], values: dict[str, Any],
                 spans: dict[str, Span | None]) -> list[Diagnostic]:
    """The CEL diagnostics of an action config that could not be built (an unknown or
    missing key): its CEL fields are still checked, so one error does not hide another."""
    found: list[Diagnostic] = []
    for text, span, is_template in _field_texts(model, values, spans.get):
        found.extend(_parse_template(text, span, None) if is_template else _parse(text, span, None))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _exact(text: str, span: Span | None, source: Source | None) -> bool:
    """Whether ``text`` stands verbatim at ``span`` in ``source`` (spans can then be exact)."""
    return (
        span is not None
        and source is not None
        and source.text[span.start : span.start + len(text)] == text
    )


def _parse(text: str, span: Span | None, source: Source | None) -> list[Diagnostic]:
    from ..env import check_text
    from ..cel.parser import CelSyntaxError, parse

    known = check_text(text)  # memoized: most texts are fine, and then spans do not matter
    if known is not None and not known[1]:
        return pattern_diagnostics(known[0], text, span)
    exact = _exact(text, span, source)
    try:
        if exact:
            node = parse(text, source=source, offset=span.start)  # type: ignore[union-attr]
        else:
            node = parse(text)
    except CelSyntaxError as error:
        hint = _word_operator(text, span, source, exact)
        if hint is not None:  # the syntax error is its consequence: say what to write
            return [hint]
        if exact:
            return list(error.diagnostics)
        # the text was folded, quoted or escaped in the document: placed through its offsets
        return placed(list(error.diagnostics), value_offsets(text, span, source), span, source)
    from ..env import check_condition

    found = [_with_literal_help(d) for d in check_condition(node)]
    if exact:
        return found
    return placed(found, value_offsets(text, span, source), span, source)


def pattern_diagnostics(node: Any, text: str, span: Span | None) -> list[Diagnostic]:
    """AIGW304 for each constant ``matches`` or ``regex.*`` pattern of ``text`` that does not
    compile, at the text (:func:`~aigw_policy.env.policy.bad_patterns`): lint reports them, the
    engine refuses the policy for them."""
    if "matches" not in text and "regex" not in text:  # no call (a function's name is in its text): no walk
        return []
    from ..env.policy import bad_patterns  # (here, past the usual answer: an import run per text costs)

    short = " ".join(text.split())
    short = short if len(short) <= 80 else short[:77] + "..."
    return [Diagnostic.make("AIGW304", f"`{short}`: {why}", span,
                            help="RE2 syntax (https://github.com/google/re2/wiki/Syntax)")
            for why in bad_patterns(node)]


def _with_literal_help(d: Diagnostic) -> Diagnostic:
    """``True``/``None`` read as undeclared names: say CEL's literal."""
    if d.code != "AIGW300" or d.help:
        return d
    help = literal_help(d.message)
    return d if help is None else Diagnostic(d.code, d.message, d.span, help, d.severity)


def _word_operator(text: str, span: Span | None, source: Source | None,
                   exact: bool) -> Diagnostic | None:
    found = word_operator(text)
    if found is None:
        return None
    at, word = found
    if exact:
        span = source.span(span.start + at, span.start + at + len(word))  # type: ignore[union-attr]
    return word_operator_diagnostic(word, span) if span is not None else None


def _parse_template(text: str, span: Span | None, source: Source | None) -> list[Diagnostic]:
    if "${" not in text:
        return bare_cel(text, span)
    try:
        parts = split_template(text)
    except TemplateError as error:
        return [Diagnostic.make("AIGW203", str(error), span)]
    found: list[Diagnostic] = []
    for part in parts:
        if isinstance(part, Interpolation):
            inner = None
            if span is not None and source is not None:
                start = source.text.find(text, span.start, span.end + 2) if _contains(
                    text, span, source) else -1
                if start != -1:
                    offset = start + part.offset
                    inner = source.span(offset, offset + len(part.source))
                elif (at := value_offsets(text, span, source)) is not None:  # folded, quoted or escaped
                    first, last = at[part.offset], at[part.offset + len(part.source)]
                    inner = source.span(first, max(first, last))
            found.extend(_parse(part.source, inner or span, source))
    return found


def _contains(text: str, span: Span, source: Source) -> bool:
    return text in source.text[span.start : span.end + 2]
