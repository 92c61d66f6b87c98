"""Provider adapters: classify requests into ``ai.*``, extract usage, estimate tokens, price.

All pure (no I/O): see SPEC sections 5 and 7, and docs/providers.md.
"""

from .body_usage import usage_from_body
from .classify import OPERATIONS, PROVIDERS, AiRequest, classify, inject_include_usage
from .errors import ProviderError
from .framing import SSEParser
from .prices import Cost, ModelPrice, PriceBook
from .response import extract_usage, stream_usage
from .sse import StreamUsage
from .tokens import DEFAULT_COUNTER, HeuristicCounter, TokenCounter, best_counter, tiktoken_counter
from .usage import Usage

__all__ = [
    "DEFAULT_COUNTER",
    "OPERATIONS",
    "PROVIDERS",
    "AiRequest",
    "Cost",
    "HeuristicCounter",
    "ModelPrice",
    "PriceBook",
    "ProviderError",
    "SSEParser",
    "StreamUsage",
    "TokenCounter",
    "Usage",
    "best_counter",
    "classify",
    "extract_usage",
    "inject_include_usage",
    "stream_usage",
    "tiktoken_counter",
    "usage_from_body",
]
