"""Request classification: a provider request (SPEC section 8 ``request``) -> ``ai.*``.

Detection order: an explicit override (argument, then the ``x-aigw-provider`` header), then
the URL path, then the host, then the body's shape. Pure: no I/O, deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from .background import DEFERRED_NOTE, JOB_READ, deferred_read
from .batch_results import results_read
from .batches import ASYNC_PATHS
from .bedrock_invoke import bedrock_model as _bedrock_model, bedrock_route as _bedrock
from .errors import ProviderError
from .forms import form_fields
from .history import call_texts, json_text, prompt_and_count
from .media import media_tokens
from .realtime import session_model
from .native_paths import BEDROCK_PATH, VERTEX_ANTHROPIC_PATH, NativePath, native_path
from .no_model import CONVERSATION, no_model
from .request_fields import MAX_MODEL as _MAX_MODEL, MAX_MODELS as _MAX_MODELS
from .request_fields import choices as _choices, field_types as _field_types, max_output as _max_output
from .request_fields import output_schema, tool_list as _tool_list, tools as _tools
from .tokens import DEFAULT_COUNTER, TokenCounter
from .usage import loads

Operation = Literal["chat", "completion", "responses", "messages", "embeddings", "other"]
Api = Literal["openai", "anthropic", "gemini", "ollama", "cohere", "bedrock", "unknown"]

OPERATIONS: tuple[str, ...] = ("chat", "completion", "responses", "messages", "embeddings", "other")
#: provider label -> wire format (how its requests and responses are shaped)
HF_ROUTED = ("cerebras", "fireworks-ai", "groq", "hyperbolic", "nebius", "novita", "nscale", "ovhcloud", "publicai",
             "sambanova", "together")  # `router.huggingface.co/{provider}/v1/...`: each priced at genai-prices' `huggingface_{provider}`
PROVIDERS: dict[str, Api] = {
    "openai": "openai",
    "azure_openai": "openai",
    "openai_compatible": "openai",
    "vllm": "openai",
    "ollama": "openai",  # Ollama's OpenAI-compatible API; its native /api/* is api "ollama"
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex_ai": "gemini",
    # the hosted APIs of other vendors: OpenAI's wire format, their own prices (their hosts: _HOSTS)
    "azure_ai": "openai",  # Azure AI Foundry's model inference (`*.services.ai.azure.com/models/...`)
    "xai": "openai",
    "mistral": "openai",
    "deepseek": "openai",
    "groq": "openai",
    "together": "openai",
    "fireworks": "openai",
    "openrouter": "openai",
    "perplexity": "openai",
    "cerebras": "openai",
    "moonshot": "openai",
    "voyage": "openai",  # embeddings (its usage names only `total_tokens`: response.py)
    # OpenAI-compatible vendors genai-prices prices by their hosts (labelled `openai` before payloads27)
    "zai": "openai", "zhipuai": "openai", "minimax": "openai", "novita": "openai", "baseten": "openai",
    "ovhcloud": "openai", "doubleword": "openai", "arcee": "openai", "avian": "openai",
    **{f"huggingface_{name}": "openai" for name in HF_ROUTED},  # Hugging Face's router, by its path's first part
    "cohere": "cohere",  # its native v2 API; its OpenAI-compatible one (`/compatibility/v1/...`) is api openai
    "bedrock": "bedrock",  # Converse; InvokeModel of a Claude model is api anthropic
}
NO_STREAM_OPTIONS = frozenset(("cohere", "mistral"))
"""Providers whose OpenAI-compatible endpoint refuses ``stream_options``: never given it.
Cohere's Compatibility API (``/compatibility/v1``: its clients are told to unset it); Mistral's
API answers 422 ``extra_forbidden`` for ``stream_options.include_usage`` (and sends the usage in
its last chunk unasked)."""
COMPLETION_TOKENS = frozenset(("openai", "azure_openai"))
"""Providers whose chat output cap is ``max_completion_tokens`` (OpenAI's reasoning models refuse
``max_tokens``): a clamp on a body that names neither writes it there; every other
OpenAI-compatible vendor gets ``max_tokens``, the field they all read (Mistral answers 422
``extra_forbidden`` for ``max_completion_tokens``)."""
MAX_TOKENS_ONLY = frozenset(("mistral",))
"""Providers whose OpenAI-compatible API refuses ``max_completion_tokens`` (Mistral: 422
``extra_forbidden``): a request routed there has its ``max_completion_tokens`` sent as
``max_tokens``."""


def vendor_of(url: str) -> str | None:
    """The provider label the host of ``url`` names (:data:`_HOSTS`: ``api.mistral.ai`` is
    ``mistral``), or None: what a routing provider's ``base_url`` says of the API it speaks."""
    return _url_facts(url)[1]


