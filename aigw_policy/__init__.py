"""aigw-policy: a traffic-policy language, compiler and evaluation engine for AI gateways.

>>> import aigw_policy as ap
>>> policy = ap.loads('policy { on request { rule "r" { deny 403 } } }')
>>> policy.on_http_request[0].actions[0].type
'deny'
"""

from __future__ import annotations

__version__ = "0.1.0"

from .codes import Severity
from .diagnostics import Diagnostic, PolicyError
from .ir import Action, Expr, Policy, Rule
from .loader import load, loads, read

__all__ = [
    "Action",
    "Diagnostic",
    "Expr",
    "Policy",
    "PolicyError",
    "Rule",
    "Severity",
    "__version__",
    "load",
    "loads",
    "read",
]
