"""Compressed upstream answers: usage is read from the decoded body, for every content coding
the gateway supports, JSON and SSE alike, and the client only ever receives ``identity``.

The stub upstream really compresses (incrementally, flushing each chunk, as a provider
streaming SSE through gzip does) whenever the gateway offered the coding it was told to use.
"""

from __future__ import annotations

import http.client
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.gateway.proxy import _accepts
from aigw_policy.providers import encoding
from aigw_policy.providers.encoding import SUPPORTED, decode_body
from aigw_policy.providers.errors import ProviderError

from .conftest import ServerThread, record_of
from .stub import ANTHROPIC_USAGE, GEMINI_USAGE, OPENAI_USAGE, StubUpstream

CODINGS = ("gzip", "deflate", "br", "zstd")


def compressor(name: str) -> tuple[Any, Any]:
    """(compress one chunk and flush it, finish) for ``name``."""
    if name in ("gzip", "deflate"):
        c = zlib.compressobj(wbits=31 if name == "gzip" else 15)
        return (lambda b: c.compress(b) + c.flush(zlib.Z_SYNC_FLUSH)), c.flush
    if name == "br":
        import brotli

        c = brotli.Compressor()
        return (lambda b: c.process(b) + c.flush()), c.finish
    import zstandard

    z = zstandard.ZstdCompressor().compressobj()
    return (lambda b: z.compress(b) + z.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)), z.flush


class Compressing:
    """Wrap an ASGI app: compress its answer with the coding named by the request's
    ``x-test-encoding``, provided the request's ``accept-encoding`` offered it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.compressed: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        want = headers.get("x-test-encoding")
        offered = [p.split(";")[0].strip() for p in headers.get("accept-encoding", "").split(",")]
        if not want or want not in offered:
            await self.app(scope, receive, send)
            return
        self.compressed.append(want)
        chunk, finish = compressor(want)

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                hs = [(k, v) for k, v in message["headers"] if k.lower() != b"content-length"]
                hs.append((b"content-encoding", want.encode()))
                message = {**message, "headers": hs}
            elif message["type"] == "http.response.body":
                data = chunk(message.get("body", b""))
                if not message.get("more_body"):
                    data += finish()
                message = {**message, "body": data}
            await send(message)

        await self.app(scope, receive, wrapped)


POLICY = '''policy "compression" {
  default allow
  on request {
    rule "tpm" { token-limit { name: "tpm", capacity: 1_000_000, rate: 1m } }
  }
}
'''


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway

    d = tmp_path_factory.mktemp("compression")
    (d / "policy.aigw").write_text(POLICY)
    upstream = Compressing(StubUpstream())
    with ServerThread(upstream) as up:
        app = Gateway(policy=d / "policy.aigw", upstream=up.url, store="memory:",
                      ledger=f"jsonl:{d / 'usage.jsonl'}", timeout=5.0, watch=0)
        with ServerThread(app) as gw:
            yield {"gateway": gw, "upstream": upstream, "ledger": d / "usage.jsonl"}


def call(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (http.client adds no Accept-Encoding of its own)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        data = json.dumps(body).encode()
        for k, v in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
            conn.putheader(k, v)
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


MSG = [{"role": "user", "content": "hi"}]
APIS = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o", "messages": MSG},
               OPENAI_USAGE["prompt_tokens"], OPENAI_USAGE["completion_tokens"]),
    "anthropic": ("/v1/messages", {"model": "claude-sonnet-4", "max_tokens": 100, "messages": MSG},
                  ANTHROPIC_USAGE["input_tokens"], ANTHROPIC_USAGE["output_tokens"]),
    "gemini": ("/v1beta/models/gemini-2.5-pro:{action}", {"contents": [{"parts": [{"text": "hi"}]}]},
               GEMINI_USAGE["promptTokenCount"], GEMINI_USAGE["candidatesTokenCount"]),
}


def test_every_coding_is_offered_and_decodable() -> None:
    # httpx[brotli,zstd] is a dependency: all four are decoded by the gateway
    assert SUPPORTED == CODINGS


def check(setup: Any, api: str, coding: str, stream: bool, accept: str | None) -> None:
    path, body, inp, out = APIS[api]
    if api == "gemini":
        path = path.format(action="streamGenerateContent" if stream else "generateContent")
        if stream:
            path += "?alt=sse"
    elif stream:
        body = {**body, "stream": True}
    headers = {"x-test-encoding": coding}
    if accept is not None:
        headers["accept-encoding"] = accept
    before = len(setup["upstream"].compressed)
    status, got, data = call(setup["gateway"].url, path, body, headers)
    assert status == 200, data
    assert setup["upstream"].compressed[before:] == [coding], "the stub did not compress"
    assert got.get("content-encoding", "identity") == "identity"  # never an encoding the client did not ask for
    if stream:
        assert b"data: " in data and "text/event-stream" in got["content-type"]
    else:
        assert json.loads(data)  # plain JSON, as the client sees it
    rec = record_of(setup["ledger"], got["x-aigw-decision-id"])
    assert rec["aigw.usage.source"] == "provider"
    assert rec["gen_ai.usage.input_tokens"] == inp
    assert rec["gen_ai.usage.output_tokens"] == out


@pytest.mark.parametrize("accept", [None, "identity", "gzip", "same", "*;q=0, identity"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("coding", CODINGS)
def test_openai_usage_is_counted_whatever_the_coding(setup: Any, coding: str, stream: bool, accept: str | None) -> None:
    check(setup, "openai", coding, stream, coding if accept == "same" else accept)


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("coding", CODINGS)
def test_anthropic_and_gemini_usage_is_counted(setup: Any, api: str, coding: str, stream: bool) -> None:
    check(setup, api, coding, stream, None)


def test_upstream_is_offered_what_the_gateway_decodes(setup: Any) -> None:
    check(setup, "openai", "gzip", False, "identity")
    seen = setup["upstream"].app.seen[-1]["headers"]
    assert [c.strip() for c in seen["accept-encoding"].split(",")] == list(SUPPORTED)


class Unknown:
    """An upstream that answers in a coding nobody asked for."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"x-snappy")]})
        await send({"type": "http.response.body", "body": b"\x00\x01opaque", "more_body": False})


