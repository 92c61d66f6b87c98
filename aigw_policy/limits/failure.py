"""What a decision says when the limit store cannot answer (``store_failure`` setting).

>>> r = store_failure("fail_closed", StoreUnavailable("redis store: timed out"))
>>> r.admitted, r.status_code, r.reason
(False, 503, 'limit store unavailable (fail_closed): redis store: timed out')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .model import StoreUnavailable

__all__ = ["StoreFailure", "StoreUnavailable", "store_failure"]

FailMode = Literal["fail_closed", "fail_open"]


@dataclass(frozen=True, slots=True)
class StoreFailure:
    """``fail_closed`` (the default) denies with 503; ``fail_open`` admits without counting.
    Either way ``reason`` goes into the decision, and ``outcome`` is the limits' outcome
    label (``store_unavailable``) for the decision's ``limits`` entries."""

    mode: FailMode
    admitted: bool
    status_code: int | None
    reason: str
    outcome: str = "store_unavailable"


def store_failure(mode: str | None, error: BaseException) -> StoreFailure:
    m: FailMode = "fail_open" if mode == "fail_open" else "fail_closed"
    detail = str(error) or type(error).__name__
    reason = f"limit store unavailable ({m}): {detail}"
    if m == "fail_open":
        return StoreFailure(m, True, None, reason)
    return StoreFailure(m, False, 503, reason)


