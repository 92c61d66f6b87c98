"""What ngrok's documentation says its documents do, run through the engine (nineteenth ngrok
pass). Each row names the page it comes from (``source``); rows name their keys, and a
misspelled key fails the test.

Classes fixed in this pass (each row failed before its fix):

- a ``custom-response`` without a ``content-type`` header carries the one ngrok infers from
  its body ("this action will attempt to infer the correct content-type") in the decision
  itself, in both phases: ``decision.response``, ``explain`` and a later response rule's
  ``res.content_type`` see it, not only the bytes ``serve`` sends.
"""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def _answer(body: str | None, headers: dict[str, str] | None = None, status: int = 200,
            phase: str = "on_http_request") -> str:
    config: list[str] = [f"          status_code: {status}"]
    if body is not None:
        config.append(f"          body: {body}")
    if headers:
        config.append("          headers:")
        config += [f"            {k}: {v}" for k, v in headers.items()]
    return f"{phase}:\n  - actions:\n      - type: custom-response\n        config:\n" + "\n".join(config) + "\n"


READ_BACK = """
on_http_response:
  - actions:
      - type: add-headers
        config:
          headers:
            x-seen-type: ${res.content_type}
"""

ROW_KEYS = {"id", "source", "doc", "response", "want"}

CONTENT_TYPE_ROWS: list[dict[str, Any]] = [
    {"id": "html-maintenance-page", "source": "actions/custom-response/examples/http-html-maintenance-page.mdx",
     "doc": _answer("<html><body><h1>Service Unavailable</h1></body></html>", status=503), "want": HTML},
    {"id": "h1-fragment", "source": "actions/custom-response (Inferring Content-Type)",
     "doc": _answer("'<h1>Down</h1>'"), "want": HTML},
    {"id": "json-object", "source": "actions/custom-response/examples/http-json-single-interpolation.mdx",
     "doc": _answer("'{\"connection-start\":\"${req.method}\"}'"), "want": JSON},
    {"id": "json-array", "source": "actions/custom-response (Inferring Content-Type)",
     "doc": _answer("'[1, 2]'"), "want": JSON},
    {"id": "plain-text", "source": "actions/custom-response/examples/http-plain-text-multiple-interpolation.mdx",
     "doc": _answer("connection began at ${req.method}", status=418), "want": TEXT},
    {"id": "no-body-redirect-page", "source": "actions/custom-response/examples/http-upstream-maintenance-page.mdx",
     "doc": _answer(None, {"location": "https://www.example.com"}, status=302), "want": TEXT},
    {"id": "brace-not-json", "source": "actions/custom-response (Inferring Content-Type)",
     "doc": _answer("'{not json'"), "want": TEXT},
    {"id": "response-phase-overwrite", "source": "actions/custom-response (on_http_response usage)",
     "doc": _answer("'{\"ok\": true}'", phase="on_http_response"),
     "response": {"status_code": 500, "headers": {"content-type": "text/html"}, "body": "<p>boom</p>"}, "want": JSON},
    # a content-type the document names is kept as written, under any spelling of its name
    {"id": "named-lower", "source": "actions/custom-response/examples/http-html-maintenance-page.mdx",
     "doc": _answer("'<html><body>x</body></html>'", {"content-type": "text/html"}), "want": "text/html"},
    {"id": "named-capitals", "source": "actions/custom-response (config: headers)",
     "doc": _answer("'{\"a\": 1}'", {"Content-Type": "text/plain"}), "want": "text/plain"},
]


def _evaluate(row: dict[str, Any], doc: str) -> Any:
    request: dict[str, Any] = {"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
                               "request": {"method": "GET", "url": "https://example.ngrok.app/api/example"}}
    if "response" in row:
        request["response"] = row["response"]
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    assert not [d for d in found if d.is_error], [str(d) for d in found]
    return ap.Engine(ap.loads(doc)).evaluate(request)


def _content_types(headers: dict[str, str]) -> list[str]:
    return [v for k, v in headers.items() if k.lower() == "content-type"]


