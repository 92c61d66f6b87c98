"""Vendor usage classes around the fixtures in ``data/spec/`` (run through ``explain`` by
test_spec_payloads.py): Anthropic's compaction ``iterations``, Moonshot's usage in a stream's
choice, the counts Perplexity and Moonshot put at the top level of ``usage``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

ANTHROPIC = {"method": "POST", "url": "https://api.anthropic.com/v1/messages",
             "body": {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}
COMPAT = {"method": "POST", "url": "https://api.example.com/v1/chat/completions",
          "body": {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}}
ITERATIONS = [{"type": "compaction", "input_tokens": 180000, "output_tokens": 3500, "cache_read_input_tokens": 2000,
               "cache_creation_input_tokens": 0},
              {"type": "message", "input_tokens": 23000, "output_tokens": 1000}]


def _sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e.get('type', 'x')}\ndata: {json.dumps(e)}\n\n" for e in events)


def test_compaction_iterations_are_added_once_in_a_stream() -> None:
    """``message_start`` gives the top-level input, each ``message_delta`` the cumulative counts
    with the compaction iteration: it is added to the top-level counts once, however often the
    delta repeats."""
    ai = classify(ANTHROPIC)
    start = {"type": "message_start", "message": {"model": "claude-sonnet-4-6",
                                                  "usage": {"input_tokens": 23000, "output_tokens": 1}}}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
             "usage": {"input_tokens": 23000, "output_tokens": 1000, "iterations": ITERATIONS}}
    for deltas in ([delta], [delta, delta]):
        sse = _sse(start, *deltas, {"type": "message_stop"})
        u = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": sse})
        assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.source) == (205000, 4500, 2000, "provider")


def test_on_demand_compaction_counts_only_its_iteration() -> None:
    """On-demand compaction answers with zero top-level counts: the compaction is the bill."""
    u = extract_usage(classify(ANTHROPIC), {"status_code": 200, "headers": {}, "body": {"usage": {
        "input_tokens": 0, "output_tokens": 0, "iterations": ITERATIONS[:1]}}})
    assert (u.input_tokens, u.output_tokens, u.source) == (182000, 3500, "provider")


@pytest.mark.parametrize("iterations", [
    {"type": "compaction"}, "many", [3], [{"type": "compaction", "input_tokens": -1, "output_tokens": 5}],
    [{"type": "compaction", "input_tokens": 5, "output_tokens": 5, "cache_creation": 7}],
])
def test_bad_iterations_make_the_usage_untrusted(iterations: object) -> None:
    """A bad ``iterations`` is a bad count: an estimate, never the top-level counts alone."""
    u = extract_usage(classify(ANTHROPIC), {"status_code": 200, "headers": {}, "body": {"usage": {
        "input_tokens": 23000, "output_tokens": 1000, "iterations": iterations}}})
    assert u.source == "estimate"


def test_other_iterations_are_counted_at_the_top_level_already() -> None:
    """Only ``compaction`` entries are added: the top level is the sum of the others."""
    u = extract_usage(classify(ANTHROPIC), {"status_code": 200, "headers": {}, "body": {"usage": {
        "input_tokens": 23000, "output_tokens": 1000, "iterations": ITERATIONS[1:] + [{"type": "message"}]}}})
    assert (u.input_tokens, u.output_tokens) == (23000, 1000)


def test_usage_in_a_choice_and_again_at_the_top_level_is_charged_once() -> None:
    """Moonshot puts the usage in the finishing chunk's choice, and (asked for it) again at the
    top level of a trailing ``choices: []`` chunk: the same counts, once."""
    usage = {"prompt_tokens": 83, "completion_tokens": 11, "total_tokens": 94}
    chunks = [{"model": "kimi-k2", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]},
              {"model": "kimi-k2", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": usage}]},
              {"model": "kimi-k2", "choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    ai = classify(COMPAT, provider="openai_compatible")
    u = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": sse})
    assert (u.input_tokens, u.output_tokens, u.source, u.model) == (83, 11, "provider", "kimi-k2")


@pytest.mark.parametrize("beside", [{"citation_tokens": "many"}, {"reasoning_tokens": -3}, {"citation_tokens": 1.5}])
def test_a_bad_count_beside_the_totals_makes_the_usage_untrusted(beside: dict[str, Any]) -> None:
    ai = classify(dict(COMPAT, body={**COMPAT["body"], "stream": False}), provider="openai_compatible")
    u = extract_usage(ai, {"status_code": 200, "headers": {}, "body": {"model": "sonar", "usage": {
        "prompt_tokens": 19, "completion_tokens": 7, "total_tokens": 26, **beside}}})
    assert u.source == "estimate"
