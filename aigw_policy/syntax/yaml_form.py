"""The YAML/JSON surface form (ngrok Traffic Policy shape plus our extensions), both ways.

Reading is two stages, both collecting diagnostics instead of raising:

1. ``text -> tree``: PyYAML's parser and composer (pure Python, so the depth can be capped)
   give nodes with marks; :class:`_Lower` turns them into small ``_Scalar``/``_Seq``/``_Map``
   values with spans, checking duplicate keys, tags, nesting depth and alias expansion.
2. ``tree -> IR``: :class:`_Reader` checks the document shape (top-level keys, phases,
   rules, actions) and hands each action config, lowered to :mod:`aigw_policy.ir.raw`
   trees, to the shared builder :func:`aigw_policy.ir.build.build_action`.

Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 defaults: ``yes``, ``no``,
``on``, ``off``, ``y``, ``n`` and dates stay strings; booleans are only ``true``/``false``
(any case as the core schema allows); ``0o17`` and ``0x1f`` are integers and ``017`` is
decimal 17; ``1e3`` is a float; merge keys (``<<``) are ordinary keys. Mapping keys are
always strings: the key ``200:`` is the string ``"200"``.

Writing (:func:`dump_data`, :func:`dump_yaml`, :func:`dump_json`) prints only what the author
wrote, in a stable key order, and reads back to an equal IR.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import Node as YamlNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..analysis.cel_check import check_rule
from ..diagnostics import Diagnostics, did_you_mean
from ..ir.actions import ACTIONS, ActionConfig, field_kind
from ..ir.build import build_action, choice_help
from ..ir.nodes import PHASES, SETTINGS, Action, Expr, Policy, Rule
from ..ir.raw import RawList, RawMap, RawScalar, RawValue, kind_of
from ..source import Source, Span

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_CHARS",
    "MAX_NODES",
    "dump_data",
    "dump_json",
    "dump_yaml",
    "read_json",
    "read_yaml",
]

MAX_INPUT_CHARS = 4_000_000  # a 10,000-rule policy (SPEC §9) with room; reading stays linear
"""Longer documents are refused (AIGW008) before parsing."""
MAX_DEPTH = 64
"""Deeper nesting of lists and mappings is refused (AIGW008)."""
MAX_NODES = 500_000  # a 10,000-rule policy has ~150,000
"""More nodes, counting every expansion of an alias, are refused (AIGW008)."""

TOP_KEYS = ("name", *SETTINGS, "on_http_request", "on_http_response")
RULE_KEYS = ("name", "expressions", "on_error", "actions")
ACTION_KEYS = ("type", "config")
UNSUPPORTED_PHASES = ("on_tcp_connect",)

from .yaml_schema import _BOOL, _CORE, _FLOAT, _INT, _MAP, _NULL, _SEQ, _STR  # noqa: E402


class _CoreResolver(BaseResolver):
    """Resolves plain scalars by the YAML 1.2 core schema."""


for _tag, _pattern, _first in _CORE:
    _CoreResolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__("too deep")
        self.mark = mark


class _Loader(Reader, Scanner, Parser, Composer, _CoreResolver):
    """PyYAML's composer with a depth cap, so deep input never reaches RecursionError."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# ---------------------------------------------------------------------------------------
# stage 1: text -> tree with spans


@dataclass(slots=True)
class _Scalar:
    value: Any
    text: str
    span: Span
    content: Span
    """The span of the value's own text: inside the quotes of a one-line quoted scalar."""


@dataclass(slots=True)
class _Seq:
    items: list[Any]
    span: Span


@dataclass(slots=True)
class _Map:
    items: list[tuple[str, Span, Any]]
    span: Span

    def get(self, key: str) -> Any:
        for k, _, v in self.items:
            if k == key:
                return v
        return None


_Tree = _Scalar | _Seq | _Map


class _TooBig(Exception):
    def __init__(self, span: Span, why: str) -> None:
        super().__init__(why)
        self.span = span
        self.why = why


def _kind(node: Any) -> str:
    if isinstance(node, _Map):
        return "a mapping"
    if isinstance(node, _Seq):
        return "a list"
    return kind_of(node.value)


