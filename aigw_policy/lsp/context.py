"""Where the cursor is, read from the text alone (a document being typed rarely parses):
in a CEL name, in a `limits["` key, at a statement of a rule, or at a key or value of an
action's config (and which action, and how deep). One reader per surface form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..ir.actions import ACTIONS

__all__ = ["Context", "context_at", "word_at"]

Slot = Literal["top", "phase", "rule", "action", "key", "value", "type", "other"]
"""``top``: a document setting or phase; ``phase``: a rule; ``rule``: a statement of a rule
(an action, `when`) or a rule's key (YAML); ``action``: an action item's key (YAML);
``key``/``value``: a key or value of an action's config; ``type``: the action type (YAML)."""

_CEL_NAME = re.compile(r"[A-Za-z_][\w.]*$")
_LIMIT_KEY = re.compile(r"""limits\s*\[\s*(["'])([^"'\n]*)$""")
_KEY_VALUE = re.compile(r"""^\s*(?:-\s+)?["']?([\w-]+)["']?\s*:\s*(.*)$""")
_BARE = re.compile(r"""^\s*(?:-\s+)?["']?[\w-]*$""")


@dataclass(frozen=True, slots=True)
class Context:
    slot: Slot
    prefix: str
    """The word typed before the cursor (a dotted CEL name, a key, an action name)."""
    action: str | None = None
    path: tuple[str, ...] = ()
    """Config keys from the action's config down to the object the cursor is in."""
    key: str | None = None
    """For ``value``: the key whose value it is."""
    limit_prefix: str | None = None
    """Inside ``limits["...``: what is typed of the name."""
    cel_prefix: str | None = None
    """A dotted name being typed (``ai.mo``), when the cursor may be in CEL."""


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
    line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    line = text[line_start:offset]
    limit = _LIMIT_KEY.search(line)
    cel = _CEL_NAME.search(line)
    extra = {
        "limit_prefix": limit.group(2) if limit else None,
        "cel_prefix": cel.group() if cel and not limit else None,
    }
    context = _dsl(text, offset, line_start) if dsl else _yaml(text, offset, line_start)
    return Context(**{**context, **extra})


# -- the DSL: braces ---------------------------------------------------------------------

def _frames(text: str, end: int) -> list[tuple[str, str, int]]:
    """The open brackets before ``end``: (bracket, the words before it, its offset), strings
    and comments skipped."""
    stack: list[tuple[str, str, int]] = []
    i, boundary = 0, 0
    while i < end:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < end and text[j] not in (c, "\n"):
                j += 2 if text[j] == "\\" else 1
            if j >= end:
                break  # the cursor is inside this string
            i = j + 1 if text[j] == c else j
            continue
        if c == "#" or text.startswith("//", i):
            newline = text.find("\n", i)
            i = end if newline == -1 else newline
            continue
        if c in "{[(":
            stack.append((c, text[boundary:i].strip(), i))
            boundary = i + 1
        elif c in "}])":
            if stack:
                stack.pop()
            boundary = i + 1
        elif c in ",\n;":
            boundary = i + 1
        i += 1
    return stack


def _dsl(text: str, offset: int, line_start: int) -> dict[str, object]:
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
    bare = _BARE.match(segment)
    prefix = re.search(r"[\w-]*$", segment).group()  # type: ignore[union-attr]
    innermost = kinds[-1] if kinds else "other"
    if action is not None:
        kv = _KEY_VALUE.match(segment)
        if kv and innermost == "config":
            return {"slot": "value", "prefix": kv.group(2), "action": action, "path": tuple(path), "key": kv.group(1)}
        slot = "key" if bare and innermost == "config" else "other"
        return {"slot": slot, "prefix": prefix, "action": action, "path": tuple(path)}
    slot = {"policy": "top", "on": "phase", "rule": "rule"}.get(innermost, "other") if bare else "other"
    shorthand = re.match(r"\s*([a-z][a-z0-9-]*)\s", segment)
    if innermost == "rule" and shorthand and shorthand.group(1) in ACTIONS:
        return {"slot": "other", "prefix": prefix, "action": shorthand.group(1)}
    return {"slot": slot, "prefix": prefix}


# -- YAML: indentation -------------------------------------------------------------------

_LINE = re.compile(r"^(\s*)(-\s+)?(?:[\"']?([\w.-]+)[\"']?\s*:(?:\s|$))?")


