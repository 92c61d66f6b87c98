"""The JSON Schema (draft 2020-12) of the YAML/JSON policy form, built from the action models.

Editors use it for completion and inline checks (``# yaml-language-server: $schema=...``).
It describes the shape; the loader checks more (CEL syntax and types, durations, time zones,
duplicate names), so a document that validates can still have diagnostics.
"""

from __future__ import annotations

import copy
from typing import Any

from .ir.actions import ACTIONS, PERIODS, UNSUPPORTED_NGROK_ACTIONS, ActionConfig, field_kind
from .ir.fields import phase_note

__all__ = ["SCHEMA_ID", "policy_json_schema"]

SCHEMA_ID = "urn:aigw-policy:schema:policy"
_DURATION_PART = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h|d)"
DURATION_PATTERN = r"^(" + _DURATION_PART + r")+$"
PERIOD_PATTERN = r"^(" + "|".join(PERIODS) + r"|(" + _DURATION_PART + r")+)$"

_KIND_NOTES = {
    "cel": "A CEL expression.",
    "cel_list": "A list of CEL expressions.",
    "template": "Supports `${expr}` CEL interpolation; a value that is exactly one `${...}` "
    "keeps the expression's type.",
    "template_map": "Values support `${expr}` CEL interpolation.",
    "template_list": "Items support `${expr}` CEL interpolation.",
}

_FIELD_DOCS = {
    "status_code": "HTTP status code of the response.",
    "message": "Message in the response body.",
    "body": "Body of the response.",
    "headers": "Header names and values.",
    "name": "Name of the limit; `limits['NAME']` reads its state in later rules.",
    "algorithm": "Limiting algorithm: `sliding_window` (ngrok's, the default), "
    "`fixed_window` or `token_bucket`.",
    "capacity": "How many units the window allows.",
    "rate": "The window length.",
    "bucket_key": "CEL expressions whose values pick the bucket (up to 10); none: one "
    "bucket for all.",
    "enforce": "`false`: only record, never reject (default `true`).",
    "cost": "CEL expression for the amount each request counts.",
    "limit": "The cap, in `unit`s per `period`.",
    "unit": "What is counted: `tokens`, `usd` or `requests`.",
    "period": "Calendar period (`hour`, `day`, `week`, `month`) or a duration such as `30m`.",
    "timezone": "IANA time zone of calendar periods (default UTC).",
    "warn_at": "Fraction of the cap (0 < x < 1) from which decisions carry a warning.",
    "on_unknown_price": "What a cost cap does for a model without a known price.",
    "allow": "Allowed patterns.",
    "deny": "Denied patterns.",
    "input": "Most input tokens (estimated) a request may carry.",
    "output": "Most output tokens a request may ask for.",
    "mode": "`reject` with 413, or `clamp` the requested output tokens.",
    "model": "The model to use instead.",
    "provider": "The provider to route to.",
    "vars": "Variables to set, one single-key mapping each; values support `${expr}`.",
    "metadata": "Keys and values to record in the decision's logs.",
}

_OVERRIDES: dict[tuple[str, str], str] = {
    ("model-access", "allow"): "Glob patterns over `provider/model` or `model` to allow.",
    ("model-access", "deny"): "Glob patterns over `provider/model` or `model` to deny.",
    ("restrict-ips", "allow"): "IP addresses or CIDR blocks to allow.",
    ("restrict-ips", "deny"): "IP addresses or CIDR blocks to deny.",
    ("custom-response", "headers"): "Response headers (names and values).",
    ("redirect", "from"): "An RE2 regex matched over the whole request URL (default: the whole URL).",
    ("redirect", "to"): "The replacement of each match: `$1`, `${name}` name its groups (Go's).",
    ("redirect", "status_code"): "The redirect's status (default 302).",
    ("redirect", "headers"): "Headers of the redirect answer (names and values).",
    ("url-rewrite", "from"): "An RE2 regex matched over the whole request URL (default: the whole URL).",
    ("url-rewrite", "to"): "The replacement of each match: `$1`, `${name}` name its groups (Go's).",
    ("basic-auth", "credentials"): "`username:password` pairs, 1 to 10 (a password of 8 to 128 characters).",
    ("basic-auth", "realm"): "The realm of `WWW-Authenticate` (default `ngrok`).",
    ("forward-internal", "url"): "The internal endpoint (`https://name.internal`).",
    ("forward-internal", "on_error"): "`halt` (default) or `continue`: whether the next actions run when the "
    "url names no internal endpoint.",
    ("forward-internal", "binding"): "`internal`, the only binding (ngrok's former key).",
    ("add-headers", "headers"): "Headers to add (names and values).",
    ("remove-headers", "headers"): "Names of the headers to remove.",
    ("set-model", "provider"): "The provider to route to (default: the request's).",
    ("ai-gateway", "headers"): "Headers added to every upstream request (names and values).",
    ("ai-gateway", "query_params"): "Query parameters added to every upstream request.",
    ("ai-gateway", "body"): "Keys merged into the upstream request's JSON body; strings may "
    "interpolate.",
    ("ai-gateway", "max_input_tokens"): "Most input tokens (estimated) a request may carry; "
    "over it: 413. At most 500,000.",
    ("ai-gateway", "max_output_tokens"): "Most output tokens the provider is asked for: a request "
    "asking more, or setting none, is sent with this cap. At most 500,000.",
    ("ai-gateway", "on_error"): "When every attempt failed: `halt` (answer the error, the "
    "default) or `continue` with the rule's next actions.",
    ("ai-gateway", "total_timeout"): "Time for every attempt together (default `5m`).",
    ("ai-gateway", "per_request_timeout"): "Time for one attempt (default `30s`).",
    ("ai-gateway", "providers"): "The providers, their keys and models; none: every built-in "
    "provider.",
    ("ai-gateway", "only_allow_configured_providers"): "Refuse providers not in `providers`.",
    ("ai-gateway", "only_allow_configured_models"): "Refuse models not listed in a provider's "
    "`models`.",
    ("ai-gateway", "model_selection"): "CEL strategies over `ai.models`: the first that returns "
    "a non-empty list gives the candidates, in order.",
    ("ai-gateway", "api_key_selection"): "CEL strategies over `ai.keys`, ordering each "
    "provider's keys.",
    ("ai-gateway", "failover_on"): "What fails over to the next candidate: statuses such as "
    "429, `4xx`, `5xx`, `timeout`, `connect`, `malformed` (extension; default all of them).",
}

