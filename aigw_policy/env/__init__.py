"""The policy world of SPEC §5: the variables and functions a policy's CEL sees (declared
for the checker, implemented for the runtime) and the activation that carries a request's
values. The generic CEL core (:mod:`aigw_policy.cel`) is given this environment; it knows
nothing of it."""
