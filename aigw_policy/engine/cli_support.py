"""What the ``explain``, ``replay`` and ``test`` commands do, apart from argument parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..ir import Policy
from ..providers import PriceBook
from ..env.request import RequestError

__all__ = ["explain_request"]


def explain_request(policy: Policy, data: object, *, json_output: bool, trace: bool,
                    fail: Callable[[str], Exception], prices: PriceBook | None = None) -> tuple[str, bool]:
    """One decision with a fresh in-memory store seeded from ``state``; (output, denied).
    ``prices``: overrides before the built-in prices (``--prices FILE``)."""
    from ..stores import MemoryStore
    from .runner import Engine

    engine = Engine(policy, store=MemoryStore(), trace=True, prices=prices)
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


def _brief(d: Any) -> dict[str, Any]:
    return {"verdict": d.verdict, "status_code": d.status_code, "rule": d.rule, "reason": d.reason}


def replay(policy: Policy, path: Any, *, against: Policy | None, fmt: str, write: Callable[[str], None],
           progress: bool, prices: PriceBook | None = None) -> tuple[str | None, int]:
    """``aigw-policy replay``: stream a JSONL file of requests through the policy (and the old
    one) with in-memory stores, in order, time from each ``now``. Memory does not grow with
    the file: lines are read one at a time and nothing is kept per request beyond the
    stores' own windows. Returns (summary text or None, exit code)."""
    from collections import Counter

    from ..stores import MemoryStore
    from .runner import Engine

    new = Engine(policy, store=MemoryStore(), prices=prices)
    old = Engine(against, store=MemoryStore(), prices=prices) if against is not None else None
    verdicts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    rules: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    bad = 0
    total = 0
    size = path.stat().st_size if hasattr(path, "stat") else 0
    bar = None
    if progress and size > 1_000_000:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                       TimeRemainingColumn(), transient=True)
        task = bar.add_task("replaying", total=size)
        bar.start()
    done = 0
    try:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                done += len(raw)
                if bar is not None and n % 256 == 0:
                    bar.update(task, completed=done)
                line = raw.strip()
                if not line:
                    continue
                total += 1
                try:
                    data = json.loads(line)
                    d = new.evaluate(data, apply_state=True, request_id=f"line-{n}", expect_response=False)
                    o = (old.evaluate(data, apply_state=True, request_id=f"line-{n}", expect_response=False)
                         if old is not None else None)
                except (ValueError, RequestError, RecursionError) as error:
                    bad += 1
                    msg = (str(error) if isinstance(error, RequestError)
                           else "nested too deeply to read" if isinstance(error, RecursionError)
                           else f"not valid JSON: {error}")
                    if fmt == "jsonl":
                        write(json.dumps({"line": n, "error": msg}))
                    continue
                verdicts[d.verdict] += 1
                statuses[d.status_code] += 1
                rules[d.rule or "(default)"] += 1
                if o is not None:
                    if (o.verdict, o.status_code, o.rule) != (d.verdict, d.status_code, d.rule):
                        key = f"{o.verdict} -> {d.verdict}" if o.verdict != d.verdict else f"{d.verdict}, other status or rule"
                        changes[key] += 1
                        if fmt == "jsonl":
                            write(json.dumps({"line": n, "id": d.id, "now": d.now, "old": _brief(o), "new": _brief(d)}))
                elif fmt == "jsonl":
                    out = d.to_dict()
                    out["line"] = n
                    write(json.dumps(out, default=str))
    finally:
        if bar is not None:
            bar.stop()
    code = 2 if bad else 0  # unreadable input: reported line by line, then exit 2
    if fmt != "summary":
        return None, code
    lines = [f"{total:,} requests" + (f", {bad:,} unreadable" if bad else "")]
    for v, c in verdicts.most_common():
        lines.append(f"  {v:<6} {c:>10,}")
    if statuses:
        lines.append("by status:")
        for s, c in sorted(statuses.items()):
            lines.append(f"  {s:<6} {c:>10,}")
    if rules:
        lines.append("by deciding rule:")
        for r, c in rules.most_common(20):
            lines.append(f"  {c:>10,}  {r}")
    if old is not None:
        changed = sum(changes.values())
        lines.append(f"changed against the old policy: {changed:,}")
        for k, c in changes.most_common():
            lines.append(f"  {c:>10,}  {k}")
    return "\n".join(lines), code
