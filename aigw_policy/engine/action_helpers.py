"""What the action handlers share (:mod:`.actions`, :mod:`.http_actions`): rendering a
config template (a CEL failure is the rule's error), a header value a header can carry, and
publishing ``actions.ngrok.<name>`` for later rules."""

from __future__ import annotations

import json
import re
from typing import Any

from ..cel import CelError
from ..ir.fields import BAD_HEADER_CHAR
from .compile import CompiledAction, CompiledRule
from .flow import Flow
from .rule_error import HEADER_VALUE, TEMPLATE, Failure, action_error, failure
from .templates import Template, text_of

__all__ = ["BAD_HEADER_CHAR", "_header_value", "_publish", "_render", "inferred_content_type"]


def _render(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, tpl: Template, field: str) -> Any:
    try:
        return tpl.render(flow.act)
    except (CelError, RecursionError) as exc:
        span = action.ir.span_of(field) if action.ir is not None else action.span
        raise action_error(flow, rule, phase, tpl.text, span, failure(exc, TEMPLATE), field) from None


def _header_value(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, tpl: Template,
                  field: str) -> str:
    """A rendered header value, surrounding whitespace trimmed; one that no header can carry
    is an error of the rule (``on_error``), never sent."""
    value = text_of(_render(flow, rule, action, phase, tpl, field)).strip(" \t")
    bad = BAD_HEADER_CHAR.search(value)
    if bad is None:
        return value
    name = field.split(".", 1)[1] if "." in field else field
    message = (f"the value of header `{name}` has the character U+{ord(bad.group()):04X}, "
               "which a header cannot carry (CR, LF, NUL and other controls are refused)")
    span = action.ir.span_of(field) if action.ir is not None else action.span
    raise action_error(flow, rule, phase, tpl.text, span, Failure(HEADER_VALUE, message), field)


def _publish(flow: Flow, name: str, result: dict[str, Any]) -> None:
    """``actions.ngrok.<name>`` for later rules, as ngrok's action variables (the callers
    build ``result`` only when some text reads ``actions``: ``cp.reads_actions``)."""
    actions = flow.act.get("actions")
    if actions is not None:
        actions.setdefault("ngrok", {})[name] = result




_HTML = re.compile(r"\s*<(?:!doctype html|html|head|body|title|h1|p|div|table|br)[\s/>]", re.IGNORECASE)


def inferred_content_type(body: str) -> str:
    """The ``content-type`` of a ``custom-response`` that names none, inferred from its body as
    ngrok's is ("this action will attempt to infer the correct content-type"): HTML (an
    opening tag browsers sniff as HTML), JSON (an object or an array), else plain text.

    >>> inferred_content_type("<h1>Down</h1>"), inferred_content_type('{"a": 1}'), inferred_content_type("{a")
    ('text/html; charset=utf-8', 'application/json', 'text/plain; charset=utf-8')
    """
    if _HTML.match(body[:128]):
        return "text/html; charset=utf-8"
    if body.lstrip()[:1] in ("{", "["):
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            pass
        else:
            return "application/json"
    return "text/plain; charset=utf-8"
