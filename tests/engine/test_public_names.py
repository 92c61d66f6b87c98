"""``aigw_policy``'s public names (SPEC §10): ``dir()`` lists exactly ``__all__``, and every
name there resolves (``cel``, ``stores`` and ``ledger`` on first use)."""

from __future__ import annotations

import aigw_policy as ap


def test_dir_lists_the_public_names_only() -> None:
    names = dir(ap)
    assert names == sorted(ap.__all__)
    assert not {"annotations", "TYPE_CHECKING", "Any"} & set(names)  # (the module's typing helpers)


def test_every_public_name_resolves() -> None:
    for name in ap.__all__:
        assert getattr(ap, name) is not None, name
    assert callable(ap.cel.compile) and ap.stores.MemoryStore and ap.ledger
