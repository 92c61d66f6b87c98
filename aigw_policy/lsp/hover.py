"""Hover: a CEL variable (type and doc) or function (signatures and doc), an action (its
doc and config keys), a config key (type and doc), a limit or var (its definition), and
the worst-case cost of the condition under the cursor."""

from __future__ import annotations

import re

from ..analysis.cel_check import cel_texts
from ..env import check_text
from ..env.docs import LIMIT_FIELDS
from ..ir import Policy
from ..ir.nodes import Action
from . import reference
from .context import context_at, word_at
from .navigation import limits, name_at, variables

__all__ = ["hover_at"]

_LIMIT_READ = re.compile(r"""limits\s*\[\s*(["'])[^"'\r\n]*\1\s*\]\s*\.\s*\Z""")


def hover_at(text: str, offset: int, dsl: bool, policy: Policy | None) -> tuple[str, tuple[int, int]] | None:
    """Markdown about what is under the cursor and the span it is about; None: nothing."""
    found = _about(text, offset, dsl, policy)
    cost = _cost(text, offset, policy)
    if found is None and cost is None:
        return None
    body, span = found if found is not None else ("", word_at(text, offset))
    return "\n\n".join(p for p in (body, cost) if p), span


def _about(text: str, offset: int, dsl: bool, policy: Policy | None) -> tuple[str, tuple[int, int]] | None:
    use = name_at(text, offset)
    if use is not None:
        doc = _limit(use[1], policy) if use[0] == "limit" else _var(use[1], policy)
        if doc is not None:
            return doc, word_at(text, offset, r"[^\s\"'\[\]]")
    start, end = word_at(text, offset, r"[\w-]")
    word = text[start:end]
    if not word:
        return None
    after = text[end:end + 40].lstrip("\"' \t")
    if after.startswith(":"):
        context = context_at(text, start, dsl)
        model = reference.config_model(context.action, context.path) if context.action else None
        doc = reference.field_doc(model, word) if model is not None else None
        if doc is not None:
            return doc, (start, end)
    if word in reference.ACTIONS and not after.startswith(("(", ".")):
        return reference.action_doc(word) or "", (start, end)
    if word in limits(policy) and text[start - 1:start] in "\"'":
        return _limit(word, policy) or "", (start, end)
    if word in LIMIT_FIELDS and _LIMIT_READ.search(text, max(0, start - 1100), start):
        return f"`{word}`: {LIMIT_FIELDS[word]}", (start, end)
    return _cel(text, offset)


def _cel(text: str, offset: int) -> tuple[str, tuple[int, int]] | None:
    start, end = word_at(text, offset, r"[\w.]")
    stop = text.find(".", offset, end)
    end = stop if stop != -1 else end
    name = text[start:end].strip(".")
    if not name or name[0].isdigit():
        return None
    if text[end:end + 1] == "(":
        last = name.rsplit(".", 1)[-1]
        for candidate in (name, last):
            doc = reference.function_doc(candidate)
            if doc is not None:
                seg = end - len(candidate) if candidate == last else start
                return doc, (seg, end)
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        t = reference.variable_type(prefix)
        if t is not None or reference.is_namespace(prefix):
            return _variable(prefix, t), (start, start + len(prefix))
    return None


def _variable(name: str, t: str | None) -> str:
    doc = reference.variable_doc(name)
    head = f"`{name}`: {t}" if t is not None else f"`{name}`: namespace"
    members = reference.members(name)
    listed = ", ".join(f"`{seg}`" for seg, _, _ in members[:24])
    tail = f"\n\nmembers: {listed}" + (", ..." if len(members) > 24 else "") if members else ""
    return head + (f"\n\n{doc}" if doc else "") + tail


def _config_text(action: Action) -> str:
    written = action.config.written()
    lines = [f"{k}: {_short(v)}" for k, v in written.items() if k != "name"]
    return "\n".join(lines)


def _short(value: object) -> str:
    text = " ".join(repr(value).split()) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _limit(name: str, policy: Policy | None) -> str | None:
    action = limits(policy).get(name)
    if action is None:
        return f"limit `{name}`: not defined in this document" if policy is not None else None
    where = f" (line {action.span.line})" if action.span else ""
    return f"limit `{name}`: `{action.type}`{where}\n\n```\n{_config_text(action)}\n```\n\n" \
           f"reads `limits['{name}'].{{limited, used, limit, remaining, reset_after}}`"


def _var(name: str, policy: Policy | None) -> str | None:
    found = variables(policy).get(name)
    if found is None:
        return None
    action, path = found
    span = action.span_of(path)
    where = f" on line {span.line}" if span else ""
    value = action.config.written()["vars"][int(path.split(".")[1])][name]
    return f"`vars.{name}`: set by `set-vars`{where}\n\n```\n{_short(value)}\n```"


def _cost(text: str, offset: int, policy: Policy | None) -> str | None:
    """The worst-case cost of the CEL text under the cursor (or after the `when` there)."""
    if policy is None:
        return None
    start, end = word_at(text, offset, r"\w")
    after_when = end if text[start:end] == "when" else None
    for source, span in cel_texts(policy):
        if span is None:
            continue
        inside = span.start <= offset <= span.end
        follows = after_when is not None and span.start >= after_when and not text[after_when:span.start].strip()
        if inside or follows:
            known = check_text(source)
            if known is not None and known[2] is not None:
                return f"worst-case cost of `{_short(' '.join(source.split()))}`: {known[2]:,}"
            return None
    return None

