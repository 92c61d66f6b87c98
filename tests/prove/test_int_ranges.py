"""The ints a request carries, bounded to what a request can hold (docs/prove.md, "What is
modelled"): pairs of conditions that differ only where an int is out of that range are
`equivalent`; where a request can reach the range's edge (a batch's summed output caps past
int64, which CEL reads as an error) the answer is a counterexample the engine confirms,
never a wrong proof."""

from __future__ import annotations

import pytest

from aigw_policy.env.request import RequestError
from aigw_policy.prove.questions import equiv, query
from aigw_policy.prove.symbolic import BATCH_MAX_OUTPUT, INT_MAX, MAX_COUNT, MAX_INPUT_TOKENS

from .helpers import compiled, explain

HEAD = "on_http_request:\n"


def deny_when(condition: str, op: str | None = None) -> str:
    guard = f"ai.operation == '{op}' && " if op else ""
    return HEAD + f"  - name: r\n    expressions: [\"{guard}{condition}\"]\n    actions: [{{type: deny}}]\n"


# (id, old condition, new condition, operation both are guarded by or None, result)
EQUIV_CASES = [
    # an API takes at most 2^53-1 output tokens: doubling it never overflows, for any operation
    # but a batch creation's ("other"), whose caps are summed
    ("double-output-chat", "ai.max_output_tokens * 2 > 100", "ai.max_output_tokens > 50", "chat", "equivalent"),
    ("shift-output-chat", "ai.max_output_tokens + 1 > 10", "ai.max_output_tokens > 9", "chat", "equivalent"),
    ("times-1000-output-responses", "ai.max_output_tokens * 1000 >= 1000", "ai.max_output_tokens >= 1", "responses",
     "equivalent"),
    # a batch's summed caps reach 2^62 and past int64: the doubling overflows there, an error (500)
    ("double-output-batch", "ai.max_output_tokens * 2 > 100", "ai.max_output_tokens > 50", "other", "counterexample"),
    # input tokens come from a body held in memory: far below int64
    ("double-input", "ai.input_tokens * 2 > 100", "ai.input_tokens > 50", None, "equivalent"),
    ("sum-input-messages", "ai.input_tokens + ai.messages > 10", "ai.messages + ai.input_tokens > 10", None,
     "equivalent"),
    ("shift-messages", "ai.messages + 1 > 3", "ai.messages > 2", None, "equivalent"),
    ("negative-never", "ai.input_tokens - 1 < -1", "false", None, "equivalent"),
    ("cap-in-range", "ai.max_output_tokens <= 9007199254740991", "true", "chat", "equivalent"),
]


@pytest.mark.parametrize("old, new, op, result", [c[1:] for c in EQUIV_CASES], ids=[c[0] for c in EQUIV_CASES])
def test_equiv_within_a_requests_range(old: str, new: str, op: str | None, result: str) -> None:
    a, b = compiled(deny_when(old, op)), compiled(deny_when(new, op))
    answer = equiv(a, b)
    assert answer.result == result, answer.details
    if answer.witness is not None:  # the engine itself tells them apart
        assert explain(a, answer.witness)[:2] != explain(b, answer.witness)[:2]


# (id, condition of the only rule, --verdict deny's answer for `--where true`)
QUERY_CASES = [
    # a batch whose caps sum past int64: reading the cap is an error, and on_error denies (500)
    ("cap-past-int64-errs", "ai.max_output_tokens < 0", "possible"),
    ("cap-at-2^60", "ai.max_output_tokens > 1152921504606846976", "possible"),
    ("cap-past-api-limit-chat", "ai.operation == 'chat' && ai.max_output_tokens > 9007199254740991", "impossible"),
    ("input-tokens-past-bound", f"ai.input_tokens > {MAX_INPUT_TOKENS}", "impossible"),
]


@pytest.mark.parametrize("condition, result", [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES])
def test_query_at_the_ranges_edges(condition: str, result: str) -> None:
    cp = compiled(deny_when(condition))
    answer = query(cp, "true", "deny")
    assert answer.result == result, answer.details
    if answer.witness is not None:
        assert explain(cp, answer.witness)[0] == "deny"


def test_the_bounds_are_the_engines() -> None:
    """The bounds' sources: a cap past 2^53-1 is refused by the classifier, a batch sums at
    most MAX_BATCH_REQUESTS of them."""
    from aigw_policy.providers.batches import MAX_BATCH_REQUESTS

    assert BATCH_MAX_OUTPUT == MAX_BATCH_REQUESTS * (2**53 - 1) > INT_MAX
    assert MAX_COUNT < MAX_INPUT_TOKENS < INT_MAX // 2
    cp = compiled(deny_when("true"))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2**53}
    request = {"id": "x", "now": "2026-01-01T00:00:00Z",
               "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                           "headers": {"content-type": "application/json"}, "body": body}}
    with pytest.raises(RequestError, match="2\\^53-1"):  # refused: not a cap an API takes
        explain(cp, request)


def test_padding_to_an_estimate_no_request_can_reach_is_refused() -> None:
    """A first model's estimate is not bounded by a witness's constraints: padding a prompt to
    2^62 tokens built a string of 2^64 characters (the process was killed for its memory)."""
    from aigw_policy.prove.witness import PAD_LIMIT, pad_to

    data = {"id": "x", "now": "2026-01-01T00:00:00Z",
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}}
    assert pad_to(data, PAD_LIMIT + 1) is None
    assert pad_to(data, 2**62) is None
    assert pad_to(data, 100) is not None
