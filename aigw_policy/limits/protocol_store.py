"""The store calls of a Redis store whose work is a sans-IO protocol (``self._proto``: each
call a generator of what to send) run by ``self._run`` / ``self._arun``: written once for the
single-server store and the cluster store, which differ only in how they send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model import Charge, LimitSpec, Outcome
from .outbox import SettleRetry

__all__ = ["ProtocolStore"]


class ProtocolStore(SettleRetry):
    _proto: Any

    def _run(self, step: Any) -> Any:
        raise NotImplementedError

    async def _arun(self, step: Any) -> Any:
        raise NotImplementedError

    def check(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        return self._run(self._proto.check(charges, now))  # type: ignore[no-any-return]

    def reserve(self, request_id: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        return self._run(self._proto.reserve(request_id, charges, now))  # type: ignore[no-any-return]

    def _reconcile_now(self, request_id: str, actual: Mapping[str, float],
                       now: float) -> list[Outcome]:
        return self._run(self._proto.reconcile(request_id, actual, now))  # type: ignore[no-any-return]

    def _release_now(self, request_id: str, now: float) -> None:
        self._run(self._proto.release(request_id, now))

    def seed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        self._run(self._proto.seed(spec, key, used, now))

    async def acheck(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        return await self._arun(self._proto.check(charges, now))  # type: ignore[no-any-return]

    async def areserve(self, request_id: str, charges: Sequence[Charge],
                       now: float) -> list[Outcome]:
        return await self._arun(self._proto.reserve(request_id, charges, now))  # type: ignore[no-any-return]

    async def _areconcile_now(self, request_id: str, actual: Mapping[str, float],
                              now: float) -> list[Outcome]:
        return await self._arun(self._proto.reconcile(request_id, actual, now))  # type: ignore[no-any-return]

    async def _arelease_now(self, request_id: str, now: float) -> None:
        await self._arun(self._proto.release(request_id, now))

    async def aseed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        await self._arun(self._proto.seed(spec, key, used, now))
