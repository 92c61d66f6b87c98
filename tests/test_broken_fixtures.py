"""Broken documents and the diagnostics they must produce (code and line:column).

Each file in ``data/broken`` names what it expects in its leading comment lines
(``# expect: AIGW110 5:15``), or, for JSON, in a sidecar ``NAME.expect`` file. Every expected
diagnostic must be reported; no load may raise. ``# absent: AIGW401`` names a code that must
not be reported anywhere in the file (a derived diagnostic that would only repeat an error);
``# help: did you mean `usd`?`` is text some diagnostic's help must contain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.codes import CODES, Severity
from aigw_policy.loader import read

BROKEN = Path(__file__).parent / "data" / "broken"
EXPECT = re.compile(r"^(?:#|//)\s*expect:\s*(AIGW\d{3})\s+(\d+):(\d+)\s*$")
ABSENT = re.compile(r"^(?:#|//)\s*absent:\s*(AIGW\d{3})\s*$")
HELP = re.compile(r"^(?:#|//)\s*help:\s*(.+?)\s*$")


def expectations(path: Path) -> list[tuple[str, int, int]]:
    sidecar = path.with_name(path.name + ".expect")
    lines = sidecar.read_text().splitlines() if sidecar.exists() else path.read_text().splitlines()
    found = []
    for line in lines:
        m = EXPECT.match(line if not sidecar.exists() else "# expect: " + line)
        if m:
            found.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return found


CASES = sorted(p for p in BROKEN.iterdir() if p.suffix in (".aigw", ".yaml", ".yml", ".json"))


def test_there_are_enough_cases():
    assert len(CASES) >= 40
    assert {p.suffix for p in CASES} >= {".aigw", ".yaml", ".json"}


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_broken_document(path: Path) -> None:
    wanted = expectations(path)
    assert wanted, f"{path.name} names no expected diagnostic"
    _, diagnostics = read(path.read_text(), name=path.name)
    got = {(d.code, d.span.line, d.span.column) for d in diagnostics if d.span}
    shown = "\n".join(str(d) for d in diagnostics)
    for code, line, column in wanted:
        assert (code, line, column) in got, f"missing {code} {line}:{column}; got:\n{shown}"
    for code in absent(path):
        assert code not in {d.code for d in diagnostics}, f"unexpected {code}; got:\n{shown}"
    helps = [d.help or "" for d in diagnostics]
    for text in _matches(HELP, path):
        assert any(text in h for h in helps), f"no help says {text!r}; got:\n{helps}"


def absent(path: Path) -> list[str]:
    return _matches(ABSENT, path)


def _matches(pattern: re.Pattern[str], path: Path) -> list[str]:
    return [m.group(1) for line in path.read_text().splitlines() if (m := pattern.match(line))]


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_loads_raises_policy_error_with_diagnostics(path: Path) -> None:
    if all(CODES[code].severity is Severity.WARNING for code, _, _ in expectations(path)):
        ap.loads(path.read_text(), name=path.name)  # warnings only: loads fine
        return
    with pytest.raises(ap.PolicyError) as info:
        ap.loads(path.read_text(), name=path.name)
    assert info.value.diagnostics
