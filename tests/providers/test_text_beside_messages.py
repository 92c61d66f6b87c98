"""Text a request gives the model in places other than its messages' text parts is prompt
text: it is in ``ai.prompt`` (what content rules read) and counted as text in the estimate, not
as a document of unknown size nor as nothing. Before, a policy that refused a word in the prompt
did not see it in an Anthropic text document or search result, a Converse text document or
guard content, a Cohere document's fields, a Responses function output given as parts, or an
assistant's refusal sent back."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.providers import classify
from aigw_policy.providers.tokens import DEFAULT_COUNTER

WORDS = "the launch code is SECRET and the plan is set " * 40
ANTHROPIC = "https://api.anthropic.com/v1/messages"
CONVERSE = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
COHERE = "https://api.cohere.com/v2/chat"
RESPONSES = "https://api.openai.com/v1/responses"
OPENAI = "https://api.openai.com/v1/chat/completions"


def _claude(*content: dict[str, Any]) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": list(content)}]}


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("anthropic text document", ANTHROPIC, _claude(
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": WORDS}, "title": "Plan"},
        {"type": "text", "text": "Summarize"})),
    ("anthropic content document", ANTHROPIC, _claude(
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": WORDS}]}},
        {"type": "text", "text": "Summarize"})),
    ("anthropic search result", ANTHROPIC, _claude(
        {"type": "search_result", "source": "https://example.com/plan", "title": "Plan",
         "content": [{"type": "text", "text": WORDS}], "citations": {"enabled": True}},
        {"type": "text", "text": "Summarize"})),
    ("converse text document", CONVERSE, {"messages": [{"role": "user", "content": [
        {"document": {"format": "txt", "name": "plan", "source": {"text": WORDS}}}, {"text": "Summarize"}]}]}),
    ("converse content document", CONVERSE, {"messages": [{"role": "user", "content": [
        {"document": {"format": "txt", "name": "plan", "source": {"content": [{"text": WORDS}]}}},
        {"text": "Summarize"}]}]}),
    ("converse guard content", CONVERSE, {"messages": [{"role": "user", "content": [
        {"guardContent": {"text": {"text": WORDS, "qualifiers": ["guard_content"]}}}]}]}),
    ("cohere v2 documents' data", COHERE, {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "Summarize"}],
                                           "documents": [{"id": "1", "data": {"title": "Plan", "snippet": WORDS}}]}),
    ("cohere v2 tool document", COHERE, {"model": "command-a-03-2025", "messages": [
        {"role": "user", "content": "What is the plan?"},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "document", "document": {"data": {"text": WORDS}}}]}]}),
    ("responses function output parts", RESPONSES, {"model": "gpt-4.1", "input": [
        {"role": "user", "content": "What is the plan?"},
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": WORDS}]}]}),
    ("openai assistant refusal", OPENAI, {"model": "gpt-4o", "messages": [
        {"role": "assistant", "content": [{"type": "refusal", "refusal": WORDS}]}, {"role": "user", "content": "Why?"}]}),
]


@pytest.mark.parametrize(("name", "url", "body"), CASES, ids=[c[0] for c in CASES])
def test_text_beside_the_messages_is_prompt_text(name: str, url: str, body: dict[str, Any]) -> None:
    headers = {"anthropic-version": "2023-06-01"} if "anthropic.com" in url else {}
    ai = classify({"method": "POST", "url": url, "headers": headers, "body": body})
    assert "SECRET" in ai.prompt, name
    words = DEFAULT_COUNTER.count(WORDS)
    assert words <= ai.input_tokens <= words + 40, (ai.input_tokens, words)  # as text: not a 3,000-token page


def test_a_prompt_rule_sees_a_text_document() -> None:
    engine = ap.Engine(ap.loads('policy { on request { rule "no-secrets" { when ai.prompt.contains("SECRET") '
                                'deny { status_code: 403 } } } }'))
    request = {"method": "POST", "url": ANTHROPIC, "headers": {"anthropic-version": "2023-06-01"}, "body": CASES[0][2]}
    assert engine.evaluate({"request": request}, expect_response=False).status_code == 403
