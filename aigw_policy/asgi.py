"""The ASGI middleware, under the name the first release documented (``from aigw_policy.asgi
import PolicyMiddleware``): a public alias, as :mod:`aigw_policy.stores` is for the limit stores.

The middleware lives in :mod:`aigw_policy.gateway.middleware`; the code of this package imports
it from there.
"""

from __future__ import annotations

from .gateway.middleware import DECISION_HEADER, IdentityHook, PolicyMiddleware, RequestContext

__all__ = ["DECISION_HEADER", "IdentityHook", "PolicyMiddleware", "RequestContext"]
