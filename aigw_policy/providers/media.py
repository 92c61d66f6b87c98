"""The input tokens of a request's media (images, documents, audio, video) for its estimate
(providers/classify.py). Their bytes are no text: counting base64 as text would make a 300 KB
photo 100,000 tokens, and leaving them out (what was done before) made it 0, so a prompt of
twenty images passed a `max-tokens` input cap of 1,000 and a stream cut before its usage was
charged for its words only. Each part counts what its provider documents for a typical one:

- an image: OpenAI's 1024x1024 at high detail (765 tokens; 85 at ``detail: low``); Anthropic's
  and Bedrock's Claude and Nova at their largest unresized size (~1.15 megapixels, 1,600: the
  reservation errs high); Gemini's 258 (an image up to 384 px; larger ones tile at 258 each);
- a document (a PDF): one page at Anthropic's upper figure, 3,000 (its pages are not read);
  a document given as text is the prompt's text (:mod:`.history`), 0 here;
- audio and video sent inline: by their size, at 10 tokens a second of 128 kbit/s audio
  (OpenAI's rate; Gemini's is 32 a second of any bitrate) and Gemini's 263 tokens a second of
  1 Mbit/s video; by reference (a URL, a file id): ten seconds of either.

What a stream cut before its usage had made that is no text (:func:`image_output_tokens`,
:data:`AUDIO_OUT_CHARS_PER_TOKEN`: read by :mod:`.sse`) is estimated likewise: an image being
drawn (a partial image seen) at OpenAI's table for gpt-image-1 by its size and quality, and 100
tokens for each partial image; a chat answer's audio by its length.

Pure; nothing is decoded (a base64 string's length says its bytes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["AUDIO_OUT_CHARS_PER_TOKEN", "PARTIAL_IMAGE", "image_output_tokens", "media_tokens"]

IMAGE = {"openai": 765, "anthropic": 1600, "bedrock": 1600, "gemini": 258}
"""Tokens of one image by wire format (others: OpenAI's)."""
IMAGE_LOW = 85
DOCUMENT = 3000
AUDIO_BYTES_PER_TOKEN = 1600  # 128 kbit/s is 16,000 bytes a second: 10 tokens
VIDEO_BYTES_PER_TOKEN = 475  # 1 Mbit/s is 125,000 bytes a second: 263 tokens
AUDIO_BY_REFERENCE = 100
VIDEO_BY_REFERENCE = 2630
IMAGE_OUTPUT = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
"""The output tokens of one image by quality, at 1024x1024, 1024x1536 and 1536x1024 (OpenAI's
image generation guide, gpt-image-1; its successors bill within a few percent of it)."""
_IMAGE_SIZES = {"1024x1024": 0, "1024x1536": 1, "1536x1024": 2}
_SIZE = re.compile(r"([1-9][0-9]{1,4})x([1-9][0-9]{1,4})")
PARTIAL_IMAGE = 100
"""The image output tokens each partial image of a stream adds (OpenAI's image generation guide)."""
AUDIO_OUT_CHARS_PER_TOKEN = 3200
"""Base64 characters of a streamed chat answer's audio a token: pcm16 at 24 kHz mono is 48,000
bytes a second, and audio output is 20 tokens a second (OpenAI's $0.24 a minute at $200 per MTok),
2,400 bytes or 3,200 base64 characters a token."""
_MAX_DEPTH = 8
_LEAVES = frozenset({str, int, float, bool, type(None)})
_INNER = frozenset(("content", "parts", "toolResult"))
_NO_MEDIA = frozenset(("text", "input_text", "output_text", "tool_use", "server_tool_use", "thinking",
                       "redacted_thinking", "function_call", "reasoning", "web_search_tool_result"))
"""Blocks and items that hold no media (most of an agent's history): not walked."""

_OPENAI_TYPES = {"image_url": "image", "input_image": "image", "image": "image", "file": "document",
                 "input_file": "document", "document": "document", "document_url": "document",
                 "input_audio": "audio", "audio": "audio", "video": "video"}
"""A content part's ``type`` and the kind of media it is (OpenAI's chat and Responses, Mistral's,
Cohere's, Anthropic's blocks)."""
_KEYS = {"image": "image", "document": "document", "video": "video", "audio": "audio",  # Bedrock Converse, Nova
         "inlineData": None, "inline_data": None, "fileData": None, "file_data": None}  # Gemini: by MIME type
_MIME = (("image/", "image"), ("audio/", "audio"), ("video/", "video"), ("application/pdf", "document"),
         ("text/", "document"))


def media_tokens(api: str, body: Mapping[str, Any]) -> int:
    """The tokens of the media parts of a request's messages (0 when it has none)."""
    total = 0
    for key in ("messages", "input", "contents", "requests", "system", "prompt"):
        value = body.get(key)
        if value is not None and type(value) is not str:
            total += _walk(api, value, 0)
    images = body.get("images")  # Ollama's /api/generate: base64 strings beside the prompt
    if type(images) is list:
        total += IMAGE.get(api, IMAGE["openai"]) * len(images)
    return total


def _walk(api: str, value: object, depth: int) -> int:
    """The media of a value of a request's messages: JSON's own types by exact type first (the
    ``Mapping`` ABC check costs ~0.2 us a value), each object's keys read once, lists in a loop
    (an 83 KB agent history of 180 messages: ~0.1 ms)."""
    total = 0
    todo = [(value, depth)]
    while todo:
        value, depth = todo.pop()
        kind = type(value)
        if kind is list or (kind is not dict and kind not in _LEAVES and isinstance(value, list)):
            ids = bool(value) and type(value[0]) is int  # type: ignore[index]  # token ids: no media
            if depth < _MAX_DEPTH and not ids:
                todo.extend((v, depth + 1) for v in value if type(v) not in _LEAVES)  # type: ignore[attr-defined]
            continue
        if kind is not dict and (kind in _LEAVES or not isinstance(value, Mapping)):
            continue
        part = value.get("type")  # type: ignore[attr-defined]
        if type(part) is str:
            if part in _OPENAI_TYPES:
                total += _part(api, _OPENAI_TYPES[part], value)  # type: ignore[arg-type]
                continue
            if part in _NO_MEDIA:
                continue
        for key, inner in value.items():  # type: ignore[attr-defined]
            if key in _KEYS and isinstance(inner, Mapping):
                mime = inner.get("mimeType", inner.get("mime_type"))
                found = _KEYS[key] or next((k for prefix, k in _MIME if type(mime) is str and mime.startswith(prefix)),
                                           None)
                if found is not None:
                    total += _part(api, found, inner)
            elif key == "images" and type(inner) is list:  # Ollama's chat messages
                total += IMAGE.get(api, IMAGE["openai"]) * len(inner)
            elif key in _INNER and inner is not None and type(inner) is not str and depth < _MAX_DEPTH:
                todo.append((inner, depth + 1))
    return total


def _part(api: str, kind: str, part: Mapping[str, Any]) -> int:
    if kind == "image":
        detail = part.get("detail")
        url = part.get("image_url")
        if detail is None and isinstance(url, Mapping):
            detail = url.get("detail")
        return IMAGE_LOW if detail == "low" else IMAGE.get(api, IMAGE["openai"])
    if kind == "document":
        return 0 if _text_document(part) else DOCUMENT
    size = _inline_size(part)
    if kind == "audio":
        return size // AUDIO_BYTES_PER_TOKEN + 1 if size else AUDIO_BY_REFERENCE
    return size // VIDEO_BYTES_PER_TOKEN + 1 if size else VIDEO_BY_REFERENCE


def _text_document(part: Mapping[str, Any]) -> bool:
    """A document given as text (Anthropic's text and content sources, Converse's, Cohere's
    ``document.data``): counted as the prompt's text (:mod:`.history`), not as a page."""
    source = part.get("source")
    if isinstance(source, Mapping):
        return source.get("type") in ("text", "content") or "text" in source or "content" in source
    return isinstance(part.get("document"), Mapping)


def _inline_size(part: Mapping[str, Any]) -> int:
    """The decoded bytes of a part's inline base64 data (0 when it names its media elsewhere)."""
    for holder in (part, part.get("input_audio"), part.get("source")):
        if isinstance(holder, Mapping):
            data = holder.get("data", holder.get("bytes"))
            if type(data) is str:
                return len(data) * 3 // 4
    return 0


def image_output_tokens(size: object, quality: object) -> int:
    """The output tokens of one image of ``size`` (``"1024x1536"``) and ``quality`` (``low``,
    ``medium``, ``high``) as :data:`IMAGE_OUTPUT` prices them: ``auto`` or none is 1024x1024 at
    medium; another size is scaled by its area; another quality's name (a newer model's) is high's.

    >>> image_output_tokens("1536x1024", "high"), image_output_tokens("auto", None), image_output_tokens("2048x2048", "low")
    (6208, 1056, 1088)
    """
    row = IMAGE_OUTPUT.get(quality if isinstance(quality, str) else "", None) or IMAGE_OUTPUT[
        "medium" if quality in (None, "", "auto") else "high"]
    if isinstance(size, str) and size in _IMAGE_SIZES:
        return row[_IMAGE_SIZES[size]]
    m = _SIZE.fullmatch(size) if isinstance(size, str) else None
    return round(row[0] * int(m.group(1)) * int(m.group(2)) / (1024 * 1024)) if m is not None else row[0]
