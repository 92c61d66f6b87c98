"""The policy world of SPEC §5, in one package so its halves cannot drift apart: the request
model (:mod:`.request`, SPEC §8's REQUEST.json validated), the variables and functions a
policy's CEL sees (declared for the checker in :mod:`.declarations`, implemented for the
runtime in :mod:`.ngrok`), the CEL environment made of them (:mod:`.policy`) and the
activation that carries a request's values under those names (:mod:`.activation`). The
generic CEL core (:mod:`aigw_policy.cel`) is given this environment; it knows nothing of it."""

from __future__ import annotations

from .activation import flatten_activation
from .declarations import POLICY_FUNCTIONS, POLICY_VARIABLES
from .policy import POLICY, check_condition, check_text, compile_condition, compile_conditions

__all__ = [
    "POLICY", "POLICY_FUNCTIONS", "POLICY_VARIABLES", "check_condition", "check_text", "compile_condition",
    "compile_conditions", "flatten_activation",
]
