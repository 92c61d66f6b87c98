"""The whole cel-spec conformance suite in ../shared/cel-spec passes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


def _run_without_data(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIGW_SHARED": str(tmp_path), "CI": ci}
    return subprocess.run([sys.executable, str(HERE / "run.py")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_fresh_clone_without_the_data_skips_visibly(tmp_path: Path) -> None:
    """`make test` on a fresh clone with nothing beside it: one clear line, exit 0."""
    done = _run_without_data(tmp_path, ci="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("conformance: skipped, ") and "cel-spec not found" in done.stdout


def test_under_ci_missing_data_is_a_failure(tmp_path: Path) -> None:
    done = _run_without_data(tmp_path, ci="true")
    assert done.returncode == 1
    assert "conformance: FAILED" in done.stderr and "cel-spec not found" in done.stderr
