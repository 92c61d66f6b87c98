"""serve20: an unpaired surrogate is refused however the body carries it.

A ``\\ud800`` escape was refused (400 ``invalid_json``: parsers differ on it), but the
surrogate's own bytes (``ED A0 80``, CESU-8 / WTF-8: not UTF-8) and a UTF-16 body's lone code
unit were decoded into the same unpaired surrogate (``json.loads`` decodes with
``surrogatepass``) and went upstream: the policy read ``gpt-4o\\ud800`` where a Go upstream
reads ``gpt-4o\\ufffd`` and a Rust one refuses the body. Each row: the body, refused or not.
"""

from __future__ import annotations

import json

import pytest

from aigw_policy.gateway.request_body import BadBody, parse_body


def _utf16_lone(text_before: str, unit: int, text_after: str) -> bytes:
    return text_before.encode("utf-16-le") + unit.to_bytes(2, "little") + text_after.encode("utf-16-le")


ROWS = [
    ("raw high surrogate", b'{"model": "gpt-4o\xed\xa0\x80"}', True),
    ("raw low surrogate", b'{"model": "gpt-4o\xed\xbf\xbf"}', True),
    ("raw pair as two surrogates", b'{"model": "\xed\xa0\xbd\xed\xb8\x80"}', True),
    ("utf-16 lone unit", _utf16_lone('{"model": "gpt-4o', 0xD800, '"}'), True),
    ("utf-16 with bom, lone unit", b"\xff\xfe" + _utf16_lone('{"model": "x', 0xDC00, '"}'), True),
    ("escape", b'{"model": "gpt-4o\\ud800"}', True),
    ("hangul (ED 80 80, not a surrogate)", '{"model": "\ud000\ud7a3"}'.encode(), False),
    ("a real pair in utf-8", '{"model": "\U0001f600"}'.encode(), False),
    ("a real pair in utf-16", '{"model": "\U0001f600"}'.encode("utf-16"), False),
    ("an escaped pair", b'{"model": "\\ud83d\\ude00"}', False),
]


@pytest.mark.parametrize(("body", "refused"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_unpaired_surrogate_is_refused_in_every_form(body: bytes, refused: bool) -> None:
    if refused:
        with pytest.raises(BadBody) as caught:
            parse_body(body, "application/json")
        assert caught.value.code == "invalid_json" and "surrogate" in caught.value.message
    else:
        value = parse_body(body, "application/json")
        assert json.dumps(value, ensure_ascii=False).encode("utf-8")  # Unicode throughout
