"""Real payloads with one node changed: every answer of the fixtures (``data/``: the spec
payloads, tiers, images, calls that run no model, and the job and batch reads), JSON bodies and
each JSON event of a stream, with any one value (a leaf or a whole object) replaced by a null, a
list, an object, a number of the wrong kind or sign, or a string: the usage is a Usage (never a
traceback), its counts whole, non-negative and consistent, its price a Cost that is not negative.

Random JSON (test_properties.py) seldom reaches a field behind a provider's shape (a ``status``
beside a job ``id``, a ``service_tier`` beside an integer usage); a real payload with one node
changed does. The class it found: a provider's value checked for membership in a set of names
without being a string first (``service_tier: []`` in a chat completion, a Perplexity job's
``status: {}``, a Gemini batch's ``state: []``: ``TypeError: unhashable type``). And a key
written ``null`` reads as the key not written."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

DATA = Path(__file__).parent / "data"
AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
BOOK = PriceBook()
VALUES: tuple[Any, ...] = (None, [], {"a": 1}, -3, 2.5, "x")


def _pairs(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every ``{request: {url, ...}, response: {body | sse, ...}}`` under ``node``."""
    if isinstance(node, dict):
        req, resp = node.get("request"), node.get("response")
        if isinstance(req, dict) and isinstance(req.get("url"), str) and isinstance(resp, dict) and (
                "body" in resp or "sse" in resp):
            yield where, req, resp
        for key, value in node.items():
            yield from _pairs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _pairs(value, f"{where}/{i}")


def _answer(body: Any) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body}


def _job_reads() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The job and batch fixtures' reads (their files hold the answers, not request/response pairs)."""
    batches = DATA / "batches"
    gemini = json.loads((batches / "gemini_inline_batches.json").read_text())
    openai = json.loads((batches / "openai_file_batches.json").read_text())
    perplexity = json.loads((batches / "perplexity_async.json").read_text())
    xai = json.loads((batches / "xai_deferred.json").read_text())
    get = {"method": "GET", "headers": {}}
    yield ("batches/gemini/succeeded", {**get, "url": "https://generativelanguage.googleapis.com/v1beta/batches/123456"},
           _answer(gemini["succeeded"]))
    yield ("batches/openai/completed", {**get, "url": "https://api.openai.com/v1/batches/batch_abc123"},
           _answer({**openai["created"], **openai["completed"]}))
    yield ("batches/perplexity/completed",
           {**get, "url": "https://api.perplexity.ai/async/chat/completions/3c90c3cc-0d44-4b50-8888-8dd25736052a"},
           _answer({**perplexity["created"], **perplexity["completed"]}))
    yield ("batches/xai/completed", {**get, "url": "https://api.x.ai/v1/chat/deferred-completion/f15c114e"},
           _answer(xai["completed"]))


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in sorted(DATA.rglob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        out += [c for c in _pairs(doc, str(path.relative_to(DATA)))
                if isinstance(c[2].get("body"), (dict, list)) or _lines(c[2]) is not None]
    return out + list(_job_reads())


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*at, i))


def _changed(node: Any, at: tuple[Any, ...], value: Any) -> Any:
    if not at:
        return value
    out = copy.deepcopy(node)
    inner = out
    for key in at[:-1]:
        inner = inner[key]
    inner[at[-1]] = value
    return out


def _lines(resp: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, text)`` of an answer written as lines of JSON events: an SSE stream (``sse``),
    or a text body of JSON lines (NDJSON, Cohere v1's and Ollama's streams); None for others
    (a JSON body; AWS's binary event stream, whose text starts with a NUL)."""
    for key in ("sse", "body"):
        text = resp.get(key)
        if isinstance(text, str) and text[:1] != "\x00" and "\n" in text:
            return key, text
    return None


def _variants(resp: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``resp`` with one node of its JSON body, or of one JSON event of its stream, changed."""
    body = resp.get("body")
    if isinstance(body, (dict, list)):
        for at in _paths(body):
            for value in VALUES:
                yield {**resp, "body": _changed(body, at, value)}
        return
    key, text = _lines(resp)  # type: ignore[misc]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        head = "data: " if line.startswith("data:") else ""
        try:
            event = json.loads(line[5:] if head else line)
        except ValueError:
            continue
        for at in _paths(event):
            for value in VALUES:
                yield {**resp, key: "\n".join([*lines[:i], head + json.dumps(_changed(event, at, value)),
                                               *lines[i + 1:]])}


CASES = _cases()


def test_the_cases_reach_every_family() -> None:
    names = {name.split("/")[0] if not name.startswith("spec/") else name.split("/")[1] for name, _, _ in CASES}
    assert {"openai", "anthropic", "gemini", "bedrock", "cohere", "ollama", "vendors", "batches", "tiers"} <= names
    assert len(CASES) >= 150


@pytest.mark.parametrize(("name", "request_", "response"), CASES, ids=[c[0] for c in CASES])
def test_one_node_changed_gives_usage(name: str, request_: dict[str, Any], response: dict[str, Any]) -> None:
    ai = classify(request_)
    for changed in _variants(response):
        usage = extract_usage(ai, changed)
        counts = usage.counts()
        assert all(type(n) is int and n >= 0 for n in counts.values()), (name, counts)
        assert counts["total_tokens"] == counts["input_tokens"] + counts["output_tokens"]
        assert counts["cached_input_tokens"] + counts["cache_creation_input_tokens"] <= counts["input_tokens"]
        assert counts["cache_creation_1h_input_tokens"] <= counts["cache_creation_input_tokens"]
        assert counts["reasoning_tokens"] <= counts["output_tokens"]
        cost = BOOK.cost(ai.provider, usage.model or ai.model, usage, at=AT)
        assert cost.usd is None or cost.usd >= 0, (name, cost)


_ABSENT = object()


def _without(node: Any, at: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(node)
    inner = out
    for key in at[:-1]:
        inner = inner[key]
    del inner[at[-1]]
    return out


def _null_and_absent(resp: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]]:
    """``resp`` with one key of an object of its body (or of one event of its stream) written
    null, and the same without that key."""
    body = resp.get("body")
    if isinstance(body, (dict, list)):
        for at in _paths(body):
            if at and isinstance(at[-1], str):
                yield at, {**resp, "body": _changed(body, at, None)}, {**resp, "body": _without(body, at)}
        return
    key, text = _lines(resp)  # type: ignore[misc]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        head = "data: " if line.startswith("data:") else ""
        try:
            event = json.loads(line[5:] if head else line)
        except ValueError:
            continue
        for at in _paths(event):
            if at and isinstance(at[-1], str):
                yield ((i, *at), *({**resp, key: "\n".join([*lines[:i], head + json.dumps(v), *lines[i + 1:]])}
                                   for v in (_changed(event, at, None), _without(event, at))))


@pytest.mark.parametrize(("name", "request_", "response"), CASES, ids=[c[0] for c in CASES])
def test_a_key_written_null_is_the_key_not_written(name: str, request_: dict[str, Any],
                                                   response: dict[str, Any]) -> None:
    """Providers write an absent field as ``null`` or leave it out, as their serializers do
    (payloads30 found an embeddings answer's ``prompt_tokens: null`` beside its total read as
    no usage at all, and an xAI deferred read's ``choices: null`` charged where no ``choices``
    was not)."""
    ai = classify(request_)
    for at, null, absent in _null_and_absent(response):
        a, b = extract_usage(ai, null), extract_usage(ai, absent)
        assert (a.counts(), a.source) == (b.counts(), b.source), (name, at)
