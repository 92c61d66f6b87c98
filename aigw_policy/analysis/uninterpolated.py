"""AIGW205: ``${...}`` written in a config value that is not interpolated.

ngrok interpolates ``${...}`` only in the fields its reference marks "Supports CEL
Interpolation" (a header value, a body, a `redirect`'s `to`, `restrict-ips` ranges,
`basic-auth` credentials, the AI gateway's `headers`, `query_params` and `body`, ...); this
engine interpolates the same fields (their kind is ``template``). Everywhere else the text is
kept as written, on ngrok too: a `rate-limit` named `${req.host}` is one limit of that name, a
`basic-auth` realm `${vars.realm}` is shown to the client as those characters, a provider's
`base_url: https://${vars.host}` is a URL with a `$` in its host. The document means what
ngrok means (it loads); the warning says the value is not what it looks like.

The AI gateway's API key ``value`` is left to AIGW148 (``${secrets.get(...)}`` is resolved
by the gateway, anything else refused).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..ir.fields import field_kind

__all__ = ["check"]

_API_KEY_VALUE = re.compile(r"providers\.\d+\.api_keys\.\d+\.value")


def check(policy: Policy, source: object = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for _, rule in policy.rules():
        for action in rule.actions:
            config = action.config
            if config.TYPE == "set-vars":  # every value is a template (cel_check's texts)
                continue
            for key, value in config.written().items():
                if field_kind(type(config), key) != "data":
                    continue
                for path, text in _texts(value, key):
                    if "${" not in text or _API_KEY_VALUE.fullmatch(path):
                        continue
                    found.append(Diagnostic.make(
                        "AIGW205", f"`{path}` of `{action.type}` is not interpolated: "
                        f"`{_short(text)}` is kept as written, `${{...}}` and all",
                        action.span_of(path),
                        help="ngrok interpolates `${...}` only where its reference says \"Supports "
                        "CEL Interpolation\" (header values, bodies, `to`, ...), and so does this "
                        "engine; write the value itself here",
                    ))
    return found


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Each string in ``value`` with its dotted path (list items by index)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):  # a part of the ai-gateway config; its strategies are CEL
        for key, item in value:
            if item is not None and field_kind(type(value), key) == "data":
                yield from _texts(item, f"{path}.{key}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _texts(item, f"{path}.{i}")


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
