"""An elementwise strategy over the ``ngrok/auto`` pool, kept from one metrics snapshot to the next.

A strategy such as ``ai.models.filter(m, m.metrics.global.error_rate.total < 0.05)`` reads
live metrics, so its memo (per snapshot ``version``, :func:`.plan._run`) is lost each time
the numbers change: in a gateway that records every answer, that is every request, and the
filter ran again over the whole catalog (~300 us for 500 models). When the predicate reads
its model alone (:func:`.selection.elementwise`), whether a model is kept depends only on
that model's element, and an element changes only when its pair's own metrics do. So each
model's answer is kept, with the metrics it was computed from; a new snapshot asks again
only for the pairs whose metrics differ (by value) from those, and rebuilds the result only
when an answer changed. The result is the filter's: the kept models in pool order, or the
first error in that order (a filter evaluates its models in order and stops at an error).

What is kept is immutable once stored (a change makes new dicts), so threads may share it
through the route's memo as they share the other memos.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..cel.runtime.values import CelError
from .elements import model_metrics
from .model import MetricsSnapshot

if TYPE_CHECKING:
    from .compile import CompiledRoute, CompiledStrategy

__all__ = ["kept_filter"]

Ref = tuple[str, str]
Verdict = "bool | str"  # kept, dropped, or the message of the error the predicate raised
Result = tuple[tuple[Ref, ...], int, "tuple[str, str] | None"]


class _Kept:
    """Each model's answer and the live metrics (``(data, per-key data)``) it was computed from."""

    __slots__ = ("version", "signatures", "verdicts", "result")

    def __init__(self, version: Any, signatures: dict[Ref, Any], verdicts: dict[Ref, Any], result: Result) -> None:
        self.version = version
        self.signatures = signatures
        self.verdicts = verdicts
        self.result = result


def kept_filter(route: CompiledRoute, strategy: CompiledStrategy, key: Any, static: list[dict[str, Any]],
                positions: Mapping[Ref, int] | Callable[[], Mapping[Ref, int]], metrics: MetricsSnapshot | None,
                scope: dict[str, Any],
                name: str) -> Result:
    """``(refs, count, error)`` of an elementwise ``strategy`` over ``static`` (the pool's
    elements without metrics; ``positions``: ref -> index, or a function that makes it when
    an answer is asked again) with ``metrics`` laid over,
    as :func:`.plan._run` would get by evaluating it over the whole pool."""
    version = metrics.get("version") if metrics else None
    kept: _Kept | None = route.memo.get(key)  # type: ignore[assignment]
    if kept is not None and type(version) is int and kept.version == version:
        return kept.result
    if callable(positions):
        positions = positions()
    delta = metrics.get("changed") if kept is not None and metrics else None
    if delta is not None and delta[0] == kept.version and not metrics.get("model_keys"):  # type: ignore[union-attr]
        signatures: dict[Ref, Any] | None = None  # the kept ones, with the remade pairs' (below)
    else:
        signatures = _signatures(metrics, positions)
    fn = strategy.program.function  # type: ignore[union-attr]

    def verdict(ref: Ref) -> Any:
        el = static[positions[ref]]
        sig = signatures.get(ref)  # type: ignore[union-attr]  # set before any answer is asked
        if sig is not None:
            el = {**el, "metrics": model_metrics(sig[0], sig[1])}
        scope[name] = [el]
        try:
            return len(fn(scope)) == 1
        except CelError as e:
            return str(e)

    if kept is None:
        assert signatures is not None
        verdicts = {el["_ref"]: verdict(el["_ref"]) for el in static}
        result = _result(static, verdicts)
    else:
        old = kept.signatures
        if signatures is None:  # the snapshot says which pairs it remade since the kept one's
            signatures, changed = _remade(old, metrics, positions)  # type: ignore[arg-type]
        else:
            get = old.get
            changed = []
            for ref, sig in signatures.items():
                was = get(ref)
                if was is not sig and was != sig:  # (a store gives an unchanged pair's numbers as the same dict)
                    changed.append(ref)
            if len(old) > len(signatures) - len(changed):  # some pairs are gone
                changed += [ref for ref in old if ref not in signatures]
        verdicts, result = kept.verdicts, kept.result
        new: dict[Ref, Any] | None = None
        for ref in changed:
            v = verdict(ref)
            if v != verdicts[ref]:
                if new is None:
                    new = dict(verdicts)
                new[ref] = v
        if new is not None:
            verdicts, result = new, _result(static, new)
    route.remember(key, _Kept(version, signatures, verdicts, result))
    return result


def _signatures(metrics: MetricsSnapshot | None, positions: Mapping[Ref, int]) -> dict[Ref, Any]:
    """``(data, per-key data)`` of each pool pair the snapshot has numbers for: all that its
    element's ``metrics`` is made of (:meth:`.elements.Elements.with_metrics`)."""
    seen = metrics.get("models") if metrics else None
    if not seen:
        return {}
    by_key = metrics.get("model_keys")  # type: ignore[union-attr]
    if not by_key:
        return {ref: (data, None) for ref, data in seen.items() if ref in positions}
    per_key: dict[Ref, dict[str, Any]] = {}
    for (pid, mid, kid), data in by_key.items():
        per_key.setdefault((pid, mid), {})[kid] = data
    return {ref: (data, per_key.get(ref)) for ref, data in seen.items() if ref in positions}


def _remade(old: dict[Ref, Any], metrics: MetricsSnapshot, positions: Mapping[Ref, int]) -> tuple[
        dict[Ref, Any], list[Ref]]:
    """The signatures of a snapshot that says (``"changed": (version, refs)``) that its model
    pairs are those of the snapshot of ``version`` but ``refs``, which it remade or added: the
    kept signatures with those pairs' (the store's own claim, made under its lock:
    ``MemoryRouteMetrics.snapshot``), and the pool's refs among them."""
    seen = metrics["models"]
    remade = [ref for ref in metrics["changed"][1] if ref in positions]
    if not remade:  # none of the pool's: the kept signatures stand (never changed once kept)
        return old, []
    signatures = dict(old)
    for ref in remade:
        data = seen.get(ref)
        if data is None:
            signatures.pop(ref, None)
        else:
            signatures[ref] = (data, None)
    return signatures, remade


def _result(static: list[dict[str, Any]], verdicts: dict[Ref, Any]) -> Result:
    refs = []
    for el in static:
        ref = el["_ref"]
        v = verdicts[ref]
        if v is True:
            refs.append(ref)
        elif v is not False:
            return (), 0, ("ERR_NGROK_3803", v)
    return tuple(refs), len(refs), None
