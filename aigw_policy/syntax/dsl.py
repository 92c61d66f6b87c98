"""The DSL (``*.aigw``) -> IR: parse with ``grammar/policy.lark``, lower into :mod:`ir`.

``read_dsl`` is the stage function. It never raises: every problem becomes a diagnostic,
and parsing resumes after a broken rule or statement (see :mod:`.recovery`), so one run
reports every independent mistake in a file.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Tree

from ..analysis.cel_check import check_rule
from ..cel import ast
from ..cel.fast_parser import MAX_PARENS
from ..cel.grammar import grammar_text
from ..cel.lowering import RESERVED, Lowering
from ..cel.parser import SURROGATE, CelSyntaxError, parse, remember_tree
from ..diagnostics import Diagnostics, did_you_mean
from ..ir import Action, Expr, Policy, Rule
from ..ir.nodes import SETTINGS
from ..ir.actions import ACTIONS
from ..ir.build import build_action
from ..ir.raw import NOT_CONSTANT, REPORTED, RawList, RawMap, RawScalar, RawValue
from ..source import Source, Span, line_end, line_start
from .hints import WORD_OPERATORS, word_operator_diagnostic
from .positions import propagate_offsets
from .recovery import recover

__all__ = ["MAX_INPUT_CHARS", "Comment", "Trivia", "read_dsl"]

MAX_INPUT_CHARS = 4_000_000  # a 10,000-rule policy (SPEC §9) with room; reading stays linear
"""Longer documents are refused (AIGW008) before parsing."""

PHASE_WORDS = {"request": "on_http_request", "response": "on_http_response"}
STATEMENT_WORDS = ("when", "on-error", "mode")
CHOICES = {key.replace("_", "-"): choices for key, choices in SETTINGS.items()} | {"mode": ("enforce", "shadow")}

_PARSER: Lark | None = None

# A DSL line ends at a lone CR too (docs/dsl-contract.md), so a `//` comment in a condition
# ends there; cel.lark ends it at LF only, as cel-spec does, for CEL read alone.
_CEL_COMMENT_ENDS_AT_CR = "%override CEL_COMMENT: /\\/\\/[^\\r\\n]*/"


def dsl_grammar() -> str:
    """The DSL's grammar: policy.lark, then cel.lark, whose `expr` it reuses."""
    return "\n".join((grammar_text("policy.lark"), grammar_text("cel.lark"), _CEL_COMMENT_ENDS_AT_CR))


def dsl_parser() -> Lark:
    """The DSL parser: policy.lark with cel.lark appended, built once; its trees carry start
    and end offsets (:mod:`.positions`)."""
    global _PARSER
    if _PARSER is None:
        text = dsl_grammar()
        parser = Lark(text, start="document", parser="lalr", lexer="contextual",
                      propagate_positions=False, maybe_placeholders=False)
        if not propagate_offsets(parser):
            parser = Lark(text, start="document", parser="lalr", lexer="contextual",
                          propagate_positions=True, maybe_placeholders=False)
        _PARSER = parser
    return _PARSER


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` or `//` comment as written (trailing whitespace dropped): trivia, not IR."""

    span: Span
    text: str
    own_line: bool
    """Nothing but whitespace before it on its line."""


@dataclass(slots=True)
class Trivia:
    """What the IR leaves out of a DSL document, for the formatter.

    ``comments``: every comment, in document order, including those inside CEL text (which
    the IR keeps in ``Expr.source``). ``statements``: where the statements without an IR
    span were written: the document settings and phases (``"default"``, ...,
    ``"on_http_request"``) and the rules' ``"rule.on_error"``, in document order.
    """

    comments: list[Comment] = field(default_factory=list)
    statements: list[tuple[str, Span]] = field(default_factory=list)


def read_dsl(source: Source, diags: Diagnostics,
             trivia: Trivia | None = None) -> Policy | None:
    """Read a DSL document into a :class:`Policy`; ``None`` if nothing usable was read.

    Diagnostics go to ``diags``; a returned policy may still come with errors (the broken
    rules are left out of it). ``trivia``, when given, is filled with the comments and the
    statement positions (for ``fmt``).
    """
    if len(source.text) > MAX_INPUT_CHARS:
        diags.add("AIGW008", f"the document is longer than {MAX_INPUT_CHARS} characters",
                  source.span(0, 0))
        return None
    bad = SURROGATE.search(source.text)
    if bad is not None:
        diags.add("AIGW007", f"unreadable character U+{ord(bad.group()):04X}: a lone surrogate is "
                  "not Unicode text", source.span(bad.start(), bad.end()))
        return None
    tree = recover(source, diags, dsl_parser())
    if tree is None:
        return None
    if trivia is not None:
        _collect_trivia(source, tree, trivia)
    return _Reader(source, diags).document(tree)


