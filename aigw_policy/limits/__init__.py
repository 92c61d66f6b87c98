"""Rate limits and usage caps: algorithms, the store contract and the stores."""

from .memory import MemoryStore
from .model import Charge, LimitSpec, LimitStore, Outcome, StoreUnavailable

__all__ = ["Charge", "LimitSpec", "LimitStore", "MemoryStore", "Outcome", "StoreUnavailable"]
