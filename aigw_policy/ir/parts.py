"""Nested parts of action configs: config fields whose value is a model (or a list of models)
of its own, such as ``ai-gateway``'s ``providers[]`` and ``model_selection``.

The builder, both readers, the printer and the checks walk a config through these, so a
misspelled key at any depth is reported and a CEL field at any depth is known to be CEL.
Paths are dotted, list items by index: ``providers.0.api_keys.1.value``.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

from .fields import field_kind

__all__ = ["kind_at", "part_of"]


@cache
def part_of(model: type[BaseModel], name: str) -> tuple[type[BaseModel], bool] | None:
    """The model of field ``name`` when it is a part, and whether the field is a list of
    them; ``None`` for a leaf field (scalars, plain maps and lists, CEL, templates)."""
    info = model.model_fields.get(name)
    if info is None:
        return None
    return _find_part(info.annotation, in_list=False)


def _find_part(annotation: Any, *, in_list: bool) -> tuple[type[BaseModel], bool] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, in_list
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _find_part(arg, in_list=in_list)
            if found is not None:
                return found
        return None
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1:
            return _find_part(args[0], in_list=True)
    return None


def kind_at(model: type[BaseModel], path: str) -> tuple[str, bool] | None:
    """The :func:`~aigw_policy.ir.fields.field_kind` of the field a dotted ``path`` is in
    (``model_selection.strategy.0`` -> ``("cel_list", True)``), and whether the path names
    an item of that field rather than the field itself; ``None`` if the path leads nowhere."""
    parts = path.split(".")
    current = model
    i = 0
    while i < len(parts):
        name = parts[i]
        if name not in current.model_fields:
            return None
        nested = part_of(current, name)
        rest = parts[i + 1:]
        if nested is None:
            return field_kind(current, name), bool(rest)
        current, is_list = nested
        i += 1
        if is_list:
            if i == len(parts):
                return "data", False
            if not parts[i].isdigit():
                return None
            i += 1
        if i == len(parts):
            return "data", False
    return None