def _collect_trivia(source: Source, tree: Tree, trivia: Trivia) -> None:
    """Comments are what the lexer skipped: the `#` / `//` in the gaps between tokens."""
    text = source.text
    tokens = sorted((t.start_pos or 0, t.end_pos or 0)
                    for t in tree.scan_values(lambda v: isinstance(v, Token)))
    gap_start = 0
    for start, end in [*tokens, (len(text), len(text))]:
        for match in _COMMENT.finditer(text, gap_start, max(gap_start, start)):
            own_line_start = line_start(text, match.start())
            trivia.comments.append(Comment(
                source.span(match.start(), match.start() + len(match.group().rstrip())),
                match.group().rstrip(), not text[own_line_start:match.start()].strip()))
        gap_start = max(gap_start, end)
    for child in tree.children[0].children:
        if isinstance(child, Token):
            continue
        if child.data == "phase":
            name = PHASE_WORDS.get(str(child.children[0]), str(child.children[0]))
            trivia.statements.append((name, _tree_span(source, child)))
            for rule in child.children[1:]:
                trivia.statements.extend(
                    (f"rule.{_setting_key(stmt)}", _tree_span(source, stmt)) for stmt in rule.children
                    if isinstance(stmt, Tree) and stmt.data in ("on_error_stmt", "mode_stmt"))
        else:
            trivia.statements.append((_setting_key(child), _tree_span(source, child)))


def _tree_span(source: Source, tree: Tree) -> Span:
    return source.span(tree.meta.start_pos, tree.meta.end_pos)


# In the gaps between tokens there are only whitespace, punctuation, keywords and comments;
# a `/` there is CEL's division, so `//` starts a comment.
_COMMENT = re.compile(r"(?:#|//)[^\r\n]*")


