"""SPEC acceptance cases, written from /work/shared/SPEC.md only (§3-§8).

Each ``data/spec/*.yaml`` file holds one topic:

```yaml
policy: {...}                 # the YAML form, inline (written to a temp file)
cases:
  - name: ...
    request: {...}            # one REQUEST.json: run through `aigw-policy explain --format json`
    expect: {...}             # a subset of the decision (maps recursively, lists element by element)
  - name: ...
    steps:                    # a traffic sequence: run through `aigw-policy replay --format jsonl`
      - request: {...}
        expect: {...}
  - name: ...
    raw: "text of a request file"   # a malformed request file
    exit_code: 2
    output_contains: [...]
```

Shorthands in ``expect``: ``limits`` may be a map by limit name; ``reason_contains`` (a
string or a list, case-insensitive); ``errors`` as an int is a count; ``absent: [keys]``
top-level keys that must be missing or null; ``response_headers: [names]`` headers the
gateway's answer must carry (any value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aigw_policy.cli import app

HERE = Path(__file__).parent / "data" / "spec"
FILES = sorted(HERE.glob("*.yaml"))


def _cases() -> list[Any]:
    out = []
    for f in FILES:
        doc = yaml.safe_load(f.read_text())
        for i, case in enumerate(doc["cases"]):
            policy = case.get("policy", doc.get("policy"))
            out.append(pytest.param(policy, case, id=f"{f.stem}::{case.get('name', i)}"))
    return out


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2
        return CliRunner()


def _match(actual: Any, expected: Any, path: str) -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a map, got {actual!r}"]
        errs: list[str] = []
        for k, v in expected.items():
            if k not in actual:
                errs.append(f"{path}.{k}: missing (have {sorted(actual)})")
            else:
                errs.extend(_match(actual[k], v, f"{path}.{k}"))
        return errs
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        if len(actual) < len(expected):
            return [f"{path}: expected at least {len(expected)} items, got {actual!r}"]
        errs = []
        for i, v in enumerate(expected):
            errs.extend(_match(actual[i], v, f"{path}[{i}]"))
        return errs
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, (int, float)) and not isinstance(actual, bool) and isinstance(expected, (int, float)):
            return [] if abs(float(actual) - float(expected)) < 1e-6 else [f"{path}: {actual!r} != {expected!r}"]
    if actual != expected or type(actual) is not type(expected) and not (
        isinstance(actual, (int, float)) and isinstance(expected, (int, float)) and not isinstance(actual, bool)
    ):
        return [f"{path}: {actual!r} != {expected!r}"]
    return []


def check(decision: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    expect = dict(expect)
    errs: list[str] = []
    reason = expect.pop("reason_contains", None)
    if reason is not None:
        for part in [reason] if isinstance(reason, str) else reason:
            if part.lower() not in str(decision.get("reason") or "").lower():
                errs.append(f"reason {decision.get('reason')!r} lacks {part!r}")
    for name in expect.pop("response_headers", []):
        headers = {k.lower(): v for k, v in ((decision.get("response") or {}).get("headers") or {}).items()}
        if not headers.get(name.lower()):
            errs.append(f"response header {name} missing: {headers!r}")
    for key in expect.pop("absent", []):
        if decision.get(key) not in (None, {}, []):
            errs.append(f"{key}: expected absent, got {decision.get(key)!r}")
    errors = expect.get("errors")
    if isinstance(errors, int):
        expect.pop("errors")
        if len(decision.get("errors") or []) != errors:
            errs.append(f"errors: expected {errors}, got {decision.get('errors')!r}")
    limits = expect.get("limits")
    if isinstance(limits, dict):
        expect.pop("limits")
        by_name = {entry["name"]: entry for entry in decision.get("limits") or []}
        for name, sub in limits.items():
            if sub is None:
                if name in by_name:
                    errs.append(f"limits.{name}: expected no entry, got {by_name[name]!r}")
            elif name not in by_name:
                errs.append(f"limits.{name}: missing (have {sorted(by_name)})")
            else:
                errs.extend(_match(by_name[name], sub, f"limits.{name}"))
    errs.extend(_match(decision, expect, "decision"))
    return errs


@pytest.mark.parametrize(("policy", "case"), _cases())
def test_spec_case(policy: dict[str, Any], case: dict[str, Any], tmp_path: Path) -> None:
    pfile = tmp_path / "policy.yaml"
    pfile.write_text(yaml.safe_dump(policy, sort_keys=False))
    runner = _runner()
    if "raw" in case:
        rfile = tmp_path / "request.json"
        rfile.write_text(case["raw"])
        if case.get("replay"):
            res = runner.invoke(app, ["replay", str(rfile), "--policy", str(pfile), "--format", "jsonl"])
        else:
            res = runner.invoke(app, ["explain", str(rfile), "--policy", str(pfile), "--format", "json"])
        out = res.stdout + (getattr(res, "stderr", "") or "")
        assert res.exit_code == case["exit_code"], out
        assert "Traceback" not in out, out
        for part in case.get("output_contains", []):
            assert part.lower() in out.lower(), out
        return
    if "request" in case:
        rfile = tmp_path / "request.json"
        rfile.write_text(json.dumps(case["request"]))
        res = runner.invoke(app, ["explain", str(rfile), "--policy", str(pfile), "--format", "json"])
        assert res.exit_code == 0, (res.stdout, getattr(res, "stderr", ""), res.exception)
        decision = json.loads(res.stdout)
        errs = check(decision, case["expect"])
        assert not errs, "\n".join(errs) + "\n" + json.dumps(decision, indent=1)[:6000]
        return
    steps = case["steps"]
    tfile = tmp_path / "traffic.jsonl"
    tfile.write_text("".join(json.dumps(s["request"]) + "\n" for s in steps))
    res = runner.invoke(app, ["replay", str(tfile), "--policy", str(pfile), "--format", "jsonl"])
    assert res.exit_code == 0, (res.stdout, getattr(res, "stderr", ""), res.exception)
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert len(lines) == len(steps), res.stdout
    failures = []
    for i, (step, decision) in enumerate(zip(steps, lines, strict=True)):
        errs = check(decision, step["expect"])
        if errs:
            failures.append(f"step {i + 1}: " + "; ".join(errs) + "\n" + json.dumps(decision)[:3000])
    assert not failures, "\n".join(failures)
