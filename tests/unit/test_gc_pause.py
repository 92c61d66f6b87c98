"""The collector is paused while a policy is read and compiled, and resumes as it was."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

import aigw_policy as ap
from aigw_policy.engine.compile import compile_policy
from aigw_policy import gc_pause
from aigw_policy.gc_pause import gc_paused

POLICY = 'policy { on request { rule "r" { when identity.team == "a" deny 403 } } }'


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_resumed_after_even_on_error():
    with pytest.raises(ValueError):
        with gc_paused():
            assert not gc.isenabled()
            with gc_paused():  # nested: the outer pause still holds after the inner one
                assert not gc.isenabled()
            assert not gc.isenabled()
            raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_threads_resume_once_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_reading_and_compiling_run_paused_and_leave_the_collector_on(monkeypatch):
    seen = []
    from aigw_policy.analysis import cel_check

    check = cel_check.check

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return check(*args, **kwargs)

    monkeypatch.setattr(cel_check, "check", spy)
    from aigw_policy import analysis

    monkeypatch.setattr(analysis, "PASSES", tuple((n, (lambda p, s, o: spy(p, s)) if n == "cel" else f)
                                                  for n, f in analysis.PASSES))
    from aigw_policy.engine import compile as stages

    lower = stages.lower

    def spy_lower(c):
        seen.append(gc.isenabled())
        return lower(c)

    monkeypatch.setattr(stages, "STAGES", (("lower", spy_lower), *stages.STAGES[1:]))
    compile_policy(ap.loads(POLICY))
    assert seen == [False, False]
    assert gc.isenabled()


# -- the freeze at the end of a large pause ----------------------------------------------------


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _cyclic_garbage() -> weakref.ref:
    """A reference cycle nothing refers to: only the collector frees it."""
    return weakref.ref(_Cycle())


@pytest.fixture(autouse=True)
def nothing_frozen():
    """Each test starts and ends with an empty permanent generation and no freeze of ours."""
    gc.unfreeze()
    gc_pause._state.freezes = 0  # noqa: SLF001
    yield
    gc.unfreeze()
    gc_pause._state.freezes = 0  # noqa: SLF001


def test_a_large_pause_freezes_what_it_made_and_the_next_load_collects_it(monkeypatch):
    with gc_paused():
        made = [[] for _ in range(gc_pause.FREEZE_MIN + 1000)]
        garbage = _cyclic_garbage()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)
    gc.collect()
    assert garbage() is not None  # frozen: no collection walks it
    with gc_paused():  # the compile after the read: within THAW_AFTER, the same load
        pass
    assert gc.get_freeze_count() >= len(made)
    monkeypatch.setattr(gc_pause, "THAW_AFTER", -1.0)  # the next load, later
    with gc_paused():
        assert garbage() is None  # thawed and collected before the load's work
        assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_a_small_pause_leaves_everything_to_the_collector():
    with gc_paused():
        made = [[] for _ in range(1000)]
        garbage = _cyclic_garbage()
    assert gc.get_freeze_count() == 0 and made
    gc.collect()
    assert garbage() is None


def test_loads_in_quick_succession_thaw_after_max_freezes():
    garbage = _cyclic_garbage()
    made = []
    for _ in range(gc_pause.MAX_FREEZES):
        with gc_paused():
            made.append([[] for _ in range(gc_pause.FREEZE_MIN + 1000)])
    assert garbage() is not None and gc_pause._state.freezes == gc_pause.MAX_FREEZES  # noqa: SLF001
    with gc_paused():
        assert garbage() is None


def test_a_heap_the_application_froze_is_left_alone(monkeypatch):
    kept = _cyclic_garbage()
    gc.freeze()
    frozen = gc.get_freeze_count()
    with gc_paused():
        made = [[] for _ in range(gc_pause.FREEZE_MIN + 1000)]
    assert gc_pause._state.freezes == 0 and gc.get_freeze_count() == frozen  # noqa: SLF001
    monkeypatch.setattr(gc_pause, "THAW_AFTER", -1.0)
    with gc_paused():
        pass
    assert gc.get_freeze_count() == frozen and kept() is not None and made


@pytest.mark.parametrize("team", ["a", "b"])
def test_a_policy_read_and_compiled_with_freezes_decides_as_without(monkeypatch, team):
    """Freezing moves objects between the collector's lists, nothing else: a policy read and
    compiled through frozen pauses (the threshold lowered so that a small one freezes)
    decides as one read and compiled with the freezes switched off."""
    request = {"id": "r1", "identity": {"team": team},
               "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                           "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
    decisions = []
    for threshold in (0, 10**12):
        monkeypatch.setattr(gc_pause, "FREEZE_MIN", threshold)
        engine = ap.Engine(ap.loads(POLICY))
        assert (gc_pause._state.freezes > 0) == (threshold == 0)  # noqa: SLF001
        decision = engine.evaluate(request)
        decisions.append((decision.status_code, decision.rule, decision.allowed))
        gc.unfreeze()
        gc_pause._state.freezes = 0  # noqa: SLF001
    assert decisions[0] == decisions[1]
