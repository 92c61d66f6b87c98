"""The HTML report, rendered by a real headless Chromium: the numbers in the DOM are the
ledger's, the charts are drawn, a hostile team name stays text, nothing is fetched, and a
screenshot of the fixture ledger looks like a report (size and coarse colour, not bytes)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

from . import fixture_ledger
from .browser import Element, dump_dom, parse, screenshot
from .png import read_png

runner = CliRunner()
PERIOD = ("--since", "2026-11-01", "--until", "2026-12-01")
EVIL = '</td><img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>&amp;'


def render(tmp_path: Path, team: str = "research") -> Path:
    url = fixture_ledger.write(tmp_path / "usage.jsonl", team)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--ledger", url, *PERIOD, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Element]:
    path = render(tmp_path_factory.mktemp("report"))
    return path, parse(dump_dom(path))


def _rows(dom: Element, table: str) -> dict[str, dict[str, str]]:
    (t,) = dom.find_all("table", data_table=table)
    out = {}
    for tr in t.iter("tr"):
        cells = tr.find_all("td")
        if cells:
            out[cells[0].text] = {c.attrs.get("data-col", str(i)): c.text for i, c in enumerate(cells)}
    return out


def _expected(group: str) -> dict[str, tuple[int, int]]:
    """requests and total tokens per group, summed from the fixture records directly."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in fixture_ledger.records():
        g = {"team": r.team, "key": r.key, "model": r.model}[group] or "-"
        sums[g][0] += 1
        sums[g][1] += r.total_tokens
    return {g: (n, t) for g, (n, t) in sums.items()}


@pytest.mark.parametrize("group", ["team", "key", "model"])
def test_tables_hold_the_ledger_totals(page: tuple[Path, Element], group: str) -> None:
    rows = _rows(page[1], f"by-{group}")
    got = {g: (int(c["requests"].replace(",", "")), int(c["total"].replace(",", ""))) for g, c in rows.items()}
    assert got == _expected(group)


def test_days_are_drawn_as_columns_with_the_ledger_numbers(page: tuple[Path, Element]) -> None:
    (svg,) = page[1].find_all("svg", data_chart="day-tokens")
    drawn: dict[str, dict[str, float]] = defaultdict(dict)
    for rect in svg.iter("rect"):
        cls = rect.attrs.get("class", "")
        if cls.startswith("bar "):
            drawn[rect.attrs["data-label"]][cls.split()[1]] = float(rect.attrs["data-value"])
    want: dict[str, dict[str, float]] = defaultdict(lambda: {"input": 0.0, "output": 0.0})
    for r in fixture_ledger.records():
        want[r.time[:10]]["input"] += r.input_tokens
        want[r.time[:10]]["output"] += r.output_tokens
    assert drawn == want
    heights = [float(r.attrs["height"]) for r in svg.iter("rect") if r.attrs.get("class") == "bar input"]
    assert heights == sorted(heights) and heights[0] < heights[-1]  # the fixture grows day by day


def test_unpriced_usage_is_unknown_never_zero(page: tuple[Path, Element]) -> None:
    dom = page[1]
    assert _rows(dom, "by-model")["house-model"]["cost"] == "unknown"
    (bar,) = [r for r in dom.find_all("rect") if r.attrs.get("data-label") == "house-model"
              and "unknown" in r.attrs.get("class", "")]
    assert bar.attrs["data-value"] == ""
    assert _rows(dom, "by-key")["k1"]["cost"].endswith("+")  # a lower bound: some of k1's requests are unpriced
    unpriced = _rows(dom, "unpriced")
    assert unpriced["house-model"]["unpriced"] == "6" and unpriced["gpt-4o"]["pending"] == "1"
    (card,) = dom.find_all("div", data_card="spend")
    assert card.text.startswith("spend$") and "+" in card.text and "lower bound" in card.text


def test_limits_denials_and_shadow(page: tuple[Path, Element]) -> None:
    dom = page[1]
    (t,) = dom.find_all("table", data_table="limits")
    limits = {(tr.attrs["data-limit"], tr.attrs["data-key"]): {c.attrs.get("data-col"): c.text for c in tr.find_all("td")}
              for tr in t.iter("tr") if "data-limit" in tr.attrs}
    assert set(limits) == {("team-tpm", "research"), ("team-tpm", "sales"), ("soft-cap", "sales")}
    assert limits[("soft-cap", "sales")]["outcome"] == "limited"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["reset"]) for row in limits.values())
    denials = {tr.find_all("td")[0].text: tr.find_all("td")[2].text for tr in
               dom.find_all("table", data_table="denials")[0].iter("tr") if tr.find_all("td")}
    assert denials == {"team-tpm": "3", "premium-models-for-research": "1"}
    (shadow,) = dom.find_all("table", data_table="shadow")
    assert [td.text for td in shadow.find_all("td")] == ["soft-cap", "limit soft-cap over (enforce: false)", "3"]


def test_the_page_loads_nothing(page: tuple[Path, Element]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)", text, re.I)
    assert not re.search(r"(src|href)\s*=", text, re.I)
    assert "default-src 'none'" in text


def test_a_hostile_team_name_stays_text(tmp_path: Path) -> None:
    dom = parse(dump_dom(render(tmp_path, EVIL)))
    assert dom.find_all("script") == [] and dom.find_all("img") == []
    (title,) = [t for t in dom.iter("title") if t.parent is not None and t.parent.tag == "head"]
    assert "pwned" not in title.text
    assert EVIL in _rows(dom, "by-team")
    labels = {r.attrs.get("data-label") for r in dom.iter("rect")}
    assert EVIL in labels


def test_a_screenshot_of_the_fixture_looks_like_a_report(page: tuple[Path, Element], tmp_path: Path) -> None:
    shot = screenshot(page[0], tmp_path / "report.png", 1000, 1400)
    width, height, rows = read_png(shot)
    assert (width, height) == (1000, 1400)
    step = 3  # every third pixel of every third row: plenty for fractions
    pixels = [row[i:i + 3] for row in rows[::step] for i in range(0, len(row), 3 * step)]
    def near(rgb: bytes, want: tuple[int, int, int]) -> bool:
        return all(abs(a - b) <= 24 for a, b in zip(rgb, want))
    blue = sum(near(p, (0x4C, 0x78, 0xA8)) for p in pixels) / len(pixels)
    orange = sum(near(p, (0xF5, 0x85, 0x18)) for p in pixels) / len(pixels)
    ink = sum(max(p) < 100 for p in pixels) / len(pixels)
    assert 0.01 < blue < 0.35, blue  # the bars are drawn
    assert 0.002 < orange < 0.2, orange  # the output-token columns too
    assert 0.003 < ink < 0.2, ink  # and text
