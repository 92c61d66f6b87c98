"""Test-wide setup: ``tests/`` is importable (``shared_data``, ``strategies``), and one
hypothesis profile for the whole suite.

Property tests must be reproducible: a red run on a clean change is a lie about the change.
The default profile (``repeatable``) derandomizes every property test (the examples come from
a hash of the test, the same on every run and machine), uses no example database, and turns
off the time-based parts (``deadline``, the ``too_slow`` health check) that fail when the
machine is busy. ``HYPOTHESIS_PROFILE=explore`` draws new random examples (more of them) for
hunting bugs by hand; a failure it finds prints its ``@reproduce_failure`` blob, and belongs
in an explicit ``@example`` once understood.

The suite's caches (compiled programs, whole-policy records, the cache's HMAC key) go to a
private directory of its own, removed at exit, never to the user's ``~/.cache``: the
variables are set here, before anything is imported, so ``serve`` processes the tests start
inherit them.
"""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

_CACHE = tempfile.mkdtemp(prefix="aigw-test-cache-")  # 0700
os.environ["XDG_CACHE_HOME"] = _CACHE
os.environ["AIGW_POLICY_CACHE_DIR"] = os.path.join(_CACHE, "aigw-policy")
atexit.register(shutil.rmtree, _CACHE, True)

settings.register_profile(
    "repeatable", derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", derandomize=False, deadline=None, max_examples=1_000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
