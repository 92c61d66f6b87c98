"""``actions.ngrok.*`` reads checked against ngrok's action variables
(https://ngrok.com/docs/traffic-policy/variables/action).

``actions`` is declared ``map(string, dyn)`` (each action publishes its own object, the AI
gateway's a whole trace), so a misspelled field type-checked and failed its rule on every
request at run time. Here each ``actions.<...>`` selection is walked down the documented
names:

- ``AIGW300`` (error): a name ngrok does not document, as for any other variable
  (``actions.ngrok.rate_limit.limted``, ``actions.ngork...``), with a did-you-mean;
- ``AIGW404`` (warning): a documented action's variables read where no action of that type
  is in the policy (outside ``has()`` or ``.?``): the lookup is an error at run time.

``limits`` (``map(string, dyn)`` too: what each limit's rule published) gets the same for its
fields: ``limits['api'].limted`` is AIGW300 (:data:`~aigw_policy.env.docs.LIMIT_FIELDS`);
which limits exist is AIGW402's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..cel import ast
from ..diagnostics import Diagnostic, did_you_mean
from ..ir import Policy
from ..source import Source, Span
from .cel_check import rule_cel_texts

OPEN: dict[str, Any] = {}
"""A documented object whose fields are the author's or the upstream's (``log.metadata``,
``http_request.res``): anything below it is accepted."""
_ERROR = {"code": None, "message": None}
_IDENTITY = {"id": None, "email": None, "name": None, "provider_user_id": None}
_SESSION = {"error": _ERROR, "access_token": None, "refresh_token": None, "expires_at": None,
            "session_timed_out": None, "session_max_duration_reached": None, "userinfo_refreshed": None}
_OWASP = {"decision": None, "anomaly_score": None, "anomaly_score_threshold": None,
          "matched_rules": OPEN, "error": _ERROR}

# action variable -> (the action type that publishes it, its documented fields; None: a leaf)
ACTION_VARIABLES: dict[str, tuple[str, dict[str, Any]]] = {
    "add_headers": ("add-headers", {"headers_added": OPEN}),
    "remove_headers": ("remove-headers", {"headers_removed": None}),
    "log": ("log", {"metadata": OPEN}),
    "rate_limit": ("rate-limit", {"bucket_key": None, "limited": None, "name": None, "error": _ERROR}),
    "restrict_ips": ("restrict-ips", {"action": None, "matched_cidr": None, "error": _ERROR}),
    "compress": ("compress-response", {"already_compressed": None, "negotiated_algorithm": None}),
    "basic_auth": ("basic-auth", {"credentials": {"presented": None, "username": None, "authorized": None}}),
    "redirect": ("redirect", {"matches": None, "url": None, "error": _ERROR}),
    "url_rewrite": ("url-rewrite", {"matches": None, "url": None, "error": _ERROR}),
    "forward_internal": ("forward-internal", {"url": None, "error": _ERROR}),
    "ai_gateway": ("ai-gateway", {"status": None, "error": OPEN, "client": OPEN, "input_ngrok_tokens": None,
                                  "output_ngrok_tokens": None, "gateway_latency_ms": None,
                                  "model_selection": OPEN, "models_tried": OPEN, "success": OPEN}),
    "http_request": ("http-request", {"error": _ERROR, "attempts": OPEN, "req": OPEN, "res": OPEN}),
    "jwt_validation": ("jwt-validation", {"tokens": OPEN, "error": _ERROR}),
    "oauth": ("oauth", {**_SESSION, "identity": {**_IDENTITY, "current_provider_session_id": None}}),
    "oidc": ("openid-connect", {**_SESSION, "identity_token": None, "user_info_refreshed": None,
                                "identity": {**_IDENTITY, "current_session_id": None}}),
    "owasp_crs_request": ("owasp-crs-request", _OWASP),
    "owasp_crs_response": ("owasp-crs-response", _OWASP),
    "verify_webhook": ("verify-webhook", {"verified": None, "error": _ERROR}),
    "terminate_tls": ("terminate-tls", OPEN),
    "request_body_find_replace": ("request-body-find-replace", {"replacements": OPEN}),
    "response_body_find_replace": ("response-body-find-replace", {"replacements": OPEN}),
    "sse_find_replace": ("sse-find-replace", {"replacements": OPEN}),
}

_LIMIT_RESULT = {"limited": None, "bucket_key": None, "name": None, "error": _ERROR}
AIGW_VARIABLES: dict[str, tuple[str, dict[str, Any]]] = {
    "token_limit": ("token-limit", _LIMIT_RESULT),
    "usage_cap": ("usage-cap", _LIMIT_RESULT),
}
"""``actions.aigw.*``: this engine's own limit actions publish there what ``rate-limit``
publishes under ``actions.ngrok.rate_limit``."""
_GROUPS = {"ngrok": ACTION_VARIABLES, "aigw": AIGW_VARIABLES}


def check(policy: Policy, source: Source | None = None, *, complete: bool = True) -> list[Diagnostic]:
    """AIGW300 for each ``actions.*`` name ngrok does not document, AIGW404 for a documented
    one no action of the policy publishes (only when ``complete``: a rule left out for its
    errors may hold that action)."""
    from ..env import check_text

    present = {a.type for _, rule in policy.rules() for a in rule.actions}
    found: list[Diagnostic] = []
    for _, rule in policy.rules():
        for text, span, _ in rule_cel_texts(rule):
            if "actions" not in text:
                continue
            known = check_text(text)
            if known is None:
                continue  # does not parse: the cel pass says so
            reads = list(_reads(known[0]))
            tested = [p for p, how in reads if how == "has" and len(p) >= 2]
            for path, how in reads:
                guarded = how is not None or any(path[:len(t)] == t for t in tested)
                found.extend(_judge(path, guarded, span, present, complete))
        for text, span, _ in rule_cel_texts(rule):
            if "limits" in text and (known := check_text(text)) is not None:
                found.extend(_limit_fields(known[0], span))
    return found


def _limit_fields(node: Any, span: Span | None) -> list[Diagnostic]:
    """AIGW300 for each ``limits[name].field`` / ``limits.name.field`` whose field is none of
    a limit's."""
    from ..env.docs import LIMIT_FIELDS

    found = []
    for n in _walk(node):
        if not isinstance(n, ast.Select):
            continue
        inner = n.operand
        if (isinstance(inner, (ast.Select, ast.Index)) and isinstance(inner.operand, ast.Ident)
                and inner.operand.name == "limits" and n.field not in LIMIT_FIELDS):
            close = did_you_mean(n.field, sorted(LIMIT_FIELDS))
            found.append(Diagnostic.make("AIGW300", f"undeclared reference to a limit's `{n.field}`", span,
                                         help=close or "a limit has " + ", ".join(
                                             f"`{f}`" for f in LIMIT_FIELDS)))
    return found


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(ast.children(n))


