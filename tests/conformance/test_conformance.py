"""The whole cel-spec conformance suite in ../shared/cel-spec passes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shared_data import CEL_SPEC as SUITE, require  # noqa: E402

HERE = Path(__file__).parent


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("cel_conformance_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_cel_spec_conformance(capsys: pytest.CaptureFixture[str]) -> None:
    require(SUITE)
    code = _runner().main([str(SUITE), "-v"])
    out = capsys.readouterr().out
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 0 and not failures, "\n".join(failures[:50]) + "\n" + out.splitlines()[-1]
