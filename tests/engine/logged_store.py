"""A memory store that logs its calls, for tests that compare what two runs asked of a store."""

from __future__ import annotations

from typing import Any

from aigw_policy.stores import MemoryStore


class LoggedStore(MemoryStore):
    """A store that logs every call, sync or async."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def check(self, *args: Any) -> Any:
        self.calls.append("check")
        return super().check(*args)

    def reserve(self, *args: Any) -> Any:
        self.calls.append("reserve")
        return super().reserve(*args)

    def reconcile(self, *args: Any) -> Any:
        self.calls.append("reconcile")
        return super().reconcile(*args)

    def release(self, *args: Any) -> Any:
        self.calls.append("release")
        return super().release(*args)

    async def acheck(self, *args: Any) -> Any:
        self.calls.append("acheck")
        return await super().acheck(*args)

    async def areserve(self, *args: Any) -> Any:
        self.calls.append("areserve")
        return await super().areserve(*args)

    async def areconcile(self, *args: Any) -> Any:
        self.calls.append("areconcile")
        return await super().areconcile(*args)

    async def arelease(self, *args: Any) -> Any:
        self.calls.append("arelease")
        return await super().arelease(*args)
