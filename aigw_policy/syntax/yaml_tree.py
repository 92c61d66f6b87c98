"""YAML/JSON text -> a small tree with spans: the first stage of reading the YAML/JSON form.

libyaml's C parser read as events and composed here without recursion (:mod:`.yaml_events`),
or, when that path cannot vouch for the answer (an error, libyaml absent, a tab), PyYAML's
pure-Python parser and composer (depth-capped, and whose messages are the diagnostics) give
nodes with marks;
:class:`_Lower` turns them into :class:`Scalar` / :class:`Seq` / :class:`Map` values with spans,
checking duplicate keys, tags, nesting depth and alias expansion. Scalars follow the YAML 1.2
core schema (:mod:`.yaml_schema`). JSON documents are read by the standard library and given
the same shape. :mod:`.yaml_form` reads the tree into the IR.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import StreamEndEvent
from yaml.nodes import Node as YamlNode
from yaml.nodes import ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..cel.parser import SURROGATE
from ..diagnostics import Diagnostics
from ..ir.raw import kind_of
from ..source import Source, Span, line_start
from . import yaml_events
from .yaml_schema import _BOOL, _CORE, _FLOAT, _INT, _MAP, _NULL, _SEQ, _STR, go_number

__all__ = ["MAX_DEPTH", "MAX_INPUT_CHARS", "MAX_NODES", "Map", "Scalar", "Seq", "Tree", "compose", "tree_kind"]

MAX_INPUT_CHARS = 4_000_000  # a 10,000-rule policy (SPEC §9) with room; reading stays linear
"""Longer documents are refused (AIGW008) before parsing."""
MAX_DEPTH = 64
"""Deeper nesting of lists and mappings is refused (AIGW008)."""
MAX_NODES = 500_000  # a 10,000-rule policy has ~150,000
"""More nodes, counting every expansion of an alias, are refused (AIGW008)."""



class _CoreResolver(BaseResolver):
    """Resolves plain scalars by the YAML 1.2 core schema, numbers as Go's yaml reads them."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            number = go_number(value)
            if number is not None:
                return _INT if isinstance(number, int) else _FLOAT
        return super().resolve(kind, value, implicit)


for _tag, _pattern, _first in _CORE:
    if _tag == _FLOAT:  # other numbers are go_number's
        _pattern, _first = r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+."
    if _tag != _INT:
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

    def documents(self) -> list[tuple[Any, Any]]:
        """The stream's documents with where each starts: the first, then each later one
        that holds anything (``...`` or ``---`` with nothing, or a null, after it is no
        document, so an editor's or a generator's trailing marker is fine)."""
        self.get_event()  # stream start
        found: list[tuple[Any, Any]] = []
        while not self.check_event(StreamEndEvent):
            start = self.peek_event().start_mark
            node = self.compose_document()
            if not found or not (isinstance(node, ScalarNode) and node.tag == _NULL):
                found.append((node, start))
        self.get_event()  # stream end
        return found

    # Tabs as Go's yaml (libyaml's scanner, which ngrok reads with) takes them: white space
    # between tokens in a flow collection or where no key can start (after `key:`, a scalar
    # or a closing bracket, so before a comment too), and blanks inside a plain scalar. At a
    # line's start and after `-` or `?` a tab would indent, and stays refused. PyYAML's
    # scanner took spaces only.
    def scan_to_next_token(self) -> None:
        if self.index == 0 and self.peek() == "\ufeff":
            self.forward()
        while True:
            while self.peek() == " " or (self.peek() == "\t" and (self.flow_level or not self.allow_simple_key)):
                self.forward()
            if self.peek() == "#":
                while self.peek() not in "\0\r\n\x85\u2028\u2029":
                    self.forward()
            if not self.scan_line_break():
                return
            if not self.flow_level:
                self.allow_simple_key = True

    def scan_plain_spaces(self, indent: int, start_mark: Any) -> Any:
        length = 0
        while self.peek(length) in " \t":
            length += 1
        if length and self.peek(length) not in "\r\n\x85\u2028\u2029":
            blanks = self.prefix(length)
            self.forward(length)
            return [blanks]  # within a line: kept as written
        return super().scan_plain_spaces(indent, start_mark)

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
class Scalar:
    value: Any
    text: str
    span: Span
    content: Span
    """The span of the value's own text: inside the quotes of a one-line quoted scalar."""


