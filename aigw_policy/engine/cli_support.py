"""What the ``explain``, ``replay`` and ``test`` commands do, apart from argument parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..ir import Policy
from .request import RequestError

__all__ = ["explain_request"]


def explain_request(policy: Policy, data: object, *, json_output: bool, trace: bool,
                    fail: Callable[[str], Exception]) -> tuple[str, bool]:
    """One decision with a fresh in-memory store seeded from ``state``; (output, denied)."""
    from ..stores import MemoryStore
    from .runner import Engine

    engine = Engine(policy, store=MemoryStore(), trace=True)
    try:
        decision = engine.evaluate(data, apply_state=True, request_id="explain")  # type: ignore[arg-type]
    except RequestError as error:
        raise fail(str(error)) from None
    if json_output:
        return json.dumps(decision.to_dict(), indent=2, sort_keys=False, default=str), decision.verdict == "deny"
    return decision.text(trace=trace), decision.verdict == "deny"




def run_tests(path: Any, *, verbose: bool, coverage: bool) -> tuple[str, int]:
    """``aigw-policy test``: (report, exit code). 0 all pass, 1 a failure, 2 unreadable."""
    from .testing import TestFileError, discover, run_file

    files = discover(path)
    if not files:
        return f"no test files (*.test.yaml, *_test.yaml) under `{path}`", 2
    lines: list[str] = []
    passed = failed = 0
    broken = False
    uncovered: list[str] = []
    for file in files:
        try:
            result = run_file(file)
        except TestFileError as error:
            lines.append(f"ERROR {error}")
            broken = True
            continue
        shown = [c for c in result.cases if verbose or not c.passed]
        if shown:
            lines.append(f"{result.path}:")
        for case in shown:
            mark = "PASS" if case.passed else "FAIL"
            lines.append(f"  {mark} {case.name} ({case.seconds * 1000:.1f}ms)")
            for f in case.failures:
                lines.append(f"      {f}")
        passed += sum(c.passed for c in result.cases)
        failed += sum(not c.passed for c in result.cases)
        for phase, label, line, src in result.rules:
            if (phase, label) not in result.exercised:
                import os

                if src and line and not src.endswith("<policy>"):
                    where = f"{os.path.relpath(os.path.normpath(src))}:{line}"
                else:
                    where = f"{result.path} (policy line {line})"
                uncovered.append(f"  {where}: rule `{label}` ({phase})")
    total = passed + failed
    if lines:
        lines.append("-" * 60)
    lines.append(f"PASS: {passed}/{total}")
    if failed:
        lines.append(f"FAIL: {failed}/{total}")
    if coverage and uncovered:
        lines.append(f"rules no test exercises ({len(uncovered)}):")
        lines.extend(sorted(set(uncovered)))
    return "\n".join(lines), 2 if broken else (1 if failed else 0)
