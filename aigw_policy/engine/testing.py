"""Policy tests: YAML files of requests and the decisions they must get (``aigw-policy test``).

A test file (``*.test.yaml``, ``*_test.yaml``)::

    policy: ../examples/acme-gateway.aigw    # a path (relative to this file), or the policy text,
                                             # or a YAML-form document as a mapping
    cases:
      - name: research may use gpt-4.1
        request: {...}                       # a REQUEST.json object, or `request_file: path`
        expect: {verdict: allow, status_code: 200, rule: null}
      - name: a burst hits the rate limit    # `steps`: requests in order against one store
        steps:
          - request: {...}
            expect: {verdict: allow}
          - request: {...}
            expect: {verdict: deny, status_code: 429, rule: per-ip-rate-limit}

``expect`` is matched as a subset of the decision's JSON: every key written must match
(maps recursively, lists element by element); ``limits`` may also be a map by limit name;
``reason_contains`` matches a substring of the reason; ``error`` expects the request to be
rejected with a message containing the text. Each case runs on a fresh in-memory store,
seeded from the request's ``state``; time comes from each request's ``now``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ir import Policy
from .request import RequestError

__all__ = ["CaseResult", "FileResult", "TestFileError", "discover", "match", "run_file"]

SUFFIXES = (".test.yaml", ".test.yml", "_test.yaml", "_test.yml", ".test.json", "_test.json")


class TestFileError(Exception):
    """A test file that cannot be read or has the wrong shape."""

    __test__ = False


@dataclass
class CaseResult:
    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class FileResult:
    path: str
    policy_name: str
    cases: list[CaseResult]
    exercised: set[tuple[str, str]]  # (phase, rule label)
    rules: list[tuple[str, str, int | None, str | None]]  # (phase, label, line, file)


def discover(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)
                  and ".venv" not in p.parts and "node_modules" not in p.parts)


def _load_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise TestFileError(f"`{path}`: cannot read: {error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TestFileError(f"`{path}`: not valid YAML: {error}") from None


def load_policy(spec: Any, base: Path) -> Policy:
    """A test file's ``policy``: a path, DSL or YAML text, or a YAML-form mapping."""
    from ..diagnostics import PolicyError
    from ..loader import load, loads

    try:
        if isinstance(spec, Mapping):
            return loads(json.dumps(spec), format="json", name=f"{base}/<policy>")
        if isinstance(spec, str):
            text = spec.strip()
            if "\n" not in text and text.endswith((".aigw", ".yaml", ".yml", ".json")):
                return load(base / text)
            return loads(spec, name=str(base / "<policy>"))
    except PolicyError as error:
        raise TestFileError(f"policy has errors: {error}") from None
    except OSError as error:
        raise TestFileError(f"cannot read policy `{spec}`: {error.strerror or error}") from None
    raise TestFileError("`policy` must be a path, the policy text, or a YAML-form mapping")


def run_file(path: Path, *, index: bool | None = None) -> FileResult:
    """Run every case of a test file. ``index``: force the rule index on or off (both are
    run by default: the decisions must agree)."""
    data = _load_yaml(path)
    if not isinstance(data, Mapping) or "policy" not in data or not isinstance(data.get("cases"), list):
        raise TestFileError(f"`{path}`: a test file is a mapping with `policy` and a list of `cases`")
    base = path.parent
    try:
        policy = load_policy(data["policy"], base)
    except TestFileError as error:
        raise TestFileError(f"`{path}`: {error}") from None
    from .compile import compile_policy

    compiled = compile_policy(policy, index=True)
    plain = compile_policy(policy, index=False)
    results: list[CaseResult] = []
    exercised: set[tuple[str, str]] = set()
    for i, case in enumerate(data["cases"]):
        name = case.get("name", f"case {i + 1}") if isinstance(case, Mapping) else f"case {i + 1}"
        start = time.perf_counter()
        failures = _run_case(case, base, compiled, plain, exercised, index)
        results.append(CaseResult(str(name), not failures, failures, time.perf_counter() - start))
    rules = [(r.phase, r.label, r.span.line if r.span else None, r.span.file if r.span else None)
             for r in compiled.all_rules()]
    return FileResult(str(path), policy.name or str(path), results, exercised, rules)


def _steps(case: Any, base: Path) -> Iterator[tuple[Any, Any]]:
    if not isinstance(case, Mapping):
        raise TestFileError("a case is a mapping with `request` and `expect` (or `steps`)")
    steps = case.get("steps")
    if steps is None:
        steps = [case]
    if not isinstance(steps, list) or not steps:
        raise TestFileError("`steps` must be a non-empty list")
    for step in steps:
        if not isinstance(step, Mapping):
            raise TestFileError("a step is a mapping with `request` and `expect`")
        request = step.get("request")
        if request is None and "request_file" in step:
            file = base / str(step["request_file"])
            try:
                request = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise TestFileError(f"cannot read `{file}`: {error}") from None
        if request is None:
            raise TestFileError("a step needs `request` or `request_file`")
        yield request, step.get("expect") or {}


