"""The config of the ``ai-gateway`` action (SPEC §12), ngrok's schema field for field.

ngrok documents it in ``ai-gateway-action/reference/configuration-schema``; the extensions
are marked. ``None`` means "not written"; the engine applies ngrok's defaults
(``on_error: halt``, ``per_request_timeout: 30s``, ``total_timeout: 5m``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from .fields import ActionConfig, Cel, Duration, HeaderName, HeaderValue, Template, REQUEST, TemplateMarker, Whole

__all__ = ["AiGateway", "ApiKeyConfig", "ModelConfig", "Param", "ProviderConfig", "Selection", "Surface",
           "secret_ref"]

MAX_TOKENS = 500_000
Tokens = Annotated[int, Field(strict=True, ge=1, le=MAX_TOKENS), Whole]
Id = Annotated[StrictStr, Field(min_length=1, max_length=256)]
Metadata = dict[StrictStr, Any]
FailoverTrigger = Annotated[int, Field(strict=True), Whole] | Literal["4xx", "5xx", "timeout", "connect", "malformed"]


_SECRET_REF = re.compile(
    r"""\$\{\s*secrets\.get\(\s*(['"])([^'"]*)\1\s*,\s*(['"])([^'"]*)\3\s*\)\s*\}""")


def secret_ref(value: str) -> tuple[str, str] | None:
    """``(vault, name)`` when an API key's ``value`` is exactly ngrok's
    ``${secrets.get('vault', 'name')}`` (blanks inside, either quote); else ``None``: the
    value is the key itself. It is not a policy template: ``secrets`` is resolved by the
    gateway alone, never by CEL."""
    found = _SECRET_REF.fullmatch(value.strip())
    return (found.group(2), found.group(4)) if found else None


class Part(BaseModel):
    """Base of the nested parts of the config."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Param(Part):
    name: Id


class ApiKeyConfig(Part):
    value: Annotated[StrictStr, Field(min_length=1)]
    """The key, usually ``${secrets.get('vault', 'name')}``; resolved by the gateway only."""
    id: Id | None = None
    """Extension: the key's name in decisions, the ledger and metrics (default: a short hash of
    ``value``'s text)."""


class Surface(Part):
    format: Literal["openai", "anthropic", "gemini", "ollama", "cohere", "bedrock"]
    surface: Id | None = None
    supported_params: tuple[Param, ...] | None = None


class ModelConfig(Part):
    id: Id
    id_aliases: tuple[Id, ...] | None = None
    author_id: Id | None = None
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    disabled: StrictBool | None = None
    metadata: Metadata | None = None
    input_modalities: tuple[StrictStr, ...] | None = None
    output_modalities: tuple[StrictStr, ...] | None = None
    max_context_window: Annotated[int, Field(strict=True, ge=1), Whole] | None = None
    max_output_tokens: Annotated[int, Field(strict=True, ge=1), Whole] | None = None
    supported_features: tuple[StrictStr, ...] | None = None
    unsupported_params: tuple[Param, ...] | None = None


class ProviderConfig(Part):
    id: Id
    id_aliases: tuple[Id, ...] | None = None
    base_url: StrictStr | None = None
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    website: StrictStr | None = None
    disabled: StrictBool | None = None
    metadata: Metadata | None = None
    api_keys: tuple[ApiKeyConfig, ...] | None = None
    models: tuple[ModelConfig, ...] | None = None
    supported_api_surfaces: tuple[Surface, ...] | None = None


class Selection(Part):
    strategy: tuple[Cel, ...]
    """CEL over ``ai.models`` (model selection) or ``ai.keys`` (key selection), in order: the
    first that returns a non-empty list wins."""


class AiGateway(ActionConfig):
    TYPE = "ai-gateway"
    TERMINATING = True
    PHASES = REQUEST
    DOC: ClassVar[str] = ("Route the request to a provider, model and key chosen by CEL strategies, "
                          "with failover (ngrok's `ai-gateway`).")
    max_input_tokens: Tokens | None = None
    max_output_tokens: Tokens | None = None
    headers: dict[HeaderName, HeaderValue] | None = None
    query_params: dict[StrictStr, Template] | None = None
    body: dict[StrictStr, Annotated[Any, TemplateMarker]] | None = None
    on_error: Literal["halt", "continue"] | None = None
    total_timeout: Duration | None = None
    per_request_timeout: Duration | None = None
    providers: tuple[ProviderConfig, ...] | None = None
    only_allow_configured_providers: StrictBool | None = None
    only_allow_configured_models: StrictBool | None = None
    model_selection: Selection | None = None
    api_key_selection: Selection | None = None
    failover_on: tuple[FailoverTrigger, ...] | None = None
    """Extension: what fails over (default ngrok's: connection errors, timeouts, malformed answers, 4xx and 5xx)."""
    enforce: StrictBool | None = None
    """Extension: ``false`` (as ``mode: shadow`` on its rule) records the route's own refusal
    (413 input too large, 403 provider or model not allowed, 422 nothing selected) as
    ``would_deny`` and routes the request without the setting that refused."""
