"""A vendor's path that makes a resource, not a model call, is classified by its path, not by its
body's look: Gemini's context caches (``POST /v1beta/cachedContents``, Vertex AI's
``…/locations/{l}/cachedContents``: ``model``, ``contents``, ``systemInstruction``, ``ttl``, as
google-genai's ``caches.create`` sends them) and OpenAI's Assistants threads (``POST
/v1/threads`` with its first ``messages``, openai-python ``beta.threads.create``) are
``other``; Mistral's agents (``POST /v1/agents/completions``, mistralai's ``agents.complete``:
``agent_id`` and ``messages``) is a chat, not a legacy completion. Before (payloads19), the
first two were a chat by their ``contents`` / ``messages``: an output reserved for an answer
that never comes, and a ``max-tokens`` clamp wrote ``generationConfig`` /
``max_completion_tokens`` into a body whose API refuses unknown fields (a cache or a thread
never made); Mistral's agents were a completion."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import pytest

from aigw_policy.gateway.effects import set_max_tokens
from aigw_policy.providers import classify

CONTENTS = [{"role": "user", "parts": [{"text": "A long document to cache. " * 20}]}]
MESSAGES = [{"role": "user", "content": "Tell me about otters"}]
VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1"

ROWS: list[tuple[str, str, dict[str, Any], tuple[str, str, str], dict[str, Any] | None]] = [
    # (id, url, body, (provider, api, operation), what a clamp to 64 adds, or None: nothing)
    ("gemini cache", "https://generativelanguage.googleapis.com/v1beta/cachedContents",
     {"model": "models/gemini-2.5-flash", "contents": CONTENTS, "systemInstruction": {"parts": [{"text": "Be brief"}]},
      "ttl": "300s"}, ("gemini", "gemini", "other"), None),
    ("vertex cache", f"{VERTEX}/cachedContents",
     {"model": "projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash", "contents": CONTENTS},
     ("vertex_ai", "gemini", "other"), None),
    ("gemini cache update", "https://generativelanguage.googleapis.com/v1beta/cachedContents/abc123",
     {"ttl": "600s", "contents": CONTENTS}, ("gemini", "gemini", "other"), None),
    ("assistants thread", "https://api.openai.com/v1/threads", {"messages": MESSAGES}, ("openai", "openai", "other"),
     None),
    ("mistral agent", "https://api.mistral.ai/v1/agents/completions", {"agent_id": "ag_0195", "messages": MESSAGES},
     ("mistral", "openai", "chat"), {"max_tokens": 64}),
    # unchanged: the model calls beside them
    ("gemini generateContent", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": CONTENTS}, ("gemini", "gemini", "chat"), {"generationConfig": {"maxOutputTokens": 64}}),
    ("mistral fim", "https://api.mistral.ai/v1/fim/completions", {"model": "codestral-latest", "prompt": "def f("},
     ("mistral", "openai", "completion"), {"max_tokens": 64}),
]


@pytest.mark.parametrize(("url", "body", "want", "clamp"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_resource_path_is_classified_by_its_path(url: str, body: dict[str, Any], want: tuple[str, str, str],
                                                  clamp: dict[str, Any] | None) -> None:
    ai = classify({"method": "POST", "url": url, "headers": {"content-type": "application/json"}, "body": body})
    assert (ai.provider, ai.api, ai.operation) == want
    sent = copy.deepcopy(body)
    set_max_tokens(sent, ai.api, ai.operation, urlsplit(url).path, 64, ai.provider)
    assert sent == ({**body, **clamp} if clamp else body)