PROVIDER_HEADER = "x-aigw-provider"
PER_MESSAGE_OVERHEAD = 4  # tokens of role/formatting per message, OpenAI's rule of thumb


@dataclass(frozen=True, slots=True)
class AiRequest:
    """The classified ``ai.*`` fields of a request (plus the wire format, for responses)."""

    provider: str
    operation: Operation
    model: str | None = None
    stream: bool = False
    max_output_tokens: int | None = None
    input_tokens: int = 0
    messages: int = 0
    tools: tuple[str, ...] = ()
    prompt: str = ""
    api: Api = "unknown"
    include_usage: bool = False  # OpenAI: stream_options.include_usage was requested
    #: how many outputs one call asks for (OpenAI ``n``/``best_of``, Gemini ``candidateCount``):
    #: each may be up to ``max_output_tokens`` long, and each is billed
    choices: int = 1
    notes: tuple[str, ...] = field(default=())
    #: ``(field, message)`` for each body field the policy reads whose value is not one the
    #: provider's API accepts (``max_tokens: "9"``, ``1e309``, ``-1``...): the engine refuses
    #: such a request rather than treat the field as absent (an upstream that coerces it
    #: would otherwise serve what the policy never saw).
    problems: tuple[tuple[str, str], ...] = field(default=())
    #: the body's ``models: [...]`` (fallback models, as ngrok's AI gateway takes them)
    models: tuple[str, ...] = ()
    #: False for a request that runs no model (a ``GET``, ``DELETE``...: reading a stored
    #: response, ``GET /v1/responses/{id}``, whose usage is the earlier call's): operation
    #: ``other``, and its answer's usage is not charged again
    inference: bool = True
    stored: bool = False  # OpenAI: the body's `store: true` (the answer's reads go to the key that served it)
    uncapped: int = 0  # of a batch creation's requests, those that could cap their output and do not

    @classmethod
    def _of(cls, *values: Any) -> AiRequest:
        """``AiRequest(*values)`` (every field, in order) without the frozen ``__init__``'s
        ``object.__setattr__`` per field: a third of classify's time went there."""
        ai = _new(cls)
        for put, value in zip(_PUTS, values, strict=True):
            put(ai, value)
        return ai

    def to_cel(self) -> dict[str, Any]:
        """The ``ai`` object of the CEL environment (request phase)."""
        return {
            "provider": self.provider,
            "operation": self.operation,
            "model": self.model or "",
            "stream": self.stream,
            "max_output_tokens": self.max_output_tokens or 0,
            "input_tokens": self.input_tokens,
            "messages": self.messages,
            "tools": list(self.tools),
            "prompt": self.prompt,
        }


_new = object.__new__
_PUTS = tuple(AiRequest.__dict__[f.name].__set__ for f in fields(AiRequest))  # the slots' setters, in order


# ---------------------------------------------------------------------------------------------
# detection

