"""ngrok's actions over the request's URL and credentials: ``redirect``, ``url-rewrite``,
``basic-auth`` and ``forward-internal``, each a handler ``(flow, rule, action, phase) -> Stop | None`` as in
:mod:`.actions` (which registers them).

``from`` is a regex (RE2) over the whole request URL (scheme, host, path and query, as
ngrok matches it); each match is replaced with ``to``, whose ``$1``, ``${1}``, ``$name`` and
``${name}`` name the match's groups and ``$$`` is a ``$`` (Go's ``Regexp.Expand``, as ngrok
reads it). Without ``from`` the whole URL is the match. Interpolations (``${expr}`` that is
CEL) are rendered first, as ngrok renders them before the regex runs. What the replacement
makes is a URL reference, resolved against the request's URL (:func:`resolve`): ``to: /x``
without ``from``, or ``from: /.*`` (whose first match starts at ``//host``), keep the
request's scheme and host, as ngrok's examples show.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from ..cel import CelError
from ..cel.runtime.stdlib import regex
from ..env.activation import split_url
from ..ir.actions import CONTROL, HTTP_SCHEMES, internal_url_problem
from .action_helpers import _header_value, _publish, _render
from .charging import NO_ERROR
from .compile import CompiledAction, CompiledRule
from .flow import REQ, Stop
from .rule_error import BAD_VALUE, TEMPLATE, Failure, action_error, failure
from .templates import text_of

__all__ = ["HTTP_HANDLERS", "MAX_URL", "TooLong", "expand", "replace_all", "resolve"]

_GROUP = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def expand(template: str, match: Any) -> str:
    """``template`` with Go's ``$`` references to ``match``'s groups filled in: a number is a
    group's index, a name a named group's, and one that names no group is empty (as Go's)."""

    def group(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        if name is None:
            return "$"
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, KeyError):  # a group the regex does not have: empty, as Go's
            return ""
        return value or ""

    return _GROUP.sub(group, template)


MAX_URL = 65_536
"""The longest URL a replacement may make (characters): an empty `from` matches at every
position, and a long `to` at each would build megabytes from one request."""


class TooLong(ValueError):
    """A replacement that would make a URL longer than :data:`MAX_URL`."""


def replace_all(pattern: str | None, template: str, url: str) -> tuple[str, list[str]]:
    """``url`` with every match of ``pattern`` replaced by ``template`` expanded, as Go's
    ``ReplaceAllString`` (an empty match right after a match is not replaced), and the matched
    texts; ``pattern`` None: the whole URL is the one match. :class:`TooLong` past
    :data:`MAX_URL`."""
    if pattern is None:
        whole = expand(template, _Whole(url))
        if len(whole) > MAX_URL:
            raise TooLong(f"the new URL would be longer than {MAX_URL:,} characters")
        return whole, [url]
    rx = regex(pattern)
    out: list[str] = []
    matched: list[str] = []
    last = pos = size = 0
    n = len(url)
    while pos <= n:
        m = rx.search(url, pos)
        if m is None:
            break
        a, b = m.span()
        out.append(url[last:a])
        size += a - last
        if b > last or a == 0:
            piece = expand(template, m)
            out.append(piece)
            size += len(piece)
            matched.append(m.group(0))
        if size > MAX_URL:
            raise TooLong(f"the new URL would be longer than {MAX_URL:,} characters")
        last = b
        pos = b if b > pos else pos + 1
    out.append(url[last:])
    return "".join(out), matched


_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
"""What stays as it is in a resolved URL besides letters and digits: the reserved characters
and ``%`` (an escape already written); a space, a control or a non-ASCII character is escaped."""


def resolve(url: str, new: str) -> str:
    """``new`` (what a replacement made of ``url``) as an absolute URL: a scheme, host or path
    it lacks is the request's (``/x``, ``https:/x``, ``https:///x``, ``//host/x``), and
    characters a URL cannot hold are percent-escaped (``city=San Francisco`` ->
    ``city=San%20Francisco``, as ngrok's redirect example answers)."""
    new = quote(new, safe=_URL_SAFE)
    try:
        parts = urlsplit(new)
        if parts.scheme and parts.netloc:
            return new
        if parts.scheme:  # `https:/x`: the request's host under the scheme written
            base = urlsplit(url)
            return parts._replace(netloc=base.netloc, path=parts.path or "/").geturl()
        return urljoin(url, new)
    except ValueError:  # no URL (a bracketed host that is none): as made, for the checks after
        return new


class _Whole:
    """The whole URL as a match (no ``from``): group 0 is the URL, no other group."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def group(self, which: int | str) -> str:
        if which == 0:
            return self.text
        raise IndexError(which)


def _new_url(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> tuple[str, str, list[str]]:
    """(the request URL, the URL the action makes of it, the matched texts)."""
    url = flow.act.get("req.url") or ""
    tpl = action.templates.get("from")
    pattern = text_of(_render(flow, rule, action, phase, tpl, "from")) if tpl is not None else None
    to = text_of(_render(flow, rule, action, phase, action.templates["to"], "to"))
    try:
        new, matched = replace_all(pattern, to, url)
    except CelError as exc:  # a `from` that is no regex
        span = action.ir.span_of("from") if action.ir is not None else action.span
        raise action_error(flow, rule, phase, tpl.text if tpl is not None else "", span,
                           failure(exc, TEMPLATE), "from") from None
    except TooLong as exc:
        span = action.ir.span_of("to") if action.ir is not None else action.span
        raise action_error(flow, rule, phase, action.templates["to"].text, span, Failure(BAD_VALUE, str(exc)),
                           "to") from None
    return url, (resolve(url, new) if new != url else new), matched


def _redirect(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    if phase != REQ:  # a request-phase action (AIGW134 says so when the policy loads)
        flow.rec.outcome(f"skipped: {action.type} runs in the request phase")
        return None
    url, new, matched = _new_url(flow, rule, action, phase)
    if flow.cp.reads_actions:
        _publish(flow, "redirect", {"matches": matched, "url": new if new != url else "", "error": NO_ERROR})
    if new == url:  # ngrok: an unchanged URL is no redirect
        if flow.rec.on:
            flow.rec.outcome("no redirect: the URL is unchanged")
        return None
    status = action.config.status_code or 302
    headers = {k.lower(): _header_value(flow, rule, action, phase, t, f"headers.{k}")
               for k, t in action.templates.get("headers", {}).items()}
    headers["location"] = new
    if flow.rec.on:
        flow.rec.outcome(f"redirected {status} to {new}")
    return Stop("deny", status, f"redirected to `{new}` (rule `{rule.label}`)", "redirect", headers=headers,
                body="")


def _url_rewrite(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    if phase != REQ:  # a request-phase action (AIGW134 says so when the policy loads)
        flow.rec.outcome(f"skipped: {action.type} runs in the request phase")
        return None
    url, new, matched = _new_url(flow, rule, action, phase)
    if flow.cp.reads_actions:
        _publish(flow, "url_rewrite", {"matches": matched, "url": new, "error": NO_ERROR})
    if new == url:
        if flow.rec.on:
            flow.rec.outcome("URL unchanged")
        return
    act = flow.act
    first = flow.effects.get("url")
    flow.effects["url"] = {"from": first["from"] if first else url, "to": new, "rule": rule.label}
    act["req.url"] = new
    act.update(split_url(new))  # later rules read the new URL's parts
    if flow.rec.on:
        flow.rec.outcome(f"rewrote the URL to {new}")


def _basic_auth(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    if phase != REQ:  # a request-phase action (AIGW134 says so when the policy loads)
        flow.rec.outcome(f"skipped: {action.type} runs in the request phase")
        return None
    cfg = action.config
    presented = _presented(flow.act.get("req.headers") or {})
    user = presented[0] if presented is not None else ""
    authorized = False
    if presented is not None:
        given = f"{presented[0]}:{presented[1]}".encode("utf-8", "surrogatepass")
        for i, tpl in enumerate(action.templates["credentials"]):
            wanted = rendered_credential(flow, rule, action, phase, tpl, i).encode("utf-8", "surrogatepass")
            authorized = hmac.compare_digest(given, wanted) or authorized  # every one compared: no early exit
    if flow.cp.reads_actions:
        _publish(flow, "basic_auth", {"credentials": {"presented": presented is not None, "username": user,
                                                      "authorized": authorized}})
    if authorized:
        if flow.rec.on:
            flow.rec.outcome(f"authorized `{user}`")
        return None
    realm = (cfg.realm or "ngrok").replace("\\", "\\\\").replace('"', '\\"')
    reason = (f"basic authentication failed for `{user}`" if presented is not None
              else "no basic authentication credentials") + f" (rule `{rule.label}`)"
    if cfg.enforce is False:  # ngrok's page: "continue to the next action even if basic authentication failed"
        if flow.rec.on:
            flow.rec.outcome(f"would deny 401 (enforce: false): {reason}")
        flow.shadow_deny(401, reason, rule)
        return None
    if flow.rec.on:
        flow.rec.outcome(f"denied 401: {reason}")
    return Stop("deny", 401, reason, "basic-auth", headers={"www-authenticate": f'Basic realm="{realm}"'},
                body=reason)


def rendered_credential(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str, tpl: Any, i: int) -> str:
    """A credential of ``basic-auth`` rendered and checked by ngrok's rules (a written one was
    checked when the policy loaded): ``username:password``, no `:` from a ``${...}`` inside
    either part, a password of 8 to 128 characters. One that breaks them fails the rule
    (AIGW509, closed by ``on_error``); the message never shows the password."""
    if tpl.constant:
        return str(tpl.text)
    field = f"credentials.{i}"
    if tpl.single is not None:
        user, colon, password = text_of(_render(flow, rule, action, phase, tpl, field)).partition(":")
        problem = None if colon else "it renders to no `username:password`"
    else:
        user = password = ""
        problem, in_password = None, False
        for part in tpl.parts:
            if type(part) is str:
                if not in_password and ":" in part:
                    head, _, part = part.partition(":")
                    user, in_password = user + head, True
            else:
                try:
                    part = text_of(part.fn(flow.act))
                except (CelError, RecursionError) as exc:
                    span = action.ir.span_of(field) if action.ir is not None else action.span
                    raise action_error(flow, rule, phase, tpl.text, span, failure(exc, TEMPLATE), field) from None
                if ":" in part and problem is None:
                    problem = f"a `${{...}}` of its {'password' if in_password else 'username'} renders a `:`"
            if in_password:
                password += part
            else:
                user += part
    if problem is None and not user:
        problem = "its username renders empty"
    if problem is None and CONTROL.search(f"{user}{password}"):
        problem = "it renders a control character (RFC 7617)"
    if problem is None and not 8 <= len(password) <= 128:
        problem = f"its password renders to {len(password)} characters: ngrok takes 8 to 128"
    if problem is not None:
        span = action.ir.span_of(field) if action.ir is not None else action.span
        raise action_error(flow, rule, phase, tpl.text, span,
                           Failure(BAD_VALUE, f"credential {i + 1} is no `username:password` credential: {problem}"),
                           field)
    return f"{user}:{password}"


def _presented(headers: dict[str, Any]) -> tuple[str, str] | None:
    """(user, password) of the request's ``Authorization: Basic ...``, else None."""
    values = headers.get("authorization") or ()
    for value in values if isinstance(values, list) else (values,):
        scheme, _, token = str(value).strip().partition(" ")
        if scheme.lower() != "basic":
            continue
        try:
            text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, colon, password = text.partition(":")
        return (user, password) if colon else None
    return None