@dataclass(slots=True)
class Seq:
    items: list[Any]
    span: Span


@dataclass(slots=True)
class Map:
    items: list[tuple[str, Span, Any]]
    span: Span

    def get(self, key: str) -> Any:
        for k, _, v in self.items:
            if k == key:
                return v
        return None


Tree = Scalar | Seq | Map


class _TooBig(Exception):
    def __init__(self, span: Span, why: str) -> None:
        super().__init__(why)
        self.span = span
        self.why = why


def tree_kind(node: Any) -> str:
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    return kind_of(node.value)


class _Lower:
    """YAML nodes -> ``Tree``: spans, duplicate keys, tags, depth and alias budget."""

    def __init__(self, source: Source, diags: Diagnostics, code: str, *, json_mode: bool) -> None:
        self.source = source
        self.diags = diags
        self.code = code
        self.json_mode = json_mode
        self.budget = MAX_NODES

    def span(self, node: YamlNode) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def tree(self, node: YamlNode, depth: int = 0) -> Tree:
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
            return Seq([self.tree(item, depth + 1) for item in node.value], span)
        self.check_tag(node, _MAP, span)
        items: list[tuple[str, Span, Tree]] = []
        seen: dict[str, Span] = {}
        merged: list[Map] = []
        for key_node, value_node in node.value:
            key_span = self.span(key_node)
            if _is_merge(key_node):
                merged += self.merge_sources(value_node, depth)
                continue
            if not isinstance(key_node, ScalarNode):
                self.diags.add("AIGW104", "a mapping key must be a string, not "
                               f"{'a list' if isinstance(key_node, SequenceNode) else 'a mapping'}",
                               key_span)
                continue
            self.check_tag(key_node, None, key_span)
            key = self.unicode(key_node.value, key_span)
            if key in seen:
                first = seen[key]
                self.diags.add(
                    "AIGW013", f"duplicate key `{key}`", key_span,
                    help=f"`{key}` is first written at {first.line}:{first.column}; "
                    "keep one of them", related=(("first written here", first),),
                )
                continue
            seen[key] = key_span
            items.append((key, key_span, self.tree(value_node, depth + 1)))
        for source in merged:  # written keys win, then the earlier merged mappings
            for key, key_span, value in source.items:
                if key not in seen:
                    seen[key] = key_span
                    items.append((key, key_span, value))
        return Map(items, span)

    def merge_sources(self, node: YamlNode, depth: int) -> list[Map]:
        """The mappings a merge key (``<<: *defaults``, ``<<: [*a, *b]``) merges, as Go's yaml
        (ngrok's reader) merges them; anything else is AIGW104 at it."""
        value = self.tree(node, depth + 1)
        maps: list[Map] = []
        for item in value.items if isinstance(value, Seq) else [value]:
            if not isinstance(item, Map):
                self.diags.add("AIGW104", f"a merge key `<<` takes a mapping or a list of mappings, "
                               f"not {tree_kind(item)}", item.span,
                               help="write `<<: *name` with `&name` on a mapping")
                return []
            maps.append(item)
        return maps

    def check_tag(self, node: YamlNode, expected: str | None, span: Span) -> bool:
        tag = node.tag
        if tag == expected or (expected is None and tag in _SCALAR_TAGS):
            return True
        if tag in _SCALAR_TAGS or tag in (_SEQ, _MAP):
            what = {_SEQ: "a list", _MAP: "a mapping"}.get(expected or "", "a scalar")
            self.diags.add("AIGW014", f"tag `{_short_tag(tag)}` does not fit {what}", span)
            return False
        help = ("policies are plain data: strings, numbers, booleans, null, lists and "
                "mappings; remove the tag")
        if _unquoted_negation(node):
            help = (f"{_TAG_HELP}, as in "
                    f"`- {_quoted(f'{tag} {node.value}'.rstrip())}`")
        self.diags.add("AIGW014", f"unsupported YAML tag `{_short_tag(tag)}`", span, help=help)
        return False

    def unicode(self, text: str, span: Span) -> str:
        """``text``, or, when an escape (`"\\ud800"`) made a lone surrogate of it, AIGW007 at it
        and the text with U+FFFD in its place: no Unicode text holds one (the DSL's strings
        refuse it as AIGW201, raw text as AIGW007), and a check quoting it could not print it."""
        bad = SURROGATE.search(text)
        if bad is None:
            return text
        self.diags.add("AIGW007", f"unreadable character U+{ord(bad.group()):04X}: a lone surrogate is "
                       "not Unicode text", span, help="write the character itself, or its pair of surrogates")
        return SURROGATE.sub("\ufffd", text)

    def scalar(self, node: ScalarNode, span: Span) -> Scalar:
        text = self.unicode(node.value, span)
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
            if _unquoted_negation(node):
                # read on as the expression meant, so it draws no CEL error of its own
                value = text = f"{tag} {text}".rstrip()
        return Scalar(value, text, span, content)


