"""The ``aigw-policy`` command line.

Exit codes: 0 success or clean, 1 the check failed (lint errors, ``fmt --check`` found
unformatted files), 2 bad usage or unreadable input.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .analysis import LintOptions
from .diagnostics import Diagnostic, PolicyError
from .diagnostic_formats import diagnostics_json, diagnostics_sarif, diagnostics_text, summary
from .source import Source

app = typer.Typer(
    name="aigw-policy",
    help="Lint, format, convert, explain, test and replay AI gateway traffic policies.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    rich_markup_mode=None,  # plain help: rich help shows `<bool>` after every flag
    pretty_exceptions_enable=False,
)

POLICY_SUFFIXES = (".aigw", ".yaml", ".yml", ".json")


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


class ConvertTarget(str, Enum):
    dsl = "dsl"
    yaml = "yaml"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from ._version import __version__

        typer.echo(f"aigw-policy {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Lint, format, convert, explain, test and replay AI gateway traffic policies."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fail_usage(message: str) -> typer.Exit:
    typer.echo(f"aigw-policy: {message}", err=True)
    return typer.Exit(2)


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories are searched for policy files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in POLICY_SUFFIXES)
            files.extend(p for p in found if not _is_request_file(p))
        else:
            files.append(path)
    return files


def _is_request_file(path: Path) -> bool:
    """A REQUEST.json (or traffic) file found while searching a directory for policies:
    an object with `request` and no policy phase. Named explicitly, a file is always read."""
    if path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and "request" in data
        and not any(k.startswith("on_") for k in data)
    )


def _read_text(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _fail_usage(f"cannot read `{path}`: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail_usage(f"`{path}` is not UTF-8 text") from None


@app.command()
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
    ] = 100_000_000,
    show_cost: Annotated[
        bool, typer.Option("--show-cost", help="List the worst-case cost of every CEL expression.")
    ] = False,
) -> None:
    """Check policy files and report every problem with its code and location.

    A directory may hold what sits beside a policy: policy test files (`*.test.yaml`) are
    checked as test files, keys files (a top-level `keys`) as keys files, and request files
    (REQUEST.json) are skipped; the summary counts each kind."""
    from .loader import read

    files, requests = _lint_targets(paths)
    if not files:
        where = ", ".join(f"`{p}`" for p in paths)
        raise _fail_usage(f"no policy files found in {where} (looked for {', '.join(POLICY_SUFFIXES)})")
    diagnostics: list[Diagnostic] = []
    sources: dict[str | None, Source] = {}
    unreadable = 0
    kinds: dict[str, int] = {}
    for path in files:
        name = str(path)
        try:
            text = _read_text(path)
        except typer.Exit:  # reported; go on with the other files, exit 2 at the end
            unreadable += 1
            continue
        sources[name] = Source(text, name)
        kind = _lint_kind(path, text)
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind != "policy":
            diagnostics.extend(_lint_companion(kind, path, text))
            continue
        options = LintOptions(max_cost=max_cost, runtime_lookups=runtime_lookups)
        policy, found = read(text, name=name, options=options)
        diagnostics.extend(found)
        if show_cost and policy is not None:
            from .analysis.cost import costs

            for c in costs(policy, sources[name]):
                where = f"{c.span}" if c.span else name
                typer.echo(f"{where}: cost {c.cost:,}: {' '.join(c.source.split())}")
    if format is LintFormat.json:
        typer.echo(diagnostics_json(diagnostics))
    elif format is LintFormat.sarif:
        typer.echo(diagnostics_sarif(diagnostics))
    else:
        if diagnostics:
            typer.echo(diagnostics_text(diagnostics, sources))
            typer.echo("")
        counts = summary(diagnostics)
        checked = _plural(len(files) - unreadable, "file")
        if set(kinds) - {"policy"}:
            checked += " (" + ", ".join(_plural(n, k) for k, n in kinds.items()) + ")"
        found = (f"{_plural(counts['errors'], 'error')}, {_plural(counts['warnings'], 'warning')}"
                 if counts["total"] else "no problems")
        skipped = f"; {unreadable} could not be read" if unreadable else ""
        if requests:
            skipped += f"; {_plural(requests, 'request file')} skipped"
        typer.echo(f"{checked}: {found}{skipped}")
    counts = summary(diagnostics)
    if unreadable:
        raise typer.Exit(2)
    if counts["errors"] or (warnings_as_errors and counts["warnings"]):
        raise typer.Exit(1)


_POLICY_TOP = ("on_http_request", "on_http_response", "on_tcp_connect")
_TOP_KEY = re.compile(r"""^(["']?)([A-Za-z_][\w.-]*)\1[ \t]*:""", re.MULTILINE)


def _lint_targets(paths: list[Path]) -> tuple[list[Path], int]:
    """The files `lint` checks, and how many request files it skipped in directories."""
    files: list[Path] = []
    requests = 0
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        for p in sorted(path.rglob("*")):
            if p.suffix.lower() not in POLICY_SUFFIXES or ".venv" in p.parts or "node_modules" in p.parts:
                continue
            if _is_request_file(p):
                requests += 1
            else:
                files.append(p)
    return files, requests


def _lint_kind(path: Path, text: str) -> str:
    """`policy`, `policy test file` (by name, as `aigw-policy test` finds them) or `keys file`
    (a top-level `keys` and no policy phase, as `serve --keys` reads them)."""
    from .engine.testing import is_test_file

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
        from .engine.testing import check_text

        return check_text(text, str(path), path.parent)
    from .gateway.keys import KeysError, parse_keys

    try:
        parse_keys(text, name=str(path), env=_AnyEnv())
    except KeysError as error:
        return list(error.diagnostics)
    return []


@app.command()
def fmt(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="DSL files (.aigw), or - for stdin.")],
    check: Annotated[
        bool, typer.Option("--check", help="Report files that are not formatted; write nothing.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Rewrite DSL files in canonical form (it re-parses its output to prove the meaning holds)."""
    from .fmt import format_policy

    files = [p for p in paths if str(p) == "-"] + _expand([p for p in paths if str(p) != "-"])
    if not files:
        raise _fail_usage("no files to format")
    unformatted: list[Path] = []
    failed = False
    for path in files:
        if str(path) != "-" and path.suffix.lower() != ".aigw":
            raise _fail_usage(
                f"`{path}`: fmt formats DSL files (.aigw); use `aigw-policy convert` for YAML/JSON"
            )
        text = _read_text(path)
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            formatted = format_policy(text, name=name)
        except PolicyError as error:
            typer.echo(diagnostics_text(error.diagnostics, {name: Source(text, name)}), err=True)
            failed = True
            continue
        if str(path) == "-":
            typer.echo(formatted, nl=False)
            continue
        if formatted == text:
            continue
        unformatted.append(path)
        if diff:
            typer.echo("".join(difflib.unified_diff(
                text.splitlines(True), formatted.splitlines(True), str(path), f"{path} (formatted)"
            )))
        if not check and not diff:
            path.write_text(formatted, encoding="utf-8")
            typer.echo(f"formatted {path}", err=True)
    if check and unformatted:
        for path in unformatted:
            typer.echo(f"would reformat {path}", err=True)
    if failed or (check and unformatted):
        raise typer.Exit(1)


@app.command()
def convert(
    path: Annotated[Path, typer.Argument(metavar="POLICY", help="A policy file (.aigw, .yaml, .yml, .json), or -.")],
    to: Annotated[ConvertTarget, typer.Option("--to", help="Target form.")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.")
    ] = None,
    source_format: Annotated[
        Optional[ConvertTarget], typer.Option("--from", help="Source form (default: by name).")
    ] = None,
) -> None:
    """Convert a policy between the DSL and the YAML/JSON form, losslessly (comments aside)."""
    from .fmt.printer import print_dsl
    from .loader import read
    from .syntax.yaml_form import dump_json, dump_yaml

    text = _read_text(path)
    name = "<stdin>" if str(path) == "-" else str(path)
    policy, diagnostics = read(
        text, name=name, format=source_format.value if source_format else None
    )
    errors = [d for d in diagnostics if d.is_error]
    if policy is None or errors:
        typer.echo(diagnostics_text(errors or diagnostics, {name: Source(text, name)}), err=True)
        raise typer.Exit(1)
    if to is ConvertTarget.dsl:
        result = print_dsl(policy)
    elif to is ConvertTarget.yaml:
        result = dump_yaml(policy)
    else:
        result = dump_json(policy)
    if output is None:
        typer.echo(result, nl=not result.endswith("\n"))
    else:
        try:
            output.write_text(result, encoding="utf-8")
        except OSError as error:
            raise _fail_usage(f"cannot write `{output}`: {error.strerror or error}") from None


@app.command()
def schema() -> None:
    """Print the JSON Schema of the YAML/JSON policy form (for editors)."""
    from .schema import policy_json_schema

    typer.echo(json.dumps(policy_json_schema(), indent=2))


@app.command()
def codes() -> None:
    """List every diagnostic code with its severity and title."""
    from .codes import CODES

    for code in CODES.values():
        typer.echo(f"{code.code}  {code.severity.value:<7}  {code.title}")


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"


class ReplayFormat(str, Enum):
    jsonl = "jsonl"
    summary = "summary"


_PRICES_HELP = ("Price overrides, JSON or YAML: {models: {gpt-4o: {input: 2.5, output: 10}}} "
                "(USD per million tokens), before the built-in prices.")


def _load_prices(path: Path | None):  # type: ignore[no-untyped-def]
    """The price book for explain/replay: built-in prices, or the file's overrides first."""
    if path is None:
        return None
    from .providers.errors import ProviderError
    from .providers.price_file import load_price_file

    try:
        return load_price_file(path)
    except ProviderError as error:
        named = str(path) in error.message
        raise _fail_usage(error.message if named else f"price file `{path}`: {error.message}") from None


def _load_policy(path: Path):  # type: ignore[no-untyped-def]
    """A policy for explain/replay/test; unreadable or invalid: usage error (exit 2)."""
    from .loader import read

    text = _read_text(path)
    name = str(path)
    policy, diagnostics = read(text, name=name)
    errors = [d for d in diagnostics if d.is_error]
    if policy is None or errors:
        typer.echo(diagnostics_text(errors or diagnostics, {name: Source(text, name)}), err=True)
        raise _fail_usage(f"`{path}` has errors; run `aigw-policy lint {path}`")
    return policy


@app.command()
def explain(
    request: Annotated[Path, typer.Argument(metavar="REQUEST", help="A request file (REQUEST.json), or - for stdin.")],
    policy: Annotated[Path, typer.Option("--policy", "-p", metavar="FILE", help="The policy file.")],
    format: Annotated[ExplainFormat, typer.Option("--format", "-f", help="Output format.")] = ExplainFormat.text,
    trace: Annotated[bool, typer.Option("--trace", help="Show every expression's value and every action's outcome.")] = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the request is denied.")] = False,
    prices: Annotated[Optional[Path], typer.Option("--prices", metavar="FILE", help=_PRICES_HELP)] = None,
) -> None:
    """Decide one request and explain why: deterministic, with a fresh in-memory store seeded
    from the request's `state` (never a real store)."""
    from .engine.cli_support import explain_request

    book = _load_prices(prices)
    doc = _load_policy(policy)
    data = _read_json(request)
    out, denied = explain_request(doc, data, json_output=format is ExplainFormat.json, trace=trace,
                                  fail=_fail_usage, prices=book)
    typer.echo(out)
    if exit_code and denied:
        raise typer.Exit(1)


@app.command("test")
def test_policies(
    path: Annotated[Path, typer.Argument(help="A test file, or a directory searched for *.test.yaml.")] = Path("."),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passing cases too.")] = False,
    coverage: Annotated[bool, typer.Option("--coverage/--no-coverage", help="Report rules no test exercises.")] = True,
) -> None:
    """Run policy tests (requests and the decisions they must get), like `opa test`."""
    from .engine.cli_support import run_tests

    if not path.exists():
        raise _fail_usage(f"`{path}` does not exist")
    text, code = run_tests(path, verbose=verbose, coverage=coverage)
    typer.echo(text)
    raise typer.Exit(code)


@app.command()
def replay(
    traffic: Annotated[Path, typer.Argument(metavar="TRAFFIC", help="Requests, one REQUEST.json object per line (JSONL).")],
    policy: Annotated[Path, typer.Option("--policy", "-p", metavar="FILE", help="The policy file.")],
    against: Annotated[Optional[Path], typer.Option("--against", metavar="FILE", help="An older policy: print only the requests whose decision changes.")] = None,
    format: Annotated[ReplayFormat, typer.Option("--format", "-f", help="One decision per line, or a summary.")] = ReplayFormat.jsonl,
    prices: Annotated[Optional[Path], typer.Option("--prices", metavar="FILE", help=_PRICES_HELP)] = None,
) -> None:
    """Replay recorded traffic through a policy, in order, with in-memory limits (never a real store)."""
    from .engine.cli_support import replay as run_replay

    book = _load_prices(prices)
    doc = _load_policy(policy)
    old = _load_policy(against) if against is not None else None
    if not traffic.is_file():
        raise _fail_usage(f"cannot read `{traffic}`")
    write = typer.echo
    summary_text, code = run_replay(doc, traffic, against=old, fmt=format.value, write=write,
                                    progress=sys.stderr.isatty(), prices=book)
    if summary_text is not None:
        typer.echo(summary_text)
    raise typer.Exit(code)


def _read_json(path: Path) -> object:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail_usage(f"`{path}` is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise _fail_usage(f"`{path}` is nested too deeply to read") from None


def _register_usage() -> None:
    from .ledger.report_cli import usage

    app.command("usage", help="Where did the tokens go: usage and cost from the ledger.")(usage)


_register_usage()


def _register_serve() -> None:
    from .gateway.cli import serve

    app.command("serve", help="Run the gateway: enforce the policy in front of an LLM API.")(serve)


_register_serve()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
