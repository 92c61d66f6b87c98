"""CEL text -> :mod:`aigw_policy.cel.ast`, with friendly, located syntax diagnostics.

``parse`` is the stage function. Lark trees and tokens never leave this module (and
:mod:`aigw_policy.syntax`, which reuses the grammar and the helpers below).
"""

from __future__ import annotations

from functools import lru_cache

import re
import threading
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from ..diagnostics import Diagnostic, PolicyError
from ..source import Source, Span
from . import ast
from .literals import LiteralError, decode_bytes, decode_int, decode_string, decode_uint

__all__ = ["CelSyntaxError", "MAX_DEPTH", "MAX_LENGTH", "RESERVED", "KEYWORDS", "parse"]

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammar"

MAX_LENGTH = 100_000
"""Longest expression accepted, in characters (cel-go's default limit too)."""
MAX_DEPTH = 128
"""Deepest AST accepted; deeper input gets AIGW008 instead of a RecursionError later."""

SURROGATE = re.compile("[\ud800-\udfff]")
"""Code points that are not Unicode scalar values: Python strings can hold them, text cannot."""

KEYWORDS = frozenset({"true", "false", "null", "in"})
RESERVED = frozenset({
    "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
    "loop", "package", "namespace", "return", "var", "void", "while",
})


class CelSyntaxError(PolicyError):
    """A CEL expression could not be parsed; ``diagnostics`` says where and why."""


_PARSER: Lark | None = None


def grammar_text(name: str) -> str:
    """The text of a grammar file shipped in ``grammar/``."""
    return (GRAMMAR_DIR / name).read_text(encoding="utf-8")


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(grammar_text("cel.lark"), start="expr", parser="lalr",
                       lexer="contextual", propagate_positions=True, maybe_placeholders=False)
    return _PARSER


def parse(text: str, *, source: Source | None = None, offset: int = 0) -> ast.Expr:
    """Parse one CEL expression.

    With ``source``, ``text`` starts at ``offset`` in that document and spans point into
    it; without, spans point into a fresh ``Source(text)``. Raises :class:`CelSyntaxError`.
    A text parsed without ``source`` is memoized (the lint passes and the compiler each ask
    for the same texts; nodes are immutable, so sharing them is safe).
    """
    if source is None:
        return _parse_alone(text)
    return _parse(text, source, offset)


@lru_cache(maxsize=8192)
def _parse_alone(text: str) -> ast.Expr:
    return _parse(text, None, 0)


def _parse(text: str, source: Source | None, offset: int) -> ast.Expr:
    src = source if source is not None else Source(text)
    base = offset if source is not None else 0
    if len(text) > MAX_LENGTH:
        _fail("AIGW008", f"expression is too long ({len(text)} characters, the limit is "
              f"{MAX_LENGTH})", src.span(base, base + len(text)))
    bad = SURROGATE.search(text)
    if bad is not None:
        _fail("AIGW007", f"unreadable character U+{ord(bad.group()):04X}: a lone surrogate is not "
              "Unicode text", src.span(base + bad.start(), base + bad.end()))
    lowering = Lowering(text, src, base)
    try:
        node = _fast_lower(text, lowering) if text.count("(") <= _FAST_MAX_PARENS else None
        if node is None:  # too deep for the direct path: let the tree path report it
            lowering = Lowering(text, src, base)
            node = lowering.lower(_parser().parse(text))
    except UnexpectedInput as error:
        raise CelSyntaxError([syntax_diagnostic(error, text, src, base, "AIGW200")]) from None
    if lowering.diagnostics:
        raise CelSyntaxError(lowering.diagnostics)
    return node


# --- the direct path: lowering while parsing ----------------------------------------------
#
# ``parse`` does not build a lark tree: the LALR parser calls, at each reduction, the same
# ``Lowering`` method the tree path would call, with a small meta object whose positions are
# computed as lark's ``propagate_positions`` computes them (first child's start, last child's
# end, where a child is a token or an already lowered node, parentheses included). The DSL
# (aigw_policy.syntax) keeps using ``Lowering`` on trees; both paths give the same nodes,
# spans and diagnostics (tests/cel/test_parse.py checks this on every conformance input).

