"""Hot reload: a policy file watched (polling) or re-read on SIGHUP, swapped atomically.

A new version replaces the running one only when it loads without an error diagnostic (the
same checks as ``aigw-policy lint``) and compiles; otherwise the running policy stays and the
problems are logged. The swap is one attribute assignment: a request reads
``holder.current`` once, when it starts, and finishes (response phase, reconciliation) on
that engine, even if a new policy arrived meanwhile. Every engine shares the one limit store
and ledger, so counters carry over.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from ..files import read_input

__all__ = ["PolicyHolder", "ReloadError"]


class ReloadError(ValueError):
    """The policy file cannot be used; ``diagnostics`` says why (possibly empty for I/O)."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class PolicyHolder:
    """The running policy of a gateway. ``make_engine(policy) -> Engine`` builds an engine
    around the shared store, ledger and prices; ``current`` is the engine to use now."""

    def __init__(self, path: str | os.PathLike[str], make_engine: Callable[[Any], Any], *,
                 logger: logging.Logger | None = None, on_reload: Callable[[bool], None] | None = None) -> None:
        self.path = Path(path)
        self.make_engine = make_engine
        self.logger = logger or logging.getLogger("aigw_policy.gateway")
        self.on_reload = on_reload
        self.version = 0
        self._digest = ""
        self._stamp: tuple[float, int] | None = None
        self.current: Any = None
        self.current = self._build()  # the first load raises: the gateway does not start

    def _build(self) -> Any:
        from ..loader import read

        try:
            data = read_input(self.path)
            self._stamp = _stamp(self.path)
            text = data.decode("utf-8-sig")
        except OSError as error:
            raise ReloadError(f"cannot read `{self.path}`: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ReloadError(f"`{self.path}` is not UTF-8 text") from None
        digest = hashlib.sha256(data).hexdigest()
        policy, diagnostics = read(text, name=str(self.path))
        errors = [d for d in diagnostics if d.is_error]
        if policy is None or errors:
            raise ReloadError(f"`{self.path}` has errors; run `aigw-policy lint {self.path}`", errors or diagnostics)
        engine = self.make_engine(policy)
        self._digest = digest
        self.version += 1
        return engine

    def reload(self) -> bool:
        """Load the file again; swap only if it is valid and changed. True when swapped."""
        try:
            data = read_input(self.path)
        except OSError as error:
            self.logger.error("policy reload: cannot read %s: %s", self.path, error.strerror or error)
            self._report(False)
            return False
        if hashlib.sha256(data).hexdigest() == self._digest:
            self._stamp = _stamp(self.path)
            return False
        try:
            engine = self._build()
        except ReloadError as error:
            lines = [str(error)] + [f"  {d.code} {_where(d)}: {d.message}" for d in error.diagnostics[:20]]
            self.logger.error("policy reload rejected, keeping version %d:\n%s", self.version, "\n".join(lines))
            self._report(False)
            return False
        except Exception as error:  # noqa: BLE001 - a policy that does not compile keeps the old one
            self.logger.error("policy reload rejected, keeping version %d: %s", self.version, error)
            self._report(False)
            return False
        self.current = engine  # the atomic swap
        self.logger.info("policy reloaded from %s (version %d)", self.path, self.version)
        self._report(True)
        return True

    def _report(self, ok: bool) -> None:
        if self.on_reload is not None:
            self.on_reload(ok)

    def changed(self) -> bool:
        """Has the file's mtime or size moved since the last load?"""
        try:
            return _stamp(self.path) != self._stamp
        except OSError:
            return False

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the file every ``interval`` seconds and reload when it changes (cancel to stop)."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                await asyncio.to_thread(self.reload)  # compiling stays off the event loop


def _stamp(path: Path) -> tuple[float, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _where(d: Diagnostic) -> str:
    return str(d.span) if d.span is not None else ""
