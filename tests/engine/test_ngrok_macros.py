"""Every macro of ngrok's reference (https://ngrok.com/docs/traffic-policy/macros), one row
each, evaluated by the engine on a request (not on a hand-made activation): the macro is
declared, type-checks, reads what ngrok reads, and gives ngrok's documented value.
Each row's expression is true for REQUEST; a row that is false or fails says which macro."""

from __future__ import annotations

import json

import pytest

import aigw_policy as ap

REQUEST = {
    "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "66.249.66.7"},
    "request": {"method": "GET", "url": "https://ngrok.com/foo?q=hello", "headers": {
        "cookie": "session=abc", "x-json-array": '["first entry"]', "user-agent": "Google-Images/1.0",
        "content-type": "application/json; charset=UTF-8", "content-encoding": "br", "X-Version-Id": "7"}},
    "response": {"status_code": 200, "headers": {"content-type": "application/json",
                                                 "set-cookie": "_device_id=mobile-phone-14; Path=/"}, "body": {}},
}
REQUEST_ROWS = [
    "base64.decode('aGVsbG8=') == b'hello' && base64.encode(b'hello') == 'aGVsbG8='",
    # the former names, string to string (ngrok's utility macros page, before `base64.*`:
    # "b64.decode(string) string", "b64.encode(string) string"; still on its TPU pricing page,
    # https://ngrok.com/docs/pricing-limits/traffic-policy-unit-pricing, August 2026)
    "b64.decode('aGVsbG8=') == 'hello' && b64.encode('hello') == 'aGVsbG8=' && b64.decode(b64.encode('é')) == 'é'",
    "b'abc'.size() == 3 && size(b'abc') == 3",
    "basic_auth.encode('username', 'password1') == 'Basic dXNlcm5hbWU6cGFzc3dvcmQx'",
    "getReqCookie('session').value == 'abc' && hasReqCookie('session')",
    "getReqHeader('User-Agent').exists(v, v.matches('(?i)google-images'))",
    "size(getQueryParam('q')) == 1 && hasQueryParam('q') && !hasQueryParam('p')",
    "hasReqHeader('X-Version-Id')",
    "hash.crc32('hello') == '3610a686' && 'hello'.crc32() == '3610a686'",
    "hash.md5('hello') == '5d41402abc4b2a76b9719d911017c592' && 'hello'.md5('base64') == 'XUFAKrxLKna5cZ2REBfFkg=='",
    "hash.sha1('hello') == 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'",
    "hash.sha256('hello') == '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'",
    "hash.sha512('a').startsWith('1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53')",
    "hash.crc64('hello') == '3c3eeee2d8100000' && hash.xxhash64('') == 'ef46db3751d8e999'",
    "json.decode(getReqHeader('x-json-array')[0])[0] == 'first entry'",
    "json.encode(req.content_type.parameters) == '{\"charset\":\"UTF-8\"}'",
    "[1, 2].encodeJson() == '[1,2]' && {'a': 1}.encodeJson() == '{\"a\":1}'",
    "[1, 2].all(x, x > 0) && [1, 2].exists(x, x == 2) && [1, 2].exists_one(x, x == 2)",
    "[1, 2, 3].filter(x, x > 1) == [2, 3] && ['a', 'b'].join() == 'ab' && ['a', 'b'].join(',') == 'a,b'",
    "[1, 2, 3].map(x, x * 2) == [2, 4, 6] && [1, 2, 3].map(x, x > 1, x * 2) == [4, 6]",
    "[1, 2, 3].size() == 3 && size([1]) == 1 && [1, 2, 3].slice(1, 2) == [2]",
    "[[1], [2, [3]]].flatten() == [1, 2, [3]] && [[1], [2, [3]]].flatten(2) == [1, 2, 3]",
    "[3, 1, 2].sort() == [1, 2, 3] && ['bb', 'a'].sortBy(x, size(x)) == ['a', 'bb']",
    "[1, 1, 2].distinct() == [1, 2] && lists.range(3) == [0, 1, 2]",
    "{'a': 1}.all(k, k == 'a') && {'a': 1}.exists(k, k == 'a') && {'a': 1}.exists_one(k, k == 'a')",
    "{'a': 'b'}.encodeQueryString() == 'a=b' && {'a': 1}.filter(k, k == 'a') == ['a']",
    "{'a': 1}.map(k, k + 'x') == ['ax'] && {'a': 1}.size() == 1 && size({'a': 1}) == 1",
    "queryString.decode(req.url.query)['q'] == ['hello'] && queryString.encode({'q': 'hello'}) == req.url.query",
    "rand.double() >= 0.0 && rand.double() < 1.0 && rand.int() in [0, 1] && rand.int(0, 10) <= 10",
    "matches('abc', 'a.c') && 'abc'.matches('^a') && 'abc'.startsWith('a') && 'abc'.endsWith('c')",
    "'abc'.contains('b') && 'abc'.charAt(1) == 'b' && 'abc'.size() == 3 && 'abca'.indexOf('a', 1) == 3",
    "'%s-%d'.format(['a', 1]) == 'a-1' && 'abca'.lastIndexOf('a') == 3 && 'abca'.lastIndexOf('a', 2) == 0",
    "'a,b,c'.split(',') == ['a', 'b', 'c']",
    # a count keeps the first n parts, as ngrok documents ('hello,mellow,hi'.split(',', 2) is
    # ['hello', 'mellow']) and its multiplexing example reads a subdomain (host.split('.', 1)[0])
    "'hello mellow'.split(' ', 1) == ['hello'] && 'hello,mellow,hi'.split(',', 2) == ['hello', 'mellow']",
    "'user1.example.com'.split('.', 1)[0] == 'user1' && 'a,b'.split(',', 5) == ['a', 'b']",
    "'a,b,c'.split(',', -1) == ['a', 'b', 'c'] && 'a,b'.split(',', 0) == [] && 'abc'.split('', 2) == ['a', 'b']",
    "'aaa'.replace('a', 'b') == 'bbb' && 'aaa'.replace('a', 'b', 2) == 'bba'",
    "'aGk='.decodeBase64() == 'hi' && 'hi'.encodeBase64() == 'aGk='",
    "'{\"a\":1}'.decodeJson().a == 1 && '{}'.isJson() && !'{'.isJson()",
    "'a=b'.decodeQueryString().a == ['b'] && 'a=b'.isQueryString()",
    # the same checks as functions, as ngrok's HTTP macros page lists them
    # (https://ngrok.com/docs/traffic-policy/macros/http: "isQueryString(string) bool",
    # "isUrl(string) bool", "isJson(string) bool")
    "isJson('{}') && !isJson('{') && isQueryString('a=b') && isUrl('https://x') && !isUrl('x')",
    # Go's url.QueryEscape / QueryUnescape: the page's `i;md/r/$y` -> `i%3Bmd%2Fr%2F%24y` escapes
    # the `$` (PathEscape keeps it), so a space is `+`
    "'a b'.escapeUrl() == 'a+b' && 'a%20b'.unescapeUrl() == 'a b' && 'a+b'.unescapeUrl() == 'a b'",
    "url.escape('i;md/r/$y') == 'i%3Bmd%2Fr%2F%24y' && 'i%3Bmd%2Fr%2F%24y'.unescapeUrl() == 'i;md/r/$y'",
    "'10.0.0.1'.isPrivateIp() && !'8.8.8.8'.isPrivateIp() && 'https://x'.isURL() && !'x'.isURL()",
    "'AB'.lower() == 'ab' && 'ab'.upper() == 'AB' && 'AB'.lowerAscii() == 'ab' && 'ab'.upperAscii() == 'AB'",
    # ngrok's lower()/upper() map each character alone, as Go's strings.ToLower/ToUpper do:
    # no two-character results (İ, ß, ﬁ), no final-sigma rule
    "'İSTANBUL'.lower() == 'istanbul' && 'ΟΔΟΣ'.lower() == 'οδοσ' && 'straße'.upper() == 'STRAßE'",
    "'ﬁx'.upper() == 'ﬁX' && 'ᾳ'.upper() == 'ᾼ' && 'ÄRGER, ÉCOLE'.lower() == 'ärger, école'",
    "'https://a.com/x?y=1'.parseUrl().host == 'a.com' && url.parse(req.url).host == 'ngrok.com'",
    "'abc'.substring(1) == 'bc' && 'abc'.substring(1, 2) == 'b' && ' a '.trim() == 'a' && 'abc'.reverse() == 'cba'",
    "strings.quote('a\"b') == '\"a\\\\\"b\"'",
    "timestamp(time.now).getDate() == 26 && timestamp(time.now).getDayOfMonth() == 25",
    "timestamp(time.now).getDayOfWeek() == 4 && timestamp(time.now).getDayOfYear() == 329",
    "timestamp(time.now).getFullYear() == 2026 && timestamp(time.now).getMonth() == 10",
    "timestamp(time.now).getHours() == 12 && timestamp(time.now).getHours('America/New_York') == 7",
    "timestamp(time.now).getMinutes() == 0 && timestamp(time.now).getSeconds() == 0 && timestamp(time.now).getMilliseconds() == 0",
    "duration('1h').getHours() == 1 && duration('90s').getMinutes() == 1 && duration('1500ms').getMilliseconds() == 500",
    "url.escape('/foo') == '%2Ffoo' && url.unescape('%2Ffoo') == '/foo'",
    "inCidrRange(conn.client_ip, '66.249.66.1/24') && inCidrRanges(conn.client_ip, ['66.249.66.1/24', '2001:4860::/32'])",
    "has(req.url.path) && !has(req.url.port)",
    # ngrok's `split()` with no separator: words between runs of white space (Go's strings.Fields)
    "'hello mellow'.split() == ['hello', 'mellow'] && ' a\\tb\\n\\u00a0c '.split() == ['a', 'b', 'c']",
    "''.split() == [] && 'a\\x1cb'.split() == ['a\\x1cb'] && 'a,b'.split(',') == ['a', 'b']",
    # decodeBase64 reads padded or unpadded text, as base64.decode does
    "'YQ'.decodeBase64() == 'a' && 'YQ=='.decodeBase64() == 'a' && 'c29tZTp0aGluZw=='.decodeBase64() == 'some:thing'",
]
ERROR_ROWS = [
    "url.unescape('100%') == '100%'",  # Go's QueryUnescape: "invalid URL escape"
    "'%zz'.unescapeUrl() == '%zz'",
    "'YQ='.decodeBase64() == 'a'",  # a partial padding: neither form (base64.decode('YQ=') fails too)
    "'YQ=Y'.decodeBase64() == 'a'",
    "'/w=='.decodeBase64() == 'a'",  # not UTF-8 text
    "'YQ..'.decodeBase64() == 'a'",  # Go pads with `=` only (base64.decode also takes cel-cpp's `.`)
]
RESPONSE_ROWS = [
    "getResCookie('_device_id').value == 'mobile-phone-14' && hasResCookie('_device_id')",
    "size(getResHeader('Content-Type').filter(v, v.matches('application/json'))) > 0 && hasResHeader('Content-Type')",
]


def _holds(phase: str, expression: str) -> int:
    rule = {"expressions": [expression], "actions": [{"type": "custom-response", "config": {"status_code": 299}}]}
    engine = ap.Engine(ap.loads(json.dumps({phase: [rule]}), format="json"))
    return engine.evaluate(REQUEST).status_code


@pytest.mark.parametrize("expression", REQUEST_ROWS)
def test_request_macro(expression: str) -> None:
    assert _holds("on_http_request", expression) == 299


@pytest.mark.parametrize("expression", RESPONSE_ROWS)
def test_response_macro(expression: str) -> None:
    assert _holds("on_http_response", expression) == 299


@pytest.mark.parametrize("expression", ERROR_ROWS)
def test_request_macro_fails(expression: str) -> None:
    assert _holds("on_http_request", expression) == 500  # a CEL error: the rule fails closed