_FAST_MAX_PARENS = 200
"""More `(` than this and ``parse`` uses the tree path (whose recursion limit reports AIGW008)."""

# Rules whose ``Lowering`` method never looks at ``meta``: no positions are computed for them.
_NO_META = frozenset({
    "or_expr", "and_expr", "relation", "addition", "multiplication", "relop", "addop", "mulop",
    "not_chain", "neg_chain", "field_name", "exprlist", "list_elems", "opt_elem", "map_inits",
    "field_inits",
})


class _Meta:
    __slots__ = ("start_pos", "end_pos")
    empty = False

    def __init__(self, start_pos: int, end_pos: int) -> None:
        self.start_pos = start_pos
        self.end_pos = end_pos


class _Seq:
    """The value of a lark helper rule (``__x_star_N``): its children, spliced into the parent."""

    __slots__ = ("children",)

    def __init__(self, children: list[Any]) -> None:
        self.children = children


class _Current(threading.local):
    lowering: Any = None


_CURRENT = _Current()
_FAST: Any = None


class _Driver:
    """The LALR loop of lark's ``ParserState.feed_token``, over a copy of the parse table in
    which each reduction is ``(size, goto symbol, callback)`` (no Rule hashing per step).
    ``position`` is what lark's contextual lexer reads to pick the terminals it may match."""

    __slots__ = ("state_stack", "value_stack")

    def __init__(self, start: Any) -> None:
        self.state_stack = [start]
        self.value_stack: list[Any] = []

    @property
    def position(self) -> Any:
        return self.state_stack[-1]


def _fast_parser() -> Any:
    """(direct parse function), built once; False if this lark version lacks what it uses."""
    global _FAST
    if _FAST is None:
        try:
            from lark.parsers.lalr_analysis import Shift

            lark = _parser()
            frontend = lark.parser
            table = frontend.parser._parse_table  # noqa: SLF001
            start = table.start_states["expr"]
            end_state = table.end_states["expr"]
            callbacks = {rule: _callback(rule) for rule in lark.rules}
            states = {
                state: {sym: (True, arg) if action is Shift
                        else (False, (len(arg.expansion), arg.origin.name, callbacks[arg]))
                        for sym, (action, arg) in actions.items()}
                for state, actions in table.states.items()
            }
            make_lexer = frontend._make_lexer_thread  # noqa: SLF001

            def run(text: str) -> Any:
                driver = _Driver(start)
                stack, values = driver.state_stack, driver.value_stack
                token = None
                for token in make_lexer(text).lex(driver):
                    _feed(token, False, driver, stack, values, states, table, end_state)
                end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
                return _feed(end, True, driver, stack, values, states, table, end_state)

            _CURRENT.lowering = Lowering("1", Source("1"), 0)
            try:
                run("1")  # probe the API once
            finally:
                _CURRENT.lowering = None
            _FAST = run
        except Exception:  # noqa: BLE001 - another lark version: use the tree path
            _FAST = False
    return _FAST


def _feed(token: Token, is_end: bool, driver: _Driver, stack: list, values: list,  # type: ignore[type-arg]
          states: dict, table: Any, end_state: Any) -> Any:
    kind = token.type
    while True:
        try:
            shift, arg = states[stack[-1]][kind]
        except KeyError:
            expected = {s for s in table.states[stack[-1]] if s.isupper()}
            raise UnexpectedToken(token, expected, state=driver, interactive_parser=None) from None
        if shift:
            stack.append(arg)
            values.append(token)
            return None
        size, origin, callback = arg
        if size:
            children = values[-size:]
            del stack[-size:]
            del values[-size:]
        else:
            children = []
        value = callback(children)
        stack.append(states[stack[-1]][origin][1])
        values.append(value)
        if is_end and stack[-1] == end_state:
            return values[-1]


