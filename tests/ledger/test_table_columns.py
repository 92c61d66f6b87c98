"""`usage`'s table is for a person at a terminal: its columns line up as the terminal draws
them. A team, key or model name holds what a client or an admin wrote: CJK and emoji take two
columns each, a combining accent none. Padding by code points (`str.ljust`) shifted every
column after such a name."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pytest

from aigw_policy.ledger.record import make_record
from aigw_policy.ledger.report import parse_by, render_table, summarize
from aigw_policy.providers.usage import Usage

NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
NAMES = ["研究", "😀 team", "e\u0301quipe", "\U00030000x", "ｆｕｌｌ", "plain", "\u200bzero-width", "\x1b[31m"]


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes (wcwidth's rule: East Asian wide and full
    width take two; combining marks and format characters take none)."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.mark.parametrize("by", ["team", "team,key", "key,team"])
def test_every_line_of_the_table_is_as_wide(by: str) -> None:
    recs = [make_record(f"r{i}", time=NOW, usage=Usage.of(10 * (i + 1), 5),
                        identity={"team": name, "key": f"k-{name}"}) for i, name in enumerate(NAMES)]
    table = render_table(summarize(recs, parse_by(by)))
    lines = table.splitlines()[:len(NAMES) + 4]  # head, rule, a row per name, rule, total
    assert len({_columns(line) for line in lines}) == 1, "\n" + table
    # and each column starts where its head does: the head's words are where the cells are
    starts = [_columns(lines[0][:lines[0].index(h)]) for h in lines[0].split()]
    for line in lines[2:]:
        cells = line.replace("-" * 3, "").split("  ")  # every cell is separated by two spaces or more
        assert len([c for c in cells if c.strip()]) <= len(starts), line
