"""Every selection strategy and selection expression in ngrok's AI gateway docs
(``../shared/ngrok/ai-gateway-action/**/*.mdx``) type-checks against our selection
environment, and each strategy returns what its list needs (models or keys).

The expressions are read out of the docs' code blocks: list items and bare lines that
start with ``ai.models``, ``ai.keys``, ``ai.providers`` or ``ai.authors``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aigw_policy.cel.runtime.values import CelError
from aigw_policy.routing.selection import KEY_TYPES, KEYS, MODEL_TYPES, MODELS
from shared_data import NGROK, require

DOCS = NGROK / "ai-gateway-action"
_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_LINE = re.compile(r"""^\s*(?:-\s*)?(?P<q>["']?)(?P<expr>ai\.(?:models|keys|providers|authors)\b.*?)(?P=q)\s*(?:#.*)?$""")


def expressions() -> list[tuple[str, str]]:
    """(file:line, expression) for every selection expression in the docs."""
    if not DOCS.exists():
        return []
    out: dict[str, str] = {}
    for path in sorted(DOCS.rglob("*.mdx")):
        text = path.read_text()
        for block in _BLOCK.finditer(text):
            start = text.count("\n", 0, block.start(1)) + 1
            for i, line in enumerate(block.group(1).splitlines()):
                m = _LINE.match(line)
                if m:
                    out.setdefault(m.group("expr"), f"{path.relative_to(DOCS)}:{start + i}")
    return [(where, expr) for expr, where in out.items()]


FOUND = expressions()


def test_the_docs_are_there_and_have_strategies() -> None:
    require(DOCS)
    assert len(FOUND) >= 60, FOUND  # the docs hold about a hundred distinct ones
    kinds = {expr.split(".")[1].split("(")[0] for _, expr in FOUND}
    assert {"models", "keys", "providers", "authors"} <= kinds


@pytest.mark.parametrize(("where", "expr"), FOUND, ids=[w for w, _ in FOUND])
def test_ngrok_expression_checks(where: str, expr: str) -> None:
    require(DOCS)
    env, want = (KEYS, KEY_TYPES) if expr.startswith("ai.keys") else (MODELS, MODEL_TYPES)
    try:
        program = env.compile(expr)
    except CelError as e:  # pragma: no cover - the failure message
        pytest.fail(f"{where}: `{expr}` does not check: {e}")
    if expr.startswith(("ai.models", "ai.keys")) and program.type is not None:
        assert str(program.type) in want, f"{where}: `{expr}` returns {program.type}"
