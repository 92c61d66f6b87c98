"""The whole-policy cache (aigw_policy/policy_cache.py): a read from it is the cold read, field
for field; every input of the read is in the key; a record that is not authentic, or names
another read, is recomputed and never unpickled; the directory stays bounded."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from collections.abc import Iterator
from pathlib import Path

import pytest

from aigw_policy import loader, policy_cache
from aigw_policy.analysis import LintOptions
from aigw_policy.cel import cache as cel_cache
from aigw_policy.diagnostics import Diagnostic
from aigw_policy.source import Span

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    p for folder in (ROOT / "examples", ROOT / "tests" / "data" / "broken") for p in folder.iterdir()
    if p.suffix in (".aigw", ".yaml", ".yml", ".json")
)
POLICY = 'policy {\n  on request {\n    rule "r" {\n      when ai.model == "gpt-4o"\n      deny 403\n    }\n  }\n}\n'


@pytest.fixture(autouse=True)
def every_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cache texts of any length (the real threshold would leave these small texts out)."""
    monkeypatch.setattr(policy_cache, "MIN_CHARS", 0)


class Reads:
    """Counts the reads that were computed (not taken from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = loader._read  # noqa: SLF001

        def counted(*args):  # type: ignore[no-untyped-def]
            self.count += 1
            return real(*args)

        monkeypatch.setattr(loader, "_read", counted)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    return Reads(monkeypatch)


def span_fields(span: Span | None) -> tuple | None:
    if span is None:
        return None
    return (span.start, span.end, span.line, span.column, span.end_line, span.end_column, span.file)


def fields(d: Diagnostic) -> tuple:
    """Every field of a diagnostic, the spans' file names (out of equality) included."""
    return (d.code, d.message, d.help, d.severity, span_fields(d.span),
            tuple((note, span_fields(s)) for note, s in d.related))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cached_read_is_the_cold_read(path: Path, tmp_path: Path, reads: Reads) -> None:
    cold_policy, cold = loader.read_file(path, cache_dir=None)
    first_policy, first = loader.read_file(path, cache_dir=tmp_path)
    cached_policy, cached = loader.read_file(path, cache_dir=tmp_path)
    assert reads.count == 2 or (cold and cold[0].code == "AIGW007")  # the cold read and the first
    assert [fields(d) for d in first] == [fields(d) for d in cold]
    assert [fields(d) for d in cached] == [fields(d) for d in cold]
    assert cached_policy == cold_policy and repr(cached_policy) == repr(cold_policy)
    assert list(models(cached_policy)) == list(models(cold_policy))


