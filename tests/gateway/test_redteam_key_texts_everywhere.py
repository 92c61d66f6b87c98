"""serve28: every string a client can get into a decision log line or a ledger record passes
the same masking (the keys file's keys as ``***``), not a list of fields.

serve27 masked the fields it named (the requested model, the reason, the model rewrite); the
others quoting the client were written whole: a policy's ``log`` metadata interpolating the
request (``aigw.logs``), a shadow rule's message (``aigw.would_deny.reason``, and the ledger's
``would_deny``), a limit keyed by a header (``aigw.limits[].key``, the ledger's ``limits``),
and the model the upstream's answer names, which an OpenAI-compatible server echoes from the
request (``gen_ai.response.model``, the ledger's ``response_model``). Now the whole record is
walked, each string but the ones the gateway makes itself (its time, ids, verdict).

The key written is another client's (serve29: a body holding the client's own key is refused
before the policy, never logged nor sent; another key of the keys file is masked as here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_redteam_key_texts import KEY, _chat, _final, _line, _post

OTHER = "sk-gw-everywhere-2"  # another client's key (the keys file's second)

POLICY = '''policy "everywhere" {
  default allow

  on request {
    rule "would" {
      mode shadow
      when ai.model != "gpt-4o"
      deny 403 "would refuse ${ai.model}"
    }
    rule "per-model" {
      rate-limit { name: "per-model", capacity: 1000, rate: 1h, bucket_key: [ai.model] }
    }
    rule "note" {
      log { metadata: { asked: ai.model, said: "${ai.model} asked" } }
    }
  }
}
'''


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread
    from .stub import StubUpstream

    d: Path = tmp_path_factory.mktemp("everywhere")
    (d / "policy.aigw").write_text(POLICY)
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k1, team: red}}\n"
                                 f"  - key: {OTHER}\n    identity: {{key: k2, team: blue}}\n")
    with ServerThread(StubUpstream()) as upstream:
        app = Gateway(policy=d / "policy.aigw", keys=load_keys(d / "keys.yaml"), store="memory:", watch=0,
                      upstream=upstream.url, ledger=f"jsonl:{d / 'usage.jsonl'}")
        with ServerThread(app, http=header_timeout_protocol(10.0, report=app.server_event)) as server:
            server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
            yield server


@pytest.mark.parametrize("model", [OTHER, f"ft:gpt-4o:{OTHER}"], ids=["a key", "a model holding it"])
def test_no_field_of_the_line_or_the_record_quotes_the_key(gw: Any, caplog: pytest.LogCaptureFixture,
                                                           model: str) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        line, rid = _post(gw.port, _chat(model))
        assert line.startswith(b"HTTP/1.1 200"), line
        logged = _line(caplog, rid)
    record = json.loads(logged)
    # the case is what it claims: each field that quotes the client is there
    assert record["aigw.logs"] and record["aigw.would_deny"] and record["aigw.limits"][0]["key"], record
    assert OTHER not in logged and "***" in record["aigw.would_deny"]["reason"], logged
    final = _final(gw.ledger, rid)
    assert final["aigw.would_deny"] and final["aigw.limits"], final
    assert OTHER not in json.dumps(final), final


def test_what_holds_no_key_is_written_as_it_came(gw: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        line, rid = _post(gw.port, _chat("gpt-4o-mini-2024-07-18"))
        assert line.startswith(b"HTTP/1.1 200"), line
        record = json.loads(_line(caplog, rid))
    assert record["aigw.would_deny"]["reason"] == "would refuse gpt-4o-mini-2024-07-18", record
    assert record["aigw.limits"][0]["key"] == "gpt-4o-mini-2024-07-18"
    assert record["time"].endswith("Z") and record["aigw.request.id"] == rid
