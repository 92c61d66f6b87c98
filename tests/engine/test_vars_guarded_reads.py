"""AIGW404 for a variable set under a condition (and AIGW402 for a limit run under one): a read whose rule tests that same condition
first runs only where the variable was set, so it is no warning, unless an action between
could change what the condition reads. ngrok's operator writes such policies for every
weighted HTTPRoute (its translator test data ``gwapi-httproute-weighted-routes-with-rewrite``,
https://github.com/ngrok/ngrok-operator/blob/main/pkg/managerdriver/testdata/translator/),
as does ngrok's migration guide (https://ngrok.com/docs/guides/migration/edges-to-endpoints).

Each row: a document, the lines AIGW404 names, and requests that must not fail a rule
(for a quiet row, the engine agrees: no request reads the variable unset).
"""

from __future__ import annotations

import pytest

import aigw_policy as ap

SET = """on_http_request:
  - expressions:
      - {guard}
    actions:
      - type: set-vars
        config:
          vars:
            - pick: ${{rand.int(0, 9)}}
{between}  - expressions:
{reader}    actions:
      - type: custom-response
        config:
          status_code: 200
          body: "picked ${{vars.pick}}"
"""
NOTHING = ""
REWRITE = """  - actions:
      - type: url-rewrite
        config:
          from: /a/
          to: /b/
"""
ADD_HEADER = """  - actions:
      - type: add-headers
        config:
          headers:
            x-flag: "on"
"""
RATE_LIMIT = """  - actions:
      - type: rate-limit
        config:
          name: all
          capacity: 100
          rate: 60s
          bucket_key: [conn.client_ip]
"""
RESET = """  - actions:
      - type: set-vars
        config:
          vars:
            - original_path: /elsewhere
"""
PATH = "req.url.path.startsWith('/a/')"
VAR = "vars.original_path.startsWith('/a/')"
FLAG = "getReqHeader('x-flag').size() == 0"
PICK = '"int(vars.pick) <= 4"'
FIRST = """  - actions:
      - type: set-vars
        config:
          vars:
            - original_path: ${req.url.path}
"""


def _doc(guard: str, between: str, reader: list[str], first: str = NOTHING) -> str:
    lines = "".join(f"      - {r}\n" for r in reader)
    body = SET.format(guard=f'"{guard}"', between=between, reader=lines)
    return body.replace("on_http_request:\n", "on_http_request:\n" + first, 1)


ROWS = [
    # the reader repeats the setter's condition before it reads: set wherever it is read
    ("same-condition", _doc(PATH, NOTHING, [f'"{PATH}"', PICK]), []),
    ("same-condition-config-only", _doc(PATH, NOTHING, [f'"{PATH}"']), []),
    ("condition-on-a-var-past-a-rewrite", _doc(VAR, REWRITE, [f'"{VAR}"', PICK], FIRST), []),
    ("path-condition-past-a-rate-limit", _doc(PATH, RATE_LIMIT, [f'"{PATH}"', PICK]), []),
    ("condition-on-a-var-past-a-header", _doc(VAR, ADD_HEADER, [f'"{VAR}"', PICK], FIRST), []),
    # not guarded: read before the condition, without it, or past a change of what it reads
    ("read-before-the-condition", _doc(PATH, NOTHING, [PICK, f'"{PATH}"']), [10]),
    ("no-condition", _doc(PATH, NOTHING, [PICK]), [10, 15]),
    ("path-condition-past-a-rewrite", _doc(PATH, REWRITE, [f'"{PATH}"', PICK]), [16, 21]),
    ("header-condition-past-add-headers", _doc(FLAG, ADD_HEADER, [f'"{FLAG}"', PICK]), [16, 21]),
    ("var-condition-past-a-set-vars", _doc(VAR, RESET, [f'"{VAR}"', PICK], FIRST), [21, 26]),
]


def _warned(text: str) -> list[int]:
    _, found = ap.read(text, name="p.yaml", cache_dir=None)
    assert not [d for d in found if str(d.severity) == "Severity.ERROR"], found
    return sorted(d.span.line for d in found if d.code == "AIGW404" and "vars.pick" in d.message)


@pytest.mark.parametrize(("text", "lines"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_read_behind_the_setting_condition_is_no_warning(text: str, lines: list[int]) -> None:
    assert _warned(text) == lines


LIMIT = """on_http_request:
  - expressions:
      - {guard}
    actions:
      - type: rate-limit
        config:
          name: api
          capacity: 2
          rate: 60s
          bucket_key: [conn.client_ip]
{between}  - expressions:
{reader}    actions:
      - type: add-headers
        config:
          headers:
            x-left: "${{string(limits['api'].remaining)}}"
"""
LOW = "\"limits['api'].remaining < 1.0\""
LIMIT_ROWS = [
    ("limit-same-condition", LIMIT.format(guard=f'"{PATH}"', between="", reader=f'      - "{PATH}"\n      - {LOW}\n'), []),
    ("limit-no-condition", LIMIT.format(guard=f'"{PATH}"', between="", reader=f"      - {LOW}\n"), [12, 17]),
    ("limit-read-before-the-condition",
     LIMIT.format(guard=f'"{PATH}"', between="", reader=f'      - {LOW}\n      - "{PATH}"\n'), [12]),
    ("limit-past-a-rewrite", LIMIT.format(guard=f'"{PATH}"', between=REWRITE, reader=f'      - "{PATH}"\n      - {LOW}\n'),
     [18, 23]),
]


@pytest.mark.parametrize(("text", "lines"), [r[1:] for r in LIMIT_ROWS], ids=[r[0] for r in LIMIT_ROWS])
def test_a_limit_read_behind_the_limits_condition_is_no_warning(text: str, lines: list[int]) -> None:
    _, found = ap.read(text, name="p.yaml", cache_dir=None)
    assert not [d for d in found if str(d.severity) == "Severity.ERROR"], found
    assert sorted(d.span.line for d in found if d.code == "AIGW402") == lines, found


def _quiet() -> list[tuple[str, str, list[int]]]:
    return [r for r in ROWS + LIMIT_ROWS if not r[2]]


@pytest.mark.parametrize("text", [r[1] for r in _quiet()], ids=[r[0] for r in _quiet()])
def test_the_engine_never_reads_the_variable_unset_where_lint_is_quiet(text: str) -> None:
    engine = ap.Engine(ap.loads(text))
    for path in ("/a/x", "/b/x", "/"):
        decision = engine.evaluate({"id": "r", "now": "2026-12-07T12:00:00Z", "conn": {"client_ip": "192.0.2.1"},
                                    "request": {"method": "GET", "url": f"https://h.example{path}", "headers": {}}})
        assert decision.status_code == 200 and not decision.to_dict()["errors"], decision.to_dict()
