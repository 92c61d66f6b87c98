"""POSTs that run no model: token counts, uploads, updates of stored objects, batch cancels.

Every provider's inference is a POST, but not every POST is inference. These are classified as
no inference (``AiRequest.inference`` false, operation ``other``), as a read is: nothing is
reserved for them, nothing charged (an update of a stored chat completion answers the stored
completion, its ``usage`` included: charging it charged that call twice), and a usd cap does not
ask the price of a model they do not name. Only calls the vendors document as running no model
and costing nothing are here: a batch's creation, Gemini's context caches, a realtime session's
secret, a fine-tuning job, a vector store's search... are spend, and stay what they were.

>>> no_model("/model/amazon.nova-pro-v1:0/count-tokens"), no_model("/v1/chat/completions/chatcmpl-1")
('a token count', 'an update of a stored chat completion')
>>> no_model("/v1/chat/completions"), no_model("/v1/batches"), no_model("/v1/conversations")
(None, None, 'conversation items')
"""

from __future__ import annotations

import re

__all__ = ["CONVERSATION", "no_model"]

CONVERSATION = "conversation items"
"""What :func:`no_model` names OpenAI's Conversations API (``/v1/conversations``, its items):
Mistral's API has the same paths for model calls, told apart by their ``inputs``."""

_PATHS = re.compile(
    r"/(?:(?P<count>messages/count_tokens|responses/input_tokens"  # Anthropic, the Responses API
    r"|model/[^/]+/count-tokens"  # Bedrock's CountTokens
    r"|(?:models|tunedModels|endpoints)/[^/:]+:(?:countTokens|computeTokens)"  # Gemini, Vertex AI
    r"|models/count-tokens:rawPredict)"  # Claude's on Vertex AI
    r"|(?P<upload>files|uploads(?:/[^/]+/(?:parts|complete|cancel))?)"  # OpenAI's, Anthropic's, Mistral's, Gemini's
    r"|(?P<update>chat/completions/[^/]+)"  # OpenAI: a stored chat completion's metadata
    r"|(?P<cancel>messages/batches/[^/]+/cancel|batches/[^/:]+:cancel)"  # Anthropic's, Gemini's
    r"|(?P<conversation>conversations(?:/[^/]+(?:/items)?)?))$"
)
_WHAT = {"count": "a token count", "upload": "an upload", "update": "an update of a stored chat completion",
         "cancel": "a batch's cancel", "conversation": CONVERSATION}


def no_model(path: str) -> str | None:
    """What the POST to ``path`` (a query and trailing slashes ignored) is when it runs no
    model (``a token count``, ``an upload``...), or None."""
    m = _PATHS.search(path.split("?", 1)[0].rstrip("/"))
    return _WHAT[m.lastgroup] if m is not None and m.lastgroup is not None else None
