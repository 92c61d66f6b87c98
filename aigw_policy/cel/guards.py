"""What the fast body calls when a guard fails: leave it, so the exact body decides.

The fast body is plain Python wherever Python's answer is CEL's; for ``dyn`` operands it
checks the runtime value inline first (a bool is not a number, a string is not a
container) and calls :func:`leave` when the check fails. Any exception in the fast body
sends the evaluation to the exact body, which follows the spec to the letter.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["NAMES", "leave"]


def leave() -> NoReturn:
    raise TypeError("not for the fast body")


NAMES: dict[str, object] = {"_leave": leave, "_SIZED": frozenset({str, bytes, list, dict, tuple})}
