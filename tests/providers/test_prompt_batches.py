"""A legacy completion's ``prompt`` may be a list of prompts (OpenAI's `/v1/completions`, and
vLLM's, Together's, Fireworks' compatible servers): each prompt gets its own ``n`` choices of up
to ``max_tokens`` ("choices" of the answer, one per prompt and ``n``), all billed. The output
reservation counted one prompt's: a batch of 50 prompts reserved a fiftieth of what it may
cost. A list of token ids is one prompt; a list of such lists is a batch."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_policy.providers import classify

URL = "https://api.openai.com/v1/completions"
CASES: list[tuple[str, dict[str, Any], int]] = [
    ("one string", {"prompt": "Say this is a test"}, 1),
    ("one string, n 2", {"prompt": "Say this is a test", "n": 2}, 2),
    ("three strings", {"prompt": ["a", "b", "c"]}, 3),
    ("three strings, n 2", {"prompt": ["a", "b", "c"], "n": 2}, 6),
    ("three strings, best_of 3 n 2", {"prompt": ["a", "b", "c"], "n": 2, "best_of": 3}, 9),
    ("one list of token ids", {"prompt": [1212, 318, 257, 1332]}, 1),
    ("two lists of token ids", {"prompt": [[1212, 318], [257, 1332]]}, 2),
    ("a list of one string", {"prompt": ["a"]}, 1),
    ("an empty list", {"prompt": []}, 1),
]


@pytest.mark.parametrize(("name", "fields", "want"), CASES, ids=[c[0] for c in CASES])
def test_each_prompt_of_a_batch_has_its_choices(name: str, fields: dict[str, Any], want: int) -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "max_tokens": 100, **fields}
    ai = classify({"method": "POST", "url": URL, "headers": {}, "body": body})
    assert (ai.operation, ai.max_output_tokens, ai.choices) == ("completion", 100, want)


def test_a_batch_reserves_each_prompts_output() -> None:
    import aigw_policy as ap
    engine = ap.Engine(ap.loads('policy { on request { rule "t" { token-limit { name: "t", capacity: 1000, '
                                'rate: "1h", bucket_key: ["x"] } } } }'))
    body = {"model": "gpt-3.5-turbo-instruct", "max_tokens": 200, "prompt": ["a", "b", "c", "d", "e", "f"]}
    decision = engine.evaluate({"request": {"method": "POST", "url": URL, "headers": {}, "body": body}},
                               expect_response=False)
    assert decision.status_code == 429  # 6 x 200 output tokens: above the 1,000 a window holds