def _fast_lower(text: str, lowering: Lowering) -> ast.Expr | None:
    run = _fast_parser()
    if not run:
        return lowering.lower(_parser().parse(text))
    current = _CURRENT
    outer = current.lowering
    current.lowering = lowering
    lowering._keep_going = True
    try:
        node = run(text)
    except RecursionError:
        return None
    finally:
        current.lowering = outer
    if lowering._overflow is not None:
        span = lowering._outer(node)
        lowering.diagnostics[:] = lowering._overflow
        lowering._pending_reserved.clear()
        return lowering._too_deep_at(span)
    lowering.diagnostics.extend(lowering._pending_reserved.values())
    return node


def _callback(rule: Any) -> Any:
    """The reduction callback of one grammar rule (mirrors lark's tree builder wrappers)."""
    name = rule.alias or rule.options.template_source or rule.origin.name
    keep = rule.options.keep_all_tokens
    include = [(i, not sym.is_term and sym.name.startswith("_"))
               for i, sym in enumerate(rule.expansion)
               if keep or not (sym.is_term and sym.filter_out)]
    plain = len(include) == len(rule.expansion) and not any(e for _, e in include)
    indices = [i for i, _ in include]

    if plain:
        def select(children: list[Any]) -> list[Any]:
            return children
    elif not any(e for _, e in include):
        if len(indices) == 1:
            only = indices[0]

            def select(children: list[Any]) -> list[Any]:
                return [children[only]]
        else:
            def select(children: list[Any]) -> list[Any]:
                return [children[i] for i in indices]
    else:
        def select(children: list[Any]) -> list[Any]:
            out: list[Any] = []
            for i, expand in include:
                if not expand:
                    out.append(children[i])
                elif out:
                    out += children[i].children
                else:  # left recursion: extend the child's list in place (as lark does)
                    out = children[i].children
            return out

    if name.startswith("_"):
        return lambda children: _Seq(select(children))

    func = Lowering.__dict__.get(name)
    func = getattr(func, "base_func", func)
    expand1 = rule.options.expand1 and not rule.alias
    current = _CURRENT

    if func is None:
        if not expand1:
            raise AssertionError(f"unhandled rule {name}")  # pragma: no cover

        def passthrough(children: list[Any]) -> Any:
            filtered = select(children)
            if len(filtered) == 1:
                return filtered[0]
            raise AssertionError(f"unhandled rule {name}")  # pragma: no cover
        return passthrough

    if name in _NO_META:
        def call(children: list[Any]) -> Any:
            filtered = select(children)
            if expand1 and len(filtered) == 1:
                return filtered[0]
            return func(current.lowering, None, filtered)
        return call

    def call_meta(children: list[Any]) -> Any:
        filtered = select(children)
        if expand1 and len(filtered) == 1:
            return filtered[0]
        low = current.lowering
        first = children[0]
        last = children[-1]
        if isinstance(first, Token):
            start = first.start_pos
        else:
            span = low._parens.get(id(first)) or first.span
            start = span.start - low.base
        if isinstance(last, Token):
            end = last.end_pos
        else:
            span = low._parens.get(id(last)) or last.span
            end = span.end - low.base
        return func(low, _Meta(start, end), filtered)
    return call_meta


def _fail(code: str, message: str, span: Span, help: str | None = None) -> None:
    raise CelSyntaxError([Diagnostic.make(code, message, span, help)])


# --- friendly syntax errors -------------------------------------------------------------

_EXPR_START = frozenset({"IDENT", "INT", "UINT", "FLOAT", "STRING", "BYTES", "LPAR", "LSQB",
                         "LBRACE", "BANG", "MINUS", "TRUE", "FALSE", "NULL"})
