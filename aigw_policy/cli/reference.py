"""``aigw-policy schema`` and ``codes``: reference data for editors and people."""

from __future__ import annotations

import json

import typer


def schema() -> None:
    """Print the JSON Schema of the YAML/JSON policy form (for editors)."""
    from ..schema import policy_json_schema

    typer.echo(json.dumps(policy_json_schema(), indent=2))


def codes() -> None:
    """List every diagnostic code with its severity and title."""
    from ..codes import CODES

    for code in CODES.values():
        typer.echo(f"{code.code}  {code.severity.value:<7}  {code.title}")
