"""Routing and failover: the ``ai-gateway`` action of SPEC §12, sans-IO.

The catalog (providers and models), the selection strategies (CEL over ``ai.models``,
``ai.providers``, ``ai.keys``), the plan (candidates in order, each dropped one with why),
and the attempts a gateway drives through :meth:`aigw_policy.Engine.attempt`. No module
here does I/O: ``serve``, ``explain``, ``test`` and ``replay`` feed outcomes in.
The shared shapes are in :mod:`aigw_policy.routing.model`.
"""