_PART_DOCS: dict[tuple[str, str], str] = {
    ("ProviderConfig", "id"): "A built-in provider (`openai`, `anthropic`, `google`, ...) or a "
    "name of your own, which then needs `base_url`.",
    ("ProviderConfig", "id_aliases"): "Other names clients may use for this provider.",
    ("ProviderConfig", "base_url"): "The provider's API root (http or https); required for "
    "a provider that is not built in.",
    ("ProviderConfig", "disabled"): "Keep the provider configured but never route to it.",
    ("ProviderConfig", "metadata"): "Anything; strategies read it with `getMetadata()`.",
    ("ProviderConfig", "api_keys"): "Keys, tried in order (or in `api_key_selection`'s).",
    ("ProviderConfig", "models"): "Models of this provider, added to the catalog's.",
    ("ProviderConfig", "supported_api_surfaces"): "The API formats the provider speaks.",
    ("ApiKeyConfig", "value"): "The key: `${secrets.get('vault', 'name')}`, resolved by the "
    "gateway only (not a policy template).",
    ("ApiKeyConfig", "id"): "The key's name in decisions, the ledger and metrics (extension; "
    "default: a short hash of `value`'s text).",
    ("ModelConfig", "id"): "The model's id at the provider.",
    ("ModelConfig", "id_aliases"): "Other names clients may use for this model.",
    ("ModelConfig", "metadata"): "Anything; strategies read it with `getMetadata()`.",
    ("ModelConfig", "unsupported_params"): "Top-level body keys removed before forwarding.",
    ("Surface", "format"): "The API format: `openai`, `anthropic`; extensions: `gemini`, and a vendor's "
                            "native API, `ollama`, `cohere` or `bedrock` (the provider is that vendor's).",
    ("Surface", "surface"): "The endpoint, such as `chat-completions`, `responses` or "
    "`messages`.",
    ("Surface", "supported_params"): "Allowlist of top-level body keys; needs `surface`.",
    ("Selection", "strategy"): "CEL expressions over the selection environment, in order: the "
    "first that returns a non-empty list wins.",
}


def _drop_null(prop: dict[str, Any]) -> dict[str, Any]:
    """``X | None = None`` means "not written": describe only ``X``."""
    branches = prop.get("anyOf")
    if branches and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        prop = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        if len(rest) == 1:
            prop = {**rest[0], **prop}
        else:
            prop["anyOf"] = rest
    elif prop.get("default", 0) is None:
        prop = {k: v for k, v in prop.items() if k != "default"}
    return prop


def _config_schema(model: type[ActionConfig], defs: dict[str, Any]) -> dict[str, Any]:
    """The config's schema; the schemas of its parts (``ai-gateway``'s ``ProviderConfig``,
    ...) go into ``defs``, where its ``$ref`` s point."""
    schema = copy.deepcopy(model.model_json_schema(ref_template="#/$defs/{model}"))
    for name, part in schema.pop("$defs", {}).items():
        assert name not in defs or defs[name] == _part_schema(name, part), name
        defs[name] = _part_schema(name, part)
    schema["title"] = f"{model.TYPE} config"
    schema["description"] = model.DOC
    props: dict[str, Any] = schema.get("properties", {})
    for name, prop in list(props.items()):
        prop = _drop_null(prop)
        kind = field_kind(model, name)
        doc = _OVERRIDES.get((model.TYPE, name)) or _FIELD_DOCS.get(name, "")
        note = _KIND_NOTES.get(kind, "")
        if kind == "duration":
            info = model.model_fields[name]
            meta = repr(info.metadata) + repr(info.annotation)
            if "_check_period" in meta:
                prop["pattern"] = PERIOD_PATTERN
            else:
                prop["pattern"] = DURATION_PATTERN
                note = ("A duration: a number and a unit, `ms`, `s`, `m`, `h` or `d` (`10s`, `1m`), or "
                        "several as Go writes them (`1m30s`).")
        if name == "headers" and prop.get("type") == "object":
            prop["propertyNames"] = {"pattern": r"^[A-Za-z0-9_!#$%&'*+.^`|~-]+$"}
        prop["description"] = " ".join(p for p in (doc, note) if p)
        props[name] = prop
    return schema


