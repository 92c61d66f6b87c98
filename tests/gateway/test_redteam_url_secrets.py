"""serve20: a credential in a URL's query is never printed, whatever the parameter's name.

``--upstream https://generativelanguage.googleapis.com/?key=AIza...`` (Gemini's key as a query
parameter, Azure's ``?code=`` / ``?sig=``, ``?api_key=``) was printed whole in ``serve``'s
start-up line: only ``password``-like names were hidden. Each row: the URL, what must be shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aigw_policy.redact import redact

from .test_startup import policy, served, serve  # noqa: F401

ROWS = [
    ("https://g.example/?key=AIzaSECRET1", "https://g.example/?key=***"),
    ("https://g.example/v1?alt=sse&KEY=AIzaSECRET1", "https://g.example/v1?alt=sse&KEY=***"),
    ("https://a.example/?api_key=SECRET1&x=1", "https://a.example/?api_key=***&x=1"),
    ("https://a.example/?api-key=SECRET1", "https://a.example/?api-key=***"),
    ("https://a.example/?apikey=SECRET1", "https://a.example/?apikey=***"),
    ("https://f.azurewebsites.net/api/x?code=SECRET1", "https://f.azurewebsites.net/api/x?code=***"),
    ("https://b.blob.core.windows.net/c?sv=2024&sig=SECRET1", "https://b.blob.core.windows.net/c?sv=2024&sig=***"),
    ("https://a.example/?client_secret=SECRET1", "https://a.example/?client_secret=***"),
    ("https://a.example/?auth=SECRET1", "https://a.example/?auth=***"),
    ("https://a.example/?x-goog-api-key=SECRET1", "https://a.example/?x-goog-api-key=***"),
    ("https://a.example/?alt=sse", "https://a.example/?alt=sse"),  # no credential: as is
]


@pytest.mark.parametrize(("url", "shown"), ROWS, ids=[r[0] for r in ROWS])
def test_a_query_credential_is_redacted(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_serves_start_up_line_hides_an_upstream_query_key(policy: Path, served: dict[str, Any]) -> None:  # noqa: F811
    result = serve(["-p", str(policy), "--upstream", "https://g.example/?key=AIzaSECRET1"])
    assert result.exit_code == 0, result.output
    assert "https://g.example/?key=***" in result.output and "AIzaSECRET1" not in result.output
