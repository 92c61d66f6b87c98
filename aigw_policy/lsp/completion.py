"""Completion: CEL names from the typed environment, the document's limit names, action
types, config keys (nested ones too) and their values (choices, durations)."""

from __future__ import annotations

from lsprotocol import types

from ..analysis.free_vars import ACTIVATION_READS
from ..env.docs import LIMIT_FIELDS
from ..ir import Policy
from ..ir.actions import ACTIONS
from ..ir.nodes import SETTINGS
from . import reference
from .context import Context
from .navigation import limit_names, variables

__all__ = ["complete"]

K = types.CompletionItemKind
_DSL_TOP = ("default", "on-error", "store-failure", "upstream-error", "on request", "on response")
_YAML_TOP = ("name", *SETTINGS, "on_http_request", "on_http_response")
_YAML_RULE = ("name", "expressions", "actions", "on_error")


def complete(context: Context, policy: Policy | None, dsl: bool, edit: types.Range) -> list[types.CompletionItem]:
    """What may be written at the cursor; ``edit`` is the range of the word typed so far
    (the items replace it)."""
    if context.limit_prefix is not None:
        return [_item(n, K.Value, "limit", edit) for n in limit_names(policy)]
    if context.limit_field:
        return [_item(f, K.Field, doc, edit) for f, doc in LIMIT_FIELDS.items()]
    if context.cel_prefix and "." in context.cel_prefix and context.slot not in ("key", "top", "action"):
        namespace = context.cel_prefix.rsplit(".", 1)[0]
        if namespace == "vars":
            return [_item(n, K.Variable, "set-vars", edit) for n in sorted(variables(policy))]
        return _cel_members(namespace, edit)
    slot = context.slot
    colon = "" if context.quoted else ":"
    if slot == "type" or (slot == "rule" and dsl):
        items = [_item(t, K.Class, ACTIONS[t].DOC, edit) for t in sorted(ACTIONS)
                 if context.phase is None or context.phase in ACTIONS[t].PHASES]
        if slot == "rule":
            items += [_item(w, K.Keyword, "", edit) for w in ("when", "on-error")]
        return items
    if slot == "rule":
        return [_item(k, K.Property, "", edit, colon) for k in _YAML_RULE]
    if slot == "action":
        return [_item(k, K.Property, "", edit, colon) for k in ("type", "config")]
    if slot == "top":
        words = _DSL_TOP if dsl else _YAML_TOP
        return [_item(w, K.Keyword if dsl else K.Property, "", edit, "" if dsl else colon) for w in words]
    if slot == "phase":
        return [_item("rule", K.Keyword, "", edit)]
    model = reference.config_model(context.action, context.path) if context.action else None
    if slot == "key" and model is not None:
        return [_item(k, K.Property, reference.type_text(reference.config_field(model, k)), edit, colon)
                for k in model.model_fields]
    if slot == "value" and model is not None and context.key is not None:
        annotation = reference.config_field(model, context.key)
        choices = reference.value_choices(annotation) if annotation is not None else []
        if choices:
            return [_item(c, K.Value, "", edit) for c in choices]
    if context.cel_prefix is not None or slot in ("value", "other"):
        items = _cel_members("", edit)
        if context.phase in ("on_tcp_connect", "on_http_request"):  # no response yet (lint: AIGW404)
            items = [i for i in items if i.label != "res" and not ACTIVATION_READS.get(i.label, "").startswith("res.")]
        return items
    return []


def _cel_members(prefix: str, edit: types.Range) -> list[types.CompletionItem]:
    """The names under a CEL namespace (``ai`` -> ``model``, ...), or the methods of a
    variable's type; at the top, the namespaces and the global functions and macros."""
    items = [_item(seg, K.Module if kind == "namespace" else K.Field, f"{kind}: {doc}" if doc else kind, edit)
             for seg, kind, doc in reference.members(prefix)]
    if prefix and reference.variable_type(prefix) is not None:
        receiver = str(reference.variable_type(prefix))
        for name, overloads in sorted(reference.functions().items()):
            fits = [o for o in overloads if o.receiver is not None and str(o.receiver) in (receiver, "A", "dyn")]
            if fits and "." not in name:
                items.append(_item(name, K.Method, reference.signature(fits[0]), edit))
        for macro in ("all", "exists", "exists_one", "map", "filter") if receiver.startswith(("list", "map")) else ():
            items.append(_item(macro, K.Method, "macro", edit))
    if not prefix:
        for name, overloads in sorted(reference.functions().items()):
            if "." not in name and any(o.receiver is None for o in overloads):
                items.append(_item(name, K.Function, reference.signature(overloads[0]), edit))
        items.append(_item("has", K.Function, "macro", edit))
    return items


def _item(label: str, kind: types.CompletionItemKind, detail: str, edit: types.Range,
          suffix: str = "") -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail or None,
        text_edit=types.TextEdit(edit, label + suffix + (" " if suffix else "")),
        filter_text=label,
    )
