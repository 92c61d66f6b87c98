"""What the commands share: reading the files they are given, and failing with exit 2 (a coded
diagnostic: :mod:`.failures`)."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..diagnostic_formats import diagnostics_text
from ..files import read_input
from ..source import Source
from .failures import BAD_PRICES, JSON_SYNTAX, TOO_LARGE, UNREADABLE, USAGE, CommandFailure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..diagnostics import Diagnostic
    from ..ir import Policy
    from ..providers import PriceBook

POLICY_SUFFIXES = (".aigw", ".yaml", ".yml", ".json")

PRICES_HELP = ("Price overrides, JSON or YAML: {models: {gpt-4o: {input: 2.5, output: 10}}} "
               "(USD per million tokens), before the built-in prices.")


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1 (``3 policies``, ``2 keys files``)."""
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}s"


def fail_usage(message: str, code: str = USAGE, where: object = None, *, line: int | None = None,
               column: int | None = None, help: str | None = None) -> CommandFailure:
    """The failure to raise: shown as a coded diagnostic (``where``: the file or option at fault,
    with its ``line`` and ``column`` when known), exit 2."""
    return CommandFailure(code, message, where, line=line, column=column, help=help)


def unreadable(path: object, error: OSError) -> CommandFailure:
    """A file that cannot be read: missing, a directory, no permission, past the input bound."""
    code = TOO_LARGE if error.errno == errno.EFBIG else UNREADABLE
    return fail_usage(f"cannot read `{path}`: {error.strerror or error}", code, path)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories are searched for policy files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in POLICY_SUFFIXES)
            files.extend(p for p in found if not is_request_file(p))
        else:
            files.append(path)
    return files


def is_request_file(path: Path) -> bool:
    """A REQUEST.json (or traffic) file, which `lint` skips, in a directory or named: an object
    with `request` and no policy phase."""
    if path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(read_input(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # nested too deep is no request file either
        return False
    return (
        isinstance(data, dict)
        and "request" in data
        and not any(k.startswith("on_") for k in data)
    )


UTF8_BOM = b"\xef\xbb\xbf"


def read_text(path: Path) -> str:
    return read_source(path)[0]


def read_source(path: Path) -> tuple[str, bool]:
    """A file's text (a UTF-8 BOM skipped), and whether it began with one."""
    if str(path) == "-":
        return sys.stdin.read(), False
    try:
        data = read_input(path)
    except OSError as error:
        raise unreadable(path, error) from None
    try:
        return data.decode("utf-8-sig"), data.startswith(UTF8_BOM)
    except UnicodeDecodeError as error:
        before = data[:error.start].decode("utf-8-sig", "replace")
        line = before.count("\n") + 1
        raise fail_usage(f"`{path}` is not UTF-8 text", UNREADABLE, path, line=line,
                         column=len(before) - before.rfind("\n")) from None


def read_json(path: Path) -> object:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise fail_usage(f"`{path}` is not valid JSON: {error.msg}", JSON_SYNTAX, path,
                         line=error.lineno, column=error.colno) from None
    except RecursionError:
        raise fail_usage(f"`{path}` is nested too deeply to read", TOO_LARGE, path) from None


def load_prices(path: Path | None) -> PriceBook | None:
    """The price book for explain/replay: built-in prices, or the file's overrides first."""
    if path is None:
        return None
    from ..providers.errors import ProviderError
    from ..providers.price_file import load_price_file

    try:
        return load_price_file(path)
    except ProviderError as error:
        named = str(path) in error.message
        raise fail_usage(error.message if named else f"price file `{path}`: {error.message}", BAD_PRICES, path) from None


def load_policy(path: Path) -> Policy:
    """A policy for explain/replay/test; unreadable or invalid: usage error (exit 2)."""
    from ..loader import read

    text = read_text(path)
    policy, diagnostics = read(text, name=str(path))
    errors = [d for d in diagnostics if d.is_error]
    if policy is None or errors:
        raise failed_with(errors or diagnostics, f"`{path}` has errors (above); the command did not run", path, text)
    return policy


def failed_with(diagnostics: Sequence[Diagnostic], message: str, path: object, text: str | None) -> CommandFailure:
    """A file whose findings stop the command: each shown as lint shows it (with its line when
    ``text`` is known), then the failure, coded and placed as the first."""
    name = str(path)
    typer.echo(diagnostics_text(diagnostics, {name: Source(text, name)} if text is not None else {}), err=True)
    first = diagnostics[0] if diagnostics else None
    span = first.span if first is not None else None
    return fail_usage(message, first.code if first else UNREADABLE, path, line=span.line if span else None,
                      column=span.column if span else None, help=f"`aigw-policy lint {path}` checks it")
