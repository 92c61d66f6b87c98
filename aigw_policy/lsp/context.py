"""Where the cursor is, read from the text alone (a document being typed rarely parses):
in a CEL name, in a `limits["` key, at a statement of a rule, or at a key or value of an
action's config (and which action, and how deep). One reader per surface form."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from ..ir.actions import ACTIONS
from ..source import line_end, line_start, split_lines
from ..syntax.dsl import PHASE_WORDS

__all__ = ["Context", "context_at", "word_at"]

Slot = Literal["top", "phase", "rule", "action", "key", "value", "type", "other"]
"""``top``: a document setting or phase; ``phase``: a rule; ``rule``: a statement of a rule
(an action, `when`) or a rule's key (YAML); ``action``: an action item's key (YAML);
``key``/``value``: a key or value of an action's config; ``type``: the action type (YAML)."""

_CEL_NAME = re.compile(r"[A-Za-z_][\w.]*$")
_LIMIT_KEY = re.compile(r"""limits\s*\[\s*(["'])([^"'\r\n]*)$""")
_LIMIT_FIELD = re.compile(r"""limits\s*\[\s*(["'])[^"'\r\n]*\1\s*\]\s*\.\s*\w*$""")
_KEY_VALUE = re.compile(r"""^\s*(?:-\s+)?["']?([\w-]+)["']?\s*:\s*(.*)$""")
_BARE = re.compile(r"""^\s*(?:-\s+)?["']?[\w-]*$""")


@dataclass(frozen=True, slots=True)
class Context:
    slot: Slot
    action: str | None = None
    path: tuple[str, ...] = ()
    """Config keys from the action's config down to the object the cursor is in."""
    key: str | None = None
    """For ``value``: the key whose value it is."""
    limit_prefix: str | None = None
    """Inside ``limits["...``: what is typed of the name."""
    cel_prefix: str | None = None
    """A dotted name being typed (``ai.mo``), when the cursor may be in CEL."""
    limit_field: bool = False
    """After ``limits["NAME"].``: a field of a limit's state."""
    phase: str | None = None
    """The phase of the rule the cursor is in (``on_http_request``, ...), if known."""
    quoted: bool = False
    """A key typed inside quotes (JSON's `"na|"`): completed without the `: ` after it."""


def word_at(text: str, offset: int, chars: str = r"[\w.-]") -> tuple[int, int]:
    """The span of the word (of ``chars``) around ``offset``."""
    pattern = re.compile(chars)
    start = offset
    while start > 0 and pattern.match(text[start - 1]):
        start -= 1
    end = offset
    while end < len(text) and pattern.match(text[end]):
        end += 1
    return start, end


def context_at(text: str, offset: int, dsl: bool) -> Context:
    offset = max(0, min(offset, len(text)))
    begins = line_start(text, offset)
    line = text[begins:offset]
    limit = _LIMIT_KEY.search(line)
    cel = _CEL_NAME.search(line)
    context, phase = (_dsl(text, offset, begins), _dsl_phase(text, offset)) if dsl else \
        (_yaml(text, offset, begins), _yaml_phase(text, begins))
    return replace(context, phase=context.phase or phase, limit_prefix=limit.group(2) if limit else None,
                   cel_prefix=cel.group() if cel and not limit else None,
                   limit_field=_LIMIT_FIELD.search(line) is not None)


# -- the DSL: braces ---------------------------------------------------------------------

_DSL_SLOTS: dict[str, Slot] = {"policy": "top", "on": "phase", "rule": "rule"}

def _frames(text: str, end: int) -> list[tuple[str, str, int]]:
    """The open brackets before ``end``: (bracket, the words before it, its offset), strings
    and comments skipped."""
    stack: list[tuple[str, str, int]] = []
    i, boundary = 0, 0
    while i < end:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < end and text[j] != c and text[j] not in "\r\n":
                j += 2 if text[j] == "\\" else 1
            if j >= end:
                break  # the cursor is inside this string
            i = j + 1 if text[j] == c else j
            continue
        if c == "#" or text.startswith("//", i):
            i = min(end, line_end(text, i))
            continue
        if c in "{[(":
            stack.append((c, text[boundary:i].strip(), i))
            boundary = i + 1
        elif c in "}])":
            if stack:
                stack.pop()
            boundary = i + 1
        elif c in ",\r\n;":
            boundary = i + 1
        i += 1
    return stack


def _dsl_phase(text: str, offset: int) -> str | None:
    """``on request {`` / ``on response {`` around the cursor: its phase."""
    for bracket, head, _ in _frames(text, offset):
        words = head.split()
        if bracket == "{" and len(words) == 2 and words[0] == "on":
            return PHASE_WORDS.get(words[1])
    return None