def _parents(lines: list[str], indent: int) -> list[tuple[str | None, int, int]]:
    """Walking up from the end of ``lines``: each line less indented than what came before
    (key or None for a bare list item, its key's indent, its line index)."""
    out: list[tuple[str | None, int, int]] = []
    for index in range(len(lines) - 1, -1, -1):
        raw = lines[index]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _LINE.match(raw)
        lead = len(m.group(1))  # type: ignore[union-attr]
        key_indent = lead + len(m.group(2) or "")  # type: ignore[union-attr]
        if key_indent < indent:
            out.append((m.group(3), key_indent, index))  # type: ignore[union-attr]
            indent = key_indent
        if m.group(2) and lead < indent:  # type: ignore[union-attr]
            out.append(("-", lead, index))
            indent = lead
        if indent == 0:
            break
    return out


def _item_type(lines: list[str], config_line: int, indent: int) -> str | None:
    """The `type:` beside the `config:` of ``config_line`` (key column ``indent``): the
    keys at that column of the same list item."""
    def key_of(raw: str) -> tuple[int, bool, str | None]:
        m = _LINE.match(raw)
        lead = len(m.group(1))  # type: ignore[union-attr]
        return lead + len(m.group(2) or ""), bool(m.group(2)), m.group(3)  # type: ignore[union-attr]

    def type_of(raw: str) -> str | None:
        m = re.search(r"type\s*:\s*[\"']?([\w-]+)", raw)
        return m.group(1) if m else None

    for index in range(config_line, -1, -1):  # up to the item's dash
        if not lines[index].strip() or lines[index].lstrip().startswith("#"):
            continue
        column, dash, key = key_of(lines[index])
        if column < indent:
            break
        if column == indent and key == "type":
            return type_of(lines[index])
        if column == indent and dash:
            break
    for index in range(config_line + 1, len(lines)):  # down to the next item
        if not lines[index].strip() or lines[index].lstrip().startswith("#"):
            continue
        column, dash, key = key_of(lines[index])
        if column < indent or (column == indent and dash):
            break
        if column == indent and key == "type":
            return type_of(lines[index])
    return None


def _yaml(text: str, offset: int, line_start: int) -> dict[str, object]:
    before = text[:line_start].splitlines()
    line = text[line_start:offset]
    flow = line.rfind("{")
    head, segment = (line[:flow], line[flow + 1:].rsplit(",", 1)[-1]) if flow != -1 else (line, line)
    m = _LINE.match(line)
    indent = len(m.group(1)) + len(m.group(2) or "")  # type: ignore[union-attr]
    parents = _parents(before, indent)
    keys = [k for k, _, _ in reversed(parents)]
    if flow != -1:
        inline = re.findall(r"""["']?([\w-]+)["']?\s*:\s*(?=\{|$)""", head.strip())
        keys += inline[-1:] if inline else []
    kv = _KEY_VALUE.match(segment)
    bare = _BARE.match(segment)
    prefix = re.search(r"[\w-]*$", segment).group()  # type: ignore[union-attr]
    slot_key = bool(bare)
    value_key = kv.group(1) if kv else None
    if "config" in keys:
        at = len(keys) - 1 - keys[::-1].index("config")
        config_line = next((i for k, _, i in reversed(parents) if k == "config"), None)
        config_indent = next((ind for k, ind, _ in reversed(parents) if k == "config"), 0)
        action = (_item_type(text.splitlines(), config_line, config_indent) if config_line is not None
                  else _inline_type(line))
        path = tuple(k for k in keys[at + 1:] if k not in (None, "-"))
        if value_key is not None:
            return {"slot": "value", "prefix": kv.group(2), "action": action, "path": path, "key": value_key}  # type: ignore[union-attr]
        return {"slot": "key" if slot_key else "other", "prefix": prefix, "action": action, "path": path}
    if value_key == "type" and keys[-1:] in (["-"], ["actions"]) or value_key == "type" and "actions" in keys:
        return {"slot": "type", "prefix": kv.group(2)}  # type: ignore[union-attr]
    if value_key is not None:
        return {"slot": "other", "prefix": prefix}
    named = [k for k in keys if k not in (None, "-")]
    if not named:
        slot = "top"
    elif named[-1] == "actions":
        slot = "action"
    elif named[-1] in ("on_http_request", "on_http_response"):
        slot = "rule"
    else:
        slot = "other"
    return {"slot": slot if slot_key else "other", "prefix": prefix}


def _inline_type(line: str) -> str | None:
    m = re.search(r"type\s*:\s*[\"']?([\w-]+)", line)
    return m.group(1) if m else None
