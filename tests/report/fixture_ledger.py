"""A fixed ledger for the report tests: a week of traffic, two teams, three keys, a priced and
an unpriced model, denials by a rule and by a limit, an unenforced limit over, and one pending
intent. ``team`` can be replaced by a hostile name (the XSS test)."""

from __future__ import annotations

import json
from pathlib import Path

from aigw_policy.ledger.record import UsageRecord

DAYS = ("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26")


def _limit(name: str, key: str, cost: float, used: float, limit: float, *, outcome: str = "ok",
           enforce: bool = True, charged: bool = True, unit: str = "tokens", rule: str = "team-tpm") -> dict:
    return {"name": name, "rule": rule, "type": "token-limit", "key": key, "unit": unit, "cost": cost,
            "used": used, "limit": limit, "remaining": max(0.0, limit - used), "reset_after": 30.0,
            "outcome": outcome, "enforce": enforce, "charged": charged, "settled": "reconciled"}


def records(team: str = "research") -> list[UsageRecord]:
    out = []
    n = 0
    for d, day in enumerate(DAYS):
        for i in range(d + 2):  # 2, 3, ... 8 requests a day
            n += 1
            key, who = (("k1", team), ("k2", team), ("k3", "sales"))[i % 3]
            priced = i % 4 != 3
            inp, outp = 100 * (i + 1), 50 * (d + 1)
            out.append(UsageRecord(
                request_id=f"r{n}", time=f"{day}T1{i % 10}:00:00.000000Z", key=key, team=who, user="u",
                provider="openai", operation="chat", aigw_operation="chat",
                request_model="gpt-4o" if priced else "house-model", response_model="gpt-4o" if priced else "house-model",
                input_tokens=inp, output_tokens=outp, total_tokens=inp + outp, usage_source="provider",
                cost_usd=round(inp * 2.5e-6 + outp * 1e-5, 6) if priced else None,
                cost_source="genai-prices" if priced else "unknown", verdict="allow", status_code=200,
                limits=json.dumps([_limit("team-tpm", who, inp + outp, 1000.0 * (i + 1), 20000.0),
                                   _limit("soft-cap", who, inp + outp, 900.0, 800.0, outcome="limited",
                                          enforce=False, rule="soft-cap")] if i == 5 else
                                  [_limit("team-tpm", who, inp + outp, 1000.0 * (i + 1), 20000.0)])))
    for j in range(3):
        n += 1
        out.append(UsageRecord(request_id=f"r{n}", time=f"2026-11-26T12:0{j}:00.000000Z", key="k3", team="sales",
                               provider="openai", request_model="gpt-4o", usage_source="none", cost_source="not-forwarded",
                               cost_usd=0.0, verdict="deny", status_code=429, rule="team-tpm",
                               limits=json.dumps([_limit("team-tpm", "sales", 500.0, 19800.0, 20000.0,
                                                         outcome="limited", charged=False)])))
    n += 1
    out.append(UsageRecord(request_id=f"r{n}", time="2026-11-25T09:00:00.000000Z", key="k2", team=team,
                           provider="openai", request_model="gpt-4.1", usage_source="none", cost_usd=0.0,
                           cost_source="not-forwarded", verdict="deny", status_code=403,
                           rule="premium-models-for-research"))
    n += 1
    out.append(UsageRecord(request_id=f"r{n}", time="2026-11-26T13:00:00.000000Z", key="k1", team=team,
                           provider="openai", request_model="gpt-4o", input_tokens=40, output_tokens=200,
                           total_tokens=240, usage_source="estimate", verdict="pending"))
    return out


def write(path: Path, team: str = "research") -> str:
    with path.open("w", encoding="utf-8") as fh:
        for r in records(team):
            fh.write(json.dumps(r.to_dict()) + "\n")
    return f"jsonl:{path}"
