"""The field types of action configs (CEL, templates, durations, statuses, ...) and their
base model, shared by :mod:`aigw_policy.ir.actions` and :mod:`aigw_policy.ir.ai_gateway`."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

class CelMarker:
    """Marks a field whose string value is CEL source text."""


class TemplateMarker:
    """Marks a field whose string value may hold ``${expr}`` interpolations."""


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h|d)")
_UNIT_SECONDS = {"ns": Decimal("1e-9"), "us": Decimal("1e-6"), "\u00b5s": Decimal("1e-6"), "\u03bcs": Decimal("1e-6"),
                 "ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "d": Decimal(86400)}
MAX_DURATION_SECONDS = 366 * 86400


def parse_duration(text: str) -> float:
    """Seconds in a duration: a number and a unit (``90s``, ``10m``, ``1d``), or several as Go's
    ``time.ParseDuration`` reads them (``1m30s``, ``1.5h``, ``5m0s``: ngrok's own errors print
    its durations so); ``ValueError`` if invalid."""
    pos, total = 0, Decimal(0)
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            raise ValueError(f"`{text}` is not a duration; write a number and a unit: ms, s, m, h or d "
                             "(or several, as Go writes them: `1m30s`)")
        total += Decimal(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"`{text}` is not a duration; write a number and a unit: ms, s, m, h or d")
    if total <= 0:
        raise ValueError(f"duration `{text}` must be greater than zero")
    if total > MAX_DURATION_SECONDS:
        raise ValueError(f"duration `{text}` is longer than 366 days")
    return float(total)


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _check_period(text: str) -> str:
    if text in PERIODS:
        return text
    try:
        parse_duration(text)
    except ValueError:
        raise ValueError(
            f"`{text}` is not a period; use hour, day, week, month or a duration such as 30m"
        ) from None
    return text


def _check_timezone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: `Europe` is a directory of the database
        raise ValueError(f"`{text}` is not a known IANA time zone") from None
    return text


def _check_network(text: str) -> str:
    """An IP address or CIDR block; one with ``${...}`` (ngrok's `restrict-ips` ranges support
    CEL interpolation) is checked when it is rendered."""
    import ipaddress

    if "${" in text:
        return text
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"`{text}` is not an IP address or CIDR block") from None
    return text


def _check_header_key(text: str) -> str:
    """A header name as ngrok's schema takes it in a map of headers to set (`add-headers`,
    `custom-response`, `redirect`): letters, digits, `-` and `_` (``^[a-zA-Z0-9_-]+$``)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"`{text}` is not a header name ngrok sets: letters, digits, `-` and `_` only")
    return text


def _check_header_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_!#$%&'*+.^`|~-]+", text):
        raise ValueError(f"`{text}` is not a valid header name")
    return text


def _not_user_agent(text: str) -> str:
    """ngrok's `add-headers` and `remove-headers` pages: "You may not add or remove the
    `user-agent` header" (a document that does is refused, ``ERR_NGROK_2219``)."""
    if text.lower() == "user-agent":
        raise ValueError("ngrok's add-headers and remove-headers may not add or remove `user-agent`; "
                         "to name the gateway to a provider, set it in the ai-gateway's `headers`")
    return text


