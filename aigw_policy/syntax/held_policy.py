"""A traffic policy written as a string inside another document, as ngrok's API carries it.

ngrok's API keeps an endpoint's policy as text: the `traffic_policy` of an Endpoint object
(the body of `POST /endpoints`, what `GET /endpoints/{id}` answers, each item of
`GET /endpoints`), and the `value` of an Edge's traffic policy module (`{"enabled": true,
"value": "..."}`). ngrok's docs show such bodies whole, so a user lints one as it is.

:func:`find_held` finds that one string; the loader reads it as a policy of its own
(YAML or JSON, as ngrok reads it) and reports the rest of the document unchecked (AIGW105).
Diagnostics of the inner policy point at the string in the outer document and name their
line and column inside it (the string's escapes make a character-for-character map
impossible in general).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic, Diagnostics
from ..source import Source, Span
from .policy_places import connect_only
from .yaml_tree import Map, Scalar, Seq, Tree, compose

__all__ = ["Composed", "Held", "find_held", "hoist"]

PHASE_KEYS = ("on_http_request", "on_http_response", "on_tcp_connect", "inbound", "outbound")


@dataclass(frozen=True, slots=True)
class Held:
    text: str
    """The policy's own text."""
    span: Span
    """Where the string is in the outer document."""
    path: str
    what: str
    url: str = ""
    """The holding endpoint's `url`, "" when it names none."""


def _policy_text(node: Tree | None) -> str | None:
    """A string that reads as a policy (names a phase), else None."""
    if isinstance(node, Scalar) and isinstance(node.value, str) and any(
            key in node.value for key in PHASE_KEYS):
        return node.value
    return None


Composed = tuple[Tree | None, Diagnostics]
"""A document's tree (:func:`compose`'s answer) and the diagnostics composing it gave."""


def find_held(source: Source, json_mode: bool) -> tuple[Held | None, Composed | None]:
    """The one policy string an ngrok API object holds, else None (then the document is read
    as it stands); and the document composed, when it was composed to look (only documents
    that name such a key are), so that the reader takes that tree instead of composing the
    document a second time."""
    text = source.text
    if "policy" not in text and not ("value" in text and "enabled" in text):
        return None, None
    scratch = Diagnostics()
    root = compose(source, scratch, json_mode=json_mode)
    return _held(root, scratch), (root, scratch)


def _held(root: Tree | None, scratch: Diagnostics) -> Held | None:
    if isinstance(root, Seq) and not scratch.has_errors:  # endpoint definitions (ngrok's device gateway docs)
        return _one_in_list(root.items, "", "a list of ngrok endpoint definitions")
    if not isinstance(root, Map) or scratch.has_errors:
        return None
    keys = {k for k, _, _ in root.items}
    if keys & {*PHASE_KEYS, "apiVersion", "kind", "spec"}:
        return None  # a policy itself, or a Kubernetes resource (read by the reader)
    holder = root.get("traffic_policy")
    if (inner := _policy_text(holder)) is not None:
        return Held(inner, holder.span, "traffic_policy", "an ngrok API endpoint", _url(root))
    value = root.get("value")
    if "enabled" in keys and (inner := _policy_text(value)) is not None:
        return Held(inner, value.span, "value", "an ngrok Edge's traffic policy module")
    endpoints = root.get("endpoints")
    if isinstance(endpoints, Seq):
        return _one_in_list(endpoints.items, "endpoints.", "a list of ngrok endpoints")
    return None


def _one_in_list(items: list[Tree], prefix: str, what: str) -> Held | None:
    """The one endpoint of ``items`` whose ``traffic_policy`` (or ``policy``, its name in ngrok's
    device gateway docs) is a policy string, else None."""
    found = [(i, key, ep.get(key)) for i, ep in enumerate(items) if isinstance(ep, Map)
             for key in ("traffic_policy", "policy") if _policy_text(ep.get(key)) is not None]
    if len(found) != 1:
        return None
    i, key, node = found[0]
    assert isinstance(node, Scalar)
    return Held(node.value, node.span, f"{prefix}{i}.{key}", what, _url(items[i]))


def _url(node: Tree) -> str:
    url = node.get("url") if isinstance(node, Map) else None
    return url.value if isinstance(url, Scalar) and isinstance(url.value, str) else ""


def hoist(held: Held, outer: Source, found: list[Diagnostic], *, http_rules: bool = False) -> list[Diagnostic]:
    """The inner policy's diagnostics placed on the string in the outer document, after the
    warning that says what was read (and, when the policy has HTTP rules, `http_rules`, and its
    endpoint is a TCP or TLS one, the refusal ngrok gives)."""
    notes = [Diagnostic.make(
        "AIGW105", f"this is {held.what}: its traffic policy, the string in `{held.path}`, is read",
        outer.span(0),
        help="the rest of the document is not checked here; a finding in the policy names "
        "its line and column inside the string")]
    if http_rules and connect_only(held.url):
        notes.append(Diagnostic.make(
            "AIGW100", f"the policy of a TCP or TLS endpoint (`{held.url[:80]}`) has an HTTP phase",
            held.span, help="ngrok refuses it (ERR_NGROK_2230, a phase the endpoint's protocol has "
            "not): its connections carry no HTTP requests; connection rules go under "
            "`on_tcp_connect`"))
    for d in found:
        where = f" (line {d.span.line}, column {d.span.column} of the policy in `{held.path}`)" \
            if d.span is not None else ""
        notes.append(replace(d, message=d.message + where, span=held.span, related=()))
    return notes
