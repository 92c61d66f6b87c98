"""Patterns as z3 regular expressions: the RE2 subset that translates exactly (for
``matches``) and ``model-access`` globs (``fnmatch``). Anything else is ``None``: the caller
then treats the match as unknown, never as a guess."""

from __future__ import annotations

from typing import Any

import z3

__all__ = ["MAX_CHAR", "glob_after", "glob_regex", "search_regex"]

MAX_CHAR = 0x2FFFF
"""The highest character z3's strings hold; a pattern that names a higher one is not encoded."""



def _any_char() -> Any:
    return z3.AllChar(z3.ReSort(z3.StringSort()))

_DIGIT = [("0", "9")]
_WORD = [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")]
_SPACE = [("\t", "\n"), ("\f", "\r"), (" ", " ")]
_META = set("\\.^$|?*+()[]{}")


class _Unsupported(Exception):
    pass


def _chars(pairs: list[tuple[str, str]]) -> Any:
    parts = [z3.Range(a, b) if a != b else z3.Re(z3.StringVal(a)) for a, b in pairs]
    return parts[0] if len(parts) == 1 else z3.Union(*parts)


def _not(pairs: list[tuple[str, str]]) -> Any:
    return z3.Intersect(_any_char(), z3.Complement(_chars(pairs)))


def _char_ok(c: str) -> str:
    if ord(c) > MAX_CHAR or 0xD800 <= ord(c) <= 0xDFFF:
        raise _Unsupported
    return c


class _Parser:
    """A recursive-descent reader of the pattern's exact subset: literals, ``.``, classes
    (``[a-z]``, ``[^...]``, ``\\d \\w \\s`` and their negations), groups (capturing or ``(?:``),
    ``|``, and the quantifiers ``* + ? {n} {n,} {n,m}`` (lazy forms too: they do not change
    whether a match exists)."""

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
        return branches[0] if len(branches) == 1 else z3.Union(*branches)

    def sequence(self) -> Any:
        items: list[Any] = []
        while self.peek() not in (None, "|", ")"):
            items.append(self.quantified())
        if not items:
            return z3.Re(z3.StringVal(""))
        return items[0] if len(items) == 1 else z3.Concat(*items)

    def quantified(self) -> Any:
        atom = self.atom()
        while True:
            c = self.peek()
            if c == "*":
                self.take()
                atom = z3.Star(atom)
            elif c == "+":
                self.take()
                atom = z3.Plus(atom)
            elif c == "?":
                self.take()
                atom = z3.Option(atom)
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
        if not sep:
            return z3.Loop(atom, n, n) if n else z3.Re(z3.StringVal(""))
        if m is None:
            return z3.Concat(z3.Loop(atom, n, n), z3.Star(atom)) if n else z3.Star(atom)
        return z3.Loop(atom, n, m) if m else z3.Re(z3.StringVal(""))

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
            return _not([("\n", "\n")])
        if c == "[":
            return self.klass()
        if c == "\\":
            return self.escape(in_class=False)
        if c in "^$)*+?{}|":
            raise _Unsupported  # an anchor inside the pattern, or a stray operator
        return z3.Re(z3.StringVal(_char_ok(c)))

    def escape(self, *, in_class: bool) -> Any:
        if self.peek() is None:
            raise _Unsupported
        c = self.take()
        classes = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
        if c in "dwsDWS" and not self.re2:
            raise _Unsupported  # Python's re: \d, \w and \s are Unicode classes
        if c in classes:
            return ("class", classes[c], False) if in_class else _chars(classes[c])
        if c in ("D", "W", "S"):
            pairs = classes[c.lower()]
            return ("class", pairs, True) if in_class else _not(pairs)
        simple = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
        if c in simple:
            ch = simple[c]
        elif not c.isalnum() and ord(c) < 128:
            ch = c  # an escaped punctuation character stands for itself
        else:
            raise _Unsupported  # \b, \x, \p{..}, back-references, ...
        return ("char", ch) if in_class else z3.Re(z3.StringVal(ch))

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
            return _not(subtract[0])
        if not pairs:
            raise _Unsupported
        return _not(pairs) if negated else _chars(pairs)


def search_regex(pattern: str, *, re2: bool) -> Any | None:
    """A z3 regex for the strings in which ``pattern`` finds a match (CEL ``matches`` is a
    search), or ``None`` when the pattern is outside the exact subset.

    ``^`` and ``$`` are understood only at the very start and end of the pattern, outside
    any top-level ``|``. ``re2``: the engine matches with RE2; otherwise with Python's ``re``,
    whose ``$`` also matches before a final newline and whose ``\\d \\w \\s`` are Unicode
    classes (not encoded)."""
    text = pattern
    start = text.startswith("^")
    end = text.endswith("$") and not text.endswith("\\$")
    body = text[1 if start else 0:len(text) - 1 if end else len(text)]
    try:
        p = _Parser(body, re2)
        inner = p.alternation()
        if p.i != len(body):
            raise _Unsupported
        if (start or end) and _top_level_bar(body):
            raise _Unsupported
    except (_Unsupported, IndexError, z3.Z3Exception):
        return None
    parts = [] if start else [z3.Star(_any_char())]
    parts.append(inner)
    if end:
        if not re2:
            parts.append(z3.Option(z3.Re(z3.StringVal("\n"))))
    else:
        parts.append(z3.Star(_any_char()))
    return z3.Concat(*parts) if len(parts) > 1 else parts[0]


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


def glob_regex(pattern: str) -> Any | None:
    """``fnmatch.fnmatchcase``'s language as a z3 regex: ``*`` any text (``/`` included),
    ``?`` one character, anything else literal; ``[...]`` sets are not encoded (None)."""
    if "[" in pattern:
        return None
    parts: list[Any] = []
    lit = ""
    for c in pattern:
        if c in "*?":
            if lit:
                parts.append(z3.Re(z3.StringVal(lit)))
                lit = ""
            parts.append(z3.Star(_any_char()) if c == "*" else _any_char())
        else:
            if ord(c) > MAX_CHAR:
                return None
            lit += c
    if lit or not parts:
        parts.append(z3.Re(z3.StringVal(lit)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def glob_after(pattern: str, prefix: str) -> set[str]:
    """The rest of ``pattern`` once it has matched the literal ``prefix``: every way to match
    it, as patterns for what follows (``*`` may take some of the prefix and go on). A text
    ``prefix + t`` matches ``pattern`` exactly when ``t`` matches one of them; ``[...]`` sets
    are taken literally here, so callers only use it for patterns :func:`glob_regex` encodes."""
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
