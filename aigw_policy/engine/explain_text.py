"""A decision as text, for a person: the deciding rule first, with its source line, then what
mattered (limits, effects, errors), then, when asked, the trace in document order."""

from __future__ import annotations

from collections.abc import Mapping
import math
from functools import lru_cache
from typing import Any

from ..template import double_text

__all__ = ["duration_text", "decision_text", "routing_text"]

_PHASE = {"on_http_request": "request phase", "on_http_response": "response phase"}


@lru_cache(maxsize=64)
def _lines(path: str) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return tuple(f.read().splitlines())
    except (OSError, UnicodeDecodeError):
        return ()


def source_line(at: Mapping[str, Any] | None, sources: Mapping[str, str] | None = None) -> str | None:
    """``  14 | token-limit {...}`` for a span dict, read from ``sources`` or the file."""
    if not at or not at.get("line"):
        return None
    file = at.get("file")
    if sources and file in sources:
        lines = tuple(sources[file].splitlines())
    elif file:
        lines = _lines(file)
    else:
        return None
    line = at["line"]
    if not 1 <= line <= len(lines):
        return None
    return f"{line:>5} | {lines[line - 1].rstrip()}"


def _num(x: Any) -> str:
    if x is None:
        return "?"
    if isinstance(x, float):
        if x.is_integer():
            return f"{int(x):,}"
        return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.6f}".rstrip("0")
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def duration_text(seconds: float) -> str:
    """``54s``, ``1m 30s``, ``21d 12h``: the two largest units, whole seconds rounded up."""
    left = max(0, math.ceil(seconds - 1e-9))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
        elif parts:
            parts.append("")  # a zero unit between two others still counts as shown
        if len(parts) == 2:
            break
    return " ".join(p for p in parts if p)


