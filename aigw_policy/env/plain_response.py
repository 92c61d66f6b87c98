"""A response given to ``Engine.complete``, checked: a plain dict of the usual shape by hand,
anything else by the ``HttpResponse`` model, which names what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import SchemaSerializer, core_schema

from .request import HttpResponse, RequestError, _problems

__all__ = ["FAST_RESPONSE", "plain_response", "response_dict"]

FAST_RESPONSE = True
"""Check a response dict of the usual shape by hand (:func:`plain_response`) rather than
through the ``HttpResponse`` model; False: always the model (the tests compare the two)."""

_RESPONSE_KEYS = frozenset(("status_code", "headers", "body", "sse"))
_any_to_python = SchemaSerializer(core_schema.any_schema()).to_python  # what model_dump does to `body`


def plain_response(response: dict[str, Any]) -> dict[str, Any] | None:
    """``HttpResponse.model_validate(response).model_dump()`` of a dict whose every value is
    of its field's exact type (an int status in range, a dict of str headers, str or no
    ``sse``); None for anything else, which the model checks (and names what is wrong)."""
    status = response.get("status_code", 200)
    headers = response.get("headers")
    sse = response.get("sse")
    if (type(status) is not int or not 100 <= status <= 599 or not _RESPONSE_KEYS.issuperset(response)
            or (sse is not None and type(sse) is not str)):
        return None
    if headers is None:
        if "headers" in response:
            return None
        copied: dict[str, Any] = {}
    elif type(headers) is dict:
        copied = {}
        for k, v in headers.items():
            if type(k) is not str:
                return None
            if type(v) is not str:
                if type(v) is not list or any(type(x) is not str for x in v):
                    return None
                v = list(v)
            copied[k] = v
    else:
        return None
    return {"status_code": status, "headers": copied, "body": _any_to_python(response.get("body")), "sse": sse}


def response_dict(response: HttpResponse | Mapping[str, Any]) -> dict[str, Any]:
    if type(response) is dict and FAST_RESPONSE:
        plain = plain_response(response)
        if plain is not None:
            return plain
    if isinstance(response, HttpResponse):
        return response.model_dump()
    if not isinstance(response, Mapping):
        raise RequestError([("response", "a response is an object with `status_code`, `headers` and `body`")],
                           what="response")
    try:
        return HttpResponse.model_validate(response).model_dump()
    except ValidationError as error:
        raise RequestError([(f"response.{f}" if f else "response", m) for f, m in _problems(error)],
                           what="response") from None
