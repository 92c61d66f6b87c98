"""``aigw-policy test``: run policy test files (requests and the decisions they must get)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .common import fail_usage
from .failures import UNREADABLE, USAGE


def test_policies(
    path: Annotated[Path, typer.Argument(help="A test file, or a directory searched for *.test.yaml.")] = Path("."),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passing cases too.")] = False,
    coverage: Annotated[bool, typer.Option("--coverage/--no-coverage", help="Report rules no test exercises.")] = True,
) -> None:
    """Run policy tests (requests and the decisions they must get), like `opa test`."""
    if not path.exists():
        raise fail_usage(f"`{path}` does not exist", UNREADABLE, path)
    text, code = _run_tests(path, verbose=verbose, coverage=coverage)
    typer.echo(text)
    raise typer.Exit(code)


def _run_tests(path: Path, *, verbose: bool, coverage: bool) -> tuple[str, int]:
    """(report, exit code). 0 all pass, 1 a failure, 2 unreadable; no test file: exit 2."""
    from ..engine.testing import TestFileError, discover, run_file

    files = discover(path)
    if not files:
        raise fail_usage(f"no test files (*.test.yaml, *_test.yaml) under `{path}`", USAGE, path)
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