_HUMAN = {
    "IDENT": "a name", "QUOTED_IDENT": "a name", "INT": "a number", "UINT": "a number",
    "FLOAT": "a number", "STRING": "a string", "BYTES": "a bytes literal",
    "$END": "the end of the input", "<END-OF-FILE>": "the end of the input",
    "ACTION_TYPE": "an action",
    "DURATION": "a duration", "SEPARATED_INT": "a number", "PERCENTAGE": "a percentage",
}


def human_token(name: str, parser: Lark | None = None) -> str:
    """How a terminal is named in messages: "`)`", "a name", ..."""
    if name in _HUMAN:
        return _HUMAN[name]
    lark = parser or _parser()
    try:
        pattern = lark.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower().replace("_", " ")


def describe_expected(names: set[str] | frozenset[str], parser: Lark | None = None) -> str:
    """"an expression", "`)`", "`,` or `]`", ... from a set of terminal names."""
    names = set(names)
    words: list[str] = []
    if len(names & _EXPR_START) >= 5:
        words.append("an expression")
        names -= _EXPR_START
        names -= {"DOT", "QMARK"}
    for w in sorted({human_token(n, parser) for n in names}):
        if w not in words:
            words.append(w)
    if not words:
        return "something else"
    words = words[:6]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _string_start(text: str, pos: int) -> int | None:
    """Where an unterminated string starting at or just before ``pos`` begins, if any."""
    if pos >= len(text) or text[pos] not in "\"'":
        return None
    start = pos
    while start > 0 and pos - start < 2 and text[start - 1] in "rRbB":
        start -= 1
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return pos
    return start


def syntax_diagnostic(error: UnexpectedInput, text: str, src: Source, base: int,
                      code: str, parser: Lark | None = None) -> Diagnostic:
    """One diagnostic for a lark error, recognising the common mistakes."""
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream
        char = text[pos] if pos < len(text) else ""
        if char == "=" and text[pos + 1:pos + 2] != "=":
            return Diagnostic.make("AIGW004", "`=` is not an operator", src.span(base + pos,
                                   base + pos + 1), help="write `==` to compare values")
        start = _string_start(text, pos)
        if start is not None:
            end = text.find("\n", pos)
            end = len(text) if end == -1 else end
            return Diagnostic.make("AIGW003", "unterminated string",
                                   src.span(base + start, base + end),
                                   help="close the string with the quote it was opened with")
        expected = describe_expected(set(error.allowed or ()), parser)
        shown = char if char.isprintable() else repr(char)[1:-1]
        return Diagnostic.make(code, f"unexpected character `{shown}`, expected {expected}",
                               src.span(base + pos, base + pos + 1))
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = describe_expected(set(error.expected or ()), parser)
        if token.type == "$END":
            pos = len(text.rstrip())
            return Diagnostic.make(code, f"unexpected end of input, expected {expected}",
                                   src.span(base + pos, base + pos))
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(token)
        word = str(token)
        if len(word) > 30:
            word = word[:27] + "..."
        return Diagnostic.make(code, f"unexpected `{word}`, expected {expected}",
                               src.span(base + start, base + end))
    pos = getattr(error, "pos_in_stream", None) or len(text)
    return Diagnostic.make(code, "syntax error", src.span(base + pos, base + pos))


# --- lowering: lark tree -> AST -----------------------------------------------------------

class _TooDeep(Exception):
    pass


