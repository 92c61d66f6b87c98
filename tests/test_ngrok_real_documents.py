"""What real ngrok Traffic Policy documents showed, each defect class as a minimal document of
our own (``data/ngrok_real``), and how the documents behave once loaded.

A fixture names its expectations in leading comment lines, as ``data/broken`` does
(``# expect: AIGW111 10:15``, ``# absent: AIGW400``, ``# help: text``); a JSON document
has them in a sidecar ``NAME.expect``. Every fixture is read and linted by the CLI without a
traceback, and every diagnostic has a code and a line:column.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aigw_policy as ap
from aigw_policy.analysis import LintOptions
from aigw_policy.cli import app
from aigw_policy.codes import CODES

DATA = Path(__file__).parent / "data" / "ngrok_real"
CASES = sorted(p for p in DATA.iterdir() if p.suffix in (".yaml", ".json"))
EXPECT = re.compile(r"^#\s*expect:\s*(AIGW\d{3})\s+(\d+):(\d+)\s*$")
ABSENT = re.compile(r"^#\s*absent:\s*(AIGW\d{3})\s*$")
HELP = re.compile(r"^#\s*help:\s*(.+?)\s*$")


def _header(path: Path) -> list[str]:
    sidecar = path.with_name(path.name + ".expect")
    return (sidecar if sidecar.exists() else path).read_text().splitlines()


def _all(pattern: re.Pattern[str], path: Path) -> list[re.Match[str]]:
    return [m for line in _header(path) if (m := pattern.match(line))]


def test_there_are_cases() -> None:
    assert len(CASES) >= 10 and {p.suffix for p in CASES} == {".yaml", ".json"}
    for path in CASES:
        assert _all(EXPECT, path) or _all(ABSENT, path), f"{path.name} checks nothing"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_document_gives_what_it_names(path: Path) -> None:
    _, found = ap.read(path.read_text(), name=path.name, cache_dir=None)
    shown = "\n".join(str(d) for d in found)
    for d in found:
        assert d.code in CODES and d.span is not None and d.span.line >= 1 and d.span.column >= 1, shown
    got = {(d.code, d.span.line, d.span.column) for d in found if d.span}
    for m in _all(EXPECT, path):
        assert (m[1], int(m[2]), int(m[3])) in got, f"missing {m[1]} {m[2]}:{m[3]}; got:\n{shown}"
    for m in _all(ABSENT, path):
        assert m[1] not in {d.code for d in found}, f"unexpected {m[1]}; got:\n{shown}"
    helps = [d.help or "" for d in found]
    for m in _all(HELP, path):
        assert any(m[1] in h for h in helps), f"no help says {m[1]!r}; got:\n{helps}"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_cli_lint_never_crashes(path: Path) -> None:
    result = CliRunner().invoke(app, ["lint", "--format", "json", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    json.loads(result.output)


def _request(headers: dict[str, str] | None = None, conn: dict[str, object] | None = None,
             url: str = "https://api.example.com/v1/items") -> dict[str, object]:
    return {"id": "r1", "now": "2026-11-26T12:00:00Z",
            "conn": {"client_ip": "203.0.113.7", **(conn or {})},
            "request": {"method": "GET", "url": url, "headers": headers or {}}}


def test_a_header_function_condition_decides_at_run_time() -> None:
    engine = ap.Engine(ap.load(DATA / "header-function-condition.yaml"))
    denied = engine.evaluate(_request())
    assert (denied.verdict, denied.status_code) == ("deny", 404)
    welcomed = engine.evaluate(_request({"X-Team-Key": "k1"}, url="https://a.example/?preview=1"))
    assert welcomed.status_code == 200 and welcomed.rule == "#3"


def test_pod_and_ip_flags_are_filled_from_the_request() -> None:
    engine = ap.Engine(ap.load(DATA / "pod-identity-and-ip-flags.yaml"))
    tor = engine.evaluate(_request(conn={"client_ip.is_tor_node": True,
                                         "client_ip.is_on_blocklist": False}))
    assert tor.verdict == "deny"
    pod = {"k8s": {"pod": {"id": "uid-1", "metadata": {
        "name": "worker-a", "namespace": "shop", "error_code": "",
        "annotations": {"k8s.ngrok.com/tier": "free"}}}},
        "client_ip.is_tor_node": False, "client_ip.is_on_blocklist": False}
    blocked = engine.evaluate(_request(conn=pod))
    assert blocked.status_code == 403 and blocked.rule == "#2"


def test_one_regex_comprehension_is_within_the_default_maximum_and_nesting_is_not() -> None:
    _, found = ap.read((DATA / "regex-per-header-value.yaml").read_text(), cache_dir=None)
    assert "AIGW310" not in {d.code for d in found}
    nested = ('on_http_request:\n  - expressions:\n      - "getReqHeader(\'a\').exists(x, '
              'getReqHeader(\'b\').exists(y, x.matches(y)))"\n    actions: [{type: deny}]\n')
    _, found = ap.read(nested, cache_dir=None)
    assert "AIGW310" in {d.code for d in found}
    _, found = ap.read((DATA / "regex-per-header-value.yaml").read_text(), cache_dir=None,
                       options=LintOptions(max_cost=100_000_000))
    assert "AIGW310" in {d.code for d in found}  # the maximum stays configurable
    # the command line and the language server use the same default, and the option still works
    linted = CliRunner().invoke(app, ["lint", "--format", "json", str(DATA / "regex-per-header-value.yaml")])
    assert "AIGW310" not in linted.output, linted.output
    capped = CliRunner().invoke(app, ["lint", "--format", "json", "--max-cost", "100000000",
                                      str(DATA / "regex-per-header-value.yaml")])
    assert "AIGW310" in capped.output, capped.output


def test_a_skipped_phase_with_only_known_actions_still_loads() -> None:
    policy = ap.loads("on_tcp_connect:\n  - actions: [{type: restrict-ips, config: {allow: "
                      "[10.0.0.0/8]}}]\non_http_request:\n  - actions: [{type: deny}]\n")
    assert len(policy.on_http_request) == 1


def test_unsupported_actions_in_a_skipped_phase_refuse_the_load() -> None:
    with pytest.raises(ap.PolicyError) as info:
        ap.load(DATA / "stream-phase-action.yaml")
    assert any("sse-find-replace" in d.message for d in info.value.diagnostics)


# real documents that load, and what one request gets from each (file, request, status, rule)
DECISIONS = [
    ("k8s-cloud-endpoint.yaml", _request(), 503, "#1"),
    ("k8s-agent-endpoint-inline.yaml", _request(), 200, None),
    ("k8s-ngrok-traffic-policy.yaml", _request(), 200, None),
    ("agent-config-v3.yaml", _request(), 200, "#1"),
    ("k8s-manifest-policy-and-endpoint.yaml", _request(), 200, "example-rule"),
    ("deprecated-phase-names.yaml", {**_request(), "request": {"method": "DELETE", "url": "https://a.example/"}},
     403, "#1"),
    ("custom-response-content.yaml", _request(), 503, "#1"),
    ("duplicate-rule-names.json", _request(url="https://a.example/test-service-1/x"), 404, "Fallback-404"),
    # a policy held as a string by an ngrok API object, and the Edge-era policy modules
    ("api-endpoint-policy-string.json", _request(), 405, "#1"),
    ("api-endpoint-list.json", _request(), 503, "#1"),
    ("edge-traffic-policy-module.json", _request(url="https://a.example/admin/users"), 404, "#1"),
    ("edge-traffic-policy-module.json", _request(url="https://a.example/v1/items"), 200, None),
    ("edge-policy-module-switch.json", _request({"X-Api-Version": "1"}), 410, "old clients"),
    ("k8s-tcp-edge.yaml", _request(conn={"client_ip": "192.0.2.9"}), 200, None),  # connect rules only
    ("k8s-ngrok-module-set.yaml", {**_request(), "request": {"method": "TRACE", "url": "https://a.example/"}},
     403, "#1"),
    # an HTTPS Edge's route policy: the Kubernetes resource and the API object
    ("https-edge-route-policy.yaml", {**_request(), "request": {"method": "POST", "url": "https://a.example/"}},
     405, "only-get"),
    ("https-edge-route-policy.yaml", _request(), 200, None),
    ("forward-internal-binding.yaml", _request(url="https://a.example/api/x"), 200, "#1"),
    ("forward-internal-binding.yaml", _request(url="https://a.example/"), 200, "#2"),
    ("endpoint-definition-policy.json", {**_request(), "request": {"method": "DELETE", "url": "https://a.example/"}},
     405, "no-deletes"),
    ("endpoint-definitions-list.json", {**_request(), "request": {"method": "PUT", "url": "https://a.example/"}},
     405, "#1"),
    ("operator-translator-testdata.yaml", _request(), 404, "Fallback-404"),
    ("agent-config-v2-tunnel.yaml", {**_request(), "request": {"method": "DELETE", "url": "https://a.example/"}},
     405, "#1"),
    ("agent-config-v2-tcp-tunnel-policy.yaml", _request(), 200, None),  # connect rules only
    ("api-https-edge-route-policy.json", {**_request(), "request": {"method": "PUT", "url": "https://a.example/"}},
     405, "only-get"),
    ("k8s-endpoint-inline-beside-policy.yaml", _request(), 404, "Fallback-404"),  # not `policy`'s deny
    ("k8s-manifest-endpoint-names-one-of-two.yaml", {**_request(), "request": {"method": "PUT", "url":
     "https://a.example/"}}, 405, "only-get"),  # the named policy, not `maintenance`'s 503
    ("k8s-manifest-ingress-names-one-of-two.yaml", {**_request(), "request": {"method": "PUT", "url":
     "https://a.example/"}}, 405, "only-get"),
]


@pytest.mark.parametrize(("name", "request_", "status", "rule"), DECISIONS,
                         ids=[f"{d[0]}-{d[2]}" for d in DECISIONS])
def test_a_real_document_decides(name: str, request_: dict[str, object], status: int, rule: str | None) -> None:
    decision = ap.Engine(ap.load(DATA / name)).evaluate(request_)
    assert (decision.status_code, decision.rule) == (status, rule)
    explained = CliRunner().invoke(app, ["explain", "--format", "json", "--policy", str(DATA / name), "-"],
                                   input=json.dumps(request_))
    assert json.loads(explained.output)["status_code"] == status, explained.output


def test_the_former_body_key_answers_with_its_text() -> None:
    decision = ap.Engine(ap.load(DATA / "custom-response-content.yaml")).evaluate(_request())
    assert decision.to_dict()["effects"] == {} and "Back soon" in str(decision.to_dict())


def test_a_finding_inside_a_policy_string_names_its_place_in_the_string() -> None:
    _, found = ap.read((DATA / "api-endpoint-policy-string-typo.json").read_text(), name="t.json",
                       cache_dir=None)
    typo = next(d for d in found if d.code == "AIGW103")
    assert "`expresions`" in typo.message and "(line 1, column 23 of the policy in `traffic_policy`)" in typo.message
    assert (typo.span.line, typo.span.file) == (5, "t.json")


def test_a_key_with_a_template_is_refused_and_masked_in_the_excerpt() -> None:
    result = CliRunner().invoke(app, ["lint", str(DATA / "ai-gateway-key-templates.yaml")])
    assert result.exit_code == 1 and "AIGW148" in result.output
    assert "1234567890abcdef" not in result.output, result.output


@pytest.mark.parametrize(("start", "status"), [
    ("2026-11-26T11:59:00Z", 418),  # RFC 3339 text, JSON's form of a timestamp
    ("2026-11-26T12:59:00+01:00", 418),
    ("2026-11-26T12:00:30Z", 200),  # later than the bound: false
    ("yesterday", 500),  # not a timestamp: no overload takes it, the rule fails closed
])
def test_a_timestamp_variable_given_as_text_in_request_json(start: str, status: int) -> None:
    policy = ("on_http_request:\n  - expressions: [\"conn.ts.start < timestamp('2026-11-26T12:00:01Z')\"]\n"
              "    actions: [{type: deny, config: {status_code: 418}}]\n")
    request_ = _request(conn={"ts": {"start": start}})
    assert ap.Engine(ap.loads(policy)).evaluate(request_).status_code == status


def test_an_api_object_without_a_policy_is_one_finding() -> None:
    _, found = ap.read((DATA / "api-edge-route-no-policy.json").read_text(), name="r.json", cache_dir=None)
    assert [d.code for d in found] == ["AIGW100"] and "API object" in found[0].message, found


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_convert_says_what_it_leaves_out(path: Path) -> None:
    """`convert` writes the policy alone: a skipped phase's rules (AIGW102) and what wraps an
    ngrok policy (AIGW105) are not in its output, and it says so on stderr (it said nothing);
    what it writes reads back as the same policy."""
    policy, found = ap.read(path.read_text(), name=path.name, cache_dir=None)
    if policy is None or any(d.is_error for d in found):
        return
    result = CliRunner().invoke(app, ["convert", "--to", "yaml", str(path)])
    assert result.exit_code == 0, result.output
    left_out = {d.code for d in found} & {"AIGW102", "AIGW105"}
    assert {c for c in ("AIGW102", "AIGW105") if f"[{c}]" in result.stderr} == left_out, result.stderr
    from aigw_policy.syntax.yaml_form import dump_yaml

    assert result.stdout == dump_yaml(policy)
