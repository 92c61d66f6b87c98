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

A pause that made :data:`FREEZE_MIN` objects or more ends by freezing the heap
(``gc.freeze``): otherwise the collector's next runs walk every one of those objects, all
alive, once as the young generation and once as the middle one (at 10,000 rules ~0.3-0.5 s,
a third of a load from the caches), then again in each full collection while the policy
lives. A pause that begins within :data:`THAW_AFTER` seconds of that freeze belongs to the
same load (the compile after the read) and freezes what it makes too, up to
:data:`MAX_FREEZES` in a row; any other pause thaws the heap and collects it in full first
(outside the lock): cyclic garbage that was frozen, such as the policy a reload replaced,
lives until the next load, never longer. A pause freezes only an empty permanent generation
or its own: an application that froze the heap itself (a pre-fork server, before these
pauses) is left alone (``gc.get_freeze_count`` walks the frozen objects, so it is asked
only then).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["FREEZE_MIN", "MAX_FREEZES", "THAW_AFTER", "gc_paused"]

FREEZE_MIN = 50_000
"""Objects a pause must have made (the collector's young count when it ends) for its end to
freeze the heap: a 1,000-rule policy makes ~70,000; a small one is left to the collector."""
THAW_AFTER = 1.0
"""Seconds after a freeze from which a pause belongs to another load, and thaws the heap."""
MAX_FREEZES = 6
"""Freezes in a row (loads in quick succession) after which the next pause thaws anyway."""


@dataclass
class _State:
    depth: int = 0  # pauses under way, in every thread
    resume: bool = False  # the collector was on when the first of them began
    freezes: int = 0  # freezes since the last thaw (0: the permanent generation is not ours)
    frozen_at: float = 0.0  # when the last one was made (time.monotonic)


_LOCK = threading.Lock()
_state = _State()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off (see the module doc)."""
    thaw = False
    with _LOCK:
        if _state.depth == 0:
            _state.resume = gc.isenabled()
            gc.disable()
            if _state.freezes and _state.resume and (
                    time.monotonic() - _state.frozen_at > THAW_AFTER or _state.freezes >= MAX_FREEZES):
                _state.freezes = 0
                gc.unfreeze()
                thaw = True
        _state.depth += 1
    try:
        if thaw:
            gc.collect()  # what was frozen and is garbage now (a finalizer may pause: no lock held)
        yield
    finally:
        with _LOCK:
            _state.depth -= 1
            if _state.depth == 0 and _state.resume:
                if gc.get_count()[0] >= FREEZE_MIN and (_state.freezes or gc.get_freeze_count() == 0):
                    gc.freeze()
                    _state.freezes += 1
                    _state.frozen_at = time.monotonic()
                gc.enable()
