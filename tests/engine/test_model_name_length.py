"""A deny list refuses a model name longer than any model's without matching it.

A deny matches after any prefix ending in a separator and before any run of version
suffixes (engine/model_names.py); over a made-up name of many separators that match
backtracks in time growing with the square of the name's length (16,000 colons: a second of
CPU). A body's ``model`` is refused past 256 characters before any policy runs, but
``model_access_refusal`` also judges names from elsewhere (a route's candidates, among them
the client's pass-through fallbacks; a model in the path). Names over ``MAX_NAME`` are
refused unmatched, by the engine and the same way by the prover (tests/prove/test_patterns.py);
the work is bounded here by the longest name the matcher is ever given, not by a clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from aigw_policy.engine import actions
from aigw_policy.engine.model_names import MAX_NAME


class Access:
    def __init__(self, deny: list[str] | None = None, allow: list[str] | None = None) -> None:
        self.deny, self.allow, self.status_code = deny, allow, None


ROWS = [  # (config, model, refused, by the length)
    (Access(deny=["*gpt*4*"]), ":" * 100_000, True, True),
    (Access(deny=["gpt-4o"]), "a." * 5_000, True, True),
    (Access(deny=["gpt-4o"]), "x" * (MAX_NAME + 1), True, True),
    (Access(deny=["gpt-4o"]), " " * MAX_NAME + "gpt-4o", True, True),  # whitespace counts: the name as sent
    (Access(deny=["gpt-4o"]), "x" * MAX_NAME, False, False),  # at the bound: matched as usual
    (Access(deny=["x*"]), "x" * MAX_NAME, True, False),
    (Access(deny=["gpt-4o"]), "gpt-4o-2024-08-06", True, False),
    (Access(allow=["gpt-4o*"]), "gpt-4o" + "1" * 10_000, False, False),  # an allow is a glob, no more: linear
    (Access(allow=["gpt-4o"]), ":" * 10_000, True, False),
]


@pytest.mark.parametrize(("config", "model", "refused", "by_length"), ROWS,
                         ids=[f"{c.deny or c.allow}-{len(m)}" for c, m, *_ in ROWS])
def test_a_deny_list_does_not_match_names_longer_than_any_model(monkeypatch: Any, config: Access, model: str,
                                                                 refused: bool, by_length: bool) -> None:
    asked: list[int] = []
    real = actions.deny_matcher

    def counting(patterns: tuple[str, ...]) -> Any:
        match = real(patterns)
        return lambda name: asked.append(len(name)) or match(name)

    monkeypatch.setattr(actions, "deny_matcher", counting)
    reason = actions.model_access_refusal(config, "openai", model, "models")
    assert (reason is not None) == refused, reason
    assert (reason is not None and "characters is longer than any model's" in reason) == by_length, reason
    assert max(asked, default=0) <= MAX_NAME + len("openai/")  # the matcher never sees a longer name
    if by_length:
        assert model.strip()[:20] not in reason  # the made-up name is not repeated into the reason
