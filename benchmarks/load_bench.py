"""How loading and compiling a policy scales: each stage at 1,000 and 10,000 rules (SPEC §9:
a 10,000-rule policy loaded and compiled in under 10 s, from the compile cache under 1 s).

    python benchmarks/load_bench.py [--sizes 1000,10000] [--repeat 3] [--forms dsl,yaml] [--lint]

The policy is the one ``benchmarks/engine_bench.py --rules N`` builds (rules keyed on
``identity.team`` and ``ai.model``), read as DSL and as YAML (the same policy dumped). Each
stage is timed on its own, every size in every round (rounds interleave the sizes), with the
process's memos cleared first, so every round is a cold load. Printed: the median CPU time of
each stage (this process's CPU, so other work on a shared machine disturbs it less; the wall
time of the whole load is printed too) and the ratio of the largest size to the smallest,
which is the size ratio for a linear stage (10x for 10k/1k): more points at a quadratic pass.

Stages: ``parse`` (lark for the DSL, the YAML composer), ``ir`` (the tree to the IR; for the
DSL this parses each condition's CEL text, once), ``analysis`` (every lint pass: the type-check
of every CEL text, and for YAML its parse), then the compiler's stages: ``lower`` (the compiled
rules, every text's node and free variables), ``compile_cel`` (Python code generation of every
text, reusing lint's check), ``index``, ``other`` (``check_size``, ``report``, ``mark_eager``,
``facts``); ``cache write`` (writing the batch file of a cold compile with a cache directory)
and ``cache load`` (``compile_cel`` reading it in a fresh state, after a load), ``policy write``
(writing the whole-policy cache's record, ``aigw_policy/policy_cache.py``) and ``policy
load`` (a read answered by that record in a fresh state). Totals: ``load+compile`` (the first
seven stages), ``compile, cached`` (every compiler stage when the programs come from the
cache file) and ``whole cache`` (a load from the record and a compile from the cache file, in
a fresh state: SPEC's "from the cache", a restart or reload of an unchanged policy; its CPU
from start to end, the collector's runs after the pauses included). Wall
times of the three, and the ratio of the last to the cold one, round by round. ``--lint`` also times
``aigw-policy lint`` on the largest DSL file, with and without the solver's warnings.
No assertions: read the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import indexed_policy  # noqa: E402

import aigw_policy as ap  # noqa: E402
from aigw_policy import loader, policy_cache  # noqa: E402
from aigw_policy.analysis import run_passes  # noqa: E402
from aigw_policy.cel import cache as cel_cache  # noqa: E402
from aigw_policy.cel.api import clear_cache as clear_programs  # noqa: E402
from aigw_policy.cel.parser import clear_memo  # noqa: E402
from aigw_policy.diagnostics import Diagnostics  # noqa: E402
from aigw_policy.engine import compile as stages  # noqa: E402
from aigw_policy.gc_pause import gc_paused  # noqa: E402
from aigw_policy.source import Source  # noqa: E402
from aigw_policy.syntax import dsl, yaml_form, yaml_tree  # noqa: E402
from aigw_policy.syntax.recovery import recover  # noqa: E402

STAGES = ("parse", "ir", "analysis", "lower", "compile_cel", "index", "other", "cache write", "cache load",
          "policy write", "policy load")
TOTALS = ("load+compile", "compile, cached", "whole cache")
"""The CPU of a cold load and compile (the first seven stages), of a compile reading the
cache file after a load (every compiler stage, ``compile_cel`` from the file), and of a load
from the whole-policy cache and a compile from the cache file, in a fresh state."""


def clear_cache() -> None:
    """Forget what earlier loads left in memory: compiled programs, checks, parsed texts."""
    clear_programs()
    clear_memo()


class Clock:
    """CPU seconds per stage name for one load."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}

    def time(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.process_time()
        try:
            return fn()
        finally:
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start


def read_stages(clock: Clock, form: str, text: str) -> ap.Policy:
    source = Source(text, None)
    diags = Diagnostics()
    if form == "dsl":
        tree = clock.time("parse", lambda: recover(source, diags, dsl.dsl_parser()))
        policy = clock.time("ir", lambda: dsl._Reader(source, diags).document(tree))  # noqa: SLF001
    else:
        tree = clock.time("parse", lambda: yaml_tree.compose(source, diags, json_mode=False))
        policy = clock.time("ir", lambda: yaml_form._Reader(diags, source).policy(tree))  # noqa: SLF001
    found = clock.time("analysis", lambda: run_passes(policy, source))
    assert not diags.has_errors and not [d for d in found if d.is_error], (list(diags), found)
    return policy


def compile_stages(clock: Clock, policy: ap.Policy, cache_dir: str | None = None) -> stages.Compilation:
    c = stages.Compilation(policy, "bench", cache_dir=cache_dir)
    for name, stage in stages.STAGES:
        label = name if name in ("lower", "compile_cel", "index") else "other"
        c = clock.time(label, lambda stage=stage, c=c: stage(c))
    return c


def one_load(form: str, text: str, cache_root: str) -> tuple[Clock, tuple[float, float, float]]:
    """A cold load and compile (stages timed); a cold compile writing a cache file; a load
    (writing the whole-policy cache's record) and a compile reading that file in a fresh
    state; then, in a fresh state again, a load from the record and a compile from the file.
    Returns the clock and the wall seconds of the three loads + compiles."""
    clock = Clock()
    clear_cache()
    wall = time.perf_counter()
    with gc_paused():  # as loader.read and compile_policy do
        policy = read_stages(clock, form, text)
        compile_stages(clock, policy)
    wall = time.perf_counter() - wall
    directory = tempfile.mkdtemp(dir=cache_root)
    policies = tempfile.mkdtemp(dir=cache_root)
    clear_cache()  # a cold compile writes the cache file
    with timing(clock, cel_cache, "save_batch", "cache write"):
        with gc_paused():
            compile_stages(Clock(), policy, directory)
    clear_cache()  # a new process: read (writing the record), then compile from the file
    cached = time.perf_counter()
    with timing(clock, policy_cache, "save", "policy write"):
        policy, _ = loader.read(text, format=form, cache_dir=policies)  # type: ignore[arg-type]
    from_cache = Clock()
    with gc_paused():
        compile_stages(from_cache, policy, directory)
    cached = time.perf_counter() - cached
    clear_cache()  # a new process again: everything from the two caches
    whole = time.perf_counter()
    whole_cpu = time.process_time()
    from_both = Clock()
    policy, _ = from_both.time("policy load", lambda: loader.read(text, format=form,  # type: ignore[arg-type]
                                                                  cache_dir=policies))
    with gc_paused():
        compile_stages(from_both, policy, directory)
    _ = [policy]  # an allocation: the collector's deferred run, if the pause left one, is here
    whole_cpu = time.process_time() - whole_cpu
    whole = time.perf_counter() - whole
    clock.cpu["cache load"] = from_cache.cpu["compile_cel"]
    clock.cpu["compile, cached"] = sum(from_cache.cpu.values())
    clock.cpu["policy load"] = from_both.cpu["policy load"]
    clock.cpu["whole cache"] = whole_cpu
    clock.cpu["load+compile"] = sum(clock.cpu[s] for s in STAGES[:7])
    return clock, (wall, cached, whole)


@contextmanager
def timing(clock: Clock, module: Any, function: str, stage: str) -> Iterator[None]:
    """Time every call of ``module.function`` as ``stage`` while inside."""
    real = getattr(module, function)
    setattr(module, function, lambda *args: clock.time(stage, lambda: real(*args)))
    try:
        yield
    finally:
        setattr(module, function, real)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--forms", default="dsl,yaml")
    p.add_argument("--lint", action="store_true", help="also time `aigw-policy lint` on the largest DSL file")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    forms = args.forms.split(",")
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} at the start")
    texts: dict[tuple[str, int], str] = {}
    for n in sizes:
        texts["dsl", n] = indexed_policy(n)
        assert len(texts["dsl", n]) >= policy_cache.MIN_CHARS, "too small for the whole-policy cache"
        if "yaml" in forms:
            texts["yaml", n] = yaml_form.dump_yaml(ap.loads(texts["dsl", n]))
    clocks: dict[tuple[str, int], list[Clock]] = {k: [] for k in texts if k[0] in forms}
    walls: dict[tuple[str, int], list[tuple[float, float, float]]] = {k: [] for k in clocks}
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.repeat):
            for key in clocks:
                clock, times = one_load(key[0], texts[key], root)
                clocks[key].append(clock)
                walls[key].append(times)
    lo, hi = sizes[0], sizes[-1]
    for form in forms:
        print(f"\n{form}: median CPU seconds per stage ({args.repeat} rounds)")
        print(f"{'stage':<16}" + "".join(f"{n:>10,}" for n in sizes) + f"{f'{hi // lo}x rules':>12}")
        for stage in (*STAGES, *TOTALS):
            med = [statistics.median(c.cpu.get(stage, 0.0) for c in clocks[form, n]) for n in sizes]
            ratio = f"{med[-1] / med[0]:>11.1f}x" if med[0] > 0 else f"{'-':>12}"
            print(f"{stage:<16}" + "".join(f"{m:>10.3f}" for m in med) + ratio)
        for i, what in enumerate(("wall, cold", "wall, cached", "wall, whole")):
            med = [statistics.median(w[i] for w in walls[form, n]) for n in sizes]
            print(f"{what:<16}" + "".join(f"{m:>10.3f}" for m in med) + f"{med[-1] / med[0]:>11.1f}x")
        ratios = [statistics.median(w[2] / w[0] for w in walls[form, n]) for n in sizes]
        print(f"{'whole/cold':<16}" + "".join(f"{r:>10.3f}" for r in ratios) + "   (wall, median of rounds)")
    if args.lint:
        print()
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "big.aigw"
            path.write_text(texts["dsl", hi])
            cli = Path(sys.executable).with_name("aigw-policy")
            for extra in ([], ["--prove-seconds", "0"]):
                before = os.times()
                done = subprocess.run([str(cli), "lint", *extra, str(path)], capture_output=True, text=True)
                after = os.times()
                cpu = after.children_user + after.children_system - before.children_user - before.children_system
                print(f"aigw-policy lint {' '.join(extra)} ({hi:,} rules, DSL): {cpu:.2f} s CPU, "
                      f"{after.elapsed - before.elapsed:.2f} s wall, exit {done.returncode}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
