"""A forwarded request's state while it waits for ``complete()``: only what the response
phase and the final decision read, packed into one ``bytes`` (about 1 KB for a request with
three limits, against ~8 KB for the live evaluation state).

The state is plain values (dicts, lists, tuples, strings, numbers), so it is packed with
:mod:`marshal`, which reads back about twice as fast as pickle; a state holding anything
else (a value marshal refuses) is pickled, and one pickle refuses too is kept live.

Kept: the limit entries and charges (to reconcile; the charges, immutable, beside the bytes),
effects, errors and notes so far, the classified request without its prompt (its length is
kept), the identity (the validated object itself, beside the bytes: never changed), and
the activation keys that some response-phase text (a response rule, a limit's ``cost``) could
read, by the free variables of its parsed CEL (``CompiledPolicy.response_reads``); ``limits``
and ``actions`` (what the request phase published) start empty again when no such text
reads them. The
prompt, the request headers, URL parts and other request variables that no response-phase
text reads are dropped. A request evaluated with ``trace=True`` keeps its
trace too.

A parked request is never mutated: each ``complete()`` revives a fresh evaluation state from
it, so a completion that fails (a store or ledger error, a cancelled task) leaves the request
completable.

While few requests wait (fewer than :data:`LIVE_PENDING`, as at a gateway's low concurrency),
a request whose response phase runs no rule and keeps no trace is not packed: its live state
is kept as it is, and each ``complete()`` revives a fork of it (:func:`fork`: new containers
for what the response phase writes, the rest shared), which costs a fraction of packing and
unpacking. The live state holds the whole request (its prompt too) while it waits, as the
gateway does anyway for a request in flight; past :data:`LIVE_PENDING` waiting requests, new
ones are packed.
"""

from __future__ import annotations

import marshal
import pickle
from dataclasses import fields
from operator import attrgetter
from typing import Any

from ..analysis.free_vars import FreeVars
from ..limits.model import Charge
from ..providers import AiRequest, PriceBook
from .compile import CompiledAction, CompiledPolicy, CompiledRule
from .flow import Flow, LimitEntry, Stop
from .trace import TraceRecorder

__all__ = ["LIVE_PENDING", "MAX_KEPT", "Kept", "Parked", "fork", "park"]

LIVE_PENDING = 64
"""Below this many waiting requests, a request :func:`park` may keep live (no response rule,
no trace, not routed) is kept live and forked at ``complete()``; at most this many are live
at once (plus one per thread parking at that instant). 0: every request is packed (the
tests compare the two)."""

_AI_FIELDS = tuple(f.name for f in fields(AiRequest))
_PROMPT = _AI_FIELDS.index("prompt")
_ALWAYS = frozenset(("ai", "vars"))  # the final decision reads them
_ai_values = attrgetter(*_AI_FIELDS)  # the AiRequest's fields, in order: AiRequest(*values) again
# a limit entry packed as its fields' values (pickling the slotted dataclass itself is ~10x slower)
_entry_values = attrgetter(*(f.name for f in fields(LimitEntry)))
_PICKLE = 0x80  # the first byte of a pickle (protocol 2+); a marshal'd tuple's is ( ) or those | 0x80 (0xA8, 0xA9)


class Parked:
    """One waiting request. ``flow`` is set only when its state could not be packed (a value
    pickle refuses): the live state is then kept as it was."""

    __slots__ = ("blob", "charges", "explicit", "flow", "identity", "live", "now", "stop", "trace")

    def __init__(self, now: float, explicit: bool, blob: bytes | None, stop: Stop | None,
                 trace: list[dict[str, Any]] | None, flow: Flow | None, identity: Any = None,
                 charges: tuple[tuple[CompiledRule, CompiledAction, Charge], ...] = (),
                 live: Flow | None = None) -> None:
        self.now = now
        self.explicit = explicit
        self.blob = blob
        self.stop = stop
        self.trace = trace
        self.flow = flow
        self.identity = identity  # never changed (a frozen model, or checked fields): kept as it is, not packed
        self.charges = charges  # (rule, action, charge) of the compiled policy: immutable too
        self.live = live  # the unpacked state, never changed: each revive forks it

    def state(self) -> tuple[Any, ...]:
        """The packed state, unpacked (fresh values each time)."""
        blob = self.blob
        assert blob is not None
        return pickle.loads(blob) if blob[0] == _PICKLE else marshal.loads(blob)  # type: ignore[no-any-return]

    def revive(self, rid: str, cp: CompiledPolicy, prices: PriceBook) -> Flow:
        """A fresh evaluation state, ready for the response phase."""
        live = self.live
        if live is not None:
            return fork(live)
        if self.blob is None:
            assert self.flow is not None
            return self.flow
        (act, ai_values, entries, effects, errors, notes, store_error, reserved,
         lowered, model, provider, deferred, prompt_chars, would_deny) = self.state()
        if "limits" not in act:
            act["limits"] = {}
        if "actions" not in act:
            act["actions"] = {"ngrok": {}}
        assert self.identity is not None
        flow = Flow(cp, rid, self.now, act, AiRequest(*ai_values), self.identity, prices, False)
        if self.trace is not None:
            flow.rec = TraceRecorder(list(self.trace))
        flow.limit_entries = {values[0]: LimitEntry(*values) for values in entries}
        flow.charges = list(self.charges)
        flow.effects = effects
        flow.errors = errors
        flow.notes = notes
        flow.store_error = store_error
        flow.stop = self.stop
        flow.reserved = reserved
        flow.lowered_output = lowered
        flow.model = model
        flow.provider = provider
        flow.deferred = deferred
        flow.prompt_chars = prompt_chars
        flow.would_deny = would_deny
        return flow


