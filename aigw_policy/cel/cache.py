"""The persistent program cache: compiled code on disk, keyed by content hash + engine version.

One file per program, ``<dir>/<key>-<engine>.celc``, or one per batch of programs compiled
together (``compile_conditions``, a policy's expressions), ``<dir>/<key>-<engine>.celb``:
the marshal'd code object of each generated module plus how to rebuild its constants and
helpers (no pickle: a record holds code, strings, numbers and tuples). The engine tag
(:func:`engine_version`) covers the Python version, this package's code and the grammar
files, so a new engine never reads an old file.

A cache file holds code that is run, so it is trusted only if it is authentic:

* every file carries an HMAC-SHA256 of its name and contents under a 256-bit key that only
  this user holds (:func:`key_file`: created ``0600``, never in the cache directory itself);
  the MAC is checked *before* ``marshal.loads`` sees a byte;
* the directory must be a real directory (opened with ``O_NOFOLLOW``), owned by this user
  and writable by no one else; files are opened through it with ``O_NOFOLLOW`` and must be
  regular files owned by this user;
* the caller checks that a record is for the source it asked for
  (``Environment._from_record``).

:func:`save_bytes` and :func:`load_bytes` give these checks to other files (the whole-policy
cache, :mod:`aigw_policy.policy_cache`); :func:`prune` bounds a directory's size.

Anything else (and every I/O error) is a cache miss: the program is compiled again, the
file is never executed. Where the key cannot be kept (no writable home), a random key per
process is used: the cache then works within the process only.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import secrets
import stat
import sys
from functools import lru_cache
from pathlib import Path

from . import grammar
from .codegen import Generated
from .runtime import stdlib
from .runtime.checks import TYPES
from .runtime.values import TypeValue, UInt

__all__ = ["ENGINE_VERSION", "code_hash", "default_dir", "engine_version", "has_batch", "key_file", "load",
           "load_batch", "load_bytes", "prune", "record", "save_batch", "save_bytes", "save_record"]

ENGINE_VERSION = "cel-py-1"
"""Part of every cache key (and of :func:`engine_version`)."""

_FORMAT = 2
_MAGIC = b"AIGWCEL\x02"
_MAC_SIZE = 32
_KEY_SIZE = 32
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_POSIX = _NOFOLLOW != 0 and hasattr(os, "geteuid")


def _cache_base() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aigw-policy"


def default_dir() -> Path:
    """``$AIGW_POLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/aigw-policy/cel`` (``~/.cache``)."""
    explicit = os.environ.get("AIGW_POLICY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return _cache_base() / "cel"


def key_file() -> Path:
    """Where the cache key is kept: ``$XDG_CACHE_HOME/aigw-policy/cache.key`` (``~/.cache``),
    whatever cache directory is used."""
    return _cache_base() / "cache.key"


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The engine version tag: package version, Python version, hash of this package's code
    and of the grammar files."""
    return code_hash(Path(__file__).resolve().parent, f"{ENGINE_VERSION}|{sys.version}|{_FORMAT}")[:16]


def code_hash(root: Path, seed: str) -> str:
    """SHA-256 of ``seed``, every ``*.py`` file under ``root`` and the grammar files: what
    changes when the code that made a cached thing changes."""
    h = hashlib.sha256(seed.encode())
    files = sorted(root.rglob("*.py")) + sorted(Path(grammar.GRAMMAR_DIR).resolve().glob("*.lark"))
    for path in files:
        try:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    return h.hexdigest()


# -- the key ---------------------------------------------------------------------------------
_KEYS: dict[str, bytes] = {}


def _key() -> bytes:
    """This user's cache key (read or created once per process and key file)."""
    path = str(key_file())
    key = _KEYS.get(path)
    if key is None:
        key = _read_or_create_key(path) or secrets.token_bytes(_KEY_SIZE)
        _KEYS[path] = key
    return key


def _read_or_create_key(path: str) -> bytes | None:
    if not _POSIX:
        return None
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        dfd = _open_dir(os.path.dirname(path))
    except OSError:
        return None
    if dfd is None:
        return None
    name = os.path.basename(path)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dfd)
        except FileNotFoundError:
            key = secrets.token_bytes(_KEY_SIZE)
            tmp = f".key-{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dfd)
            try:
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)  # never replaces a key
            except FileExistsError:
                pass  # another process made one first: use theirs
            finally:
                os.unlink(tmp, dir_fd=dfd)
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                return None
            key = os.read(fd, _KEY_SIZE + 1)
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    return key if len(key) == _KEY_SIZE else None


# -- directories and files -------------------------------------------------------------------
def _open_dir(directory: str | os.PathLike[str]) -> int | None:
    """A descriptor of ``directory`` if it is safe to trust: a real directory (not a
    symlink), owned by this user, writable by no one else. None otherwise."""
    if not _POSIX:
        return None
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.close(fd)
        return None
    return fd


def _mac(name: str, payload: bytes) -> bytes:
    return hmac.new(_key(), name.encode() + b"\0" + payload, hashlib.sha256).digest()


def _name(key: str, suffix: str = "celc") -> str:
    return f"{key[:40]}-{engine_version()}.{suffix}"


