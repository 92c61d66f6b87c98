"""Generic CEL: parse (:mod:`.parser`), check (:mod:`.checker`), compile to Python
(:mod:`.codegen`), run (:mod:`.runtime`), in an :class:`Environment` passed in
(:mod:`.environment`; the policy world of SPEC §5 is :mod:`aigw_policy.env`).

    fn = compile("a + 1 > b", {"a": "int", "b": "int"})
    fn({"a": 1, "b": 0})   # -> True; a CEL error raises CelError
"""

from __future__ import annotations

from .api import DEFAULT, CelError, Environment, Program, clear_cache, compile, compile_ast

__all__ = ["compile", "compile_ast", "clear_cache", "CelError", "DEFAULT", "Environment", "Program"]