def _whole(value: Any) -> Any:
    """A float with no fraction (``30.0``, ``3e1``) as the integer it is: ngrok reads a
    policy with Go's yaml, which decodes such a number into an integer field (``30.5`` it
    refuses or truncates, by version: refused here, a wrong type)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


BAD_HEADER_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
"""A character no header value this gateway sends can carry (RFC 9110 §5.5: a field value is
visible characters, spaces and tabs, and obs-text, bytes 0x80-0xFF: Latin-1 here; CR, LF or
NUL would split or end the header block): a rendered value holding one fails its rule
(AIGW504)."""


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_header_value(text: str) -> str:
    """A header value whose written text (outside any ``${...}``) holds a control character
    (CR, LF, NUL: no header can carry one, ngrok refuses it too) fails every request that
    renders it: refused where it is written. (A character past U+00FF fails here at run time
    only: ngrok sends it.)"""
    from ..template import TemplateError, split_template

    try:
        parts = split_template(text) if "${" in text else [text]
    except TemplateError:
        return text  # AIGW203, where the template is compiled
    for part in parts:
        if isinstance(part, str) and (bad := _HEADER_CONTROL.search(part)) is not None:
            raise ValueError(f"the character U+{ord(bad.group()):04X} is in no header value "
                             "(CR, LF, NUL and other controls are refused)")
    return text


Whole = BeforeValidator(_whole)
"""For every integer field of a config: see :func:`_whole`."""
Cel = Annotated[StrictStr, CelMarker]
Template = Annotated[StrictStr, TemplateMarker]
HeaderValue = Annotated[StrictStr, TemplateMarker, AfterValidator(_check_header_value)]
Duration = Annotated[StrictStr, AfterValidator(_check_duration)]
PERIODS = ("hour", "day", "week", "month")
Period = Annotated[StrictStr, AfterValidator(_check_period)]
Timezone = Annotated[StrictStr, AfterValidator(_check_timezone)]
Network = Annotated[StrictStr, TemplateMarker, AfterValidator(_check_network)]
HeaderName = Annotated[StrictStr, AfterValidator(_check_header_name)]
HeaderKey = Annotated[StrictStr, AfterValidator(_check_header_key)]
EditableHeaderKey = Annotated[StrictStr, AfterValidator(_check_header_key), AfterValidator(_not_user_agent)]
EditableHeaderName = Annotated[StrictStr, AfterValidator(_check_header_name), AfterValidator(_not_user_agent)]
Status = Annotated[int, Field(strict=True, ge=100, le=599), Whole]
ErrorStatus = Annotated[int, Field(strict=True, ge=400, le=599), Whole]
Capacity = Annotated[int, Field(strict=True, ge=1, le=2_000_000_000), Whole]
Algorithm = Literal["sliding_window", "fixed_window", "token_bucket"]
BucketKey = Annotated[tuple[Cel, ...], Field(min_length=1, max_length=10)]


HTTP_PHASES = ("on_http_request", "on_http_response")
REQUEST = ("on_http_request",)


def phase_note(config: type["ActionConfig"]) -> str | None:
    """``request phase only`` and the like, for the schema's and the editor's help."""
    http = [p for p in config.PHASES if p in HTTP_PHASES]
    return None if len(http) == 2 else f"{http[0].removeprefix('on_http_')} phase only"


class ActionConfig(BaseModel):
    """Base of action configs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str] = ""
    TERMINATING: ClassVar[bool] = False
    LIMIT: ClassVar[bool] = False
    PHASES: ClassVar[tuple[str, ...]] = HTTP_PHASES
    """The phases the action runs in: ngrok's "Supported Phases" for its actions (a document
    that uses one elsewhere ngrok refuses, ERR_NGROK_2202; AIGW134 here)."""
    DOC: ClassVar[str] = ""

    def written(self) -> dict[str, Any]:
        """The keys the author wrote, in declaration order."""
        return {k: v for k, v in self if v is not None}


@cache
def field_kind(config: type[BaseModel], name: str) -> str:
    """``cel``, ``cel_list``, ``template``, ``template_list``, ``template_map``, ``duration`` or ``data``
    (remembered: a class's fields do not change, and the lint passes ask for every action)."""
    info = config.model_fields[name]
    text = repr(info.annotation) + repr(info.metadata)
    if "CelMarker" in text:
        return "cel_list" if "tuple" in text else "cel"
    if "TemplateMarker" in text:
        return "template_map" if "dict" in text else "template_list" if "tuple" in text else "template"
    if "_check_duration" in text or "_check_period" in text:
        return "duration"
    return "data"
