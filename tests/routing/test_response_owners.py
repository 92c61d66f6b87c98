"""A background response's reads go where it is (SPEC §12): a routed ``POST /v1/responses``
with ``background: true`` is remembered by its id with the provider, model and key that served
it (:mod:`aigw_policy.routing.owners`), and a read of it by the same caller (``GET``, resumed as
a stream, ``cancel``, ``input_items``, ``DELETE``) is routed to that one candidate, whose answer
is the client's whatever it is; its usage is charged once, to that candidate's limits.

Before, every such read was refused 404 ``unsupported_endpoint`` (no inference API), or, after
``on_error: continue``, sent to ``--upstream`` (another provider, another key, none of which
holds the response). A read by another caller, or of an id nobody remembers, is refused as
before (a response id is no credential)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge
from aigw_policy.routing.model import AttemptOutcome, Next, Serve
from aigw_policy.routing.owners import MemoryOwners, SQLiteOwners

from .attempt_loop import through_attempts

POLICY = """\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {name: per-provider, limit: 1000000, unit: tokens, period: day, bucket_key: ["ai.provider"]}
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - {id: p0, base_url: "http://p0.test/v1", api_keys: [{value: k-zero, id: k0}], models: [{id: gpt-4o}]}
            - {id: p1, base_url: "http://p1.test/v1", api_keys: [{value: k-one, id: k1}, {value: k-two, id: k2}],
               models: [{id: gpt-4o}]}
