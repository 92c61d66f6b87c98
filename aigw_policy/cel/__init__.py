"""CEL for aigw-policy: parse (:mod:`.parser`), check (:mod:`.checker`), compile to Python
(:mod:`.codegen`), run (:mod:`.runtime`).

    fn = compile("a + 1 > b", {"a": "int", "b": "int"})
    fn({"a": 1, "b": 0})   # -> True; a CEL error raises CelError
"""

from __future__ import annotations

from .api import (
    CelError,
    Program,
    check_condition,
    clear_cache,
    compile,
    compile_ast,
    compile_condition,
    compile_conditions,
)
from ..env.declarations import flatten_activation

__all__ = [
    "compile",
    "compile_ast",
    "compile_condition",
    "compile_conditions",
    "check_condition",
    "flatten_activation",
    "clear_cache",
    "CelError",
    "Program",
]
