"""Plain scalars that start like numbers mean what they mean to Go's ``yaml.v3`` (ngrok's
reader, ``resolve.go``): underscores dropped, then ``strconv.ParseInt(s, 0, 64)`` (so ``017``
is octal 15, ``0X1F`` and ``0b101`` are integers), else a decimal float. The writer quotes a
string that Go's yaml would read as a number, so documents round-trip."""

from __future__ import annotations

import math

import pytest

import aigw_policy as ap
from aigw_policy.syntax.yaml_dump import dump_yaml

# (plain scalar, the value Go's yaml.v3 gives it)
SCALARS = [
    ("017", 15), ("0_17", 15), ("-017", -15), ("00", 0), ("-0", 0), ("+12", 12),
    ("1_000", 1000), ("1_", 1), ("1__0", 10),
    ("0b101", 5), ("0B101", 5), ("-0b11", -3), ("0o17", 15), ("0O17", 15),
    ("0x1F", 31), ("0X1f", 31), ("+0x1f", 31), ("0x_1f", 31),
    ("9223372036854775807", 2**63 - 1), ("18446744073709551615", 2**64 - 1),
    ("18446744073709551616", float(2**64)), ("-9223372036854775809", -float(2**63)),
    ("08", 8.0), ("09.5", 9.5), ("1_000.5", 1000.5), ("1e3", 1000.0), ("1.", 1.0),
    (".5", 0.5), ("-.5", -0.5), ("1E-2", 0.01),
    (".inf", math.inf), ("-.Inf", -math.inf),
    # not numbers to Go: strings
    ("0x", "0x"), ("0o", "0o"), ("0b2", "0b2"), ("_1", "_1"), ("1e400", "1e400"),
    (".5_0", ".5_0"), ("1_000e", "1_000e"), ("0x1p3", "0x1p3"), ("1:20", "1:20"),
    ("2024-01-01", "2024-01-01"), ("+", "+"), ("12abc", "12abc"),
]


def _errors(found: object) -> list[object]:
    return [d for d in found if d.severity.name == "ERROR"]  # type: ignore[attr-defined]


def _var(text: str) -> object:
    policy, found = ap.read("on_http_request:\n  - actions:\n      - type: set-vars\n        config:\n"
                            f"          vars:\n            - a: {text}\n", cache_dir=None)
    assert policy is not None and not _errors(found), [str(d) for d in found]
    return policy.on_http_request[0].actions[0].config.vars[0]["a"]


@pytest.mark.parametrize(("text", "value"), SCALARS, ids=[s[0] for s in SCALARS])
def test_a_plain_scalar_is_what_go_reads(text: str, value: object) -> None:
    got = _var(text)
    assert (type(got), got) == (type(value), value)


@pytest.mark.parametrize(("text", "value"), SCALARS, ids=[s[0] for s in SCALARS])
def test_the_writer_keeps_it_and_quotes_its_text_as_a_string(text: str, value: object) -> None:
    for written, original in ((text, value), (f"'{text}'", text)):  # plain, and quoted: a string
        policy, _ = ap.read("on_http_request:\n  - actions:\n      - type: set-vars\n        config:\n"
                            f"          vars:\n            - a: {written}\n", cache_dir=None)
        again, found = ap.read(dump_yaml(policy), cache_dir=None)
        got = again.on_http_request[0].actions[0].config.vars[0]["a"]
        assert not _errors(found) and (type(got), got) == (type(original), original), dump_yaml(policy)


# what a number written so means to an action's config: loads as ngrok loads it
CONFIGS = [
    ("rate-limit", "{name: a, algorithm: sliding_window, capacity: 1_000, rate: 60s, "
     "bucket_key: [conn.client_ip]}", None),
    ("rate-limit", "{name: a, algorithm: sliding_window, capacity: 0x10, rate: 60s, "
     "bucket_key: [conn.client_ip]}", None),
    ("deny", "{status_code: 0403}", "AIGW123"),  # octal: 259, out of 400-599
    ("deny", "{status_code: 4_03}", None),
    ("custom-response", "{status_code: 0b11001000, body: ok}", None),  # 200
]


@pytest.mark.parametrize(("action", "config", "code"), CONFIGS, ids=[c[1][:30] for c in CONFIGS])
def test_a_config_number_is_go_s(action: str, config: str, code: str | None) -> None:
    _, found = ap.read(f"on_http_request:\n  - actions:\n      - type: {action}\n        config: {config}\n",
                       cache_dir=None)
    assert [d.code for d in _errors(found)] == ([code] if code else []), \
        [str(d) for d in found]
