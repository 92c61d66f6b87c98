"""model-access matches a pattern list in one regex: the same answer as
``fnmatch.fnmatchcase`` of each pattern, against ``provider/model`` and ``model``."""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.engine.actions import _any_match

glob_text = st.text(st.sampled_from("ab-./*?[]!^\\\n"), max_size=8)
names = st.text(st.sampled_from("ab-./\n[]"), max_size=8)


@settings(max_examples=1000)
@given(st.lists(glob_text, max_size=4), names, names)
def test_one_regex_matches_as_fnmatch_does(patterns: list[str], provider: str, model: str) -> None:
    full = f"{provider}/{model}"
    want = any(fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(model, p) for p in patterns)
    assert _any_match(tuple(patterns), full, model) == want