def _is_merge(key: YamlNode) -> bool:
    """A plain ``<<`` key (or one tagged ``!!merge``): quoted, it is an ordinary key."""
    return isinstance(key, ScalarNode) and key.value == "<<" and (
        key.style is None or key.tag == "tag:yaml.org,2002:merge")


def _to_int(text: str) -> int:
    number = go_number(text)
    if isinstance(number, int):
        return number
    raise ValueError(text)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    number = go_number(text)
    if number is None:
        raise ValueError(text)
    return float(number)


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


def _unquoted_negation(node: YamlNode) -> bool:
    """``- !(a in b)``, ``- !hasReqHeader('x')``: a CEL negation written unquoted, which
    YAML reads as a local tag on the rest of the text."""
    tag = node.tag
    return (isinstance(node, ScalarNode) and node.style is None and tag.startswith("!")
            and not tag.startswith("!!")
            and ("(" in tag or "." in tag or node.value.startswith(_CEL_AFTER_NEGATION)))


_CEL_AFTER_NEGATION = ("&&", "||", "==", "!=", "in ", "<", ">", "[")


_TAG_HELP = "a value that starts with `!` is read as a YAML tag: quote the expression"


def _quoted(text: str) -> str:
    """``text`` as a one-line YAML string: single quotes unless it holds one."""
    if "'" not in text:
        return f"'{text}'"
    return json.dumps(text)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _plain(tree: Tree) -> Any:
    if isinstance(tree, Scalar):
        return tree.value
    if isinstance(tree, Seq):
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


POLICY_KINDS = ("CloudEndpoint", "AgentEndpoint", "NgrokTrafficPolicy", "NgrokModuleSet", "TCPEdge",
                "TLSEdge", "HTTPSEdge")
"""The Kubernetes resources of ngrok's operator (and of its ingress controller before it) that
can hold a traffic policy."""


def _kind(node: Any) -> str | None:
    """A Kubernetes resource's ``kind`` (a mapping with ``apiVersion`` and ``kind``), else None."""
    kind = _get(node, "kind")
    if _get(node, "apiVersion") is None or not isinstance(kind, ScalarNode):
        return None
    return str(kind.value)


