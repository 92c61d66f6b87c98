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


def test_a_request_denied_anyway_is_not_counted_as_shadow_blocked():
    """A request an enforced rule denied was not let through: its unenforced limit over, or a
    shadow rule before the enforced one, is no "would have blocked" (it is one of the denials)."""
    from aigw_policy.ledger.shadow import shadow_rows

    denied = [_record("d1", limits=[OVER], verdict="deny", status_code=410, rule="retired", reason="retired"),
              _record("d2", verdict="deny", status_code=410, rule="retired", reason="retired",
                      would_deny={"status": 403, "reason": "no interns", "rule": "interns"})]
    let_through = _record("a1", would_deny={"status": 403, "reason": "no interns", "rule": "interns"})
    facts = gather([*denied, let_through], since=None, until=None, now=NOW)
    assert facts.shadow == [("interns", "no interns", 1)]
    assert facts.denials == [("retired", "retired", 2)]
    assert [(r.rule, r.requests, r.request_ids) for r in shadow_rows([*denied, let_through])] == [
        ("interns", 1, ["a1"])]
