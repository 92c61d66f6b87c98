"""Rendering diagnostics: for people (text), for scripts (JSON) and for code scanners (SARIF)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ._version import __version__
from .codes import CODES
from .diagnostics import Diagnostic
from .source import Source

__all__ = ["diagnostics_json", "diagnostics_sarif", "diagnostics_text", "summary"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_SECRET_SPANS = frozenset({"AIGW147", "AIGW148", "AIGW149"})
"""Codes whose span is a secret (an API key written in a policy, a credential header's value):
the excerpt masks it."""


def diagnostics_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str | None, Source]) -> str:
    """rustc-style: header, location, the source line with an underline, help."""
    blocks: list[str] = []
    for d in diagnostics:
        lines = [f"{d.severity.value}[{d.code}]: {d.message}"]
        span = d.span
        if span is not None:
            lines.append(f"  --> {span}")
            source = sources.get(span.file)
            text = source.line_text(span.line) if source else ""
            if text:
                gutter = " " * len(str(span.line))
                width = (
                    max(1, span.end_column - span.column)
                    if span.end_line == span.line
                    else max(1, len(text) - span.column + 1)
                )
                shown = text.replace("\t", " ")
                if d.code in _SECRET_SPANS and span.end_line == span.line:
                    start = span.column - 1
                    shown = shown[:start] + "*" * width + shown[start + width:]
                lines.append(f"{gutter} |")
                lines.append(f"{span.line} | {shown}")
                lines.append(f"{gutter} | {' ' * (span.column - 1)}{'^' * width}")
        if d.help:
            lines.append(f"  = help: {d.help}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary(diagnostics: Sequence[Diagnostic]) -> dict[str, int]:
    errors = sum(1 for d in diagnostics if d.severity.value == "error")
    warnings = sum(1 for d in diagnostics if d.severity.value == "warning")
    return {"errors": errors, "warnings": warnings, "total": len(diagnostics)}


def diagnostics_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps(
        {"diagnostics": [d.to_dict() for d in diagnostics], "summary": summary(diagnostics)},
        indent=2,
        ensure_ascii=False,
    )


def diagnostics_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    """A SARIF 2.1.0 log with one run; rules are the codes that occur."""
    used = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": CODES[code].title if code in CODES else code,
            "shortDescription": {"text": CODES[code].title if code in CODES else code},
            "defaultConfiguration": {
                "level": _LEVEL[CODES[code].severity.value] if code in CODES else "error"
            },
            "helpUri": f"https://github.com/aigw-policy/aigw-policy/blob/main/docs/diagnostics.md#{code.lower()}",
        }
        for code in used
    ]
    results = []
    for d in diagnostics:
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _LEVEL[d.severity.value],
            "message": {"text": d.message + (f"\nhelp: {d.help}" if d.help else "")},
        }
        if d.span is not None:
            s = d.span
            result["locations"] = [{
                "physicalLocation": {
                    "artifactLocation": {"uri": s.file or "<input>"},
                    "region": {
                        "startLine": s.line,
                        "startColumn": s.column,
                        "endLine": s.end_line,
                        "endColumn": max(s.end_column, s.column),
                        "charOffset": s.start,
                        "charLength": s.end - s.start,
                    },
                }
            }]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aigw-policy",
                "version": __version__,
                "informationUri": "https://github.com/aigw-policy/aigw-policy",
                "rules": rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)
