"""genai-prices' cost of a usage, from a plan made once per price and usage shape.

genai-prices' ``ModelInfo.calc_price`` does, on every call: resolve the price's units against
its unit registry, check that they cover each other, infer the usage values that were not
reported, split the usage into leaf counts (a unit's count less its more specific units'),
then price each leaf. Only the split and the pricing depend on the token counts; the rest
depends on the price and on which counts are above zero (the *shape*). On a machine of ours
the whole call costs ~100 us, and real traffic asks it for a new combination of counts on
almost every request (a completion's usage; a ``cost`` limit's estimate), so the cost cache
in front of it (:class:`~aigw_policy.providers.prices.LibraryPrices`) rarely helps.

A :class:`Plan` is that call's usage-independent part, done once by the library's own
functions: the resolved units, their checks, the inferred values, the order of the split.
:meth:`Plan.cost` then does the split with integers and prices each leaf with the library's
``calc_unit_price``, summed in the library's order: the same ``Decimal``s, to the last digit
(tests/providers/test_price_plan.py holds it to the library over the whole catalog).

Whatever a plan does not cover is answered by the library itself, with its answer or its
error: a price its registry refuses, an inferred value it refuses for the shape, a leaf that
would be negative (a cached count above the input count, 1-hour cache writes above all the
writes), a count that is not a plain non-negative int, groq's whisper models (billed by
seconds), and any genai-prices whose internals are not the ones this module was written
against (:data:`AVAILABLE` is then False).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from .usage import Usage

__all__ = ["AVAILABLE", "PLANS", "Plan", "plan_for"]

PLANS = True
"""Price a usage by a plan; False: every cost is the library's own call (the tests compare)."""

try:  # the library's internals a plan is made of (genai-prices 0.2.5)
    from genai_prices import Usage as _LibraryUsage
    from genai_prices.decompose import is_descendant_or_self as _descends
    from genai_prices.types import TieredPrices as _Tiered
    from genai_prices.types import _collect_resolved_model_prices as _resolved_units
    from genai_prices.types import calc_unit_price as _unit_price
    from genai_prices.units import _get_registry
    from genai_prices.validation import validate_priced_units as _check_units
except (ImportError, AttributeError):  # not installed, or other internals: the library's call
    AVAILABLE = False
else:
    AVAILABLE = True

_ZERO = Decimal(0)
_REPORTED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens")
"""The library's usage keys we report, in the order of :func:`counts`."""
Counts = tuple[int, int, int, int, int]
_WHISPER = ("whisper-large-v3", "whisper-large-v3-turbo")
_INFERRED = -1
"""A leaf's source when the library infers its unit's value (0 for the shapes a plan covers)."""


def counts(usage: Usage) -> Counts | None:
    """The counts genai-prices is given for ``usage`` (input, output, cache read, cache write,
    the 1-hour part of the cache write), or None when one is not a plain non-negative int (the
    library's call decides those)."""
    values = (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.cache_creation_input_tokens,
              usage.cache_creation_1h_input_tokens)
    for v in values:
        if type(v) is not int or v < 0:
            return None
    return values  # type: ignore[return-value]


def shape(values: Counts) -> int:
    """Which counts are above zero, as five bits: all the library's inference depends on."""
    i, o, r, w, h = values
    return (i > 0) | (o > 0) << 1 | (r > 0) << 2 | (w > 0) << 3 | (h > 0) << 4


class Plan:
    """The cost of any usage of one shape under one price, as genai-prices computes it.

    ``steps``: for each priced unit in the library's split order, its usage key, where its
    count comes from (an index into :func:`counts`, or :data:`_INFERRED`: zero) and the
    usage keys of its more specific priced units; ``terms``: for each priced unit in the
    library's order, ``(price, usage key, per, direction)``."""

    __slots__ = ("steps", "terms", "tiered")

    def __init__(self, steps: tuple[tuple[str, int, tuple[str, ...]], ...],
                 terms: tuple[tuple[Any, str, int, str | None], ...], tiered: bool) -> None:
        self.steps = steps
        self.terms = terms
        self.tiered = tiered

    def cost(self, values: Counts) -> tuple[Decimal, Decimal, Decimal] | None:
        """``(total, input, output)`` in USD, or None when a leaf would be negative (the
        library refuses the usage: its call gives the error)."""
        leaf: dict[str, int] = {}
        for key, source, finer in self.steps:
            v = values[source] if source >= 0 else 0
            for d in finer:
                v -= leaf[d]
            if v < 0:
                return None
            leaf[key] = v
        above = values[0] if self.tiered else 0
        inp = out = total = _ZERO
        for price, key, per, direction in self.terms:
            part = _unit_price(price, 1 if key == "requests" else leaf[key], above, per)
            total += part
            if direction == "input":
                inp += part
            elif direction == "output":
                out += part
        return total, inp, out


_plans: dict[tuple[int, int], tuple[Any, Plan | None]] = {}
_lock = threading.Lock()
MAX_PLANS = 4096


def plan_for(provider: Any, info: Any, price: Any, values: Counts) -> Plan | None:
    """The plan of ``price`` (a ``ModelPrice`` of ``info``) for usages of ``values``' shape,
    made on first use (None: the library's call answers). Remembered while ``price`` lives."""
    if not AVAILABLE or not PLANS:
        return None
    if provider.id == "groq" and info.id in _WHISPER:
        return None  # billed by audio seconds: the library rewrites the usage first
    key = (id(price), shape(values))
    hit = _plans.get(key)
    if hit is not None and hit[0] is price:
        return hit[1]
    plan = _make(price, values)
    with _lock:
        while len(_plans) >= MAX_PLANS:
            del _plans[next(iter(_plans))]
        _plans[key] = (price, plan)
    return plan


def _make(price: Any, values: Counts) -> Plan | None:
    """The library's ``ModelPrice.calc_price`` without the counts: None when any of it raises
    or warns for this price and shape (its call then gives the same answer)."""
    import warnings

    registry = _get_registry()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unsupported price key: the library's call warns and decides
            resolved = _resolved_units(price, registry)
        _check_units(tuple(unit for unit, _ in resolved), registry)
        # a usage of this shape, as the library stores it: every count above zero is 1
        i, o, r, w, h = (1 if v > 0 else 0 for v in values)
        probe = _LibraryUsage(input_tokens=i, output_tokens=o, cache_read_tokens=r or None,
                              cache_write_tokens=w or None, cache_write_1h_tokens=h or None)
        units = {unit.usage_key: unit for unit, _ in resolved if unit.usage_key != "requests"}
        ordered = sorted(units.values(), key=lambda unit: (-len(unit.dimensions), unit.usage_key))
        steps = []
        for unit in ordered:
            key = unit.usage_key
            if key in probe.__dict__:  # reported: its own count
                source = _REPORTED.index(key)
            else:  # inferred by the library: 0 for this shape, or it raises (left to its call)
                if getattr(probe, key) != 0:
                    return None
                source = _INFERRED
            finer = tuple(d.usage_key for d in ordered if d is not unit and _descends(unit, d))
            steps.append((key, source, finer))
    except Exception:  # noqa: BLE001 - whatever the library refuses, its own call reports
        return None
    terms = tuple((p, unit.usage_key, unit.per, unit.dimensions.get("direction")) for unit, p in resolved)
    return Plan(tuple(steps), terms, any(isinstance(p, _Tiered) for _, p in resolved))