class _Reader:
    """Lowers a parsed document; CEL pieces go through the CEL lowering."""

    def __init__(self, source: Source, diags: Diagnostics) -> None:
        self.source = source
        self.text = source.text
        self.diags = diags

    # positions ------------------------------------------------------------------
    def span(self, item: Tree | Token) -> Span:
        if isinstance(item, Token):
            return self.source.span(item.start_pos or 0, item.end_pos or 0)
        meta = item.meta
        if getattr(meta, "empty", True):
            return self.source.span(0, 0)
        return self.source.span(meta.start_pos, meta.end_pos)

    def slice(self, span: Span) -> str:
        """The source text of a CEL piece; DSL `#` comments inside it become CEL `//` ones."""
        text = self.text[span.start:span.end]
        return _hash_comments_to_cel(text) if "#" in text or "\r" in text else text

    # CEL ----------------------------------------------------------------------------
    def cel(self, tree: Tree | Token) -> ast.Expr | None:
        """Lower a CEL subtree; its diagnostics join ours. ``None`` if it had errors."""
        lowering = Lowering(self.text, self.source, 0)
        if isinstance(tree, Token):  # a lone token cannot be an `expr` in this grammar
            return None
        node = lowering.lower(tree)
        self.diags.extend(lowering.diagnostics)
        return None if lowering.diagnostics else node

    def literal(self, rule: str, token: Token) -> ast.Expr | None:
        """A one-token literal (`string_lit`, `int_lit`) lowered by its ``Lowering`` method
        called directly (as the tree would be lowered, without lark's transformer walk)."""
        lowering = Lowering(self.text, self.source, 0)
        node = _LITERALS[rule](lowering, _meta_of(token), [token])
        self.diags.extend(lowering.diagnostics)
        return None if lowering.diagnostics else node

    def string(self, token: Token) -> str | None:
        node = self.literal("string_lit", token)
        return node.value if isinstance(node, ast.Literal) else None  # type: ignore[return-value]

    # document structure -------------------------------------------------------------
    def document(self, tree: Tree) -> Policy | None:
        policy_tree = tree.children[0]
        fields: dict[str, Any] = {}
        phases: dict[str, list[Rule]] = {}  # only the phases written, even empty
        seen: dict[str, Span] = {}
        for child in policy_tree.children:
            if isinstance(child, Token):
                fields["name"] = self.string(child)
            elif child.data in ("default_stmt", "on_error_stmt", "setting_stmt"):
                key = _setting_key(child)
                value = self.choice(child, seen)
                if value is not None:
                    fields[key] = value
            elif child.data == "shard_key_stmt":
                expr = self.shard_key(child, seen)
                if expr is not None:
                    fields["shard_key"] = expr
            elif child.data == "phase":
                phase = self.phase_name(child.children[0])
                rules = [self.rule(r) for r in child.children[1:]]
                if phase is not None:
                    phases.setdefault(phase, []).extend(r for r in rules if r is not None)
        fields = {k: v for k, v in fields.items() if v is not None}
        fields.update({phase: tuple(rules) for phase, rules in phases.items()})
        return Policy(span=self.span(policy_tree), **fields)

    def choice(self, stmt: Tree, seen: dict[str, Span]) -> str | None:
        """The word after `default` / `on-error`, checked; duplicates are reported."""
        keyword = _setting_key(stmt).replace("_", "-")
        token = stmt.children[-1]
        span = self.span(stmt)
        if keyword in seen:
            self.diags.add("AIGW013", f"duplicate `{keyword}`", span,
                           help=f"`{keyword}` is already set on line {seen[keyword].line}",
                           related=(("first set here", seen[keyword]),))
            return None
        seen[keyword] = span
        choices = CHOICES[keyword]
        if str(token) not in choices:
            options = " or ".join(f"`{c}`" for c in choices)
            self.diags.add("AIGW125", f"`{keyword}` must be {options}, not `{token}`",
                           self.span(token), help=did_you_mean(str(token), choices))
            return None
        return str(token)

    def shard_key(self, stmt: Tree, seen: dict[str, Span]) -> Expr | None:
        """`shard-key EXPR`: the document's shard key, once."""
        span = self.span(stmt)
        if "shard-key" in seen:
            self.diags.add("AIGW013", "duplicate `shard-key`", span,
                           help=f"`shard-key` is already set on line {seen['shard-key'].line}",
                           related=(("first set here", seen["shard-key"]),))
            return None
        seen["shard-key"] = span
        return self.when(stmt)

    def phase_name(self, token: Token) -> str | None:
        phase = PHASE_WORDS.get(str(token))
        if phase is None:
            self.diags.add("AIGW006", f"unknown phase `{token}`", self.span(token),
                           help=did_you_mean(str(token), PHASE_WORDS)
                           or "the phases are `on request` and `on response`")
        return phase

    def rule(self, tree: Tree) -> Rule | None:
        fields: dict[str, Any] = {}
        expressions: list[Expr] = []
        actions: list[Action] = []
        seen: dict[str, Span] = {}
        wrote_action = False
        skip_line: int | None = None
        errors_before = self.diags.error_count
        for child in tree.children:
            if isinstance(child, Token):
                fields["name"] = self.string(child)
                fields["name_span"] = self.span(child)
            elif child.data in ("on_error_stmt", "mode_stmt"):
                value = self.choice(child, seen)
                if value is not None:
                    fields[_setting_key(child)] = value
            elif child.data == "when_stmt":
                expr = self.when(child)
                if expr is not None:
                    expressions.append(expr)
            elif skip_line is not None and self.span(child).line == skip_line:
                continue  # the rest of a statement whose keyword was misspelled
            else:
                wrote_action = True
                if self.misspelled_keyword(child):
                    skip_line = self.span(child).line
                    continue
                action = self.action(child)
                if action is not None:
                    actions.append(action)
        span = self.span(tree)
        if not wrote_action:
            name = fields.get("name")
            label = f"rule `{name}`" if isinstance(name, str) else "this rule"
            self.diags.add("AIGW133", f"{label} has no actions", fields.get("name_span") or span,
                           help="add an action such as `deny` or `log { ... }`")
        fields = {k: v for k, v in fields.items() if v is not None}
        rule = Rule(span=span, expressions=tuple(expressions), actions=tuple(actions), **fields)
        if self.diags.error_count > errors_before:
            # a rule that lost a condition or an action must not run; the CEL it kept is
            # still checked, so a misspelled action does not hide a type error beside it
            self.diags.extend(check_rule(rule, self.source))
            return None
        return rule

    def misspelled_keyword(self, tree: Tree) -> bool:
        """`wen x` reads as two actions; report it as a misspelled `when`."""
        word = str(tree.children[0])
        if word.lower() in WORD_OPERATORS:  # `when a and b`: the condition ended at `a`
            self.diags.extend([word_operator_diagnostic(word, self.span(tree.children[0]))])
            return True
        if word in ACTIONS or did_you_mean(word, ACTIONS):
            return False
        hint = did_you_mean(word, STATEMENT_WORDS)
        if hint is None:
            return False
        self.diags.add("AIGW006", f"unknown keyword `{word}`", self.span(tree.children[0]),
                       help=hint)
        return True

    def when(self, stmt: Tree) -> Expr | None:
        expr_tree = stmt.children[-1]
        span = self.span(expr_tree)  # includes outer parentheses, unlike the node's span
        comment = _TRAILING_CEL_COMMENT.match(self.text, span.end)
        if comment:  # `when x // why`: the comment belongs to the expression's text
            span = self.source.span(span.start, comment.end())
        text = self.slice(span)
        # the node of the document's own parse, when the text is as written (no `#` comment made `//`)
        taken = (type(expr_tree) is Tree and text == self.text[span.start:span.end]
                 and remember_tree(text, expr_tree, self.text, span.start))
        if not taken and not self.parses(text) and self.cel(expr_tree) is None:
            return None
        return Expr(source=text, span=span)

    @staticmethod
    def parses(text: str) -> bool:
        """Whether a condition's text parses on its own (one the document's tree could not
        give: :func:`~aigw_policy.cel.parser.remember_tree`). Its node is then the one the
        lint passes and the compiler get for this text (:func:`~aigw_policy.cel.parser.parse`
        remembers it, spans relative to the text). A text that does not parse is lowered
        from the tree, whose diagnostics point into the document; so is a deeply nested one
        (the direct parse path leaves those to a tree of its own)."""
        if text.count("(") > MAX_PARENS:
            return False
        try:
            parse(text)
        except (CelSyntaxError, RecursionError):
            return False
        return True

    # actions ------------------------------------------------------------------------
    def action(self, tree: Tree) -> Action | None:
        type_token, *rest = tree.children
        type_name = str(type_token)
        type_span = self.span(type_token)
        span = self.span(tree)
        config: RawValue | None = None
        if tree.data == "action_block":
            config = self.config(rest[0] if rest else None, span)
        elif tree.data == "action_shorthand":
            if type_name not in ACTIONS:
                return build_action(type_name, None, self.diags, span=span, type_span=type_span)
            config = self.shorthand(type_name, rest, span)
            if config is None:
                return None
        return build_action(type_name, config, self.diags, span=span, type_span=type_span)

    def shorthand(self, type_name: str, args: list[Token], span: Span) -> RawMap | None:
        """`deny [STATUS] [MESSAGE]` and `set-model MODEL` as config mappings."""
        kinds = [a.type for a in args]
        if type_name == "deny" and kinds in (["INT"], ["STRING"], ["INT", "STRING"]):
            keys = ["status_code", "message"] if kinds[0] == "INT" else ["message"]
        elif type_name == "set-model" and kinds == ["STRING"]:
            keys = ["model"]
        else:
            usage = {"deny": "deny [STATUS] [MESSAGE]", "set-model": 'set-model "MODEL"'}.get(
                type_name)
            help = f"write `{usage}` or `{type_name} {{ ... }}`" if usage else \
                f"write `{type_name} {{ key: value, ... }}`"
            self.diags.add("AIGW104", f"`{type_name}` does not take these values", span,
                           help=help)
            return None
        items = []
        for key, token in zip(keys, args):
            value = self.token_value(token)
            if value is None:
                return None
            items.append((key, None, value))
        return RawMap(tuple(items), span=span)

    def token_value(self, token: Token) -> RawScalar | None:
        node = self.literal("int_lit" if token.type == "INT" else "string_lit", token)
        if node is None:
            return None
        return self.raw(node)  # type: ignore[return-value]

    def config(self, entries: Tree | None, span: Span) -> RawMap:
        items: list[tuple[str, Span | None, RawValue]] = []
        seen: dict[str, Span] = {}
        for entry in entries.children if entries is not None else ():
            key_tree, value_tree = entry.children
            key_token = key_tree.children[0]
            key_span = self.span(key_token)
            key = self.string(key_token) if key_token.type == "STRING" else str(key_token)
            value = self.value(value_tree)
            if key is None:
                continue
            if value is None:  # reported by the reader: keep the key, say no more of it
                value = RawScalar(REPORTED, self.span(value_tree))
            if key in seen:
                self.diags.add("AIGW013", f"duplicate key `{key}`", key_span,
                               help=f"`{key}` is already set on line {seen[key].line}",
                               related=(("first set here", seen[key]),))
                continue
            seen[key] = key_span
            items.append((key, key_span, value))
        return RawMap(tuple(items), span=span, key_spans=dict(seen))

    def value(self, tree: Tree) -> RawValue | None:
        token = tree.children[0]
        span = self.span(tree)
        if tree.data == "duration_value":
            return RawScalar(str(token), span)
        if tree.data == "separated_int_value":
            return RawScalar(int(str(token).replace("_", "")), span)
        if tree.data == "percentage_value":
            return RawScalar(float(Decimal(str(token)[:-1]) / 100), span)
        word = self.text[span.start:span.end]
        if word in RESERVED:  # `on_error: continue`: a bare word is the string of its name,
            return RawScalar(word, span, cel=word)  # CEL's reserved words too
        node = self.cel(token)
        return None if node is None else self.raw(node, self.span(token))

    def raw(self, node: ast.Expr, span: Span | None = None) -> RawValue:
        """A CEL value as the contract says: constants, names, lists and maps, else CEL."""
        span = span or node.span
        text = self.slice(span)
        if isinstance(node, ast.Literal) and node.kind != "bytes":
            return RawScalar(node.value, span, cel=text)
        if isinstance(node, ast.Ident) and not node.name.startswith("."):
            return RawScalar(node.name, span, cel=text)
        if isinstance(node, ast.CreateList) and not node.optional_indices:
            return RawList(tuple(self.raw(e) for e in node.elements), span, cel=text)
        if isinstance(node, ast.CreateMap):
            mapped = self.raw_map(node)
            if mapped is not None:
                return mapped
        return RawScalar(NOT_CONSTANT, span, cel=text)

    def raw_map(self, node: ast.CreateMap) -> RawMap | None:
        items: list[tuple[str, Span | None, RawValue]] = []
        spans: dict[str, Span | None] = {}
        for entry in node.entries:
            key = entry.key
            if entry.optional:
                return None
            if isinstance(key, ast.Literal) and key.kind == "string":
                name = key.value
            elif isinstance(key, ast.Ident) and not key.name.startswith("."):
                name = key.name
            else:
                return None
            assert isinstance(name, str)
            if name in spans:
                self.diags.add("AIGW013", f"duplicate key `{name}`", key.span)
                continue
            spans[name] = key.span
            items.append((name, key.span, self.raw(entry.value)))
        return RawMap(tuple(items), node.span, key_spans=spans)


