"""Raw action configs -> typed :class:`Action` nodes, with diagnostics on the way.

Shared by both surface forms, so a mistake gets the same code whichever form it is in.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from ..diagnostics import Diagnostic, Diagnostics, did_you_mean
from ..source import Span
from .actions import (
    ACTIONS,
    NGROK_ACTION_ALIASES,
    NGROK_RENAMED_KEYS,
    PERIODS,
    UNSUPPORTED_NGROK_ACTIONS,
    UNSUPPORTED_NGROK_KEYS,
    ActionConfig,
    field_kind,
)
from .nodes import Action
from .parts import part_of
from .raw import NOT_CONSTANT, REPORTED, RawList, RawMap, RawScalar, RawValue, kind_of

__all__ = ["NULL_ITEM", "NULL_READ", "build_action", "check_action_type", "choice_help", "duration_help"]

_TYPE_ERRORS = {
    "string_type", "int_type", "float_type", "bool_type", "tuple_type", "list_type",
    "dict_type", "int_from_float", "is_instance_of", "model_type", "none_required",
}
_RANGE_ERRORS = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short",
    "too_long", "string_too_short", "string_too_long",
}
_TYPE_WORDS = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number",
    "bool_type": "`true` or `false`", "tuple_type": "a list", "list_type": "a list",
    "dict_type": "a mapping", "int_from_float": "an integer", "model_type": "a mapping",
}


NULL_READ = ("a null is read as the key not written, as ngrok's (Go's) reader leaves a field "
             "it reads a null into at its zero value")
NULL_ITEM = "an item of a list cannot be null: write the item, or leave it out"


class _Builder:
    def __init__(self, type_name: str, config: type[ActionConfig], diags: Diagnostics,
                 anchor: Span | None) -> None:
        self.type_name = type_name
        self.config = config
        self.diags = diags
        self.anchor = anchor
        self.spans: dict[str, Span | None] = {}
        self.explained: set[str] = set()
        """Nested paths a diagnostic already explained (``providers.0.id`` after a
        misspelled ``ids``): no "missing required key" for them."""

    # raw -> plain data, by field kind -------------------------------------------------
    def data(self, raw: RawValue, path: str, *, template: bool) -> Any:
        self.spans[path] = raw.span
        if isinstance(raw, RawScalar):
            if raw.value is REPORTED:
                return _Invalid
            if raw.value is NOT_CONSTANT:
                if template:
                    return "${" + (raw.cel or "") + "}"
                self.diags.add(
                    "AIGW122",
                    f"`{path}` must be a constant value, not a CEL expression",
                    raw.span,
                    help="write a literal, or quote a string",
                )
                return _Invalid
            return raw.value
        if raw.cel is not None and self._not_constant(raw) and template:
            return "${" + raw.cel + "}"
        if isinstance(raw, RawList):
            return [self.data(item, f"{path}.{i}", template=template)
                    for i, item in enumerate(raw.items)]
        out: dict[str, Any] = {}
        for key, key_span, value in raw.items:
            self.spans[f"{path}.{key}:key"] = key_span
            out[key] = self.data(value, f"{path}.{key}", template=template)
        return out

    def _not_constant(self, raw: RawValue) -> bool:
        if isinstance(raw, RawScalar):
            return raw.value is NOT_CONSTANT
        if isinstance(raw, RawList):
            return any(self._not_constant(i) for i in raw.items)
        return any(self._not_constant(v) for _, _, v in raw.items)

    def cel(self, raw: RawValue, path: str) -> Any:
        self.spans[path] = raw.span
        if raw.cel is not None:
            return raw.cel
        if isinstance(raw, RawScalar):
            if isinstance(raw.value, str):
                return raw.value.strip()
            if isinstance(raw.value, (int, float)) and not isinstance(raw.value, bool):
                return str(raw.value)
        self.diags.add("AIGW122", f"`{path}` must be a CEL expression written as a string",
                       raw.span)
        return _Invalid

    def field(self, name: str, raw: RawValue, model: type[BaseModel] | None = None,
              path: str | None = None) -> Any:
        """The plain value of field ``name`` of ``model`` (the action's config unless given)
        written at ``path`` (``name`` unless nested), by the field's kind."""
        model = model or self.config
        path = path or name
        if isinstance(raw, RawScalar) and raw.value is None and raw.cel is None:
            self.spans[path] = raw.span
            return None  # the key not written (NULL_READ): an optional field's default
        nested = part_of(model, name)
        if nested is not None:
            return self.part_value(nested[0], nested[1], raw, path)
        kind = field_kind(model, name)
        if kind == "cel":
            return self.cel(raw, path)
        if kind == "cel_list":
            self.spans[path] = raw.span
            if not isinstance(raw, RawList):
                if isinstance(raw, RawScalar) and isinstance(raw.value, str) and raw.cel is None:
                    self.diags.add("AIGW122", f"`{path}` must be a list of CEL expressions",
                                   raw.span, help=f"write `[{raw.value}]`")
                    return _Invalid
                return self._not_a_list(path, raw)
            return [self.cel(item, f"{path}.{i}") for i, item in enumerate(raw.items)]
        if kind in ("template", "template_list", "template_map"):
            return self.data(raw, path, template=True)
        if self.config.TYPE == "set-vars":
            return self.data(raw, path, template=True)
        return self.data(raw, path, template=False)

    def part_value(self, part: type[BaseModel], is_list: bool, raw: RawValue, path: str) -> Any:
        """A part (``model_selection``) or a list of parts (``providers``): each written key
        is checked against the part's fields, so a misspelled key at any depth is reported
        where it was written. A value of the wrong shape is left to the model's validation."""
        if is_list:
            if not isinstance(raw, RawList):
                return self.data(raw, path, template=False)
            self.spans[path] = raw.span
            return [self.part_map(part, item, f"{path}.{i}") for i, item in enumerate(raw.items)]
        return self.part_map(part, raw, path)

    def part_map(self, part: type[BaseModel], raw: RawValue, path: str) -> Any:
        if not isinstance(raw, RawMap):
            return self.data(raw, path, template=False)
        self.spans[path] = raw.span
        out: dict[str, Any] = {}
        for key, key_span, value in raw.items:
            at = f"{path}.{key}"
            if key not in part.model_fields:
                close = did_you_mean(key, part.model_fields)
                if close:
                    self.explained.add(f"{path}.{close.split('`')[1]}")
                self.diags.add(
                    "AIGW120", f"unknown key `{key}` in `{path}` of the `{self.type_name}` config",
                    key_span or value.span, help=close or _known_keys(part),
                )
                continue
            self.spans[at + ":key"] = key_span
            out[key] = self.field(key, value, part, at)
        return out

    def _not_a_list(self, name: str, raw: RawValue) -> Any:
        self.diags.add("AIGW122", f"`{name}` must be a list of CEL expressions", raw.span)
        return _Invalid

    # pydantic errors -> diagnostics ---------------------------------------------------
    def _type_help(self, kind: str, loc: tuple[Any, ...], value: Any) -> str | None:
        """A number where a string is wanted: a duration wants its unit, a header value or
        metadata string its quotes. A list of strategies where a selection is wanted: its
        `strategy` key."""
        if kind == "model_type" and isinstance(value, list) and len(loc) == 1:
            nested = part_of(self.config, str(loc[0]))
            if nested is not None and "strategy" in nested[0].model_fields:
                return f"write the strategies under `strategy`: `{loc[0]}: {{strategy: [...]}}`"
        if self.type_name == "set-vars" and loc == ("vars",) and isinstance(value, dict):
            # three of ngrok's own gateway examples write `vars:` as a mapping
            first = next(iter(value), "name")
            return f"each variable is a list item of its own: `vars: [{{{first}: ...}}, ...]`"
        if self.type_name == "basic-auth" and loc[:1] == ("credentials",) and isinstance(value, dict) \
                and "username" in value:
            # ngrok's own add-authentication example writes `{username: ..., password: ...}`
            return f"write each credential as one string: `{value['username']}:<password>`"
        if value is None:
            return self._null_help(loc)
        if kind == "int_type" and isinstance(value, float):
            return "a whole number (`30` or `30.0`, as ngrok's reader takes it; a fraction it refuses)"
        if kind != "string_type" or not isinstance(value, (bool, int, float)):
            return None
        model = ACTIONS.get(self.type_name)
        name = str(loc[0]) if loc else ""
        if model is not None and name in model.model_fields and field_kind(model, name) == "duration":
            return f"write a duration with its unit, such as `{value}s` or `{value}m`"
        return f"quote it: `\"{json.dumps(value)}\"`"

    def _null_help(self, loc: tuple[Any, ...]) -> str:
        """Why a null is refused where it is: only a required key gets here as a key (an
        optional one reads it as not written), else it is an item of a list or a value of a map."""
        if loc and isinstance(loc[-1], int):
            return NULL_ITEM
        model: type[BaseModel] = self.config
        for step in loc[:-1]:
            nested = part_of(model, str(step)) if isinstance(step, str) else None
            if isinstance(step, str) and nested is None:
                return f"a value of `{step}` cannot be null: write the value, or leave the key out"
            model = nested[0] if nested is not None else model
        return f"`{loc[-1]}` is required: {NULL_READ}"

    def span_for(self, loc: tuple[Any, ...]) -> Span | None:
        parts = [str(p) for p in loc]
        if parts and parts[-1] == "[key]":
            path = ".".join(parts[:-1])
            return self.spans.get(path + ":key") or self.spans.get(path) or self.anchor
        while parts:
            path = ".".join(parts)
            if path in self.spans:
                return self.spans[path] or self.anchor
            parts.pop()
        return self.anchor

    def report(
        self, error: ValidationError, data: dict[str, Any], skip_missing: set[str]
    ) -> None:
        seen: set[tuple[str, ...]] = set()
        unions: dict[tuple[Any, ...], list[Any]] = {}
        for err in error.errors(include_url=False):
            if err["type"] == "too_short" and isinstance(err.get("input"), (list, tuple)) \
                    and len(err["input"]) >= err.get("ctx", {}).get("min_length", 0):
                continue  # long enough as written: its items' own errors say what is wrong
            if err["type"] == "missing" and (
                    str(err["loc"][0]) in skip_missing
                    or ".".join(str(p) for p in err["loc"]) in self.explained):
                continue
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "-" in p
                                                     and p.startswith(("constrained", "lax"))))
            loc = tuple(p for p in loc if p not in ("constrained-float", "constrained-int"))
            if err["type"] != "missing":
                loc, tagged = _without_tags(data, loc)
                if tagged:  # one member of a union (`failover_on: [429, 5xx]`): said once below
                    unions.setdefault(loc, []).append(err)
                    continue
            nested = len(loc) > 1 and part_of(self.config, str(loc[0])) is not None
            key = tuple(str(p) for p in loc[:1]) if err["type"] in _TYPE_ERRORS and not nested \
                else tuple(str(p) for p in loc)
            if key in seen:
                continue
            seen.add(key)
            path = ".".join(str(p) for p in loc if p != "[key]")
            span = self.span_for(loc)
            kind = err["type"]
            where = f"`{path}` in `{self.type_name}`" if path else f"`{self.type_name}`"
            if kind == "missing":
                self.diags.add(
                    "AIGW121", f"missing required key `{path}` in `{self.type_name}` config",
                    self.span_for(loc[:-1]) if len(loc) > 1 else self.anchor,
                )
            elif kind in _TYPE_ERRORS:
                value = _lookup(data, loc)
                want = _TYPE_WORDS.get(kind, "another type")
                self.diags.add("AIGW122", f"{where} must be {want}, not {kind_of(value)}", span,
                               help=self._type_help(kind, loc, value))
            elif kind in ("too_short", "too_long"):
                ctx = err.get("ctx", {})
                bound, got = ctx.get("min_length", ctx.get("max_length")), ctx.get("actual_length")
                if got is None:  # pydantic counts a mapping after validating it: count what was written
                    got = len(_lookup(data, loc))
                need = "needs at least" if kind == "too_short" else "takes at most"
                self.diags.add("AIGW123", f"{where} {need} {bound} item{'s' if bound != 1 else ''}, "
                               f"not {got}", span)
            elif kind in _RANGE_ERRORS:
                self.diags.add("AIGW123", f"{where}: {err['msg'].lower()}", span,
                               help=_fraction_help(_lookup(data, loc), err.get("ctx", {})))
            elif kind == "literal_error":
                value = _lookup(data, loc)
                expected = err.get("ctx", {}).get("expected", "")
                choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
                self.diags.add(
                    "AIGW125", f"{where} must be one of {expected}, not "
                    + ("null" if value is None else f"`{value}`"), span,
                    help=self._null_help(loc) if value is None else choice_help(value, choices),
                )
            elif kind == "value_error":
                message = str(err.get("ctx", {}).get("error", err["msg"]))
                code = "AIGW124" if field_kind(self.config, str(loc[0])) == "duration" else "AIGW126"
                value = _lookup(data, loc)
                help = duration_help(value, periods=str(loc[0]) == "period") if isinstance(
                    value, str) else None
                self.diags.add(code, f"{where}: {message}", span, help=help)
            else:
                self.diags.add("AIGW126", f"{where}: {err['msg'].lower()}", span)
        for loc, errs in unions.items():
            self._union(loc, errs, data)

    def _union(self, loc: tuple[Any, ...], errs: list[Any], data: dict[str, Any]) -> None:
        """A value none of a union's members accepts: one diagnostic naming them all."""
        path = ".".join(str(p) for p in loc)
        value = _lookup(data, loc)
        wanted: list[str] = []
        choices: list[str] = []
        for err in errs:
            if err["type"] == "literal_error":
                expected = err.get("ctx", {}).get("expected", "")
                choices += [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
            else:
                wanted.append(_TYPE_WORDS.get(err["type"], err["msg"].lower()))
        if choices:
            wanted.append("one of " + ", ".join(f"`{c}`" for c in choices))
        shown = f"`{value}`" if isinstance(value, (str, int, float)) else kind_of(value)
        self.diags.add("AIGW125" if choices else "AIGW122",
                       f"`{path}` in `{self.type_name}` must be {' or '.join(wanted)}, not {shown}",
                       self.span_for(loc), help=choice_help(value, choices) if choices else None)


# did-you-mean beyond spelling: the words people write for a choice or a unit ---------------

_SYNONYMS = {
    # usage-cap unit
    "dollar": "usd", "dollars": "usd", "$": "usd", "us$": "usd", "cost": "usd",
    "token": "tokens", "tok": "tokens", "request": "requests", "req": "requests",
    "reqs": "requests", "calls": "requests",
    # calendar periods
    "hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month",
}
_UNIT_WORDS = {
    "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}
_LOOSE_DURATION = re.compile(r"\s*(\d+)\s*([A-Za-z]+)\s*")


def choice_help(value: Any, choices: list[str] | tuple[str, ...]) -> str | None:
    """``did you mean `usd`?`` for ``dollars``, ``USD``, ``sliding-window``, ``monthly``."""
    if not isinstance(value, str):
        return None
    folded = value.strip().lower().replace("-", "_")
    for choice in choices:
        if folded == choice.lower():
            return f"did you mean `{choice}`?"
    synonym = _SYNONYMS.get(folded)
    if synonym in choices:
        return f"did you mean `{synonym}`?"
    return did_you_mean(value, choices)


def duration_help(text: str, *, periods: bool = False) -> str | None:
    """``did you mean `1m`?`` for ``1min``, ``1 minute``, ``90 secs``; for a period, also
    ``monthly`` -> ``month``."""
    if periods:
        close = choice_help(text, PERIODS)
        if close:
            return close
    m = _LOOSE_DURATION.fullmatch(text)
    if m is None:
        return None
    unit = _UNIT_WORDS.get(m.group(2).lower())
    if unit is None:
        return None
    return f"did you mean `{int(m.group(1))}{unit}`?"


def _fraction_help(value: Any, ctx: dict[str, Any]) -> str | None:
    """``warn_at: 80`` where a fraction below 1 is wanted: say ``write 0.8``."""
    bound = ctx.get("lt", ctx.get("le"))
    if bound != 1 or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if 1 < value <= 100 and float(value).is_integer():
        return f"this is a fraction: write `{value / 100:g}` for {value:g}%"
    return None


class _InvalidType:
    def __repr__(self) -> str:
        return "<invalid>"


_Invalid: Any = _InvalidType()


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if part == "[key]":
            return data
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _without_tags(data: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool]:
    """``loc`` without the names pydantic gives the members of a union (``int``,
    ``literal['4xx',...]``), which are not in the data; and whether there were any."""
    out: list[Any] = []
    tagged = False
    current = data
    for part in loc:
        if part == "[key]":
            out.append(part)
        elif isinstance(current, dict) and part in current:
            out.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            out.append(part)
            current = current[part]
        elif isinstance(part, str) and not isinstance(current, dict):
            tagged = True
        else:
            out.append(part)
            current = None
    return tuple(out), tagged


def _contains_invalid(value: Any) -> bool:
    if value is _Invalid:
        return True
    if isinstance(value, list):
        return any(_contains_invalid(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_invalid(v) for v in value.values())
    return False


def check_action_type(type_name: str, diags: Diagnostics, anchor: Span | None) -> bool:
    """Whether ``type_name`` is an action this engine runs; if not, AIGW111 for an ngrok
    action out of scope (named, so a real ngrok document still lints) or AIGW110."""
    if type_name in ACTIONS:
        return True
    if type_name in UNSUPPORTED_NGROK_ACTIONS:
        diags.add(
            "AIGW111", f"unsupported action `{type_name}`", anchor,
            help="aigw-policy does not implement this ngrok action; remove it or "
            "handle it in front of the gateway",
        )
    elif type_name in NGROK_ACTION_ALIASES:
        diags.add(
            "AIGW110", f"unknown action type `{type_name}`", anchor,
            help=f"ngrok's name for this action is `{NGROK_ACTION_ALIASES[type_name]}`, an "
            "ngrok action aigw-policy does not implement",
        )
    else:
        diags.add(
            "AIGW110", f"unknown action type `{type_name}`", anchor,
            help=did_you_mean(type_name, ACTIONS) or did_you_mean(
                type_name, UNSUPPORTED_NGROK_ACTIONS) or _alias_help(type_name)
            or "see `aigw-policy schema` for the list of actions",
        )
    return False


def _alias_help(type_name: str) -> str | None:
    """A misspelling of another name ngrok's guides give an action (`oidcc` for `oidc`) means
    that action (`openid-connect`)."""
    close = did_you_mean(type_name, NGROK_ACTION_ALIASES)
    for alias, action in NGROK_ACTION_ALIASES.items():
        if close == f"did you mean `{alias}`?":
            return f"did you mean `{action}`? (ngrok's guides also call it `{alias}`)"
    return None


def not_run_on_connect(d: Diagnostic) -> Diagnostic:
    """An AIGW111 (an ngrok action or config key this engine does not run) found in the
    skipped ``on_tcp_connect`` is AIGW107, a warning: ngrok takes the document (its mutual
    TLS guide puts ``terminate-tls`` there beside request rules), and what a connection rule
    does (TLS versions, client certificates, closing a connection) is the connection's
    server's, as the phase's ``deny`` and ``restrict-ips``, skipped under its warning alone.
    Elsewhere, ``sse-find-replace`` on stream messages among them, it stays an error: an HTTP
    step the author relied on (a redaction) is not done."""
    if d.code != "AIGW111":
        return d
    return Diagnostic.make(
        "AIGW107", f"{d.message} in the skipped `on_tcp_connect`: not run", d.span,
        "ngrok runs it on each connection; this gateway evaluates HTTP requests, so none of it is done "
        "here (TLS versions and client certificates, closing a connection, ngrok IP policies): do it in "
        "the server in front of the gateway", d.related)


def build_action(
    type_name: str,
    config: RawValue | None,
    diags: Diagnostics,
    *,
    span: Span | None = None,
    type_span: Span | None = None,
) -> Action | None:
    """Validate one action; ``None`` (with diagnostics) when it cannot be built."""
    anchor = type_span or span
    model = ACTIONS.get(type_name)
    if model is None:
        check_action_type(type_name, diags, anchor)
        return None
    if config is None:
        config = RawMap(())
    if not isinstance(config, RawMap):
        diags.add("AIGW104", f"the config of `{type_name}` must be a mapping", config.span)
        return None
    builder = _Builder(type_name, model, diags, anchor)
    data: dict[str, Any] = {}
    before = diags.error_count
    reported: set[str] = set()  # keys already explained: no "missing" for them
    for key, key_span, raw in config.items:
        if (type_name, key) in UNSUPPORTED_NGROK_KEYS:
            diags.add("AIGW111", f"unsupported key `{key}` in `{type_name}` config", key_span or raw.span,
                      help=UNSUPPORTED_NGROK_KEYS[(type_name, key)])
            reported.add(key)
            continue
        renamed = NGROK_RENAMED_KEYS.get((type_name, key))
        if renamed and not any(k == renamed for k, _, _ in config.items):
            diags.add("AIGW127", f"`{key}` is ngrok's former name for `{renamed}` in `{type_name}` config",
                      key_span or raw.span, help=f"read as `{renamed}`; rename it")
            key = renamed
        if key not in model.model_fields:
            ngrok_only = (k for t, k in UNSUPPORTED_NGROK_KEYS if t == type_name)  # `ip_policy`
            close = did_you_mean(key, [*model.model_fields, *ngrok_only])
            if renamed:
                close = f"`{key}` is ngrok's former name for `{renamed}`, which is also written: keep one"
                reported.add(renamed)
            elif not close and (type_name, key) in _KEY_HINTS:
                close = f"did you mean `{_KEY_HINTS[type_name, key]}`? (the URL `{type_name}` makes)"
                reported.add(_KEY_HINTS[type_name, key])
            elif not close and (type_name, key) in _SHAPE_HINTS:
                close = _SHAPE_HINTS[type_name, key]
            elif not close and type_name == "set-vars" and "vars" not in (k for k, _, _ in config.items):
                close = f"a variable is an item of `vars`, a list of one-key mappings: `vars: [{{{key}: ...}}]`"
                reported.add("vars")
            elif close:
                reported.add(close.split("`")[1])
            diags.add(
                "AIGW120", f"unknown key `{key}` in `{type_name}` config", key_span or raw.span,
                help=close or _known_keys(model),
            )
            continue
        builder.spans[key + ":key"] = key_span
        data[key] = builder.field(key, raw)
    reported.update(k for k, v in data.items() if _contains_invalid(v))
    data = {k: v for k, v in data.items() if k not in reported}
    try:
        built = model.model_validate(data)
    except ValidationError as error:
        builder.report(error, data, skip_missing=reported)
        return _unbuilt(model, data, builder, diags)
    one_of = _ONE_OF.get(type_name)
    if one_of and all(getattr(built, k) is None for k in one_of):
        keys = " or ".join(f"`{k}`" for k in one_of)
        diags.add("AIGW121", f"`{type_name}` needs {keys}", anchor)
        return None
    if diags.error_count > before:
        return _unbuilt(model, data, builder, diags)
    return Action(type=type_name, config=built, span=span, field_spans=builder.spans)


def _unbuilt(model: type[ActionConfig], data: dict[str, Any], builder: _Builder,
             diags: Diagnostics) -> None:
    """An action that could not be built: its CEL fields are still type-checked, so an
    unknown key does not hide a type error in `bucket_key` beside it."""
    from ..analysis.cel_check import check_config

    diags.extend(check_config(model, data, builder.spans))


_ONE_OF = {"model-access": ("allow", "deny"), "max-tokens": ("input", "output")}

_KEY_HINTS = {("redirect", "location"): "to", ("redirect", "url"): "to", ("url-rewrite", "url"): "to"}
"""Keys people write for another (ngrok's OAuth example writes `redirect`'s `to` as
`location`), too far apart in spelling for a did-you-mean."""
_SHAPE_HINTS = {
    ("custom-response", "content_type"): "ngrok's first releases' `content_type` is a header now: "
    "`headers: {content-type: text/plain}` (without one the type is inferred from the body)",
    ("deny", "body"): "`deny` answers with its status and no body: for a body write a `custom-response` "
    "(`status_code`, `body`, `headers`)",
}
"""Keys whose fix is another shape, not another name (each from one of ngrok's own pages)."""


def _known_keys(model: type[BaseModel]) -> str:
    keys = ", ".join(f"`{k}`" for k in model.model_fields)
    return f"known keys: {keys}" if keys else "this action takes no config"
