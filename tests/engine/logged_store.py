"""A memory store that logs its calls, for tests that compare what two runs asked of a store."""

from __future__ import annotations

from typing import Any

from aigw_policy.limits import StoreUnavailable
from aigw_policy.stores import MemoryStore


class LoggedStore(MemoryStore):
    """A store that logs every call, sync or async; ``fail``: the calls (``reserve``,
    ``reconcile``...: sync and async alike) that raise :class:`StoreUnavailable` once logged."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail = fail

    def _log(self, name: str) -> None:
        self.calls.append(name)
        if name.removeprefix("a") in self.fail:
            raise StoreUnavailable(f"{name}: down for the test")

    def check(self, *args: Any) -> Any:
        self._log("check")
        return super().check(*args)

    def reserve(self, *args: Any) -> Any:
        self._log("reserve")
        return super().reserve(*args)

    def reconcile(self, *args: Any) -> Any:
        self._log("reconcile")
        return super().reconcile(*args)

    def release(self, *args: Any) -> Any:
        self._log("release")
        return super().release(*args)

    async def acheck(self, *args: Any) -> Any:
        self._log("acheck")
        return await super().acheck(*args)

    async def areserve(self, *args: Any) -> Any:
        self._log("areserve")
        return await super().areserve(*args)

    async def areconcile(self, *args: Any) -> Any:
        self._log("areconcile")
        return await super().areconcile(*args)

    async def arelease(self, *args: Any) -> Any:
        self._log("arelease")
        return await super().arelease(*args)
