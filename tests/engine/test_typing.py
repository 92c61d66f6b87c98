"""The package ships py.typed: ``mypy --strict`` accepts embedding code that uses the public
API (tests/typecheck/public_api_usage.py), rejects a typo in an attribute name, and sees the
decision's fields with their types, not Any."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USAGE = ROOT / "tests" / "typecheck" / "public_api_usage.py"


def mypy(*files: Path, cache: Path) -> str:
    pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--no-error-summary", "--cache-dir", str(cache), *map(str, files)],
                          check=False, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_mypy_strict_accepts_the_public_api_and_rejects_a_typo(tmp_path: Path) -> None:
    source = USAGE.read_text()
    assert "final.limits\n" in source
    typo = tmp_path / "typo_usage.py"
    typo.write_text(source.replace("final.limits\n", "final.limts\n"))
    reveal = tmp_path / "reveal_usage.py"
    reveal.write_text("import aigw_policy as ap\n"
                      "d = ap.Engine(ap.loads('policy {}')).evaluate({'request': {'url': 'https://x/v1/chat/completions'}})\n"
                      "reveal_type(d.status_code)\nreveal_type(d.verdict)\nreveal_type(d.cost_usd)\n"
                      "reveal_type(d.limits)\nreveal_type(ap.stores.MemoryStore())\n")
    out = mypy(USAGE, typo, reveal, cache=tmp_path / "cache")
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith(str(USAGE.relative_to(ROOT)))], out
    typos = [line for line in lines if line.startswith(str(typo))]
    assert len(typos) == 1 and '"Decision" has no attribute "limts"; maybe "limits"?' in typos[0], out
    revealed = [line.split("Revealed type is ", 1)[1].replace("builtins.", "")
                for line in lines if "Revealed type is" in line]
    assert revealed == ['"int"', "\"Literal['allow'] | Literal['deny']\"", '"float | None"',
                        '"list[dict[str, Any]]"', '"aigw_policy.limits.memory.MemoryStore"'], out


def test_the_usage_file_runs() -> None:
    done = subprocess.run([sys.executable, str(USAGE)], check=False, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 None ")
