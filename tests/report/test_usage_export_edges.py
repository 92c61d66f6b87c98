"""A provider usage export whose values are not what they look like: every one is AIGW800 at
its line, never a traceback (found by feeding `reconcile` odd exports)."""

from __future__ import annotations

import pytest

from aigw_policy.report.provider_usage import UsageExportError, parse_usage_export

HEAD = "start_time,end_time,input_tokens,output_tokens\n"


@pytest.mark.parametrize(("text", "where", "words"), [
    (HEAD + "1,2,3,4\n99999999999999999999,2,3,4\n", "x:3:", "past the year 9999"),  # OverflowError
    (HEAD + "1,2,3,4\n1,2,8\u00b2,4\n", "x:3:", "non-negative integer"),  # "²".isdigit() is true
    (HEAD + "1,2,3,4\n1,\u00b9,3,4\n", "x:3:", "Unix seconds"),
    (HEAD + "1,2,3,4\n5,5,3,4\n", "x:3:", "must end after it starts"),
    (HEAD + "1,2,3,4\n9,5,3,4\n", "x:3:", "must end after it starts"),
    ('{"data": [\n {"start_time": 1, "end_time": 2, "results": []},\n {"start_time": 7, "end_time": 3, "results": []}]}',
     "x:3:", "must end after it starts"),
    ('{"data": [\n {"starting_at": "0001-01-01T00:00:00+01:00", "ending_at": "2026-01-01T00:00:00Z", "results": []}]}',
     "x:2:", "RFC 3339"),  # leaves the years 1-9999 in UTC
    ('{"data": [\n {"start_time": 1e400, "end_time": 2, "results": []}]}', "x:2:", "Unix seconds"),
    ('{"data": [\n {"start_time": 1' + "1" * 5000 + ', "end_time": 2, "results": []}]}', "x:2:",
     "a number too long to read"),  # past Python's 4,300 digits
    (HEAD + "1,2,3,4\n1,2," + "9" * 5000 + ",4\n", "x:3:", "not '9999"),
])
def test_an_odd_value_is_aigw800_at_its_line(text: str, where: str, words: str) -> None:
    with pytest.raises(UsageExportError) as bad:
        parse_usage_export(text, "x")
    assert bad.value.code == "AIGW800"
    assert str(bad.value).startswith(where) and words in str(bad.value), str(bad.value)
    assert len(str(bad.value)) < 200  # a value is quoted short
