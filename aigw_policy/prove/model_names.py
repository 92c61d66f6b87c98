"""``model-access`` as z3 formulas over the model name as the client sent it: the languages
:mod:`aigw_policy.engine.model_names` matches, written over the raw name.

The engine strips the name and folds its case before matching; z3 has no case folding, so
the pattern is unfolded instead: each letter of a folded glob is the class of every character
that folds to it (``k``: ``k``, ``K``, the Kelvin sign). The stripping is whitespace around a
text of the glob's language: exact for a glob without ``?`` and whitespace, whose texts with
whitespace at an end are in it stripped too (a ``*`` there takes less; a prefix ends in a
separator, a suffix in a digit or a letter). A glob with ``?``, whitespace or a ``[...]`` set is
not encoded (None: the caller treats the match as unknown, never as a guess): matching a
stripped copy of the model instead (a fresh string tied to it) was exact but made z3 take
seconds to a minute on one concrete name."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

import z3

from ..engine.model_names import FOLDS, MAX_NAME, SEPARATORS, WHITESPACE, fold
from .regex import glob_after
from .values import TEXT_MAX, char_range, str_val

__all__ = ["allow_holds", "deny_holds"]


def _re(text: str) -> Any:
    return z3.Re(str_val(text))


def _union(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else z3.Union(*items)


def _any() -> Any:
    return z3.AllChar(z3.ReSort(z3.StringSort()))


@cache
def _unfolded() -> dict[str, tuple[str, ...]]:
    """Each folded letter and the characters that fold to it, itself first."""
    out: dict[str, list[str]] = {}
    for raw, low in FOLDS.items():
        out.setdefault(low, [low]).append(raw)
    return {k: tuple(v) for k, v in out.items()}


def _lit(text: str) -> Any:
    """The raw texts whose folding is the folded ``text``."""
    classes = _unfolded()
    parts: list[Any] = []
    run = ""
    for c in text:
        if c in classes:
            if run:
                parts.append(_re(run))
                run = ""
            parts.append(_union([_re(x) for x in classes[c]]))
        else:
            run += c
    if run or not parts:
        parts.append(_re(run))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _glob(pattern: str) -> Any | None:
    """The raw texts whose folding matches the folded glob ``pattern`` (None: not encoded)."""
    if any(c in "[?" or c in WHITESPACE or ord(c) > TEXT_MAX for c in pattern):
        return None
    parts: list[Any] = []
    lit = ""
    for c in pattern:
        if c in "*?":
            if lit:
                parts.append(_lit(lit))
                lit = ""
            parts.append(z3.Star(_any()) if c == "*" else _any())
        else:
            lit += c
    if lit or not parts:
        parts.append(_lit(lit))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _fixed() -> tuple[Any, Any, Any]:
    """Whitespace, a prefix a deny skips, and its suffixes (as
    ``VERSION_SUFFIXES`` spells them), made once per z3 context (each question has its own)."""
    return _fixed_in(z3.main_ctx())


@lru_cache(maxsize=1)
def _fixed_in(ctx: Any) -> tuple[Any, Any, Any]:
    runs: list[list[int]] = []
    for c in map(ord, WHITESPACE):
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    space = _union([char_range(chr(a), chr(b)) if a != b else _re(chr(a)) for a, b in runs])
    prefix = z3.Option(z3.Concat(z3.Star(_any()), _union([_re(c) for c in SEPARATORS])))
    digit = char_range("0", "9")
    suffix = z3.Union(
        z3.Concat(_re("-"), z3.Loop(digit, 4, 4), _re("-"), z3.Loop(digit, 2, 2), _re("-"), z3.Loop(digit, 2, 2)),
        z3.Concat(z3.Union(_re("-"), _re("@")), z3.Loop(digit, 3, 8)),
        z3.Concat(z3.Union(_re("-"), _re("@"), _re(":")), _lit("latest")),
        z3.Concat(_re("-"), _lit("v"), z3.Plus(digit)),
        z3.Concat(_re(":"), z3.Plus(digit)),
    )
    return space, prefix, z3.Star(suffix)


def _tails(name: str) -> list[str]:
    """Where in ``name/`` (folded) what a deny matches may begin: at its start, or after a
    separator inside it (the tail after its last ``/`` is the name itself, matched alone)."""
    head = fold(name) + "/"
    return [head] + [head[i + 1:] for i, c in enumerate(head[:-1]) if c in SEPARATORS]


def _in(model: Any, regex: Any) -> Any:
    """Whether ``model``, stripped, is in ``regex``: any whitespace around a text of it (exact
    for the globs :func:`_glob` encodes, see the module's docstring)."""
    space = _fixed()[0]
    return z3.InRe(model, z3.Concat(z3.Star(space), regex, z3.Star(space)))


def deny_holds(model: Any, provider: Any, pattern: str, providers: Iterable[str]) -> Any | None:
    """Whether a deny of glob ``pattern`` refuses ``provider``'s ``model`` (z3 strings), the
    provider one of ``providers``; None when the glob is not encoded."""
    folded = fold(pattern)
    glob = _glob(folded)
    if glob is None:
        return None
    _, prefix, suffixes = _fixed()
    terms = [_in(model, z3.Concat(prefix, glob, suffixes))]
    for who in providers:
        rests = {r for t in _tails(who) for r in glob_after(folded, t)}
        encoded = [g for r in sorted(rests) if (g := _glob(r)) is not None]
        if len(encoded) != len(rests):
            return None
        if encoded:
            terms.append(z3.And(provider == str_val(who),
                                _in(model, z3.Concat(_union(encoded), suffixes))))
    terms.append(z3.Length(model) > MAX_NAME)  # refused unmatched, as the engine does
    return z3.Or(*terms)


def allow_holds(model: Any, provider: Any, pattern: str, providers: Iterable[str]) -> Any | None:
    """Whether an allow of glob ``pattern`` admits ``provider``'s ``model``; None when the
    glob is not encoded."""
    folded = fold(pattern)
    glob = _glob(folded)
    if glob is None:
        return None
    terms = [_in(model, glob)]
    for who in providers:
        rests = glob_after(folded, fold(who) + "/")
        encoded = [g for r in sorted(rests) if (g := _glob(r)) is not None]
        if len(encoded) != len(rests):
            return None
        if encoded:
            terms.append(z3.And(provider == str_val(who), _in(model, _union(encoded))))
    return z3.Or(*terms) if len(terms) > 1 else terms[0]
