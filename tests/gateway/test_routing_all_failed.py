"""A routed request every provider failed: the 503 (ngrok's ERR_NGROK_3807) lists what each
attempt said, as ngrok's reference promises ("errors are listed in the response"); before, it
said only "All providers failed: 2 attempts made", so an SDK user whose request was malformed
(every provider: 400 and why) saw an outage. And when every provider refused the request
itself (a 4xx the SDKs do not retry: 400, 401, 403, 404, 422), the answer says
``x-should-retry: false``: each SDK retried the 503 twice, every time through every provider,
to the same end (3x the upstream calls). A key an upstream quotes in its error is not in the
list (``***``); the ledger and the decision log keep each attempt's status, not what its answer
quoted (it may quote the prompt)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from aigw_policy.engine.route_errors import SAID_CHARS, attempt_said
from aigw_policy.routing.model import AttemptOutcome

from .conftest import ServerThread, lifespan, policy_gateway, record_of, routed_policy

KEY = "sk-gw-all-failed"
UPSTREAM_KEY = "sk-routed-upstream"  # routed_policy's keys: sk-routed-upstream-0, -1


class Refusing:
    """An upstream that answers ``status`` with an error naming the key it was sent."""

    def __init__(self, api: str) -> None:
        self.api, self.status, self.seen = api, 400, 0
        self.told: str | None = None  # its `x-should-retry`, when it says one

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        self.seen += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        message = f"request refused ({self.status}) for key {key}:\n\tmessages[0].content is\x1b invalid"
        body = ({"type": "error", "error": {"type": "invalid_request_error", "message": message}}
                if self.api == "anthropic" else {"error": {"message": message, "type": "invalid_request_error"}})
        data = json.dumps(body).encode()
        told = [(b"x-should-retry", self.told.encode())] if self.told is not None else []
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
                    + told})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module", params=["openai", "anthropic"])
def env(request: pytest.FixtureRequest) -> Any:
    ups = [Refusing(request.param), Refusing(request.param)]
    with ServerThread(ups[0]) as a, ServerThread(ups[1]) as b, policy_gateway(
            routed_policy([a.url, b.url], api=request.param, key=UPSTREAM_KEY), KEY) as gw:
        yield request.param, gw, ups


def _call(api: str, gw: Any) -> tuple[Any, list[str]]:
    """One SDK call (one retry allowed), the error it raised and the requests it sent."""
    sent: list[str] = []
    hook = {"request": [lambda r: sent.append(r.url.path)]}
    if api == "openai":
        client: Any = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=1,
                                    http_client=httpx.Client(event_hooks=hook))
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    else:
        import httpx2

        client = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=1,
                                     http_client=httpx2.Client(event_hooks=hook))
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    return caught.value, sent


# (what the two providers answer, whether the SDK's retry can help[, each one's `x-should-retry`]):
# an upstream's own `x-should-retry` decides for its attempt, as it decides for the SDKs (OpenAI's
# and Anthropic's APIs send it; before route30 a 429 or 5xx saying `false` was retried all the same)
ROWS: list[tuple[Any, ...]] = [
    ((400, 400), False), ((401, 403), False), ((404, 422), False),
    ((400, 429), True), ((400, 500), True), ((409, 400), True),
    ((429, 429), False, ("false", "false")), ((500, 503), False, ("false", "False")),
    ((429, 500), True, ("false", None)), ((400, 400), True, ("true", None)), ((429, 400), False, ("false", None))]


def _row_id(row: tuple[Any, ...]) -> str:
    (a, b), *_, told = row if len(row) == 3 else (*row, None)
    return f"{a}-{b}" + (f"-told-{told[0]}-{told[1]}" if told else "")


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_every_provider_refusing_the_request_itself_is_not_retried(env: Any, row: tuple[Any, ...]) -> None:
    statuses, retried, told = row if len(row) == 3 else (*row, (None, None))
    api, gw, ups = env
    for up, status, said in zip(ups, statuses, told):
        up.status, up.seen, up.told = status, 0, said
    error, sent = _call(api, gw)
    assert error.status_code == 503
    assert len(sent) == (2 if retried else 1)
    assert [up.seen for up in ups] == [len(sent)] * 2  # each request went through every provider
    assert (error.response.headers.get("x-should-retry") == "false") is not retried
    message = error.message
    for i, status in enumerate(statuses):  # what each said, on one line, without the key it quoted
        assert f"p{i}:" in message and f"{status} request refused ({status}) for key ***: messages[0].content is invalid" in message
    assert UPSTREAM_KEY not in json.dumps(error.body) and UPSTREAM_KEY not in message
    # the ledger (and the decision log) keep the statuses, never what the answers quoted
    reason = record_of(gw.ledger, error.response.headers["x-aigw-decision-id"])["aigw.reason"]
    assert reason.endswith(f"p0:{'claude-x' if api == 'anthropic' else 'gpt-4o'} (key k0): {statuses[0]}; "
                           f"p1:{'claude-x' if api == 'anthropic' else 'gpt-4o'} (key k1): {statuses[1]}")


@pytest.mark.parametrize(("outcome", "said"), [
    (AttemptOutcome(error="timeout"), "timeout"),
    (AttemptOutcome(status_code=400, body={"error": {"message": "bad\nthing"}}), "400 bad thing"),
    (AttemptOutcome(status_code=529, body={"type": "error", "error": {"type": "overloaded_error",
                                                                      "message": "Overloaded"}}), "529 Overloaded"),
    (AttemptOutcome(status_code=503, body={"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}),
     "503 busy"),
    (AttemptOutcome(status_code=502, body="<html>Bad Gateway</html>"), "502 Bad Gateway"),  # a page: its text
    (AttemptOutcome(status_code=500, body={"message": "plain"}), "500 plain"),
    (AttemptOutcome(status_code=500, body={"error": "just text"}), "500 just text"),
    (AttemptOutcome(status_code=500, body={"error": {"code": 5}}), "500"),
    (AttemptOutcome(status_code=500, body=None), "500"),
    (AttemptOutcome(status_code=500, body={"error": {"message": "x" * 500}}), "500 " + "x" * SAID_CHARS + "..."),
])
def test_what_an_attempt_said(outcome: AttemptOutcome, said: str) -> None:
    assert attempt_said(outcome) == said