@pytest.mark.parametrize("row", CONTENT_TYPE_ROWS, ids=[r["id"] for r in CONTENT_TYPE_ROWS])
def test_custom_response_decision_carries_its_content_type(row: dict[str, Any]) -> None:
    assert set(row) <= ROW_KEYS and {"id", "source", "doc", "want"} <= set(row), sorted(set(row) - ROW_KEYS)
    decision = _evaluate(row, row["doc"])
    assert decision.kind == "custom-response", decision.reason
    assert _content_types(decision.response["headers"]) == [row["want"]]
    assert _content_types(decision.to_dict()["response"]["headers"]) == [row["want"]]


@pytest.mark.parametrize("row", [r for r in CONTENT_TYPE_ROWS if "response" not in r],
                         ids=[r["id"] for r in CONTENT_TYPE_ROWS if "response" not in r])
def test_a_response_rule_reads_the_inferred_content_type(row: dict[str, Any]) -> None:
    """The gateway's own answer runs the response rules (SPEC): ``res.content_type`` is the
    media type of the answer the client gets, not ``""``."""
    decision = _evaluate(row, row["doc"] + READ_BACK)
    added = decision.to_dict()["effects"]["response_headers"]["add"]
    assert added["x-seen-type"] == row["want"].split(";")[0]


# -- a read of the response in the request phase -------------------------------------------
# ngrok's macros reference: the response macros are "available in on_http_response phase
# only", as the `res.*` variables are. Each read below, in a request rule's condition or in a
# `${...}` of its config, fails the rule (500 under the default `on_error: deny`) as reading
# `res.status_code` there always did (the macros answered false or [] before: a deny rule on
# `hasResHeader(...)` let every request through), and AIGW404 names it where it is written.
IN_CONDITION = "on_http_request:\n  - expressions: [\"{}\"]\n    actions:\n      - type: deny\n"
IN_BODY = "on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n          body: \"${{{}}}\"\n"
IN_HEADER = ("on_http_request:\n  - actions:\n      - type: add-headers\n        config:\n          headers:\n"
             "            x-seen: \"${{{}}}\"\n")
IN_LOG = ("on_http_request:\n  - actions:\n      - type: log\n        config:\n          metadata:\n"
          "            seen: \"${{{}}}\"\n")

RESPONSE_READS: list[tuple[str, str, tuple[int, int]]] = [
    # (form, text, where AIGW404 points: line, column)
    (IN_CONDITION, "hasResHeader('x-cache')", (2, 20)),
    (IN_CONDITION, "!hasResHeader('x-cache')", (2, 20)),
    (IN_CONDITION, "getResHeader('x-cache').size() == 0", (2, 20)),
    (IN_CONDITION, "hasResCookie('sid')", (2, 20)),
    (IN_CONDITION, "getResCookie('sid').value == 'a'", (2, 20)),
    (IN_BODY, "string(res.status_code)", (5, 17)),
    (IN_BODY, "string(hasResHeader('x-cache'))", (5, 17)),
    (IN_HEADER, "getResHeader('x-cache').join(',')", (6, 13)),
    (IN_LOG, "string(res.content_type)", (6, 13)),
]


@pytest.mark.parametrize(("form", "text", "at"), RESPONSE_READS, ids=[f"{i}-{r[1]}" for i, r in enumerate(RESPONSE_READS)])
def test_a_response_read_in_the_request_phase_fails_the_rule(form: str, text: str, at: tuple[int, int]) -> None:
    doc = form.format(text)
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    warned = [(d.span.line, d.span.column) for d in found if d.code == "AIGW404"]
    assert warned == [at], [str(d) for d in found]
    decision = ap.Engine(ap.loads(doc)).evaluate(
        {"id": "r1", "request": {"method": "GET", "url": "https://example.ngrok.app/"}})
    assert (decision.status_code, decision.kind) == (500, "error"), decision.reason
    assert "no such attribute: 'res." in decision.reason


