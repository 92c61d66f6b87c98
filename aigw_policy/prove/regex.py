"""Patterns as z3 formulas: the RE2 subset that translates exactly (for ``matches``), and what
is left of a ``model-access`` glob once a literal prefix matched it (:func:`glob_after`;
the globs themselves are in :mod:`.model_names`). Anything else is ``None``: the caller then
treats the match as unknown, never as a guess.

A pattern is read into a small tree first. When its language is a few words (``^gpt-4o$``,
``^claude-(opus|sonnet)-[0-9]$``), the match is written with equalities, ``PrefixOf``,
``SuffixOf`` and ``Contains``, which z3 decides at once; only the rest is a
regular-expression membership, where z3's string search can wander."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3
from .values import TEXT_MAX, char_range, str_val

__all__ = ["glob_after", "search_holds", "search_regex"]

MAX_WORDS = 64
"""A pattern whose language has at most this many words is written as literal tests."""


def _any_char() -> Any:
    return z3.AllChar(z3.ReSort(z3.StringSort()))

_DIGIT = [("0", "9")]
_WORD = [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")]
_SPACE = [("\t", "\n"), ("\f", "\r"), (" ", " ")]


def _chars(pairs: list[tuple[str, str]]) -> Any:
    parts = [char_range(a, b) if a != b else z3.Re(str_val(a)) for a, b in pairs]
    return parts[0] if len(parts) == 1 else z3.Union(*parts)


def _not(pairs: list[tuple[str, str]]) -> Any:
    return z3.Intersect(_any_char(), z3.Complement(_chars(pairs)))


@dataclass(frozen=True)
class _Lit:
    text: str


@dataclass(frozen=True)
class _Set:
    pairs: tuple[tuple[str, str], ...]
    negated: bool


@dataclass(frozen=True)
class _Cat:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Alt:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Rep:
    item: Any
    lo: int
    hi: int | None


_EMPTY = _Lit("")


def _regex(node: Any) -> Any:
    """The z3 regular expression of a pattern tree."""
    t = type(node)
    if t is _Lit:
        return z3.Re(str_val(node.text))
    if t is _Set:
        return _not(list(node.pairs)) if node.negated else _chars(list(node.pairs))
    if t is _Cat:
        return z3.Concat(*[_regex(i) for i in node.items])
    if t is _Alt:
        return z3.Union(*[_regex(i) for i in node.items])
    x, n, m = _regex(node.item), node.lo, node.hi
    if m is None:
        if n == 0:
            return z3.Star(x)
        return z3.Plus(x) if n == 1 else z3.Concat(z3.Loop(x, n, n), z3.Star(x))
    if m == 0:
        return z3.Re(str_val(""))
    return z3.Option(x) if (n, m) == (0, 1) else z3.Loop(x, n, m)


def _words(node: Any) -> frozenset[str] | None:
    """The words of a pattern tree, when they are at most :data:`MAX_WORDS`; else None."""
    t = type(node)
    if t is _Lit:
        return frozenset({node.text})
    if t is _Set:
        if node.negated or sum(ord(b) - ord(a) + 1 for a, b in node.pairs) > MAX_WORDS:
            return None
        return frozenset(chr(c) for a, b in node.pairs for c in range(ord(a), ord(b) + 1))
    if t is _Alt:
        out: set[str] = set()
        for i in node.items:
            got = _words(i)
            if got is None or len(out | got) > MAX_WORDS:
                return None
            out |= got
        return frozenset(out)
    if t is _Cat:
        acc: frozenset[str] | None = frozenset({""})
        for i in node.items:
            acc = _product(acc, _words(i))
        return acc
    if node.hi is None or node.hi > MAX_WORDS:
        return None
    item = _words(node.item)
    power: frozenset[str] | None = frozenset({""})
    seen: set[str] = set()
    for k in range(node.hi + 1):
        if k >= node.lo:
            assert power is not None
            seen |= power
            if len(seen) > MAX_WORDS:
                return None
        if k < node.hi:
            power = _product(power, item)
            if power is None:
                return None
    return frozenset(seen)


def _product(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None or b is None or len(a) * len(b) > MAX_WORDS:
        return None
    return frozenset(x + y for x in a for y in b)


class _Unsupported(Exception):
    pass


def _char_ok(c: str) -> str:
    if ord(c) > TEXT_MAX or 0xD800 <= ord(c) <= 0xDFFF:
        raise _Unsupported
    return c


class _Parser:
    """A recursive-descent reader of the pattern's exact subset into a tree: literals, ``.``,
    classes (``[a-z]``, ``[^...]``, ``\\d \\w \\s`` and their negations), groups (capturing
    or ``(?:``), ``|``, and the quantifiers ``* + ? {n} {n,} {n,m}`` (lazy forms too: they do
    not change whether a match exists)."""

    def __init__(self, text: str, re2: bool) -> None:
        self.t = text
        self.i = 0
        self.re2 = re2

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        c = self.t[self.i]
        self.i += 1
        return c

    def alternation(self) -> Any:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else _Alt(tuple(branches))

    def sequence(self) -> Any:
        items: list[Any] = []
        while self.peek() not in (None, "|", ")"):
            items.append(self.quantified())
        if not items:
            return _EMPTY
        return items[0] if len(items) == 1 else _Cat(tuple(items))

    def quantified(self) -> Any:
        atom = self.atom()
        while True:
            c = self.peek()
            if c == "*":
                self.take()
                atom = _Rep(atom, 0, None)
            elif c == "+":
                self.take()
                atom = _Rep(atom, 1, None)
            elif c == "?":
                self.take()
                atom = _Rep(atom, 0, 1)
            elif c == "{":
                atom = self.counted(atom)
            else:
                return atom
            if self.peek() == "?":  # lazy: the same language
                self.take()
            if self.peek() in ("*", "+", "?", "{"):
                raise _Unsupported  # a doubled quantifier (`a**`): RE2 refuses it

    def counted(self, atom: Any) -> Any:
        end = self.t.find("}", self.i)
        if end < 0:
            raise _Unsupported
        body = self.t[self.i + 1:end]
        lo, sep, hi = body.partition(",")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise _Unsupported
        n = int(lo)
        m = int(hi) if hi else None
        if n > 1000 or (m is not None and (m > 1000 or m < n)):
            raise _Unsupported
        self.i = end + 1
        return _Rep(atom, n, m if sep else n)

    def atom(self) -> Any:
        c = self.take()
        if c == "(":
            if self.t.startswith("?:", self.i):
                self.i += 2
            elif self.peek() == "?":
                raise _Unsupported  # flags, named groups, look-around
            inner = self.alternation()
            if self.peek() != ")":
                raise _Unsupported
            self.take()
            return inner
        if c == ".":
            return _Set((("\n", "\n"),), True)
        if c == "[":
            return self.klass()
        if c == "\\":
            return self.escape(in_class=False)
        if c in "^$)*+?{}|":
            raise _Unsupported  # an anchor inside the pattern, or a stray operator
        return _Lit(_char_ok(c))

    def escape(self, *, in_class: bool) -> Any:
        if self.peek() is None:
            raise _Unsupported
        c = self.take()
        classes = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
        if c in "dwsDWS" and not self.re2:
            raise _Unsupported  # Python's re: \d, \w and \s are Unicode classes
        if c in classes:
            return ("class", classes[c], False) if in_class else _Set(tuple(classes[c]), False)
        if c in ("D", "W", "S"):
            pairs = classes[c.lower()]
            return ("class", pairs, True) if in_class else _Set(tuple(pairs), True)
        simple = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
        if c in simple:
            ch = simple[c]
        elif not c.isalnum() and ord(c) < 128:
            ch = c  # an escaped punctuation character stands for itself
        else:
            raise _Unsupported  # \b, \x, \p{..}, back-references, ...
        return ("char", ch) if in_class else _Lit(ch)

    def klass(self) -> Any:
        negated = self.peek() == "^"
        if negated:
            self.take()
        pairs: list[tuple[str, str]] = []
        subtract: list[list[tuple[str, str]]] = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise _Unsupported
            if c == "]" and not first:
                self.take()
                break
            first = False
            self.take()
            if c == "[":
                raise _Unsupported  # [[:alpha:]] and friends
            if c == "\\":
                got = self.escape(in_class=True)
                if got[0] == "class":
                    if got[2]:
                        subtract.append(got[1])
                    else:
                        pairs.extend(got[1])
                    continue
                lo = got[1]
            else:
                lo = _char_ok(c)
            if self.peek() == "-" and self.t[self.i + 1:self.i + 2] not in ("]", ""):
                self.take()
                hc = self.take()
                if hc == "\\":
                    got = self.escape(in_class=True)
                    if got[0] != "char":
                        raise _Unsupported
                    hc = got[1]
                hi = _char_ok(hc)
                if ord(hi) < ord(lo):
                    raise _Unsupported
                pairs.append((lo, hi))
            else:
                pairs.append((lo, lo))
        if subtract:
            if negated or len(subtract) > 1 or pairs:
                raise _Unsupported
            return _Set(tuple(subtract[0]), True)
        if not pairs:
            raise _Unsupported
        return _Set(tuple(pairs), negated)


def _parse(pattern: str, re2: bool) -> tuple[bool, bool, Any] | None:
    """(anchored at the start, anchored at the end, the tree between), or None outside the
    exact subset. ``^`` and ``$`` are understood only at the very start and end of the
    pattern, outside any top-level ``|``."""
    start = pattern.startswith("^")
    end = pattern.endswith("$") and not pattern.endswith("\\$")
    body = pattern[1 if start else 0:len(pattern) - 1 if end else len(pattern)]
    try:
        p = _Parser(body, re2)
        inner = p.alternation()
        if p.i != len(body):
            raise _Unsupported
        if (start or end) and _top_level_bar(body):
            raise _Unsupported
        _regex(inner)  # z3 refuses some ranges: refused here too
    except (_Unsupported, IndexError, z3.Z3Exception):
        return None
    return start, end, inner


def search_regex(pattern: str, *, re2: bool) -> Any | None:
    """A z3 regex for the strings in which ``pattern`` finds a match (CEL ``matches`` is a
    search), or ``None`` when the pattern is outside the exact subset.

    ``re2``: the engine matches with RE2; otherwise with Python's ``re``, whose ``$`` also
    matches before a final newline and whose ``\\d \\w \\s`` are Unicode classes (not
    encoded)."""
    parsed = _parse(pattern, re2)
    if parsed is None:
        return None
    start, end, inner = parsed
    parts = [] if start else [z3.Star(_any_char())]
    parts.append(_regex(inner))
    if end:
        if not re2:
            parts.append(z3.Option(z3.Re(str_val("\n"))))
    else:
        parts.append(z3.Star(_any_char()))
    return z3.Concat(*parts) if len(parts) > 1 else parts[0]


def search_holds(s: Any, pattern: str, *, re2: bool) -> Any | None:
    """Whether ``pattern`` finds a match in the z3 string ``s``, or ``None`` outside the exact
    subset. A pattern of at most :data:`MAX_WORDS` words is written as literal tests (equal,
    prefix, suffix or infix, by its anchors); any other as a regex membership."""
    parsed = _parse(pattern, re2)
    if parsed is None:
        return None
    start, end, inner = parsed
    words = _words(inner)
    if words is None:
        return z3.InRe(s, search_regex(pattern, re2=re2))
    ends = ("", "\n") if end and not re2 else ("",)  # Python's `$` also matches before a final newline
    terms = []
    for w in sorted(words):
        for tail in ends:
            lit = str_val(w + tail)
            if start and end:
                terms.append(s == lit)
            elif start:
                terms.append(z3.PrefixOf(lit, s))
            elif end:
                terms.append(z3.SuffixOf(lit, s))
            else:
                terms.append(z3.Contains(s, lit))
    return terms[0] if len(terms) == 1 else z3.Or(*terms)


def _top_level_bar(body: str) -> bool:
    depth = 0
    i = 0
    in_class = False
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def glob_after(pattern: str, prefix: str) -> set[str]:
    """The rest of ``pattern`` once it has matched the literal ``prefix``: every way to match
    it, as patterns for what follows (``*`` may take some of the prefix and go on). A text
    ``prefix + t`` matches ``pattern`` exactly when ``t`` matches one of them; ``[...]`` sets
    are taken literally here, so callers only use it for patterns :mod:`.model_names` encodes (no sets)."""
    states = {pattern}
    for c in prefix:
        nxt: set[str] = set()
        for p in states:
            nxt |= _step(p, c)
        states = nxt
        if not states:
            break
    return states


def _step(p: str, c: str) -> set[str]:
    out: set[str] = set()
    while p.startswith("**"):
        p = p[1:]
    if not p:
        return out
    if p[0] == "*":
        out.add(p)  # the star takes c and stays
        out |= _step(p[1:], c)  # the star takes nothing
    elif p[0] == "?" or p[0] == c:
        out.add(p[1:])
    return out
