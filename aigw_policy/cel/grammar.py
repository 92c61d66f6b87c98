"""The CEL grammar (``grammar/cel.lark``, shipped in the wheel) and its lark parser."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark

__all__ = ["GRAMMAR_DIR", "grammar_text", "lark_parser"]

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammar"


def grammar_text(name: str) -> str:
    """The text of a grammar file shipped in ``grammar/``."""
    return (GRAMMAR_DIR / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The LALR parser of ``cel.lark`` (start ``expr``), built once."""
    return Lark(grammar_text("cel.lark"), start="expr", parser="lalr",
                lexer="contextual", propagate_positions=True, maybe_placeholders=False)
