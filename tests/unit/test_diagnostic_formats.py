import json

from aigw_policy.diagnostics import Diagnostic, PolicyError, sort_diagnostics
from aigw_policy.diagnostic_formats import diagnostics_json, diagnostics_sarif, diagnostics_text
from aigw_policy.source import Source

TEXT = "policy {\n  on request {\n    rule { dney 403 }\n  }\n}\n"
SOURCE = Source(TEXT, "p.aigw")


def diag(code="AIGW110", start=18, end=22, help="did you mean `deny`?"):
    return Diagnostic.make(code, "unknown action type `dney`", SOURCE.span(start, end), help)


def test_span_positions():
    span = SOURCE.span(TEXT.index("dney"), TEXT.index("dney") + 4)
    assert (span.line, span.column, span.end_line, span.end_column) == (3, 12, 3, 16)
    assert str(span) == "p.aigw:3:12"


def test_text_shows_line_underline_and_help():
    start = TEXT.index("dney")
    out = diagnostics_text([diag(start=start, end=start + 4)], {"p.aigw": SOURCE})
    assert out.splitlines() == [
        "error[AIGW110]: unknown action type `dney`",
        "  --> p.aigw:3:12",
        "  |",
        "3 |     rule { dney 403 }",
        "  |            ^^^^",
        "  = help: did you mean `deny`?",
    ]


def test_json_has_codes_spans_and_summary():
    data = json.loads(diagnostics_json([diag(), diag("AIGW132", 0, 1, None)]))
    assert [d["code"] for d in data["diagnostics"]] == ["AIGW110", "AIGW132"]
    assert data["diagnostics"][0]["span"]["line"] == 2
    assert data["summary"] == {"errors": 1, "warnings": 1, "total": 2}


def test_sarif_is_2_1_0_with_rules_and_regions():
    log = json.loads(diagnostics_sarif([diag()]))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["AIGW110"]
    result = run["results"][0]
    assert result["ruleId"] == "AIGW110" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (2, 10)
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p.aigw"


def test_sorting_dedupes_and_orders_by_position():
    a, b = diag(start=30, end=31), diag(start=2, end=3)
    assert sort_diagnostics([a, b, a]) == [b, a]


def test_policy_error_is_never_empty():
    import pytest

    with pytest.raises(ValueError):
        PolicyError([])
    error = PolicyError([diag(), diag(start=1, end=2)])
    assert "(and 1 more)" in str(error)
