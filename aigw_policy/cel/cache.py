"""The persistent program cache: compiled code on disk, keyed by content hash + engine version.

One file per program, ``<dir>/<key>.celc``, or one per batch of programs compiled together
(``compile_conditions``, a policy's expressions), ``<dir>/<key>.celb``: the marshal'd code
object of each generated module plus how to rebuild its constants and helpers (no pickle: a cache file can only hold
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

__all__ = ["default_dir", "engine_version", "has_batch", "load", "load_batch", "record", "save", "save_batch"]

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


def _path(directory: str | os.PathLike[str], key: str, suffix: str = "celc") -> str:
    return os.path.join(directory, f"{key[:40]}-{engine_version()}.{suffix}")


def record(gen: Generated, code: object, extra: tuple) -> tuple | None:
    """What is stored for one program: ``(name, source, code, recipes, function_keys,
    line_spans, extra)``; None if a constant cannot be rebuilt without pickle."""
    if any(r is None for r in gen.recipes.values()):
        return None
    return (
        gen.name, gen.source, code, tuple(gen.recipes.items()), tuple(gen.function_keys.items()),
        tuple(gen.line_spans.items()), extra,
    )  # fmt: skip


def _write(directory: str | os.PathLike[str], path: str, payload: tuple) -> bool:
    try:
        data = marshal.dumps((_FORMAT, engine_version(), *payload))
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


def _read(path: str, size: int) -> tuple | None:
    try:
        with open(path, "rb") as f:
            data = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(data, tuple) or len(data) != size or data[0] != _FORMAT or data[1] != engine_version():
        return None
    return data[2:]


def save(directory: str | os.PathLike[str], key: str, gen: Generated, code: object, extra: tuple) -> bool:
    """Write one compiled program; False (silently) if it cannot be cached or written."""
    rec = record(gen, code, extra)
    return rec is not None and _write(directory, _path(directory, key), rec)


def load(directory: str | os.PathLike[str], key: str) -> tuple | None:
    """A cached record ``(name, source, code, recipes, function_keys, line_spans, extra)``."""
    return _read(_path(directory, key), 9)


def save_batch(directory: str | os.PathLike[str], key: str, records: dict[str, tuple]) -> bool:
    """Write many programs (expression key -> :func:`record`) as one file: creating files is
    what costs most on many file systems (~1 ms each), reading one is cheap."""
    return _write(directory, _path(directory, key, "celb"), (tuple(records.items()),))


def has_batch(directory: str | os.PathLike[str], key: str) -> bool:
    return os.path.exists(_path(directory, key, "celb"))


def load_batch(directory: str | os.PathLike[str], key: str) -> dict[str, tuple] | None:
    """The records of a batch written by :func:`save_batch`, by expression key."""
    data = _read(_path(directory, key, "celb"), 3)
    if data is None or not isinstance(data[0], tuple):
        return None
    try:
        return dict(data[0])
    except (TypeError, ValueError):
        return None


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