@pytest.mark.parametrize("text", [t for form, t, _ in RESPONSE_READS if form is IN_CONDITION])
def test_the_same_read_in_the_response_phase_is_fine(text: str) -> None:
    # `deny` runs in the request phase only (ngrok refuses it in the response phase, AIGW134)
    doc = IN_CONDITION.format(text).replace("on_http_request", "on_http_response").replace("deny", "custom-response")
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    assert not [d for d in found if d.code == "AIGW404" or d.is_error], [str(d) for d in found]
    decision = ap.Engine(ap.loads(doc)).evaluate(
        {"id": "r1", "request": {"method": "GET", "url": "https://example.ngrok.app/"},
         "response": {"status_code": 200, "headers": {"x-cache": "HIT", "set-cookie": "sid=a"}, "body": None}})
    assert decision.kind != "error", decision.reason


# -- the ai-gateway's error messages, word for word as its reference gives them ----------------
# Each row: a situation of tests/engine/test_route_error_codes.py and the value each of the
# message's placeholders must take there; the message itself is read from ngrok's page
# (reference/error-codes.mdx, "**Message**"), so a sentence we shorten or a Python type name
# (`str` for CEL's `string`) or a duration not in Go's form (`300s` for `5m0s`) fails here.
ERROR_CODES_PAGE = "ai-gateway-action/reference/error-codes.mdx"


def _documented_messages() -> dict[str, str]:
    import re

    from shared_data import NGROK, require

    text = require(NGROK / ERROR_CODES_PAGE).read_text(encoding="utf-8")
    found = re.findall(r"### (ERR_NGROK_\d+)\s+\*\*Message\*\*\s+(.+?)\n", text)
    return dict(found)


def _pattern(template: str, values: dict[str, str]) -> str:
    import re

    out, at = "", 0
    for m in re.finditer(r"`([A-Z_]+)`", template):
        out += re.escape(template[at:m.start()]) + (re.escape(values[m.group(1)]) if m.group(1) in values else ".+")
        at = m.end()
    return out + re.escape(template[at:])


MESSAGE_ROWS = [
    # (code, the situation's config, the request's words, attempts, placeholder values)
    ("ERR_NGROK_3806", "model_selection: {strategy: [\"dyn('gpt-4o')\"]}", 2, [],
     {"EXPRESSION": "dyn('gpt-4o')", "ACTUAL_TYPE": "string"}),
    ("ERR_NGROK_3806", "model_selection: {strategy: [\"dyn(42)\"]}", 2, [],
     {"EXPRESSION": "dyn(42)", "ACTUAL_TYPE": "int"}),
    ("ERR_NGROK_3810", "total_timeout: 1s, per_request_timeout: 1s", 2, [{"error": "timeout"}], {"TIMEOUT": "1s"}),
    ("ERR_NGROK_3810", "total_timeout: 5m, per_request_timeout: 5m", 2, [{"error": "timeout"}], {"TIMEOUT": "5m0s"}),
    ("ERR_NGROK_3810", "total_timeout: 90s, per_request_timeout: 90s", 2, [{"error": "timeout"}],
     {"TIMEOUT": "1m30s"}),
    ("ERR_NGROK_3811", "max_input_tokens: 5", 50, [], {"MAX_ALLOWED": "5"}),
    ("ERR_NGROK_3803", "model_selection: {strategy: [\"ai.models.filter(m, int(m.id) > 0)\"]}", 2, [], {}),
    ("ERR_NGROK_3805", "model_selection: {strategy: [\"ai.models.filter(m, false)\"]}", 2, [], {}),
    ("ERR_NGROK_3808", "api_key_selection: {strategy: [\"ai.keys.filter(k, false)\"]}", 2, [], {}),
]


