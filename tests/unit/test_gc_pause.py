"""The collector is paused while a policy is read and compiled, and resumes as it was."""

from __future__ import annotations

import gc
import threading

import pytest

import aigw_policy as ap
from aigw_policy.engine.compile import compile_policy
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
