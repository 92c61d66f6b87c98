"""The activation: a request's values under the names policy expressions read."""

from __future__ import annotations

from collections.abc import Mapping

from .declarations import POLICY_VARIABLES

__all__ = ["flatten_activation"]


def flatten_activation(nested: Mapping[str, object]) -> dict[str, object]:
    """The fast activation for policy conditions, from nested mappings.

    ``{"req": {"url": {"path": "/a"}}}`` -> ``{"req": {...}, "req.url.path": "/a"}``: every
    declared variable found along nested mappings becomes one flat key (top-level entries
    are kept as they are). A gateway can also build the flat mapping directly; an overlapping
    name such as ``req.url`` (a string) next to ``req.url.path`` can only be given flat.
    """
    out: dict[str, object] = dict(nested)
    for name in POLICY_VARIABLES:
        if "." not in name or name in out:
            continue
        cur: object = nested
        for part in name.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                break
            cur = cur[part]
        else:
            out[name] = cur
    return out
