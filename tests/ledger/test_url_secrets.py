"""serve25: a password in a PostgreSQL ledger URL's query is in no message.

libpq takes ``postgresql://host/db?password=...`` (and ``sslpassword``) as it takes
``user:pass@``; the sink and the reader dropped the userinfo from the URL they name in their
errors but kept the query: every ``cannot write ledger `...``` error, one per failing request
through ``serve`` ("the usage ledger failed on request ..."), and the start-up error printed
the password. Now the URL shown is :func:`~aigw_policy.redact.redact`'s.
"""

from __future__ import annotations

import pytest

from aigw_policy.ledger import LedgerError

SECRET = "S3cretPgPassw0rd"
ROWS = [
    f"postgresql://nobody_serve25:{SECRET}@127.0.0.1:5432/test",
    f"postgresql://nobody_serve25@127.0.0.1:5432/test?password={SECRET}",
    f"postgresql://nobody_serve25@127.0.0.1:5432/test?sslpassword={SECRET}&password={SECRET}",
    f"postgres://nobody_serve25@127.0.0.1:5432/test?PASSWORD={SECRET}",
]


@pytest.mark.parametrize("url", ROWS)
def test_the_sinks_error_hides_the_password(url: str, pg_base: str) -> None:
    from aigw_policy.ledger.sinks import open_sink

    with pytest.raises(LedgerError) as caught:
        open_sink(url)  # no such role: refused, and the message names the URL
    assert "127.0.0.1" in str(caught.value) and SECRET not in str(caught.value), caught.value


@pytest.mark.parametrize("url", ROWS)
def test_the_readers_error_hides_the_password(url: str, pg_base: str) -> None:
    from aigw_policy.ledger.reader import read_ledger

    with pytest.raises(LedgerError) as caught:
        list(read_ledger(url))
    assert "127.0.0.1" in str(caught.value) and SECRET not in str(caught.value), caught.value


def test_a_working_sinks_url_hides_the_password(pg_url: str) -> None:
    """A server that takes the password (trust here): the URL every later error names."""
    from aigw_policy.ledger.sinks import open_sink

    sink = open_sink(pg_url + f"&password={SECRET}")
    try:
        assert SECRET not in sink.url and "password=***" in sink.url
    finally:
        sink.close()