def _path(directory: str | os.PathLike[str], key: str, suffix: str = "celc") -> str:
    return os.path.join(directory, _name(key, suffix))


def record(gen: Generated, code: object, extra: tuple) -> tuple | None:
    """What is stored for one program: ``(name, source, code, recipes, function_keys,
    line_spans, extra)``; None if a constant cannot be rebuilt without pickle."""
    if any(r is None for r in gen.recipes.values()):
        return None
    return (
        gen.name, gen.source, code, tuple(gen.recipes.items()), tuple(gen.function_keys.items()),
        tuple(gen.line_spans.items()), extra,
    )  # fmt: skip


def _write(directory: str | os.PathLike[str], name: str, payload: tuple) -> bool:
    try:
        data = marshal.dumps((_FORMAT, engine_version(), *payload))
    except ValueError:
        return False
    return save_bytes(directory, name, data)


def save_bytes(directory: str | os.PathLike[str], name: str, data: bytes) -> bool:
    """Write ``data`` as file ``name`` of ``directory`` with its MAC (atomically: a temporary
    file renamed); False (silently) if it cannot be written."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return False
    dfd = _open_dir(directory)
    if dfd is None:
        return False
    tmp = f".tmp-{secrets.token_hex(8)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + _mac(name, data) + data)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
    except OSError:
        return False
    finally:
        os.close(dfd)
    return True


def load_bytes(directory: str | os.PathLike[str], name: str) -> bytes | None:
    """The data of file ``name`` of ``directory`` written by :func:`save_bytes`, if it is
    authentic (its MAC checked before anything looks at the data); None otherwise."""
    dfd = _open_dir(directory)
    if dfd is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                blob = f.read()
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    head, mac, data = blob[: len(_MAGIC)], blob[len(_MAGIC): len(_MAGIC) + _MAC_SIZE], blob[len(_MAGIC) + _MAC_SIZE:]
    if head != _MAGIC or not hmac.compare_digest(mac, _mac(name, data)):
        return None  # not ours, or changed since we wrote it
    return data


def prune(directory: str | os.PathLike[str], suffix: str, max_bytes: int) -> None:
    """Remove the least recently written files named ``*suffix`` of ``directory`` until
    they hold at most ``max_bytes``; I/O errors are ignored (another process may prune)."""
    dfd = _open_dir(directory)
    if dfd is None:
        return
    try:
        found = []
        for name in os.listdir(dfd):
            if name.endswith(suffix):
                try:
                    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                except OSError:
                    continue
                found.append((st.st_mtime_ns, name, st.st_size))
        total = sum(size for _, _, size in found)
        for _, name, size in sorted(found):
            if total <= max_bytes:
                break
            try:
                os.unlink(name, dir_fd=dfd)
            except OSError:
                pass
            total -= size
    except OSError:
        pass
    finally:
        os.close(dfd)


def _read(directory: str | os.PathLike[str], name: str, size: int) -> tuple | None:
    data = load_bytes(directory, name)
    if data is None:
        return None  # never unmarshalled
    try:
        value = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(value, tuple) or len(value) != size or value[0] != _FORMAT or value[1] != engine_version():
        return None
    return value[2:]


def save_record(directory: str | os.PathLike[str], key: str, rec: tuple) -> bool:
    """Write one :func:`record` under ``key``; False (silently) if it cannot be written."""
    return _write(directory, _name(key), (rec,))


def load(directory: str | os.PathLike[str], key: str) -> tuple | None:
    """A cached record ``(name, source, code, recipes, function_keys, line_spans, extra)``."""
    data = _read(directory, _name(key), 3)
    return data[0] if data is not None and isinstance(data[0], tuple) else None


MAX_BATCH_BYTES = 256 * 1024 * 1024
"""The most a directory's batch files may hold; the least recently written go first."""


def save_batch(directory: str | os.PathLike[str], key: str, records: dict[str, tuple]) -> bool:
    """Write many programs (expression key -> :func:`record`) as one file: creating files is
    what costs most on many file systems (~1 ms each), reading one is cheap. The directory's
    batches are kept under :data:`MAX_BATCH_BYTES` (a long-running ``serve`` writes one per
    policy version it loads)."""
    written = _write(directory, _name(key, "celb"), (tuple(records.items()),))
    if written:
        prune(directory, ".celb", MAX_BATCH_BYTES)
    return written


def has_batch(directory: str | os.PathLike[str], key: str) -> bool:
    return os.path.exists(_path(directory, key, "celb"))


def load_batch(directory: str | os.PathLike[str], key: str) -> dict[str, tuple] | None:
    """The records of a batch written by :func:`save_batch`, by expression key."""
    data = _read(directory, _name(key, "celb"), 3)
    if data is None or not isinstance(data[0], tuple):
        return None
    try:
        return dict(data[0])
    except (TypeError, ValueError):
        return None


def rebuild_constant(recipe: tuple) -> object:
    kind, value = recipe
    if kind == "uint":
        return UInt(value)
    if kind == "float" or kind == "frozenset":
        return value
    if kind == "type":
        return TYPES.get(value) or TypeValue(value)  # a type of no runtime class: `google.protobuf.Any`
    if kind == "re":
        return stdlib.regex_matcher(value)
    raise ValueError(kind)
