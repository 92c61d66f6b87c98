"""Reading an input file whole (a policy, a request, a keys, price, test or usage file), up
to a bound: a path such as ``/dev/zero``, or a log given where a policy was meant, is an
error naming the file, not a read that takes all memory.

The error is an :class:`OSError` (``EFBIG``, "File too large"), so every reader reports it
where it reports a file it cannot read.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["MAX_INPUT_BYTES", "bounded_lines", "read_input"]

MAX_INPUT_BYTES = 256 * 1024 * 1024
"""The largest input file read: past every policy (lint refuses a 4 MB DSL text), request
(the gateway takes 32 MiB bodies) and keys file, with room for a month's usage export."""


def read_input(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``; ``OSError(EFBIG)`` if it holds more than ``MAX_INPUT_BYTES``
    (at most one byte more is read)."""
    with open(path, "rb") as f:
        data = f.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_INPUT_BYTES:,} bytes, the most an input file may hold",
                      os.fspath(path))
    return data


def bounded_lines(f: BinaryIO, limit: int) -> Iterator[tuple[bytes | None, int]]:
    """(line, its length in bytes) for each line of a file read line by line (traffic, a
    JSONL ledger); a line longer than ``limit`` is read in pieces and given as None, so no
    line is held whole past ``limit`` bytes (``/dev/zero`` has no line break at all)."""
    while raw := f.readline(limit + 1):
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        length = len(raw)
        while piece := f.readline(limit):
            length += len(piece)
            if piece.endswith(b"\n"):
                break
        yield None, length