_GEMINI_PATH = re.compile(
    r"/(?:v\d+\w*/)?(?:projects/[^/]+/locations/[^/]+/publishers/google/)?"
    r"(?P<kind>models|tunedModels)/(?P<model>[^/:]+):(?P<action>[A-Za-z]+)$"
)
# Claude on Vertex AI and Amazon Bedrock's runtime (the model in the path), Cohere's and Ollama's
# native APIs: .native_paths
# Azure OpenAI's deployment routes and OpenAI's legacy engine routes (LiteLLM's proxy serves both,
# the path's model winning): the path names what the upstream serves, the body usually nothing
_AZURE_DEPLOYMENT = re.compile(r"/(?:openai/deployments|engines)/(?P<deployment>[^/]+)/")
_GEMINI_ACTIONS: dict[str, tuple[Operation, bool]] = {
    "generateContent": ("chat", False),
    "streamGenerateContent": ("chat", True),
    "embedContent": ("embeddings", False),
    "batchEmbedContents": ("embeddings", False),
}
_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", "openai"),
    (".openai.azure.com", "azure_openai"),
    (".cognitiveservices.azure.com", "azure_openai"),  # the endpoint of newer Azure OpenAI resources
    (".services.ai.azure.com", "azure_ai"),  # Azure AI Foundry: azure_openai under /openai/ (_azure_ai)
    (".models.ai.azure.com", "azure_ai"),  # Foundry's serverless (pay-as-you-go) endpoints
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "gemini"),
    ("aiplatform.googleapis.com", "vertex_ai"),
    ("api.x.ai", "xai"),
    ("api.mistral.ai", "mistral"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together"),
    ("api.together.ai", "together"),
    ("api.fireworks.ai", "fireworks"),
    ("openrouter.ai", "openrouter"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cerebras.ai", "cerebras"),
    ("api.moonshot.ai", "moonshot"),
    ("api.moonshot.cn", "moonshot"),
    ("api.voyageai.com", "voyage"),
    ("api.z.ai", "zai"), ("open.bigmodel.cn", "zhipuai"), ("api.minimax.io", "minimax"), ("api.minimaxi.com", "minimax"),
    ("api.novita.ai", "novita"), ("inference.baseten.co", "baseten"), ("oai.endpoints.kepler.ai.cloud.ovh.net", "ovhcloud"),
    ("api.doubleword.ai", "doubleword"), ("api.arcee.ai", "arcee"), ("api.avian.io", "avian"),
    ("api.cohere.com", "cohere"),
    ("api.cohere.ai", "cohere"),
    (".amazonaws.com", "bedrock"),  # bedrock-runtime[-fips].{region}.amazonaws.com only (_host_provider);
    # its `/model/{id}/converse|invoke...` routes name it too (native_paths.BEDROCK_PATH), behind any host
    (".api.aws", "bedrock"),  # bedrock-mantle.{region}.api.aws only: OpenAI's APIs, Anthropic's under /anthropic
)
"""Hosts that name who serves (and bills) a request: its provider label wins over what the path
says of the wire format (an Anthropic-compatible `/v1/messages` at DeepSeek is DeepSeek's)."""


def _headers2(headers: object, first: str, second: str) -> tuple[str | None, str | None]:
    """The values of two (lower-case) header names in one pass: each is the first key that
    lower-cases to it (a list: its first item), None when absent or not a string."""
    if type(headers) is not dict and not isinstance(headers, Mapping):
        return None, None
    a: object = _ABSENT
    b: object = _ABSENT
    for key, value in headers.items():  # type: ignore[attr-defined]
        if isinstance(key, str):
            low = key.lower()
            if low == first:
                if a is _ABSENT:
                    a = value
            elif low == second and b is _ABSENT:
                b = value
    return None if a is _ABSENT else _header_value(a), None if b is _ABSENT else _header_value(b)


_ABSENT = object()


def _header(headers: object, name: str) -> str:
    """The value of one (lower-case) header name, or ``""``."""
    return _headers2(headers, name, "\x00")[0] or ""


def _header_value(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _by_path(path: str) -> tuple[str | None, Api, Operation, dict[str, Any]] | None:
    """(provider or None, api, operation, extras) from the URL path, or None."""
    native = native_path(path)
    if native is not None:
        return _natively(path.rstrip("/"), native)
    p = path.rstrip("/")  # a trailing `/` is the same route to a server without strict routing (Go Fiber's)
    m = _GEMINI_PATH.search(p)
    if m and ("/publishers/" not in path or "/publishers/google/" in path):  # Mistral on Vertex: not Gemini
        op, stream = _GEMINI_ACTIONS.get(m.group("action"), ("other", False))
        if m.group("action") == "predict" and "embedding" in m.group("model"):
            op = "embeddings"  # Vertex AI's text embeddings (gemini-embedding-001:predict); Imagen's predict: other
        provider = "vertex_ai" if "/publishers/google/" in path else "gemini"
        # the model as the upstream reads it: the path decoded (`gemini-pro%20` is `gemini-pro `)
        return provider, "gemini", op, {"model": unquote(m.group("model")), "stream": stream}
    if p in _INTERACTIONS:  # Gemini's Interactions API: a model call (its `input` is no embedding's)
        return "gemini", "gemini", "chat", {}
    if p.endswith("/cachedContents") or "/cachedContents/" in p:  # a Gemini context cache: made, not run
        return None, "gemini", "other", {}
    m = _AZURE_DEPLOYMENT.search(p)
    extras = {"deployment": unquote(m.group("deployment"))} if m else {}
    if p.endswith("/threads"):  # an Assistants thread, made with its first `messages`: no model runs
        return None, "openai", "other", extras
    if p.endswith("/agents/completions"):  # Mistral's agents: a chat of `messages`, not a legacy completion
        return None, "openai", "chat", extras
    if p.endswith(ASYNC_PATHS):  # Perplexity's async requests: one in `request`, run later (providers/batches.py)
        return "perplexity", "openai", "other", extras
    if (job := JOB_READ.search(p)) is not None:  # a read of such a job, or of an xAI deferred completion: theirs
        return "xai" if "/deferred-completion/" in job.group(0) else "perplexity", "openai", "other", extras
    if p.endswith("/chat/completions"):
        return None, "openai", "chat", extras
    if p.endswith(_MEDIA_PATHS) or "/videos/" in p and p.endswith("/remix"):
        # their `prompt` is no completion's: no stream_options, no max_tokens
        return None, "openai", "other", extras
    if p.endswith("/completions"):
        return None, "openai", "completion", extras
    if p.endswith("/embeddings") and not p.endswith("/api/embeddings"):
        return None, "openai", "embeddings", extras
    if p.endswith("/responses"):
        return None, "openai", "responses", extras
    if p.endswith(("/responses/compact", "/responses/input_tokens")):  # compact: a model call (a
        return None, "openai", "other", extras  # response's usage) with no output cap; input_tokens: not billed
    if p.endswith("/messages/count_tokens"):
        return "anthropic", "anthropic", "other", {}
    if p.endswith("/v1/messages") or p == "/messages":
        return "anthropic", "anthropic", "messages", {}
    return None


_INTERACTIONS = frozenset(("/v1beta/interactions", "/v1alpha/interactions", "/v1/interactions"))
"""The paths of Gemini's Interactions API's create call (``input``, ``system_instruction``,
``generation_config``; its answer's ``usage`` is read as ``usageMetadata``:
:func:`.usage.interaction_fields`)."""


def interaction_path(path: str) -> bool:
    """Whether ``path`` is the create call of Gemini's Interactions API (:data:`_INTERACTIONS`):
    an inference API, which routing does not translate (its model is in the body)."""
    return path.rstrip("/") in _INTERACTIONS


def _natively(p: str, native: NativePath) -> tuple[str | None, Api, Operation, dict[str, Any]] | None:
    """:func:`_by_path` of a vendor's native path (:mod:`.native_paths`): a model call's
    provider, api and operation; None for a read or a utility (Ollama's ``/api/tags``)."""
    if not native.inference:
        return None
    if native.vendor == "vertex_ai-anthropic":
        m = VERTEX_ANTHROPIC_PATH.search(p)
        assert m is not None
        op: Operation = "other" if m.group("model") == "count-tokens" else "messages"
        return "vertex_ai", "anthropic", op, {"model": unquote(m.group("model")),
                                              "stream": m.group("action") == "streamRawPredict"}
    if native.vendor == "bedrock":
        m = BEDROCK_PATH.search(p)
        assert m is not None
        return _bedrock(m.group("model"), m.group("action"))
    return native.vendor, native.vendor, native.operation, {}  # type: ignore[return-value]


_MEDIA_PATHS = ("/images/generations", "/images/edits", "/images/variations", "/audio/transcriptions",
                "/audio/translations", "/audio/speech", "/moderations", "/videos")
"""OpenAI's (and Azure's) image, audio, video and moderation endpoints: usage in OpenAI's shape
(gpt-image-1's and gpt-4o-transcribe's ``input_tokens``, their image and audio parts), but
no completion whatever the body looks like (Sora's ``/videos`` and ``/videos/{id}/remix``
take a ``prompt``: they were a completion)."""


@lru_cache(maxsize=1024)  # a pure function of the request line, asked by every exchange (~15,000 instructions)
def inference_endpoint(method: str, path: str) -> bool:
    """Whether ``method path`` asks a provider for inference: a POST to an API whose path
    says what it is (chat, completions, Responses, embeddings, Anthropic messages, Gemini's
    ``:generateContent``..., images, audio, moderations, token counts). Not a listing or a
    read of what the account stores (``GET /v1/chat/completions`` lists stored completions,
    ``/v1/files``, ``/v1/batches``), nor what a body merely looks like (``POST
    /v1/fine_tuning/jobs`` names a model too): the ``ai-gateway`` action routes only these, with
    the operator's provider key (docs/routing.md, "What the route serves").

    >>> inference_endpoint("POST", "/v1/chat/completions"), inference_endpoint("GET", "/v1/chat/completions")
    (True, False)
    >>> inference_endpoint("POST", "/v1/realtime/client_secrets"), inference_endpoint("POST", "/v1/messages")
    (False, True)
    """
    return method.upper() == "POST" and _by_path(path) is not None


def _by_body(body: Mapping[str, Any]) -> tuple[Api, Operation]:
    if "contents" in body:
        return "gemini", "chat"
    if "messages" in body:
        anthropic = "system" in body and not isinstance(body.get("system"), type(None)) or (
            "max_tokens" in body and "stream_options" not in body and _has_blocks(body)
        )
        return ("anthropic", "messages") if anthropic else ("openai", "chat")
    if "input" in body:
        if "encoding_format" in body or "dimensions" in body:
            return "openai", "embeddings"
        if "instructions" in body or "max_output_tokens" in body or isinstance(body["input"], list) and any(
            isinstance(x, Mapping) for x in body["input"]
        ):
            return "openai", "responses"
        return "openai", "embeddings"
    if "prompt" in body:
        return "openai", "completion"
    return "unknown", "other"


def _has_blocks(body: Mapping[str, Any]) -> bool:
    msgs = body.get("messages")
    return isinstance(msgs, list) and any(
        isinstance(m, Mapping)
        and isinstance(m.get("content"), list)
        and any(isinstance(b, Mapping) and b.get("type") in ("tool_use", "tool_result", "image") for b in m["content"])
        for m in msgs
    )


def _url_facts(url: str) -> tuple[tuple[str | None, Api, Operation, Mapping[str, Any]] | None, str | None, bool]:
    """(what the path says, the provider the host names, unparseable) of a URL: the
    same few endpoint URLs arrive again and again, so short ones are parsed once."""
    return _cached_url_facts(url) if len(url) <= _CACHED_URL else _parse_url(url)


_CACHED_URL = 2048


def _parse_url(url: str) -> tuple[tuple[str | None, Api, Operation, Mapping[str, Any]] | None, str | None, bool]:
    try:
        parts = urlsplit(url)
        path, host = parts.path or url, (parts.hostname or "")
        port = parts.port
    except ValueError:
        path, host, port, unparseable = url, "", None, True
    else:
        unparseable = False
    host_provider = _host_provider(host.lower().rstrip("."), path)
    if host_provider is None and port == 11434:
        host_provider = "ollama"
    found = _by_path(path)
    what = no_model(path)
    if what is not None:  # a POST that runs no model (providers/no_model.py): what the path says, and that
        m = _COUNT_TOKENS.search(path)
        found = (found[0], found[1], "other", {**found[3], "no_model": what}) if found is not None else (
            None, "bedrock", "other", {"model": _bedrock_model(m.group(1)), "no_model": what}) if m is not None else (
            None, "unknown", "other", {"no_model": what})
    if found is not None:
        found = (found[0], found[1], found[2], MappingProxyType(found[3]))
    return found, host_provider, unparseable


_COUNT_TOKENS = re.compile(r"/model/([^/]+)/count-tokens/?$")  # Bedrock's CountTokens (the model in the path)


_cached_url_facts = lru_cache(maxsize=1024)(_parse_url)


def _host_provider(host: str, path: str) -> str | None:
    """The provider label a host names (:data:`_HOSTS`; Hugging Face's router: its path's first part), or None."""
    if host == "router.huggingface.co":
        return f"huggingface_{part}" if (part := path.split("/", 2)[1] if path.count("/") > 1 else "") in HF_ROUTED else None
    for suffix, name in _HOSTS:
        if host == suffix.lstrip(".") or host.endswith(suffix):
            if name == "bedrock" and "bedrock-runtime" not in host and not host.startswith("bedrock-mantle."):
                return None  # another AWS service (a VPC endpoint's name holds `bedrock-runtime` too)
            if name == "azure_ai" and "/openai/" in path:
                return "azure_openai"  # Azure OpenAI through a Foundry resource (or a project's `/api/projects/{p}/openai/`)
            return name
    return None


_API_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "ollama": "ollama"}


def _openai_fast(op: Operation, body: dict[str, Any]) -> tuple[int | None, int, str, int] | None:
    """``(max_output, choices, prompt, messages)`` of an OpenAI-shaped body of the common
    shape (counts absent or whole numbers in range, messages/input/prompt a string or a list
    of objects whose ``content`` and ``output`` are strings or absent), as the general
    functions (:func:`_max_output`, :func:`_choices`, :func:`~.history.prompt_and_count`) give them;
    None for any other shape, which they then handle (their checks and problems)."""
    get = body.get
    mct, mt, mot, n, best_of = (get("max_completion_tokens"), get("max_tokens"), get("max_output_tokens"),
                                get("n"), get("best_of"))
    for v in (mct, mt, mot):
        if v is not None and not (type(v) is int and 0 <= v < _LIMIT):
            return None
    for v in (n, best_of):
        if v is not None and not (type(v) is int and 1 <= v < _LIMIT):
            return None
    if op == "responses":
        max_output = mot
    else:  # the largest named (request_fields._largest): servers read different ones
        max_output = mct
        if mt is not None and (max_output is None or mt > max_output):
            max_output = mt
        if mot is not None and (max_output is None or mot > max_output):
            max_output = mot
    if n is None:
        choices = 1 if best_of is None else best_of
    else:
        choices = n if best_of is None or n >= best_of else best_of
    texts: list[str] = []
    count = 0
    if op == "responses":
        instructions = get("instructions")
        if instructions is not None:
            if type(instructions) is not str:
                return None
            texts.append(instructions)
    for key in ("messages", "input", "prompt"):
        value = get(key)
        if value is None:
            continue
        if type(value) is str:
            count += 1
            texts.append(value)
            continue
        if type(value) is not list:
            return None
        count += len(value)
        for item in value:
            if type(item) is not dict:
                return None
            kind = item.get("type")  # a call's arguments count too (function, custom, MCP, shell...): the general code's
            if "tool_calls" in item or "function_call" in item or kind is not None and kind != "message" and (
                    type(kind) is not str or not kind.endswith("_output")):
                return None
            for value in (item.get("content"), item.get("output")):
                if value is not None:
                    if type(value) is not str:
                        return None
                    texts.append(value)
    return max_output, choices, "\n".join(texts), count


_LIMIT = 2**53
READS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))
"""Methods that run no model: every provider's inference is a POST."""


