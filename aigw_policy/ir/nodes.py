"""The typed IR of a policy document: frozen pydantic models.

Every node carries a span; spans never take part in equality, so the same policy read from
the DSL and from YAML compares equal, and ``fmt`` can prove it did not change meaning.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

from ..source import Span
from .actions import ActionConfig

__all__ = ["Action", "Expr", "Node", "Phase", "Policy", "Rule", "PHASES", "SETTINGS"]

Phase = Literal["on_http_request", "on_http_response"]
PHASES: tuple[Phase, ...] = ("on_http_request", "on_http_response")

SETTINGS: dict[str, tuple[str, ...]] = {
    "default": ("allow", "deny"),
    "on_error": ("deny", "skip"),
    "store_failure": ("fail_closed", "fail_open"),
    "upstream_error": ("release", "charge_input"),
}
"""Document settings and their choices, the default first. The DSL spells a setting with
dashes (``store-failure fail_open``), YAML/JSON with underscores (``store_failure: fail_open``).
"""

_NOT_COMPARED = frozenset({"span", "field_spans", "name_span"})


class Node(BaseModel):
    """Base of IR nodes: frozen, no extra fields, spans out of equality."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    span: Span | None = Field(default=None, exclude=True, repr=False)

    _compared: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._compared = tuple(n for n in cls.model_fields if n not in _NOT_COMPARED)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._compared)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + tuple(repr(getattr(self, n)) for n in self._compared))


class Expr(Node):
    """A CEL expression as written. ``source`` is the exact text; ``span`` locates it."""

    source: str


class Action(Node):
    """One action of a rule: its type name and its typed config.

    ``field_spans`` maps config key paths (``"capacity"``, ``"headers.x-team"``,
    ``"bucket_key.0"``) to where they were written, for diagnostics.
    """

    type: str
    config: SerializeAsAny[ActionConfig]
    field_spans: dict[str, Span | None] = Field(default_factory=dict, exclude=True, repr=False)

    @property
    def terminating(self) -> bool:
        return self.config.TERMINATING

    def span_of(self, path: str) -> Span | None:
        return self.field_spans.get(path) or self.span


class Rule(Node):
    name: str | None = None
    expressions: tuple[Expr, ...] = ()
    actions: tuple[Action, ...] = ()
    on_error: Literal["deny", "skip"] | None = None
    mode: Literal["enforce", "shadow"] | None = None
    """``shadow``: the rule decides as if enforced, records ``would_deny`` and lets the request
    through (SPEC section 14); None (not written) and ``enforce``: it is enforced."""
    name_span: Span | None = Field(default=None, exclude=True, repr=False)


class Policy(Node):
    """A whole policy document.

    ``None`` means "not written": the engine applies the default (the first choice in
    :data:`SETTINGS`), and converters do not invent keys the author did not write. A phase
    is ``None`` when absent and ``()`` when written without rules (`on_http_response: []`).
    """

    name: str | None = None
    default: Literal["allow", "deny"] | None = None
    on_error: Literal["deny", "skip"] | None = None
    store_failure: Literal["fail_closed", "fail_open"] | None = None
    upstream_error: Literal["release", "charge_input"] | None = None
    shard_key: Expr | None = None
    """Which tenant a request belongs to, for the cluster store: a string CEL expression over
    the request phase (``identity.org``); every limit the request charges lives on the shard
    of its value (docs/limits.md, "cluster")."""
    on_http_request: tuple[Rule, ...] | None = None
    on_http_response: tuple[Rule, ...] | None = None

    def phase(self, phase: Phase) -> tuple[Rule, ...]:
        """The phase's rules; ``()`` whether the phase was written empty or not at all."""
        rules = self.on_http_request if phase == "on_http_request" else self.on_http_response
        return rules or ()

    def rules(self) -> list[tuple[Phase, Rule]]:
        return [(p, r) for p in PHASES for r in self.phase(p)]