def _dsl(text: str, offset: int, line_start: int) -> Context:
    frames = _frames(text, offset)
    action: str | None = None
    path: list[str] = []
    kinds: list[str] = []  # one per frame
    for bracket, head, _ in frames:
        word = head.split()[0] if head.split() else ""
        kind = "other"
        if action is None and bracket == "{" and word in ("policy", "on", "rule"):
            kind = word
        elif action is None and bracket == "{" and kinds[-1:] == ["rule"] and re.fullmatch(r"[a-z][a-z0-9-]*", word):
            action, kind = word, "config"
        elif action is not None:
            key = re.match(r"""^["']?([\w-]+)["']?\s*:""", head)
            if key:
                path.append(key.group(1))
            kind = "config" if bracket == "{" else "other"
        kinds.append(kind)
    inner = max((pos for _, _, pos in frames), default=-1)
    segment = text[max(line_start, inner + 1):offset]
    segment = segment.rsplit(",", 1)[-1]
    bare = _BARE.match(segment) is not None
    innermost = kinds[-1] if kinds else "other"
    if action is not None:
        kv = _KEY_VALUE.match(segment)
        if kv and innermost == "config":
            return Context(slot="value", action=action, path=tuple(path), key=kv.group(1))
        slot: Slot = "key" if bare and innermost == "config" else "other"
        return Context(slot=slot, action=action, path=tuple(path))
    slot = _DSL_SLOTS.get(innermost, "other") if bare else "other"
    shorthand = re.match(r"\s*([a-z][a-z0-9-]*)\s", segment)
    if innermost == "rule" and shorthand and shorthand.group(1) in ACTIONS:
        return Context(slot="other", action=shorthand.group(1))
    return Context(slot=slot)


# -- YAML: indentation -------------------------------------------------------------------

_LINE = re.compile(r"^(\s*)(-\s+)?(?:[\"']?([\w.-]+)[\"']?\s*:(?:\s|$))?")


def _shape(raw: str) -> tuple[int, int, str | None]:
    """A YAML line's indent, the column of its key (past a `- `), and its key."""
    m = _LINE.match(raw)
    assert m is not None  # every part of the pattern is optional
    lead = len(m.group(1))
    return lead, lead + len(m.group(2) or ""), m.group(3)


def _blank(raw: str) -> bool:
    return not raw.strip() or raw.lstrip().startswith("#")


def _parents(lines: list[str], indent: int) -> list[tuple[str | None, int, int]]:
    """Walking up from the end of ``lines``, innermost first: each line less indented than
    what came before (its key, ``-`` for the list item it opens, or None; the key's column;
    the line's index)."""
    out: list[tuple[str | None, int, int]] = []
    for index in range(len(lines) - 1, -1, -1):
        if _blank(lines[index]):
            continue
        lead, column, key = _shape(lines[index])
        if column < indent:
            out.append((key, column, index))
            indent = column
        if lead < indent:  # a `- ` item
            out.append(("-", lead, index))
            indent = lead
        if indent == 0:
            break
    return out


def _item_type(lines: list[str], config_line: int, column: int) -> str | None:
    """The `type:` beside the `config:` of ``config_line`` (key column ``column``): the keys
    at that column of the same list item, above it up to the item's dash or below it."""
    for index in range(config_line, -1, -1):
        if _blank(lines[index]):
            continue
        lead, at, key = _shape(lines[index])
        if at == column and key == "type":
            return _type_value(lines[index])
        if at < column or lead < at:  # out of the item, or its first line (the dash)
            break
    for index in range(config_line + 1, len(lines)):
        if _blank(lines[index]):
            continue
        lead, at, key = _shape(lines[index])
        if at < column or (at == column and lead < at):  # out of the item, or the next one
            break
        if at == column and key == "type":
            return _type_value(lines[index])
    return None


def _type_value(line: str) -> str | None:
    m = re.search(r"type[\"']?\s*:\s*[\"']?([\w-]+)", line)
    return m.group(1) if m else None


def _yaml_phase(text: str, line_start: int) -> str | None:
    """The last top-level ``on_*:`` key before the cursor's line: its phase."""
    found = _YAML_PHASE.findall(text, 0, line_start)
    return found[-1] if found else None


_YAML_PHASE = re.compile(r"""(?:^|(?<=\r))["']?(on_tcp_connect|on_http_request|on_http_response)["']?\s*:""", re.M)


def _yaml(text: str, offset: int, line_start: int) -> Context:
    frames = _flow_frames(text, offset)
    if frames:
        return _flow(text, offset, frames)
    line = text[line_start:offset]
    parents = _parents(split_lines(text[:line_start]), _shape(line)[1])
    keys = [k for k, _, _ in reversed(parents)]  # outermost first
    kv = _KEY_VALUE.match(line)
    bare = _BARE.match(line) is not None
    if "config" in keys:
        at = len(keys) - 1 - keys[::-1].index("config")
        config = next(((column, index) for k, column, index in parents if k == "config"), None)
        action = (_item_type(split_lines(text), config[1], config[0]) if config is not None
                  else _type_value(line))
        path = tuple(k for k in keys[at + 1:] if k not in (None, "-"))
        return _in_config(action, path, kv, bare)
    return _outside_config(keys, kv, bare)