def _read_later(key: str, reads: FreeVars) -> bool:
    """Could a response-phase text read activation key ``key``? (Its free variables name the
    key, a path below it or one above it.)"""
    return key in _ALWAYS or reads.reads(key)


MAX_KEPT = 4096
"""Activation keys whose answer :func:`park` remembers (``Kept.answers``); past it, it asks again."""


class Kept:
    """What :func:`park` remembers across the requests of one compiled policy (the caller
    keeps one per policy): whether a response-phase text can read each activation key (the
    same keys come with every request, and each answer is a walk over the policy's reads),
    and the last activation's keys with those of them kept."""

    __slots__ = ("answers", "last")

    def __init__(self) -> None:
        self.answers: dict[str, bool] = {}
        self.last: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # replaced whole: threads read it safely


def park(flow: Flow, explicit: bool, kept: Kept | None = None, keep_live: bool = False) -> Parked:
    """Pack ``flow`` (which is not changed) for a later ``complete()``. A routed request
    keeps its live state: its attempts change it, and after ``on_error: continue`` the rest
    of the request phase reads all of it. ``keep_live``: few requests wait, keep ``flow`` unpacked
    when its response phase only settles (no response rule, no trace; see :func:`fork`)."""
    if flow.route is not None:
        return Parked(flow.now, explicit, None, flow.stop, None, flow)
    if keep_live and not flow.cp.response_rules and not flow.rec.on:
        return Parked(flow.now, explicit, None, flow.stop, None, None, flow.identity, (), flow)
    reads = flow.cp.response_reads
    if kept is None:
        kept = Kept()
    live = flow.act
    keys = tuple(live)
    last = kept.last
    if keys == last[0]:  # the same keys as the last request: the usual case
        act = {k: live[k] for k in last[1]}
    else:
        act = _kept_keys(live, reads, kept.answers)
        kept.last = (keys, tuple(act))
    ai = flow.ai
    ai_values = _ai_values(ai)
    prompt_chars = flow.prompt_chars
    keep_prompt = kept.answers.get("ai.prompt")  # asked above when the activation has the key
    if keep_prompt is None:
        keep_prompt = _read_later("ai.prompt", reads)
    if not keep_prompt:
        prompt_chars = len(ai.prompt) if prompt_chars is None else prompt_chars
        ai_values = ai_values[:_PROMPT] + ("",) + ai_values[_PROMPT + 1:]
        if "ai" in act:  # (a routed request's; the others' comes from the kept ai values)
            act["ai"] = {**act["ai"], "prompt": ""}
        act.pop("ai.prompt", None)
    charges = tuple(flow.charges)
    entries = [_entry_values(e) for e in flow.limit_entries.values()]
    state = (act, ai_values, entries, flow.effects, flow.errors,
             flow.notes, flow.store_error, flow.reserved, flow.lowered_output, flow.model,
             flow.provider, flow.deferred, prompt_chars, flow.would_deny)
    trace = list(flow.trace) if flow.trace is not None else None
    try:
        blob = marshal.dumps(state)
    except ValueError:  # a value marshal cannot write
        try:
            blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return Parked(flow.now, explicit, None, flow.stop, trace, flow)
    return Parked(flow.now, explicit, blob, flow.stop, trace, None, flow.identity, charges)


def _kept_keys(act: dict[str, Any], reads: FreeVars, kept: dict[str, bool]) -> dict[str, Any]:
    """The activation keys a response-phase text could read, asking (and remembering, up to
    :data:`MAX_KEPT`) for the keys not answered yet."""
    out = {}
    for k, v in act.items():
        keep = kept.get(k)
        if keep is None:
            keep = _read_later(k, reads)
            if len(kept) < MAX_KEPT:
                kept[k] = keep
        if keep:
            out[k] = v
    return out


_FLOW_SLOTS = Flow.__slots__
_namespace: dict[str, Any] = {"LimitEntry": LimitEntry}
# every slot assigned in one function, written out from Flow.__slots__ (Flow.__init__ sets
# them all)
exec("def _copy_slots(flow, new):\n" + "".join(f"    new.{n} = flow.{n}\n" for n in _FLOW_SLOTS), _namespace)
_copy_slots = _namespace["_copy_slots"]
# and a limit entry's, the same way (LimitEntry(*values), through its __init__, took 1.8x as long)
_ENTRY_SLOTS = tuple(f.name for f in fields(LimitEntry))
exec("def _copy_entry(e, new=object.__new__, cls=LimitEntry):\n    n = new(cls)\n"
     + "".join(f"    n.{n} = e.{n}\n" for n in _ENTRY_SLOTS) + "    return n\n", _namespace)
_copy_entry = _namespace["_copy_entry"]


def fork(flow: Flow) -> Flow:
    """A copy of a parked live ``flow`` for one completion, ``flow`` itself left as it was:
    new containers for what a response phase without rules writes (the activation's top
    level, the limit entries, errors, notes and charges), every other value shared (the
    response phase assigns those, never changes them in place). :func:`park` keeps a flow
    live only when its response phase is of that kind."""
    new = Flow.__new__(Flow)
    _copy_slots(flow, new)
    new.act = dict(flow.act)
    new.limit_entries = {k: _copy_entry(e) for k, e in flow.limit_entries.items()}
    new.errors = list(flow.errors)
    new.notes = list(flow.notes)
    new.charges = list(flow.charges)
    return new
