"""The suite's own data-driven case files are held to the rule policy test files follow: an
unknown or duplicate key, or an expectation that checks nothing, is an error, not a case
that passes while checking nothing (a step written `expct:` would be skipped silently by its
harness). Policy test files (`*.test.yaml`) are checked by the product (AIGW6xx)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_policy.engine.testing import EXPECT_KEYS, check_text, discover
from aigw_policy.limits import Outcome

HERE = Path(__file__).parent


def _load(path: Path) -> Any:
    """The file's data; a duplicate key is refused (the last one would silently win)."""
    text = path.read_text(encoding="utf-8")
    _no_duplicates(yaml.compose(text, Loader=yaml.SafeLoader), set())
    return yaml.safe_load(text)


def _no_duplicates(node: Any, done: set[int]) -> None:
    if id(node) in done:  # an alias: checked where it is defined
        return
    done.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.tag != "tag:yaml.org,2002:merge":  # `<<: *base`: later keys override it
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key `{key.value}`",
                                                            key.start_mark)
                seen.add(key.value)
            _no_duplicates(value, done)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_duplicates(item, done)


def _keys(item: Any, allowed: set[str], required: set[str], where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}: not a mapping"]
    out = [f"{where}: unknown key `{k}`" for k in item if k not in allowed]
    return out + [f"{where}: missing `{k}`" for k in sorted(required - set(item))]


SCENARIO_OPS = {"reserve", "check", "reconcile", "release", "seed"}
OUTCOME_FIELDS = {f.name for f in dataclasses.fields(Outcome)}


def test_store_scenarios() -> None:
    problems: list[str] = []
    for scenario in _load(HERE / "limits" / "data" / "scenarios.yaml"):
        name = scenario.get("name", "?")
        problems += _keys(scenario, {"name", "limits", "steps", "options"}, {"name", "limits", "steps"}, name)
        for i, step in enumerate(scenario.get("steps", [])):
            where = f"{name}, step {i + 1}"
            problems += _keys(step, {"at", "charges", "actual", "used", "expect"} | SCENARIO_OPS, {"at"}, where)
            ops = SCENARIO_OPS & set(step)
            if len(ops) != 1:
                problems.append(f"{where}: one of {sorted(SCENARIO_OPS)} (has {sorted(ops)})")
            if "expect" in step and step["expect"] is None:  # `expect: []` is a check: no outcomes
                problems.append(f"{where}: an empty `expect` checks nothing")
            for outcome in step.get("expect") or []:
                problems += _keys(outcome, OUTCOME_FIELDS, set(), f"{where}, expect")
    assert not problems, "\n".join(problems)


def test_engine_spec_cases() -> None:
    """The SPEC cases are policy test files (each case maybe with its own `policy`), with the
    expectation keys test files have; the malformed request files have theirs."""
    problems: list[str] = []
    for path in sorted((HERE / "engine" / "data" / "spec").glob("*.yaml")):
        doc = _load(path)
        problems += _keys(doc, {"policy", "cases"}, {"cases"}, path.name)
        for i, case in enumerate(doc.get("cases", [])):
            where = f"{path.name}: {case.get('name', i + 1)}"
            problems += _keys(case, {"name", "policy", "request", "expect", "steps"}, set(), where)
            for n, step in enumerate(case.get("steps", [case])):
                at = f"{where}, step {n + 1}"
                problems += _keys(step, set(step) if step is case else {"request", "expect"}, {"request", "expect"}, at)
                if step.get("expect"):
                    problems += _keys(step["expect"], set(EXPECT_KEYS), set(), f"{at}, expect")
    malformed = HERE / "engine" / "data" / "malformed_requests.yaml"
    doc = _load(malformed)
    problems += _keys(doc, {"policy", "cases"}, {"policy", "cases"}, malformed.name)
    for i, case in enumerate(doc.get("cases", [])):
        problems += _keys(case, {"name", "raw", "replay", "exit_code", "output_contains"}, {"raw", "exit_code"},
                          f"{malformed.name}: {case.get('name', i + 1)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("file", "keys"), [
    ("cel/data/syntax_errors.yaml", {"expr", "code", "at"}),
    ("syntax/data/dsl_errors.yaml", {"name", "text", "want"}),
    ("fmt/data/format_cases.yaml", {"id", "input", "output"}),
    ("fmt/data/printer_cases.yaml", {"id", "action", "dsl"}),
    ("fmt/data/comment_cases.yaml", {"id", "input", "output"}),
])
def test_flat_case_files(file: str, keys: set[str]) -> None:
    """Each case has exactly its harness's keys."""
    problems = [p for i, case in enumerate(_load(HERE / file)) for p in _keys(case, keys, keys, f"{file} #{i + 1}")]
    assert not problems, "\n".join(problems)


def test_policy_test_files_in_the_suite_are_clean() -> None:
    files = discover(HERE) + discover(HERE.parent / "examples")
    assert files
    problems = [str(d) for f in files for d in check_text(f.read_text(), str(f), f.parent)]
    assert not problems, "\n".join(problems)


def test_the_strict_loader_refuses_a_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("- {at: 0, expect: [], expect: [{used: 1}]}\n")
    with pytest.raises(yaml.YAMLError, match="duplicate key `expect`"):
        _load(path)
