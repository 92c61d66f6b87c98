"""A misspelled rule or action key is one diagnostic at the key, with the key it was meant to
be, and nothing more: what it holds is read as that key (so its own mistakes still show), and
no "missing `actions`", "action without a `type`" or "missing required key" follows for the
key that is there under another spelling."""

from __future__ import annotations

import pytest

import aigw_policy as ap

_LIMIT = ("on_http_request:\n  - name: r\n    {actions}:\n      - {type}: rate-limit\n        {config}:\n"
          "          name: x\n          capacity: 10\n          rate: 60s\n{extra}")

CASES = [
    # (what, text, the diagnostics (code, line, column), the help of the first)
    ("config misspelled", _LIMIT.format(actions="actions", type="type", config="confg", extra=""),
     [("AIGW113", 5, 9)], "did you mean `config`?"),
    ("type misspelled", _LIMIT.format(actions="actions", type="typ", config="config", extra=""),
     [("AIGW113", 4, 9)], "did you mean `type`?"),
    ("actions misspelled", _LIMIT.format(actions="action", type="type", config="config", extra=""),
     [("AIGW103", 3, 5)], "did you mean `actions`?"),
    ("a mistake inside a misspelled config still shows",
     _LIMIT.format(actions="actions", type="type", config="confg", extra="          capcity: 3\n"),
     [("AIGW113", 5, 9), ("AIGW120", 9, 11)], "did you mean `config`?"),
    ("a mistake inside misspelled actions still shows",
     _LIMIT.format(actions="action", type="type", config="config", extra="          rte: 1s\n"),
     [("AIGW103", 3, 5), ("AIGW120", 9, 11)], "did you mean `actions`?"),
]


@pytest.mark.parametrize(("what", "text", "expected", "help"), CASES, ids=[c[0] for c in CASES])
def test_a_misspelled_key_is_one_diagnostic_at_it(what: str, text: str, expected: list[tuple[str, int, int]],
                                                  help: str) -> None:
    policy, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert policy is None or not policy.on_http_request  # the rule with an error is left out
    assert sorted((d.code, d.span.line, d.span.column) for d in found) == sorted(expected), found
    assert found[0].help == help


def test_the_right_key_beside_a_near_one_is_the_one_read() -> None:
    text = _LIMIT.format(actions="actions", type="type", config="config", extra="        confg: {}\n")
    _, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert [(d.code, d.span.line) for d in found] == [("AIGW113", 9)]


def _misspellings(key: str) -> list[str]:
    """Ways ngrok's users and SDKs write a key wrong: capitalized (ngrok's Rust SDK sends its
    legacy policies as `Inbound`, `Outbound`), a letter dropped, a letter doubled."""
    middle = len(key) // 2
    return ["_".join(part.capitalize() for part in key.split("_")),
            key[:middle] + key[middle + 1:], key[:middle] + key[middle] + key[middle:]]


# every key read at the top of a policy, with the name its help must give
_READ_AT_TOP = [(k, k) for k in ("name", "on_http_request", "on_http_response", "on_tcp_connect",
                                 "on_event_stream_message", "shard_key", "upstream_error")]
_READ_AT_TOP += [("inbound", "on_http_request"), ("outbound", "on_http_response")]


@pytest.mark.parametrize(("wrong", "meant"), [(w, m) for k, m in _READ_AT_TOP for w in _misspellings(k)])
def test_a_misspelled_top_level_key_names_the_key_read_there(wrong: str, meant: str) -> None:
    """The phases this engine skips (`on_tcp_connect`) or reads under their new name (`inbound`)
    are among the names suggested: `on_tcp_conect` was "did you mean `on_http_response`?"."""
    _, found = ap.read(f"{wrong}:\n  - actions:\n      - type: deny\n", name="t.yaml", cache_dir=None)
    first = found[0]
    assert (first.code, first.span.line, first.span.column) == ("AIGW100", 1, 1), found
    assert (first.help or "").startswith(f"did you mean `{meant}`?"), first.help


@pytest.mark.parametrize("wrong", _misspellings("ip_policies"))
def test_a_misspelled_ngrok_only_config_key_is_named(wrong: str) -> None:
    """`ip_policies`, which ngrok's `restrict-ips` has and this engine refuses (AIGW111 with
    what to write instead), is what a near spelling means."""
    text = f"on_http_request:\n  - actions:\n      - type: restrict-ips\n        config:\n          {wrong}: [ipp_1]\n"
    _, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert [(d.code, d.help) for d in found] == [("AIGW120", "did you mean `ip_policies`?")]


@pytest.mark.parametrize("wrong", ["OIDC", "oidcc", "odic"])
def test_a_misspelled_action_alias_names_the_action(wrong: str) -> None:
    """`oidc`, the name ngrok's SSO guides give `openid-connect`, is among the names a
    misspelled action type is compared with (`oidcc` had no suggestion)."""
    _, found = ap.read(f"on_http_request:\n  - actions:\n      - type: {wrong}\n", name="t.yaml", cache_dir=None)
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("AIGW110", 3, 15)]
    assert (found[0].help or "").startswith("did you mean `openid-connect`?")
