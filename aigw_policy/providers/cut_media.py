"""What an OpenAI stream cut before its usage had made that is no text (read by :mod:`.sse`): an
image being drawn, which its partial images show (the Images API's ``image_generation.partial_image``
/ ``image_edit.partial_image``, with the image's ``size`` and ``quality``; the Responses API's
``response.image_generation_call.partial_image``, whose size and quality are the image tool's in
the response's ``tools``, priced at the tool's model), and a chat answer's audio
(``choices[].delta.audio.data``, base64 pcm16). Estimated by :mod:`.media`'s figures; the text of
the stream is estimated as before. Before (payloads29) both were 0 output tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .media import AUDIO_OUT_CHARS_PER_TOKEN, PARTIAL_IMAGE, image_output_tokens
from .tool_models import IMAGE_MODEL
from .usage import Usage

__all__ = ["IMAGE_PARTIALS", "MediaSeen"]

IMAGE_PARTIALS = frozenset(("image_generation.partial_image", "image_edit.partial_image"))
TOOL_PARTIAL = "response.image_generation_call.partial_image"


@dataclass(slots=True)
class MediaSeen:
    """What a stream's events showed of its media so far (compared by value: a stream reader's
    state, :meth:`~.sse.StreamUsage._effect`)."""

    partials: int = 0  # partial images of the Images API
    size: object = None
    quality: object = None
    tool: tuple[str, object, object] | None = None  # the Responses image tool: its model, size, quality
    tool_partials: int = 0
    audio_chars: int = 0

    def response_event(self, typ: str, resp: object) -> None:
        """A Responses API event (``resp``: its ``response``, when it has one)."""
        if typ == TOOL_PARTIAL:
            self.tool_partials += 1
        elif isinstance(resp, Mapping) and self.tool is None and isinstance(resp.get("tools"), list):
            self.tool = _image_tool(resp["tools"])

    def image_event(self, obj: Mapping[str, Any]) -> None:
        """An Images API partial image."""
        self.partials += 1
        self.size, self.quality = obj.get("size"), obj.get("quality")

    def chat_chunk(self, choices: object) -> None:
        """A chat chunk's ``choices``: the audio of their deltas."""
        if type(choices) is not list:
            return
        for ch in choices:
            delta = ch.get("delta") if type(ch) is dict else None
            audio = delta.get("audio") if type(delta) is dict else None
            data = audio.get("data") if type(audio) is dict else None
            if type(data) is str:
                self.audio_chars += len(data)

    def estimate(self) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, Usage], ...], list[str]]:
        """The output units of the stream's own model (image and audio tokens), the usage of the
        image tool's model, and notes saying what was estimated."""
        units: list[tuple[str, int]] = []
        notes: list[str] = []
        if self.partials:
            image = image_output_tokens(self.size, self.quality) + PARTIAL_IMAGE * self.partials
            units.append(("output_image_tokens", image))
            notes.append(f"{self.partials} partial image(s) streamed: {image:,} image output tokens estimated")
        if self.audio_chars:
            audio = -(-self.audio_chars // AUDIO_OUT_CHARS_PER_TOKEN)
            units.append(("output_audio_tokens", audio))
            notes.append(f"{audio:,} audio output tokens estimated from the audio streamed")
        tool: tuple[tuple[str, Usage], ...] = ()
        if self.tool_partials:
            model, size, quality = self.tool or (IMAGE_MODEL, None, None)
            image = image_output_tokens(size, quality) + PARTIAL_IMAGE * self.tool_partials
            tool = ((model, Usage.of(0, image, source="estimate", units=(("output_image_tokens", image),))),)
            notes.append(f"{self.tool_partials} partial image(s) of the image tool: {image:,} image output "
                         f"tokens of `{model}` estimated")
        return tuple(units), tool, notes


def _image_tool(tools: list[Any]) -> tuple[str, object, object] | None:
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") == "image_generation":
            model = tool.get("model")
            return (model[:256] if isinstance(model, str) and model else IMAGE_MODEL,
                    tool.get("size"), tool.get("quality"))
    return None
