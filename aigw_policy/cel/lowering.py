"""Lowering: the one pass from a lark tree of ``cel.lark`` to :mod:`.ast` nodes, collecting
diagnostics (reserved words, depth, literals)."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import VisitError

from ..diagnostics import Diagnostic
from ..source import Source, Span
from . import ast
from .literals import LiteralError, decode_bytes, decode_int, decode_string, decode_uint

__all__ = ["KEYWORDS", "Lowering", "MAX_DEPTH", "RESERVED"]

MAX_DEPTH = 128
"""Deepest AST accepted; deeper input gets AIGW008 instead of a RecursionError later."""

KEYWORDS = frozenset({"true", "false", "null", "in"})
RESERVED = frozenset({
    "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
    "loop", "package", "namespace", "return", "var", "void", "while",
})



class _TooDeep(Exception):
    pass


class _Calls:
    """What other modules call on a :class:`Lowering`, which are no grammar rules. They are
    defined here, on a base class, because ``v_args`` wraps every public method of the class
    it decorates, and each access of a wrapped method builds a new wrapper
    (``functools.update_wrapper``): the direct parse calls these per expression and per
    node, ~20% of a cold 10,000-rule policy's IR stage."""

    def lower(self: Lowering, tree: Tree) -> ast.Expr:
        """Lower a tree whose root is an ``expr``."""
        try:
            node = self._walk(tree)
        except (RecursionError, _TooDeep):
            return self._too_deep(tree)
        except VisitError as error:
            if isinstance(error.orig_exc, (RecursionError, _TooDeep)):
                return self._too_deep(tree)
            raise
        self.diagnostics.extend(self._pending_reserved.values())
        return node

    def _walk(self: Lowering, tree: Tree) -> Any:
        """``Transformer.transform`` without its per-node machinery (a generator per node, a
        ``v_args`` wrapper built per call): each rule's own function, children first."""
        children = [self._walk(c) if type(c) is Tree else c for c in tree.children]
        func = _rule_functions().get(tree.data)
        if func is None:
            return self.__default__(tree.data, children, tree.meta)
        return func(self, tree.meta, children)

    def outer_span(self: Lowering, node: ast.Expr) -> Span:
        """The span of ``node`` including the parentheses written around it."""
        return self._parens.get(id(node), node.span)

    # the direct path (:mod:`.fast_parser`) -----------------------------------------------
    def start_direct(self: Lowering) -> None:
        """Lowering during the parse: too deep a node is noted, not raised (the LALR loop
        cannot be unwound from a callback)."""
        self._keep_going = True

    def finish_direct(self: Lowering, node: ast.Expr) -> ast.Expr:
        """The result of a direct parse of ``node``, with the diagnostics held back."""
        if self._overflow is not None:
            span = self._outer(node)
            self.diagnostics[:] = self._overflow
            self._pending_reserved.clear()
            return self._too_deep_at(span)
        self.diagnostics.extend(self._pending_reserved.values())
        return node


@v_args(meta=True)
class Lowering(Transformer, _Calls):
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
        return self._unary_run(ast.LOGICAL_NOT, children)

    def neg_chain(self, meta, children):
        *minuses, operand = children
        if len(minuses) == 1:
            signed = self._signed_member(operand, minuses[0])
            if signed is not None:
                return signed
        return self._unary_run(ast.NEGATE, children)

    def not_neg_chain(self, meta, children):
        """``!-1``: CEL.g4's literals carry their sign (``literal: sign=MINUS? NUM_INT``), so a
        ``!`` run may stand before a signed number; before anything else a ``-`` there is not
        CEL (``!-x``, ``!-1u``)."""
        *bangs, minus, operand = children
        signed = self._signed_member(operand, minus)
        if signed is None:
            self._error("AIGW200", "unexpected `-`, expected an expression", self._span_of(minus),
                        help="write `!(-x)`")
            signed = operand
        return self._unary_run(ast.LOGICAL_NOT, [*bangs, signed])

    def _signed_member(self, operand: ast.Expr, minus: Token) -> ast.Expr | None:
        """``-1.f()``, ``-9223372036854775808[0]``: the member whose innermost operand is the
        int or double literal right after ``minus``, with the sign on that literal (CEL.g4's
        signed literal is a primary, as cel-go and cel-cpp read it), or None."""
        chain: list[ast.Expr] = []
        node = operand
        while id(node) not in self._parens:
            if isinstance(node, (ast.Select, ast.Index)):
                chain.append(node)
                node = node.operand
            elif isinstance(node, ast.Call) and node.target is not None:
                chain.append(node)
                node = node.target
            else:
                break
        if not isinstance(node, ast.Literal) or node.kind not in ("int", "double") or id(node) in self._parens:
            return None  # (only white space and comments stand between `-` and the literal)
        inner: ast.Expr = self._negative_literal(node, minus)
        start = inner.span.start
        for outer in reversed(chain):
            span = self.src.span(start, outer.span.end)
            if isinstance(outer, ast.Call):
                inner = self._node(replace(outer, target=inner, span=span), inner, *outer.args)
            elif isinstance(outer, ast.Index):
                inner = self._node(replace(outer, operand=inner, span=span), inner, outer.index)
            else:
                inner = self._node(replace(outer, operand=inner, span=span), inner)
        return inner

    def _unary_run(self, function: str, children: list) -> ast.Expr:
        """A run of ``!`` or ``-`` written without parentheses, as CEL.g4's parsers read it
        (cel-go's ``VisitLogicalNot``/``VisitNegate``, cel-cpp): an even run is its operand
        (``!!1`` is ``1``, ``--x`` is ``x``), an odd run one operator. A literal after two or
        more minuses keeps no sign (``--9223372036854775808`` is out of range)."""
        *ops, operand = children
        if len(ops) % 2 == 0:
            return operand
        span = self.src.span(self.base + ops[0].start_pos, self._outer(operand).end)
        return self._node(ast.Call(function, (operand,), span=span), operand)

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
        if bare in KEYWORDS:  # `in`: CEL.g4's lexer makes it an operator token, never a name
            self._error("AIGW202", f"`{bare}` is a keyword and cannot be {what}", node.span)
        elif bare in RESERVED:
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
        if str(name) in KEYWORDS:
            self._error("AIGW202", f"`{name}` is a keyword and cannot be a function name",
                       self._span_of(name))
        elif str(name) in RESERVED:
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


@lru_cache(maxsize=1)
def _rule_functions() -> dict[str, Any]:
    """Each grammar rule's lowering function, unwrapped from ``v_args``: called as
    ``function(lowering, meta, children)``."""
    return {name: value.base_func for name, value in vars(Lowering).items()
            if not name.startswith("_") and hasattr(value, "base_func")}