def _run_case(case: Any, base: Path, compiled: Any, plain: Any, exercised: set[tuple[str, str]],
              index: bool | None) -> list[str]:
    from ..stores import MemoryStore
    from .runner import Engine

    try:
        steps = list(_steps(case, base))
    except TestFileError as error:
        return [str(error)]
    # the traced engine (no index) gives coverage; the indexed engine must agree with it
    engines = [Engine(plain, store=MemoryStore(), trace=True)]
    if index is not False:
        engines.append(Engine(compiled, store=MemoryStore(), trace=False))
    failures: list[str] = []
    clock = time.time()  # one clock for every engine: a step without `now` reads it once
    for n, (request, expect) in enumerate(steps):
        where = f"step {n + 1}: " if len(steps) > 1 else ""
        got: list[dict[str, Any] | str] = []
        for engine in engines:
            try:
                given = request.get("now") if isinstance(request, dict) else None
                d = engine.evaluate(request, apply_state=True, request_id=f"test-{n + 1}",
                                    now=None if given is not None else clock, expect_response=False)
            except RequestError as error:
                got.append(str(error))
                continue
            out = d.to_dict()
            if d.trace:
                for rec in d.trace:
                    if rec["matched"] is True or rec["matched"] == "error":
                        exercised.add((rec["phase"], rec["rule"]))
            out.pop("trace", None)
            got.append(out)
        first = got[0]
        if "error" in expect:
            if not isinstance(first, str):
                failures.append(f"{where}expected the request to be rejected ({expect['error']}), "
                                f"got {first['verdict']} {first['status_code']}")
            elif str(expect["error"]) not in first:
                failures.append(f"{where}expected an error containing `{expect['error']}`, got: {first}")
            continue
        if isinstance(first, str):
            failures.append(f"{where}{first}")
            continue
        for other in got[1:]:
            if other != first:
                failures.append(f"{where}the indexed and unindexed evaluations disagree")
        failures.extend(where + f for f in match(expect, first))
    return failures


def match(expect: Any, got: Mapping[str, Any]) -> list[str]:
    """Differences between an ``expect`` mapping and a decision's JSON (subset match)."""
    if not isinstance(expect, Mapping):
        return ["`expect` must be a mapping"]
    out: list[str] = []
    for key, want in expect.items():
        if key == "reason_contains":
            if str(want) not in (got.get("reason") or ""):
                out.append(f"reason: expected it to contain `{want}`, got `{got.get('reason')}`")
            continue
        if key == "limits" and isinstance(want, Mapping):
            by_name = {e["name"]: e for e in got.get("limits") or ()}
            for name, w in want.items():
                if name not in by_name:
                    out.append(f"limits.{name}: expected the limit to run, it did not")
                else:
                    out.extend(_sub(w, by_name[name], f"limits.{name}"))
            continue
        if key == "errors" and isinstance(want, int) and not isinstance(want, bool):
            if len(got.get("errors") or ()) != want:
                out.append(f"errors: expected {want}, got {len(got.get('errors') or ())}: {got.get('errors')}")
            continue
        if key == "headers":  # the gateway's answer headers
            out.extend(_sub(want, ((got.get("response") or {}).get("headers") or {}), "headers"))
            continue
        if key not in got:
            out.append(f"{key}: not in the decision")
            continue
        out.extend(_sub(want, got[key], key))
    return out


def _sub(want: Any, got: Any, path: str) -> list[str]:
    if isinstance(want, Mapping):
        if not isinstance(got, Mapping):
            return [f"{path}: expected a map, got {json.dumps(got)}"]
        out = []
        for k, w in want.items():
            if k not in got:
                out.append(f"{path}.{k}: missing (expected {json.dumps(w)})")
            else:
                out.extend(_sub(w, got[k], f"{path}.{k}"))
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: expected {json.dumps(want)}, got {json.dumps(got, default=str)}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out.extend(_sub(w, g, f"{path}[{i}]"))
        return out
    if isinstance(want, (int, float)) and not isinstance(want, bool) and isinstance(got, (int, float)) \
            and not isinstance(got, bool):
        return [] if abs(want - got) <= 1e-9 * max(1.0, abs(want)) else [f"{path}: expected {want}, got {got}"]
    if want != got:
        return [f"{path}: expected {json.dumps(want)}, got {json.dumps(got, default=str)}"]
    return []
