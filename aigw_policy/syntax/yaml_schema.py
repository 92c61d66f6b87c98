"""The YAML 1.2 core schema, shared by the YAML reader and writer, with numbers as Go's yaml
(ngrok's reader) reads them.

PyYAML resolves plain scalars by YAML 1.1 (`yes`/`on` are booleans, `1:20` is 80); our
reader and writer both use these patterns instead, so what one writes the other reads back.
A plain scalar that starts like a number is one when Go's ``yaml.v3`` makes it one
(:func:`go_number`), so a document means here what it means to ngrok.
"""

from __future__ import annotations

import math
import re

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

# The YAML 1.2 core schema, as regular expressions and their first characters.
_CORE = (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
)

_GO_INT = re.compile(r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*|[1-9][0-9]*))")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")


def go_number(text: str) -> int | float | None:
    """The number a plain scalar is to Go's ``yaml.v3`` (``resolve.go``), None when it is not
    one (``.inf``/``.nan`` are the core schema's, not here). Underscores are dropped first
    (``1_000`` is 1000) and the rest is Go's ``strconv.ParseInt(s, 0, 64)``: ``0x1F``,
    ``0X1F``, ``0o17``, ``0b101`` and the YAML 1.1 octal ``017`` (15) are integers, so is an
    unsigned one up to 2**64-1; what is not an integer but a decimal (``08``, ``1_000.5``,
    ``1e3``) is a float when finite."""
    if not text or text[0] not in "+-.0123456789":
        return None
    if text[0] == ".":  # Go parses these as written: no underscores
        return float(text) if _GO_DOT_FLOAT.fullmatch(text) else None
    plain = text.replace("_", "")
    m = _GO_INT.fullmatch(plain)
    if m is not None:
        sign, hexa, octal, binary, decimal = m.groups()
        if hexa is not None:
            value = int(hexa, 16)
        elif octal is not None:
            value = int(octal, 8)
        elif binary is not None:
            value = int(binary, 2)
        else:
            value = int(decimal, 8 if decimal[0] == "0" else 10)
        value = -value if sign == "-" else value
        if -(2**63) <= value < 2**63 or (not sign and value < 2**64):
            return value
    if _GO_FLOAT.fullmatch(plain):
        number = float(plain)
        return number if math.isfinite(number) else None
    return None