# ---------------------------------------------------------------------------------------------
# the stage


def classify(
    request: Mapping[str, Any],
    *,
    provider: str | None = None,
    operation: str | None = None,
    counter: TokenCounter = DEFAULT_COUNTER,
) -> AiRequest:
    """Classify a request object (``method``, ``url``, ``headers``, ``body``) into ``ai.*``.

    ``provider`` / ``operation`` override detection (e.g. ``provider="vllm"`` for a self-hosted
    upstream). Raises :class:`ProviderError` only for an override that names nothing known;
    any request payload, however malformed, classifies (as ``other`` with ``notes``; fields
    of the wrong type or range are listed in ``problems``).
    """
    if provider is not None and provider not in PROVIDERS:
        raise ProviderError("bad-override", f"unknown provider `{provider}`")
    if operation is not None and operation not in OPERATIONS:
        raise ProviderError("bad-override", f"unknown operation `{operation}`")
    notes: list[str] = []
    if type(request) is not dict and not isinstance(request, Mapping):
        return AiRequest(provider=provider or "unknown", operation="other", notes=("request is not an object",))
    headers = request.get("headers")
    url = request.get("url") if isinstance(request.get("url"), str) else ""
    method = request.get("method")
    inference = method == "POST" or not (isinstance(method, str) and method.upper() in READS)
    found, host_provider, unparseable = _url_facts(url)
    if unparseable:
        notes.append("unparseable url")

    body: object = request.get("body")
    if isinstance(body, (str, bytes, bytearray)):
        if len(body) == 0:
            body = {}
        else:
            text = body
            body, err = loads(text)
            if err:
                form = form_fields(text, _header(headers, "content-type"))
                if form is None:
                    notes.append(f"request body: {err}")
                else:  # multipart/form-data (audio transcriptions, image edits): its small text fields
                    body = form
    if body is None:
        body = {}
    if type(body) is not dict and not isinstance(body, Mapping):
        notes.append("request body is not a json object")
        body = {}

    header_provider, anthropic_version = _headers2(headers, PROVIDER_HEADER, "anthropic-version")
    if provider is None and header_provider in PROVIDERS:
        provider = header_provider

    extras: Mapping[str, Any] = {}
    if found is not None:
        path_provider, api, op, extras = found
        if op == "other" and extras and inference and "no_model" in extras:
            if extras["no_model"] != CONVERSATION or "inputs" not in body:  # (Mistral's are model calls)
                inference = False
                notes.append(f"runs no model ({extras['no_model']}): nothing reserved or charged")
            else:
                path_provider, (api, op), extras = None, _by_body(body), {}
    else:
        path_provider = None
        api, op = _by_body(body) if body else ("unknown", "other")
    if anthropic_version and found is None and "messages" in body:
        api, op = "anthropic", "messages"

    if provider is None:
        provider = host_provider or path_provider  # the host names who serves it, the path its wire format
    if provider is None:
        provider = _API_PROVIDER.get(api, "unknown")
    if api == "unknown" and provider in PROVIDERS:
        api = PROVIDERS[provider]
    if not inference:
        op = "other"  # `GET /v1/chat/completions` lists stored completions: no chat
        read = deferred_read(url) if "/deferred-completion/" in url else results_read(url) \
            if "/results" in url else None  # type: ignore[operator, arg-type]
        if read is not None:  # xAI's deferred completion's result (providers/background.py), a batch's results
            notes.append(read)
    elif op == "chat" and api == "openai" and body.get("deferred") is True:  # answered later, whatever the host
        notes.append(DEFERRED_NOTE)
    if operation is not None:
        op = operation  # type: ignore[assignment]

    model = extras.get("model") if extras else None
    twice = None
    if model is None:
        model = body.get("model")
        if model is None and extras:
            model = extras.get("deployment")
        elif extras and isinstance(model, str) and "deployment" in extras:
            twice = _named_twice(model, extras["deployment"])
        if isinstance(model, str):
            if (api == "gemini" or provider == "gemini") and model.startswith("models/"):  # (a resource name)
                model = model[len("models/") :]
            model = model[:_MAX_MODEL]
        else:
            model = None
    else:
        model = model[:_MAX_MODEL]
    if model is None and "/realtime" in url:  # type: ignore[operator]  # a Realtime session's: query, `session`
        model, twice = session_model(url, body)  # type: ignore[arg-type]
        model = model[:_MAX_MODEL] if model is not None else None

    if api == "ollama":
        stream = body.get("stream", op != "embeddings") is not False
    else:
        stream = bool(extras.get("stream")) or body.get("stream") is True
    opts = body.get("stream_options")
    include_usage = bool(opts is not None and isinstance(opts, Mapping) and opts.get("include_usage"))

    problems: list[tuple[str, str]] = [twice] if twice else []
    _field_types(api, body, problems)
    fast = _openai_fast(op, body) if api == "openai" and type(body) is dict else None
    if fast is not None:
        max_output, choices, prompt, count = fast
        calls = ""  # the fast path's bodies have no calls
    else:
        max_output = _max_output(api, op, body, problems)
        choices = _choices(api, body)
        try:
            prompt, count = prompt_and_count(api, op, body)
            calls = call_texts(api, body) if count else ""
        except RecursionError:  # a body built in Python (JSON arrives depth-checked)
            prompt, count, calls = "", 0, ""
            notes.append("the request's messages are nested too deeply to read")
    tools = _tools(api, body) if "tools" in body or "toolConfig" in body else ()  # (tool_list's two places)
    estimate = counter.count(prompt, model) + PER_MESSAGE_OVERHEAD * count if prompt or count else 0
    estimate += counter.count(calls, model) if calls else 0
    estimate += media_tokens(api, body) if fast is None else 0  # (the fast path's bodies hold no media)
    for what, value in (("tools", _tool_list(api, body) if tools else None), ("schema", output_schema(api, body))):
        if value is not None:  # the tool definitions and the answer's schema: read by the model, as JSON
            text = json_text(value)
            if text is None:
                notes.append(f"{what} not serializable")
            else:
                estimate += counter.count(text, model)

    uncapped = 0
    if op == "other" and inference and ("atch" in url or "/async/" in url):  # type: ignore[operator]
        from .batches import batch_sums  # noqa: PLC0415 - rare: batch creations only
        batch = batch_sums(api, url, body, lambda one: classify(one, counter=counter))  # type: ignore[arg-type]
        if batch is not None:  # its requests in its body: their sums (providers/batches.py)
            estimate, max_output, model, note, uncapped = batch
            notes.append(note)
            if max_output is not None and max_output >= _LIMIT:  # (CEL's int64 would overflow past it)
                problems.append(("request.body", f"the batch's requests ask for {max_output:,} output tokens in all: "
                                 f"at most {_LIMIT - 1:,} (2^53 - 1, as one request may ask)"))
    models = body.get("models")
    if models is None or not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        models = ()
    return AiRequest._of(  # the fields in order
        provider, op, model, stream, max_output, estimate, count, tools, prompt, api, include_usage, choices,
        tuple(notes), tuple(problems), tuple(m[:_MAX_MODEL] for m in models[:_MAX_MODELS]) if models else (),
        inference, api == "openai" and body.get("store") is True, uncapped)


