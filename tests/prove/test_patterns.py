"""Regexes and globs as z3 formulas agree with the engine's own matching on concrete texts,
both as regular expressions and as the literal tests (equal, prefix, suffix, infix) that
replace them when exact (a pattern outside the exact subset must be refused, not
approximated)."""

from __future__ import annotations

import fnmatch

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.cel.runtime.stdlib import RE_ENGINE, regex_matcher
from aigw_policy.engine.actions import model_access_refusal
from aigw_policy.prove.model_names import allow_holds, deny_holds
from aigw_policy.prove.regex import glob_after, search_holds, search_regex

ATOMS = ["a", "b", "-", ".", "[ab]", "[^a]", "[a-c0-9]", "\\.", "\\d", "\\w", "\\s", "(a|bc)", "(?:ab)"]
TEXTS = st.text(alphabet="ab-c.0 \n", max_size=6)


def holds(regex: object, text: str) -> bool:
    return true(z3.InRe(z3.StringVal(text), regex))  # type: ignore[arg-type]


def true(formula: object) -> bool:
    got = z3.simplify(formula)  # type: ignore[arg-type]
    assert z3.is_true(got) or z3.is_false(got)
    return z3.is_true(got)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(ATOMS), st.sampled_from(["", "*", "+", "?", "{2}", "{1,2}"])),
                          min_size=1, max_size=4))
    body = "".join(a + q for a, q in parts)
    if draw(st.booleans()):
        body = body + "|" + draw(st.sampled_from(ATOMS))
        return body  # no anchors around a top-level `|`
    return ("^" if draw(st.booleans()) else "") + body + ("$" if draw(st.booleans()) else "")


@settings(max_examples=200)
@given(patterns(), st.lists(TEXTS, min_size=5, max_size=5))
def test_regexes_agree_with_the_engine(pattern: str, texts: list[str]) -> None:
    regex = search_regex(pattern, re2=RE_ENGINE == "re2")
    if regex is None:
        assert RE_ENGINE != "re2" and any(c in pattern for c in ("\\d", "\\w", "\\s"))
        return
    match = regex_matcher(pattern)
    for text in texts:
        assert holds(regex, text) == match(text), (pattern, text)
        assert true(search_holds(z3.StringVal(text), pattern, re2=RE_ENGINE == "re2")) == match(text), (pattern, text)


@pytest.mark.parametrize("pattern, literal", [
    ("^gpt-4o$", True), ("^claude-(opus|sonnet)-[0-9]$", True), ("opus", True), ("^gpt-4(o|[.]1)?", True),
    ("-mini$", True), ("^a{2,3}b?$", True), ("^claude-.*$", False), ("^[a-z]+$", False), ("^[^a]$", False),
])
def test_few_word_patterns_are_literal_tests(pattern: str, literal: bool) -> None:
    got = search_holds(z3.String("s"), pattern, re2=True)
    assert got is not None
    regexes = []

    def walk(e: z3.ExprRef) -> None:
        if z3.is_app_of(e, z3.Z3_OP_SEQ_IN_RE):
            regexes.append(e)
        for c in e.children():
            walk(c)

    walk(got)
    assert (not regexes) == literal, got


def test_unsupported_regexes_are_refused() -> None:
    for pattern in ("(?i)abc", "a\\bb", "(?=a)", "a^b", "[[:alpha:]]", "\\p{L}", "(a)\\1"):
        assert search_regex(pattern, re2=True) is None, pattern


class _Access:
    def __init__(self, deny: list[str] | None = None, allow: list[str] | None = None) -> None:
        self.deny, self.allow, self.status_code = deny, allow, None


def decided(formula: object) -> bool:
    """A formula over constants, decided (simplify leaves some memberships standing)."""
    solver = z3.Solver()
    solver.add(formula)  # type: ignore[arg-type]
    got = solver.check()
    assert got in (z3.sat, z3.unsat)
    return got == z3.sat


def agree(pattern: str, provider: str, text: str) -> None:
    """The prover's deny and allow of ``pattern`` say of ``provider``'s ``text`` what the engine does."""
    model, who = z3.String("model"), z3.StringVal(provider)
    providers = [provider, "other"]
    engine_denies = model_access_refusal(_Access(deny=[pattern]), provider, text, "r") is not None
    engine_allows = model_access_refusal(_Access(allow=[pattern]), provider, text, "r") is None
    denies, allows = deny_holds(model, who, pattern, providers), allow_holds(model, who, pattern, providers)
    if "?" in pattern or " " in pattern:  # not encoded: the prover answers unknown
        assert (denies, allows) == (None, None)
        return
    assert decided(z3.And(model == z3.StringVal(text), denies)) == engine_denies, ("deny", pattern, provider, text)
    assert decided(z3.And(model == z3.StringVal(text), allows)) == engine_allows, ("allow", pattern, provider, text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aB/-*?:. ", max_size=6), st.sampled_from(["ab", "a.b", "A"]),
       st.lists(st.text(alphabet="Ab/-: .K\u212a1", max_size=7), min_size=3, max_size=3))
def test_model_globs_agree_with_the_engine(glob: str, provider: str, texts: list[str]) -> None:
    for text in texts:
        agree(glob, provider, text)


@settings(max_examples=200)
@given(st.text(alphabet="ab/*?-", max_size=6), st.text(alphabet="ab/-", max_size=3),
       st.text(alphabet="ab/-", max_size=6))
def test_glob_after_agrees_with_fnmatch(glob: str, prefix: str, text: str) -> None:
    rest = glob_after(glob, prefix)
    assert any(fnmatch.fnmatchcase(text, r) for r in rest) == fnmatch.fnmatchcase(prefix + text, glob)


EDGE_TEXTS = ["", "a", "aa", "ab", "ba", "aba", "abba", "ababa", "xab", "abx", "ab\n", "ab\n\n", "a-1", "b-2\n", "c"]


@pytest.mark.parametrize("pattern", ["^ab$", "^ab", "ab$", "ab", "^a(b|c)?$", "a{2}", "^(a|b)-[0-9]$", "b?a$",
                                     "^$", "^(ab|)$", "(?:a|ab)\\n$"])
def test_literal_tests_agree_at_the_edges(pattern: str) -> None:
    import re

    for text in EDGE_TEXTS:
        s = z3.StringVal(text)
        assert true(search_holds(s, pattern, re2=False)) == bool(re.search(pattern, text)), (pattern, text)
        if RE_ENGINE == "re2":
            assert true(search_holds(s, pattern, re2=True)) == regex_matcher(pattern)(text), (pattern, text)


MODEL_TEXTS = ["gpt-4o", "GPT-4O", " gpt-4o\t", "gpt-4o-2024-08-06", "openai/gpt-4o", "openai:GPT-4o@latest",
               "us.gpt-4o-v2:0", "gpt-4o-mini", "xgpt-4o", "gpt-4\u212ao", "", " ", "gpt-4o-12", "gpt-4o-1234-56",
               "gpt-4o" + "x" * 250, "gpt-4o" + "x" * 251, ":" * 300]  # the last two: longer than MAX_NAME


@pytest.mark.parametrize("glob", ["gpt-4o", "GPT-4o*", "*4o", "openai/gpt-4o", "o*/*", "*", "?pt-4o", "",
                                  "gpt-4?", "*?", " gpt-4o", "gpt 4o"])
def test_model_globs_agree_at_the_edges(glob: str) -> None:
    for text in MODEL_TEXTS:
        agree(glob, "openai", text)
