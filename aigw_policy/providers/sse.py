"""An incremental, sans-IO usage accumulator for streamed responses.

Feed the bytes as they arrive, in chunks of any size (a chunk may end inside a line, inside a
``\\r\\n`` pair or inside a UTF-8 character); call :meth:`StreamUsage.finish` at the end of the
stream (or when it is cut off). The result does not depend on where the chunks were split.

Framing (framing.py): Server-Sent Events (OpenAI, Anthropic, Gemini ``alt=sse``),
newline-delimited JSON (Ollama's native API), a JSON array (Gemini without ``alt=sse``).
Provider rules:

- OpenAI chat/completions: usage only in a final chunk, when ``stream_options.include_usage``
  was set (several usage chunks: each count keeps its largest value); Groq's last chunk
  carries it under ``x_groq.usage`` whether asked for or not (a compound system's models under
  ``x_groq.usage_breakdown``: priced by them), Moonshot's in its choice
  (``choices[0].usage``); the Responses API: ``response.completed`` (or ``.incomplete``/``.failed``).
- Anthropic: ``message_start`` then ``message_delta`` usage counts are cumulative: each field
  keeps its largest value (a later placeholder 0 does not wipe it), never a sum.
- Gemini: ``usageMetadata`` on chunks, cumulative: each field keeps its largest value (Vertex
  AI's ``trafficType`` there is the tier it was served at).

A stream that ends without usage, or whose usage is partial, is estimated from the streamed
text and the request's input estimate, with ``source == "estimate"`` and a note saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .cut_media import IMAGE_PARTIALS, MediaSeen
from .bedrock_invoke import METRICS, invoke_text, invoke_usage, metrics_usage
from .billed import grounded_searches, grounding_queries
from .eventstream import EventStreamParser
from .framing import BOM, JSONArrayParser, NDJSONParser, SSEParser
from .parsed_json import MISSING, take
from .shapes import Shape, cut, learn
from .tokens import DEFAULT_COUNTER, TokenCounter
from .tool_models import with_breakdown, with_iteration_models, with_tool_models
from .vendor_usage import (bedrock_usage, cohere_delta_text, cohere_usage, interaction_usage, ollama_output_only,
                           ollama_usage)
from .usage import (ZERO_USAGE, Usage, loads, merge_counts, _units, profiled, served_model, service_tier, with_input_estimate,
                    with_output_estimate, with_units, zero_usage)
from .usage_openai import IMAGE_DONE, image_usage, message_texts, openai_usage, tool_calls
from .usage_anthropic import anthropic_fields, anthropic_usage_from_fields
from .usage_gemini import gemini_fields, gemini_part_texts, gemini_usage_from_fields, traffic_tier

FAST_EVENTS = True
"""An event of a shape learnt from an earlier one of the stream (shapes.py: a content delta,
say) is read without ``json.loads``: its model and text taken from the shape; False: every
event through ``json.loads`` (tests/providers/test_stream_shapes.py compares the two)."""
MAX_SHAPES = 4  # the shapes a stream keeps, the latest learnt first
_LEARNING = 32  # a stream's budget for learning shapes: 1 a shape learnt or an event without holes, 8 one refused
_NAMED = ("model", "_tier")
"""What a reader sets to the value an event names, when it names one (else leaves as it was):
all a shape may do besides adding text. Both start as None on a fresh reader."""
_OWN = ("_text", "_parser", "_sniff")  # the probe's text; objects of its own
LEARN_AFTER = 8  # objects read as JSON before a stream learns: a stream this short never pays for it
# (a shape costs ~200k instructions to learn, ~10 events' json.loads: docs/providers.md)
MAX_TEXT_CHARS = 4 * 1024 * 1024  # streamed text kept for the estimate; the rest is counted


def _texts_openai(obj: Mapping[str, Any], out: list[str]) -> None:
    # `type(x) is dict` first: what JSON gives, without the Mapping ABC check (~7% of a stream's usage)
    choices = obj.get("choices")
    if isinstance(choices, list):
        for ch in choices:
            if type(ch) is not dict and not isinstance(ch, Mapping):
                continue
            delta = ch.get("delta")
            if type(delta) is dict or isinstance(delta, Mapping):
                message_texts(delta, out)
            text = ch.get("text")
            if isinstance(text, str):  # completions
                out.append(text)
    typ = obj.get("type")
    if isinstance(typ, str) and typ.endswith(".delta") and isinstance(obj.get("delta"), str):
        out.append(obj["delta"])  # responses API: output_text / arguments / reasoning deltas


class StreamUsage:
    """Accumulates usage from a streamed response for one request's wire format (``api``).

    ``api`` is ``AiRequest.api`` (openai, anthropic, gemini, ollama); ``input_estimate`` is the
    request's ``ai.input_tokens``, used when the stream never reports input usage.
    """

    def __init__(
        self,
        api: str,
        *,
        input_estimate: int = 0,
        counter: TokenCounter = DEFAULT_COUNTER,
        model: str | None = None,
        framing: str | None = None,
        profile: str | None = None,
        writes: bool = True,
    ) -> None:
        self.api = api
        # False: the request asked for no output (`echo: true, max_tokens: 0`, scoring a prompt): a 0 output
        # count beside text (the prompt echoed) is a count, not a placeholder (usage.ZERO_OUTPUT)
        self.writes = writes
        self.profile = profile  # a Bedrock model the path names, served as itself (usage.profiled)
        self.input_estimate = input_estimate
        self.counter = counter
        self.model = model
        # Gemini streams SSE with alt=sse, else a JSON array; Bedrock (Converse, and Claude's
        # Anthropic events) AWS's binary event-stream: told apart by the first byte
        self._sniff: bytearray | None = bytearray() if framing is None and api in _SNIFFED else None
        framing = framing or ("ndjson" if api == "ollama" else "sse")
        self._parser: SSEParser | NDJSONParser | JSONArrayParser | EventStreamParser = (
            NDJSONParser() if framing == "ndjson" else JSONArrayParser() if framing == "json-array"
            else EventStreamParser() if framing == "eventstream" else SSEParser())
        self._usage: Usage | None = None
        self._anthropic: dict[str, int] = {}
        self._gemini: dict[str, int] = {}
        self._grounded: dict[int, set[str]] = {}  # a Gemini stream's search queries, by candidate
        self._anthropic_final = False  # a message_delta reported output_tokens
        self._iterations: object = None  # the last message_delta's usage, when it has `iterations`
        self._tier: str | None = None  # the service tier an OpenAI stream names
        self._metrics = False  # Bedrock InvokeModel: the invocation metrics gave the usage
        self._media = MediaSeen()  # images and audio an OpenAI stream made (estimated when it has no usage)
        self._text: list[str] = []
        self._text_chars = 0
        self._overflow_tokens = 0
        self._done = False
        self._bad = 0
        self._errors: list[str] = []
        self._finished: Usage | None = None
        self._shapes: list[Shape] = []
        self._learning = _LEARNING if FAST_EVENTS else 0
        self._read_as_json = 0

    # -- input -----------------------------------------------------------------------------

    def feed(self, chunk: bytes | str) -> None:
        if self._finished is not None:
            return
        if isinstance(chunk, str):
            if type(self._parser) is EventStreamParser or self._sniff is not None and _binary(chunk):
                chunk = chunk.encode("latin-1", "replace")  # bytes given as text one for one (answer_text)
            else:
                chunk = chunk.encode("utf-8", "replace")  # a lone surrogate (JSON may escape one) is no UTF-8
        if self._sniff is not None:
            chunk = self._sniffed(self._sniff, chunk)
        for event, data in self._parser.feed(chunk):
            self._on_event(event, data)

    def _sniffed(self, held: bytearray, chunk: bytes) -> bytes:
        """The bytes held back until the first one that is no space nor BOM decides the
        framing (a NUL, the high byte of a length: AWS's event-stream; ``[`` of a Gemini
        stream: a JSON array; anything else: SSE), whatever the chunks' split."""
        if not held and chunk and chunk[0] not in _SPACE_OR_BOM:  # decided by its first byte: no copy
            head = chunk
        else:
            held += chunk
            chunk = bytes(held)
            head = chunk.lstrip(b" \t\r\n")
            if not head or len(head) < len(BOM) and BOM.startswith(head):
                return b""
        if head[:1] == b"\x00":
            self._parser = EventStreamParser()
        elif self.api == "gemini" and (head.startswith(b"[") or head.startswith(BOM + b"[")):
            self._parser = JSONArrayParser()
        elif self.api == "cohere" and head.startswith(b"{"):  # Cohere v1's stream: one JSON object a line
            self._parser = NDJSONParser()
        self._sniff = None
        return chunk

    def _input_kept_output_estimated(self, usage: Usage, notes: list[str]) -> Usage:
        """The provider's input counts as reported; the output estimated from the text seen
        (at least what was reported), marked ``source: estimate``."""
        return Usage.of(
            usage.input_tokens,
            max(self._output_estimate(), usage.output_tokens),
            cached_input_tokens=usage.cached_input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
            cache_creation_1h_input_tokens=usage.cache_creation_1h_input_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            source="estimate",
            model=self.model,
            notes=tuple(notes),
            units=usage.units,
            service_tier=usage.service_tier,
        )

    def finish(self) -> Usage:
        """The usage of the whole stream; idempotent."""
        if self._finished is None:
            if self._sniff is not None:  # ended before a byte that decides: nothing but spaces
                held, self._sniff = bytes(self._sniff), None
                for event, data in self._parser.feed(held):
                    self._on_event(event, data)
            for event, data in self._parser.finish():
                self._on_event(event, data)
            self._finished = self._result()
            if self.profile is not None:
                self._finished = profiled(self._finished, self.profile)
        return self._finished

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: str, data: str) -> None:
        if data == "[DONE]":
            self._done = True
            return
        for i, shape in enumerate(self._shapes):
            values = shape.read(data)
            if values is not None:  # what reading it as JSON would do: name the model, add text
                if i:  # the latest matched first: a stream's deltas, not its one finish
                    self._shapes.insert(0, self._shapes.pop(i))
                for name, value in shape.named:
                    setattr(self, name, value)
                if shape.texts:
                    self._add_text([values[i] for i in shape.texts])
                return
        obj, err = take(data), None  # the relay's parse of this very text, when it made one
        if obj is MISSING:
            obj, err = loads(data)
        if err is not None and "\n" in data:
            # events run together without their blank line (a broken server or proxy): the
            # joined data lines are no JSON, so each line is read as the event it was meant as
            for line in data.split("\n"):
                if line.strip():
                    self._on_event(event, line)
            return
        if err is not None or type(obj) is not dict and not isinstance(obj, Mapping):
            if data.strip() == "[DONE]":
                self._done = True
            else:
                self._bad += 1
            return
        self._read(obj)
        if self._learning > 0 and type(obj) is dict:
            self._learn(data)

    def _learn(self, data: str) -> None:
        if self._read_as_json < LEARN_AFTER:
            self._read_as_json += 1
            return
        holes = cut(data)
        if holes is None:  # no hole (or too many, or too long): nothing to learn, and looking cost
            self._learning -= 1  # a search of the whole event: a stream of such events stops looking
            return
        shape = learn(holes, self._effect)
        if shape is None:  # usage, an error: read as JSON each time (a few such events, Gemini's all)
            self._learning -= 8
            return
        self._learning -= 1
        self._shapes.insert(0, shape)
        del self._shapes[MAX_SHAPES:]

    def _effect(self, obj: dict[str, object]) -> tuple[tuple[tuple[str, str], ...], list[str]] | None:
        """What reading ``obj`` does: what it names (:data:`_NAMED`) and the text it adds; None
        when it does anything else (usage, an error, the end of the stream): read on a fresh
        reader whose state must be left as it was but for those."""
        probe = _Probe(self.api, counter=self.counter)
        fresh = vars(StreamUsage(self.api, counter=self.counter))
        probe._read(obj)
        if any(v != fresh[k] for k, v in vars(probe).items() if k not in _NAMED and k not in _OWN):
            return None
        return tuple((k, v) for k in _NAMED if (v := getattr(probe, k)) is not None), probe._text

    def _read(self, obj: Mapping[str, Any]) -> None:
        api = self.api
        if api == "anthropic":
            self._anthropic_event(obj)
        elif api == "gemini":
            self._gemini_event(obj)
        elif api == "ollama":
            self._ollama_event(obj)
        elif api == "cohere":
            self._cohere_event(obj)
        elif api == "bedrock":
            self._bedrock_event(obj)
        else:
            self._openai_event(obj)

    def _note_model(self, value: object, *, gemini: bool = False) -> None:
        model = served_model(value, gemini=gemini)
        if model is not None:
            self.model = model

    def _add_text(self, parts: list[str]) -> None:
        for text in parts:
            if self._text_chars < MAX_TEXT_CHARS:
                self._text.append(text)
                self._text_chars += len(text)
            else:
                self._overflow_tokens += self.counter.count(text, self.model)

    def _openai_event(self, obj: Mapping[str, Any]) -> None:
        typ = obj.get("type")
        if isinstance(typ, str) and typ.startswith("response."):
            resp = obj.get("response")
            if isinstance(resp, Mapping):
                self._note_model(resp.get("model"))
                if typ in ("response.completed", "response.incomplete", "response.failed"):
                    found = openai_usage(resp.get("usage"))
                    if found is not None:
                        self._usage = with_tool_models(with_units(found, tool_calls(resp.get("output"))), resp)
                    self._tier = service_tier(resp.get("service_tier")) or self._tier
                    self._done = True
                    if typ == "response.failed":
                        self._errors.append(_error_kind(resp.get("error")) or "response.failed")
            elif typ == "error":
                self._errors.append("error event")
            self._media.response_event(typ, resp)
            parts: list[str] = []
            _texts_openai(obj, parts)
            self._add_text(parts)
            return
        # an error chunk: OpenAI's and Groq's `{error}`, vLLM's older `{object: error}`, OpenRouter's
        # mid-stream `{error: {code: 502}, choices: [{finish_reason: error}]}` (choices beside it), whose
        # `usage`, when it has one, is the request's final usage: read below, as any last chunk's
        if typ == "error" or "error" in obj and ("choices" not in obj or isinstance(obj["error"], Mapping)) \
                or obj.get("object") == "error":
            self._errors.append(_error_kind(obj.get("error")) or _error_kind(obj))
            if not isinstance(obj.get("usage"), Mapping):
                return
        if type(typ) is str and typ in IMAGE_PARTIALS:
            self._media.image_event(obj)
        self._media.chat_chunk(obj.get("choices"))
        self._note_model(obj.get("model"))
        self._tier = service_tier(obj.get("service_tier")) or self._tier
        usage, breakdown = obj.get("usage"), obj.get("usage_breakdown")
        extra = obj.get("x_groq")
        if type(extra) is dict:  # Groq's streams: the counts of the last chunk under `x_groq`
            usage = extra.get("usage") if usage is None else usage
            breakdown = extra.get("usage_breakdown") if breakdown is None else breakdown
        if usage is None:  # Moonshot's: in the last chunk's choice (choices[0].usage)
            usage = _choice_usage(obj.get("choices"))
        if usage is not None:
            found = (image_usage if type(typ) is str and typ in IMAGE_DONE else openai_usage)(usage)
            if found is not None:
                found = with_breakdown(found, breakdown)
                self._usage = found if self._usage is None else _largest(self._usage, found)
        parts = []
        _texts_openai(obj, parts)
        self._add_text(parts)

    def _anthropic_event(self, obj: Mapping[str, Any]) -> None:
        typ = obj.get("type")
        if typ == "message_start":
            msg = obj.get("message")
            if isinstance(msg, Mapping):
                self._note_model(msg.get("model"))
                merge_counts(self._anthropic, anthropic_fields(msg.get("usage")))
        elif typ == "message_delta":
            fields = anthropic_fields(found := obj.get("usage"))
            merge_counts(self._anthropic, fields)  # cumulative: never a sum
            if isinstance(found, Mapping) and found.get("iterations") is not None:
                self._iterations = found  # per model, priced apart (tool_models.with_iteration_models)
            if "output_tokens" in fields:
                self._anthropic_final = True
        elif typ == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, Mapping) and block.get("type") == "fallback":  # a server-side fallback:
                to = block.get("to")  # served what follows (message_start named the declined model)
                self._note_model(to.get("model") if isinstance(to, Mapping) else None)
        elif typ == "content_block_delta":
            delta = obj.get("delta")
            if isinstance(delta, Mapping):
                self._add_text(
                    [delta[k] for k in ("text", "thinking", "partial_json") if isinstance(delta.get(k), str)]
                )
        elif typ == "message_stop":
            self._done = True
        elif typ == "error":
            self._errors.append(_error_kind(obj.get("error")))

    def _gemini_event(self, obj: Mapping[str, Any]) -> None:
        if "event_type" in obj:
            self._interaction_event(obj)
            return
        self._note_model(obj.get("modelVersion"), gemini=True)
        self._tier = traffic_tier(obj.get("usageMetadata")) or self._tier  # Vertex AI's
        counts = gemini_fields(obj.get("usageMetadata"))
        if counts:
            merge_counts(self._gemini, counts)
        if grounding_queries(obj.get("candidates"), self._grounded) or counts:
            usage = gemini_usage_from_fields(self._gemini)
            if usage is not None:  # with the Google searches it was grounded with, billed apart
                self._usage = with_units(usage, grounded_searches(self._grounded, self.model))
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, Mapping) and feedback.get("blockReason"):
            self._done = True  # the prompt was blocked: this chunk is the whole answer
        cands = obj.get("candidates")
        parts: list[str] = []
        if isinstance(cands, list):
            for c in cands:
                content = c.get("content") if isinstance(c, Mapping) else None
                if isinstance(content, Mapping):
                    parts.extend(gemini_part_texts(content.get("parts")))
                if isinstance(c, Mapping) and c.get("finishReason"):
                    self._done = True
        self._add_text(parts)
        if "error" in obj:
            self._errors.append(_error_kind(obj.get("error")))

    def _interaction_event(self, obj: Mapping[str, Any]) -> None:
        """An event of Gemini's Interactions API: ``step.delta`` (``delta.text``), and
        ``interaction.completed``, whose ``interaction`` has the usage and ends the stream."""
        typ = obj.get("event_type")
        delta = obj.get("delta")
        if typ == "step.delta" and isinstance(delta, Mapping) and isinstance(delta.get("text"), str):
            self._add_text([delta["text"]])
        elif typ == "interaction.completed":
            interaction = obj.get("interaction")
            if isinstance(interaction, Mapping):
                self._note_model(interaction.get("model"))
                usage = interaction_usage(interaction, served_model(interaction.get("model")) or self.model)
                self._usage = usage or self._usage
            self._done = True
        elif typ == "error" or "error" in obj:
            self._errors.append(_error_kind(obj.get("error")))

    def _ollama_event(self, obj: Mapping[str, Any]) -> None:
        self._note_model(obj.get("model"))
        msg = obj.get("message")
        parts = []
        for value in ((msg.get("thinking"), msg.get("content")) if isinstance(msg, Mapping) else ()):
            if isinstance(value, str):  # the thinking (think: true) is output too
                parts.append(value)
        for key in ("thinking", "response"):  # /api/generate
            if isinstance(obj.get(key), str):
                parts.append(obj[key])
        self._add_text(parts)
        if obj.get("done") is True:
            self._done = True
            self._usage = ollama_usage(obj) or ollama_output_only(obj, self.input_estimate) or self._usage
        if "error" in obj:
            self._errors.append("")

    def _cohere_event(self, obj: Mapping[str, Any]) -> None:
        """Cohere's v2 stream: text in ``content-delta`` / ``tool-call-delta`` events, the
        usage in ``message-end``'s ``delta`` (the end of the stream)."""
        typ = obj.get("type")
        v1 = obj.get("event_type")  # v1's events (NDJSON, or SSE when asked): the usage in stream-end's response
        if v1 is None and "is_finished" in obj:  # /v1/generate's: no event type, the last one is_finished
            v1 = "stream-end" if obj["is_finished"] is True else "text-generation"
        if v1 is not None:
            if v1 == "stream-end":
                self._usage = cohere_usage(obj.get("response")) or self._usage
                self._done = True
                if obj.get("finish_reason") == "ERROR":
                    self._errors.append("")
            elif v1 == "text-generation" and isinstance(obj.get("text"), str):
                self._add_text([obj["text"]])
            return
        if typ == "message-end":
            delta = obj.get("delta")
            self._usage = cohere_usage(delta) or self._usage
            self._done = True
            if isinstance(delta, Mapping) and isinstance(delta.get("error"), str):
                self._errors.append("")
            return
        self._add_text(cohere_delta_text(obj))

    def _bedrock_event(self, obj: Mapping[str, Any]) -> None:
        """Bedrock's ConverseStream events, by their payload: ``contentBlockDelta`` (text,
        reasoning, tool input), ``messageStop`` (``stopReason``), ``metadata`` (``usage``); an
        InvokeModel stream's chunks of any family (bedrock_invoke.py), whose last one's
        ``amazon-bedrock-invocationMetrics`` are the usage (once: they replace what earlier
        chunks counted, never added to it)."""
        if METRICS in obj:
            self._usage = metrics_usage(obj[METRICS]) or self._usage
            self._metrics = self._usage is not None
            self._done = True
        elif isinstance(obj.get("usage"), Mapping) and "inputTokens" in obj["usage"]:  # Converse's metadata, last
            self._usage = bedrock_usage(obj.get("usage")) or self._usage
            tier = obj.get("serviceTier")  # the tier that served it (`{type: priority}`), beside the usage
            self._tier = service_tier(tier.get("type") if isinstance(tier, Mapping) else None) or self._tier
            self._done = True
            return
        elif obj.get("type") == "error":  # an exception message (eventstream.py)
            self._errors.append(_error_kind(obj.get("error")))
            return
        elif not self._metrics:  # a family's own cumulative counts (Llama's, Titan's, Nova's metadata)
            found = invoke_usage(obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else obj)
            if found is not None:
                self._usage = found if self._usage is None else _largest(self._usage, found)
        self._add_text(invoke_text(obj))
        delta = obj.get("delta")
        if isinstance(delta, Mapping):
            parts = [delta["text"]] if isinstance(delta.get("text"), str) else []
            for path in (("reasoningContent", "text"), ("toolUse", "input")):
                value = delta.get(path[0])
                if isinstance(value, Mapping) and isinstance(value.get(path[1]), str):
                    parts.append(value[path[1]])
            self._add_text(parts)

    # -- result ----------------------------------------------------------------------------

    def _output_estimate(self) -> int:
        return self.counter.count("".join(self._text), self.model) + self._overflow_tokens

    def _result(self) -> Usage:
        usage = self._counted()
        if usage.output_tokens == 0 and usage.source == "provider" and self._text and self.writes:
            usage = with_output_estimate(usage, self._output_estimate())  # (usage.ZERO_OUTPUT)
        return with_input_estimate(usage, self.input_estimate)

    def _counted(self) -> Usage:
        notes: list[str] = []
        if self._bad:
            notes.append(f"{self._bad} unreadable event(s)")
        if self._parser.dropped:
            notes.append(f"{self._parser.dropped} oversized event(s) dropped")
        if self._errors:
            kind = next((k for k in self._errors if k), None)
            notes.append(f"stream reported an error: {kind}" if kind else "stream reported an error")
        if self.api == "anthropic":
            usage = anthropic_usage_from_fields(self._anthropic)
            if usage is not None and self._anthropic_final:
                if not self._done:
                    notes.append("stream ended before message_stop; counts are the latest reported")
                return with_iteration_models(_with(usage, self.model, notes), self._iterations)
            if usage is not None:  # input known (message_start), output never reported
                notes.append("no output usage in stream; output estimated")
                return self._input_kept_output_estimated(usage, notes)
        elif self.api in ("gemini", "bedrock") and self._usage is not None and not self._done:
            # usageMetadata (a Bedrock InvokeModel chunk's counts) is cumulative: without the
            # final chunk (finishReason; the invocation metrics) the counts are those of a
            # partial answer. Keep the provider's input, estimate the output.
            notes.append("stream ended before its final chunk; output estimated")
            return self._input_kept_output_estimated(self._usage, notes)
        elif self._usage is not None and not zero_usage(self._usage, self.input_estimate):
            return _with(self._usage, self.model, notes, self._tier)
        if self._usage is not None:  # a placeholder's zeros (usage.ZERO_USAGE): estimated, as none
            notes.append(ZERO_USAGE)
        elif self.api == "openai" and self._done and not self._errors:
            notes.append("no usage in stream (stream_options.include_usage not set?)")
        elif not self._done:
            notes.append("stream ended without usage (cut off?)")
        else:
            notes.append("no usage in stream")
        units, tool, said = self._media.estimate()
        return Usage.of(self.input_estimate, self._output_estimate() + sum(n for _, n in units), source="estimate",
                        model=self.model, notes=(*notes, *said), units=units, other_models=tool)


