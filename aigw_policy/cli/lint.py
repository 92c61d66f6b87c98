"""``aigw-policy lint``: check policy files (and the test and keys files beside them)."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..analysis import LintOptions
from ..analysis.cost import DEFAULT_MAX_COST
from ..diagnostic_formats import diagnostics_json, diagnostics_sarif, diagnostics_text, summary
from ..diagnostics import Diagnostic
from ..source import Source
from .common import POLICY_SUFFIXES, fail_usage, is_request_file, plural, read_text
from .failures import CommandFailure

if TYPE_CHECKING:
    from ..ir import Policy
    from ..loader import Format


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def lint(
    paths: Annotated[list[Path], typer.Argument(help="Policy files or directories.")],
    format: Annotated[LintFormat, typer.Option("--format", "-f", help="Output format.")] = (
        LintFormat.text
    ),
    warnings_as_errors: Annotated[
        bool, typer.Option("--strict", help="Fail on warnings too.")
    ] = False,
    runtime_lookups: Annotated[
        bool, typer.Option("--runtime-lookups", help="Also warn on identity/header lookups that can fail at run time (AIGW403).")
    ] = False,
    max_cost: Annotated[
        int, typer.Option("--max-cost", min=1, help="Refuse (AIGW310) CEL expressions whose worst-case cost is higher.")
    ] = DEFAULT_MAX_COST,
    show_cost: Annotated[
        bool, typer.Option("--show-cost", help="List the worst-case cost of every CEL expression.")
    ] = False,
    prove_seconds: Annotated[
        float, typer.Option("--prove-seconds", min=0, help="Solver time per policy for the unreachable and "
                            "shadowed rule checks (AIGW420, AIGW421; needs z3); 0 turns them off.")
    ] = 2.0,
) -> None:
    """Check policy files and report every problem with its code and location.

    A directory may hold what sits beside a policy: policy test files (`*.test.yaml`) are
    checked as test files, keys files (a top-level `keys`) as keys files, and request files
    (REQUEST.json) are skipped; the summary counts each kind."""
    files, requests = _lint_targets(paths)
    options = LintOptions(max_cost=max_cost, runtime_lookups=runtime_lookups)
    if not files:
        where = ", ".join(f"`{p}`" for p in paths)
        if requests:
            raise fail_usage(f"{where}: only request files, which lint does not check "
                             "(`aigw-policy explain REQUEST.json --policy FILE` decides one)")
        raise fail_usage(f"no policy files found in {where} (looked for {', '.join(POLICY_SUFFIXES)})",
                         where=", ".join(map(str, paths)))
    diagnostics: list[Diagnostic] = []
    unread: list[Diagnostic] = []  # shown and listed with the findings; the summary counts the checked files'
    sources: dict[str | None, Source] = {}
    kinds: dict[str, int] = {}
    for path in files:
        name = str(path)
        try:
            text = read_text(path)
        except CommandFailure as failure:  # the other files go on, exit 2 at the end
            unread.append(failure.diagnostic())
            continue
        sources[name] = Source(text, name)
        kind, policy, found = lint_text(path, text, options)
        kinds[kind] = kinds.get(kind, 0) + 1
        if policy is not None and prove_seconds > 0 and not any(d.is_error for d in found):
            found = _with_solver(policy, found, prove_seconds)
        diagnostics.extend(found)
        if show_cost and policy is not None:
            from ..analysis.cost import costs

            for c in costs(policy, sources[name]):
                where = f"{c.span}" if c.span else name
                typer.echo(f"{where}: cost {c.cost:,}: {' '.join(c.source.split())}")
    unreadable = len(unread)
    if format is LintFormat.json:
        typer.echo(diagnostics_json(unread + diagnostics))
    elif format is LintFormat.sarif:
        typer.echo(diagnostics_sarif(unread + diagnostics))
    else:
        if unread or diagnostics:
            typer.echo(diagnostics_text(unread + diagnostics, sources))
            typer.echo("")
        counts = summary(diagnostics)
        checked = plural(len(files) - unreadable, "file")
        if set(kinds) - {"policy"}:
            checked += " (" + ", ".join(plural(n, k) for k, n in kinds.items()) + ")"
        problems = (f"{plural(counts['errors'], 'error')}, {plural(counts['warnings'], 'warning')}"
                    if counts["total"] else "no problems" if len(files) > unreadable else "nothing checked")
        skipped = f"; {unreadable} could not be read" if unreadable else ""
        if requests:
            skipped += f"; {plural(requests, 'request file')} skipped (`aigw-policy explain` reads them)"
        typer.echo(f"{checked}: {problems}{skipped}")
    counts = summary(diagnostics)
    if unreadable:
        raise typer.Exit(2)
    if counts["errors"] or (warnings_as_errors and counts["warnings"]):
        raise typer.Exit(1)


def lint_text(
    path: Path, text: str, options: LintOptions, format: Format | None = None
) -> tuple[str, Policy | None, list[Diagnostic]]:
    """Lint one file's text: its kind (as the summary counts it), the policy read from it
    (None for a test or keys file, or when nothing could be read) and its diagnostics. The
    one code path of `lint` and of the editors' `lsp`; ``format`` overrides the file name's."""
    from ..loader import read

    kind = "policy" if format is not None else _lint_kind(path, text)
    if kind != "policy":
        return kind, None, _lint_companion(kind, path, text)
    policy, found = read(text, name=str(path), options=options, format=format)
    return kind, policy, found


def _with_solver(policy: object, found: list[Diagnostic], seconds: float) -> list[Diagnostic]:
    """The solver's warnings (when z3 is installed) in place of the syntactic "never runs"
    warnings (AIGW400 always false, AIGW401) on the same rules."""
    from ..prove import available

    if not available():
        return found
    from ..prove.lint import solver_warnings

    extra, spans = solver_warnings(policy, seconds)  # type: ignore[arg-type]
    if not extra:
        return found
    kept = [d for d in found if not (d.code in ("AIGW400", "AIGW401") and d.span in spans
                                     and (d.code == "AIGW401" or "always false" in d.message))]
    return kept + extra


_POLICY_TOP = ("on_http_request", "on_http_response", "on_tcp_connect")
_TOP_KEY = re.compile(r"""^(["']?)([A-Za-z_][\w.-]*)\1[ \t]*:""", re.MULTILINE)


def _lint_targets(paths: list[Path]) -> tuple[list[Path], int]:
    """The files `lint` checks, and how many request files it skipped."""
    files: list[Path] = []
    requests = 0
    for path in paths:
        if not path.is_dir():
            if path.is_file() and path.suffix.lower() == ".json" and is_request_file(path):
                requests += 1  # a REQUEST.json named by hand: `explain` takes it, not lint
            else:
                files.append(path)
            continue
        for p in sorted(path.rglob("*")):
            if p.suffix.lower() not in POLICY_SUFFIXES or ".venv" in p.parts or "node_modules" in p.parts:
                continue
            if is_request_file(p):
                requests += 1
            else:
                files.append(p)
    return files, requests


def _lint_kind(path: Path, text: str) -> str:
    """`policy`, `policy test file` (by name, as `aigw-policy test` finds them) or `keys file`
    (a top-level `keys` and no policy phase, as `serve --keys` reads them)."""
    from ..engine.testing import is_test_file

    if is_test_file(path):
        return "policy test file"
    if path.suffix.lower() == ".aigw":
        return "policy"
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return "policy"
        top = set(data) if isinstance(data, dict) else set()
    else:
        top = {m.group(2) for m in _TOP_KEY.finditer(text)}
    return "keys file" if "keys" in top and not top & set(_POLICY_TOP) else "policy"


class _AnyEnv(dict):  # type: ignore[type-arg]
    """Every environment variable is set, to a placeholder: lint checks a keys file's shape,
    not this machine's secrets."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> str:
        return "<set at serve time>"


def _lint_companion(kind: str, path: Path, text: str) -> list[Diagnostic]:
    """Diagnostics of a policy test file or a keys file (never their secrets: `${env.X}` in a
    keys file is not read)."""
    if kind == "policy test file":
        from ..engine.testing import check_text

        return check_text(text, str(path), path.parent)
    from ..gateway.keys import KeysError, parse_keys

    try:
        parse_keys(text, name=str(path), env=_AnyEnv())
    except KeysError as error:
        return list(error.diagnostics)
    return []
