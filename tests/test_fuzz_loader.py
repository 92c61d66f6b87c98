"""Whatever the input, loading gives a policy or a PolicyError: never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap

FORMATS = ("dsl", "yaml", "json")

# fragments that make random text look like each form, to reach deeper into the parsers
DSL_BITS = ["policy", "{", "}", "on", "request", "response", "rule", '"r"', "when", "deny",
            "403", "token-limit", "name:", "capacity:", "1m", "80%", "200_000", "[", "]", ",",
            "ai.model", "==", "&&", "(", ")", "'x'", "${", "#", "\n", "default", "allow"]
YAML_BITS = ["on_http_request:", "\n", "  - ", "actions:", "type: deny", "config:", "{", "}",
             "[", "]", "expressions:", "'a == 1'", ": ", "&a", "*a", "!!str", "- ", "name: x",
             "rate: 60s", "capacity: 10", "#", "\t", '"', "'", "on_tcp_connect:"]


def check(text: str, fmt: str) -> None:
    try:
        ap.loads(text, fmt)
    except ap.PolicyError as error:
        assert error.diagnostics
        for d in error.diagnostics:
            assert d.code.startswith("AIGW") and d.message


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_random_text(fmt: str, text: str) -> None:
    check(text, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_decoded(fmt: str, data: bytes) -> None:
    check(data.decode("utf-8", errors="replace"), fmt)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(DSL_BITS), max_size=60))
def test_dsl_shaped_noise(bits: list[str]) -> None:
    check(" ".join(bits), "dsl")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(YAML_BITS), max_size=60))
def test_yaml_shaped_noise(bits: list[str]) -> None:
    check("".join(bits), "yaml")


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("policy { on request { rule { when " + "(" * 50_000 + "1" + ")" * 50_000
         + " deny } } }", "dsl"),
        ("policy { on request { rule { when " + "-" * 50_000 + "1 deny } } }", "dsl"),
        ("policy { on request { rule { when " + "!" * 50_000 + "true deny } } }", "dsl"),
        ("policy { on request { rule { when " + "[" * 20_000 + " deny } } }", "dsl"),
        ("policy {" * 20_000, "dsl"),
        ("[" * 100_000, "yaml"),
        ("a:\n" + "  " * 5_000 + "b: 1", "yaml"),
        ("[" * 100_000 + "]" * 100_000, "json"),
        ("on_http_request:\n  - expressions: ['" + "(" * 50_000 + "']\n    actions: [{type: deny}]",
         "yaml"),
    ],
    ids=["dsl-parens", "dsl-minus", "dsl-bang", "dsl-lists", "dsl-blocks", "yaml-flow",
         "yaml-indent", "json-nesting", "yaml-cel-nesting"],
)
def test_huge_and_deep_input(text: str, fmt: str) -> None:
    check(text, fmt)
