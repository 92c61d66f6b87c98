"""ngrok's AI gateway docs, snippet by snippet: every ```yaml block of every ``.mdx`` under
``../shared/ngrok/ai-gateway-action/`` is checked against the expectations table
``data/ngrok_ai_gateway_snippets.yaml`` (one row per snippet: file, index, a hash of its text,
its kind and the expected outcome).

Kinds:

- ``document``: a whole policy; it loads, lints to exactly ``expect`` (``ok``: nothing at all),
  and, when ``ok``, round-trips DSL <-> YAML and formats idempotently;
- ``action-config``: the config of an ``ai-gateway`` action (``model_selection:`` alone, or
  several keys); it is wrapped into an action and checked as a document;
- ``fragment-of-config``: a piece deeper down, wrapped at ``at``: ``providers`` (a list of
  providers), ``providers[]`` (keys of one provider: ``api_keys:``, ``models:``, ...; wrapped
  into ``- id: openai``) or ``strategy`` (a list of model-selection strategies);
- ``not-policy``: not YAML of a policy (CEL expressions and field lists shown in a yaml
  fence); only its presence and hash are checked.

A snippet that is new, changed (its hash) or gone fails loudly, with its text, so the table
is reviewed whenever ngrok's docs are. The table says what we expect of each snippet, not what
the code happens to do today.

Strategies are CEL over the selection environment, checked by the planner's lint stage (the
pass named ``strategies``; r2). What that stage reports, in the strategies or beside them
(``AIGW414``: `api_key_selection` with no key, on a fragment that leaves the providers out),
is set apart from the rest and checked by default (``AIGW_STRATEGY_CHECKS=0`` sets it aside):
each row's ``strategies`` must hold:
``ok``, the list of codes, or ``decide`` (nobody has said yet: the test fails until someone
does). The column was filled from the stage as it stood on branch wt-r2 (6c82230) and
reviewed: ngrok's documented forms pass (``sortBy('price')`` and, in ``how-it-works.mdx`` #1,
the two-argument ``sortBy(m, m.pricing.input)``; ``inCountryCode``; ``m.metadata.tier``), and
the CEL reference's ``ai.providers.only(...)`` / ``ai.authors...`` lines, wrapped as model
strategies, do not return models (``AIGW410``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
import os
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from shared_data import NGROK, in_ci, require

from aigw_policy import analysis
from aigw_policy.analysis import LintOptions
from aigw_policy.diagnostics import Diagnostic
from aigw_policy.fmt import format_policy
from aigw_policy.fmt.printer import print_dsl
from aigw_policy.ir import Policy
from aigw_policy.loader import read
from aigw_policy.source import Source

DOCS = NGROK / "ai-gateway-action"
TABLE = Path(__file__).parent / "data" / "ngrok_ai_gateway_snippets.yaml"
KINDS = ("document", "action-config", "fragment-of-config", "not-policy")
PLACES = ("providers", "providers[]", "strategy")

STRATEGY_CHECKS = os.environ.get("AIGW_STRATEGY_CHECKS", "1") == "1"
"""Turn on when the planner's strategy stage is in lint (see the module docstring)."""

_FENCE = re.compile(r"^([ \t]*)```yaml\b[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Snippet:
    file: str
    index: int
    line: int
    text: str

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    @property
    def key(self) -> tuple[str, int]:
        return (self.file, self.index)


@cache
def snippets() -> tuple[Snippet, ...]:
    """Every ```yaml block of the docs, dedented, in file order."""
    found = []
    for path in sorted(DOCS.rglob("*.mdx")):
        text = path.read_text()
        for index, m in enumerate(_FENCE.finditer(text)):
            found.append(Snippet(path.relative_to(DOCS).as_posix(), index,
                                 text.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group(2))))
    return tuple(found)


@cache
def table() -> dict[tuple[str, int], dict[str, Any]]:
    rows = yaml.safe_load(TABLE.read_text())
    out = {}
    for row in rows:
        key = (row["file"], row["index"])
        assert key not in out, f"two rows for {key}"
        assert row["kind"] in KINDS, row
        assert (row["kind"] == "fragment-of-config") == ("at" in row), row
        assert row.get("at", "providers") in PLACES, row
        assert (row["kind"] == "not-policy") != ("expect" in row), row
        out[key] = row
    return out


_HEAD = "on_http_request:\n  - type: ai-gateway\n    config:\n"
_WRAP = {
    "action-config": (_HEAD, 6),
    "providers": (_HEAD + "      providers:\n", 8),
    "providers[]": (_HEAD + "      providers:\n        - id: openai\n", 10),
    "strategy": (_HEAD + "      model_selection:\n        strategy:\n", 10),
}


def document(snippet: Snippet, row: dict[str, Any]) -> str:
    """The snippet as a policy document: as it is, or wrapped where its row says."""
    if row["kind"] == "document":
        return snippet.text
    head, indent = _WRAP[row.get("at", "action-config")]
    return head + textwrap.indent(snippet.text, " " * indent)


def _stage_diagnostics(policy: Policy | None, text: str, name: str) -> list[Diagnostic]:
    """What the strategies stage (the planner's lint pass, named ``strategies``) reports, if
    lint has it: the strategies' own checks and the routing analysis beside them."""
    stage = dict(analysis.PASSES).get("strategies")
    if stage is None or policy is None:
        return []
    return stage(policy, Source(text, name), LintOptions())