def _part_schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    for key, prop in list(schema.get("properties", {}).items()):
        prop = _drop_null(prop)
        prop.pop("title", None)
        doc = _PART_DOCS.get((name, key))
        if doc:
            prop["description"] = doc
        schema["properties"][key] = prop
    return schema


def _def_name(model: type[ActionConfig]) -> str:
    return model.__name__ + "Config"


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy document in its YAML/JSON form."""
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    for type_name, model in ACTIONS.items():
        defs[_def_name(model)] = _config_schema(model, defs)
        required = ["type"]
        if any(f.is_required() for f in model.model_fields.values()):
            required.append("config")
        flags = [w for w, on in (("terminating", model.TERMINATING), ("a limit", model.LIMIT),
                                 (phase_note(model) or "", phase_note(model) is not None)) if on]
        description = model.DOC + (f" ({', '.join(flags)})" if flags else "")
        branches.append({
            "title": type_name,
            "description": description,
            "type": "object",
            "properties": {
                "type": {"const": type_name, "description": description},
                "config": {"$ref": f"#/$defs/{_def_name(model)}"},
            },
            "required": required,
            "additionalProperties": False,
        })
    action_types = sorted(ACTIONS)
    defs["Action"] = {
        "title": "Action",
        "description": "One action: its `type` and its `config`. Supported types: "
        + ", ".join(f"`{t}`" for t in action_types) + ".",
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": action_types,
                     "description": "The action type."},
            "config": {"type": "object", "description": "The action's settings."},
        },
        "required": ["type"],
        "oneOf": branches,
    }
    defs["Rule"] = {
        "title": "Rule",
        "description": "A rule: when all its expressions are true, its actions run in order.",
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Name of the rule, shown in decisions."},
            "expressions": {
                "type": "array",
                "description": "CEL expressions, all of which must be true for the rule to "
                "match; none: the rule always matches.",
                "items": {"type": "string", "description": "A CEL expression."},
            },
            "on_error": {"enum": ["deny", "skip"],
                         "description": "When an expression fails at run time: `deny` (500, "
                         "the default) or `skip` the rule."},
            "mode": {"enum": ["enforce", "shadow"],
                     "description": "`shadow`: decide as if enforced, record `would_deny` in the "
                     "decision, ledger and metrics, and let the request through (extension)."},
            "actions": {
                "type": "array",
                "description": "Actions to run, in order, when the rule matches.",
                "items": {"$ref": "#/$defs/Action"},
                "minItems": 1,
            },
        },
        "required": ["actions"],
        "additionalProperties": False,
    }
    # an item is a rule, or an action written directly in the phase (ngrok's AI gateway docs)
    phase = {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/Rule"},
                                                  {"$ref": "#/$defs/Action"}]}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "aigw-policy document",
        "description": "A traffic policy for AI gateway traffic, in the shape of ngrok's "
        "Traffic Policy with extensions. ngrok actions not implemented here ("
        + ", ".join(f"`{t}`" for t in sorted(UNSUPPORTED_NGROK_ACTIONS)) + ") are rejected.",
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Name of the policy (extension)."},
            "default": {"enum": ["allow", "deny"],
                        "description": "Outcome when no rule ends the request: `allow` "
                        "(ngrok's behaviour, the default) or `deny` (extension)."},
            "on_error": {"enum": ["deny", "skip"],
                         "description": "Default `on_error` of every rule (extension)."},
            "shard_key": {"type": "string",
                          "description": "A string CEL expression over the request naming its "
                          "tenant, such as `identity.org`: with the Redis Cluster store every "
                          "limit the request charges lives on that tenant's shard (extension)."},
            "on_http_request": {**phase, "description": "Rules run when a request arrives, "
                                "before it goes upstream."},
            "on_http_response": {**phase, "description": "Rules run when the upstream "
                                 "response arrives."},
            "on_tcp_connect": {"type": "array", "deprecated": True,
                               "description": "ngrok's TCP phase: not supported, skipped with "
                               "a warning."},
            "on_event_stream_message": {"type": "array", "deprecated": True,
                                        "description": "ngrok's phase over each message of a "
                                        "streamed response: not supported, skipped with a "
                                        "warning."},
        },
        "additionalProperties": False,
        "$defs": defs,
    }