"""
QUEUED = {"id": "resp_bg1", "object": "response", "status": "queued", "background": True, "model": "gpt-4o",
          "output": [], "usage": None}
DONE = {**QUEUED, "status": "completed", "usage": {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}}
RITA = {"user": "rita"}
READS: list[tuple[str, str, str]] = [  # (name, method, path): each a read of resp_bg1
    ("retrieve", "GET", "/v1/responses/resp_bg1"),
    ("resumed stream", "GET", "/v1/responses/resp_bg1?stream=true&starting_after=3"),
    ("cancel", "POST", "/v1/responses/resp_bg1/cancel"),
    ("input items", "GET", "/v1/responses/resp_bg1/input_items"),
    ("delete", "DELETE", "/v1/responses/resp_bg1"),
]


def _engine(tmp_path: Path, owners: Any = None) -> ap.Engine:
    (tmp_path / "p.yaml").write_text(POLICY)
    return ap.Engine(str(tmp_path / "p.yaml"), response_owners=owners)


def _call(engine: ap.Engine, method: str, path: str, body: Any, answers: list[dict[str, Any]],
          identity: dict[str, Any] = RITA) -> Any:
    """One request through the attempt loop, each attempt answered in turn: the final decision."""
    return through_attempts(engine, method, path, body, answers, identity, served=True)


def _post(engine: ap.Engine) -> Any:
    """The POST: p0 fails (503), p1 key k1 queues it."""
    return _call(engine, "POST", "/v1/responses", {"model": "gpt-4o", "input": "otters", "background": True},
                 [{"status_code": 503}, {"status_code": 200, "body": QUEUED}])


def _used(engine: ap.Engine, provider: str) -> float:
    spec = engine.compiled.limits["per-provider"][1].limit.spec
    return engine.store.check([Charge(spec, provider, 0)], time.time())[0].used


@pytest.mark.parametrize(("method", "path"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_a_read_goes_to_the_provider_and_key_that_queued_the_response(tmp_path: Path, method: str,
                                                                      path: str) -> None:
    engine = _engine(tmp_path)
    posted = _post(engine)
    assert posted.routing["served"]["key_id"] == "k1"
    read = _call(engine, method, path, None, [{"status_code": 200, "body": DONE}])
    assert read.verdict == "allow", read.reason
    assert [(c["provider"], c["key_id"]) for c in read.routing["candidates"]] == [("p1", "k1")]
    assert read.routing["served"]["key_id"] == "k1"
    assert _used(engine, "p1") == 42 and _used(engine, "p0") == 0  # the usage once, to who served it
    again = _call(engine, method, path, None, [{"status_code": 200, "body": DONE}])
    assert again.routing["served"]["key_id"] == "k1" and _used(engine, "p1") == 42


@pytest.mark.parametrize(("outcome", "status"), [({"status_code": 404}, 404), ({"status_code": 500}, 500),
                                                 ({"error": "connect"}, 502), ({"error": "timeout"}, 504)])
def test_a_read_is_not_failed_over_the_holders_answer_is_the_clients(tmp_path: Path, outcome: dict[str, Any],
                                                                    status: int) -> None:
    engine = _engine(tmp_path)
    _post(engine)
    d = engine.evaluate({"request": {"method": "GET", "url": "http://gw/v1/responses/resp_bg1"}, "identity": RITA})
    first = engine.attempt(d.id, None)
    assert isinstance(first, Next) and first.attempt.key.id == "k1"
    step = engine.attempt(d.id, AttemptOutcome(**outcome))
    if isinstance(step, Serve):
        final = engine.complete(d.id, {"status_code": status, "headers": {}, "body": {"error": {"message": "x"}}})
    else:
        final = step.decision
    assert final.status_code == status
    assert len(final.routing["attempts"]) == 1


@pytest.mark.parametrize(("who", "path"), [({"user": "mallory"}, "/v1/responses/resp_bg1"),
                                           (RITA, "/v1/responses/resp_unknown")], ids=["another caller", "unknown id"])
def test_a_read_by_another_caller_or_of_an_unknown_id_is_refused_as_before(tmp_path: Path, who: dict[str, Any],
                                                                          path: str) -> None:
    engine = _engine(tmp_path)
    _post(engine)
    refused = _call(engine, "GET", path, None, [], identity=who)
    assert (refused.verdict, refused.status_code, refused.routing) == ("deny", 404, None)


def test_the_owners_survive_a_restart_in_the_stores_sqlite_file(tmp_path: Path) -> None:
    path = str(tmp_path / "limits.db")
    _post(_engine(tmp_path, SQLiteOwners(path)))
    after = _engine(tmp_path, SQLiteOwners(path))  # another process, or the same one restarted
    read = _call(after, "GET", "/v1/responses/resp_bg1", None, [{"status_code": 200, "body": DONE}])
    assert read.routing["served"]["key_id"] == "k1"


def test_the_owners_are_bounded(tmp_path: Path) -> None:
    owners = MemoryOwners(max_ids=3)
    for i in range(10):
        owners.remember(f"resp_{i}", {"provider": "p", "model": "m", "key_id": None, "creator": "c"}, 0)
    assert len(owners) == 3 and owners.owner("resp_0", 0) is None and owners.owner("resp_9", 0) is not None
    sqlite = SQLiteOwners(str(tmp_path / "o.db"), max_ids=5)
    for i in range(600):  # trimmed every 256 inserts
        sqlite.remember(f"resp_{i}", {"provider": "p"}, float(i))
    count = sqlite._db.execute("SELECT count(*) FROM aigw_route_owners").fetchone()[0]
    assert count <= 5 + 256 and sqlite.owner("resp_0", 0) is None and sqlite.owner("resp_599", 0) is not None


async def _stalled_redis() -> tuple[Any, str]:
    """A server that accepts connections and never answers (a Redis that hangs)."""
    import asyncio

    async def hold(reader: Any, writer: Any) -> None:
        await reader.read(-1)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"


REDIS_ROWS = ["written and read on the loop", "read after a restart", "an id too long is not kept",
              "a stalled Redis forgets"]


@pytest.mark.parametrize("row", REDIS_ROWS)
def test_the_owners_in_redis_go_through_the_async_client(row: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop's reads and writes use ``redis.asyncio`` (no worker thread: ``to_thread``
    fails here), keep across a restart, keep the id bound, and forget when Redis stalls (each
    call waits its timeout at most). Before, each went through ``asyncio.to_thread`` and the
    sync client."""
    import asyncio
    import uuid

    from aigw_policy.routing.owners import RedisOwners

    from .test_metrics import redis_url

    def no_thread(*args: Any, **kw: Any) -> Any:
        raise AssertionError("a worker thread for a Redis call")

    owner = {"provider": "p1", "model": "gpt-4o", "key_id": "k1", "creator": "c"}

    async def run() -> tuple[Any, Any]:
        monkeypatch.setattr(asyncio, "to_thread", no_thread)
        if row == "a stalled Redis forgets":
            server, url = await _stalled_redis()
            owners = RedisOwners(url, timeout=0.2)
            try:
                await owners.aremember("resp_x", owner, 0)
                return await owners.aowner("resp_x", 0), None
            finally:
                await owners.aclose()
                server.close()
        prefix = "{t-" + uuid.uuid4().hex[:10] + "}:"
        rid = "resp_" + ("x" * 300 if row == "an id too long is not kept" else uuid.uuid4().hex)
        owners = RedisOwners(redis_url(), prefix=prefix)
        await owners.aremember(rid, owner, 0)
        if row == "read after a restart":
            await owners.aclose()
            owners = RedisOwners(redis_url(), prefix=prefix)
        try:
            return await owners.aowner(rid, 0), owners.owner(rid, 0)
        finally:
            await owners.aclose()

    read, sync_read = asyncio.run(run())
    if row in ("an id too long is not kept", "a stalled Redis forgets"):
        assert read is None and sync_read is None
    else:
        assert read == owner and sync_read == owner
