"""The debugging trace's ``client.api_key_hash`` (ngrok: "Trimmed API key from the client") names
the client's own key however its SDK sends it: ``Authorization: Bearer`` (OpenAI), ``x-api-key``
(Anthropic), ``x-goog-api-key`` (google-genai), Gemini's ``?key=`` (its REST examples, curl) and
Azure's ``api-key``: the same short hash of the key for each, never the key's text. Before
(route29), a key sent as ``?key=`` was the empty string, though the route had seen it (it passes
it on to a keyless candidate)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.routing.compile import key_id_of

SECRET = "AIzaClientSecretKey987654"
POLICY = """
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          on_error: continue
          providers:
            - {id: ge, base_url: "http://ge.test", supported_api_surfaces: [{format: gemini}, {format: openai}],
               api_keys: [{value: sk-ge-one, id: ge-1}], models: [{id: gemini-2.0-flash}]}
  - name: debugging
    actions:
      - type: custom-response
        config: {status_code: 503, headers: {content-type: application/json}, body: "${actions.ngrok.ai_gateway}"}
"""
GEMINI = "/v1beta/models/gemini-2.0-flash:generateContent"
SPELLINGS: dict[str, tuple[str, dict[str, str]]] = {
    "authorization": ("/v1/chat/completions", {"authorization": f"Bearer {SECRET}"}),
    "x-api-key": ("/v1/chat/completions", {"x-api-key": SECRET}),
    "x-goog-api-key": (GEMINI, {"x-goog-api-key": SECRET}),
    "?key=": (GEMINI + f"?key={SECRET}", {}),
    "?key= and alt=sse": (GEMINI.replace("generateContent", "streamGenerateContent") + f"?alt=sse&key={SECRET}", {}),
    "api-key": ("/v1/chat/completions", {"api-key": SECRET}),
}


@pytest.mark.parametrize("how", sorted(SPELLINGS))
def test_the_clients_key_is_named_by_its_hash_however_it_was_sent(how: str) -> None:
    path, headers = SPELLINGS[how]
    body: dict[str, Any] = ({"contents": [{"parts": [{"text": "hi"}]}]} if "/models/" in path else
                            {"model": "gemini-2.0-flash", "messages": [{"role": "user", "content": "hi"}]})
    d = ap.Engine(ap.loads(POLICY, format="yaml")).evaluate({"request": {
        "method": "POST", "url": "https://gw" + path, "body": body,
        "headers": {"content-type": "application/json", **headers}}, "attempts": [{"status_code": 500}]})
    trace = d.response["body"]
    trace = json.loads(trace) if isinstance(trace, (str, bytes)) else trace
    assert trace["client"]["api_key_hash"] == key_id_of(SECRET)
    assert SECRET not in json.dumps(trace)


def test_a_keyless_candidate_passes_the_key_on_and_the_trace_still_hides_it() -> None:
    policy = POLICY.replace("api_keys: [{value: sk-ge-one, id: ge-1}], ", "")
    d = ap.Engine(ap.loads(policy, format="yaml")).evaluate({"request": {
        "method": "POST", "url": f"https://gw{GEMINI}?key={SECRET}", "body": {"contents": []},
        "headers": {"content-type": "application/json"}}, "attempts": [{"status_code": 500}]})
    trace = d.response["body"]
    trace = json.loads(trace) if isinstance(trace, (str, bytes)) else trace
    [tried] = trace["models_tried"]
    assert tried["requests_made"][0]["request"]["url"].startswith("http://ge.test/v1beta/models/gemini-2.0-flash")
    assert trace["client"]["api_key_hash"] == key_id_of(SECRET) and SECRET not in json.dumps(trace)