class _Meta:
    """Positions for a tree built around one token (lark's Meta is not public API)."""

    def __init__(self, token: Token) -> None:
        self.empty = False
        self.start_pos = token.start_pos
        self.end_pos = token.end_pos
        self.line = token.line
        self.column = token.column
        self.end_line = token.end_line
        self.end_column = token.end_column


_LITERALS = {rule: getattr(Lowering.__dict__[rule], "base_func", Lowering.__dict__[rule])
             for rule in ("string_lit", "int_lit")}
"""The lowering of a one-token literal: (lowering, meta, children) -> node."""


def _meta_of(token: Token) -> Any:
    return _Meta(token)


_TRAILING_CEL_COMMENT = re.compile(r"[ \t]*//[^\r\n]*")


def _setting_key(stmt: Tree) -> str:
    """The IR name of a document or rule setting statement."""
    if stmt.data == "default_stmt":
        return "default"
    if stmt.data == "on_error_stmt":
        return "on_error"
    if stmt.data == "mode_stmt":
        return "mode"
    if stmt.data == "shard_key_stmt":
        return "shard_key"
    return str(stmt.children[0]).replace("-", "_")


def _hash_comments_to_cel(text: str) -> str:
    """Rewrite `# ...` comments (outside string literals) as `// ...`, which CEL accepts,
    and a lone CR that ends a comment as LF, where CEL alone ends a comment (same length:
    offsets into the text stay).

    CEL pieces are kept verbatim in the IR and may be printed into YAML, where they are
    parsed as CEL alone; a DSL comment inside a multi-line `when` must survive that.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            raw = i > 0 and text[i - 1] in "rR"
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" and not raw else 1
            j = min(n, j + len(quote))
            out.append(text[i:j])
            i = j
        elif c == "/" and text.startswith("//", i) or c == "#":
            end = line_end(text, i)
            comment = text[i:end]
            out.append("//" + comment[1:] if c == "#" else comment)
            if text.startswith("\r", end) and not text.startswith("\r\n", end):
                out.append("\n")
                end += 1
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)
