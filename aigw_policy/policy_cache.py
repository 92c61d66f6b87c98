"""The whole-policy cache: what reading a policy text gave (its IR and every diagnostic),
on disk, so that reading the same text again (a restart of ``serve``, a reload that changed
nothing, ``lint`` run twice) skips the parse, the IR build and the lint passes.

One file per read, ``<dir>/<key>.aigwp``, holding the policy, its diagnostics and the parsed
CEL of each of its expressions (given back to the parser's memo on a hit: the compiler asks
for every one of them, and parsing them again was most of a compile from the program cache),
and what each reads (:func:`~aigw_policy.analysis.free_vars.of_text`: walking them again was
a tenth of it).
Its key is a SHA-256 of everything the result
depends on (:func:`key`): the text's exact code points, the format it is read as, the name its
spans carry, the lint options, and the engine tag (:func:`engine_tag`: this package's code and
grammar files, the Python version, the lark and PyYAML versions). Nothing else is read by
``syntax/`` or ``analysis/``: no environment variable, no prices file; the SPEC §5
declarations are code, so in the tag.

The record is a pickle, so it is trusted only as the compile cache trusts its files
(:mod:`aigw_policy.cel.cache`: the same private key, private directory, ``O_NOFOLLOW``): the
HMAC is checked before ``pickle.loads`` sees a byte, and the record must name the key it was
asked for. Anything else is a miss, and the text is read again. The directory is kept under
:data:`MAX_BYTES` (the least recently written records go first).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import lark
import yaml

from pydantic import BaseModel

from .analysis import free_vars
from .cel import ast, parser
from .cel import cache as cel_cache
from .diagnostics import Diagnostic
from .ir import Expr, Policy
from .source import Span

__all__ = ["MAX_BYTES", "MIN_CHARS", "SUFFIX", "compiled_dir", "default_dir", "engine_tag", "key", "load", "save"]

SUFFIX = ".aigwp"
MAX_BYTES = 256 * 1024 * 1024
"""The most the directory's records may hold (a 10,000-rule policy's record is ~4.5 MB)."""
MIN_CHARS = 64 * 1024
"""Texts shorter than this are read, not cached: reading them is about as fast as a record."""
_FORMAT = 4


def default_dir() -> Path | None:
    """``$AIGW_POLICY_CACHE_DIR/policy``, else ``$XDG_CACHE_HOME/aigw-policy/policy``
    (``~/.cache``); None when ``AIGW_POLICY_CACHE`` is ``off``."""
    if os.environ.get("AIGW_POLICY_CACHE", "").lower() == "off":
        return None
    explicit = os.environ.get("AIGW_POLICY_CACHE_DIR")
    return Path(explicit) / "policy" if explicit else cel_cache.default_dir().parent / "policy"


def compiled_dir() -> Path | None:
    """Where ``serve`` keeps the compiled programs of the policies it loads (the compile
    cache's default directory), so that a restart compiles from the cache too; None when
    ``AIGW_POLICY_CACHE`` is ``off``."""
    if os.environ.get("AIGW_POLICY_CACHE", "").lower() == "off":
        return None
    return cel_cache.default_dir()


@lru_cache(maxsize=1)
def engine_tag() -> str:
    """A hash of what reads a policy: this package's code and grammars, Python, lark, PyYAML."""
    return cel_cache.code_hash(Path(__file__).resolve().parent,
                               f"{_FORMAT}|{sys.version}|{lark.__version__}|{yaml.__version__}")


def key(text: str, fmt: str, name: str | None, options: object) -> str:
    """The key of reading ``text`` as ``fmt`` under ``name`` with lint ``options`` (a
    dataclass whose repr names every field)."""
    h = hashlib.sha256(repr((engine_tag(), fmt, name, repr(options))).encode())
    h.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _file(k: str) -> str:
    return k[:48] + SUFFIX


def load(directory: str | os.PathLike[str], k: str) -> tuple[Policy | None, list[Diagnostic]] | None:
    """The cached result of the read keyed ``k``; None on any miss."""
    data = cel_cache.load_bytes(directory, _file(k))
    if data is None:
        return None  # absent, or not authentic: never unpickled
    try:
        value = pickle.loads(data)
    except Exception:  # an authentic record of an incompatible build: a miss  # noqa: BLE001
        return None
    if not (isinstance(value, tuple) and len(value) == 7 and value[0] == _FORMAT and value[1] == k):
        return None
    policy, diagnostics, nodes, reads, sizes = value[2:]
    if not (policy is None or isinstance(policy, Policy)) or not isinstance(diagnostics, list) \
            or not isinstance(nodes, dict) or not isinstance(reads, dict) or not isinstance(sizes, dict):
        return None
    parser.remember(nodes, sizes)
    free_vars.remember(reads)
    return policy, diagnostics


def save(directory: str | os.PathLike[str], k: str, policy: Policy | None, diagnostics: list[Diagnostic]) -> bool:
    """Write the result of a read under ``k``, then bound the directory; False if it could
    not be written (the cache is then simply not used)."""
    try:
        nodes = _parsed(policy) if policy is not None else {}
        shared: dict[free_vars.FreeVars, free_vars.FreeVars] = {}  # equal ones pickled once (most texts read alike)
        reads = {text: shared.setdefault(fv, fv) for text, fv in ((t, free_vars.free_vars(n)) for t, n in nodes.items())}
        sizes = {text: ast.count_nodes(n, sys.maxsize) for text, n in nodes.items()}
        out = io.BytesIO()
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump((_FORMAT, k, policy, diagnostics, nodes, reads, sizes))
        data = out.getvalue()
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return False
    done = cel_cache.save_bytes(directory, _file(k), data)
    if done:
        cel_cache.prune(directory, SUFFIX, MAX_BYTES)
    return done


_AST_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls) if f.name != "span")
    for cls in vars(ast).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == ast.__name__
}

