"""ngrok's own Traffic Policy documents type-check against our policy environment.

Every CEL text of ../shared/ngrok/examples (rule expressions, ``bucket_key`` entries and
``${...}`` interpolations in action configs) is parsed and checked with
``env.check_condition``. The only type errors left are real mistakes in ngrok's docs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_policy import cel, env
from aigw_policy.cel.parser import parse
from aigw_policy.template import Interpolation, split_template

from shared_data import NGROK_EXAMPLES as EXAMPLES, require  # noqa: E402

# (file, code, expression): mistakes in ngrok's documentation that a linter should flag
KNOWN_BAD = {
    # `!` binds tighter than `in`: `(!conn.client_ip) in [...]` negates a string
    ("051d13f256da.yaml", "AIGW302", "!conn.client_ip in ['<TESTING_PROVIDER_IP_RANGE>']"),
    # a status code is an int; compared with strings (and the range is empty anyway)
    ("1ad2b617596e.yaml", "AIGW302", "res.status_code < '200' && res.status_code >= '300'"),
}


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def cel_texts(doc: object) -> Iterator[str]:
    """Every CEL expression of an ngrok document (also when nested, as in a k8s resource)."""
    if isinstance(doc, list):
        for item in doc:
            yield from cel_texts(item)
    if not isinstance(doc, dict):
        return
    for phase, rules in doc.items():
        if not (isinstance(phase, str) and phase.startswith("on_")) or not isinstance(rules, list):
            yield from cel_texts(rules)
            continue
        for rule in rules:
            if not isinstance(rule, dict):
                continue
            yield from rule.get("expressions") or []
            for action in rule.get("actions") or []:
                config = action.get("config") or {}
                yield from config.get("bucket_key") or []
                for text in _strings(config):
                    if "${" in text:
                        for part in split_template(text):
                            if isinstance(part, Interpolation):
                                yield part.source


def _files() -> list[Path]:
    require(EXAMPLES)
    return sorted(EXAMPLES.glob("*.yaml"))


def test_every_ngrok_example_type_checks_except_known_mistakes() -> None:
    found = set()
    checked = 0
    for path in _files():
        docs = list(yaml.safe_load_all(path.read_text()))
        for text in cel_texts(docs):
            checked += 1
            for d in env.check_condition(parse(text)):
                found.add((path.name, d.code, text))
    assert checked >= 25
    assert found == KNOWN_BAD


@pytest.mark.parametrize(
    "source",
    [
        "req.url.contains('/api') && req.url.path.startsWith('/api')",
        "'proxy.anonymous.tor' in conn.client_ip.categories",
        "conn.client_ip.geo.location.is_eu && conn.client_ip.as.number == 7922",
        "conn.server_region == 'eu' && conn.ts.start < timestamp(time.now)",
        "req.user_agent.is_bot || req.user_agent.contains('curl')",
        "req.content_type.parameters['charset'] == 'utf-8' && req.content_type == 'text/html'",
        "req.cookies['s'][0].value == 'v' && getReqCookie('s').secure == true",
        "conn.tls.client.subject.common_name == 'x' && 'US' in conn.tls.client.issuer.country",
        "endpoint.port == 443 && endpoint.protocol == 'https'",
        "getReqHeader('X-A').exists(v, v.matches('(?i)bot')) && hasQueryParam('q')",
        "size(getResHeader('Content-Type').filter(v, v.matches('json'))) > 0 && hasResCookie('d')",
        "'hello'.sha256('base64') == hash.sha256('hello', 'base64') && hash.xxhash64('a') != ''",
        "json.decode('{\"a\":1}')['a'] == 1 && ['a'].encodeJson() == '[\"a\"]'",
        "url.parse(req.url).host == 'ngrok.com' && req.url.escapeUrl() != ''",
        "queryString.decode(req.url.query)['q'][0] == 'x' && {'a': 'b'}.encodeQueryString() != ''",
        "basic_auth.encode('u', 'p').startsWith('Basic ') && rand.double() < 1.0 && rand.int(0, 10) >= 0",
        "inCidrRanges(conn.client_ip, ['10.0.0.0/8', 'bad']) || conn.client_ip.isPrivateIp()",
        "has(req.url.port) || req.url.lower() == req.url",
    ],
)
def test_ngrok_names_and_macros_type_check(source: str) -> None:
    assert env.check_condition(parse(source)) == []


def test_overlapping_names_resolve_at_run_time() -> None:
    act = {
        "req.url": "https://x.io/a?q=1",
        "req.url.path": "/a",
        "req.url.query": "q=1",
        "req.url.query_params": {"q": ["1"]},
        "conn.client_ip": "10.1.2.3",
        "conn.client_ip.categories": ["com.openai"],
        "req.headers": {"user-agent": ["curl/8"]},
        "req.cookies": {"s": [{"name": "s", "value": "v"}]},
    }
    cases = {
        "req.url.contains('x.io') && req.url.path == '/a'": True,
        "'com.openai' in conn.client_ip.categories && inCidrRange(conn.client_ip, '10.0.0.0/8')": True,
        "has(req.url.path) && !has(req.url.port)": True,
        "getReqHeader('User-Agent')[0] == 'curl/8' && getReqCookie('s').value == 'v'": True,
        "hasReqCookie('nope') || hasQueryParam('nope')": False,
        "url.parse(req.url).host == 'x.io' && queryString.decode(req.url.query)['q'] == ['1']": True,
        "'hello'.crc32() == '3610a686' && hash.crc64('hello') == '3c3eeee2d8100000'": True,
        "'hello'.xxhash64() == '26c7827d889f6da3' && 'hello'.md5('base64') == 'XUFAKrxLKna5cZ2REBfFkg=='": True,
    }
    for source, want in cases.items():
        assert env.compile_condition(source)(act) is want, source


def test_nested_activation_still_works() -> None:
    prog = env.compile_condition("req.url.path == '/a' && identity.team == 't'")
    assert prog({"req": {"url": {"path": "/a"}}, "identity": {"team": "t"}}) is True
    with pytest.raises(cel.CelError):
        prog({"req": {}})