class _Lower:
    """YAML nodes -> ``_Tree``: spans, duplicate keys, tags, depth and alias budget."""

    def __init__(self, source: Source, diags: Diagnostics, code: str, *, json_mode: bool) -> None:
        self.source = source
        self.diags = diags
        self.code = code
        self.json_mode = json_mode
        self.budget = MAX_NODES

    def span(self, node: YamlNode) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def tree(self, node: YamlNode, depth: int = 0) -> _Tree:
        self.budget -= 1
        if self.budget < 0:
            raise _TooBig(self.span(node), f"more than {MAX_NODES} values (are aliases "
                          "expanding?)")
        if depth > MAX_DEPTH:
            raise _TooBig(self.span(node), f"nested more than {MAX_DEPTH} levels deep")
        span = self.span(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, span)
        if isinstance(node, SequenceNode):
            self.check_tag(node, _SEQ, span)
            return _Seq([self.tree(item, depth + 1) for item in node.value], span)
        self.check_tag(node, _MAP, span)
        items: list[tuple[str, Span, _Tree]] = []
        seen: dict[str, Span] = {}
        for key_node, value_node in node.value:
            key_span = self.span(key_node)
            if not isinstance(key_node, ScalarNode):
                self.diags.add("AIGW104", "a mapping key must be a string, not "
                               f"{'a list' if isinstance(key_node, SequenceNode) else 'a mapping'}",
                               key_span)
                continue
            self.check_tag(key_node, None, key_span)
            key = key_node.value
            if key in seen:
                first = seen[key]
                self.diags.add(
                    "AIGW013", f"duplicate key `{key}`", key_span,
                    help=f"`{key}` is first written at {first.line}:{first.column}; "
                    "keep one of them",
                )
                continue
            seen[key] = key_span
            items.append((key, key_span, self.tree(value_node, depth + 1)))
        return _Map(items, span)

    def check_tag(self, node: YamlNode, expected: str | None, span: Span) -> bool:
        tag = node.tag
        if tag == expected or (expected is None and tag in _SCALAR_TAGS):
            return True
        if tag in _SCALAR_TAGS or tag in (_SEQ, _MAP):
            what = {_SEQ: "a list", _MAP: "a mapping"}.get(expected or "", "a scalar")
            self.diags.add("AIGW014", f"tag `{_short_tag(tag)}` does not fit {what}", span)
            return False
        self.diags.add(
            "AIGW014", f"unsupported YAML tag `{_short_tag(tag)}`", span,
            help="policies are plain data: strings, numbers, booleans, null, lists and "
            "mappings; remove the tag",
        )
        return False

    def scalar(self, node: ScalarNode, span: Span) -> _Scalar:
        text = node.value
        content = span
        if node.style in ("'", '"') and node.start_mark.line == node.end_mark.line:
            content = self.source.span(span.start + 1, max(span.start + 1, span.end - 1))
        tag = node.tag
        value: Any = text
        if tag == _STR:
            pass
        elif self.json_mode and node.style is None and text in _JSON_CONSTANTS:
            value = _JSON_CONSTANTS[text]
        elif tag in _SCALAR_TAGS:
            try:
                value = _SCALAR_TAGS[tag](text)
            except ValueError:
                self.diags.add("AIGW014", f"`{text}` cannot be read as "
                               f"`{_short_tag(tag)}`", span)
        else:
            self.check_tag(node, None, span)
        return _Scalar(value, text, span, content)


def _to_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


def _to_null(text: str) -> None:
    if text not in ("~", "null", "Null", "NULL", ""):
        raise ValueError(text)
    return None


_SCALAR_TAGS = {_STR: str, _INT: _to_int, _FLOAT: _to_float, _BOOL: _to_bool, _NULL: _to_null}
_JSON_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _plain(tree: _Tree) -> Any:
    if isinstance(tree, _Scalar):
        return tree.value
    if isinstance(tree, _Seq):
        return [_plain(item) for item in tree.items]
    return {k: _plain(v) for k, _, v in tree.items}


