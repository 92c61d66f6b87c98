"""IR -> canonical DSL text.

One canonical layout per document (see ``docs/dsl-contract.md``): two-space indentation,
a blank line between sections and between rules, shorthands for ``deny``, ``set-model`` and
``allow``, every other action in block form on one line when it fits in 100 columns, else
one ``key: value`` per line. CEL is printed exactly as written (``Expr.source``); every other
value is printed so that the contract's lowering gives the same IR back, which
:func:`aigw_policy.fmt.format_policy` checks by re-parsing. Comments are not IR: given a
:class:`~.comments.Comments` placement, each is printed before or after its line.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel

from ..ir.actions import field_kind
from ..ir.nodes import SETTINGS, Action, Policy, Rule
from ..ir.parts import part_of
from .comments import Comments, Key, Placed

__all__ = ["print_dsl", "print_action", "print_string", "print_value", "WIDTH"]

WIDTH = 100
INDENT = "  "

_BARE_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d)$")
_PHASE_KEYWORDS = (("on_http_request", "request"), ("on_http_response", "response"))
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def print_dsl(policy: Policy, comments: Comments | None = None) -> str:
    """The canonical DSL text of ``policy``, ending with exactly one newline.

    ``comments`` (see :mod:`.comments`) puts the source's comments back; without them the
    text has none.
    """
    out = _Lines(comments or Comments())
    head = "policy {" if policy.name is None else f"policy {print_string(policy.name)} {{"
    out.line(0, [head], ("head",))
    sections = 0
    for key in SETTINGS:
        value = getattr(policy, key)
        if value is not None:
            out.line(1, [f"{key.replace('_', '-')} {value}"], ("setting", key))
            sections = 1
    if policy.shard_key is not None:
        out.line(1, [f"shard-key {policy.shard_key.source}"], ("setting", "shard_key"))
        sections = 1
    for phase, keyword in _PHASE_KEYWORDS:
        rules = getattr(policy, phase)
        if rules is None:  # not written; `()` is written empty: `on response {}`
            continue
        if sections:
            out.blank()
        sections += 1
        out.line(1, [f"on {keyword} {{"], ("phase", phase))
        for i, rule in enumerate(rules):
            if i:
                out.blank()
            _rule(out, rule, (phase, i))
        out.close(1, ("phase-end", phase))
    out.close(0, ("end",))
    out.comments(0, out.places.before(("eof",)), first_blank=True)
    return "\n".join(out.lines) + "\n"


def _rule(out: _Lines, rule: Rule, at: tuple[str, int]) -> None:
    head = "rule {" if rule.name is None else f"rule {print_string(rule.name)} {{"
    out.line(2, [head], ("rule", *at))
    if rule.on_error is not None:
        out.line(3, [f"on-error {rule.on_error}"], ("rule.on_error", *at))
    if rule.mode is not None:
        out.line(3, [f"mode {rule.mode}"], ("rule.mode", *at))
    for j, expr in enumerate(rule.expressions):
        out.line(3, [f"when {expr.source}"], ("when", *at, j))
    for k, action in enumerate(rule.actions):
        _action(out, action, (*at, k))
    out.close(2, ("rule-end", *at))


def _action(out: _Lines, action: Action, at: tuple[str, int, int]) -> None:
    """An action; comments written inside its block keep their keys' lines, so a block
    holding comments is printed one key per line (an action printed on one line gets them
    before it)."""
    places = out.places
    keys = list(action.config.written())
    inside = [places.after(("action", *at))]
    for key in keys:
        inside += [*places.before(("field", *at, key)), places.after(("field", *at, key))]
    inside += places.before(("action-end", *at))
    notes = _Notes(places, at)
    lines = _action_lines(action, depth=3, expand=any(inside) or bool(notes), notes=notes)
    end = ("action-end", *at)
    if len(lines) == 1 or lines[-1] != "}":
        moved = [Placed(c) if isinstance(c, str) else c for c in inside if c]
        out.comments(3, [*places.before(("action", *at)), *moved])
        out.line(3, lines, end, comment_depth=3, leading=False)
        return
    out.line(3, lines[:1], ("action", *at))
    for key, pair in zip(keys, lines[1:-1]):
        text, field = pair[len(INDENT):], ("field", *at, key)
        trailing = places.after(field)
        if trailing is not None and "\n" in text and part_of(type(action.config), key) is not None:
            # a part broken over lines: the key's comment stays on the key's line (after its
            # opening bracket), where reading it back finds it again
            first, rest = text.split("\n", 1)
            out.line(4, [f"{first}  {trailing}\n{rest}"], field, trailing=False)
        else:
            out.line(4, [text], field)
    out.close(3, end)


class _Lines:
    """Printed lines, with each key's comments before and after its line."""

    def __init__(self, places: Comments) -> None:
        self.places = places
        self.lines: list[str] = []

    def blank(self) -> None:
        self.lines.append("")

    def line(self, depth: int, lines: list[str], key: Key, *, comment_depth: int = -1,
             leading: bool = True, trailing: bool = True) -> None:
        # Continuation lines of multi-line CEL are kept exactly as written, so only the
        # first physical line of each logical line is indented.
        if leading:
            self.comments(depth if comment_depth < 0 else comment_depth, self.places.before(key))
        self.lines.extend(INDENT * depth + line for line in lines)
        after = self.places.after(key) if trailing else None
        if after is not None:
            self.lines[-1] += "  " + after

    def close(self, depth: int, key: Key) -> None:
        self.line(depth, ["}"], key, comment_depth=depth + 1)

    def comments(self, depth: int, placed: list[Placed], *, first_blank: bool = False) -> None:
        for i, comment in enumerate(placed):
            if comment.blank_before and (i or first_blank):
                self.blank()
            self.lines.append(INDENT * depth + comment.text)


