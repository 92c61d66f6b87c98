"""``aigw-policy lsp``: the Language Server Protocol for policies (SPEC §15), over stdio.

:mod:`.server` wires the features (pygls); :mod:`.documents` holds the open documents and
their lint; :mod:`.diagnostics` turns lint's diagnostics into the protocol's; :mod:`.hover`,
:mod:`.completion` and :mod:`.navigation` (definitions, symbols) answer from the typed
environment and config models (:mod:`.reference`) and where the cursor is
(:mod:`.context`); :mod:`.formatting` is `fmt`. Positions: :mod:`.positions`.

The server is handed its lint function: the command line's (``cli/lint.py``), so the editor
and `lint` share one code path, test and keys files included.
"""

from __future__ import annotations

from .documents import Linter
from .server import DEBOUNCE, build_server, serve_stdio

__all__ = ["DEBOUNCE", "Linter", "build_server", "serve_stdio"]
