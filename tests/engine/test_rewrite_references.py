"""`lint` warns (AIGW404) about a `$` reference in a `redirect`'s or `url-rewrite`'s `to`
exactly when the engine's Go-style expansion replaces it by nothing: the warning and the
run-time behaviour are one rule, whatever the groups of `from` and the reference's spelling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine.http_actions import expand


def _warned(to: str, pattern: str | None, action: str = "url-rewrite") -> list[str]:
    config = (f"          from: '{pattern}'\n" if pattern is not None else "") + f"          to: '{to}'\n"
    doc = f"on_http_request:\n  - actions:\n      - type: {action}\n        config:\n{config}"
    return [d.message for d in ap.read(doc, name="x.yaml", cache_dir=None)[1] if d.code == "AIGW404"]


NAMES = st.one_of(st.integers(0, 4).map(str),
                  st.sampled_from(["id", "rest", "args", "host", "1_v2", "0x", "arg_q"]))


@settings(max_examples=120, deadline=None)
@given(plain=st.integers(0, 3), named=st.lists(st.sampled_from(["id", "rest"]), unique=True), name=NAMES)
def test_the_warning_is_the_expansion_s_empty_reference(plain: int, named: list[str], name: str) -> None:
    pattern = "/a" + "(x)" * plain + "".join(f"(?P<{n}>y)" for n in named)
    match = re.search(pattern, "/a" + "x" * plain + "y" * len(named))
    assert match is not None
    empty = expand(f"${name}", match) == ""
    assert bool(_warned(f"/b/${name}/", pattern)) == empty, (pattern, name)


@pytest.mark.parametrize(("to", "pattern"), [
    ("/b/$0", None), ("/b/$1", "/a/(.*)"), ("/b/$name", "/a/(?P<name>.*)"), ("/b/$$1", None),
    ("/b/${req.host}/$0", None), ("/b/$1", "/${req.host}/(.*)"), ("/b/$1/", "(")  # a bad `from`: AIGW304 alone
])
def test_no_warning_for_a_reference_that_names_a_group(to: str, pattern: str | None) -> None:
    assert _warned(to, pattern, "redirect") == []
