"""model-access compares names in one canonical form (aigw_policy.engine.model_names): the
engine's one-regex matchers give the answer of ``fnmatch.fnmatchcase`` over the forms the
documentation names, enumerated here one by one: the stripped, case-folded ``provider/model``
or ``model`` for an allow; for a deny, also every tail after a ``/``, ``:`` or ``.`` and every
head before a run of version suffixes."""

from __future__ import annotations

import fnmatch
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.engine.actions import model_access_refusal
from aigw_policy.engine.model_names import SEPARATORS, VERSION_SUFFIXES, fold

glob_text = st.text(st.sampled_from("aB-./:*?[]!^\\\n@0"), max_size=8)
names = st.text(st.sampled_from("Ab-./:\n []@0\u212a"), max_size=9)
SUFFIXES = re.compile("(?:" + "|".join(VERSION_SUFFIXES) + ")*")


class _Access:
    def __init__(self, deny: list[str] | None = None, allow: list[str] | None = None) -> None:
        self.deny, self.allow, self.status_code = deny, allow, None


def denied_by_hand(patterns: list[str], provider: str, model: str) -> bool:
    full = fold(provider) + "/" + fold(model.strip())
    starts = [0] + [i + 1 for i, c in enumerate(full) if c in SEPARATORS]
    return any(fnmatch.fnmatchcase(full[s:e], fold(p)) for p in patterns for s in starts
               for e in range(s, len(full) + 1) if SUFFIXES.fullmatch(full[e:]))


def allowed_by_hand(patterns: list[str], provider: str, model: str) -> bool:
    name = fold(model.strip())
    return any(fnmatch.fnmatchcase(f"{fold(provider)}/{name}", fold(p)) or fnmatch.fnmatchcase(name, fold(p))
               for p in patterns)


@settings(max_examples=1000)
@given(st.lists(glob_text, max_size=4), names, names)
def test_one_regex_matches_the_forms_one_by_one(patterns: list[str], provider: str, model: str) -> None:
    denied = model_access_refusal(_Access(deny=patterns), provider, model, "r") is not None
    assert denied == denied_by_hand(patterns, provider, model)
    allowed = model_access_refusal(_Access(allow=patterns), provider, model, "r") is None
    assert allowed == allowed_by_hand(patterns, provider, model)
