"""Regular expressions on Google's RE2 (linear time, no catastrophic backtracking): a pattern is
compiled once and cached; a bad pattern is a :class:`CelError`, never a line on stderr."""

from __future__ import annotations

from .values import CelError

__all__ = ["RE_ENGINE", "regex"]

try:  # pragma: no cover - exercised when google-re2 is installed
    import re2 as _re2

    _QUIET = _re2.Options()
    _QUIET.log_errors = False  # a bad pattern is the CelError below, not a line on stderr

    def _compile_re(pattern: str):  # type: ignore[no-untyped-def]
        try:
            return _re2.compile(pattern, _QUIET)
        except Exception as e:  # noqa: BLE001
            why = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
            raise CelError(f"invalid regex {pattern!r}: {why}", "invalid_argument") from None

    RE_ENGINE = "re2"
except ImportError:  # pragma: no cover
    import re as _re

    def _compile_re(pattern: str):  # type: ignore[no-untyped-def]
        try:
            return _re.compile(pattern)
        except Exception as e:  # noqa: BLE001
            raise CelError(f"invalid regex {pattern!r}: {e}", "invalid_argument") from None

    RE_ENGINE = "re"

_RE_CACHE: dict[str, object] = {}


def regex(pattern: str):  # type: ignore[no-untyped-def]
    r = _RE_CACHE.get(pattern)
    if r is None:
        r = _compile_re(pattern)
        if len(_RE_CACHE) > 1000:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = r
    return r
