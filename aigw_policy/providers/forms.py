"""The small text fields of a ``multipart/form-data`` request body: how OpenAI's audio
transcriptions and translations and its image edits name their ``model`` (and ``stream``,
``prompt``). Pure and bounded: only the first :data:`MAX_FORM_BYTES` of a body are looked at
(the fields come before the file in every client seen; a field after a large file is not
read), a field's value is kept only when it is short text, never a file part."""

from __future__ import annotations

import re

__all__ = ["MAX_FORM_BYTES", "form_fields"]

MAX_FORM_BYTES = 64 * 1024
_FIELDS = {"model": str, "prompt": str, "stream": bool, "language": str, "session": str}
_MAX_VALUE = 4096
_MAX_VALUES = {"session": MAX_FORM_BYTES}
"""A Realtime call's ``session`` (JSON text: its model, its instructions) may be as long as
the part of the body looked at (providers.realtime)."""
_BOUNDARY = re.compile(r'boundary="?([^";,]{1,70})"?', re.IGNORECASE)
_NAME = re.compile(rb'\bname="([^"]{1,64})"', re.IGNORECASE)


def form_fields(body: str | bytes | bytearray, content_type: str) -> dict[str, object] | None:
    """The known text fields of a multipart body (``model`` as a string, ``stream`` as a
    boolean...), or None when ``content_type`` is no ``multipart/form-data`` with a boundary."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    m = _BOUNDARY.search(content_type)
    if m is None:
        return None
    data = body[:MAX_FORM_BYTES]
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    out: dict[str, object] = {}
    for part in bytes(data).split(b"--" + m.group(1).encode("latin-1", "replace")):
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep or b"filename=" in head.lower():
            continue
        name = _NAME.search(head)
        if name is None:
            continue
        key = name.group(1).decode("latin-1")
        kind = _FIELDS.get(key)
        if kind is None or key in out or not value.endswith(b"\r\n") or len(value) > _MAX_VALUES.get(key, _MAX_VALUE):
            continue  # unknown, repeated, cut off (past the bytes looked at) or too long
        text = value[:-2].decode("utf-8", "replace")
        if kind is bool:
            if text.strip().lower() in ("true", "false"):
                out[key] = text.strip().lower() == "true"
        else:
            out[key] = text
    return out
