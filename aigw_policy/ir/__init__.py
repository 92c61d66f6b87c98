"""The typed IR of policy documents."""

from .actions import ACTIONS, UNSUPPORTED_NGROK_ACTIONS, ActionConfig
from .nodes import PHASES, Action, Expr, Node, Phase, Policy, Rule

__all__ = [
    "ACTIONS",
    "PHASES",
    "UNSUPPORTED_NGROK_ACTIONS",
    "Action",
    "ActionConfig",
    "Expr",
    "Node",
    "Phase",
    "Policy",
    "Rule",
]
