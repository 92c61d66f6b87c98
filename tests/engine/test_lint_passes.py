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


def test_lookups_in_bucket_keys_and_templates_unless_the_rule_tests_them() -> None:
    p = ap.loads('policy { on request {\n'
                 ' rule "t" { token-limit { name: "t", capacity: 9, rate: 1m, bucket_key: [identity.team] } }\n'
                 ' rule "g" { when has(identity.org)\n rate-limit { name: "g", capacity: 9, rate: 1m, bucket_key: [identity.org] } }\n'
                 ' rule "h" { add-headers { headers: { "x-u": "${identity.user}" } } } } }')
    found = sorted(check_lookups(p), key=lambda d: d.span.line)
    assert [(d.code, d.span.line) for d in found] == [("AIGW403", 2), ("AIGW403", 5)]
    assert "add the condition `has(identity.team)` to the rule" in found[0].help


LIMIT_AFTER_DENIAL = """policy {
  on request {
    rule "only-gpt" {
      when ai.model != "gpt-4o"
      deny 403
    }
    rule "tpm" {
      token-limit { name: "team-tpm", capacity: 100000, rate: 1m }
    }
    rule "cap" {
      when identity.team == "research"
      usage-cap { name: "cap", limit: 5, unit: "usd", period: "month" }
    }
    rule "low" {
      when limits["cap"].remaining < 1.0 && limits["team-tpm"].remaining < 10
      deny 429
    }
  }
  on response {
    rule "show" {
      add-headers { headers: { "x-remaining": "${limits['team-tpm'].remaining}" } }
    }
    rule "guarded" {
      when "team-tpm" in limits
      add-headers { headers: { "x-left": "${limits['team-tpm'].remaining}" } }
    }
    rule "optional" {
      add-headers { headers: { "x-left": "${limits[?'team-tpm'].remaining.orValue(0)}" } }
    }
  }
}
"""


def test_limits_that_may_not_have_run() -> None:
    """A response rule runs for a denied request too, when the limit never ran; a request
    rule after a conditional limit reads it when the condition was false."""
    _, diags = read(LIMIT_AFTER_DENIAL, name="p.aigw")
    found = [d for d in diags if d.code == "AIGW402"]
    assert [d.span.line for d in found] == [15, 21]
    assert "`cap` has not run: rule `cap` (line 10) runs it only when its condition holds" in found[0].message
    assert "rule `only-gpt` (line 3) can end the request" in found[1].message
    assert "limits[?'team-tpm']" in found[1].help


VARS = """policy {
  on request {
    rule "early" {
      when vars.tier == "gold"
      deny 403
    }
    rule "tag" {
      set-vars { vars: [{ "tier": "gold" }] }
      add-headers { headers: { "x-tier": "${vars.tier}" } }
    }
    rule "maybe" {
      when identity.team == "research"
      set-vars { vars: [{ "lab": "yes" }] }
    }
    rule "reads" {
      when vars.lab == "yes" && vars.teir == "gold"
      deny 403
    }
  }
  on response {
    rule "show" {
      add-headers { headers: { "x-tier": "${vars.tier}" } }
    }
    rule "guarded" {
      when has(vars.tier)
      add-headers { headers: { "x-t": "${vars.tier}" } }
    }
  }
}
"""


def test_vars_that_may_not_be_set() -> None:
    """`vars.x` unset is an error like a limit that did not run: read before it is set,
    set only under a condition, or (response phase) after a rule that can end the request."""
    _, diags = read(VARS, name="p.aigw")
    found = [(d.span.line, d.message) for d in diags if d.code == "AIGW404"]
    assert [line for line, _ in found] == [4, 16, 16, 22]
    assert "read before a rule sets it" in found[0][1]
    assert "rule `maybe` (line 11) sets it only when its condition holds" in found[1][1]
    assert "no rule sets `vars.teir`" in found[2][1]
    assert "rule `early` (line 3) can end the request" in found[3][1]
    helps = [d.help for d in diags if d.code == "AIGW404"]
    assert "did you mean `tier`?" in helps[2]