def _same(a: Any, b: Any) -> bool:
    """Equality of plain data that tells 1 from 1.0 and True from 1, with NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _compose(source: Source, diags: Diagnostics, *, json_mode: bool) -> _Tree | None:
    text = source.text
    code = "AIGW011" if json_mode else "AIGW010"
    if len(text) > MAX_INPUT_CHARS:
        diags.add("AIGW008", f"the document is longer than {MAX_INPUT_CHARS} characters",
                  source.span(0))
        return None
    data: Any = None
    if json_mode:
        try:
            data = json.loads(text, object_pairs_hook=_first_wins)
        except json.JSONDecodeError as error:
            diags.add(code, error.msg[:1].lower() + error.msg[1:], source.span(error.pos))
            return None
        except RecursionError:
            diags.add("AIGW008", f"the document is nested more than {MAX_DEPTH} levels deep",
                      source.span(0))
            return None
        # Tabs are JSON whitespace but not YAML indentation; in valid JSON they only occur
        # between tokens (raw tabs in strings are invalid), and one-for-one keeps offsets.
        text = text.replace("\t", " ")
    before = len(diags)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        tree = None if node is None else _Lower(source, diags, code, json_mode=json_mode).tree(node)
    except _TooDeep as error:
        diags.add("AIGW008", f"the document is nested more than {MAX_DEPTH} levels deep",
                  source.span(error.mark.index))
        return None
    except _TooBig as error:
        diags.add("AIGW008", f"the document is too large: {error.why}", error.span)
        return None
    except RecursionError:
        diags.add("AIGW008", f"the document is nested more than {MAX_DEPTH} levels deep",
                  source.span(0))
        return None
    except yaml.MarkedYAMLError as error:
        if json_mode:
            return _from_json(source, data)
        mark = error.problem_mark or error.context_mark
        if error.context_mark and (
            (error.context or "").startswith(_CONTEXT_FIRST)
            or "<stream end>" in (error.problem or "")
            or "end of stream" in (error.problem or "")
        ):
            mark = error.context_mark  # point where the key, string or bracket started
        diags.add(code, _yaml_message(error), source.span(mark.index if mark else 0))
        return None
    except yaml.reader.ReaderError as error:
        if json_mode:
            return _from_json(source, data)
        char = error.character
        what = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        diags.add("AIGW007", f"unreadable character {what}: special characters are not allowed",
                  source.span(max(0, error.position)),
                  help="escape it in a double-quoted string, as in `\\u0007`")
        return None
    except Exception as error:  # noqa: BLE001 - PyYAML may raise anything on odd input
        if json_mode:
            return _from_json(source, data)
        diags.add(code, f"cannot read the document: {error}", source.span(0))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if json_mode and (tree is None or not _same(_plain(tree), data)):
        # PyYAML reads a few valid JSON documents differently (odd line separators in
        # strings); trust the JSON parser then, at the cost of precise spans.
        del diags.items[before:]
        return _from_json(source, data)
    if tree is None:
        diags.add("AIGW012", "the document is empty", source.span(0),
                  help="a policy is a mapping with `on_http_request` and/or `on_http_response`")
    return tree


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _from_json(source: Source, data: Any) -> _Tree:
    """A tree from parsed JSON data, every span at the start of the document."""
    span = source.span(0)

    def tree(value: Any) -> _Tree:
        if isinstance(value, list):
            return _Seq([tree(v) for v in value], span)
        if isinstance(value, dict):
            return _Map([(k, span, tree(v)) for k, v in value.items()], span)
        return _Scalar(value, json.dumps(value) if not isinstance(value, str) else value,
                       span, span)

    return tree(data)


_CONTEXT_FIRST = ("while scanning a simple key", "while scanning a quoted scalar")


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (error.context, error.problem) if p]
    message = ": ".join(parts) if parts else "invalid YAML"
    message = message.replace("\n", " ")
    return message[:1].lower() + message[1:]


# ---------------------------------------------------------------------------------------
# stage 2: tree -> IR


class _Invalid:
    pass


_BAD: Any = _Invalid()


class _Reader:
    def __init__(self, diags: Diagnostics, source: Source) -> None:
        self.diags = diags
        self.source = source

    # the document -------------------------------------------------------------------
    def policy(self, root: _Tree) -> Policy | None:
        if not isinstance(root, _Map):
            self.diags.add("AIGW012", f"a policy document must be a mapping, not {_kind(root)}",
                           root.span,
                           help="write `on_http_request:` and `on_http_response:` at the top level")
            return None
        fields: dict[str, Any] = {}
        wrapper = self.wrapper(root)
        for key, key_span, value in root.items:
            if key == "name":
                fields["name"] = self.string(value, "name")
            elif key in SETTINGS:
                fields[key] = self.choice(value, key, SETTINGS[key])
            elif key in PHASES:
                fields[key] = tuple(self.phase(key, value))
            elif key in UNSUPPORTED_PHASES:
                self.diags.add(
                    "AIGW102", f"unsupported phase `{key}`: its rules are skipped", key_span,
                    help="aigw-policy evaluates HTTP traffic: use `on_http_request` and "
                    "`on_http_response`",
                )
            elif wrapper is not None:
                if wrapper[0] == key:
                    self.diags.add("AIGW100", wrapper[1], key_span, help=wrapper[2])
            else:
                self.diags.add(
                    "AIGW100", f"unknown top-level key `{key}`", key_span,
                    help=did_you_mean(key, TOP_KEYS) or "the top-level keys are "
                    + ", ".join(f"`{k}`" for k in TOP_KEYS),
                )
        fields = {k: v for k, v in fields.items() if v is not _BAD}
        return Policy(span=root.span, **fields)

    def wrapper(self, root: _Map) -> tuple[str, str, str] | None:
        """A document that holds a policy somewhere inside: (first key, message, help)."""
        keys = [k for k, _, _ in root.items]
        if {"apiVersion", "kind", "spec"} & set(keys):
            kind = root.get("kind")
            name = f"`{kind.value}` " if isinstance(kind, _Scalar) and isinstance(
                kind.value, str) else ""
            path = "spec.trafficPolicy.inline"
            spec = root.get("spec")
            holder = spec.get("trafficPolicy") if isinstance(spec, _Map) else None
            if isinstance(holder, _Map):
                for inner in ("inline", "policy"):
                    if holder.get(inner) is not None:
                        path = f"spec.trafficPolicy.{inner}"
                        break
            first = next(k for k in keys if k not in TOP_KEYS and k not in UNSUPPORTED_PHASES)
            return (first, f"this is a Kubernetes {name}resource, not a traffic policy",
                    f"lint the policy under `{path}` as a document of its own")
        if "endpoints" in keys:
            return ("endpoints", "this is an ngrok agent configuration, not a traffic policy",
                    "lint the policy under `endpoints[].traffic_policy` as a document of its own")
        for key in ("traffic_policy", "trafficPolicy", "policy", "inline"):
            if isinstance(root.get(key), _Map):
                return (key, f"the policy is nested under `{key}`",
                        f"move the contents of `{key}` to the top level")
        return None

    # scalars ------------------------------------------------------------------------
    def string(self, node: _Tree, what: str) -> Any:
        if isinstance(node, _Scalar) and isinstance(node.value, str):
            return node.value
        help = None
        if isinstance(node, _Scalar) and node.value is not None:
            help = f'quote it: `"{node.text}"`'
        self.diags.add("AIGW122", f"`{what}` must be a string, not {_kind(node)}", node.span,
                       help=help)
        return _BAD

    def choice(self, node: _Tree, what: str, choices: tuple[str, ...]) -> Any:
        if isinstance(node, _Scalar) and node.value in choices and isinstance(node.value, str):
            return node.value
        written = node.text if isinstance(node, _Scalar) else None
        options = " or ".join(f"`{c}`" for c in choices)
        shown = f"`{written}`" if written else _kind(node)
        self.diags.add("AIGW125", f"`{what}` must be {options}, not {shown}", node.span,
                       help=choice_help(written, choices) if written else None)
        return _BAD

    # phases and rules ---------------------------------------------------------------
    def phase(self, phase: str, node: _Tree) -> list[Rule]:
        if isinstance(node, _Scalar) and node.value is None:
            return []
        if isinstance(node, _Seq):
            rules = [self.rule(item) for item in node.items]
            return [r for r in rules if r is not None]
        self.diags.add(
            "AIGW104", f"`{phase}` must be a list of rules, not {_kind(node)}", node.span,
            help="start each rule with `- `, as in `- name: ...` or `- actions: ...`",
        )
        if isinstance(node, _Map) and any(k in RULE_KEYS for k, _, _ in node.items):
            self.rule(node)  # for its diagnostics
        return []

    def rule(self, node: _Tree) -> Rule | None:
        if not isinstance(node, _Map):
            self.diags.add("AIGW104", f"a rule must be a mapping, not {_kind(node)}", node.span,
                           help="a rule has `name`, `expressions` and `actions`")
            return None
        fields: dict[str, Any] = {}
        actions_written = False
        before = len(self.diags)
        for key, key_span, value in node.items:
            if key == "name":
                fields["name"] = self.string(value, "name")
                fields["name_span"] = value.content if isinstance(value, _Scalar) else value.span
            elif key == "expressions":
                fields["expressions"] = self.expressions(value)
            elif key == "on_error":
                fields["on_error"] = self.choice(value, "on_error", ("deny", "skip"))
            elif key == "actions":
                actions_written = True
                fields["actions"] = self.actions(value, key_span)
            else:
                self.diags.add(
                    "AIGW103", f"unknown rule key `{key}`", key_span,
                    help=did_you_mean(key, RULE_KEYS) or _rule_key_help(key),
                )
        if not actions_written:
            name = fields.get("name")
            label = f"rule `{name}`" if isinstance(name, str) else "this rule"
            self.diags.add("AIGW133", f"{label} has no `actions`", node.span,
                           help="add `actions:` with at least one action, such as "
                           "`- type: deny`")
        fields = {k: v for k, v in fields.items() if v is not _BAD}
        rule = Rule(span=node.span, **fields)
        if any(d.is_error for d in self.diags.items[before:]):
            # A rule that lost a key, a condition or an action must not run, nor stand in
            # the analysis (a dropped `expresions:` would make it "always end the phase");
            # its CEL is still checked, so one error does not hide another.
            self.diags.extend(check_rule(rule, self.source))
            return None
        return rule

    def expr(self, item: _Scalar) -> Expr:
        """The expression as written, without surrounding whitespace (a `|` block scalar
        ends with a newline that is not part of the CEL)."""
        text, span = item.text, item.content
        stripped = text.strip()
        exact = span.end - span.start == len(text) and "\n" not in text
        if stripped != text and exact:
            lead = len(text) - len(text.lstrip())
            start, end = span.start + lead, span.start + lead + len(stripped)
            span = replace(span, start=start, end=end, column=span.column + lead,
                           end_column=span.column + lead + len(stripped))
        return Expr(source=stripped, span=span)

    def expressions(self, node: _Tree) -> Any:
        if isinstance(node, _Scalar) and node.value is None:
            return ()
        if not isinstance(node, _Seq):
            help = None
            if isinstance(node, _Scalar):
                help = "write a list: `expressions: [" + json.dumps(node.text) + "]`"
            self.diags.add("AIGW104", f"`expressions` must be a list of strings, not "
                           f"{_kind(node)}", node.span, help=help)
            return _BAD
        out: list[Expr] = []
        for item in node.items:
            if isinstance(item, _Scalar) and item.value is not None:
                # `- true` is the CEL expression `true`: keep the text as written.
                out.append(self.expr(item))
            else:
                self.diags.add("AIGW122", f"an expression must be a string, not {_kind(item)}",
                               item.span)
        return tuple(out)

    # actions ------------------------------------------------------------------------
    def actions(self, node: _Tree, key_span: Span) -> Any:
        items: list[_Tree]
        if isinstance(node, _Seq):
            items = node.items
        elif isinstance(node, _Map):
            self.diags.add("AIGW104", "`actions` must be a list of actions, not a mapping",
                           node.span, help="start each action with `- `, as in `- type: deny`")
            items = [node] if node.get("type") is not None else []
        elif isinstance(node, _Scalar) and node.value is None:
            items = []
        else:
            self.diags.add("AIGW104", f"`actions` must be a list of actions, not {_kind(node)}",
                           node.span, help="write `actions:` then `- type: ...` items")
            return ()
        if not items:
            if isinstance(node, (_Seq, _Scalar)):
                self.diags.add("AIGW133", "a rule needs at least one action", key_span,
                               help="add an action such as `- type: deny`")
            return ()
        built = [self.action(item) for item in items]
        return tuple(a for a in built if a is not None)

    def action(self, node: _Tree) -> Action | None:
        if not isinstance(node, _Map):
            self.diags.add("AIGW104", f"an action must be a mapping, not {_kind(node)}",
                           node.span, help="an action is `type:` and `config:`")
            return None
        type_node = node.get("type")
        config_node = node.get("config")
        type_name = None
        if type_node is None:
            self.diags.add("AIGW112", "action without a `type`", node.span,
                           help="add `type:` with an action type, such as `deny`")
        else:
            type_name = self.string(type_node, "type")
        model = ACTIONS.get(type_name) if isinstance(type_name, str) else None
        for key, key_span, _ in node.items:
            if key in ACTION_KEYS:
                continue
            help = did_you_mean(key, ACTION_KEYS)
            if model is not None and key in model.model_fields:
                help = f"`{key}` is a config key: move it under `config:`"
            self.diags.add("AIGW113", f"unknown action key `{key}`", key_span,
                           help=help or "an action has `type` and `config`")
        if not isinstance(type_name, str):
            return None
        config: RawValue | None = None
        if config_node is not None and not (isinstance(config_node, _Scalar)
                                            and config_node.value is None):
            config = _config(config_node, model)
        type_span = type_node.content if isinstance(type_node, _Scalar) else None
        return build_action(type_name, config, self.diags, span=node.span, type_span=type_span)


def _rule_key_help(key: str) -> str:
    if key == "type" or key == "config":
        return "put actions in a list under `actions:`"
    return "a rule has `name`, `expressions`, `actions` and `on_error`"


def _raw(tree: _Tree, *, cel: bool = False) -> RawValue:
    """A raw tree. Scalars span their whole text, quotes included, except CEL source
    (``cel``), whose span is the expression text itself, as for rule expressions."""
    if isinstance(tree, _Scalar):
        return RawScalar(tree.value, tree.content if cel else tree.span)
    if isinstance(tree, _Seq):
        return RawList(tuple(_raw(item, cel=cel) for item in tree.items), tree.span)
    return RawMap(
        tuple((k, ks, _raw(v, cel=cel)) for k, ks, v in tree.items),
        tree.span,
        key_spans={k: ks for k, ks, _ in tree.items},
    )


def _config(tree: _Tree, model: type[ActionConfig] | None) -> RawValue:
    if not isinstance(tree, _Map) or model is None:
        return _raw(tree)
    return RawMap(
        tuple(
            (k, ks, _raw(v, cel=k in model.model_fields
                         and field_kind(model, k) in ("cel", "cel_list")))
            for k, ks, v in tree.items
        ),
        tree.span,
        key_spans={k: ks for k, ks, _ in tree.items},
    )


def _read(source: Source, diags: Diagnostics, *, json_mode: bool) -> Policy | None:
    tree = _compose(source, diags, json_mode=json_mode)
    if tree is None:
        return None
    return _Reader(diags, source).policy(tree)


def read_yaml(source: Source, diags: Diagnostics) -> Policy | None:
    """Read a YAML policy document, adding every problem found to ``diags``.

    Never raises. Returns ``None`` when the text is not a readable mapping (syntax errors,
    an empty document, input too large); otherwise a policy holding everything that could be
    built. Rules or actions with errors are left out of it, so use it only when
    ``diags.has_errors`` is false (it is returned anyway so later passes can report more).
    """
    return _read(source, diags, json_mode=False)


def read_json(source: Source, diags: Diagnostics) -> Policy | None:
    """Read a JSON policy document: like :func:`read_yaml`, with JSON syntax (AIGW011)."""
    return _read(source, diags, json_mode=True)


# writing lives in yaml_dump; re-exported so the form has one entry point
from .yaml_dump import dump_data, dump_json, dump_yaml  # noqa: E402