def _indent(lines: list[str]) -> list[str]:
    return [INDENT + line if line else line for line in lines]


def print_action(action: Action, *, depth: int = 0) -> str:
    """One action as DSL text, laid out as if it were indented ``depth`` levels (its lines
    are not: the text starts at column 0)."""
    return "\n".join(_action_lines(action, depth=depth, indented=False))


class _Notes:
    """The comments placed inside an action's parts, by item path (``providers.1``)."""

    def __init__(self, places: Comments, at: tuple[str, int, int]) -> None:
        self.leading = {k[-1]: v for k, v in places.leading.items()
                        if k[0] == "nested" and k[1:-1] == at}
        self.trailing = {k[-1]: v for k, v in places.trailing.items()
                         if k[0] == "nested" and k[1:-1] == at}

    def __bool__(self) -> bool:
        return bool(self.leading or self.trailing)

    def inside(self, node: _Node) -> bool:
        """Whether a comment goes with an item of ``node``, at any depth: it then breaks."""
        if isinstance(node, str):
            return False
        return any(path in self.leading or path in self.trailing or self.inside(child)
                   for _, child, path in node[1])


def _action_lines(action: Action, *, depth: int, expand: bool = False,
                  notes: _Notes | None = None, indented: bool = True) -> list[str]:
    # Logical lines, unindented; a CEL value written over several lines stays one logical
    # line, so its continuation lines are never re-indented (that would change its source).
    config = action.config
    written = config.written()
    shorthand = _shorthand(action.type, written)
    if shorthand is not None:
        return [shorthand]
    if not written:
        return [action.type]
    model = type(config)
    pairs = [f"{key}: {_flat(_field_node(model, key, value))}" for key, value in written.items()]
    one_line = f"{action.type} {{ {', '.join(pairs)} }}"
    if not expand and "\n" not in one_line and len(INDENT * depth) + len(one_line) <= WIDTH:
        return [one_line]
    # a part broken over lines carries its indentation: the lines' own (`indented`), or
    # that of a text starting at column 0
    column = len(INDENT * (depth + 1))
    inner = INDENT * (depth + 1) if indented else INDENT
    pairs = [f"{key}: {_render(_field_node(model, key, value), column + len(key) + 2, inner, notes)}"
             for key, value in written.items()]
    return [f"{action.type} {{", *_indent(pairs), "}"]


# A value laid out: a text that does not break, or a group `(open, [(prefix, node, path)],
# close)` printed on one line when it fits, else one item per line, each ending with a comma;
# `path` names the item (`providers.1`, `providers.1.models`) for the comments placed there.
_Node = Any


def _flat(node: _Node) -> str:
    if isinstance(node, str):
        return node
    open_, items, close = node
    if not items:
        return open_ + close
    inside = ", ".join(prefix + _flat(child) for prefix, child, _ in items)
    return f"{open_} {inside} {close}" if open_ == "{" else f"{open_}{inside}{close}"


