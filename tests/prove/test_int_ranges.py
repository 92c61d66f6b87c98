"""The ints a request carries, bounded to what a request can hold (docs/prove.md, "What is
modelled"): pairs of conditions that differ only where an int is out of that range are
`equivalent`, and a bound a request reaches (an output cap of 2^53-1, one request's or a
batch's summed caps: the classifier refuses more) is reached by a witness the engine confirms."""

from __future__ import annotations

import pytest

from aigw_policy.env.request import RequestError
from aigw_policy.prove.questions import equiv, query
from aigw_policy.prove.symbolic import API_MAX_OUTPUT, INT_MAX, MAX_COUNT, MAX_INPUT_TOKENS

from .helpers import compiled, explain

HEAD = "on_http_request:\n"


def deny_when(condition: str, op: str | None = None) -> str:
    guard = f"ai.operation == '{op}' && " if op else ""
    return HEAD + f"  - name: r\n    expressions: [\"{guard}{condition}\"]\n    actions: [{{type: deny}}]\n"


# (id, old condition, new condition, operation both are guarded by or None, result)
EQUIV_CASES = [
    # an API takes at most 2^53-1 output tokens, and a batch's summed caps are refused past it:
    # doubling it never overflows, for any operation
    ("double-output-chat", "ai.max_output_tokens * 2 > 100", "ai.max_output_tokens > 50", "chat", "equivalent"),
    ("shift-output-chat", "ai.max_output_tokens + 1 > 10", "ai.max_output_tokens > 9", "chat", "equivalent"),
    ("times-1000-output-responses", "ai.max_output_tokens * 1000 >= 1000", "ai.max_output_tokens >= 1", "responses",
     "equivalent"),
    # a batch creation ("other"): its requests' caps summed, refused past 2^53-1 (the batch-cap
    # pass: past int64 the sum was a CEL error, a rule skipped under `on_error: skip`)
    ("double-output-batch", "ai.max_output_tokens * 2 > 100", "ai.max_output_tokens > 50", "other", "equivalent"),
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
    # reading the cap never fails (a batch summing past 2^53-1 is refused): never below 0
    ("cap-never-errs", "ai.max_output_tokens < 0", "impossible"),
    ("cap-at-the-bound", "ai.max_output_tokens >= 9007199254740991", "possible"),
    ("cap-past-the-bound", "ai.max_output_tokens > 9007199254740991", "impossible"),
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
    """The bounds' sources: a cap past 2^53-1 is refused by the classifier, and so is a batch
    whose requests' caps sum past it."""
    assert API_MAX_OUTPUT == 2**53 - 1
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


def test_a_batch_summing_caps_past_the_bound_is_refused() -> None:
    """Two requests of 2^53-1 output tokens each in one Anthropic Message Batch: the sum was
    passed to CEL past int64, an error (deny 500 under `on_error: deny`, the rule skipped under
    `on_error: skip`: a way round any rule reading the cap). Now the request is refused."""
    cp = compiled("on_error: skip\n" + deny_when("ai.max_output_tokens > 8000"))
    batch = {"requests": [{"custom_id": f"c{i}", "params": {"model": "claude-sonnet-4", "max_tokens": cap,
                                                            "messages": [{"role": "user", "content": "x"}]}}
                          for i, cap in enumerate((API_MAX_OUTPUT, API_MAX_OUTPUT))]}
    request = {"id": "x", "now": "2026-01-01T00:00:00Z",
               "request": {"method": "POST", "url": "https://api.anthropic.com/v1/messages/batches",
                           "headers": {"content-type": "application/json"}, "body": batch}}
    with pytest.raises(RequestError, match="output tokens in all"):
        explain(cp, request)
    for one in batch["requests"]:  # under the bound: the rule reads the sum
        one["params"]["max_tokens"] = 9000
    assert explain(cp, request)[0] == "deny"
