"""The usage report as one self-contained HTML page: inline CSS, inline SVG charts, no script,
nothing fetched when it is viewed. Every value from the ledger (keys, teams, models, rule
names, reasons) is escaped: they are user data.

Costs: a group none of whose requests had a known price shows ``unknown``, never ``$0``; a
group where some had none shows its known cost as a lower bound (``$1.20+``), and the
"Unpriced usage" section lists those models with their tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..ledger.report import Report, Row
from .charts import hbars, stacked_columns
from .facts import Facts, Headroom

__all__ = ["render_html"]

_CSS = """
:root{--ink:#1d2733;--muted:#5b6775;--line:#dde3ea;--accent:#4c78a8;--warn:#b7791f;--bad:#c53030}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);margin:0;background:#f6f8fa}main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}p.sub{color:var(--muted);margin:0 0 16px}section{background:#fff;border:1px solid var(--line);
border-radius:8px;padding:12px 16px;margin:16px 0}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:var(--muted)}table{border-collapse:collapse;width:100%;
margin-top:8px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.unknown{color:var(--warn);font-weight:600}
.callout{border-left:4px solid var(--warn);background:#fffaf0;padding:8px 12px;margin:8px 0}
.meter{display:inline-block;width:120px;height:10px;background:#edf2f7;border-radius:5px;overflow:hidden;
vertical-align:middle}.meter i{display:block;height:100%;background:var(--accent)}.meter i.warn{background:var(--warn)}
.meter i.limited{background:var(--bad)}svg .label,svg .value,svg .axis{font-size:12px;fill:var(--ink)}
svg .axis{fill:var(--muted)}.empty{color:var(--muted);font-style:italic}
"""


def _n(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4f}".rstrip("0").rstrip(".")


def _cost(row: Row) -> tuple[float | None, str]:
    """(value for a chart or None when unknown, the text shown)."""
    if row.requests and row.unpriced_requests == row.requests:
        return None, "unknown"
    text = f"${row.cost_usd:,.4f}"
    return row.cost_usd, text + ("+" if row.unpriced_requests else "")


def _cost_cell(row: Row) -> str:
    value, text = _cost(row)
    if value is None:
        return f'<td class="n unknown" data-col="cost" title="no known price">{text}</td>'
    title = f' title="{row.unpriced_requests} request(s) without a price: a lower bound"' if row.unpriced_requests else ""
    return f'<td class="n" data-col="cost"{title}>{escape(text)}</td>'


def _table(report: Report, head: str, name: str) -> str:
    if not report.rows:
        return '<p class="empty">No requests in this period.</p>'
    out = [f'<table data-table="{escape(name)}"><thead><tr><th>{escape(head)}</th><th class="n">requests</th>'
           '<th class="n">input tokens</th><th class="n">output tokens</th><th class="n">total tokens</th>'
           '<th class="n">cost</th><th class="n">unpriced</th><th class="n">estimated</th></tr></thead><tbody>']
    for row in report.rows:
        t = row.tokens
        out.append(f'<tr data-group="{escape(row.group[0])}"><td>{escape(row.group[0])}</td>'
                   f'<td class="n" data-col="requests">{row.requests:,}</td>'
                   f'<td class="n" data-col="input">{t["input_tokens"]:,}</td>'
                   f'<td class="n" data-col="output">{t["output_tokens"]:,}</td>'
                   f'<td class="n" data-col="total">{t["total_tokens"]:,}</td>{_cost_cell(row)}'
                   f'<td class="n" data-col="unpriced">{row.unpriced_requests:,}</td>'
                   f'<td class="n" data-col="estimated">{row.estimated_requests:,}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _group_section(title: str, sid: str, report: Report, head: str) -> str:
    tokens = [(r.group[0], float(r.tokens["total_tokens"]), f'{r.tokens["total_tokens"]:,} tokens')
              for r in report.rows[:15]]
    spend = sorted(((r.group[0], *_cost(r)) for r in report.rows),
                   key=lambda x: (x[1] is None, -(x[1] or 0.0), x[0]))[:15]
    charts = ""
    if report.rows:
        charts = (f"<h3>Tokens</h3>{hbars(tokens, name=f'{sid}-tokens')}"
                  f"<h3>Spend</h3>{hbars(spend, name=f'{sid}-spend')}")
    more = f'<p class="sub">The charts show the top 15 of {len(report.rows)}.</p>' if len(report.rows) > 15 else ""
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{charts}{more}{_table(report, head, sid)}</section>'


def _days(facts: Facts) -> str:
    rows = facts.by_day.rows
    if not rows:
        return '<section id="by-day"><h2>By day</h2><p class="empty">No requests in this period.</p></section>'
    cols = stacked_columns([(r.group[0], float(r.tokens["input_tokens"]), float(r.tokens["output_tokens"]))
                            for r in rows], name="day-tokens")
    spend = hbars([(r.group[0], *_cost(r)) for r in rows], name="day-spend")
    return (f'<section id="by-day"><h2>Spend and tokens by day</h2><h3>Tokens</h3>{cols}<h3>Spend</h3>{spend}'
            f'{_table(facts.by_day, "day (UTC)", "by-day")}</section>')


def _meter(h: Headroom) -> str:
    frac = 0.0 if h.limit <= 0 else min(1.0, h.used / h.limit)
    cls = h.outcome if h.outcome in ("warn", "limited") else ""
    return f'<span class="meter" title="{frac:.0%} used"><i class="{cls}" style="width:{frac * 100:.1f}%"></i></span>'


def _limits(rows: Sequence[Headroom]) -> str:
    if not rows:
        body = '<p class="empty">No limit was touched in this period.</p>'
    else:
        out = ['<table data-table="limits"><thead><tr><th>limit</th><th>bucket</th><th class="n">used</th>'
               '<th class="n">limit</th><th class="n">remaining</th><th>headroom</th><th>resets at (UTC)</th>'
               '<th>outcome</th><th>as of</th></tr></thead><tbody>']
        for h in rows:
            unit = f" {h.unit}" if h.unit else ""
            source = "now (store)" if h.source == "store" else f"{h.as_of[:19]}Z (last request)"
            out.append(f'<tr data-limit="{escape(h.name)}" data-key="{escape(h.key)}"><td>{escape(h.name)}</td>'
                       f'<td>{escape(h.key) or "<i>(one bucket)</i>"}</td>'
                       f'<td class="n" data-col="used">{_n(h.used)}{escape(unit)}</td>'
                       f'<td class="n" data-col="limit">{_n(h.limit)}</td>'
                       f'<td class="n" data-col="remaining">{_n(h.remaining)}</td><td>{_meter(h)}</td>'
                       f'<td data-col="reset">{escape(h.reset_at[:19] + "Z") if h.reset_at else "-"}</td>'
                       f'<td data-col="outcome">{escape(h.outcome)}</td><td>{escape(source)}</td></tr>')
        out.append("</tbody></table>")
        body = "".join(out)
    return f'<section id="limits"><h2>Limits: headroom and resets</h2>{body}</section>'


def _counted(sid: str, title: str, rows: Sequence[tuple[str, str, int]], second: str, empty: str) -> str:
    if not rows:
        return f'<section id="{sid}"><h2>{escape(title)}</h2><p class="empty">{escape(empty)}</p></section>'
    chart = hbars([(f"{rule}: {what}", float(n), f"{n:,}") for rule, what, n in rows[:10]], name=sid)
    table = [f'<table data-table="{sid}"><thead><tr><th>rule</th><th>{escape(second)}</th>'
             '<th class="n">requests</th></tr></thead><tbody>']
    table += [f'<tr><td>{escape(rule)}</td><td>{escape(what)}</td><td class="n" data-col="count">{n:,}</td></tr>'
              for rule, what, n in rows]
    table.append("</tbody></table>")
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{chart}{"".join(table)}</section>'


def _unpriced(facts: Facts) -> str:
    if not facts.unpriced:
        return ('<section id="unpriced"><h2>Unpriced usage</h2><p class="empty">Every request had a known price.'
                '</p></section>')
    items = "".join(f'<tr data-group="{escape(model)}"><td>{escape(model)}</td>'
                    f'<td class="n" data-col="unpriced">{n:,}</td><td class="n" data-col="tokens">{tokens:,}</td>'
                    f'<td class="n" data-col="pending">{pending:,}</td></tr>'
                    for model, n, tokens, pending in facts.unpriced)
    return ('<section id="unpriced"><h2>Unpriced usage</h2><div class="callout">These requests have no known price: '
            'their cost is <b>unknown</b>, not $0, and every total that includes them is a lower bound. '
            'A model without a price can be added to a price file (<code>--prices</code>); a request still '
            '<i>pending</i> (in flight, or its gateway died) is priced when it finishes.</div>'
            '<table data-table="unpriced"><thead><tr><th>model</th><th class="n">unpriced requests</th>'
            '<th class="n">their tokens</th><th class="n">of which pending</th></tr></thead>'
            f'<tbody>{items}</tbody></table></section>')


def _cards(facts: Facts) -> str:
    t = facts.total.total
    value, text = _cost(t)
    if not t.requests:
        text = "$0.0000"
    cost_note = ""
    if t.unpriced_requests:
        cost_note = f"{t.unpriced_requests:,} request(s) unpriced: a lower bound" if value is not None else "no known price"
    denied = sum(n for _, _, n in facts.denials)
    shadow = sum(n for _, _, n in facts.shadow)
    cards = [("requests", f"{t.requests:,}", ""), ("total tokens", f'{t.tokens["total_tokens"]:,}',
             f'{t.tokens["input_tokens"]:,} in, {t.tokens["output_tokens"]:,} out'),
             ("spend", text, cost_note), ("denied", f"{denied:,}", ""),
             ("shadow would-block", f"{shadow:,}", "")]
    return '<div class="cards">' + "".join(
        f'<div class="card" data-card="{escape(name)}"><span>{escape(name)}</span><b>{escape(value_)}</b>'
        f'<span>{escape(note)}</span></div>' for name, value_, note in cards) + "</div>"


def render_html(facts: Facts, *, ledger: str) -> str:
    """The whole page. ``ledger`` is shown as given (credentials already removed)."""
    period = f"{facts.since[:19] + 'Z' if facts.since else 'the beginning'} to " \
             f"{facts.until[:19] + 'Z' if facts.until else 'now'}"
    body = [
        f'<h1>AI gateway usage</h1><p class="sub">{escape(period)} · ledger <code>{escape(ledger)}</code> · '
        f'generated {escape(facts.generated[:19])}Z</p>',
        _cards(facts),
        _days(facts),
        _group_section("By team", "by-team", facts.by_team, "team"),
        _group_section("By key", "by-key", facts.by_key, "key"),
        _group_section("By model", "by-model", facts.by_model, "model"),
        _limits(facts.headroom),
        _counted("denials", "Top denials by rule and reason", facts.denials, "reason", "Nothing was denied."),
        _counted("shadow", "Shadow rules: what they would have blocked", facts.shadow, "would have",
                 "No shadow rule or unenforced limit would have blocked anything."),
        _unpriced(facts),
    ]
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f'<title>AI gateway usage: {escape(period)}</title><style>{_CSS}</style></head><body><main>'
            + "".join(body) + "</main></body></html>\n")
