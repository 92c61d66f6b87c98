"""Diagnostics are data: collected, sorted, capped, and raised once at the API edge."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches

from .codes import CODES, Severity
from .source import Span

__all__ = [
    "Diagnostic",
    "Diagnostics",
    "PolicyError",
    "Severity",
    "did_you_mean",
]

MAX_DIAGNOSTICS = 100


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable code, a severity, a span, a one-line message and optional help.

    Messages are lowercase, without a final period, with user input in backticks.
    """

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    severity: Severity = field(default=Severity.ERROR)
    related: tuple[tuple[str, Span], ...] = ()
    """Other places that explain this one (the first of two duplicates), each with a note."""

    @classmethod
    def make(
        cls, code: str, message: str, span: Span | None = None, help: str | None = None,
        related: tuple[tuple[str, Span], ...] = (),
    ) -> Diagnostic:
        return cls(code, message, span, help, CODES[code].severity, related)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        span = self.span
        if span is None:
            return ("", 0, 0, self.code)
        return (span.file or "", span.start, span.end, self.code)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "help": self.help,
            "span": self.span.to_dict() if self.span else None,
        }

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.severity.value}[{self.code}]: {self.message}"


class Diagnostics:
    """A collector of diagnostics for one stage run."""

    __slots__ = ("_counted", "_errors", "items")

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._counted = 0  # items[:_counted] hold _errors errors: counting is linear overall
        self._errors = 0

    def add(
        self, code: str, message: str, span: Span | None = None, help: str | None = None,
        related: tuple[tuple[str, Span], ...] = (),
    ) -> Diagnostic:
        diagnostic = Diagnostic.make(code, message, span, help, related)
        self.items.append(diagnostic)
        return diagnostic

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def error_count(self) -> int:
        """How many errors have been collected (each diagnostic is looked at once)."""
        items = self.items
        if len(items) < self._counted:  # the list was replaced or cut: count afresh
            self._counted = self._errors = 0
        self._errors += sum(1 for d in items[self._counted:] if d.is_error)
        self._counted = len(items)
        return self._errors

    @property
    def has_errors(self) -> bool:
        return self.error_count > 0

    def sorted(self) -> list[Diagnostic]:
        return sort_diagnostics(self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise PolicyError(self.sorted())

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by file and position, drop exact duplicates, cap the count."""
    seen: set[tuple[object, ...]] = set()
    unique: list[Diagnostic] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.code, d.message, d.span)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique[:MAX_DIAGNOSTICS]


class PolicyError(Exception):
    """A policy could not be loaded. ``diagnostics`` is never empty."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        if not diagnostics:
            raise ValueError("PolicyError needs at least one diagnostic")
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        first = self.diagnostics[0]
        more = len(self.diagnostics) - 1
        suffix = f" (and {more} more)" if more else ""
        super().__init__(f"{first}{suffix}")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A help line naming the closest candidate, if one is close enough. A candidate that
    differs only in case and underscores comes first (ngrok's first releases wrote
    `req.URL` and `conn.Geo.CountryCode` for today's `req.url` and `conn.geo.country_code`)."""
    pool = list(candidates)
    folded = _fold(word)
    same = [c for c in pool if _fold(c) == folded]
    matches = same[:1] or get_close_matches(word, pool, n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def _fold(name: str) -> str:
    return name.replace("_", "").lower()