_SPANNED = {cls for cls in _AST_FIELDS if "span" in {f.name for f in dataclasses.fields(cls)}}


class _Pickler(pickle.Pickler):
    """Spans and CEL nodes (frozen dataclasses with slots, most of a record) pickled as calls
    of their constructors: unpickling them through ``__setstate__`` took most of a load.

    A CEL node's span is relative to its own text (the parser's memo parses each text alone),
    so most texts' nodes carry spans equal to other texts' (``identity.team`` at 0-13): each
    distinct span is pickled once and shared by every node that carries it (a span is an
    immutable value; nothing asks for its identity). At 10,000 rules that is 89 spans for
    110,000 nodes, a third of unpickling the record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spans: dict[tuple, Span] = {}
        self._fields_sets: dict[frozenset[str], frozenset[str]] = {}

    def reducer_override(self, obj: object) -> object:
        cls = type(obj)
        if cls is Span:  # made by tuple's own constructor, no Python frame per span
            return _tuple_new, (Span, tuple(obj))  # type: ignore[arg-type]
        names = _AST_FIELDS.get(cls)
        if names is None:
            if isinstance(obj, BaseModel) and obj.__pydantic_extra__ is None and obj.__pydantic_private__ is None:
                written = frozenset(obj.__pydantic_fields_set__)
                return _model, (cls, obj.__dict__, self._fields_sets.setdefault(written, written))
            return NotImplemented
        if cls in _SPANNED:
            span: Span | None = obj.span  # type: ignore[attr-defined]
            if span is not None:
                span = self._spans.setdefault(tuple(span), span)
            return _node, (cls, tuple(getattr(obj, name) for name in names), span)
        return cls, tuple(getattr(obj, name) for name in names)


def _node(cls: type, args: tuple, span: Span | None) -> object:
    return cls(*args, span=span)


_new = object.__new__
_set = object.__setattr__
_tuple_new = tuple.__new__


def _model(cls: type[BaseModel], values: dict[str, Any], written: frozenset[str]) -> BaseModel:
    """A frozen IR model as pydantic's ``__setstate__`` makes it, without the state dict
    built and read per object (40,000 of them at 10,000 rules); the set of the fields
    written is pickled once per distinct set."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(written))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _parsed(policy: Policy) -> dict[str, ast.Expr]:
    """The parsed CEL of every expression of ``policy`` that parses (from the parser's memo:
    reading the policy parsed each of them)."""
    nodes: dict[str, ast.Expr] = {}
    for text in _texts(policy):
        if text not in nodes:
            try:
                nodes[text] = parser.parse(text)
            except (parser.CelSyntaxError, RecursionError):
                pass
    return nodes


def _texts(value: object) -> list[str]:
    """The source of every :class:`Expr` in an IR value, in document order."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Expr):
            found.append(item.source)
        elif isinstance(item, BaseModel):
            stack.extend(reversed([getattr(item, name) for name in type(item).model_fields]))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return found