def _get(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v
    return None


def _inline_policy(node: Any) -> bool:
    """Whether a resource holds a policy itself (``spec.policy``, ``spec.trafficPolicy.policy``
    or ``.inline``, an ``NgrokModuleSet``'s ``modules.policy``), not a reference to one
    (``trafficPolicy.targetRef``, which ngrok's operator attaches over an inline one beside it)."""
    spec = _get(node, "spec")
    holder = _get(spec, "trafficPolicy")
    if _get(holder, "targetRef") is not None:
        holder = None
    if isinstance(_get(node, "policy"), yaml.MappingNode):
        return True  # misplaced beside `spec`: this resource is the one to read (and refuse, saying so)
    routes = _get(spec, "routes")
    routed = [_get(r, "policy") for r in routes.value] if isinstance(routes, yaml.SequenceNode) else []
    return any(isinstance(n, yaml.MappingNode)
               for n in (_get(spec, "policy"), _get(holder, "policy"), _get(holder, "inline"),
                         _get(_get(node, "modules"), "policy"), *routed))


def _named(documents: list[tuple[Any, Any]], kinds: list[str | None], policies: list[int]) -> list[int]:
    """Of a manifest's NgrokTrafficPolicies, those its other resources name, as ngrok's operator
    attaches them: an endpoint's `spec.trafficPolicy.targetRef.name` (or the former
    `spec.trafficPolicyName` without a `trafficPolicy`), an Ingress's or Service's
    `ngrok.com/traffic-policy` annotation (over the former `k8s.ngrok.com/` one; a list is
    refused there), an HTTPRoute's `ExtensionRef` filter."""
    named = set()
    for (node, _), kind in zip(documents, kinds, strict=True):
        spec = _get(node, "spec") if kind in ("CloudEndpoint", "AgentEndpoint") else None
        holder = _get(spec, "trafficPolicy")
        names = [_get(_get(holder, "targetRef"), "name") if holder is not None else _get(spec, "trafficPolicyName")]
        notes = _get(_get(node, "metadata"), "annotations")
        names.append(_get(notes, "ngrok.com/traffic-policy") or _get(notes, "k8s.ngrok.com/traffic-policy"))
        rules = _get(_get(node, "spec"), "rules") if kind == "HTTPRoute" else None
        for rule in rules.value if isinstance(rules, yaml.SequenceNode) else ():
            filters = _get(rule, "filters")
            names += [_get(ref, "name") for f in (filters.value if isinstance(filters, yaml.SequenceNode) else ())
                      if _get(ref := _get(f, "extensionRef"), "kind") is not None
                      and getattr(_get(ref, "kind"), "value", None) == "NgrokTrafficPolicy"]
        named.update(n.value for n in names if isinstance(n, ScalarNode) and "," not in str(n.value))
    return [i for i in policies if isinstance(n := _get(_get(documents[i][0], "metadata"), "name"), ScalarNode)
            and n.value in named]


def _one_policy_resource(documents: list[tuple[Any, Any]], source: Source, diags: Diagnostics) -> Any:
    """In a Kubernetes manifest of several resources (every document one), the one resource
    of ngrok's operator that holds a traffic policy itself, with a warning naming it
    (AIGW105); None when the file is not such a manifest, or has no such resource, or several."""
    kinds = [_kind(node) for node, _ in documents]
    holders = [i for i, kind in enumerate(kinds) if kind in POLICY_KINDS and _inline_policy(documents[i][0])]
    if len(holders) > 1 and all(kinds[i] == "NgrokTrafficPolicy" for i in holders):
        holders = _named(documents, kinds, holders)  # only an NgrokTrafficPolicy an endpoint names runs
    if None in kinds or len(holders) != 1:
        return None
    node = documents[holders[0]][0]
    named = _get(_get(node, "metadata"), "name")
    label = f"`{kinds[holders[0]]}`" + (f" `{named.value}`" if isinstance(named, ScalarNode) else "")
    others = ", ".join(f"`{k}`" for i, k in enumerate(kinds) if i != holders[0])
    diags.add("AIGW105", f"this Kubernetes manifest holds {len(documents)} resources: the "
              f"{label} is read, not {others}", source.span(node.start_mark.index),
              help="the other resources are not checked here")
    return node


def compose(source: Source, diags: Diagnostics, *, json_mode: bool) -> Tree | None:
    text = source.text
    code = "AIGW011" if json_mode else "AIGW010"
    if len(text) > MAX_INPUT_CHARS:
        diags.add("AIGW008", f"the document is longer than {MAX_INPUT_CHARS} characters",
                  source.span(0))
        return None
    data: Any = None
    if json_mode:
        if text.startswith("\ufeff"):  # a BOM (Windows editors write one): read past, as
            text = " " + text[1:]  # ngrok's YAML reader does; one-for-one keeps offsets
        try:
            data = json.loads(text, object_pairs_hook=_first_wins)
        except json.JSONDecodeError as error:
            if text.startswith(("//", "/*"), error.pos):
                diags.add(code, "JSON has no comments: a `//` or `/*` starts no value", source.span(error.pos),
                          help="remove the comment (ngrok's docs print `// snippet` above their JSON "
                          "examples; in YAML, `#` starts a comment)")
                return None
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
        documents = yaml_events.documents(text, _CoreResolver().resolve, MAX_DEPTH)
        if documents is None:
            loader = _Loader(text)
            documents = loader.documents()
        node = documents[0][0] if documents else None
        if len(documents) > 1:
            node = _one_policy_resource(documents, source, diags)
            if node is None:
                diags.add(code, "a policy is one YAML document, and another one starts here",
                          source.span(documents[1][1].index),
                          help="split the file: lint each document on its own (a Kubernetes "
                          "manifest's policy is in its resource's `spec`)")
                node = documents[0][0]
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
            return _from_json(source, data, diags)
        mark = error.problem_mark or error.context_mark
        if error.context_mark and (
            (error.context or "").startswith(_CONTEXT_FIRST)
            or "<stream end>" in (error.problem or "")
            or "end of stream" in (error.problem or "")
        ):
            mark = error.context_mark  # point where the key, string or bracket started
        help = _TAG_HELP if (error.context or "").startswith("while scanning a tag") else None
        message = _yaml_message(error)
        if "found character '\\t'" in (error.problem or "") and mark is not None:
            before = text[line_start(text, mark.index):mark.index].strip()
            if not before:
                message = "a tab indents this line: YAML indents with spaces only"
            elif before[-1] in "-?":
                message = f"a tab after `{before[-1]}` indents what follows: YAML indents with spaces only"
            help = ("replace the tabs with spaces (ngrok's reader and kubectl refuse tabs as YAML "
                    "indentation too)")
        diags.add(code, message, source.span(mark.index if mark else 0), help=help)
        return None
    except yaml.reader.ReaderError as error:
        if json_mode:
            return _from_json(source, data, diags)
        char = error.character
        what = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        diags.add("AIGW007", f"unreadable character {what}: special characters are not allowed",
                  source.span(max(0, error.position)),
                  help="escape it in a double-quoted string, as in `\\u0007`")
        return None
    except Exception as error:  # noqa: BLE001 - PyYAML may raise anything on odd input
        if json_mode:
            return _from_json(source, data, diags)
        diags.add(code, f"cannot read the document: {error}", source.span(0))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if json_mode and (tree is None or not _same(_plain(tree), _unicode(data))):
        # PyYAML reads a few valid JSON documents differently (odd line separators in
        # strings); trust the JSON parser then, at the cost of precise spans.
        del diags.items[before:]
        return _from_json(source, data, diags)
    if tree is None:
        diags.add("AIGW012", "the document is empty", source.span(0),
                  help="a policy is a mapping with `on_http_request` and/or `on_http_response`")
    return tree


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _unicode(value: Any) -> Any:
    """Parsed JSON data with U+FFFD for each lone surrogate its escapes made (as
    :meth:`_Lower.unicode` reads each scalar and key)."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_unicode(k): _unicode(v) for k, v in value.items()}
    return value


def _from_json(source: Source, data: Any, diags: Diagnostics) -> Tree:
    """A tree from parsed JSON data, every span at the start of the document (a lone
    surrogate's AIGW007 too)."""
    span = source.span(0)
    unicode = _unicode(data)
    if not _same(unicode, data):
        diags.add("AIGW007", "unreadable character: an escape makes a lone surrogate, which is not "
                  "Unicode text", span, help="write the character itself, or its pair of surrogates")
    data = unicode

    def tree(value: Any) -> Tree:
        if isinstance(value, list):
            return Seq([tree(v) for v in value], span)
        if isinstance(value, dict):
            return Map([(k, span, tree(v)) for k, v in value.items()], span)
        return Scalar(value, json.dumps(value) if not isinstance(value, str) else value,
                       span, span)

    return tree(data)


_CONTEXT_FIRST = ("while scanning a simple key", "while scanning a quoted scalar")


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (error.context, error.problem) if p]
    message = ": ".join(parts) if parts else "invalid YAML"
    message = message.replace("\n", " ")
    return message[:1].lower() + message[1:]
