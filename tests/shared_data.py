"""Where the shared reference data lives: ``../shared`` beside the checkout (CI has it there).

On a developer's machine without it, tests that need it skip with a visible reason; under CI
(``CI=true``) a missing directory is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AIGW_SHARED", ROOT.parent / "shared"))
CEL_SPEC = SHARED / "cel-spec"
NGROK = SHARED / "ngrok"
NGROK_EXAMPLES = NGROK / "examples"


def in_ci() -> bool:
    """``CI=true`` (or 1, yes): missing data or services are failures, not skips."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(path: Path) -> Path:
    """Return ``path``; skip (or, under CI, fail) the calling test when it is missing."""
    if not path.exists():
        message = f"{path} is not present (set AIGW_SHARED to the shared data directory)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path
