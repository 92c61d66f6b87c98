"""The engine's named errors: what an embedding application catches."""

from __future__ import annotations

from ..limits.model import StoreUnavailable

__all__ = ["StoreUnavailableError", "UnknownRequestError"]


class UnknownRequestError(LookupError):
    """``complete()`` was given a request id this engine is not waiting on.

    ``request_id`` is the id asked for. The likely causes are in the message: the request
    was never evaluated here (or was evaluated with ``expect_response=False``), it was
    dropped because too many requests were waiting (its reservation was then released), it
    was completed too long ago to be remembered, or another process or engine evaluated it.
    """

    def __init__(self, request_id: str, *, max_pending: int, max_done: int) -> None:
        self.request_id = request_id
        done = (f"it was completed more than {max_done:,} completions ago" if max_done else
                "it was completed already (this engine remembers no completions: max_done=0)")
        super().__init__(
            f"no request `{request_id}` is waiting for its response in this engine. Likely causes: "
            f"it was never evaluated here (or with expect_response=False); it waited while more than "
            f"{max_pending:,} other requests were evaluated and was dropped, its reservation released; "
            f"{done}; or another process or engine evaluated it (complete it there)")


class StoreUnavailableError(StoreUnavailable):
    """:meth:`Engine.check` / :meth:`Engine.acheck` could not reach the limit store or the
    ledger. The message names which (a URL's password is never shown) and why."""
