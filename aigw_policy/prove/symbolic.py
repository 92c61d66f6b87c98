"""The SPEC §5 environment as typed symbolic variables, and the values expressions take.

Every CEL value is a :class:`Sym`: a kind, a z3 term (or a Python list for a list literal, a
:class:`SymMap` for a declared map) and an error flag (CEL's error value: a missing field,
an index out of range, an overflow). What cannot be modelled exactly is ``opaque``: a fresh,
unconstrained value and error, so any answer that depends on it is over-approximated (a
proof stays sound; a witness is checked by running the engine).

The variables range over everything a request can carry (no assumption the engine does not
guarantee); what a witness can be built from is a separate set of constraints,
:meth:`SymEnv.realizable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from ..env.declarations import POLICY_VARIABLES
from ..providers.classify import OPERATIONS, PROVIDERS
from .values import char_range, str_val, text_of

__all__ = ["ALWAYS_PRESENT", "API_MAX_OUTPUT", "MAX_COUNT", "MAX_INPUT_TOKENS", "WITNESS_NOW", "Sym", "SymEnv", "SymMap", "prompt_length", "string_list"]



def string_list() -> Any:
    """The sort of a list of strings (made per use: questions each run in a fresh context)."""
    return z3.SeqSort(z3.StringSort())

INT_MIN, INT_MAX = -(2**63), 2**63 - 1

API_MAX_OUTPUT = 2**53 - 1
"""The largest output cap the classifier takes from a body (providers/request_fields.py):
``ai.max_output_tokens`` of one request, and of a batch creation (its requests' caps summed,
a sum past it refused: providers/classify.py), so reading it in CEL never fails."""

MAX_COUNT = 2**57 - 1
"""More messages than a body can hold: a body is in memory, and no 64-bit machine addresses
2^57 bytes (x86-64's five-level paging, the widest, gives 2^57); each message takes a byte."""

MAX_INPUT_TOKENS = 2**60 - 1
"""More input tokens than a body can yield: the estimate is at most four per body byte (a
message's overhead of four tokens takes at least three bytes, ``{},``; text a quarter per
byte, or one with tiktoken; tool definitions re-serialized at most twelve bytes per byte,
over four), so under 2^59 for a body under 2^57 bytes."""

WITNESS_NOW = "2026-01-01T00:00:00Z"
"""The time every witness is at (its ``now``)."""

ALWAYS_PRESENT = frozenset({
    "req.method", "req.url", "req.headers", "req.id", "time.now", "identity.labels",
    "ai.provider", "ai.operation", "ai.model", "ai.stream", "ai.max_output_tokens",
    "ai.input_tokens", "ai.messages", "ai.tools", "ai.prompt",
})
"""Variables the activation always holds in the request phase (env/activation.py); any
other may be absent, and reading it then is an error."""



def prompt_length() -> Any:
    """The length of a prompt the policy does not read (the witness writes that many ``x``)."""
    return z3.Int("?prompt-length")


_SCALARS = {"string": z3.StringSort, "int": z3.IntSort, "bool": z3.BoolSort}


@dataclass
class SymMap:
    """A declared map (``identity.labels``, ``req.headers``): one presence flag and value per
    literal key the policy reads; ``values`` is ``string`` or ``list`` (list of strings)."""

    name: str
    values: str
    entries: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def entry(self, key: str) -> tuple[Any, Any]:
        got = self.entries.get(key)
        if got is None:
            tag = f"{self.name}[{key!r}]"
            sort = z3.StringSort() if self.values == "string" else string_list()
            got = (z3.Bool(f"has {tag}"), z3.Const(tag, sort))
            self.entries[key] = got
        return got


@dataclass(frozen=True)
class Sym:
    """A symbolic CEL value: ``kind`` is bool, int, string, list (a z3 sequence of strings),
    literal_list (``val`` a Python list of :class:`Sym`), map (``val`` a :class:`SymMap`) or
    opaque."""

    kind: str
    val: Any
    err: Any


class SymEnv:
    """The symbolic request: variables created on first read, the state actions change
    (``ai.model`` after ``set-model``...), fresh values for what is not modelled."""

    def __init__(self) -> None:
        self.vars: dict[str, Sym] = {}
        self.present: dict[str, Any] = {}
        self.maps: dict[str, SymMap] = {}
        self.state: dict[str, Sym] = {}
        self.version: tuple[Any, ...] = ()
        """The changes made to what expressions read so far, each named by what it is (the
        variable and the term it now holds, the action and when it ran), never by where: two
        policies that make the same changes read the same unknowns (``prove equiv``)."""
        self.facts: list[Any] = []
        self._fresh = 0
        self._memo: dict[tuple[Any, ...], Sym] = {}
        self._kept: list[Any] = []
        self.opaque_reads: set[str] = set()
        self.surrogate_texts: dict[int, tuple[Any, Any]] = {}  # term id: (text, its flag)
        self.hints: list[Any] = []
        """Choices a witness makes where the encoding is an over-approximation but one case of
        it is exact (a text without capitals for ``lowerAscii``, a client address whose
        ``restrict-ips`` outcome is computed): constraints on witnesses only, never on proofs."""
        self.limit_reads: set[str] = set()
        """The limits whose state (``limits[name]``) an expression reads."""
        self.limit_buckets: dict[str, tuple[float, str, Any]] = {}
        """Each limit's capacity, unit and bucket (a string term): a witness's ``state``."""
        self.implied: set[str] = set()
        """Variables the policy does not read, made for a witness's sake (the prompt behind
        the token estimate): a witness fills them in itself (``x`` repeated)."""

    # -- fresh values --------------------------------------------------------------------

    def fresh(self, kind: str, hint: str = "v") -> Sym:
        self._fresh += 1
        name = f"?{hint}#{self._fresh}"
        err = z3.Bool(f"{name}.err")
        if kind in _SCALARS:
            val = z3.Const(name, _SCALARS[kind]())
            if kind == "int":
                self.facts.append(z3.And(val >= INT_MIN, val <= INT_MAX))
            return Sym(kind, val, err)
        if kind == "list":
            return Sym(kind, z3.Const(name, string_list()), err)
        return Sym("opaque", None, err)

    def unknown(self, node: Any, kind: str) -> Sym:
        """A value not modelled: the same fresh value for the same expression while the state
        it may read is unchanged (so ``x`` and ``!x`` stay consistent)."""
        key = (node, kind, self.version)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self.fresh(kind, "u")
        return got

    def bump(self, change: tuple[Any, ...]) -> None:
        """The state changed (an action set the model, vars...): unknowns are read afresh,
        the same ones after the same changes."""
        self.version = (*self.version, change)

    def term_id(self, term: Any) -> Any:
        """A name for ``term`` in :attr:`version`: z3's id of the term, kept alive (an id is
        z3's to give again once its term is freed), so the same term in both policies of
        ``prove equiv`` has the same id and no other term ever takes it."""
        if not isinstance(term, z3.AstRef):  # no term to compare: a name of its own
            self._fresh += 1
            return ("fresh", self._fresh)
        self._kept.append(term)
        return term.get_id()

    def restart(self) -> None:
        """Back to the request as it came (the next policy of ``prove equiv``)."""
        self.state = {}
        self.version = ()

    # -- variables -----------------------------------------------------------------------

    def variable(self, name: str) -> Sym:
        """The value of declared variable ``name`` (its presence in ``err``)."""
        self.implied.discard(name)
        if name in self.state:
            return self.state[name]
        got = self.vars.get(name)
        if got is not None:
            return got
        ctype = POLICY_VARIABLES[name]
        present = z3.BoolVal(True) if name in ALWAYS_PRESENT else z3.Bool(f"has {name}")
        self.present[name] = present
        err = z3.Not(present)
        if ctype in _SCALARS:
            val = z3.Const(name, _SCALARS[ctype]())
            got = Sym(ctype, val, err)
            if ctype == "int":
                got = self._bounded(name, got)
        elif ctype == "list(string)":
            got = Sym("list", z3.Const(name, string_list()), err)
        elif ctype in ("map(string, string)", "map(string, list(string))"):
            m = SymMap(name, "string" if ctype == "map(string, string)" else "list")
            self.maps[name] = m
            got = Sym("map", m, err)
        else:
            self.opaque_reads.add(name)
            got = self.fresh("opaque", name)
        if name == "ai.operation":  # classify: detected or overridden, always one of these
            self.facts.append(z3.Or(*[got.val == str_val(o) for o in OPERATIONS]))
        if name == "ai.provider":  # an override must name a known provider; else detected or "unknown"
            self.facts.append(z3.Or(*[got.val == str_val(p) for p in (*PROVIDERS, "unknown")]))
        self.vars[name] = got
        if name == "ai.input_tokens":  # the estimate comes from these: a witness must choose them
            for implied in ("ai.prompt", "ai.messages"):
                if implied not in self.vars:
                    self.variable(implied)
                    self.implied.add(implied)
        return got

    def _bounded(self, name: str, got: Sym) -> Sym:
        """Int variable ``name`` within what a request can hold: the request's token counts
        are the classifier's (an output cap an API takes, a batch's summed caps: both at most
        :data:`API_MAX_OUTPUT`; an estimate from a body in memory), other ``ai.*`` ints are
        non-negative, the rest any int64."""
        val = got.val
        top = {"ai.max_output_tokens": API_MAX_OUTPUT, "ai.input_tokens": MAX_INPUT_TOKENS,
               "ai.messages": MAX_COUNT}.get(name, INT_MAX)
        self.facts.append(z3.And(val >= (0 if name.startswith("ai.") else INT_MIN), val <= top))
        return got

    def lone_surrogate(self, s: Any) -> Any:
        """Whether text ``s`` holds a lone surrogate (RE2 then refuses to match it): false for
        a plain literal, taken through ``? :`` (a set-model's choice of text), and otherwise a
        free flag, one per text term (a regular-language encoding is exact but stalls the
        string solver, and so did one uninterpreted function of the text); a witness takes
        texts without one."""
        if z3.is_string_value(s) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text_of(s)):
            return z3.BoolVal(False)
        if z3.is_app_of(s, z3.Z3_OP_ITE):
            return z3.If(s.arg(0), self.lone_surrogate(s.arg(1)), self.lone_surrogate(s.arg(2)))
        got = self.surrogate_texts.get(s.get_id())
        if got is None:
            got = self.surrogate_texts[s.get_id()] = (s, z3.Bool(f"?lone-surrogate#{len(self.surrogate_texts)}"))
        return got[1]

    def is_present(self, name: str) -> Any:
        self.variable(name)
        return self.present.get(name, z3.BoolVal(True))

    def set_state(self, name: str, value: Sym) -> None:
        self.state[name] = value
        self.bump(("state", name, self.term_id(value.val), self.term_id(value.err)))

    # -- witnesses -----------------------------------------------------------------------

    def buildable(self) -> list[Any]:
        """What every witness needs and the solver settles at once (equalities and flags): a
        provider the ``ai`` override can name (not ``unknown``), the URL's path and host, no
        header name with a capital (the activation lower-cases names), texts without a lone
        surrogate, and the :attr:`hints`. A rule's first model is asked with these, so that it can be built as it is."""
        out: list[Any] = [z3.Not(flag) for _, flag in self.surrogate_texts.values()]
        out.extend(self.hints)
        if "ai.provider" in self.vars:
            out.append(z3.Or(*[self.vars["ai.provider"].val == str_val(p) for p in PROVIDERS]))
        for name in ("req.url.path", "req.host"):  # a witness's URL always has them
            if name in self.present:
                out.append(self.present[name])
        headers = self.maps.get("req.headers")
        for key, (present, _) in (headers.entries.items() if headers is not None else ()):
            if key != key.lower():
                out.append(z3.Not(present))
        return out

    def realizable(self, *, strict_tokens: bool) -> list[Any]:
        """Constraints under which a REQUEST.json can be built for the model (witness.py
        builds an OpenAI chat request, with the ``ai`` override for provider and operation).

        ``strict_tokens``: the prompt is printable ASCII without spaces and the input token
        estimate is tied to it (the default counter: a byte count over four, one per message
        plus four); otherwise the estimate is pinned later from a first build.
        """
        out: list[Any] = self.buildable()
        v = self.vars
        no_space = z3.Star(char_range("!", "~"))

        def s(name: str) -> Any:
            return v[name].val if name in v else None

        if s("ai.model") is not None:
            out.append(z3.Length(s("ai.model")) <= 200)
        msgs = v["ai.messages"].val if "ai.messages" in v else None
        prompt = s("ai.prompt")
        implied = "ai.prompt" in self.implied
        # an implied prompt is only a length (an Int: a long string stalls the string solver)
        length = prompt_length() if implied else z3.Length(prompt) if prompt is not None else None
        if implied:
            out.append(z3.And(prompt_length() >= 0, prompt_length() <= 400_000))
        if msgs is not None:
            out.append(msgs <= 8)
            if length is not None:
                out.append(z3.Implies(msgs == 0, length == 0))
        if prompt is not None and not implied:
            if strict_tokens:
                out.append(z3.InRe(prompt, no_space))
            out.append(z3.Length(prompt) <= 50_000)
        tools = s("ai.tools")
        if tools is not None:
            out.append(z3.Length(tools) <= 4)
        if strict_tokens and "ai.input_tokens" in v:
            if tools is not None:
                out.append(z3.Length(tools) == 0)
            n = msgs if msgs is not None else z3.IntVal(1)
            size = length if length is not None else z3.IntVal(0)
            tok = z3.If(size == 0, 0, (size + 3) / 4)
            out.append(v["ai.input_tokens"].val == tok + 4 * n)
        if s("req.method") is not None:
            out.append(z3.Or(*[s("req.method") == str_val(m)
                               for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]))
        if s("req.url.path") is not None:
            out.append(z3.InRe(s("req.url.path"), z3.Concat(
                z3.Re(str_val("/")), z3.Star(z3.Union(char_range("a", "z"), char_range("0", "9"), z3.Re(str_val("/")),
                                             z3.Re(str_val("-")), z3.Re(str_val("_")), z3.Re(str_val(".")))))))
        if s("req.host") is not None:
            out.append(z3.InRe(s("req.host"), z3.Plus(z3.Union(char_range("a", "z"), char_range("0", "9")))))
        for m in self.maps.values():
            for key, (present, value) in m.entries.items():
                if m.values != "string":
                    out.append(z3.And(z3.Length(value) >= 1, z3.Length(value) <= 3))
                    for i in range(3):
                        out.append(z3.Implies(z3.Length(value) > i, z3.And(
                            z3.InRe(value[i], z3.Star(char_range("!", "~"))), z3.Length(value[i]) <= 200)))
        return out
