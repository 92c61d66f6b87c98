"""What the editor shows about names: the CEL environment's variables and functions (types
from :mod:`aigw_policy.env.declarations`, docs from :mod:`aigw_policy.env.docs`), and the
action config models (:mod:`aigw_policy.ir.actions`), walked generically so that every
action and nested config (``ai-gateway``'s ``providers[].models[]``) is known."""

from __future__ import annotations

import typing
from functools import cache
from types import NoneType, UnionType
from typing import Any

from pydantic import BaseModel

from ..cel.codegen import MACROS
from ..cel.decls import Overload, standard
from ..env import POLICY
from ..env.docs import FUNCTION_DOCS, NAMESPACE_DOCS, variable_doc
from ..ir.actions import ACTIONS, ActionConfig
from ..ir.fields import phase_note

__all__ = [
    "ACTIONS", "DURATIONS", "action_doc", "config_field", "config_model", "field_doc", "function_doc",
    "functions", "is_namespace", "members", "signature", "type_text", "value_choices", "variable_doc",
    "variable_type",
]

DURATIONS = ("30s", "1m", "5m", "1h", "1d", "500ms")
"""Durations offered where a config value is one (a number and `ms`, `s`, `m`, `h` or `d`)."""
PERIODS = ("hour", "day", "week", "month")
MACRO_NAMES = frozenset(name for name, _, _ in MACROS)


def variable_type(name: str) -> str | None:
    t = POLICY.variables.get(name)
    return str(t) if t is not None else None


@cache
def _namespaces() -> dict[str, set[str]]:
    """Prefix (``""`` for the top) -> the next segments declared under it."""
    out: dict[str, set[str]] = {}
    for name in POLICY.variables:
        parts = name.split(".")
        for i in range(len(parts)):
            out.setdefault(".".join(parts[:i]), set()).add(parts[i])
    return out


def members(prefix: str) -> list[tuple[str, str, str]]:
    """The names right under ``prefix`` (``""``: the top): (segment, type or ``namespace``,
    doc), sorted."""
    out = []
    for segment in sorted(_namespaces().get(prefix, ())):
        full = f"{prefix}.{segment}" if prefix else segment
        t = variable_type(full)
        kind = t if t is not None else "namespace"
        if t is not None and full in NAMESPACE_DOCS:
            kind += " (and a namespace)"
        out.append((segment, kind, variable_doc(full)))
    return out


def is_namespace(name: str) -> bool:
    return name in _namespaces() and name != ""


@cache
def functions() -> dict[str, tuple[Overload, ...]]:
    """Every function a policy may call, standard and ngrok's, by name (operators left out)."""
    table: dict[str, list[Overload]] = {}
    for source in (standard(), POLICY.overloads):
        for name, overloads in source.items():
            if name[0].isalpha():
                table.setdefault(name, []).extend(overloads)
    return {k: tuple(v) for k, v in table.items()}


def signature(o: Overload) -> str:
    params = ", ".join(str(p) for p in o.params)
    receiver = f"{o.receiver}." if o.receiver is not None else ""
    return f"{receiver}{o.name}({params}) -> {o.result}"


def function_doc(name: str) -> str | None:
    """Markdown: the signatures and doc of a function or macro; None when unknown."""
    overloads = functions().get(name)
    if overloads is None and name not in MACRO_NAMES:
        return None
    lines = ["```", *(signature(o) for o in overloads or ()), "```"] if overloads else []
    if name in MACRO_NAMES:
        lines.insert(0, f"macro `{name}`")
    doc = FUNCTION_DOCS.get(name)
    return "\n".join(lines + ([doc] if doc else []))


# -- action configs ------------------------------------------------------------------------

def action_doc(type_name: str) -> str | None:
    model = ACTIONS.get(type_name)
    if model is None:
        return None
    flags = [w for w, on in (("terminating", model.TERMINATING), ("a limit", model.LIMIT),
                             (phase_note(model) or "", phase_note(model) is not None)) if on]
    keys = ", ".join(f"`{k}`" + ("" if f.is_required() else "?") for k, f in model.model_fields.items())
    head = f"action `{type_name}`" + (f" ({', '.join(flags)})" if flags else "")
    return f"{head}\n\n{model.DOC}" + (f"\n\nconfig: {keys}" if keys else "")