class _Probe(StreamUsage):
    """A reader that keeps all the text it is given, past :data:`MAX_TEXT_CHARS` too (what
    :meth:`StreamUsage._effect` asks of an event)."""

    def _add_text(self, parts: list[str]) -> None:
        self._text += parts


_SNIFFED = frozenset(("gemini", "anthropic", "bedrock", "cohere"))
"""The wire formats whose streams come in more than one framing: Gemini's (SSE, a JSON array),
Anthropic's and Bedrock Converse's (SSE; AWS's event-stream from Bedrock), Cohere's (v2: SSE;
v1: NDJSON unless asked for SSE)."""
_SPACE_OR_BOM = frozenset(b" \t\r\n\xef")


def _binary(text: str) -> bool:
    """Whether a stream given as text starts as an event-stream does (a NUL): its bytes were
    given one character each (latin-1), as ``serve`` keeps such an answer."""
    return text.lstrip(" \t\r\n")[:1] == "\x00"


def _choice_usage(choices: object) -> object:
    """The usage a chunk's first choice carries (Moonshot's streams put the counts of the whole
    answer in ``choices[0].usage`` of the chunk with the ``finish_reason``), or None."""
    if type(choices) is list and choices and type(first := choices[0]) is dict:
        return first.get("usage")
    return None


