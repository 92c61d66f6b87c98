"""Python values as z3 terms and back, exactly.

z3's own ``StringVal`` hands its text to z3's parser, which reads ``\\u{41}`` (and the other
escapes of SMT-LIB strings) as the character it names: a policy's literal ``'\\u{41}'``, six
characters, became the one-character ``A``, and ``as_string`` writes a character that is not
printable ASCII back as such an escape. So every text crosses here: each character that is
not printable ASCII, and the backslash, is written as its own escape, and a string value is
read back character by character. A model's value is simplified when z3's evaluation leaves
a term (a comparison of strings, say) rather than a value.
"""

from __future__ import annotations

import ctypes
from typing import Any

import z3

__all__ = ["char_range", "evaluate", "str_val", "text_of"]


def str_val(s: str) -> Any:
    """The z3 string value of ``s``, character for character."""
    return z3.StringVal("".join(c if 32 <= ord(c) < 127 and c != "\\" else "\\u{%x}" % ord(c) for c in s))


def char_range(lo: str, hi: str) -> Any:
    """The regular expression of one character from ``lo`` to ``hi``."""
    return z3.Range(str_val(lo), str_val(hi))


def text_of(v: Any) -> str:
    """The Python text of the z3 string value ``v``."""
    ctx, ast = v.ctx_ref(), v.as_ast()
    n = z3.Z3_get_string_length(ctx, ast)
    chars = (ctypes.c_uint * n)()
    z3.Z3_get_string_contents(ctx, ast, n, chars)
    return "".join(map(chr, chars))


def evaluate(model: z3.ModelRef, term: Any) -> Any:
    """``term``'s value in ``model`` (every free constant given one), simplified to a value
    when z3's evaluation leaves a term."""
    v = model.eval(term, model_completion=True)
    if z3.is_int_value(v) or z3.is_true(v) or z3.is_false(v) or z3.is_string_value(v):
        return v
    return z3.simplify(v)
