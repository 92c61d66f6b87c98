"""The cyclic garbage collector paused while a policy is read and compiled.

Reading and compiling allocate many small objects that nearly all stay alive: the parse
tree, the IR, every CEL node, the generated functions. CPython's collector runs each time
allocations outnumber frees by 700, and as the survivors pile up it runs ever more full
collections over an ever larger heap: for a 10,000-rule policy that was as much time again
as the work itself, and a larger policy pays more per rule than a smaller one
(``benchmarks/load_bench.py``). These stages make no reference cycles that must be freed
before they end (what garbage they leave is collected afterwards, as usual), so the
collector is paused for their duration. Pauses nest and may overlap across threads: the
collector resumes when the last one ends, and only if it was running when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_LOCK = threading.Lock()
_state = {"depth": 0, "resume": False}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off (see the module doc)."""
    with _LOCK:
        if _state["depth"] == 0:
            _state["resume"] = gc.isenabled()
            gc.disable()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["resume"]:
                gc.enable()
