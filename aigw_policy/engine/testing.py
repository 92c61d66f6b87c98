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

A test file is checked as strictly as a policy before anything runs (:func:`check_text`,
also used by ``lint``): an unknown key anywhere, a duplicate key, an expectation that checks
nothing, a rule or limit the policy does not have, or a request that does not parse is a
coded diagnostic (``AIGW6xx``) with its line and column, and the file does not run. A test
that cannot fail is worse than no test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, Diagnostics, did_you_mean, sort_diagnostics
from ..files import read_input
from ..ir import Policy
from ..source import Source, Span
from ..env.request import RequestError

__all__ = [
    "CaseResult", "FileResult", "TestFileError", "check_text", "discover", "is_test_file", "match",
    "run_file",
]

SUFFIXES = (".test.yaml", ".test.yml", "_test.yaml", "_test.yml", ".test.json", "_test.json")

TOP_KEYS = ("policy", "cases")
CASE_KEYS = ("name", "request", "request_file", "expect", "steps")
STEP_KEYS = ("request", "request_file", "expect")
DECISION_KEYS = ("id", "now", "verdict", "status_code", "reason", "rule", "phase", "decided_by",
                 "at", "ai", "usage", "cost_usd", "cost", "limits", "effects", "errors", "complete",
                 "response", "store", "notes", "routing")
SHORTHANDS = ("reason_contains", "headers", "error", "served_model", "attempts")
ROUTING_KEYS = {"routing": ("strategies", "candidates", "attempts", "served"),
                "served": ("provider", "model", "key_id", "attempt")}
EXPECT_KEYS = DECISION_KEYS + SHORTHANDS
VERDICTS = ("allow", "deny")
MAX_NODES = 100_000
"""Larger test files (counting every expansion of an alias) are refused (AIGW008)."""

Path_ = tuple[str | int, ...]


class TestFileError(Exception):
    """A test file that cannot be read or has the wrong shape. ``diagnostics`` lists every
    problem; ``str()`` shows them as ``lint`` does, with the source lines."""

    __test__ = False

    def __init__(self, diagnostics: list[Diagnostic], source: Source | None = None) -> None:
        from ..diagnostic_formats import diagnostics_text

        self.diagnostics = diagnostics
        sources = {source.name: source} if source is not None else {}
        name = source.name if source is not None else diagnostics[0].span.file if diagnostics[0].span else None
        n = len(diagnostics)
        head = f"`{name}`: {n} error{'s' if n != 1 else ''}, the file does not run\n"
        super().__init__(head + diagnostics_text(diagnostics, sources))


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


@dataclass(frozen=True)
class _Step:
    request: Any
    expect: Mapping[str, Any]
    spans: Mapping[Path_, Span]  # a path inside `expect` -> the span of its key


@dataclass(frozen=True)
class _Case:
    name: str
    steps: list[_Step]


def is_test_file(path: Path) -> bool:
    """A policy test file, by its name (``*.test.yaml``, ``*_test.yaml``, ...)."""
    return path.name.endswith(SUFFIXES)


def discover(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and is_test_file(p)
                  and ".venv" not in p.parts and "node_modules" not in p.parts)


def check_text(text: str, name: str, base: Path) -> list[Diagnostic]:
    """Every problem of a test file's text (``lint``); ``base`` resolves relative paths."""
    reader = _Reader(text, name, base)
    reader.read()
    return sort_diagnostics(reader.diags)


def load_policy(spec: Any, base: Path) -> Policy:
    """A test file's ``policy``: a path, DSL or YAML text, or a YAML-form mapping; raises
    :class:`~aigw_policy.diagnostics.PolicyError` or ``OSError``."""
    from ..loader import load, loads

    if isinstance(spec, Mapping):
        return loads(json.dumps(spec), format="json", name=f"{base}/<policy>")
    text = spec.strip()
    if "\n" not in text and text.endswith((".aigw", ".yaml", ".yml", ".json")):
        return load(base / text)
    return loads(spec, name=str(base / "<policy>"))