def test_an_undecodable_coding_reaches_only_a_client_that_accepts_it(tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway

    (tmp_path / "p.aigw").write_text(POLICY)
    with ServerThread(Unknown()) as up:
        app = Gateway(policy=tmp_path / "p.aigw", upstream=up.url, timeout=5.0, watch=0)
        with ServerThread(app) as gw:
            path, body, _, _ = APIS["openai"]
            status, got, data = call(gw.url, path, body, {})
            assert status == 502 and got["x-aigw-upstream-error"] == "encoding"
            assert "content-encoding" not in got and json.loads(data)["error"]["code"] == "upstream_unreachable"
            status, got, data = call(gw.url, path, body, {"accept-encoding": "x-snappy"})
            assert status == 200 and got["content-encoding"] == "x-snappy" and data == b"\x00\x01opaque"


@pytest.mark.parametrize(("accept", "coded", "ok"), [
    ("", ["gzip"], False), ("gzip", ["gzip"], True), ("GZIP;q=0.5", ["gzip"], True), ("gzip;q=0", ["gzip"], False),
    ("*", ["br"], True), ("*, br;q=0", ["br"], False), ("gzip", ["gzip", "br"], False), ("x;q=zz", ["x"], False),
])
def test_accept_encoding(accept: str, coded: list[str], ok: bool) -> None:
    assert _accepts(accept, coded) is ok


# -- usage from a compressed body handed to the library (Engine.complete) ---------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_decode_body_round_trips(coding: str) -> None:
    chunk, finish = compressor(coding)
    raw = b'{"usage": {"prompt_tokens": 3}}' * 50
    assert decode_body(chunk(raw[:700]) + chunk(raw[700:]) + finish(), coding) == raw


@pytest.mark.parametrize("coding", CODINGS)
def test_decode_body_stops_at_the_limit(coding: str) -> None:
    chunk, finish = compressor(coding)
    bomb = chunk(b"\0" * 5_000_000) + finish()
    assert len(bomb) < 50_000
    with pytest.raises(ProviderError, match="larger than 1000 bytes"):
        decode_body(bomb, coding, limit=1000)


def test_decode_body_errors_are_coded() -> None:
    with pytest.raises(ProviderError, match="bad-response: content-encoding `x-snappy`"):
        decode_body(b"x", "x-snappy")
    with pytest.raises(ProviderError, match="corrupt `gzip` body"):
        decode_body(b"not gzip at all", "gzip")
    with pytest.raises(ProviderError, match="truncated"):
        decode_body(zlib.compress(b"abc" * 100)[:-6], "deflate")
    assert encoding.codings("identity, X-GZIP, br") == ["gzip", "br"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("coding", CODINGS)
def test_extract_usage_decodes_a_compressed_body(coding: str, stream: bool) -> None:
    from aigw_policy.providers import classify
    from aigw_policy.providers.response import extract_usage

    ai = classify({"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-4o", "messages": MSG, "stream": stream}})
    usage = {"prompt_tokens": 21, "completion_tokens": 500, "total_tokens": 521}
    if stream:
        raw = (b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
               + b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\ndata: [DONE]\n\n")
        ctype = "text/event-stream"
    else:
        raw, ctype = json.dumps({"choices": [], "usage": usage}).encode(), "application/json"
    chunk, finish = compressor(coding)
    response = {"status_code": 200, "headers": {"Content-Type": ctype, "Content-Encoding": coding},
                "body": chunk(raw) + finish()}
    got = extract_usage(ai, response)
    assert (got.source, got.output_tokens) == ("provider", 500)
    broken = extract_usage(ai, {**response, "body": b"\x1f\x8b garbage"})
    assert broken.source == "estimate" and "corrupt" in broken.notes[0]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("coding", CODINGS)
def test_middleware_reads_usage_of_an_app_that_compresses(tmp_path: Path, coding: str, stream: bool) -> None:
    # PolicyMiddleware in front of any ASGI app: the app answers compressed to a client that
    # accepts it; the client gets those bytes, usage is read from the decoded text
    import aigw_policy as ap
    from aigw_policy.gateway.middleware import PolicyMiddleware
    from aigw_policy.ledger import Ledger

    (tmp_path / "p.aigw").write_text(POLICY)
    engine = ap.Engine(str(tmp_path / "p.aigw"), ledger=Ledger(f"jsonl:{tmp_path / 'u.jsonl'}"))
    upstream = Compressing(StubUpstream())
    with ServerThread(PolicyMiddleware(upstream, engine)) as gw:
        path, body, _, out = APIS["openai"]
        status, got, data = call(gw.url, path, {**body, "stream": stream},
                                 {"x-test-encoding": coding, "accept-encoding": coding})
    assert status == 200 and got["content-encoding"] == coding and upstream.compressed == [coding]
    assert b"usage" in decode_body(data, coding)
    engine.ledger.close()
    rec = record_of(tmp_path / "u.jsonl", got["x-aigw-decision-id"])
    assert (rec["aigw.usage.source"], rec["gen_ai.usage.output_tokens"]) == ("provider", out)


# -- the streaming decoder the upstream client passes answers through -------------------------


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("cut", [1, 7, 64, 4096])
def test_stream_decoder_decodes_any_split_of_the_body(coding: str, cut: int) -> None:
    from aigw_policy.providers.encoding import StreamDecoder

    chunk, finish = compressor(coding)
    raw = b'data: {"usage": {"prompt_tokens": 3}}\n\n' * 80
    coded = chunk(raw[:900]) + chunk(raw[900:]) + finish()
    d = StreamDecoder(coding)
    out = b"".join(d.decode(coded[i:i + cut]) for i in range(0, len(coded), cut)) + d.flush()
    assert out == raw
    truncated = StreamDecoder(coding)
    with pytest.raises(ProviderError):  # a body cut short is found at the end, not passed as whole
        truncated.decode(coded[: len(coded) // 2])
        truncated.flush()


def test_stream_decoder_takes_raw_deflate_and_chained_codings() -> None:
    import gzip

    from aigw_policy.providers.encoding import StreamDecoder

    c = zlib.compressobj(wbits=-15)
    raw_deflate = c.compress(b"hello") + c.flush()
    d = StreamDecoder("deflate")
    assert d.decode(raw_deflate) + d.flush() == b"hello"
    chained = StreamDecoder("deflate, gzip")  # deflate applied first, gzip last
    both = gzip.compress(zlib.compress(b"twice"))
    assert chained.decode(both) + chained.flush() == b"twice"
    with pytest.raises(ProviderError, match="corrupt `gzip` body"):
        StreamDecoder("gzip").decode(b"not gzip at all")