def outcome(snippet: Snippet, row: dict[str, Any]) -> tuple[list[str], list[str], Policy | None]:
    """(codes from every other stage, codes from the strategies stage, the policy)."""
    text = document(snippet, row)
    name = f"{snippet.file}#{snippet.index}.yaml"
    policy, diags = read(text, name=name)
    rest = Counter((d.code, d.span, d.message) for d in diags)
    staged = _stage_diagnostics(policy, text, name)
    rest.subtract((d.code, d.span, d.message) for d in staged)
    outside = [code for (code, _, _), n in rest.items() for _ in range(max(n, 0))]
    return sorted(outside), sorted(d.code for d in staged), policy


def _require_docs() -> None:
    require(DOCS)


# --- the table and the docs agree -------------------------------------------------------

def test_every_snippet_has_a_row_and_every_row_a_snippet():
    _require_docs()
    rows = table()
    found = {s.key: s for s in snippets()}
    new = [s for k, s in found.items() if k not in rows]
    changed = [s for k, s in found.items() if k in rows and rows[k]["sha"] != s.sha]
    gone = [k for k in rows if k not in found]
    problems = [f"new snippet {s.file} #{s.index} (line {s.line}), sha {s.sha}:\n{s.text}"
                for s in new]
    problems += [f"changed snippet {s.file} #{s.index} (line {s.line}): sha {s.sha} (table: "
                 f"{rows[s.key]['sha']}); review its row:\n{s.text}" for s in changed]
    problems += [f"row {k} has no snippet in the docs any more" for k in gone]
    assert not problems, "\n\n".join(problems)
    assert len(found) >= 150  # every yaml fence was found, not a few


def _rows(*kinds: str, clean_only: bool = False) -> list[Any]:
    """The snippets of these kinds (``clean_only``: those the table expects to lint clean)."""
    if not TABLE.exists():
        return []
    if not DOCS.exists():
        return [pytest.param(None, id="ngrok-docs-missing")]
    rows = table()
    return [pytest.param(s, id=f"{s.file}#{s.index}") for s in snippets()
            if s.key in rows and rows[s.key]["kind"] in kinds
            and (not clean_only or rows[s.key]["expect"] == "ok")]


POLICY_KINDS = ("document", "action-config", "fragment-of-config")


@pytest.mark.parametrize("snippet", _rows(*POLICY_KINDS))
def test_snippet_loads_and_lints_as_the_table_says(snippet: Snippet | None) -> None:
    _require_docs()
    assert snippet is not None
    row = table()[snippet.key]
    outside, inside, _ = outcome(snippet, row)
    expect = [] if row["expect"] == "ok" else sorted(row["expect"])
    assert outside == expect, f"{snippet.file} #{snippet.index}:\n{document(snippet, row)}"
    if STRATEGY_CHECKS:
        want = row.get("strategies", "decide")
        assert want != "decide", f"{snippet.file} #{snippet.index}: the table does not say what " \
            f"its strategies should give ({row.get('note', '')}); got {inside}"
        assert inside == ([] if want == "ok" else sorted(want)), snippet.text


@pytest.mark.parametrize("snippet", _rows(*POLICY_KINDS, clean_only=True))
def test_snippet_round_trips_through_the_dsl(snippet: Snippet | None) -> None:
    """Every snippet that lints clean round-trips (those with expected errors have no IR)."""
    _require_docs()
    assert snippet is not None
    row = table()[snippet.key]
    from aigw_policy.diagnostics import Diagnostics
    from aigw_policy.source import Source
    from aigw_policy.syntax.dsl import read_dsl
    from aigw_policy.syntax.yaml_form import dump_yaml, read_yaml

    _, _, policy = outcome(snippet, row)
    assert policy is not None
    dsl = print_dsl(policy)
    diags = Diagnostics()
    again = read_dsl(Source(dsl, "printed.aigw"), diags)
    assert not diags.has_errors, [str(d) for d in diags]
    assert again == policy
    assert format_policy(dsl) == dsl
    dumped = dump_yaml(again)
    diags = Diagnostics()
    assert read_yaml(Source(dumped, "dumped.yaml"), diags) == policy and not diags.has_errors


@pytest.mark.parametrize("snippet", _rows("not-policy"))
def test_not_policy_snippets_are_not_policies(snippet: Snippet | None) -> None:
    """A `not-policy` row is a judgement; it must at least not be a mapping of policy or
    config keys, which would mean it could have been checked."""
    _require_docs()
    assert snippet is not None
    try:
        data = yaml.safe_load(snippet.text)
    except yaml.YAMLError:
        return
    assert not isinstance(data, (dict, list)) or _mixed(data), snippet.text


def _mixed(data: Any) -> bool:
    from aigw_policy.ir.ai_gateway import AiGateway

    keys = set(data) if isinstance(data, dict) else set()
    return not (keys and keys <= set(AiGateway.model_fields) | {"on_http_request"})


def test_the_docs_are_here_under_ci():
    """Under CI the shared docs must be present: the snippet checks never skip there."""
    if in_ci():
        assert DOCS.exists(), f"{DOCS} is missing"


def test_the_strategies_stage_is_set_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the strategies stage reports is counted apart from the rest (and not at all while
    lint has no such stage)."""
    def stage(policy: Policy, source: Source | None, options: LintOptions) -> list[Diagnostic]:
        span = policy.on_http_request[0].actions[0].span_of("model_selection.strategy.0")
        return [Diagnostic.make("AIGW300", "from the stage", span)]

    monkeypatch.setattr(analysis, "PASSES", (*analysis.PASSES, ("strategies", stage)))
    snippet = Snippet("x.mdx", 0, 1, "model_selection:\n  strategy: ['ai.models']\n")
    outside, inside, _ = outcome(snippet, {"kind": "action-config"})
    assert (outside, inside) == ([], ["AIGW300"])
