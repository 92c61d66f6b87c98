"""The plain-path shortcut of `canonical_path` answers exactly what the full decoding does
(canonical form or refusal), for any path built of the pieces that matter."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway import paths

PIECES = st.sampled_from(list("ab/.~-_:@!$&'()*+,=;\\") + ["%41", "%2e", "%2F", "%5c", "%", "//", "/./", "/../",
                                                              "%00", "\x7f", "é"])


def outcome(raw: str) -> object:
    try:
        return paths.canonical_path(raw)
    except paths.PathError as error:
        return str(error)


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=14).map(lambda p: "/" + "".join(p)))
def test_the_shortcut_changes_no_answer(raw: str) -> None:
    fast = outcome(raw)
    plain, paths._PLAIN = paths._PLAIN, re.compile(r"(?!)")  # the full decoding only
    try:
        assert outcome(raw) == fast
    finally:
        paths._PLAIN = plain


@pytest.mark.parametrize("raw", ["/v1/chat/completions", "/v1beta/models/gemini-2.0:generateContent", "/v1/x/"])
def test_api_paths_take_the_shortcut(raw: str) -> None:
    assert paths._PLAIN.fullmatch(raw) and paths.canonical_path(raw) == (raw, raw)
