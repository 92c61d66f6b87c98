"""Real servers on loopback ports: the stub upstream and the gateway, each uvicorn in a thread."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # the gateway's optional dependencies (uvicorn, httpx; the SDK tests skip without the SDKs)
    import httpx  # noqa: F401
    import uvicorn
except ImportError:  # pragma: no cover - only the keys file tests need nothing more
    uvicorn = None
    collect_ignore_glob = ["test_[!k]*.py"]

from clock import move, steady, steady_offset

from .stub import StubUpstream

WAIT = 30.0
"""The longest wait for an asynchronous effect (a server up, a ledger row, a metric): generous,
since a healthy run stops waiting as soon as the effect appears. Never a performance budget."""

POLICY = '''policy "gateway-test" {
  default allow

  on request {
    rule "premium-for-research" {
      when ai.model in ["gpt-4.1", "claude-opus-4"] && identity.team != "research"
      deny 403 "model ${ai.model} is reserved for research"
    }
    rule "economy-downgrade" {
      when has(identity.tier) && identity.tier == "economy" && ai.model in ["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"]
      set-model "${ai.provider == 'anthropic' ? 'claude-haiku-4' : ai.provider == 'gemini' ? 'gemini-2.5-flash' : 'gpt-4o-mini'}"
    }
    rule "clamp-output" {
      max-tokens { output: 512, mode: "clamp" }
    }
    rule "team-tpm" {
      token-limit { name: "team-tpm", capacity: 1_000_000, rate: 24h, algorithm: "fixed_window", bucket_key: [identity.team] }
    }
    rule "tiny-rpm" {
      when identity.team == "tiny"
      rate-limit { name: "tiny-rpm", capacity: 1, rate: 24h, algorithm: "fixed_window", bucket_key: [identity.key] }
    }
    rule "tag-request" {
      add-headers { headers: { "x-team": "${identity.team}" } }
    }
  }

  on response {
    rule "upstream-errors" {
      when res.status_code >= 500
      log { metadata: { upstream_status: "${res.status_code}" } }
    }
    rule "served-by" {
      add-headers { headers: { "x-aigw-policy": "gateway-test" } }
    }
  }
}
'''

KEYS = f'''keys:
  - key: sk-gw-research
    identity: {{key: k-research, user: alice, team: research, org: acme}}
  - key: sk-gw-sales
    identity: {{key: k-sales, user: bob, team: sales, org: acme}}
  - sha256: {hashlib.sha256(b"sk-gw-economy").hexdigest()}
    identity: {{key: k-econ, user: carol, team: econ, org: acme, tier: economy}}
  - key: sk-gw-tiny
    identity: {{key: k-tiny, team: tiny}}
  - key: sk-gw-ops
    identity: {{key: k-ops, team: ops}}
  - key: sk-gw-slow
    identity: {{key: k-slow, team: slow}}
  - key: sk-gw-gemini
    identity: {{key: k-gem, team: gem, tier: economy}}
upstream_auth:
  openai: {{authorization: "Bearer ${{env.AIGW_TEST_UPSTREAM_KEY}}"}}
  anthropic: {{x-api-key: "${{env.AIGW_TEST_UPSTREAM_KEY}}"}}
admin_keys: [k-ops]
'''


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> bool:
    """Answer an ASGI ``lifespan`` scope for a test app (True: it was one, the app returns)."""
    if scope["type"] != "lifespan":
        return False
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})
    return True


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a daemon thread (``options``: more
    ``uvicorn.Config`` settings)."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options.setdefault("ws", "none")  # as `serve` runs it (cli/serve.py)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def stub() -> Any:
    app = StubUpstream(slow_seconds=1.6, long_chunks=400, long_gap=0.01)
    with ServerThread(app) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def gateway_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gw")
    (d / "policy.aigw").write_text(POLICY)
    (d / "keys.yaml").write_text(KEYS)
    return {"dir": d, "policy": d / "policy.aigw", "keys": d / "keys.yaml", "ledger": d / "usage.jsonl"}


@pytest.fixture(scope="module")
def gateway(stub: Any, gateway_files: dict[str, Path]) -> Any:
    import os

    from aigw_policy.gateway import Gateway, load_keys

    os.environ["AIGW_TEST_UPSTREAM_KEY"] = "upstream-secret"
    app = Gateway(policy=gateway_files["policy"], upstream=stub.url, keys=load_keys(gateway_files["keys"]),
                  store="memory:", ledger=f"jsonl:{gateway_files['ledger']}", timeout=1.0, watch=0.1)
    with ServerThread(app) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


@contextlib.contextmanager
def parser_gateway(parser: str, upstream: str, d: Path, key: str | None = None,
                   **options: Any) -> Iterator[ServerThread]:
    """A gateway with an empty policy served under one HTTP/1.1 parser, ``httptools``
    (llhttp, skipped when it is not installed) or ``h11``; with ``key``, a keys file naming it
    (identity ``k-red`` of team ``red``) and a JSONL ledger in ``d``. ``server.parser`` names
    the parser. ``options``: more ``uvicorn.Config`` settings."""
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    if parser == "httptools":
        pytest.importorskip("httptools")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    more: dict[str, Any] = {}
    if key is not None:
        (d / "keys.yaml").write_text(f"keys:\n  - key: {key}\n    identity: {{key: k-red, team: red}}\n")
        more = {"keys": load_keys(d / "keys.yaml"), "ledger": f"jsonl:{d / 'usage.jsonl'}"}
    app = Gateway(policy=d / "policy.yaml", upstream=upstream, watch=0, **more)
    protocol = header_timeout_protocol(10.0) if parser == "httptools" else _h11_protocol(10.0)
    with ServerThread(app, http=protocol, **options) as server:
        server.parser = parser  # type: ignore[attr-defined]
        yield server


def ledger_records(path: Path, request_id: str | None = None, timeout: float = WAIT) -> list[dict[str, Any]]:
    """The ledger's records (waiting up to ``timeout`` for ``request_id``'s final record)."""
    from aigw_policy.ledger import open_sink

    deadline = time.monotonic() + timeout
    while True:
        sink = open_sink(f"jsonl:{path}") if path.exists() else None
        records = [r.to_dict() for r in sink.read()] if sink is not None else []
        if sink is not None:
            sink.close()
        # a request's final record (its `pending` intent is written before it is forwarded)
        if request_id is None or any(r["aigw.request.id"] == request_id and r["aigw.verdict"] != "pending"
                                     for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def ledger_lines(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL ledger, intents included, in file order: only whole lines, since
    a reader polling while ``serve`` writes can meet the last line half written."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1] if line.strip()]


def team_used(gateway: Any, team: str, limit: str = "team-tpm") -> float:
    """What the store holds for a team now (0 when nothing is charged). ``team-tpm`` (and
    ``tiny-rpm``, read through ``/v1/aigw/limits``) is a fixed window of a day, so that what a test reads does not decay between two reads (a
    sliding window of a minute weighs down what was charged before a minute's boundary)."""
    from aigw_policy.limits.model import Charge

    app = gateway.app
    spec = app.holder.current.compiled.limits[limit][1].limit.spec
    return app.store.check([Charge(spec, team, 0)], time.time())[0].used


def record_of(path: Path, request_id: str) -> dict[str, Any]:
    found = [r for r in ledger_records(path, request_id) if r["aigw.request.id"] == request_id]
    assert found, f"no ledger record for {request_id}"
    return found[0]


@contextlib.contextmanager
def uvicorn_errors() -> Iterator[list[str]]:
    """The records uvicorn's server logger gets (at ERROR and above) while inside."""
    got: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record.getMessage())

    handler = Keep(logging.ERROR)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield got
    finally:
        logger.removeHandler(handler)


