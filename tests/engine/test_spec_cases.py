"""SPEC acceptance cases, written from /work/shared/SPEC.md only (§3-§8).

Each ``data/spec/*.yaml`` file holds one topic, in the policy test-file format of
``aigw-policy test`` (docs/engine.md, "Policy tests"; the same as ``data/*.test.yaml``)::

    policy: {...}                 # the YAML form, inline
    cases:
      - name: ...
        policy: {...}             # optional: this case's own policy (the file's otherwise)
        request: {...}            # or `steps: [{request, expect}, ...]`
        expect: {...}             # a subset of the decision, as test files match it

Every case runs as a test file of its own (its policy written next to it, so spans in the
decision are the policy file's), checked first by the product's strict checker: an unknown
key anywhere is an error (AIGW700), not a case that checks nothing.

``data/malformed_requests.yaml``: request files that are not requests, run through
``aigw-policy explain`` (or ``replay``), with the exit code and the words the output must
contain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.engine.testing import check_text, run_file

DATA = Path(__file__).parent / "data"
FILES = sorted((DATA / "spec").glob("*.yaml"))
MALFORMED = DATA / "malformed_requests.yaml"
TOP_KEYS = {"policy", "cases"}
RAW_KEYS = {"name", "raw", "replay", "exit_code", "output_contains"}


def _cases() -> list[Any]:
    out = []
    for f in FILES:
        doc = yaml.safe_load(f.read_text())
        assert set(doc) <= TOP_KEYS and "cases" in doc, f"{f.name}: keys are {sorted(TOP_KEYS)}"
        for i, case in enumerate(doc["cases"]):
            case = dict(case)
            policy = case.pop("policy", doc.get("policy"))
            out.append(pytest.param(policy, case, id=f"{f.stem}::{case.get('name', i)}"))
    return out


@pytest.mark.parametrize(("policy", "case"), _cases())
def test_spec_case(policy: dict[str, Any], case: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    test_file = tmp_path / "case.test.yaml"
    test_file.write_text(yaml.safe_dump({"policy": "policy.yaml", "cases": [case]}, sort_keys=False))
    problems = check_text(test_file.read_text(), str(test_file), tmp_path)
    assert not problems, "\n".join(map(str, problems))
    result = run_file(test_file)
    failed = [f"{c.name}: " + "\n".join(c.failures) for c in result.cases if not c.passed]
    assert result.cases and not failed, "\n".join(failed)


def _malformed() -> list[Any]:
    doc = yaml.safe_load(MALFORMED.read_text())
    assert set(doc) <= TOP_KEYS
    out = []
    for i, case in enumerate(doc["cases"]):
        assert set(case) <= RAW_KEYS and {"raw", "exit_code"} <= set(case), case
        out.append(pytest.param(doc["policy"], case, id=case.get("name", str(i))))
    return out


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2
        return CliRunner()


@pytest.mark.parametrize(("policy", "case"), _malformed())
def test_malformed_request_file(policy: dict[str, Any], case: dict[str, Any], tmp_path: Path) -> None:
    pfile = tmp_path / "policy.yaml"
    pfile.write_text(yaml.safe_dump(policy, sort_keys=False))
    rfile = tmp_path / "request.json"
    rfile.write_text(case["raw"])
    command = "replay" if case.get("replay") else "explain"
    fmt = "jsonl" if command == "replay" else "json"
    res = _runner().invoke(app, [command, str(rfile), "--policy", str(pfile), "--format", fmt])
    out = res.stdout + (getattr(res, "stderr", "") or "")
    assert res.exit_code == case["exit_code"], out
    assert "Traceback" not in out, out
    for part in case.get("output_contains", []):
        assert part.lower() in out.lower(), out