def _render(node: _Node, column: int, indent: str, notes: _Notes | None = None) -> str:
    """``node`` starting at ``column`` on a line indented by ``indent``: flat when it fits in
    :data:`WIDTH` and holds no comment, else broken one item per line, each item's comments
    before it or after its comma. CEL text is never re-indented."""
    flat = _flat(node)
    commented = notes is not None and notes.inside(node)
    if isinstance(node, str) or ("\n" not in flat and column + len(flat) <= WIDTH
                                 and not commented):
        return flat
    open_, items, close = node
    inner = indent + INDENT
    lines = [open_]
    for prefix, child, path in items:
        if notes is not None:
            lines += [inner + c.text for c in notes.leading.get(path, ())]
        line = inner + prefix + _render(child, len(inner) + len(prefix), inner, notes) + ","
        trailing = notes.trailing.get(path) if notes is not None else None
        if trailing and not isinstance(child, str) and "\n" in line:
            # an item broken over lines: its comment stays after its opening bracket
            first, rest = line.split("\n", 1)
            lines.append(f"{first}  {trailing}\n{rest}")
        else:
            lines.append(line + ("  " + trailing if trailing else ""))
    lines.append(indent + close)
    return "\n".join(lines)


def _field_node(model: type[BaseModel], key: str, value: Any, path: str | None = None) -> _Node:
    """How field ``key`` of ``model`` is printed: parts (``providers: [{ id: ... }]``)
    become groups that break when too wide, with bare keys and CEL written inline; other
    fields print on one line, as they always have."""
    path = path or key
    nested = part_of(model, key)
    if nested is None:
        return _field_value(model, key, value)
    part, is_list = nested
    if is_list:
        return ("[", [("", _part_node(part, item, f"{path}.{i}"), f"{path}.{i}")
                      for i, item in enumerate(value)], "]")
    return _part_node(part, value, path)


def _part_node(part: type[BaseModel], value: BaseModel, path: str) -> _Node:
    items = []
    for key, item in value:
        if item is None:
            continue
        at = f"{path}.{key}"
        kind = field_kind(part, key)
        if part_of(part, key) is not None:
            node = _field_node(part, key, item, at)
        elif kind == "cel_list":
            node = ("[", [("", text, f"{at}.{i}") for i, text in enumerate(item)], "]")
        elif kind == "cel":
            node = item
        else:
            node = _data_node(item, at)
        items.append((f"{key}: ", node, at))
    return ("{", items, "}")


def _data_node(value: Any, path: str) -> _Node:
    if isinstance(value, (list, tuple)):
        return ("[", [("", _data_node(v, f"{path}.{i}"), f"{path}.{i}")
                      for i, v in enumerate(value)], "]")
    if isinstance(value, dict):
        return ("{", [(f"{print_string(str(k))}: ", _data_node(v, f"{path}.{k}"), f"{path}.{k}")
                      for k, v in value.items()], "}")
    return print_value(value)


def _shorthand(type_name: str, written: dict[str, Any]) -> str | None:
    if type_name == "allow" and not written:
        return "allow"
    if type_name == "deny" and set(written) <= {"status_code", "message"}:
        if "message" in written and "status_code" not in written:
            return None
        parts = ["deny"]
        if "status_code" in written:
            parts.append(str(written["status_code"]))
        if "message" in written:
            parts.append(print_string(written["message"]))
        return " ".join(parts)
    if type_name == "set-model" and set(written) == {"model"}:
        return f"set-model {print_string(written['model'])}"
    return None


def _field_value(config: type[BaseModel], key: str, value: Any) -> str:
    kind = field_kind(config, key)
    if kind == "cel":
        return str(value)
    if kind == "cel_list":
        return "[" + ", ".join(value) + "]"
    if kind == "duration":
        if isinstance(value, str) and _BARE_DURATION.match(value):
            return value
        return print_string(value) if isinstance(value, str) else print_value(value)
    if key == "warn_at" and isinstance(value, float):
        return _percentage(value) or print_value(value)
    return print_value(value, top=True)


def _percentage(value: float) -> str | None:
    """``80%`` for 0.8, when reading the percentage back gives exactly the same float."""
    scaled = round(value * 100)
    if 0 < scaled < 100 and scaled / 100 == value:
        return f"{scaled}%"
    return None


def print_value(value: Any, *, top: bool = False) -> str:
    """A constant value as a CEL literal; ``top`` allows the DSL's ``200_000`` numbers."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if top and value >= 10_000:
            return f"{value:_}"
        return str(value)
    if isinstance(value, float):
        return _print_float(value)
    if isinstance(value, str):
        return print_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(print_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{print_string(str(k))}: {print_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot print a value of type {type(value).__name__} as DSL")


def _print_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        # CEL has no literal for these; a call keeps the text readable and the formatter's
        # self-check reports that the meaning would change.
        return f'double("{value}")'
    return repr(value)


def print_string(text: str) -> str:
    """A CEL double-quoted string literal whose value is ``text``."""
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)

