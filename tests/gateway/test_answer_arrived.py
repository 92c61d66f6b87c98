"""A JSON answer whose body came whole is judged as it is, without the async iterators that
read a body still coming (``answer_read.judge``'s ``whole``, ``Response.arrived``): the same
judgment either way, and through ``serve`` the chunks are not read for a short JSON answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway import answer_read
from aigw_policy.gateway.answer_read import judge

AUTH = {"authorization": "Bearer sk-gw-research"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
CHAT_ANSWER = json.dumps({"id": "c", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()

bodies = st.one_of(st.just(CHAT_ANSWER), st.just(b""), st.just(b"{}"), st.just(b'{"error": {"message": "x"}}'),
                   st.binary(max_size=300), st.text(max_size=200).map(str.encode))


async def _pieces(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    at = 0
    for cut in sorted(c % (len(body) + 1) for c in cuts):
        if cut > at:
            yield body[at:cut]
            at = cut
    if at < len(body):
        yield body[at:]


def _judged(body: bytes, cuts: list[int], status: int, ctype: str, limit: int, whole: bool) -> Any:
    async def run() -> Any:
        came = (lambda n: body if len(body) <= n else None) if whole else None
        read = await judge(_pieces(body, cuts), status, ctype, "http://h/v1/chat/completions", False,
                           limit=limit, shape=True, whole=came)
        rest = b"".join([c async for c in read.rest]) if read.rest is not None else None
        return read.streaming, read.framing, read.prefix, rest, read.why
    return asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(bodies, st.lists(st.integers(0, 400), max_size=4), st.sampled_from([200, 201, 400, 429, 500]),
       st.sampled_from(["application/json", "application/json; charset=utf-8", "text/html"]),
       st.sampled_from([0, 16, 1 << 20]))
def test_a_body_that_came_whole_is_judged_as_one_that_comes(body: bytes, cuts: list[int], status: int, ctype: str,
                                                            limit: int) -> None:
    assert _judged(body, cuts, status, ctype, limit, True) == _judged(body, cuts, status, ctype, limit, False)


def test_through_serve_a_short_json_answer_is_taken_whole(gateway: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = answer_read.read_upto

    async def counted(chunks: Any, limit: int) -> Any:
        reads.append(limit)
        return await real(chunks, limit)

    monkeypatch.setattr(answer_read, "read_upto", counted)
    for _ in range(3):
        answer = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, headers=AUTH, timeout=30)
        assert answer.status_code == 200 and answer.json()["choices"], answer.text
    assert reads == []
