"""The two YAML readers of :mod:`aigw_policy.syntax.yaml_tree` agree: libyaml's C parser read
as events (:mod:`aigw_policy.syntax.yaml_events`, the fast path) and PyYAML's pure-Python
parser (the path on a machine without libyaml, and the one whose messages are the
diagnostics). For any text, both give the same tree (values, tags, spans) and the same
diagnostics (codes, messages, locations)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.source import Source
from aigw_policy.syntax import yaml_events, yaml_tree

needs_libyaml = pytest.mark.skipif(not yaml_events.available(), reason="PyYAML without libyaml")


def read(text: str, *, fast: bool, json_mode: bool = False) -> tuple[Any, list[Any]]:
    saved = yaml_events.CParser
    if not fast:
        yaml_events.CParser = None
    try:
        diags = Diagnostics()
        tree = yaml_tree.compose(Source(text, "p.yaml"), diags, json_mode=json_mode)
    finally:
        yaml_events.CParser = saved
    return tree, list(diags.items)


def same_both_ways(text: str, json_mode: bool = False) -> None:
    fast = read(text, fast=True, json_mode=json_mode)
    slow = read(text, fast=False, json_mode=json_mode)
    assert repr(fast) == repr(slow)  # repr: NaN equal to NaN, 1 told from 1.0 and True


# pieces that make random text YAML-shaped, to reach every scanner state
BITS = ["on_http_request:", "\n", "  ", "- ", "-", "actions:", "type: deny", "config:", "{", "}",
        "[", "]", ",", "expressions:", "'a == 1'", ": ", ":", "&a ", "*a", "&b ", "*b", "<<: ",
        "!!str ", "!!int ", "!x ", "!(a in b) ", "? ", "?", "name: x", "x", "1", "0x1F", "1_000",
        "1e3", ".inf", "-.nan", "yes", "No", "true", "~", "null", "2001-12-14", "0o17", "017",
        "#c", " #c", "\"", "'", "\\", "\"\\u00e9\\x41\\/\\N\"", "|", ">", "|-", ">+2", "|2",
        "---", "...", "%YAML 1.1\n", "%TAG !e! tag:e.com,2000:\n", "\r\n", "\r", "\t", "é",
        "\u2028", "\x85", "\ufeff", "@", "`", "%", "    ", "key with spaces: v", "a:b", "[a:b]",
        "{a: 1, b}", "- [1, {x: y}]", "? [k]\n: v\n", "\x07"]


@st.composite
def plain_data(draw: st.DrawFn) -> Any:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                        st.text(max_size=12), st.sampled_from(["yes", "0o7", "1e3", "- x", "#", "a: b"]))
    return draw(st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
        max_leaves=20))


@needs_libyaml
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(BITS), max_size=40))
@example(["on_http_request:", "\n", "  ", "- ", "name: x", "\n", "  ", "  ", "actions:", "\n"])
def test_yaml_shaped_noise(bits: list[str]) -> None:
    same_both_ways("".join(bits))


@needs_libyaml
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_data(), st.sampled_from([None, True, False]), st.booleans(), st.integers(2, 6),
       st.data())
def test_dumped_data_and_its_mutations(data: Any, flow: bool | None, canonical: bool, indent: int,
                                       draw: st.DataObject) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, canonical=canonical, indent=indent,
                          allow_unicode=True)
    same_both_ways(text)
    same_both_ways(json.dumps(data, indent=indent), json_mode=True)
    at = draw.draw(st.integers(0, len(text)))
    bit = draw.draw(st.sampled_from(BITS))
    same_both_ways(text[:at] + bit + text[at:])  # one edit away: most are errors


@needs_libyaml
@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=200))
@example("a: \ud800\n")  # a lone surrogate, which libyaml's UTF-8 cannot carry
def test_any_text(text: str) -> None:
    same_both_ways(text)


NESTED = [
    ("deep flow lists", "[" * 100 + "]" * 100),
    ("deep block mappings", "".join(" " * i + f"k{i}:\n" for i in range(100)) + " " * 100 + "v\n"),
    ("deep aliases", "a: &a [" + "[" * 62 + "x" + "]" * 62 + "]\nb: [*a]\n"),
    ("self alias", "a: &a [*a]\n"),
    ("billion laughs", "a: &a [x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
               for p, c in zip("abcdefgh", "bcdefghi"))),
    ("undefined alias", "a: *nope\n"),
    ("repeated anchor", "a: &x 1\nb: &x 2\n"),
    ("two documents", "a: 1\n---\nb: 2\n"),
    ("a null document after", "a: 1\n---\n...\n"),
    ("a manifest", ("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: ngrok.k8s.ngrok.com/v1alpha1\n"
                    "kind: NgrokTrafficPolicy\nmetadata: {name: p}\nspec:\n  policy:\n    on_http_request: []\n")),
    ("a scan error", "a: 'open\n"),
    ("a bad escape", 'a: "\\q"\n'),
    ("a duplicate key", "a: 1\na: 2\n"),
    ("a merge", "d: &d {x: 1}\ne:\n  <<: *d\n  y: 2\n"),
]


@needs_libyaml
@pytest.mark.parametrize("text", [t for _, t in NESTED], ids=[w for w, _ in NESTED])
def test_hostile_and_broken_documents(text: str) -> None:
    same_both_ways(text)


@needs_libyaml
def test_a_plain_policy_skips_the_pure_python_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    """With libyaml, a policy without a tab, BOM or odd line break is read by libyaml alone."""

    def refuse(text: str) -> None:
        raise AssertionError("the pure-Python reader read a plain policy")

    monkeypatch.setattr(yaml_tree, "_Loader", refuse)
    text = "on_http_request:\n  - name: t0\n    expressions: ['ai.model == \"o3\"']\n" \
           "    actions:\n      - type: deny\n        config: {status_code: 403}\n"
    diags = Diagnostics()
    tree = yaml_tree.compose(Source(text), diags, json_mode=False)
    assert not diags.items and isinstance(tree, yaml_tree.Map)


SHORT = ["a", ":", "?", " ", ",", "[", "]", "{", "}", "-", "'", "#"]
WRAPS = ["[{}]\n", "{{{}}}\n", "{{k: {}}}\n", "k: {}\n", "- {}\n"]


@needs_libyaml
@pytest.mark.parametrize("wrap", WRAPS)
def test_every_short_text(wrap: str) -> None:
    """Every text of up to three of these characters, in and out of flow collections: where
    the scanners differ most (a `?` inside a flow plain scalar, an empty value in a flow
    collection, `:` before a flow indicator)."""
    texts = [""] + SHORT
    texts += [a + b for a in SHORT for b in SHORT]
    texts += [a + b + c for a in SHORT for b in SHORT for c in SHORT]
    for text in texts:
        same_both_ways(wrap.format(text))


ONCE = [
    ("the word policy in a rule", "on_http_request:\n  - name: policy-check\n    actions:\n      - type: deny\n"),
    ("a Kubernetes resource", ("apiVersion: ngrok.k8s.ngrok.com/v1alpha1\nkind: NgrokTrafficPolicy\n"
                               "metadata: {name: p}\nspec:\n  policy:\n    on_http_request:\n"
                               "      - actions: [{type: deny}]\n")),
    ("a duplicate key beside the word", "on_http_request: []\non_http_request: []\n# policy\n"),
    ("an error beside the word", "on_http_request: [\n# policy\n"),
]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("text", [t for _, t in ONCE], ids=[w for w, _ in ONCE])
def test_a_document_is_composed_once(monkeypatch: pytest.MonkeyPatch, text: str, fmt: str) -> None:
    """Looking for a policy held as a string (a document that names `policy`) composes the
    document; the reader then reads that tree, not a second compose of the same text, and
    finds what it found before."""
    from aigw_policy import loader
    from aigw_policy.syntax import held_policy

    if fmt == "json":
        text = json.dumps(yaml.safe_load(text.replace("[\n# policy\n", "[]\n")) or {"policy": 1})
    expected = loader.read(text, format=fmt, cache_dir=None)
    calls = []
    real = yaml_tree.compose

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(held_policy, "compose", counted)
    monkeypatch.setattr("aigw_policy.syntax.yaml_form.compose", counted)
    assert repr(loader.read(text, format=fmt, cache_dir=None)) == repr(expected)
    assert len(calls) == 1