def _in_config(action: str | None, path: tuple[str, ...], kv: re.Match[str] | None, bare: bool,
               quoted: bool = False) -> Context:
    if kv is not None:
        return Context(slot="value", action=action, path=path, key=kv.group(1))
    return Context(slot="key" if bare else "other", action=action, path=path, quoted=quoted)


def _outside_config(keys: list[str | None], kv: re.Match[str] | None, bare: bool, quoted: bool = False) -> Context:
    if kv is not None:
        return Context(slot="type" if kv.group(1) == "type" and "actions" in keys else "other")
    named = [k for k in keys if k not in (None, "-")]
    slot: Slot = "other"
    if not named:
        slot = "top"
    elif named[-1] == "actions":
        slot = "action"
    elif named[-1] in ("on_http_request", "on_http_response"):
        slot = "rule"
    return Context(slot=slot if bare else "other", quoted=quoted)


# -- YAML's flow style (JSON among its spellings): brackets -------------------------------

_FLOW_KEY = re.compile(r"""["']?([\w-]+)["']?\s*:\s*$""")


def _flow_frames(text: str, end: int) -> list[tuple[str, str, int]]:
    """The flow collections open before ``end``, as :func:`_frames` gives the DSL's: a `[` or
    `{` opens one where YAML starts a value (after `:`, `-`, `,` or an opening bracket, or at
    the start of a line), and inside one; a quote starts a string, `#` after a space a
    comment. Strings end at their line's end (a half-typed one is not read past it)."""
    stack: list[tuple[str, str, int]] = []
    i, boundary = 0, 0
    while i < end:
        c = text[i]
        if c in "\"'" and (i == 0 or text[i - 1] in " \t\r\n[{,:"):
            j = i + 1
            while j < end and text[j] not in "\r\n" and not (text[j] == c and not (c == "'" and text[j + 1:j + 2] == "'")):
                j += 2 if (text[j] == "\\" and c == '"') or (c == "'" and text[j:j + 2] == "''") else 1
            if j >= end:
                break  # the cursor is inside this string
            i = j + 1 if text[j] == c else j
            continue
        if c == "#" and (i == 0 or text[i - 1] in " \t\r\n"):
            i = min(end, line_end(text, i))
            continue
        if c in "{[" and _opens(stack, before := text[boundary:i].strip()):
            stack.append((c, before, i))
            boundary = i + 1
        elif c in "}]" and stack:
            stack.pop()
            boundary = i + 1
        elif c in ",\r\n":
            boundary = i + 1
        i += 1
    return stack


def _opens(stack: list[tuple[str, str, int]], before: str) -> bool:
    """Whether a bracket after ``before`` starts a flow collection (in block style, only where
    a value starts: `key: {`, `- [`; inside a plain text it is a character of it)."""
    return bool(stack) or before in ("", "-") or before.endswith((":", "-"))


def _flow(text: str, offset: int, frames: list[tuple[str, str, int]]) -> Context:
    """The place of the cursor inside flow collections: its keys from the document's top (in
    block style above the outermost collection, then each collection's), the action whose
    config it is in (its `type` a key of the same mapping, or of the block-style item), and
    the phase (a phase key among them, for JSON's one-line documents)."""
    first = frames[0][2]
    begins = line_start(text, first)
    lines = [*split_lines(text[:begins]), text[begins:first]]
    lead, column, key = _shape(lines[-1])
    parents = _parents(lines[:-1], column if key or lead < column else lead + 1)
    keys: list[str | None] = [k for k, _, _ in reversed(parents)]
    keys += ["-"] * (lead < column) + [key]
    owners: list[int | None] = [None] * len(keys)  # the frame a key is written in (None: block style)
    for index, (_, before, _) in enumerate(frames[1:]):
        found = _FLOW_KEY.search(before)
        keys.append(found.group(1) if found else None)
        owners.append(index)
    phase = next((k for k in reversed(keys) if k in _PHASES), None)
    segment = text[frames[-1][2] + 1:offset].rsplit(",", 1)[-1]
    kv = _KEY_VALUE.match(segment)
    bare = _BARE.match(segment) is not None
    quoted = segment.strip()[:1] in ("'", '"') and kv is None
    if "config" not in keys:
        return replace(_outside_config(keys, kv, bare, quoted), phase=phase)
    at = len(keys) - 1 - keys[::-1].index("config")
    owner = owners[at]
    if owner is not None:
        action = _type_value(_top_level(text, frames[owner][2])) if frames[owner][0] == "{" else None
    else:
        above = next(((index, col) for k, col, index in parents if k == "config"), None)
        index, col = (len(lines) - 1, column) if key == "config" or above is None else above
        action = _item_type(split_lines(text), index, col)
    path = tuple(k for k in keys[at + 1:] if k not in (None, "-"))
    return replace(_in_config(action, path, kv, bare, quoted), phase=phase)


_PHASES = ("on_tcp_connect", "on_http_request", "on_http_response")


def _top_level(text: str, start: int) -> str:
    """The text of the flow mapping opening at ``start`` without its nested collections."""
    out: list[str] = []
    depth = 0
    for c in text[start + 1:]:
        if c in "{[":
            depth += 1
        elif c in "}]":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)
