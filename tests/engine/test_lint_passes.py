"""Engine-aware lint passes: codes and spans."""

from __future__ import annotations

import aigw_policy as ap
from aigw_policy.analysis.engine_checks import check_lookups
from aigw_policy.loader import read

SRC = """policy {
  on request {
    rule "dead" {
      when 1 > 2
      deny
    }
    rule "reads-early" {
      when limits["tpm"].remaining < 10 && limits.nope.limited
      deny
    }
    rule "tpm" {
      token-limit { name: "tpm", capacity: 10, rate: 1m }
    }
    rule "wall" {
      when true
      deny
    }
    rule "never" {
      deny 451
    }
  }
}
"""


def codes(text: str) -> list[tuple[str, int]]:
    _, diags = read(text, name="p.aigw")
    return [(d.code, d.span.line) for d in diags if d.code.startswith("AIGW4")]


def test_engine_passes_codes_and_lines() -> None:
    assert codes(SRC) == [("AIGW400", 4), ("AIGW402", 8), ("AIGW402", 8), ("AIGW400", 15), ("AIGW401", 18)]


def test_limits_read_after_the_limit_is_fine() -> None:
    ok = 'policy { on request { rule "l" { rate-limit { name: "x", capacity: 1, rate: 1m } }\n rule "r" { when limits["x"].limited\n deny } } }'
    assert codes(ok) == []


def test_lookup_warnings_with_fix() -> None:
    p = ap.loads('policy { on request { rule "r" { when identity.team == "a" && req.headers["x-a"][0] == "1"\n deny }\n'
                 ' rule "g" { when has(identity.tier) && identity.tier == "t" && "x-b" in req.headers && req.headers["x-b"][0] == "1"\n deny } } }')
    found = sorted(check_lookups(p), key=lambda d: d.message)
    assert [d.code for d in found] == ["AIGW403", "AIGW403"]
    assert "has(identity.team)" in found[0].help
    assert "'x-a' in req.headers" in found[1].help