def config_model(type_name: str | None, path: typing.Sequence[str]) -> type[BaseModel] | None:
    """The model of the config object at ``path`` (keys, list items left out) under an
    action's config; None when the path leaves the models (a map, a scalar, a typo)."""
    model: type[BaseModel] | None = ACTIONS.get(type_name or "")
    for key in path:
        if model is None or key not in model.model_fields:
            return None
        model = _nested(_annotation(model, key))
    return model


def config_field(model: type[BaseModel], key: str) -> Any | None:
    """The type of a config key, its constraints included; None when there is no such key."""
    return _annotation(model, key) if key in model.model_fields else None


def _annotation(model: type[BaseModel], key: str) -> Any:
    info = model.model_fields[key]  # pydantic keeps a required field's metadata apart
    return typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation


def field_doc(model: type[BaseModel], key: str) -> str | None:
    """Markdown: a config key's type and doc; None when the model has no such key."""
    info = model.model_fields.get(key)
    if info is None:
        return None
    text = f"`{key}`: {type_text(_annotation(model, key))}" + ("" if info.is_required() else " (optional)")
    doc = _schema_docs().get((model, key)) if issubclass(model, ActionConfig) else None
    return text + (f"\n\n{doc}" if doc else "")


def value_choices(annotation: Any) -> list[str]:
    """What to offer as a config value: the literals, `true`/`false`, or durations."""
    if _marked(annotation, "_check_period"):
        return [*PERIODS, *DURATIONS]
    if _marked(annotation, "_check_duration"):
        return list(DURATIONS)
    choices: list[str] = []
    for arg in _leaves(annotation):
        if typing.get_origin(arg) is typing.Literal:
            choices.extend(str(a) for a in typing.get_args(arg))
        elif arg is bool:
            choices.extend(("true", "false"))
    return choices


@cache
def _schema_docs() -> dict[tuple[type[BaseModel], str], str]:
    from ..schema import policy_json_schema

    defs = policy_json_schema()["$defs"]
    out: dict[tuple[type[BaseModel], str], str] = {}
    for model in ACTIONS.values():
        props = defs.get(model.__name__ + "Config", {}).get("properties", {})
        out.update({(model, k): p["description"] for k, p in props.items() if p.get("description")})
    return out


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(the type under ``Annotated``, its metadata)."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        metadata.extend(annotation.__metadata__)
        annotation = annotation.__origin__
    return annotation, metadata


def _leaves(annotation: Any) -> list[Any]:
    """The branches of a union (None left out), each unwrapped."""
    annotation, _ = _unwrap(annotation)
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        return [leaf for arg in typing.get_args(annotation) if arg is not NoneType
                for leaf in _leaves(arg)]
    return [annotation]


def _marked(annotation: Any, word: str) -> bool:
    return word in repr(annotation)


def _nested(annotation: Any) -> type[BaseModel] | None:
    """The model a config value holds (itself, or the items of its list)."""
    for leaf in _leaves(annotation):
        if isinstance(leaf, type) and issubclass(leaf, BaseModel):
            return leaf
        if typing.get_origin(leaf) is tuple:
            found = _nested(typing.get_args(leaf)[0])
            if found is not None:
                return found
    return None


_SCALARS = {int: "int", float: "number", str: "string", bool: "bool", Any: "any"}


def type_text(annotation: Any) -> str:
    """A config value's type for people: ``duration``, ``CEL expression``, ``list of ...``."""
    base, metadata = _unwrap(annotation)
    meta = repr(metadata)
    if "CelMarker" in meta:
        return "CEL expression"
    if "TemplateMarker" in meta:
        return "string (with `${expr}`)" if base is str else "any (strings with `${expr}`)"
    if "_check_period" in meta:
        return "period (`month`, `day`, ... or a duration)"
    if "_check_duration" in meta:
        return "duration (`10s`, `1m`)"
    origin = typing.get_origin(base)
    if origin in (typing.Union, UnionType):
        parts = [type_text(a) for a in typing.get_args(base) if a is not NoneType]
        return " | ".join(dict.fromkeys(parts))
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in typing.get_args(base))
    if origin is tuple:
        return f"list of {type_text(typing.get_args(base)[0])}"
    if origin is dict:
        key, value = typing.get_args(base)
        return f"map of {type_text(key)} to {type_text(value)}"
    if isinstance(base, type) and issubclass(base, BaseModel):
        return "object {" + ", ".join(base.model_fields) + "}"
    return _SCALARS.get(base, getattr(base, "__name__", str(base)))