def _value(v: Any) -> str:
    """A var or log value as text: strings quoted, doubles without binary noise."""
    if isinstance(v, float):
        return double_text(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _money(x: float) -> str:
    """Dollars as a person reads them: ``$500``, ``$499.90``, ``$0.09875``."""
    sign, x = ("-", -x) if x < 0 else ("", x)
    if x == int(x):
        return f"{sign}${int(x):,}"
    if x >= 1:
        return f"{sign}${x:,.2f}"
    if x >= 1e-4:
        return f"{sign}${x:.4g}"
    return f"{sign}${x:.6f}".rstrip("0") if x >= 1e-6 else f"{sign}<$0.000001"


def _amount(x: Any, e: Mapping[str, Any]) -> str:
    if e.get("unit") == "usd" and isinstance(x, (int, float)) and not isinstance(x, bool):
        return _money(float(x))
    return _num(x)


def _of(used: Any, e: Mapping[str, Any]) -> str:
    """``1,200 of 10,000 tokens`` or ``$12.50 of $500``."""
    if e.get("unit") == "usd":
        return f"{_amount(used, e)} of {_amount(e['limit'], e)}"
    return f"{_num(used)} of {_num(e['limit'])} {e['unit']}"


def _limit_line(e: Mapping[str, Any]) -> str:
    key = f" [{e['key']}]" if e.get("key") else ""
    head = f"{e['name']}{key}  {e['outcome']}"
    if e.get("used") is None:
        return f"{head}  {e.get('note') or 'no count'}"
    used = e["used"]
    cost = e.get("cost")
    if e.get("charged") and cost is not None:
        before = max(0.0, used - cost)
        if before < 1e-9:
            before = 0.0
        text = f"{_of(before, e)} used before this request, which adds ~{_amount(cost, e)}"
    elif e["outcome"] != "limited" and cost is not None:
        text = f"{_of(used, e)} used; not charged (the request was denied)"
    else:
        text = f"{_of(used, e)} used, this request needs ~{_amount(cost, e)}"
    text += f"; {_amount(e.get('remaining'), e)} left"
    if e.get("retry_after") is not None and e["outcome"] == "limited":
        text += f", retry after {duration_text(e['retry_after'])}"
    elif e.get("reset_after"):
        text += f", resets in {duration_text(e['reset_after'])}"
    if not e.get("enforce", True):
        text += " (enforce: false)"
    if e.get("settled"):
        text += f"; {e['settled']}"
    out = f"{head}  {text}"
    if e.get("note"):
        out += f"\n      {e['note']}"
    return out


def decision_text(decision: Any, *, trace: bool = False, sources: Mapping[str, str] | None = None) -> str:
    d = decision.to_dict() if hasattr(decision, "to_dict") else decision
    out: list[str] = []
    verdict = d["verdict"].upper()
    if d.get("decided_by") == "custom-response":
        verdict = "RESPONDED"  # verdict deny: the gateway answered the request itself
    elif d.get("decided_by") == "redirect":
        verdict = "REDIRECTED"  # verdict deny: the gateway sent the client elsewhere
    out.append(f"{verdict} {d['status_code']}: {d['reason']}")
    if d.get("rule") is not None or d.get("at"):
        where = ""
        at = d.get("at")
        if at and at.get("file"):
            where = f" at {at['file']}:{at['line']}"
        elif at:
            where = f" at line {at['line']}"
        name = f"rule `{d['rule']}`" if d.get("rule") is not None else "the document"
        out.append(f"  decided by {name} ({_PHASE.get(d.get('phase'), d.get('phase'))}){where}")
        line = source_line(at, sources)
        if line:
            out.append(line)
    elif d.get("decided_by") == "default":
        out.append(f"  no rule ended the request: the document's default is `{d['verdict']}`")
    else:
        out.append(f"  decided by {d.get('decided_by')}")
    resp = d.get("response")
    if resp and resp.get("headers"):
        for k, v in resp["headers"].items():
            out.append(f"  {k}: {v}")
    ai = d.get("ai") or {}
    req = f"request {d.get('id')} at {d.get('now')}: {ai.get('provider')} {ai.get('operation')}"
    if ai.get("model"):
        req += f" {ai['model']}"
    req += f", ~{_num(ai.get('input_tokens'))} input tokens"
    if ai.get("max_output_tokens"):
        req += f", up to {_num(ai['max_output_tokens'])} output"
    out.append("")
    out.append(req)
    if d.get("usage"):
        u = d["usage"]
        cost = d.get("cost_usd")
        out.append(f"usage: {_num(u['input_tokens'])} in, {_num(u['output_tokens'])} out ({u['source']}); "
                   f"cost {'$' + format(cost, '.6f') if cost is not None else 'unknown'}")
    if d.get("routing"):
        out.extend(routing_text(d["routing"]))
    if d.get("limits"):
        out.append("limits:")
        for e in d["limits"]:
            out.append("  " + _limit_line(e))
    effects = _effects(d.get("effects") or {})
    if effects:
        out.append("effects:")
        out.extend(effects)
    if d.get("store"):
        s = d["store"]
        out.append(f"store unavailable: {s['message']} ({s['mode']})")
    if d.get("errors"):
        out.append("errors:")
        for e in d["errors"]:
            line = f" (line {e['span']['line']})" if e.get("span") else ""
            out.append(f"  rule `{e['rule']}`{line}: {e['message']} in `{e['source']}` (on_error: {e['on_error']})")
    for note in d.get("notes") or ():
        out.append(f"note: {note}")
    if trace and d.get("trace") is not None:
        out.append("trace:")
        phase = None
        for r in d["trace"]:
            if r["phase"] != phase:
                phase = r["phase"]
                out.append(f"  {_PHASE.get(phase, phase)}")
            mark = {True: "+", False: "-", "error": "!"}.get(r["matched"], "?")
            line = f" (line {r['line']})" if r.get("line") else ""
            out.append(f"    {mark} {r['rule']}{line}")
            for x in r["expressions"]:
                val = f"error: {x['error']}" if "error" in x else str(x["value"]).lower()
                out.append(f"        {val:<6} {x['source']}")
            for a in r["actions"]:
                out.append(f"        {a['type']}: {a['outcome']}")
    return "\n".join(out)


def _who(x: Mapping[str, Any]) -> str:
    key = f" key {x['key_id']}" if x.get("key_id") else ""
    return f"{x['provider']}:{x['model']}{key}"


def routing_text(r: Mapping[str, Any]) -> list[str]:
    """The failover story: the strategies, the candidates (and why some were dropped), each
    attempt and what followed it, who served."""
    out = ["routing:"]
    for i, s in enumerate(r.get("strategies") or (), 1):
        got = f"error: {s['error']}" if s.get("error") else f"{s['candidates_returned']} returned"
        out.append(f"  strategy {i} `{s['source']}`: {got}")
    cands = r.get("candidates") or ()
    ready = [c for c in cands if not c.get("skipped_because")]
    out.append(f"  candidates: {len(ready)} of {len(cands)} to try, in order")
    cooling = {(c["provider"], c["model"], c["key_id"]): c["because"] for c in r.get("cooling") or ()}
    for c in cands:
        why = f"  skipped: {c['skipped_because']}" if c.get("skipped_because") else ""
        if not why and (cool := cooling.get((c["provider"], c["model"], c.get("key_id")))):
            why = f"  last: cooling down, {cool}"
        out.append(f"    {_who(c)}{why}")
    attempts = r.get("attempts") or ()
    served = r.get("served")
    for i, a in enumerate(attempts, 1):
        got = a["error"] if a.get("error") else str(a.get("status_code") or "no answer yet")
        took = f" in {_num(a['latency_ms'])} ms" if a.get("latency_ms") is not None else ""
        line = f"  attempt {i} {_who(a)}: {got}{took}"
        if served is not None and served.get("attempt") == i:
            u = a.get("usage")
            line += ": served" + (f" ({_num(u['input_tokens'])} in, {_num(u['output_tokens'])} out)" if u else "")
        elif i < len(attempts):
            nxt = attempts[i]
            line += ": next key" if (nxt["provider"], nxt["model"]) == (a["provider"], a["model"]) else ": next model"
        out.append(line)
    if served is not None:
        out.append(f"  served by {_who(served)} on attempt {served['attempt']} of {len(attempts)}")
    elif attempts:
        out.append(f"  no attempt served ({len(attempts)} made)")
    return out


def _effects(eff: Mapping[str, Any]) -> list[str]:
    """The effect lines; none when nothing took effect (then no heading either)."""
    out: list[str] = []
    if "model" in eff:
        m = eff["model"]
        out.append(f"  model {m['from']} -> {m['to']} (rule `{m['rule']}`)")
    if "max_output_tokens" in eff:
        m = eff["max_output_tokens"]
        out.append(f"  max output tokens {m['from'] or 'unset'} -> {m['to']} (rule `{m['rule']}`)")
    for which in ("request_headers", "response_headers"):
        h = eff.get(which)
        if h:
            for k, v in h["add"].items():
                out.append(f"  {which.split('_')[0]} header {k}: {v}")
            for k in h["remove"]:
                out.append(f"  {which.split('_')[0]} header {k} removed")
    if eff.get("vars"):
        out.append("  vars " + ", ".join(f"{k}={_value(v)}" for k, v in eff["vars"].items()))
    for log in eff.get("logs", ()):
        out.append(f"  log ({log['rule']}): "
                   + ", ".join(f"{k}={_value(v)}" for k, v in log["metadata"].items()))
    return out