def _named_twice(model: str, deployment: str) -> tuple[str, str] | None:
    """The problem of a body's ``model`` that is not the model its path names (an Azure
    deployment, a legacy ``/engines/{model}/``), or None. Azure serves the deployment whatever
    the body says and LiteLLM's proxy the path's model, while a route sends the body's: a body
    naming another model than its path is judged as one and served as the other, so it is refused.

    >>> _named_twice("gpt-4o", "gpt-4o") is None, _named_twice("gpt-4o", "o1")[0], _named_twice("o1", "O1 ")[0]
    (True, 'request.body.model', 'request.body.model')
    """
    if model == deployment:  # (as an SDK sends them: the Azure client names its deployment in both)
        return None
    return ("request.body.model", f"names `{model[:_MAX_MODEL]}` but the path names `{deployment[:_MAX_MODEL]}`: "
            "the upstream serves the path's model, so name the same one in both (or none in the body)")


def inject_include_usage(ai: AiRequest, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """For an OpenAI-shaped streamed chat/completion, ask for the final usage chunk.

    Returns ``(new_body, changed)``; the input is never mutated. Other requests come back
    unchanged (the Responses API, Anthropic and Gemini always report usage in streams).
    """
    new = dict(body)
    if ai.api != "openai" or not ai.stream or ai.operation not in ("chat", "completion") or ai.include_usage \
            or ai.provider in NO_STREAM_OPTIONS:
        return new, False
    opts = dict(body["stream_options"]) if isinstance(body.get("stream_options"), Mapping) else {}
    opts["include_usage"] = True
    new["stream_options"] = opts
    return new, True