@pytest.mark.parametrize(("code", "config", "words", "attempts", "values"), MESSAGE_ROWS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(MESSAGE_ROWS)])
def test_ai_gateway_error_message_is_the_documented_one(code: str, config: str, words: int,
                                                        attempts: list[dict[str, Any]], values: dict[str, str]) -> None:
    import re

    template = _documented_messages()[code]
    keyed = "{id: openai, api_keys: [{value: sk-op-1, id: k1}, {value: sk-op-2, id: k2}]}"
    doc = ("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n"
           f"        config: {{providers: [{keyed}], {config}}}\n")
    decision = ap.Engine(ap.loads(doc, format="yaml")).evaluate(
        {"id": "r1", "now": "2026-11-26T12:00:00Z", "attempts": attempts,
         "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                     "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi " * words}]}}})
    aigw = decision.response["body"]["aigw"]
    assert aigw["code"] == code, decision.reason
    assert re.fullmatch(_pattern(template, values), aigw["reason"]), (template, aigw["reason"])


# -- the media type of `req.content_type` / `res.content_type` --------------------------------
# ngrok's variables (req.mdx, res.mdx) give the media type apart from its parameters, whose
# names come lower-cased (`parameters['charset']`): Go's mime.ParseMediaType, which
# lower-cases the type too. A client's `Application/JSON` kept its capitals, so ngrok's
# `req.content_type == 'application/json'` missed it.
MEDIA_ROWS = [
    # (variable, the header as sent, the value)
    ("req.content_type", "Application/JSON; charset=utf-8", "application/json"),
    ("req.content_type", "TEXT/HTML", "text/html"),
    ("req.content_type", " Multipart/Form-Data ; boundary=XyZ", "multipart/form-data"),
    ("res.content_type", "Application/JSON", "application/json"),
    ("res.content_type", "Text/Event-Stream; charset=UTF-8", "text/event-stream"),
    ("req.content_type.raw", "Application/JSON; charset=utf-8", "Application/JSON; charset=utf-8"),
    ("req.content_type.parameters['boundary']", "multipart/form-data; Boundary=XyZ", "XyZ"),
]


@pytest.mark.parametrize(("variable", "sent", "want"), MEDIA_ROWS, ids=[f"{r[0]}-{r[1]}" for r in MEDIA_ROWS])
def test_media_type_as_ngrok_reads_it(variable: str, sent: str, want: str) -> None:
    phase = "on_http_response" if variable.startswith("res.") else "on_http_request"
    doc = f"{phase}:\n  - actions:\n      - type: custom-response\n        config:\n          body: \"${{{variable}}}\"\n"
    request: dict[str, Any] = {"id": "r1", "request": {"method": "POST", "url": "https://example.ngrok.app/",
                                                       "headers": {"Content-Type": sent}}}
    if phase == "on_http_response":
        request["response"] = {"status_code": 200, "headers": {"Content-Type": sent}, "body": None}
    decision = ap.Engine(ap.loads(doc)).evaluate(request)
    assert decision.response["body"] == want, decision.reason


# -- the ai-gateway's debugging trace: each field of the type ngrok's variables page gives ----
# (traffic-policy/actions/ai-gateway variables, ConfigField types; `[]` is every item). A
# string was null where nothing failed (`error`, `body_on_error`), a latency was the float
# the attempt measured (`total_ms: 10.0`) or null (no first byte): ngrok's are integers
# (its guide's example: `"total_ms": 125`), its strings strings.
TRACE_FIELDS: list[tuple[str, str]] = [
    ("status", "string"), ("client", "object"), ("client.method", "string"), ("client.path", "string"),
    ("client.request_headers", "object"), ("client.user_agent", "string"), ("client.model", "string"),
    ("client.models", "array"), ("client.api_key_hash", "string"), ("client.rejected_models", "array"),
    ("input_ngrok_tokens", "integer"), ("output_ngrok_tokens", "integer"), ("gateway_latency_ms", "integer"),
    ("model_selection", "array"), ("model_selection[].strategy", "string"), ("model_selection[].error", "string"),
    ("model_selection[].candidates_returned", "array"), ("model_selection[].models_to_try", "array"),
    ("models_tried", "array"), ("models_tried[].model", "string"), ("models_tried[].provider", "string"),
    ("models_tried[].author", "string"), ("models_tried[].api_key_selection[].strategy", "string"),
    ("models_tried[].api_key_selection[].error", "string"), ("models_tried[].api_key_selection[].keys_to_try", "array"),
    ("models_tried[].requests_made[].status", "string"), ("models_tried[].requests_made[].error", "string"),
    ("models_tried[].requests_made[].upstream_input_tokens", "integer"),
    ("models_tried[].requests_made[].upstream_output_tokens", "integer"),
    ("models_tried[].requests_made[].request.url", "string"), ("models_tried[].requests_made[].request.api_key", "string"),
    ("models_tried[].requests_made[].response.status_code", "integer"),
    ("models_tried[].requests_made[].response.headers", "object"),
    ("models_tried[].requests_made[].response.body_on_error", "string"),
    ("models_tried[].requests_made[].upstream_latency.time_to_first_byte_ms", "integer"),
    ("models_tried[].requests_made[].upstream_latency.total_ms", "integer"),
    ("success.model_index", "integer"), ("success.request_index", "integer"), ("success.model", "string"),
    ("success.provider", "string"), ("success.author", "string"),
]
_JSON_KIND = {"string": str, "integer": int, "array": list, "object": dict}


def _served_trace() -> dict[str, Any]:
    """A route whose first attempt is refused 429 with no first byte, whose second is served
    (after a model strategy), answered by a response rule with the trace."""
    from aigw_policy.routing.model import AttemptOutcome, Next

    doc = """
on_http_request:
  - type: ai-gateway
    config:
      providers:
        - id: openai
          api_keys:
            - value: sk-one
            - value: sk-two
      model_selection:
        strategy:
          - ai.models.filter(m, m.id == 'gpt-4o')
on_http_response:
  - actions:
      - type: custom-response
        config:
          body: ${actions.ngrok.ai_gateway}
"""
    engine = ap.Engine(ap.loads(doc, format="yaml"))
    engine.evaluate({"id": "t1", "now": "2026-11-26T12:00:00Z", "request": {
        "method": "POST", "url": "https://ai.example.com/v1/chat/completions", "headers": {"user-agent": "curl/8.17.0"},
        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}})
    refused = AttemptOutcome(status_code=429, latency_ms=12.4, headers={"content-type": "application/json"},
                             body={"error": {"message": "Rate limit exceeded"}})
    served = AttemptOutcome(status_code=200, latency_ms=125.6, time_to_first_token_ms=120.2,
                            headers={"content-type": "application/json"}, body={"id": "c1", "choices": []})
    step = engine.attempt("t1", None)
    assert isinstance(step, Next)
    step = engine.attempt("t1", refused)
    assert isinstance(step, Next)
    engine.attempt("t1", served)
    decision = engine.complete("t1", {"status_code": 200, "headers": {"content-type": "application/json"},
                                      "body": {"id": "c1", "choices": []}})
    import json

    body = decision.response["body"]
    return json.loads(body) if isinstance(body, str) else body


def _at(value: Any, path: str) -> list[Any]:
    found = [value]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        found = [v[name] for v in found]
        if many:
            found = [item for v in found for item in v]
    return found


@pytest.mark.parametrize(("path", "kind"), TRACE_FIELDS, ids=[p for p, _ in TRACE_FIELDS])
def test_trace_field_has_the_documented_type(path: str, kind: str) -> None:
    values = _at(_served_trace(), path)
    assert values, f"no `{path}` in the trace"
    wrong = [v for v in values if type(v) is not _JSON_KIND[kind]]
    assert not wrong, f"`{path}` is documented as {kind}; the trace has {wrong!r}"


# -- every action variable ngrok documents for an action this engine runs -------------------
# (traffic-policy/actions/<action>/variables.mdx). `compress-response` is recorded, not
# applied; `actions.ngrok.compress` was absent, so a rule logging ngrok's fields failed closed.
COMPRESS = """
on_http_response:
  - actions:
      - type: compress-response
      - type: custom-response
        config:
          body: ${string(actions.ngrok.compress.already_compressed) + '/' + actions.ngrok.compress.negotiated_algorithm}
"""
COMPRESS_ROWS = [
    # (the upstream's content-encoding, the body)
    (None, "false/"),
    ("gzip", "true/"),
    ("identity", "false/"),
]


@pytest.mark.parametrize(("encoding", "want"), COMPRESS_ROWS, ids=[str(r[0]) for r in COMPRESS_ROWS])
def test_compress_response_publishes_ngroks_fields(encoding: str | None, want: str) -> None:
    headers = {"content-type": "text/plain"} | ({"content-encoding": encoding} if encoding else {})
    decision = ap.Engine(ap.loads(COMPRESS)).evaluate(
        {"id": "r1", "request": {"method": "GET", "url": "https://example.ngrok.app/", "headers": {"accept-encoding": "gzip"}},
         "response": {"status_code": 200, "headers": headers, "body": "hello"}})
    assert decision.response["body"] == want, decision.reason


# -- on_tcp_connect: what ngrok refuses on a connection is named, though the phase is skipped --
# ngrok's action pages list each action's phases ("Supported Phases"); a connection has no
# HTTP request or response. Such a rule was read and skipped (AIGW102) without a word, where
# ngrok refuses the document.
TCP_RULES: list[tuple[str, str, tuple[int, int] | None]] = [
    # (the rule's lines under `- `, the code, where: line, column; None: nothing but AIGW102)
    ("expressions: [\"req.url.path == '/a'\"]\n    actions:\n      - type: deny", "AIGW404", (2, 20)),
    ("expressions: [\"hasReqHeader('x-a')\"]\n    actions:\n      - type: deny", "AIGW404", (2, 20)),
    ("expressions: [\"res.status_code == 200\"]\n    actions:\n      - type: deny", "AIGW404", (2, 20)),
    ("actions:\n      - type: log\n        config:\n          metadata:\n            path: ${req.url.path}", "AIGW404",
     (6, 13)),
    ("actions:\n      - type: custom-response\n        config:\n          body: bye", "AIGW134", (3, 9)),
    ("actions:\n      - type: add-headers\n        config:\n          headers:\n            x-a: b", "AIGW134", (3, 9)),
    ("actions:\n      - type: rate-limit\n        config:\n          name: r\n          capacity: 1\n"
     "          rate: 60s\n          bucket_key: [conn.client_ip]", "AIGW134", (3, 9)),
    ("actions:\n      - type: redirect\n        config:\n          to: /x", "AIGW134", (3, 9)),
    # what ngrok runs on a connection: nothing more is said
    ("expressions: [\"conn.client_ip == '192.168.1.200'\"]\n    actions:\n      - type: deny", "", None),
    ("actions:\n      - type: restrict-ips\n        config:\n          allow: [1.2.3.0/24]", "", None),
    ("actions:\n      - type: set-vars\n        config:\n          vars:\n            - ip: ${conn.client_ip}", "", None),
]


@pytest.mark.parametrize(("rule", "code", "at"), TCP_RULES, ids=[f"{i}-{r[1] or 'ok'}" for i, r in enumerate(TCP_RULES)])
def test_a_connection_rule_ngrok_refuses_is_named(rule: str, code: str, at: tuple[int, int] | None) -> None:
    doc = f"on_tcp_connect:\n  - {rule}\n"
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    said = [(d.code, (d.span.line, d.span.column)) for d in found if d.code != "AIGW102"]
    assert said == ([(code, at)] if at else []), [str(d) for d in found]
    # an action ngrok refuses there is an error, as ngrok's (ERR_NGROK_2202); a read of the
    # HTTP exchange a warning (AIGW404 says so in every phase)
    assert [d.code for d in found if d.is_error] == ([code] if code == "AIGW134" else [])
