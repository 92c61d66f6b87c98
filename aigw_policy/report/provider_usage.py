"""A provider's own usage export, read into time buckets: what the provider says it served.

Two providers publish their usage by time bucket:

- **OpenAI**, the Usage API (``GET /v1/organization/usage/completions``): pages
  ``{"object": "page", "data": [{"object": "bucket", "start_time": 1730419200, "end_time":
  1730505600, "results": [{"object": "organization.usage.completions.result", "input_tokens",
  "output_tokens", "input_cached_tokens", "num_model_requests", "model", "api_key_id",
  "project_id", ...}]}]}``; ``input_tokens`` counts cached input too.
- **Anthropic**, the Usage & Cost Admin API (``GET /v1/organizations/usage_report/messages``):
  ``{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "...", "results":
  [{"uncached_input_tokens", "cache_read_input_tokens", "cache_creation":
  {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}, "output_tokens", "model",
  "api_key_id", "workspace_id", ...}]}]}``; input is the sum of the three (the ledger counts
  all input, as OpenTelemetry does).

A file holds one page, or a JSON list of pages (a paginated download saved as one array).
CSV: the same results flattened, one line per result, with a header line naming the columns:
the bucket bounds (``start_time``/``end_time`` in Unix seconds, or ``starting_at``/``ending_at``
in RFC 3339) and the result's fields (Anthropic's nested ``cache_creation`` as
``cache_creation_ephemeral_5m_input_tokens`` / ``..._1h_...``). A file that is neither names
the line at fault.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import yaml

__all__ = ["ProviderBucket", "UsageExportError", "parse_usage_export"]


EXPORT_CODE = "AIGW800"
"""A provider usage export that cannot be read (:mod:`aigw_policy.codes`)."""


class UsageExportError(ValueError):
    """A usage export that cannot be read, at ``name:line``; ``str()`` is ``name:line: message``."""

    code = EXPORT_CODE

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


@dataclass(frozen=True, slots=True)
class ProviderBucket:
    """One result of one time bucket of a provider's export (UTC times, ``[start, end)``)."""

    provider: str  # openai | anthropic (the ledger's gen_ai.provider.name)
    start: str  # RFC 3339, the ledger's time format
    end: str
    model: str | None
    input_tokens: int
    output_tokens: int
    requests: int | None  # OpenAI's num_model_requests; Anthropic does not report it
    api_key_id: str | None


_OPENAI_INT = ("input_tokens", "output_tokens")
_ANTHROPIC_INT = ("uncached_input_tokens", "output_tokens")


def parse_usage_export(text: str, name: str = "<usage>") -> list[ProviderBucket]:
    """The buckets of an OpenAI or Anthropic usage export, JSON or CSV (detected)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        return _json(text, name)
    return _csv(text, name)


# -- JSON ---------------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _json(text: str, name: str) -> list[ProviderBucket]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageExportError(f"{name}:{error.lineno}", f"not valid JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise UsageExportError(f"{name}:1", "nested too deeply to read") from None
    except ValueError:  # a number of more than 4,300 digits, which Python will not convert
        long = re.search(r"\d{4301}", text)
        line = text.count("\n", 0, long.start()) + 1 if long else 1
        raise UsageExportError(f"{name}:{line}", "a number too long to read") from None
    pages = doc if isinstance(doc, list) else [doc]
    out: list[ProviderBucket] = []
    try:
        for p, page in enumerate(pages):
            ppath: tuple[Any, ...] = (p,) if isinstance(doc, list) else ()
            data = _field(page, "data", ppath, list)
            for b, bucket in enumerate(data):
                bpath = (*ppath, "data", b)
                start, end, provider = _bounds(bucket, bpath)
                results = bucket.get("results", bucket.get("result")) if isinstance(bucket, dict) else None
                if not isinstance(results, list):
                    raise _Bad(bpath, "a bucket needs a `results` list")
                for r, result in enumerate(results):
                    out.append(_result(result, (*bpath, "results" if "results" in bucket else "result", r),
                                       provider, start, end))
    except _Bad as bad:
        line = _line_of(text, bad.path)
        raise UsageExportError(f"{name}:{line}", f"{bad.message} (at {_show(bad.path)})") from None
    return out


def _field(obj: Any, key: str, path: tuple[Any, ...], kind: type) -> Any:
    if not isinstance(obj, dict):
        raise _Bad(path, "expected an object")
    value = obj.get(key)
    if not isinstance(value, kind):
        raise _Bad((*path, key) if key in obj else path, f"`{key}` must be a {kind.__name__}")
    return value


def _bounds(bucket: Any, path: tuple[Any, ...]) -> tuple[str, str, str]:
    if not isinstance(bucket, dict):
        raise _Bad(path, "a bucket must be an object")
    if "start_time" in bucket:
        names, conv, provider = ("start_time", "end_time"), _unix, "openai"
    elif "starting_at" in bucket:
        names, conv, provider = ("starting_at", "ending_at"), _rfc3339, "anthropic"
    else:
        raise _Bad(path, "a bucket needs `start_time` (OpenAI) or `starting_at` (Anthropic)")
    start, end = (conv(bucket.get(n), (*path, n)) for n in names)
    _ordered(start, end, path, names)
    return start, end, provider


def _digits(value: Any) -> Any:
    """A string of ASCII digits as its int (``"²".isdigit()`` is true, and no number), up to 30
    of them (Python refuses to convert past 4,300); else as is."""
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 30:
        return int(text)
    return value


def _shown(value: Any) -> str:
    """A value as a message quotes it: its repr, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def _unix(value: Any, path: tuple[Any, ...]) -> str:
    value = _digits(value)
    if type(value) is not int or value < 0:
        raise _Bad(path, f"`{path[-1]}` must be Unix seconds, not {_shown(value)}")
    try:
        return _fmt(datetime.fromtimestamp(value, timezone.utc))
    except (OverflowError, OSError, ValueError):
        raise _Bad(path, f"`{path[-1]}` is no time: {value} seconds is past the year 9999") from None


