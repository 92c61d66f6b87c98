"""A shadow denial is counted once in the report, whether the record tells it by a limit entry
(``enforce: false``, over) or by ``would_deny`` or by both."""

from datetime import datetime, timezone

from aigw_policy.ledger.record import make_record
from aigw_policy.report.facts import gather

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
OVER = {"name": "team-tpm", "key": "research", "outcome": "limited", "enforce": False, "rule": "tpm",
        "used": 10, "limit": 5}


def _record(rid: str, **kw):
    return make_record(rid, time=NOW, identity={"team": "research"}, **kw)


def test_a_shadow_denial_is_counted_once():
    both = _record("r1", limits=[OVER], would_deny={"status": 429, "reason": "limit team-tpm over", "rule": "tpm"})
    entry_only = _record("r2", limits=[OVER])
    facts = gather([both, entry_only], since=None, until=None, now=NOW)
    assert sum(n for _, _, n in facts.shadow) == 2
    assert ("tpm", "limit team-tpm over", 1) in facts.shadow