def _error_kind(error: object) -> str:
    """The kind of a stream's error event as the provider names it (OpenAI ``code`` or
    ``type``, Anthropic ``error.type``, Gemini ``error.status``), or ``""``; never its message,
    which may quote the request (as ``response._error_note`` for an error body)."""
    if not isinstance(error, Mapping):
        return ""
    kinds = [v for k in ("status", "code", "type") if isinstance(v := error.get(k), str) and v and v != "error"]
    # a name before a number (Mistral's `code: "1500"` beside `type: "invalid_model"`)
    kind = next((v for v in kinds if not v.isdigit()), kinds[0] if kinds else "")
    if not kind and type(code := error.get("code")) is int and 100 <= code < 1000:
        kind = str(code)  # OpenRouter's mid-stream errors: an HTTP status as the code
    return kind[:64]


def _largest(old: Usage, new: Usage) -> Usage:
    """Two usage chunks of one stream (``continuous_usage_stats``, a proxy repeating or zeroing
    the last one): cumulative, so each count keeps its largest value, never a sum."""
    if new.input_tokens >= old.input_tokens and new.output_tokens >= old.output_tokens and \
            new.cached_input_tokens >= old.cached_input_tokens and new.reasoning_tokens >= old.reasoning_tokens and \
            new.cache_creation_input_tokens >= old.cache_creation_input_tokens and \
            all(new.unit(name) >= n for name, n in old.units) and (new.other_models or not old.other_models):
        return new
    units = dict(old.units)
    for name, n in new.units:
        units[name] = max(n, units.get(name, 0))
    return Usage.of(max(old.input_tokens, new.input_tokens), max(old.output_tokens, new.output_tokens),
                    cached_input_tokens=max(old.cached_input_tokens, new.cached_input_tokens),
                    cache_creation_input_tokens=max(old.cache_creation_input_tokens, new.cache_creation_input_tokens),
                    reasoning_tokens=max(old.reasoning_tokens, new.reasoning_tokens), notes=old.notes or new.notes,
                    units=_units(units.items()),
                    reported_usd=new.reported_usd if new.reported_usd is not None else old.reported_usd,
                    other_models=new.other_models or old.other_models, by_parts=new.by_parts or old.by_parts)


def _with(usage: Usage, model: str | None, notes: list[str], tier: str | None = None) -> Usage:
    if model is not None and usage.model != model or notes or tier is not None and usage.service_tier != tier:
        return replace(usage, model=model or usage.model, notes=(*usage.notes, *notes),
                       service_tier=tier or usage.service_tier)
    return usage