def _rfc3339(value: Any, path: tuple[Any, ...]) -> str:
    if not isinstance(value, str):
        raise _Bad(path, f"`{path[-1]}` must be an RFC 3339 time, not {_shown(value)}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return _fmt(t if t.tzinfo else t.replace(tzinfo=timezone.utc))
    except (OverflowError, ValueError):  # not a time, or one that leaves the years 1-9999 in UTC
        raise _Bad(path, f"`{path[-1]}` must be an RFC 3339 time, not {_shown(value)}") from None


def _fmt(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ordered(start: str, end: str, path: tuple[Any, ...], names: tuple[str, str]) -> None:
    if end <= start:
        raise _Bad(path, f"a bucket must end after it starts (`{names[1]}` {end} is not after `{names[0]}` {start})")


def _count(result: Mapping[str, Any], key: str, path: tuple[Any, ...], required: bool) -> int:
    value = result.get(key)
    if value in (None, "") and not required:
        return 0
    value = _digits(value)
    if type(value) is not int or value < 0:
        raise _Bad((*path, key) if key in result else path,
                   f"`{key}` must be a non-negative integer, not {_shown(value)}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _result(result: Any, path: tuple[Any, ...], provider: str, start: str, end: str) -> ProviderBucket:
    if not isinstance(result, dict):
        raise _Bad(path, "a result must be an object")
    if provider == "openai":
        inp = _count(result, "input_tokens", path, True)
        out = _count(result, "output_tokens", path, True)
        requests: int | None = _count(result, "num_model_requests", path, False)
    else:
        cache = result.get("cache_creation")
        if cache is None:
            cache = {k: result.get(f"cache_creation_{k}") for k in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")}
        if not isinstance(cache, dict):
            raise _Bad((*path, "cache_creation"), "`cache_creation` must be an object")
        inp = (_count(result, "uncached_input_tokens", path, True) + _count(result, "cache_read_input_tokens", path, False)
               + _count(cache, "ephemeral_5m_input_tokens", (*path, "cache_creation"), False)
               + _count(cache, "ephemeral_1h_input_tokens", (*path, "cache_creation"), False))
        out = _count(result, "output_tokens", path, True)
        requests = None
    return ProviderBucket(provider, start, end, _opt_str(result.get("model")), inp, out, requests,
                          _opt_str(result.get("api_key_id")))


def _show(path: tuple[Any, ...]) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else p)
    return text or "the top level"


def _compose(text: str) -> Any:
    """The document's YAML node tree (JSON is YAML), for line numbers only: tabs, which JSON
    allows between tokens and never inside strings, become spaces of the same width."""
    try:
        return yaml.compose(text.replace("\t", " "), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None


def _node_at(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path:
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        elif isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
            if node is None:
                return None
        else:
            return None
    return node


def _line_of(text: str, path: tuple[Any, ...]) -> int:
    root = _compose(text)
    while path:
        node = _node_at(root, path)
        if node is not None:
            return int(node.start_mark.line) + 1
        path = path[:-1]
    return 1


# -- CSV ----------------------------------------------------------------------------------------


def _csv(text: str, name: str) -> list[ProviderBucket]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    head = reader.fieldnames or []
    if "start_time" in head:
        provider, bounds = "openai", ("start_time", "end_time")
    elif "starting_at" in head:
        provider, bounds = "anthropic", ("starting_at", "ending_at")
    else:
        raise UsageExportError(f"{name}:1", "neither JSON nor a CSV header with `start_time` (OpenAI) "
                               "or `starting_at` (Anthropic)")
    need = (*bounds, *(_OPENAI_INT if provider == "openai" else _ANTHROPIC_INT))
    missing = [c for c in need if c not in head]
    if missing:
        raise UsageExportError(f"{name}:1", f"the header lacks {', '.join(f'`{c}`' for c in missing)}")
    out = []
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise UsageExportError(f"{name}:{line}", f"{len(head)} columns expected")
        try:
            conv = _unix if provider == "openai" else _rfc3339
            start = conv(row[bounds[0]], (bounds[0],))
            end = conv(row[bounds[1]], (bounds[1],))
            _ordered(start, end, (), bounds)
            out.append(_result(dict(row), (), provider, start, end))
        except _Bad as bad:
            raise UsageExportError(f"{name}:{line}", bad.message) from None
    return out
