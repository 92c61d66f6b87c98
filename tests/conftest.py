"""Test-wide setup: ``tests/`` is importable (``shared_data``, ``strategies``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