def models(value: object, path: str = "") -> Iterator[tuple[str, str, frozenset[str], tuple | None]]:
    """Every IR model in a value: where, its class, the fields written (pydantic's fields set:
    what ``convert`` keeps) and its span with the file (both out of the models' equality)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        yield path, type(value).__name__, frozenset(value.model_fields_set), span_fields(getattr(value, "span", None))
        for name, item in value.__dict__.items():
            if isinstance(item, Span) or (name == "field_spans" and isinstance(item, dict)):
                spans = item if isinstance(item, dict) else {"": item}
                yield f"{path}.{name}", "spans", frozenset(spans), tuple(span_fields(s) for s in spans.values())
            else:
                yield from models(item, f"{path}.{name}")
    elif isinstance(value, (list, tuple)) and not isinstance(value, Span):
        for i, item in enumerate(value):
            yield from models(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from models(item, f"{path}[{k!r}]")


def test_the_threshold_leaves_small_texts_out(tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_cache, "MIN_CHARS", len(POLICY) + 1)
    for _ in range(2):
        loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2 and not any(tmp_path.glob("*.aigwp"))
    monkeypatch.setattr(policy_cache, "MIN_CHARS", len(POLICY))
    for _ in range(2):
        loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 3 and len(list(tmp_path.glob("*.aigwp"))) == 1


CHANGES: dict[str, tuple[str, dict]] = {
    "text": (POLICY.replace("403", "429"), {}),
    "text, one space more": (POLICY + " ", {}),
    "name": (POLICY, {"name": "other.aigw"}),
    "format": (POLICY, {"format": "yaml"}),
    "max_cost": (POLICY, {"options": LintOptions(max_cost=1)}),
    "runtime_lookups": (POLICY, {"options": LintOptions(runtime_lookups=True)}),
    "complete": (POLICY, {"options": replace(LintOptions(), complete=False)}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_input_of_a_read_is_in_the_key(change: str, tmp_path: Path, reads: Reads) -> None:
    loader.read(POLICY, cache_dir=tmp_path)
    loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 1
    text, kwargs = CHANGES[change]
    _, diagnostics = loader.read(text, cache_dir=tmp_path, **kwargs)
    assert reads.count == 2
    _, cold = loader.read(text, cache_dir=None, **kwargs)
    assert [fields(d) for d in diagnostics] == [fields(d) for d in cold]


def test_a_new_engine_misses(tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch) -> None:
    loader.read(POLICY, cache_dir=tmp_path)
    monkeypatch.setattr(policy_cache, "engine_tag", lambda: "another engine")
    loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2


def test_the_engine_tag_covers_the_readers_and_the_lint_passes() -> None:
    tag = policy_cache.engine_tag()
    assert len(tag) == 64 and tag != cel_cache.engine_version()


def _record(tmp_path: Path) -> Path:
    (found,) = tmp_path.glob("*.aigwp")
    return found


def test_a_tampered_record_is_recomputed(tmp_path: Path, reads: Reads) -> None:
    loader.read(POLICY, cache_dir=tmp_path)
    record = _record(tmp_path)
    blob = bytearray(record.read_bytes())
    blob[-5] ^= 1
    record.write_bytes(bytes(blob))
    policy, diagnostics = loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2 and policy is not None and diagnostics == loader.read(POLICY, cache_dir=None)[1]


class Trap:
    """Unpickling this sets a flag: a record's pickle was run."""

    ran = False

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_spring, ())


def _spring() -> None:
    Trap.ran = True


def test_a_foreign_record_is_never_unpickled(tmp_path: Path, reads: Reads) -> None:
    loader.read(POLICY, cache_dir=tmp_path)
    record = _record(tmp_path)
    head = record.read_bytes()[:8 + 32]  # magic + a MAC of other bytes
    record.write_bytes(head + pickle.dumps(Trap()))
    os.chmod(record, 0o600)
    Trap.ran = False
    loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2 and not Trap.ran


def test_a_record_under_another_users_key_is_ignored(tmp_path: Path, reads: Reads,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cel_cache, "_key", lambda: b"\x01" * 32)
    loader.read(POLICY, cache_dir=tmp_path)
    monkeypatch.setattr(cel_cache, "_key", lambda: b"\x02" * 32)
    loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2


def test_an_authentic_record_of_another_read_is_ignored(tmp_path: Path, reads: Reads) -> None:
    """A record moved to another key's file fails its MAC (the name is MAC'd); one written
    under a key's name but naming another key (a bug, or an old format) is a miss too."""
    other = POLICY.replace("403", "429")
    loader.read(other, cache_dir=tmp_path)
    (theirs,) = tmp_path.glob("*.aigwp")
    key = policy_cache.key(POLICY, "dsl", None, LintOptions())
    theirs.rename(tmp_path / (key[:48] + policy_cache.SUFFIX))
    loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 2
    wrong = pickle.dumps((1, "another key", None, []))
    cel_cache.save_bytes(tmp_path, key[:48] + policy_cache.SUFFIX, wrong)
    policy, _ = loader.read(POLICY, cache_dir=tmp_path)
    assert reads.count == 3 and policy is not None


