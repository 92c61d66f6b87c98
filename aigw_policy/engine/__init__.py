"""The engine: compile a policy, evaluate requests, explain every decision.

Stages, one module each: :mod:`.compile` (IR -> :class:`CompiledPolicy`), :mod:`.index`
(rule dispatch), :mod:`aigw_policy.env` (the request and its CEL activation), the sans-IO core
(:mod:`.flow` state and needs, :mod:`.phases`, :mod:`.actions`, :mod:`.charging`,
:mod:`.rule_error`), :mod:`.decision` and :mod:`.trace` (what it returns), :mod:`.explain_text`
(a decision as text), and
:mod:`.runner` (the sync/async :class:`Engine` that drives the core against a store), :mod:`.pending`
(what a forwarded request keeps until ``complete()``) and :mod:`.errors` (the named errors).
"""

from .compile import CompiledPolicy, compile_policy
from .decision import Decision, Verdict
from .errors import StoreUnavailableError, UnknownRequestError
from ..env.request import HttpRequest, HttpResponse, Identity, Request, RequestError
from .runner import Engine

__all__ = [
    "CompiledPolicy",
    "Decision",
    "Engine",
    "HttpRequest",
    "HttpResponse",
    "Identity",
    "Request",
    "RequestError",
    "StoreUnavailableError",
    "UnknownRequestError",
    "Verdict",
    "compile_policy",
]
