"""``aigw-policy prove`` (SPEC §13): answers about every possible request, from an SMT
encoding of the policy (z3). :mod:`.symbolic` is the §5 environment as solver variables,
:mod:`.translate` CEL as formulas, :mod:`.regex` patterns and globs, :mod:`.semantics` the
request phase, :mod:`.witness` requests built from models and replayed through the engine,
:mod:`.solving` one check under a time budget, :mod:`.questions` the three questions,
:mod:`.lint` the warnings lint shows.

z3 is an optional dependency (``pip install 'aigw-policy[prove]'``): :func:`available` says
whether it is installed; nothing here imports it until a question is asked.
"""

from __future__ import annotations

__all__ = ["INSTALL_HINT", "available"]

INSTALL_HINT = "`aigw-policy prove` needs the z3 solver: pip install 'aigw-policy[prove]' (or: pip install z3-solver)"


def available() -> bool:
    """Whether z3 (``z3-solver``) is installed."""
    try:
        import z3  # noqa: F401
    except ImportError:
        return False
    return True