def run_file(path: Path, *, index: bool | None = None) -> FileResult:
    """Run every case of a test file. ``index``: force the rule index on or off (both are
    run by default: the decisions must agree)."""
    try:
        text = read_input(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        span = Span(0, 0, 1, 1, 1, 1, str(path))
        raise TestFileError([Diagnostic.make("AIGW007", f"cannot read `{path}`: {reason}", span)]) from None
    reader = _Reader(text, str(path), path.parent)
    cases = reader.read()
    errors = [d for d in sort_diagnostics(reader.diags) if d.is_error]
    if errors or reader.policy is None or cases is None:
        raise TestFileError(errors, reader.source)
    from .compile import compile_policy

    policy = reader.policy
    compiled = reader.compiled
    plain = compile_policy(policy, index=False)
    results: list[CaseResult] = []
    exercised: set[tuple[str, str]] = set()
    for case in cases:
        start = time.perf_counter()
        failures = _run_case(case, compiled, plain, exercised, index, reader.source)
        results.append(CaseResult(case.name, not failures, failures, time.perf_counter() - start))
    rules = [(r.phase, r.label, r.span.line if r.span else None, r.span.file if r.span else None)
             for r in compiled.all_rules()]
    return FileResult(str(path), policy.name or str(path), results, exercised, rules)


# ---------------------------------------------------------------------------------------
# reading and checking


class _Reader:
    """Reads a test file's YAML with positions and checks its shape, collecting diagnostics."""

    def __init__(self, text: str, name: str, base: Path) -> None:
        self.source = Source(text, name)
        self.base = base
        self.diags = Diagnostics()
        self.policy: Policy | None = None
        self.compiled: Any = None
        self._loader: Any = None

    # -- YAML nodes

    def span(self, node: Any) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def value(self, node: Any) -> Any:
        return self._loader.construct_object(node, deep=True)

    def mapping(self, node: Any, keys: tuple[str, ...], what: str) -> dict[str, tuple[Any, Any]]:
        """``{key: (key node, value node)}``; unknown and duplicate keys are reported."""
        from yaml.nodes import MappingNode, ScalarNode

        if not isinstance(node, MappingNode):
            self.diags.add("AIGW701", f"{what} must be a mapping, not {_kind(node)}", self.span(node))
            return {}
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.diags.add("AIGW701", f"a key of {what} must be a name", self.span(key_node))
                continue
            if key in out:
                self.diags.add("AIGW013", f"duplicate key `{key}` in {what}", self.span(key_node),
                               help="the last one would silently win: remove one")
                continue
            if key not in keys:
                self.diags.add("AIGW700", f"unknown key `{key}` in {what}", self.span(key_node),
                               help=did_you_mean(key, keys)
                               or f"{what} has {', '.join(f'`{k}`' for k in keys)}")
                continue
            out[key] = (key_node, value_node)
        return out

    # -- the document

    def read(self) -> list[_Case] | None:
        import yaml

        try:  # the reader checks every character as it is made
            loader = yaml.SafeLoader(self.source.text)
        except yaml.reader.ReaderError as error:
            char = error.character
            what = f"U+{char:04X}" if isinstance(char, int) else repr(char)
            self.diags.add("AIGW007", f"unreadable character {what}: special characters are not allowed",
                           self.source.span(max(0, error.position)),
                           help="escape it in a double-quoted string, as in `\\u0007`")
            return None
        self._loader = loader
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            offset = mark.index if mark is not None else 0
            self.diags.add("AIGW010", f"not valid YAML: {error.problem or error.context or error}",
                           self.source.span(offset))
            return None
        except yaml.YAMLError as error:
            self.diags.add("AIGW010", f"not valid YAML: {error}", self.source.span(0))
            return None
        except RecursionError:
            self.diags.add("AIGW008", "the test file is nested too deeply", self.source.span(0))
            return None
        finally:
            loader.dispose()
        if root is None:
            self.diags.add("AIGW701", "the test file is empty: it needs `policy` and `cases`",
                           self.source.span(0))
            return None
        if _size(root, {}) > MAX_NODES:
            self.diags.add("AIGW008", f"the test file has more than {MAX_NODES:,} nodes "
                           "(counting every alias expansion)", self.span(root))
            return None
        try:
            return self._document(root)
        except RecursionError:
            self.diags.add("AIGW008", "the test file is nested too deeply", self.span(root))
            return None

    def _document(self, root: Any) -> list[_Case] | None:
        from yaml.nodes import SequenceNode

        top = self.mapping(root, TOP_KEYS, "a test file")
        if not top and self.diags.has_errors:
            return None
        for key in TOP_KEYS:
            if key not in top:
                self.diags.add("AIGW701", f"a test file needs `{key}`", self.span(root),
                               help="a test file is a mapping with `policy` and a list of `cases`")
        if "policy" in top:
            self._policy(top["policy"][1])
        if "cases" not in top:
            return None
        node = top["cases"][1]
        if not isinstance(node, SequenceNode):
            self.diags.add("AIGW701", f"`cases` must be a list, not {_kind(node)}", self.span(node))
            return None
        if not node.value:
            self.diags.add("AIGW702", "`cases` is empty: the file checks nothing", self.span(node))
        cases = [self._case(n, i) for i, n in enumerate(node.value)]
        return [c for c in cases if c is not None]

    def _policy(self, node: Any) -> None:
        from ..diagnostics import PolicyError
        from .compile import compile_policy

        spec = self.value(node)
        if not isinstance(spec, (str, Mapping)):
            self.diags.add("AIGW701", "`policy` must be a path, the policy text, or a YAML-form mapping",
                           self.span(node))
            return
        try:
            self.policy = load_policy(spec, self.base)
        except PolicyError as error:
            first = error.diagnostics[0]
            if first.code == "AIGW007":  # the file named cannot be read
                self.diags.add("AIGW703", first.message, self.span(node),
                               help=f"a path is relative to the test file's directory `{self.base}`")
                return
            where = str(spec).strip() if isinstance(spec, str) and "\n" not in str(spec).strip() else "the policy"
            self.diags.add("AIGW703", f"the policy has errors: {first}", self.span(node),
                           help=f"run `aigw-policy lint {where}`")
            return
        except OSError as error:
            self.diags.add("AIGW703", f"cannot read the policy `{spec}`: {error.strerror or error}",
                           self.span(node), help=f"a path is relative to the test file's directory `{self.base}`")
            return
        self.compiled = compile_policy(self.policy, index=True)

    def _case(self, node: Any, i: int) -> _Case | None:
        from yaml.nodes import MappingNode, SequenceNode

        keys = self.mapping(node, CASE_KEYS, "a case")
        if isinstance(node, MappingNode) and not node.value:
            self.diags.add("AIGW702", f"case {i + 1} is empty: it checks nothing", self.span(node))
        if not keys:
            return None
        name = str(self.value(keys["name"][1])) if "name" in keys else f"case {i + 1}"
        if "steps" not in keys:
            step = self._step(node, keys, f"case `{name}`")
            return _Case(name, [step]) if step is not None else None
        steps_node = keys["steps"][1]
        mixed = [k for k in STEP_KEYS if k in keys]
        if mixed:
            self.diags.add("AIGW701", f"case `{name}` has `steps` and `{mixed[0]}`",
                           self.span(keys[mixed[0]][0]),
                           help="with `steps`, each step has its own `request` and `expect`")
        if not isinstance(steps_node, SequenceNode) or not steps_node.value:
            self.diags.add("AIGW701", "`steps` must be a non-empty list", self.span(steps_node))
            return None
        steps = []
        for n, step_node in enumerate(steps_node.value):
            step = self._step(step_node, self.mapping(step_node, STEP_KEYS, "a step"),
                              f"step {n + 1} of case `{name}`")
            if step is not None:
                steps.append(step)
        return _Case(name, steps) if len(steps) == len(steps_node.value) else None

    def _step(self, node: Any, keys: dict[str, tuple[Any, Any]], what: str) -> _Step | None:
        from yaml.nodes import MappingNode

        if not isinstance(node, MappingNode):
            return None  # reported by mapping()
        if not node.value:
            self.diags.add("AIGW702", f"{what} is empty: it checks nothing", self.span(node))
            return None
        if "request" in keys and "request_file" in keys:
            self.diags.add("AIGW701", f"{what} has both `request` and `request_file`",
                           self.span(keys["request_file"][0]), help="keep one")
        request = self._request(node, keys, what)
        if "expect" not in keys:
            self.diags.add("AIGW702", f"{what} has no `expect`: it checks nothing", self.span(node),
                           help="write the decision it must get, e.g. `expect: {verdict: allow}`")
            return None
        expect_node = keys["expect"][1]
        expect = self.value(expect_node)
        spans: dict[Path_, Span] = {(): self.span(keys["expect"][0])}
        if not self._expect(expect_node, expect, spans, what):
            return None
        if request is not None and "error" not in expect:
            self._request_shape(request, keys, what)
        return _Step(request, expect, spans) if request is not None else None

    def _request(self, node: Any, keys: dict[str, tuple[Any, Any]], what: str) -> Any:
        if "request" in keys:
            return self.value(keys["request"][1])
        if "request_file" not in keys:
            self.diags.add("AIGW701", f"{what} needs `request` or `request_file`", self.span(node))
            return None
        node = keys["request_file"][1]
        file = self.base / str(self.value(node))
        try:
            return json.loads(read_input(file).decode("utf-8"))
        except OSError as error:
            self.diags.add("AIGW704", f"cannot read `{file}`: {error.strerror or error}", self.span(node))
        except ValueError as error:
            self.diags.add("AIGW704", f"`{file}` is not valid JSON: {error}", self.span(node))
        except RecursionError:
            self.diags.add("AIGW704", f"`{file}` is nested too deeply to read", self.span(node))
        return None

    def _request_shape(self, request: Any, keys: dict[str, tuple[Any, Any]], what: str) -> None:
        from ..env.request import Request

        key = "request" if "request" in keys else "request_file"
        if not isinstance(request, Mapping):
            self.diags.add("AIGW704", f"{what}: a request is a mapping (a REQUEST.json object), "
                           f"not {_kind(keys[key][1]) if key == 'request' else 'that'}", self.span(keys[key][1]))
            return
        try:
            Request.parse(request)
        except RequestError as error:
            for path, message in error.problems:
                node = _find(keys[key][1], path.split(".") if path else []) if key == "request" else None
                span = self.span(node if node is not None else keys[key][0])
                self.diags.add("AIGW704", f"{what}: invalid request: `{path}`: {message}" if path
                               else f"{what}: invalid request: {message}", span)

    def _expect(self, node: Any, expect: Any, spans: dict[Path_, Span], what: str) -> bool:
        if expect is None or expect == {}:
            self.diags.add("AIGW702", f"the `expect` of {what} is empty: it checks nothing", self.span(node),
                           help="write the decision it must get, e.g. `expect: {verdict: allow}`")
            return False
        keys = self.mapping(node, EXPECT_KEYS, "`expect`")
        if not isinstance(expect, Mapping) or len(keys) != len(expect):
            return False
        _key_spans(self, node, (), spans)
        if "error" in keys:
            others = [k for k in keys if k != "error"]
            if others:
                self.diags.add("AIGW701", f"`expect` has `error` and `{others[0]}`", self.span(keys[others[0]][0]),
                               help="`error` expects the request to be rejected: there is no decision "
                               "to check the other keys against")
            if not str(expect["error"]).strip():
                self.diags.add("AIGW702", "`error` is empty: any rejection would match",
                               self.span(keys["error"][1]), help="write a part of the expected message")
        if "reason_contains" in keys and not str(expect["reason_contains"]):
            self.diags.add("AIGW702", "`reason_contains` is empty: every reason contains it",
                           self.span(keys["reason_contains"][1]))
        if "verdict" in keys and expect["verdict"] not in VERDICTS:
            verdict = expect["verdict"]
            self.diags.add("AIGW701", f"`verdict` is `allow` or `deny`, not `{verdict}`",
                           self.span(keys["verdict"][1]),
                           help=did_you_mean(str(verdict), VERDICTS) if isinstance(verdict, str) else None)
        routing = keys.get("routing", (None, None))[1]
        for name, sub in (("routing", routing), ("served", _child(routing, "served"))):
            if sub is not None and not (name == "served" and getattr(sub, "value", "") in ("null", "~", "")):
                self.mapping(sub, ROUTING_KEYS[name], f"`expect.{'routing.' if name == 'served' else ''}{name}`")
        if "errors" in keys and not isinstance(expect["errors"], (int, list)) or \
                isinstance(expect.get("errors"), bool):
            self.diags.add("AIGW701", "`errors` is a count or a list", self.span(keys["errors"][1]))
        compiled = self.compiled
        if compiled is not None and isinstance(expect.get("rule"), str):
            labels = [r.label for r in compiled.all_rules()]
            if expect["rule"] not in labels:
                self.diags.add("AIGW705", f"the policy has no rule `{expect['rule']}`", self.span(keys["rule"][1]),
                               help=did_you_mean(expect["rule"], labels)
                               or f"its rules are {', '.join(f'`{x}`' for x in labels) or 'none'}")
        if compiled is not None and isinstance(expect.get("limits"), Mapping):
            from yaml.nodes import MappingNode

            limits_node = keys["limits"][1]
            if isinstance(limits_node, MappingNode):
                for key_node, _ in limits_node.value:
                    name = key_node.value
                    if name not in compiled.limits:
                        self.diags.add("AIGW705", f"the policy has no limit `{name}`", self.span(key_node),
                                       help=did_you_mean(str(name), compiled.limits)
                                       or f"its limits are {', '.join(f'`{x}`' for x in compiled.limits) or 'none'}")
        return True


def _child(node: Any, key: str) -> Any:
    """The value node of ``key`` in a mapping node (None: not a mapping, or no such key)."""
    from yaml.nodes import MappingNode

    return next((v for k, v in node.value if k.value == key), None) if isinstance(node, MappingNode) else None


def _key_spans(reader: _Reader, node: Any, path: Path_, spans: dict[Path_, Span]) -> None:
    """The span of every key and list item below ``node``, by path (for failure locations)."""
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            sub = (*path, key_node.value)
            spans.setdefault(sub, reader.span(key_node))
            _key_spans(reader, value_node, sub, spans)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            spans.setdefault(sub, reader.span(item))
            _key_spans(reader, item, sub, spans)


def _find(node: Any, path: list[str]) -> Any:
    """The node at a dotted request path, or the deepest one found."""
    from yaml.nodes import MappingNode, SequenceNode

    for part in path:
        if isinstance(node, MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                return node
            node = hit[0] if part == path[-1] else hit[1]
        elif isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            return node
    return node


def _size(node: Any, memo: dict[int, int]) -> int:
    """Nodes below ``node`` counting every alias expansion, in time linear in the document."""
    from yaml.nodes import MappingNode, SequenceNode

    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once
    total = 1
    if isinstance(node, SequenceNode):
        total += sum(_size(n, memo) for n in node.value)
    elif isinstance(node, MappingNode):
        total += sum(_size(k, memo) + _size(v, memo) for k, v in node.value)
    memo[key] = total
    return total


def _kind(node: Any) -> str:
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"`{node.value}`" if node.value else "empty"


# ---------------------------------------------------------------------------------------
# running


def _run_case(case: _Case, compiled: Any, plain: Any, exercised: set[tuple[str, str]],
              index: bool | None, source: Source) -> list[str]:
    from ..limits import MemoryStore
    from .runner import Engine

    # the traced engine (no index) gives coverage; the indexed engine must agree with it
    engines = [Engine(plain, store=MemoryStore(), trace=True)]
    if index is not False:
        engines.append(Engine(compiled, store=MemoryStore(), trace=False))
    failures: list[str] = []
    clock = time.time()  # one clock for every engine: a step without `now` reads it once
    for n, step in enumerate(case.steps):
        where = f"step {n + 1}: " if len(case.steps) > 1 else ""
        request, expect = step.request, step.expect
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
        at = _at(step, (), source)
        if "error" in expect:
            if not isinstance(first, str):
                failures.append(f"{at}{where}expected the request to be rejected ({expect['error']}), "
                                f"got {first['verdict']} {first['status_code']}")
                failures.append(f"  actual:   {_summary(first)}")
            elif str(expect["error"]) not in first:
                failures.append(f"{at}{where}expected an error containing `{expect['error']}`, got: {first}")
            continue
        if isinstance(first, str):
            failures.append(f"{at}{where}{first}")
            continue
        for other in got[1:]:
            if other != first:
                failures.append(f"{at}{where}the indexed and unindexed evaluations disagree")
        found = list(_match(expect, first))
        failures.extend(f"{_at(step, path, source)}{where}{message}" for path, message in found)
        if found:
            failures.append(f"  expected: {_expected(expect)}")
            failures.append(f"  actual:   {_summary(first)}")
    return failures


def _at(step: _Step, path: Path_, source: Source) -> str:
    """``file:line:col: `` of the deepest key of ``path`` written in the step's ``expect``."""
    while path not in step.spans and path:
        path = path[:-1]
    span = step.spans.get(path)
    return f"{span}: " if span is not None else ""


_SHOWN = ("verdict", "status_code", "rule", "reason", "reason_contains")


def _expected(expect: Mapping[str, Any]) -> str:
    parts = [f"{k} {json.dumps(expect[k], default=str)}" for k in _SHOWN if k in expect]
    others = [k for k in expect if k not in _SHOWN]
    if others:
        parts.append(f"and {', '.join(others)}")
    return ", ".join(parts)


def _summary(got: Mapping[str, Any]) -> str:
    """The actual decision, always with its rule and reason: what the author needs to see."""
    rule = json.dumps(got.get("rule"))
    return (f"verdict {json.dumps(got.get('verdict'))}, status_code {got.get('status_code')}, "
            f"rule {rule}, reason {json.dumps(got.get('reason'))}")


def match(expect: Any, got: Mapping[str, Any]) -> list[str]:
    """Differences between an ``expect`` mapping and a decision's JSON (subset match)."""
    return [f"{_dotted(path)}: {message}" if path else message for path, message in _match(expect, got)]


def _dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _match(expect: Any, got: Mapping[str, Any]) -> Iterator[tuple[Path_, str]]:
    if not isinstance(expect, Mapping):
        yield (), "`expect` must be a mapping"
        return
    for key, want in expect.items():
        if key == "reason_contains":
            if str(want) not in (got.get("reason") or ""):
                yield (key,), f"reason: expected it to contain `{want}`, got `{got.get('reason')}`"
            continue
        if key == "limits" and isinstance(want, Mapping):
            by_name = {e["name"]: e for e in got.get("limits") or ()}
            for name, w in want.items():
                if name not in by_name:
                    ran = ", ".join(f"`{n}`" for n in by_name) or "none"
                    yield (key, name), f"limits.{name}: expected the limit to run, it did not (ran: {ran})"
                else:
                    yield from _sub(w, by_name[name], (key, name))
            continue
        if key == "errors" and isinstance(want, int) and not isinstance(want, bool):
            if len(got.get("errors") or ()) != want:
                yield (key,), f"errors: expected {want}, got {len(got.get('errors') or ())}: {got.get('errors')}"
            continue
        if key in ("served_model", "attempts"):  # a routed request's served model, attempts made
            routing = got.get("routing") or {}
            served = routing.get("served") or {}
            have = (len(routing.get("attempts") or ()) if key == "attempts" else
                    served.get("model") if ":" not in str(want) else f"{served.get('provider')}:{served.get('model')}")
            if not routing or have != want:
                yield (key,), f"{key}: expected {json.dumps(want)}, got {json.dumps(have if routing else 'not routed')}"
            continue
        if key == "headers":  # the gateway's answer headers
            yield from _sub(want, ((got.get("response") or {}).get("headers") or {}), (key,))
            continue
        if key not in got:
            yield (key,), f"{key}: not in the decision"
            continue
        yield from _sub(want, got[key], (key,))


def _sub(want: Any, got: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    name = _dotted(path)
    if isinstance(want, Mapping):
        if not isinstance(got, Mapping):
            yield path, f"{name}: expected a map, got {json.dumps(got, default=str)}"
            return
        for k, w in want.items():
            if k not in got:
                hint = did_you_mean(str(k), [str(g) for g in got])
                has = f"; {hint}" if hint else f"; it has {', '.join(f'`{g}`' for g in got) or 'nothing'}"
                yield (*path, k), f"{name}.{k}: not in the decision (expected {json.dumps(w, default=str)}){has}"
            else:
                yield from _sub(w, got[k], (*path, k))
        return
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            yield path, f"{name}: expected {json.dumps(want, default=str)}, got {json.dumps(got, default=str)}"
            return
        for i, (w, g) in enumerate(zip(want, got)):
            yield from _sub(w, g, (*path, i))
        return
    if isinstance(want, (int, float)) and not isinstance(want, bool) and isinstance(got, (int, float)) \
            and not isinstance(got, bool):
        if abs(want - got) > 1e-9 * max(1.0, abs(want)):
            yield path, f"{name}: expected {want}, got {got}"
        return
    if want != got:
        yield path, f"{name}: expected {json.dumps(want, default=str)}, got {json.dumps(got, default=str)}"