def _forward_internal(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    if phase != REQ:
        flow.rec.outcome("skipped: forward-internal runs in the request phase")
        return None
    url = text_of(_render(flow, rule, action, phase, action.templates["url"], "url"))
    problem = internal_url_problem(url, HTTP_SCHEMES)
    if problem is not None:
        if action.config.on_error == "continue":  # ngrok: the next actions run
            if flow.cp.reads_actions:
                _publish(flow, "forward_internal", {"url": url, "error": {"code": "ERR_NGROK_AIGW509",
                                                                          "message": problem}})
            flow.rec.outcome(f"not forwarded (on_error: continue): {problem}")
            return None
        span = action.ir.span_of("url") if action.ir is not None else action.span
        raise action_error(flow, rule, phase, action.templates["url"].text, span, Failure(BAD_VALUE, problem), "url")
    flow.effects["forward"] = {"url": url, "rule": rule.label}
    if flow.rec.on:
        flow.rec.outcome(f"forwarded to {url}")
    return Stop("allow", None, f"forwarded to `{url}` by rule `{rule.label}`", "forward-internal")


def _compress_response(flow: Any, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    """Recorded, not applied: the gateway answers uncompressed (AIGW128 at load).
    ``actions.ngrok.compress`` says so in ngrok's fields: ``negotiated_algorithm`` (the one
    "selected and applied") is ``""``, ``already_compressed`` whether the response came with a
    ``content-encoding`` of its own."""
    algorithms = list(action.config.algorithms or ("gzip", "deflate", "br", "compress"))
    flow.effects["compress"] = {"algorithms": algorithms, "rule": rule.label, "applied": False}
    if flow.cp.reads_actions:
        headers = (flow.response or {}).get("headers") or {}
        encoded = any(str(k).lower() == "content-encoding" and str(e).strip().lower() not in ("", "identity")
                      for k, v in headers.items() for e in (v if isinstance(v, list) else [v]))
        _publish(flow, "compress", {"already_compressed": encoded, "negotiated_algorithm": ""})
    flow.rec.outcome("recorded: answers stay uncompressed")


HTTP_HANDLERS = {"redirect": _redirect, "url-rewrite": _url_rewrite, "basic-auth": _basic_auth,
                 "forward-internal": _forward_internal, "compress-response": _compress_response}