def _judge(path: list[str], guarded: bool, span: Span | None, present: set[str],
           complete: bool) -> list[Diagnostic]:
    if not path:
        return []
    written = "actions." + ".".join(path)
    group = _GROUPS.get(path[0])
    if group is None:
        close = did_you_mean(path[0], sorted(_GROUPS))
        return [Diagnostic.make("AIGW300", f"undeclared reference to `actions.{path[0]}`", span,
                                help=close or "ngrok's action results are under `actions.ngrok`, as in "
                                "`actions.ngrok.rate_limit.limited` (this engine's limits' under `actions.aigw`)")]
    if len(path) < 2:
        return []
    entry = group.get(path[1])
    if entry is None:
        close = did_you_mean(path[1], sorted(group))
        return [Diagnostic.make("AIGW300", f"undeclared reference to `actions.{path[0]}.{path[1]}`", span,
                                help=close or f"`actions.{path[0]}` has "
                                + ", ".join(f"`{n}`" for n in sorted(group)))]
    action, fields = entry
    node: dict[str, Any] | None = fields
    for i, name in enumerate(path[2:], start=2):
        if node is OPEN:
            break
        if node is None or name not in node:
            where = "actions." + ".".join(path[:i])
            choices = sorted(node) if node else []
            close = did_you_mean(name, choices) if choices else None
            return [Diagnostic.make("AIGW300", f"undeclared reference to `{where}.{name}`", span,
                                    help=close or (f"`{where}` has " + ", ".join(f"`{c}`" for c in choices)
                                                   if choices else f"`{where}` is a value, not an object"))]
        node = node[name]
    if action not in present and complete and not guarded:
        return [Diagnostic.make("AIGW404", f"no `{action}` action sets `{written}`", span,
                                help=f"it is set by a `{action}` action in an earlier rule; until one "
                                f"runs the lookup is an error (test it first: `has(actions.{path[0]}.{path[1]})`)")]
    return []


def _reads(node: Any) -> Iterator[tuple[list[str], str | None]]:
    """Each outermost ``actions.a.b...`` selection chain (its field names) and how it is
    tested rather than read: ``"has"`` (inside ``has()``), ``"?"`` (with ``.?``), else None.
    A read in the same text as a ``has()`` of its action is guarded by it (``has(x) ? x.y : ''``)."""
    stack: list[tuple[Any, str | None]] = [(node, None)]
    while stack:
        n, how = stack.pop()
        chain = _chain(n)
        if chain is not None:
            names, optional = chain
            yield names, how or ("?" if optional else None)
            continue
        tests = isinstance(n, ast.Call) and n.function == "has"
        for child in ast.children(n):
            stack.append((child, "has" if tests else how))


def _chain(node: Any) -> tuple[list[str], bool] | None:
    """``actions.x.y`` as (``["x", "y"]``, any ``.?``), or None when ``node`` is no such chain.
    A chain with an index inside (``actions.ngrok.log.metadata['a'].b``) is cut there."""
    names: list[str] = []
    optional = False
    n = node
    while isinstance(n, (ast.Select, ast.Index)):
        if isinstance(n, ast.Index):
            names.clear()  # what follows an index is checked no further
            optional = optional or n.optional
        else:
            names.append(n.field)
            optional = optional or n.optional
        n = n.operand
    if isinstance(n, ast.Ident) and n.name == "actions" and isinstance(node, ast.Select):
        return list(reversed(names)), optional
    return None