def test_a_symlinked_directory_is_not_used(tmp_path: Path, reads: Reads) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    for _ in range(2):
        loader.read(POLICY, cache_dir=link)
    assert reads.count == 2 and not any(real.iterdir())


def test_a_directory_others_can_write_is_not_used(tmp_path: Path, reads: Reads) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    for _ in range(2):
        loader.read(POLICY, cache_dir=shared)
    assert reads.count == 2 and not any(shared.glob("*.aigwp"))


def test_the_directory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: Reads) -> None:
    loader.read(POLICY, cache_dir=tmp_path)
    one = _record(tmp_path).stat().st_size
    monkeypatch.setattr(policy_cache, "MAX_BYTES", 3 * one + one // 2)
    texts = [POLICY.replace("403", str(400 + i)) for i in range(8)]
    for i, text in enumerate(texts):
        loader.read(text, cache_dir=tmp_path)
        written = tmp_path / (policy_cache.key(text, "dsl", None, LintOptions())[:48] + policy_cache.SUFFIX)
        os.utime(written, ns=(i, i))  # the write order, whatever the clock's resolution
    records = list(tmp_path.glob("*.aigwp"))
    assert len(records) == 3 and sum(p.stat().st_size for p in records) <= policy_cache.MAX_BYTES
    before = reads.count
    loader.read(texts[-1], cache_dir=tmp_path)  # the newest is kept
    assert reads.count == before


def test_the_default_directory_and_switching_it_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIGW_POLICY_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AIGW_POLICY_CACHE", raising=False)
    assert policy_cache.default_dir() == tmp_path / "policy"
    monkeypatch.delenv("AIGW_POLICY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert policy_cache.default_dir() == tmp_path / "xdg" / "aigw-policy" / "policy"
    monkeypatch.setenv("AIGW_POLICY_CACHE", "off")
    assert policy_cache.default_dir() is None


def test_serve_compiles_through_the_compile_cache_unless_switched_off(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """``serve`` gives its engines the compile cache's default directory, so a restart compiles
    from it; ``AIGW_POLICY_CACHE=off`` switches both caches off."""
    from aigw_policy.cli import serve

    monkeypatch.delenv("AIGW_POLICY_CACHE", raising=False)
    monkeypatch.setenv("AIGW_POLICY_CACHE_DIR", str(tmp_path))
    assert serve._compiled_dir() == str(tmp_path)  # noqa: SLF001
    monkeypatch.setenv("AIGW_POLICY_CACHE", "off")
    assert serve._compiled_dir() is None  # noqa: SLF001


def test_a_hit_gives_the_parser_each_expression_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiler asks the parser for every expression again: on a hit the record's nodes
    answer, equal to a fresh parse, and nothing is parsed."""
    from aigw_policy.cel import parser

    loader.read(POLICY, cache_dir=tmp_path)
    parser.clear_memo()
    loader.read(POLICY, cache_dir=tmp_path)

    def no_parse(*args):  # type: ignore[no-untyped-def]
        raise AssertionError("parsed again")

    monkeypatch.setattr(parser, "_parse", no_parse)
    node = parser.parse('ai.model == "gpt-4o"')
    monkeypatch.undo()
    parser.clear_memo()
    assert node == parser.parse('ai.model == "gpt-4o"')


def deep(value: object) -> object:
    """A value with every field, spans (out of equality) and their file names included."""
    import dataclasses

    if isinstance(value, Span):
        return span_fields(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple((f.name, deep(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, (list, tuple)):
        return tuple(deep(v) for v in value)
    return value


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.parent.name == "examples"], ids=lambda p: p.name)
def test_the_nodes_of_a_hit_are_a_fresh_parse_spans_included(path: Path, tmp_path: Path) -> None:
    """The record shares each distinct CEL span among the nodes that carry it: every node the
    parser is given back is the fresh parse of its text, field for field, spans included."""
    from aigw_policy.cel import parser

    text = path.read_text()
    loader.read(text, name=str(path), cache_dir=tmp_path)
    parser.clear_memo()
    policy, _ = loader.read(text, name=str(path), cache_dir=tmp_path)
    texts = policy_cache._texts(policy)  # noqa: SLF001
    assert parser._given  # noqa: SLF001 - the record's nodes, handed to the parser
    assert texts
    given = [parser.parse(t) for t in dict.fromkeys(texts) if _parses(t)]
    parser.clear_memo()
    fresh = [parser.parse(t) for t in dict.fromkeys(texts) if _parses(t)]
    assert [deep(n) for n in given] == [deep(n) for n in fresh]


def _parses(text: str) -> bool:
    from aigw_policy.cel import parser

    try:
        parser.parse(text)
    except (parser.CelSyntaxError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.parent.name == "examples"], ids=lambda p: p.name)
def test_a_hit_gives_what_each_text_reads_walked_again_nowhere(path: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The record keeps what each text reads (``free_vars.of_text``): a compile of a hit walks
    no node again, and what it is told equals a fresh walk of each text's node."""
    from aigw_policy import compile_policy
    from aigw_policy.analysis import free_vars
    from aigw_policy.cel import parser

    text = path.read_text()
    loader.read(text, name=str(path), cache_dir=tmp_path)
    free_vars.remember({})
    parser.clear_memo()
    policy, _ = loader.read(text, name=str(path), cache_dir=tmp_path)
    assert policy is not None
    texts = [t for t in dict.fromkeys(policy_cache._texts(policy)) if _parses(t)]  # noqa: SLF001
    walked: list[object] = []
    real = free_vars.free_vars

    def counted(node: object) -> object:
        walked.append(node)
        return real(node)  # type: ignore[arg-type]

    monkeypatch.setattr(free_vars, "free_vars", counted)
    told = {t: free_vars.of_text(t, parser.parse(t)) for t in texts}
    compile_policy(policy)
    nodes = [parser.parse(t) for t in texts]
    assert texts and not [n for n in walked if any(n is m for m in nodes)]  # each text's reads came from the record
    # (parts of a node may be walked: the index reads what a rule's conjuncts read)
    monkeypatch.undo()
    assert told == {t: real(parser.parse(t)) for t in texts}


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.parent.name == "examples"], ids=lambda p: p.name)
def test_a_hit_gives_each_texts_size_counted_again_nowhere(path: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The record keeps each text's node count (``parser.node_count``, what ``check_size``
    adds up): a compile of a hit counts no text's node, and what it is told is the count."""
    from aigw_policy import compile_policy
    from aigw_policy.cel import ast as cel_ast, parser

    text = path.read_text()
    loader.read(text, name=str(path), cache_dir=tmp_path)
    parser.clear_memo()
    policy, _ = loader.read(text, name=str(path), cache_dir=tmp_path)
    assert policy is not None
    texts = [t for t in dict.fromkeys(policy_cache._texts(policy)) if _parses(t)]  # noqa: SLF001
    counted: list[object] = []
    real = cel_ast.count_nodes

    def counting(node: object, limit: int) -> int:
        counted.append(node)
        return real(node, limit)  # type: ignore[arg-type]

    compile_policy(policy)  # the programs, compiled once (compiling a text counts its nodes)
    monkeypatch.setattr(cel_ast, "count_nodes", counting)
    compile_policy(policy)  # the programs from memory: only check_size's counts are left
    told = {t: parser.node_count(t, parser.parse(t), 10**9) for t in texts}
    nodes = [parser.parse(t) for t in texts]
    assert texts and not [n for n in counted if any(n is m for m in nodes)]  # (parts may be: the index's)
    monkeypatch.undo()
    assert told == {t: real(parser.parse(t), 10**9) for t in texts}
    assert all(parser.node_count(t, parser.parse(t), 2) == min(told[t], 3) for t in texts)  # bounded as counted