@pytest.fixture()
def steady_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """This process's wall clock moved forward (tests/clock.py) to 0.5 s into a minute at least
    15 minutes before a UTC midnight: a fixed window of 30 s, a minute or a day ends under no
    test shorter than 29 s. Gives the offset."""
    return steady(monkeypatch, 60.0)


_AHEAD = [0.0]  # how far the modules' clock is moved forward so far (it only grows: never back)


@pytest.fixture(scope="module", autouse=True)
def clear_of_midnight() -> Iterator[float]:
    """Every module's in-process gateways start at least 15 minutes before a UTC midnight: their
    tests charge daily caps and 24 h windows on the wall clock and read them back, and 11 of
    them failed with the clock a few tenths of a second before midnight (the read found the
    next day's empty window). Near midnight the clock is moved just past it; it is never
    moved back from one module to the next."""
    with pytest.MonkeyPatch.context() as patch:
        _AHEAD[0] += steady_offset(time.time() + _AHEAD[0], None)
        yield move(patch, _AHEAD[0])


@contextlib.contextmanager
def policy_gateway(policy: str, client_key: str, **kw: Any) -> Iterator[Any]:
    """``serve`` (its own server protocol) of ``policy`` for one client key (team ``red``),
    with a JSONL ledger (``server.ledger``); ``kw``: more :class:`Gateway` arguments
    (``upstream=``)."""
    import tempfile

    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "policy.yaml").write_text(policy)
        (d / "keys.yaml").write_text(f"keys:\n  - key: {client_key}\n    identity: {{key: k-red, team: red}}\n")
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:", watch=0,
                      ledger=f"jsonl:{d / 'usage.jsonl'}", **kw)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
            server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
            server.app = app  # type: ignore[attr-defined]
            yield server


def routed_policy(urls: list[str], *, api: str = "openai", key: str = "sk-routed", config: str = "",
                  ids: list[str] | None = None, key_ids: list[str | None] | None = None) -> str:
    """A policy whose one rule routes with an ``ai-gateway`` action to a provider per URL
    (``p0``, ``p1``, ... or ``ids``; one key each, ``{key}-0`` with id ``k0``, ... or ``key_ids``,
    None: no key) speaking ``api`` (``openai``: model ``gpt-4o`` under ``/v1``; ``anthropic``:
    ``claude-x``); ``config``: more lines of the action's config, indented by ten spaces."""
    surface = "supported_api_surfaces: [{format: anthropic}], " if api == "anthropic" else ""
    model, base = ("claude-x", "") if api == "anthropic" else ("gpt-4o", "/v1")
    ids = ids or [f"p{i}" for i in range(len(urls))]
    key_ids = key_ids or [f"k{i}" for i in range(len(urls))]
    keys = [f"api_keys: [{{value: {key}-{i}, id: {kid}}}], " if kid else "" for i, kid in enumerate(key_ids)]
    providers = "".join(f"""
            - {{id: {pid}, base_url: "{url}{base}", {surface}{keyed}
               models: [{{id: {model}}}]}}""" for url, pid, keyed in zip(urls, ids, keys))
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
{config}          providers:{providers}
"""


def raw_bytes(port: int, data: bytes, timeout: float = 10) -> bytes:
    """``data`` sent on a fresh connection, and every byte the server sends until it closes
    (a server that holds the connection past ``timeout`` raises ``socket.timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """``data`` sent on a fresh connection that the server closes after its answer
    (``connection: close``): the answer's status, headers (names lower-cased) and body."""
    head, _, body = raw_bytes(port, data, timeout).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body
