"""Python values as z3 terms and back, exactly.

z3's own ``StringVal`` hands its text to z3's parser, which reads ``\\u{41}`` (and the other
escapes of SMT-LIB strings) as the character it names: a policy's literal ``'\\u{41}'``, six
characters, became the one-character ``A``, and ``as_string`` writes a character that is not
printable ASCII back as such an escape. So every text crosses here: each character that is
not printable ASCII, and the backslash, is written as its own escape, and a string value is
read back character by character. A model's value is simplified when z3's evaluation leaves
a term (a comparison of strings, say) rather than a value.

z3's strings hold the code points up to U+2FFFF (``MAX_CHAR``), a request's texts any up to
U+10FFFF. The encoding stays exact because every character a policy names (a literal, a
pattern's class, a config text) is at most ``TEXT_MAX``, below z3's top by 4,096 characters:
the higher characters a request holds, all above everything the policy names, map in order
onto z3's top 4,096 (a question reads a handful of texts, never 4,096 distinct characters
there), so a request's answer is a z3 model's answer. A text naming a higher character has
no exact term: :func:`str_val` refuses it (:class:`Unencodable`), and the question that
needed it answers unknown; a CEL literal such as ``'\U00030000'`` is an unknown value.
"""

from __future__ import annotations

import ctypes
from typing import Any

import z3

__all__ = ["MAX_CHAR", "TEXT_MAX", "Unencodable", "char_range", "encodable", "evaluate", "str_val", "text_of"]

MAX_CHAR = 0x2FFFF
"""The highest character z3's strings hold."""

TEXT_MAX = MAX_CHAR - 0x1000
"""The highest character a policy's text may name and be encoded (see the module's text)."""


class Unencodable(ValueError):
    """A policy's text names a character above :data:`TEXT_MAX`: no exact z3 term."""


def encodable(s: str) -> bool:
    """Whether ``s`` names only characters :func:`str_val` encodes exactly."""
    return all(ord(c) <= TEXT_MAX for c in s)


def _escaped(s: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c != "\\" else "\\u{%x}" % ord(c) for c in s)


def str_val(s: str) -> Any:
    """The z3 string value of ``s``, character for character (:class:`Unencodable` if ``s``
    names a character above :data:`TEXT_MAX`)."""
    if not encodable(s):
        raise Unencodable(f"a text names a character above U+{TEXT_MAX:X}")
    return z3.StringVal(_escaped(s))


def char_range(lo: str, hi: str) -> Any:
    """The regular expression of one character from ``lo`` to ``hi`` (up to z3's top: the
    classes ``.`` and ``[^...]`` reach past what a policy names)."""
    if ord(hi) > MAX_CHAR:
        raise Unencodable(f"a range reaches past U+{MAX_CHAR:X}")
    return z3.Range(z3.StringVal(_escaped(lo)), z3.StringVal(_escaped(hi)))


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
