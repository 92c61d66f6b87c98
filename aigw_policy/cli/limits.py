"""``aigw-policy limits``: what's left for a key or a team, read from the store, charging nothing."""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import fail_usage
from .failures import JSON_SYNTAX, TOO_LARGE, UNAVAILABLE
from .ledger_inputs import open_store, policy_limits


class LimitsFormat(str, Enum):
    text = "text"
    json = "json"


def _identity(key: str | None, team: str | None, identity: str | None, keys: Path | None) -> dict[str, Any]:
    given = [n for n, v in (("--key", key), ("--team", team), ("--identity", identity)) if v is not None]
    if len(given) != 1:
        raise fail_usage("give one of --key, --team or --identity")
    if keys is not None and key is None:
        raise fail_usage("--keys reads the identity of a --key")
    if keys is not None:
        return _from_keys(keys, key)  # type: ignore[arg-type]
    if identity is None:
        return {"key": key} if key is not None else {"team": team}
    try:
        value = json.loads(identity)
    except json.JSONDecodeError as exc:
        raise fail_usage(f"--identity is not valid JSON: {exc.msg}", JSON_SYNTAX, "--identity",
                         line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise fail_usage("--identity is nested too deeply to read", TOO_LARGE, "--identity") from None
    from ..env.request import Identity

    if not isinstance(value, dict):
        raise fail_usage('--identity must be a JSON object, e.g. {"key": "k1", "team": "research"}')
    try:
        return Identity.model_validate(value).model_dump(exclude_none=True)
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}  # type: ignore[attr-defined]
        where = ".".join(str(p) for p in first["loc"]) or "identity"
        raise fail_usage(f"--identity: `{where}`: {first['msg']}") from None


def _from_keys(path: Path, key: str) -> dict[str, Any]:
    """The whole identity (team, user, ...) the keys file gives the key whose id is ``key``."""
    from ..gateway.keys import KeysError, load_keys

    try:
        ring = load_keys(path)
    except KeysError as exc:
        raise fail_usage(str(exc), exc.diagnostics[0].code if exc.diagnostics else "AIGW600", path) from None
    found = [dict(i) for i in ring.identities.values() if i.get("key") == key]
    if not found:
        raise fail_usage(f"no key of `{path}` has the id `{key}` (identity.key)")
    return found[0]


def _n(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4f}".rstrip("0").rstrip(".")


def limits(
    policy: Annotated[Path, typer.Option("--policy", metavar="FILE", help="The policy whose limits to show")],
    store: Annotated[str, typer.Option("--store", metavar="URL", help="The store that enforces: memory:, sqlite:PATH or redis://...")],
    key: Annotated[Optional[str], typer.Option("--key", metavar="K", help="The identity's key id (identity.key)")] = None,
    team: Annotated[Optional[str], typer.Option("--team", metavar="T", help="The identity's team (identity.team)")] = None,
    identity: Annotated[Optional[str], typer.Option("--identity", metavar="JSON",
                                                    help='The whole identity, e.g. {"key": "k1", "team": "research"}')] = None,
    keys: Annotated[Optional[Path], typer.Option("--keys", metavar="FILE",
                                                 help="The gateway's keys file: --key K is then the whole "
                                                 "identity it gives the key with id K (team, ...)")] = None,
    format: Annotated[LimitsFormat, typer.Option("--format", help="text for a person, json for scripts")] = LimitsFormat.text,  # noqa: A002
) -> None:
    """What's left for me? Every limit that applies to an identity: used, limit, remaining,
    reset time and outcome, read from the store (nothing is charged)."""
    from ..engine.limit_view import limits_for
    from ..limits.model import StoreUnavailable

    who = _identity(key, team, identity, keys)
    compiled, _ = policy_limits(policy)
    limit_store = open_store(store)
    now = time.time()
    try:
        views = limits_for(compiled, limit_store, who, now)  # type: ignore[arg-type]
    except StoreUnavailable as exc:
        raise fail_usage(f"the store did not answer: {exc}", UNAVAILABLE) from None
    finally:
        close = getattr(limit_store, "close", None)
        if callable(close):
            close()
    if format is LimitsFormat.json:
        typer.echo(json.dumps({"identity": who, "limits": [v.to_dict() for v in views]}, indent=2))
        return
    if not views:
        typer.echo("no limit applies to this identity")
        return
    for v in views:
        head = f"{v.name} ({v.type}, bucket {v.key!r})" if v.key is not None else f"{v.name} ({v.type})"
        if v.used is None:
            typer.echo(f"{head}: limit {_n(v.limit)} {v.unit}; {v.note or 'usage unknown'}")
        else:
            typer.echo(f"{head}: {_n(v.used)} of {_n(v.limit)} {v.unit} used, {_n(v.remaining)} left, "
                       f"resets {v.reset_at}: {v.outcome}" + ("" if v.enforce else " (not enforced)"))
        if v.when:
            typer.echo(f"  applies when: {' && '.join(v.when)}")
        if v.note and v.used is not None:
            typer.echo(f"  note: {v.note}")
