"""``aigw-policy prove``: answers about every possible request (SPEC §13), from z3.

Exit codes: 0 proved (every rule answered), equivalent or impossible; 1 possible or a
counterexample; 2 bad input (or z3 missing); 3 unknown.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import fail_usage, load_policy
from .failures import NOT_INSTALLED

if TYPE_CHECKING:
    from ..engine.compile import CompiledPolicy
    from ..prove.questions import Answer

app = typer.Typer(
    name="prove",
    help="Answers about every possible request: which rules can fire, what a kind of request can get, "
         "whether two versions decide alike.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

EXIT = {"proved": 0, "equivalent": 0, "impossible": 0, "possible": 1, "counterexample": 1, "unknown": 3}


class ProveFormat(str, Enum):
    text = "text"
    json = "json"


class Verdict(str, Enum):
    allow = "allow"
    deny = "deny"


FormatOpt = Annotated[ProveFormat, typer.Option("--format", "-f", help="Output format.")]
LimitsOpt = Annotated[bool, typer.Option("--limits-ok", help="Assume every limit has room (by default a limit may be in any state).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS",
                                           help="Seconds the solver may spend on one check.")]


def _compiled(path: Path) -> CompiledPolicy:
    from ..prove import INSTALL_HINT, available

    if not available():
        raise fail_usage(INSTALL_HINT, NOT_INSTALLED)
    from ..engine.compile import compile_policy

    return compile_policy(load_policy(path))


def _emit(answer: Answer, format: ProveFormat, text: list[str]) -> None:
    if format is ProveFormat.json:
        typer.echo(json.dumps({"result": answer.result, "witness": answer.witness, "details": answer.details},
                              indent=2))
    else:
        for line in text:
            typer.echo(line)
    raise typer.Exit(EXIT[answer.result])


def _witness_lines(witness: dict[str, Any] | None) -> list[str]:
    if witness is None:
        return []
    return ["witness (REQUEST.json; `aigw-policy explain` on it gives the same answer):",
            json.dumps(witness, separators=(", ", ": "))]


@app.command("rules")
def prove_rules(
    policy: Annotated[Path, typer.Argument(metavar="POLICY", help="The policy file.")],
    format: FormatOpt = ProveFormat.text,
    limits_ok: LimitsOpt = False,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Each rule: reachable (with a witness request), unreachable, shadowed, or unknown."""
    cp = _compiled(policy)
    from ..prove.questions import Answer, Budget, rules

    answers = rules(cp, limits_ok=limits_ok, budget=Budget(timeout))
    result = "unknown" if any(a.result == "unknown" for a in answers) else "proved"
    lines = []
    for a in answers:
        lines.append(f"{a.result:<12} {a.rule}: {a.reason}")
        if a.witness is not None:
            lines.append("             " + json.dumps(a.witness, separators=(", ", ": ")))
    counts = {k: sum(1 for a in answers if a.result == k) for k in ("reachable", "unreachable", "shadowed", "unknown")}
    lines.append(", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no rules")
    _emit(Answer(result, None, [a.to_dict() for a in answers]), format, lines)


@app.command("query")
def prove_query(
    policy: Annotated[Path, typer.Argument(metavar="POLICY", help="The policy file.")],
    where: Annotated[str, typer.Option("--where", metavar="CEL", help="The requests asked about (a CEL condition).")],
    verdict: Annotated[Verdict, typer.Option("--verdict", help="The verdict asked about.")],
    format: FormatOpt = ProveFormat.text,
    limits_ok: LimitsOpt = False,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Can a request satisfying --where get --verdict? possible (with a witness) or impossible."""
    cp = _compiled(policy)
    _check_where(where)
    from ..prove.questions import Budget, query

    answer = query(cp, where, verdict.value, limits_ok=limits_ok, budget=Budget(timeout))
    lines = [f"{answer.result}: " + _reason(answer, f"a request with `{where}` can get {verdict.value}")]
    lines += _witness_lines(answer.witness)
    _emit(answer, format, lines)


@app.command("equiv")
def prove_equiv(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="The policy as it is.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The policy as it would be.")],
    format: FormatOpt = ProveFormat.text,
    limits_ok: LimitsOpt = False,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Do OLD and NEW give every request the same verdict and status? equivalent, or a
    counterexample request."""
    a, b = _compiled(old), _compiled(new)
    from ..prove.questions import Budget, equiv

    answer = equiv(a, b, limits_ok=limits_ok, budget=Budget(timeout))
    lines = [f"{answer.result}: " + _reason(answer, "a request that the two decide differently")]
    lines += _witness_lines(answer.witness)
    _emit(answer, format, lines)


def _reason(answer: Answer, found: str) -> str:
    if answer.witness is not None:
        parts = [found] + [", ".join(f"{k} {v}" for k, v in d.items() if v is not None) for d in answer.details]
        return "; ".join(parts)
    return "; ".join(str(d.get("reason", "")) for d in answer.details)


_PLACED = re.compile(r"(\d+):(\d+): error\[(AIGW\d{3})\]: (.*)", re.S)


def _check_where(where: str) -> None:
    """``--where`` is a bool CEL condition over the SPEC §5 environment (exit 2 if not)."""
    from ..cel import CelError
    from ..env.policy import compile_condition

    try:
        compile_condition(where)
    except CelError as error:
        first = error.diagnostics[0] if error.diagnostics else None
        span = getattr(first, "span", None)
        code, line, column, message = getattr(first, "code", None), getattr(span, "line", None), \
            getattr(span, "column", None), getattr(first, "message", None)
        placed = _PLACED.match(error.message)  # a syntax error: `1:14: error[AIGW200]: ...`
        if first is None and placed:
            line, column, code, message = int(placed[1]), int(placed[2]), placed[3], placed[4]
        raise fail_usage(f"--where: {message or error.message}", code or "AIGW422", "--where", line=line,
                         column=column) from None
    from ..analysis.cel_check import check_condition_type

    for d in check_condition_type(where, None):  # `1`, `ai.model`: no question of a request
        raise fail_usage(f"--where: {d.message}", d.code, "--where")
