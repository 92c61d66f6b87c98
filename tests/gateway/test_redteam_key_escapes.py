"""serve30: a JSON body holding the client's gateway key written with JSON's escapes is refused.

serve29 refused a body holding the key as written, base64 or hex, but left JSON's escapes alone
("a client writing its own key so means to send it"): a serializer that escapes (``\\u0073``
for any character, PHP's ``\\/`` for every slash of a base64 form) wrote it so without anyone
meaning to, and the upstream's JSON parser undid them: the key went to the provider as sent.
Now a body holding an escape of an ASCII character or of a slash is searched again with them
undone. Each row is a chat body; the refused ones never reach the upstream.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from aigw_policy.gateway.key_forms import key_forms

from .conftest import parser_gateway

KEY = "sk-gw-u30-??"  # (its base64 forms hold a `/`)
SLASHED = next(form for form in key_forms(KEY) if "/" in form)


def _escaped(text: str, which: str = "all", case: str = "%04x") -> str:
    return "".join("\\u" + case % ord(c) if which == "all" or c in which else c for c in text)


def _chat(raw_text: str) -> bytes:
    """A chat body whose content is ``raw_text`` as written (its escapes are JSON's)."""
    return b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + raw_text.encode() + b'"}]}'


REFUSED = {
    "all-escaped": _chat("my key " + _escaped(KEY)),
    "one-escaped": _chat("my key " + _escaped(KEY, "w")),
    "upper-hex": _chat(_escaped(KEY, "sk-", "%04X")),
    "ensure-ascii-dump": json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": KEY}]}).encode()
    .replace(b"sk-", _escaped("sk-").encode()),
    "form-slash-escaped": _chat("x " + SLASHED.replace("/", "\\/") + " y"),
    "hex-escaped": _chat(_escaped(KEY.encode().hex(), "0123")),
    "in-a-member-name": b'{"model": "gpt-4o", "' + _escaped(KEY, "-").encode() + b'": 1, "messages": []}',
}
PASSED = {
    "non-ascii-escaped": _chat("caf\\u00e9 \\u4e2d " + KEY[:-1]),
    "slash-escaped": _chat("a\\/b " + KEY[1:]),
    "near-key-escaped": _chat(_escaped(KEY[:-1])),
}


@pytest.fixture(scope="module")
def gw(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway("h11", stub.url, tmp_path_factory.mktemp("escapes"), key=KEY) as server:
        yield server


def _post(gw: Any, body: bytes) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", content=body, timeout=30,
                      headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_body_holding_the_key_escaped_is_refused(gw: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                                   name: str) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.DEBUG, logger="aigw_policy"):
        r = _post(gw, REFUSED[name])
    assert r.status_code == 400 and r.json()["error"]["code"] == "key_in_body", r.text
    assert len(stub.app.seen) == before
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert not [f for f in key_forms(KEY) if f in logged or f in r.text]


@pytest.mark.parametrize("name", list(PASSED))
def test_a_body_with_escapes_and_no_key_passes(gw: Any, name: str) -> None:
    r = _post(gw, PASSED[name])
    assert r.status_code == 200, r.text
