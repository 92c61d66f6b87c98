"""The persistent program cache: compiled code on disk, keyed by content hash + engine version.

One file per program, ``<dir>/<key>.celc``: the marshal'd code object of the generated
module plus how to rebuild its constants and helpers (no pickle: a cache file can only hold
code, strings, numbers and tuples). The key hashes the expression's source, declarations and
name with :func:`engine_version`, which covers the Python version and the source of this
package, so a new engine never reads an old file. Every I/O error is a cache miss: an
unwritable or corrupt directory only makes compiling slower.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from .codegen import Generated

__all__ = ["default_dir", "engine_version", "load", "save"]

_FORMAT = 1


def default_dir() -> Path:
    """``$AIGW_POLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/aigw-policy/cel`` (``~/.cache``)."""
    explicit = os.environ.get("AIGW_POLICY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aigw-policy" / "cel"


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The engine version tag: package version, Python version, hash of this package's code."""
    from .api import ENGINE_VERSION

    h = hashlib.sha256(f"{ENGINE_VERSION}|{sys.version}|{_FORMAT}".encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        try:
            h.update(path.read_bytes())
        except OSError:
            pass
    return h.hexdigest()[:16]


def _path(directory: str | os.PathLike[str], key: str) -> str:
    return os.path.join(directory, f"{key[:40]}-{engine_version()}.celc")


def save(directory: str | os.PathLike[str], key: str, gen: Generated, code: object, extra: tuple) -> bool:
    """Write one compiled program; False (silently) if it cannot be cached or written."""
    if any(r is None for r in gen.recipes.values()):
        return False  # a constant we cannot rebuild without pickle
    record = (
        _FORMAT, engine_version(), gen.name, gen.source, code,
        tuple(gen.recipes.items()), tuple(gen.function_keys.items()),
        tuple(gen.line_spans.items()), extra,
    )  # fmt: skip
    try:
        data = marshal.dumps(record)
        path = _path(directory, key)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except (OSError, ValueError):
        return False
    return True


def load(directory: str | os.PathLike[str], key: str) -> tuple | None:
    """A cached record ``(name, source, code, recipes, function_keys, line_spans, extra)``."""
    try:
        with open(_path(directory, key), "rb") as f:
            record = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(record, tuple) or len(record) != 9 or record[0] != _FORMAT or record[1] != engine_version():
        return None
    return record[2:]


def rebuild_constant(recipe: tuple) -> object:
    from .runtime import stdlib
    from .runtime.ops import TYPES
    from .runtime.values import UInt

    kind, value = recipe
    if kind == "uint":
        return UInt(value)
    if kind == "float" or kind == "frozenset":
        return value
    if kind == "type":
        return TYPES[value]
    if kind == "re":
        return stdlib.regex_matcher(value)
    raise ValueError(kind)