@v_args(meta=True)
class Lowering(Transformer):
    """The one pass from the lark tree to :mod:`ast` nodes, collecting diagnostics."""

    def __init__(self, text: str, src: Source, base: int) -> None:
        super().__init__(visit_tokens=False)
        self.text = text
        self.src = src
        self.base = base
        self.diagnostics: list[Diagnostic] = []
        self._parens: dict[int, Span] = {}
        self._pending_reserved: dict[int, Diagnostic] = {}
        self._depth: dict[int, int] = {}
        self._keep_going = False
        self._overflow: list[Diagnostic] | None = None

    def lower(self, tree: Tree) -> ast.Expr:
        """Lower a tree whose root is an ``expr``."""
        try:
            node = self.transform(tree)
        except (RecursionError, _TooDeep):
            return self._too_deep(tree)
        except VisitError as error:
            if isinstance(error.orig_exc, (RecursionError, _TooDeep)):
                return self._too_deep(tree)
            raise
        self.diagnostics.extend(self._pending_reserved.values())
        return node

    def _too_deep(self, tree: Tree) -> ast.Expr:
        return self._too_deep_at(self._span_of(tree))

    def _too_deep_at(self, span: Span) -> ast.Expr:
        self.diagnostics.append(Diagnostic.make(
            "AIGW008", f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)",
            span, help="split it into simpler expressions"))
        return ast.Literal(None, "null", span=span)

    # positions ---------------------------------------------------------------------
    def _span(self, start: int, end: int) -> Span:
        return self.src.span(self.base + start, self.base + end)

    def _span_of(self, item: Tree | Token | Any) -> Span:
        if isinstance(item, Token):
            return self._span(item.start_pos or 0, item.end_pos or 0)
        meta = item.meta
        if getattr(meta, "empty", True):
            return self._span(0, 0)
        return self._span(meta.start_pos, meta.end_pos)

    def _meta_span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return self._span(0, 0)
        return self._span(meta.start_pos, meta.end_pos)

    def _error(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic.make(code, message, span, help))

    def _node(self, node: ast.Expr, *children: Any) -> Any:
        """Record the depth of a new node; fail with AIGW008 beyond :data:`MAX_DEPTH`."""
        depth = 1 + max((self._depth.get(id(c), 1) for c in children), default=0)
        if depth > MAX_DEPTH:
            if not self._keep_going:
                raise _TooDeep
            # the direct path finishes the parse (for the span of the whole input), then
            # reports as the tree path does: the diagnostics found so far, then AIGW008
            if self._overflow is None:
                self._overflow = list(self.diagnostics)
            depth = MAX_DEPTH
        self._depth[id(node)] = depth
        return node

    def __default__(self, data, children, meta):  # pragma: no cover - grammar guarantees
        raise AssertionError(f"unhandled rule {data}")

    # operators ---------------------------------------------------------------------
    def conditional(self, meta, children):
        cond, then, otherwise = children
        return self._node(ast.Call(ast.CONDITIONAL, (cond, then, otherwise),
                                  span=self._meta_span(meta)), cond, then, otherwise)

    def _balanced(self, function: str, operands: list[ast.Expr]) -> ast.Expr:
        """Logical chains are balanced trees (as cel-go does), so depth grows as log n."""
        if len(operands) == 1:
            return operands[0]
        middle = len(operands) // 2
        left = self._balanced(function, operands[:middle])
        right = self._balanced(function, operands[middle:])
        span = self.src.span(self._outer(left).start, self._outer(right).end)
        return self._node(ast.Call(function, (left, right), span=span), left, right)

    def or_expr(self, meta, children):
        return self._balanced(ast.LOGICAL_OR, children)

    def and_expr(self, meta, children):
        return self._balanced(ast.LOGICAL_AND, children)

    def _left_fold(self, children: list[Any]) -> ast.Expr:
        result = children[0]
        for i in range(1, len(children), 2):
            op, right = children[i], children[i + 1]
            span = self.src.span(self._outer(result).start, self._outer(right).end)
            result = self._node(ast.Call(ast.BINARY_OPERATORS[op], (result, right), span=span),
                               result, right)
        return result

    relation = addition = multiplication = lambda self, meta, children: self._left_fold(children)

    def relop(self, meta, children):
        return str(children[0])

    addop = mulop = relop

    def not_chain(self, meta, children):
        *bangs, operand = children
        for bang in reversed(bangs):
            span = self.src.span(self.base + bang.start_pos, self._outer(operand).end)
            operand = self._node(ast.Call(ast.LOGICAL_NOT, (operand,), span=span), operand)
        return operand

    def neg_chain(self, meta, children):
        *minuses, operand = children
        if (isinstance(operand, ast.Literal) and operand.kind in ("int", "double")
                and id(operand) not in self._parens
                and not self.text[minuses[-1].end_pos:operand.span.start - self.base].strip()):
            minus = minuses.pop()
            operand = self._negative_literal(operand, minus)
        for minus in reversed(minuses):
            span = self.src.span(self.base + minus.start_pos, self._outer(operand).end)
            operand = self._node(ast.Call(ast.NEGATE, (operand,), span=span), operand)
        return operand

    def _negative_literal(self, literal: ast.Literal, minus: Token) -> ast.Literal:
        span = self.src.span(self.base + minus.start_pos, literal.span.end)
        if literal.kind == "double":
            return ast.Literal(-literal.value, "double", span=span)  # type: ignore[operator]
        digits = self.text[literal.span.start - self.base:literal.span.end - self.base]
        self.diagnostics[:] = [d for d in self.diagnostics if d.span != literal.span]
        try:
            return ast.Literal(decode_int(digits, negative=True), "int", span=span)
        except LiteralError as error:
            self._error("AIGW201", error.message, span)
            return ast.Literal(0, "int", span=span)

    # members -----------------------------------------------------------------------
    def field_name(self, meta, children):
        return children[0]

    def _field(self, token: Token) -> tuple[str, Span]:
        name = str(token)
        span = self._span_of(token)
        if token.type == "QUOTED_IDENT":
            return name[1:-1], span
        if name in KEYWORDS:
            self._error("AIGW202", f"`{name}` is a keyword and cannot be a field name", span,
                       help=f"write `[\"{name}\"]` to index a map by this key")
        return name, span

    def select(self, meta, children):
        operand, token = children
        name, _ = self._field(token)
        return self._node(ast.Select(operand, name, span=self._meta_span(meta)), operand)

    def opt_select(self, meta, children):
        operand, token = children
        name, _ = self._field(token)
        return self._node(ast.Select(operand, name, True, span=self._meta_span(meta)), operand)

    def method_call(self, meta, children):
        target, name, *rest = children
        if str(name) in KEYWORDS:
            self._error("AIGW202", f"`{name}` is a keyword and cannot be a function name",
                       self._span_of(name))
        args = tuple(rest[0]) if rest else ()
        return self._node(ast.Call(str(name), args, target, span=self._meta_span(meta)),
                         target, *args)

    def index(self, meta, children):
        operand, index = children
        return self._node(ast.Index(operand, index, span=self._meta_span(meta)), operand, index)

    def opt_index(self, meta, children):
        operand, index = children
        return self._node(ast.Index(operand, index, True, span=self._meta_span(meta)),
                         operand, index)

    def create_struct(self, meta, children):
        operand, *rest = children
        fields = tuple(rest[0]) if rest else ()
        name = self._type_name(operand)
        if name is None:
            self._error("AIGW200", "only a type name can come before `{`", operand.span,
                       help="a message literal is written `pkg.Type{field: value}`")
            name = "<invalid>"
        return self._node(ast.CreateStruct(name, fields, span=self._meta_span(meta)),
                         *(f.value for f in fields))

    def _type_name(self, node: ast.Expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Select) and not node.optional:
            parts.append(node.field)
            node = node.operand
        if not isinstance(node, ast.Ident) or id(node) in self._parens:
            return None
        self._pending_reserved.pop(id(node), None)
        parts.append(node.name)
        return ".".join(reversed(parts))

    # primaries ---------------------------------------------------------------------
    def _check_ident(self, node: ast.Expr, name: str, what: str) -> None:
        bare = name.lstrip(".")
        if bare in RESERVED:
            self._pending_reserved[id(node)] = Diagnostic.make(
                "AIGW202", f"`{bare}` is a reserved word and cannot be {what}", node.span)

    def ident(self, meta, children):
        node = ast.Ident(str(children[0]), span=self._meta_span(meta))
        self._check_ident(node, node.name, "an identifier")
        return self._node(node)

    def root_ident(self, meta, children):
        node = ast.Ident("." + str(children[0]), span=self._meta_span(meta))
        self._check_ident(node, node.name, "an identifier")
        return self._node(node)

    def global_call(self, meta, children, prefix: str = ""):
        name, *rest = children
        args = tuple(rest[0]) if rest else ()
        node = ast.Call(prefix + str(name), args, span=self._meta_span(meta))
        if str(name) in RESERVED:
            self._error("AIGW202", f"`{name}` is a reserved word and cannot be a function name",
                       self._span_of(name))
        return self._node(node, *args)

    def root_call(self, meta, children):
        return self.global_call(meta, children, ".")

    def paren(self, meta, children):
        self._parens[id(children[0])] = self._meta_span(meta)
        return children[0]

    def _outer(self, node: ast.Expr) -> Span:
        """The span of ``node`` including the parentheses written around it."""
        return self._parens.get(id(node), node.span)

    def exprlist(self, meta, children):
        return children

    def create_list(self, meta, children):
        items = children[0] if children else []
        elements = tuple(e for _, e in items)
        optional = tuple(i for i, (opt, _) in enumerate(items) if opt)
        return self._node(ast.CreateList(elements, optional, span=self._meta_span(meta)),
                         *elements)

    def list_elems(self, meta, children):
        return [c if isinstance(c, tuple) else (False, c) for c in children]

    def opt_elem(self, meta, children):
        return (True, children[0])

    def create_map(self, meta, children):
        entries = tuple(children[0]) if children else ()
        return self._node(ast.CreateMap(entries, span=self._meta_span(meta)),
                         *(e.key for e in entries), *(e.value for e in entries))

    def map_inits(self, meta, children):
        return children

    field_inits = map_inits

    def map_entry(self, meta, children, optional: bool = False):
        key, value = children
        return ast.MapEntry(key, value, optional, span=self._meta_span(meta))

    def opt_map_entry(self, meta, children):
        return self.map_entry(meta, children, True)

    def field_init(self, meta, children, optional: bool = False):
        token, value = children
        name, _ = self._field(token)
        return ast.FieldInit(name, value, optional, span=self._meta_span(meta))

    def opt_field_init(self, meta, children):
        return self.field_init(meta, children, True)

    # literals ----------------------------------------------------------------------
    def _literal(self, meta, token: Token, decode, kind: str) -> ast.Literal:
        span = self._meta_span(meta)
        try:
            value = decode(str(token))
        except LiteralError as error:
            start = (token.start_pos or 0) + error.start
            self._error("AIGW201", error.message, self._span(start, (token.start_pos or 0)
                                                            + error.end))
            value = None
        except UnicodeEncodeError:
            self._error("AIGW201", "bytes literal is not valid text", span)
            value = None
        return self._node(ast.Literal(value, kind, span=span))  # type: ignore[arg-type]

    def int_lit(self, meta, children):
        token = children[0]
        span = self._meta_span(meta)
        try:
            value = decode_int(str(token))
        except LiteralError as error:
            # may still be fine as the operand of `-` (e.g. -9223372036854775808)
            self._error("AIGW201", error.message, span)
            value = 0
        return self._node(ast.Literal(value, "int", span=span))

    def uint_lit(self, meta, children):
        return self._literal(meta, children[0], decode_uint, "uint")

    def double_lit(self, meta, children):
        return self._literal(meta, children[0], float, "double")

    def string_lit(self, meta, children):
        return self._literal(meta, children[0], decode_string, "string")

    def bytes_lit(self, meta, children):
        return self._literal(meta, children[0], decode_bytes, "bytes")

    def true_lit(self, meta, children):
        return self._node(ast.Literal(True, "bool", span=self._meta_span(meta)))

    def false_lit(self, meta, children):
        return self._node(ast.Literal(False, "bool", span=self._meta_span(meta)))

    def null_lit(self, meta, children):
        return self._node(ast.Literal(None, "null", span=self._meta_span(meta)))
