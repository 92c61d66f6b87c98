"""serve20: every answer of ``/v1/aigw/limits`` and ``/v1/aigw/usage`` says ``Cache-Control:
no-store`` and has its decision log line, refusals and failures included.

Only the 200s said ``no-store``: a 401, 403, 400 or 405 cached by a proxy in front was served to
the next caller of the URL. None of these requests was in the decision log or the metrics (a key
guessed a thousand times against ``/v1/aigw/limits`` left no trace), and an unexpected error
while answering was uvicorn's plain-text 500 without a request id. A query naming a parameter
twice (``since=7d&since=1d``) had the last one count silently: refused now, as a body's
duplicated key is.

Each row: method, path, key (None: none), the status, the ``aigw.code`` of a refusal.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import usage_api

from .conftest import WAIT, ServerThread

ADMIN, USER = "sk-gw-aigw-admin", "sk-gw-aigw-user"
KEYS = f"""keys:
  - key: {ADMIN}
    identity: {{key: k-ops, team: ops}}
  - key: {USER}
    identity: {{key: k-user, team: red}}
admin_keys: [k-ops]
"""
ROWS = [
    ("GET", "/v1/aigw/limits", ADMIN, 200, None),
    ("GET", f"/v1/aigw/limits?key={USER}", None, 200, None),
    ("GET", "/v1/aigw/usage?by=team&since=1d", ADMIN, 200, None),
    ("GET", "/v1/aigw/limits", None, 401, "invalid_api_key"),
    ("GET", "/v1/aigw/usage", "sk-gw-guessed", 401, "invalid_api_key"),
    ("POST", "/v1/aigw/limits", ADMIN, 405, "method_not_allowed"),
    ("DELETE", "/v1/aigw/usage", ADMIN, 405, "method_not_allowed"),
    ("GET", "/v1/aigw/usage", USER, 403, "not_an_admin_key"),
    ("GET", "/v1/aigw/usage?by=org", ADMIN, 400, "invalid_query"),
    ("GET", "/v1/aigw/usage?since=7d&since=1d", ADMIN, 400, "invalid_query"),
    ("GET", "/v1/aigw/usage?by=key&by=team", ADMIN, 400, "invalid_query"),
    ("GET", "/v1/aigw/usage?since=" + "9" * 5000 + "d", ADMIN, 400, "invalid_query"),
]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys

    d: Path = tmp_path_factory.mktemp("aigw")
    (d / "policy.aigw").write_text('policy "a" { default allow }')
    (d / "keys.yaml").write_text(KEYS)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.addHandler(handler)
    decisions.setLevel(logging.INFO)
    app = Gateway(policy=d / "policy.aigw", upstream="http://127.0.0.1:9", keys=load_keys(d / "keys.yaml"),
                  ledger=f"jsonl:{d / 'usage.jsonl'}", watch=0)
    try:
        with ServerThread(app) as server:
            server.log = log  # type: ignore[attr-defined]
            yield server
    finally:
        decisions.removeHandler(handler)


def _line(gw: Any, rid: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for line in gw.log.getvalue().splitlines():
            record = json.loads(line)
            if record.get("aigw.request.id") == rid:
                return record  # type: ignore[no-any-return]
        time.sleep(0.02)
    return None


def _call(gw: Any, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, gw.url + path, headers=headers, timeout=10)


@pytest.mark.parametrize(("method", "path", "key", "status", "code"), ROWS, ids=[f"{r[0]} {r[1][:40]} {r[3]}" for r in ROWS])
def test_every_answer_is_never_stored_and_logged(gw: Any, method: str, path: str, key: str | None, status: int,
                                                 code: str | None) -> None:
    r = _call(gw, method, path, key)
    assert r.status_code == status, r.text
    assert r.headers.get_list("cache-control") == ["no-store"]
    if code is not None:
        assert r.json()["aigw"]["code"] == code
    line = _line(gw, r.headers["x-aigw-decision-id"])
    assert line is not None and line["http.response.status_code"] == status
    assert "sk-gw-" not in json.dumps(line) and "sk-gw-" not in r.text.replace(path, "")


def test_an_unexpected_failure_is_the_gateways_500_and_never_stored(gw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("ledger exploded at postgresql://aigw:store-password@db")

    monkeypatch.setattr(usage_api, "_usage_report", broken)
    r = _call(gw, "GET", "/v1/aigw/usage", ADMIN)
    assert r.status_code == 500 and r.json()["aigw"]["code"] == "gateway_error"
    assert r.headers.get_list("cache-control") == ["no-store"]
    assert "store-password" not in r.text
    line = _line(gw, r.headers["x-aigw-decision-id"])
    assert line is not None and "store-password" not in json.dumps(line)


@pytest.mark.parametrize(("path", "token", "status"), [("/healthz", None, 200), ("/metrics", None, 401),
                                                       ("/metrics", "m-token", 200)])
def test_the_gateways_own_endpoints_are_never_stored(tmp_path: Path, path: str, token: str | None,
                                                     status: int) -> None:
    pytest.importorskip("prometheus_client")
    from aigw_policy.gateway import Gateway

    (tmp_path / "policy.aigw").write_text('policy "a" { default allow }')
    app = Gateway(policy=tmp_path / "policy.aigw", upstream="http://127.0.0.1:9", watch=0, metrics_token="m-token")
    with ServerThread(app) as server:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = httpx.get(server.url + path, headers=headers, timeout=10)
    assert r.status_code == status
    assert r.headers.get_list("cache-control") == ["no-store"]
