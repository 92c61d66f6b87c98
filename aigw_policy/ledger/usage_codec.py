"""The usage record on the wire: Protobuf (``proto/aigw/usage/v1/usage.proto``, the default) or
JSON (the ledger's JSONL form, keyed by OpenTelemetry GenAI names).

Both go through the record's JSON form (:meth:`UsageRecord.to_dict`), so a field the ledger
record gains is carried as soon as the schema names it: :data:`PROTO_FIELDS` maps every JSON
name to its Protobuf field (a test checks that none is missing).

>>> from aigw_policy.ledger.record import UsageRecord
>>> r = UsageRecord("req-1", "2026-11-26T12:00:00.000000Z", team="ml", input_tokens=21)
>>> decode(encode(r, "protobuf"), "protobuf") == r == decode(encode(r, "json"), "json")
True
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .record import FIELDS, UsageRecord

__all__ = ["FORMATS", "PROTO_FIELDS", "Format", "content_type", "decode", "encode"]

Format = Literal["protobuf", "json"]
FORMATS: tuple[Format, ...] = ("protobuf", "json")
_CONTENT = {"protobuf": "application/x-protobuf; messageType=aigw.usage.v1.UsageRecord",
            "json": "application/json"}

PROTO_FIELDS: dict[str, str] = {
    **{json_name: attr for attr, json_name in FIELDS.items()},
    "aigw.attempts": "attempts",
    "aigw.route.key_id": "route_key_id",
    "aigw.would_deny": "would_deny",
}
"""JSON name (the ledger's) -> field of ``aigw.usage.v1.UsageRecord``."""


def content_type(fmt: Format) -> str:
    return _CONTENT[fmt]


def format_of(content: str | None) -> Format:
    """The format a message's ``Content-Type`` header names (Protobuf when it names none)."""
    return "json" if content is not None and content.startswith("application/json") else "protobuf"


def encode(record: UsageRecord, fmt: Format = "protobuf") -> bytes:
    data = record.to_dict()
    if fmt == "json":
        return json.dumps(data, separators=(",", ":")).encode()
    from . import usage_pb2

    msg = usage_pb2.UsageRecord()
    for name, value in data.items():
        if value is None:
            continue
        field = PROTO_FIELDS[name]  # KeyError: the schema lacks a field of the record
        if name in (FIELDS["limits"], FIELDS["would_deny"]):
            value = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        setattr(msg, field, value)
    return msg.SerializeToString()


def decode(body: bytes, fmt: Format = "protobuf") -> UsageRecord:
    """A record from its bytes; ``ValueError`` when they are not one."""
    if fmt == "json":
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"not a JSON usage record: {e}") from None
        except RecursionError:
            raise ValueError("not a JSON usage record: nested too deeply") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON usage record: not an object")
        return _record(data)
    from google.protobuf.message import DecodeError

    from . import usage_pb2

    msg = usage_pb2.UsageRecord()
    try:
        msg.ParseFromString(body)
    except DecodeError as e:
        raise ValueError(f"not a Protobuf usage record: {e}") from None
    out: dict[str, Any] = {}
    for name, field in PROTO_FIELDS.items():
        desc = msg.DESCRIPTOR.fields_by_name[field]
        if desc.has_presence and not msg.HasField(field):
            continue
        out[name] = getattr(msg, field)
    return _record(out)


def _record(data: dict[str, Any]) -> UsageRecord:
    if not data.get(FIELDS["request_id"]) or not data.get(FIELDS["time"]):
        raise ValueError("a usage record needs a request id and a time")
    try:
        return UsageRecord.from_dict(data)
    except TypeError as e:
        raise ValueError(f"not a usage record: {e}") from None
