"""The on-disk program cache (content hash + engine version) and the line -> span map."""

from __future__ import annotations

import os
import traceback

import pytest

from aigw_policy import cel, env
from aigw_policy.cel import cache

SRC = "ai.prompt.matches('(?i)secret') || 18446744073709551615u > 1u && type(1) == int && ai.model in ['a', 'b']"


def test_a_program_reloads_from_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = env.compile_condition(SRC, cache_dir=tmp_path)
    files = [f for f in os.listdir(tmp_path) if f.endswith(".celc")]
    assert len(files) == 1 and cache.engine_version() in files[0]
    cel.clear_cache()
    again = env.compile_condition(SRC, cache_dir=tmp_path)
    assert again is not first and again.python_source == first.python_source
    assert str(again.type) == "bool" and again.line_spans == first.line_spans
    act = {"ai.prompt": "my SECRET", "ai.model": "z"}
    assert again(act) is first(act) is True
    assert again({"ai.prompt": "x", "ai.model": "b"}) is True


def test_unwritable_or_corrupt_cache_is_only_a_miss(tmp_path) -> None:  # type: ignore[no-untyped-def]
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert cel.compile("1 + 1", {}, cache_dir=not_a_dir)({}) == 2
    cel.compile("2 + 2", {}, cache_dir=tmp_path)
    for f in os.listdir(tmp_path):
        (tmp_path / f).write_bytes(b"garbage")
    cel.clear_cache()
    assert cel.compile("2 + 2", {}, cache_dir=tmp_path)({}) == 4


def test_errors_map_back_to_the_cel_span() -> None:
    src = "x + 1 > 0 && [1, 2][x] == 1"
    prog = cel.compile(src, {"x": "int"})
    with pytest.raises(cel.CelError) as info:
        prog({"x": 5})
    start, end = info.value.span  # type: ignore[attr-defined]
    assert src[start:end] == "[1, 2][x]"
    # the same from a Python traceback: its generated frames name lines of the map
    lines = [fr.lineno for fr in traceback.extract_tb(info.value.__traceback__) if fr.filename == prog.filename]
    assert any(prog.span_at(n) == (start, end) for n in lines)


def test_error_span_inside_a_macro() -> None:
    src = "l.all(v, 10 / v > 0)"
    prog = cel.compile(src, {"l": "list(int)"})
    with pytest.raises(cel.CelError) as info:
        prog({"l": [1, 0]})
    start, end = info.value.span  # type: ignore[attr-defined]
    assert src[start:end] == "10 / v"
