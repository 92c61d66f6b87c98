"""aigw-policy: a traffic-policy language, compiler and evaluation engine for AI gateways.

>>> import aigw_policy as ap
>>> policy = ap.loads('policy { on request { rule "r" { deny 403 } } }')
>>> policy.on_http_request[0].actions[0].type
'deny'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .codes import Severity
from .diagnostics import Diagnostic, PolicyError
from .engine import (
    CompiledPolicy,
    Decision,
    Engine,
    Request,
    RequestError,
    StoreUnavailableError,
    UnknownRequestError,
    Verdict,
    compile_policy,
)
from .ir import Action, Expr, Policy, Rule
from .loader import load, loads, read

if TYPE_CHECKING:  # loaded on first use at run time (see __getattr__), typed for checkers
    from . import cel, ledger, stores

__all__ = [
    "Action",
    "CompiledPolicy",
    "Decision",
    "Diagnostic",
    "Engine",
    "Expr",
    "Policy",
    "PolicyError",
    "Request",
    "RequestError",
    "Rule",
    "Severity",
    "StoreUnavailableError",
    "UnknownRequestError",
    "Verdict",
    "__version__",
    "cel",
    "compile_policy",
    "ledger",
    "load",
    "loads",
    "read",
    "stores",
]


def __getattr__(name: str) -> Any:
    # `ap.stores`, `ap.cel` and `ap.ledger` (`ap.ledger.Ledger(url)` for Engine(ledger=)) load on
    # first use
    if name in ("stores", "cel", "ledger"):
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'aigw_policy' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names only: not the typing helpers nor the submodules other imports load
    return sorted(__all__)
