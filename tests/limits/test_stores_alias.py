"""`aigw_policy.stores` (SPEC §10) is a public alias of `aigw_policy.limits`: the same objects."""

import aigw_policy as ap
from aigw_policy import limits


def test_stores_names_are_the_limits_names(tmp_path):
    assert ap.stores.from_url is limits.from_url
    assert ap.stores.MemoryStore is limits.MemoryStore
    assert ap.stores.SQLiteStore is limits.SQLiteStore
    assert ap.stores.LimitStore is limits.LimitStore
    assert ap.stores.StoreUnavailable is limits.StoreUnavailable
    assert set(ap.stores.__all__) <= set(limits.__all__)


def test_from_url_opens_each_kind(tmp_path):
    assert isinstance(limits.from_url("memory:"), limits.MemoryStore)
    assert isinstance(limits.from_url(f"sqlite:{tmp_path / 'l.db'}"), limits.SQLiteStore)
