"""The YAML/JSON surface form (ngrok Traffic Policy shape plus our extensions), both ways.

Reading is two stages, both collecting diagnostics instead of raising:

1. ``text -> tree``: PyYAML's parser and composer (pure Python, so the depth can be capped)
   give nodes with marks (:mod:`.yaml_tree`): small ``Scalar``/``Seq``/``Map``
   values with spans, checking duplicate keys, tags, nesting depth and alias expansion.
2. ``tree -> IR``: :class:`_Reader` checks the document shape (top-level keys, phases,
   rules, actions) and hands each action config, lowered to :mod:`aigw_policy.ir.raw`
   trees, to the shared builder :func:`aigw_policy.ir.build.build_action`.

Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 defaults: ``yes``, ``no``,
``on``, ``off``, ``y``, ``n`` and dates stay strings; booleans are only ``true``/``false``
(any case as the core schema allows); numbers are what Go's yaml (ngrok's reader) makes of
them (:func:`~aigw_policy.syntax.yaml_schema.go_number`: ``1_000`` is 1000, ``017`` octal 15,
``0x1f`` and ``0b1`` integers, ``1e3`` a float); merge keys (``<<``) merge. Mapping keys are
always strings: the key ``200:`` is the string ``"200"``.

Writing (:func:`dump_data`, :func:`dump_yaml`, :func:`dump_json`) prints only what the author
wrote, in a stable key order, and reads back to an equal IR.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ..analysis.cel_check import check_rule
from ..analysis.engine_checks import check_connection_rule
from ..diagnostics import Diagnostics, did_you_mean
from ..ir.actions import ACTIONS, field_kind
from ..ir.build import NULL_ITEM, NULL_READ, build_action, choice_help, not_run_on_connect
from ..ir.nodes import PHASES, SETTINGS, Action, Expr, Policy, Rule
from ..ir.parts import part_of
from ..ir.raw import RawList, RawMap, RawScalar, RawValue
from ..source import Source, Span
from .policy_places import (
    connect_only,
    endpoint_policy,
    held_url,
    route_policies,
    tunnel_policies,
    written_policies,
)
from .yaml_tree import (
    MAX_DEPTH,
    MAX_INPUT_CHARS,
    MAX_NODES,
    Map,
    Scalar,
    Seq,
    Tree,
    compose,
    tree_kind,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_CHARS",
    "MAX_NODES",
    "dump_data",
    "dump_json",
    "dump_yaml",
    "read_json",
    "read_tree",
    "read_yaml",
]

TOP_KEYS = ("name", *SETTINGS, "shard_key", "on_http_request", "on_http_response")
RULE_KEYS = ("name", "expressions", "on_error", "mode", "actions")
ACTION_KEYS = ("type", "config")
UNSUPPORTED_PHASES = ("on_tcp_connect", "on_event_stream_message")
"""ngrok phases outside HTTP requests and responses: TCP connects, and the messages of a
streamed response (ngrok's AI gateway docs redact them with `sse-find-replace`)."""

CONNECT_EDGES = ("TCPEdge", "TLSEdge")
"""The ingress controller's Kubernetes resources for ngrok's TCP and TLS Edges (2023-2024):
their `spec.policy`'s `inbound` rules ran on each connection, not on HTTP requests."""

_ENDPOINT_SPEC = ("url", "trafficPolicyName", "trafficPolicy", "description", "metadata", "bindings",
                  "poolingEnabled", "upstream", "clientCertificateRefs")
_ENDPOINT_HOLDERS = (("spec", ("trafficPolicy",), _ENDPOINT_SPEC),
                     ("spec.trafficPolicy", ("policy", "inline", "targetRef"), ()))
_HOLDER_KEYS: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "CloudEndpoint": _ENDPOINT_HOLDERS, "AgentEndpoint": _ENDPOINT_HOLDERS,
    "NgrokTrafficPolicy": (("spec", ("policy",), ()),), "TCPEdge": (("spec", ("policy",), ()),),
    "TLSEdge": (("spec", ("policy",), ()),),
}
"""Where each Kubernetes resource holds its policy: (path, the keys that hold it, the other
keys of that place, never taken for a misspelling)."""

POLICY_PLACES = {
    "CloudEndpoint": "`spec.trafficPolicy.policy` (or `.inline`)",
    "AgentEndpoint": "`spec.trafficPolicy.policy` (or `.inline`)",
    "NgrokTrafficPolicy": "`spec.policy`",
    "TCPEdge": "`spec.policy`",
    "TLSEdge": "`spec.policy`",
    "HTTPSEdge": "`spec.routes[].policy`",
    "NgrokModuleSet": "`modules.policy`",
}
"""Where each Kubernetes resource of ngrok's operator (and of its ingress controller before it)
holds its traffic policy."""

DEPRECATED_PHASES = {"inbound": "on_http_request", "outbound": "on_http_response"}
"""ngrok's names for the phases before it introduced phases (2024), still in older docs, SDK
examples and blog posts, and still accepted by ngrok (its Python SDK's tests send them):
read as the phase they name, with a warning (AIGW106)."""


def _top_key_help(key: str) -> str:
    """The help for an unknown top-level key: the closest of every key read there, the phases
    this engine skips or renames included (`on_tcp_conect` is `on_tcp_connect`, not
    `on_http_response`; `Inbound`, as ngrok's Rust SDK writes its legacy policies, is
    `on_http_request`)."""
    close = did_you_mean(key, (*TOP_KEYS, *UNSUPPORTED_PHASES, *DEPRECATED_PHASES))
    for former, phase in DEPRECATED_PHASES.items():
        if close == f"did you mean `{former}`?":
            return f"did you mean `{phase}`? (ngrok's former name for it: `{former}`)"
    return close or "the top-level keys are " + ", ".join(f"`{k}`" for k in TOP_KEYS)

def _not_a_mapping_help(root: Tree) -> str:
    """What to do with a document that is not a mapping; a text that YAML reads as one
    string is often another language: Terraform's HCL (ngrok's provider writes the policy
    as `traffic_policy = jsonencode({...})`) or a command line."""
    text = root.value if isinstance(root, Scalar) and isinstance(root.value, str) else ""
    if "jsonencode(" in text or text.startswith(("resource ", "data ", "module ")):
        return ("this is Terraform (HCL), not YAML or JSON: write the argument of "
                "`jsonencode(...)` as YAML (`on_http_request:`) or JSON, with `:` for `=`, and "
                "lint that (in Terraform, ngrok's `${...}` is written `$${...}`)")
    if text.startswith(("ngrok ", "curl ", "kubectl ")):
        return "this is a command line: lint the policy file or text it passes"
    return "write `on_http_request:` and `on_http_response:` at the top level"


# ---------------------------------------------------------------------------------------
# stage 2: tree -> IR


class _Invalid:
    pass


_BAD: Any = _Invalid()


class _Reader:
    def __init__(self, diags: Diagnostics, source: Source) -> None:
        self.diags = diags
        self.source = source

    # the document -------------------------------------------------------------------
    def policy(self, root: Tree) -> Policy | None:
        if not isinstance(root, Map):
            self.diags.add("AIGW012", f"a policy document must be a mapping, not {tree_kind(root)}",
                           root.span, help=_not_a_mapping_help(root))
            return None
        inner = self.inner_policy(root)
        connect = False
        if inner is not None:
            node, path, what = inner
            connect = any(f"`{kind}`" in what for kind in (*CONNECT_EDGES, "tcp", "tls")) \
                or connect_only(held_url(root, path))
            spec = root.get("spec")
            beside = endpoint_policy(spec)[1] if isinstance(spec, Map) and path.startswith("spec.t") else ""
            self.diags.add("AIGW105", f"this is {what}: its traffic policy under `{path}` is read",
                           root.items[0][1], help="the rest of the document is not checked here" + beside
                           + ("; the route's `match` is not applied: its rules run on every request"
                              if "routes." in path else ""))
            root = node
        fields: dict[str, Any] = {}
        wrapper = self.wrapper(root)
        phased = any(k in PHASES or k in DEPRECATED_PHASES for k, _, _ in root.items)
        for key, key_span, value in root.items:
            if key in _OPTIONAL_TOP and _null(value):
                continue  # a null is the key not written (Go's zero value): see _null
            if key == "enabled" and phased:
                self.module_switch(value, key_span)
            elif key == "name":
                fields["name"] = self.string(value, "name")
            elif key in SETTINGS:
                fields[key] = self.choice(value, key, SETTINGS[key])
            elif key == "shard_key":
                fields[key] = self.shard_key(value)
            elif key == "inbound" and connect:
                self.diags.add("AIGW106", "`inbound` of a TCP or TLS edge or tunnel is ngrok's former name for "
                               "`on_tcp_connect`", key_span,
                               help="its rules run on each connection: read as `on_tcp_connect`")
                self.diags.add("AIGW102", "unsupported phase `on_tcp_connect`: its rules are skipped",
                               key_span, help="aigw-policy evaluates HTTP traffic")
                self.skipped_phase("on_tcp_connect", value)
            elif connect and (key in PHASES or key in DEPRECATED_PHASES):
                self.diags.add("AIGW100", f"`{key}` is no phase of a TCP or TLS endpoint's policy",
                               key_span, help="ngrok refuses it (ERR_NGROK_2230, a phase the endpoint's "
                               "protocol has not): its connections carry no HTTP requests; connection "
                               "rules go under `on_tcp_connect`")
                self.skipped_phase(key, value)
            elif key in PHASES or (key in DEPRECATED_PHASES and root.get(DEPRECATED_PHASES[key]) is None):
                phase = DEPRECATED_PHASES.get(key, key)
                if phase != key:
                    self.diags.add("AIGW106", f"`{key}` is ngrok's former name for `{phase}`", key_span,
                                   help=f"read as `{phase}` (ngrok still accepts it); rename it")
                fields[phase] = tuple(self.phase(phase, value))
            elif key in UNSUPPORTED_PHASES:
                help = ("aigw-policy evaluates HTTP traffic: use `on_http_request` and "
                        "`on_http_response`")
                if key == "on_event_stream_message":
                    help = ("rules over each message of a streamed response are not supported; "
                            "`on_http_response` rules run once the stream has ended")
                self.diags.add("AIGW102", f"unsupported phase `{key}`: its rules are skipped",
                               key_span, help=help)
                self.skipped_phase(key, value)
            elif wrapper is not None:
                if wrapper[0] == key and (near := self.misspelled_holder(root)) is not None:
                    self.diags.add("AIGW100", near[0], near[1], help=near[2])
                elif wrapper[0] == key:
                    self.diags.add("AIGW100", wrapper[1], key_span, help=wrapper[2])
            elif key in DEPRECATED_PHASES:
                self.diags.add(
                    "AIGW100", f"`{key}` and `{DEPRECATED_PHASES[key]}` are two names for one phase",
                    key_span, help=f"`{key}` is ngrok's former name for `{DEPRECATED_PHASES[key]}`: "
                    "keep one list of rules",
                )
            else:
                self.diags.add("AIGW100", f"unknown top-level key `{key}`", key_span, help=_top_key_help(key))
        fields = {k: v for k, v in fields.items() if v is not _BAD}
        return Policy(span=root.span, **fields)

    def module_switch(self, node: Tree, span: Span) -> None:
        """``enabled`` beside the phases: the switch of a policy module of ngrok's Edges (its
        API's `.../policy` bodies) and of the ingress controller's `NgrokModuleSet`."""
        if isinstance(node, Scalar) and node.value is True:
            self.diags.add("AIGW105", "`enabled: true` is the switch of an ngrok Edge's policy "
                           "module: its rules are read", span,
                           help="an endpoint's traffic policy has no switch: remove it")
        elif isinstance(node, Scalar) and node.value is False:
            self.diags.add("AIGW100", "`enabled: false` turns this policy module off: ngrok runs "
                           "none of its rules", span,
                           help="remove the rules that should not run, then the switch")
        else:
            self.diags.add("AIGW122", f"`enabled` must be true or false, not {tree_kind(node)}",
                           node.span)

    def inner_policy(self, root: Map) -> tuple[Map, str, str] | None:
        """The one policy a Kubernetes resource (``spec.trafficPolicy.policy`` or ``.inline``
        of a CloudEndpoint or AgentEndpoint, ``spec.policy`` of an NgrokTrafficPolicy) or an
        ngrok agent configuration (``endpoints[i].traffic_policy``, one endpoint having
        one) holds, as ngrok's operator and agent read it: (its node, its path, what holds it)."""
        keys = {k for k, _, _ in root.items}
        if {"apiVersion", "kind"} <= keys and isinstance(spec := root.get("spec"), Map):
            kind = root.get("kind")
            what = "a Kubernetes " + (f"`{kind.value}` " if isinstance(kind, Scalar) and isinstance(
                kind.value, str) else "") + "resource"
            found = endpoint_policy(spec)[0]
            if isinstance(node := spec.get("policy"), Map):
                found.append((node, "spec.policy"))
            found += route_policies(spec.get("routes"), "spec.routes")
            return (found[0][0], found[0][1], what) if len(found) == 1 else None
        if {"apiVersion", "kind"} <= keys and isinstance(modules := root.get("modules"), Map) \
                and isinstance(node := modules.get("policy"), Map):
            return (node, "modules.policy", "a Kubernetes `NgrokModuleSet` resource")
        endpoints = root.get("endpoints")
        if isinstance(endpoints, Seq) and not keys & {*TOP_KEYS, *UNSUPPORTED_PHASES}:
            found = [(node, f"endpoints.{i}.traffic_policy") for i, ep in enumerate(endpoints.items)
                     if isinstance(ep, Map) and isinstance(node := ep.get("traffic_policy"), Map)]
            if len(found) == 1:
                return (found[0][0], found[0][1], "an ngrok agent configuration")
        if ({"url", "forwards_to"} & keys and not keys & {*TOP_KEYS, *UNSUPPORTED_PHASES}
                and isinstance(node := root.get("policy") or root.get("traffic_policy"), Map)):
            key = "policy" if isinstance(root.get("policy"), Map) else "traffic_policy"
            return (node, key, "an ngrok endpoint definition (its `url` and `forwards_to`)")
        written = written_policies(root)
        if len(written) == 1:
            return (written[0][0], written[0][1], "test data of ngrok's Kubernetes operator: the policy it "
                    "is expected to write")
        tunnels = tunnel_policies(root.get("tunnels"))
        if len(tunnels) == 1 and not keys & {*TOP_KEYS, *UNSUPPORTED_PHASES}:
            return tunnels[0]
        routes = route_policies(root.get("routes"), "routes")
        if len(routes) == 1 and isinstance(root.get("hostports"), Seq):
            return (routes[0][0], routes[0][1], "an ngrok HTTPS Edge (an API object)")
        return None

    def misspelled_holder(self, root: Map) -> tuple[str, Span, str] | None:
        """A misspelled key where a Kubernetes resource holds its policy
        (``spec.trafficPolicy.polciy``, ``spec.polcy``): (message, the key's span, help)."""
        kind = root.get("kind")
        holders = _HOLDER_KEYS.get(kind.value if isinstance(kind, Scalar) and isinstance(kind.value, str) else "", ())
        for path, names, others in holders:
            node: Tree | None = root
            for part in path.split("."):
                node = node.get(part) if isinstance(node, Map) else None
            for key, span, _ in node.items if isinstance(node, Map) else ():
                close = None if key in names or key in others else did_you_mean(key, names)
                if close is not None:
                    return (f"unknown key `{key}` in `{path}`: ngrok's operator finds no policy here",
                            span, close)
        return None

    def wrapper(self, root: Map) -> tuple[str, str, str] | None:
        """A document that holds a policy somewhere inside: (first key, message, help)."""
        keys = [k for k, _, _ in root.items]
        if {"apiVersion", "kind", "spec"} & set(keys):
            kind = root.get("kind")
            name = f"`{kind.value}` " if isinstance(kind, Scalar) and isinstance(
                kind.value, str) else ""
            spec = root.get("spec")
            endpoint, why = endpoint_policy(spec) if isinstance(spec, Map) else ([], "")
            held = [f"`{path}`" for _, path in endpoint]
            routes = [f"`{path}`" for _, path in route_policies(
                spec.get("routes") if isinstance(spec, Map) else None, "spec.routes")]
            held += routes
            kind_name = kind.value if isinstance(kind, Scalar) and isinstance(kind.value, str) else ""
            place = POLICY_PLACES.get(kind_name)
            if place is not None and isinstance(root.get("policy"), Map) and not held:
                return ("policy", f"the policy of a Kubernetes {name}resource goes under {place}, "
                        "not at its top level", f"move `policy:` to {place} (Kubernetes keeps "
                        "no unknown field at a resource's top level)")
            help = (why if why and not held else
                    f"it holds {' and '.join(held)}: keep one" if len(held) > 1 and not routes else
                    f"it holds {', '.join(held)}: lint each as a document of its own" if len(held) > 1 else
                    f"write the policy under {place}, or lint the policy it names as a document of "
                    "its own" if place is not None else
                    "it holds no traffic policy: lint the `NgrokTrafficPolicy` (its `spec.policy`) "
                    "or endpoint policy it names as a document of its own")
            first = next(k for k in keys if k not in TOP_KEYS and k not in UNSUPPORTED_PHASES)
            return (first, f"this is a Kubernetes {name}resource, not a traffic policy", help)
        if len(written := written_policies(root)) != 1 and {"input", "expected"} <= set(keys):
            return (keys[0], "this is test data of ngrok's Kubernetes operator (`input`, `expected`), "
                    "not a traffic policy", f"it expects {len(written)} policies: lint each as a "
                    "document of its own" if written else "it expects no resource with an inline policy")
        if len(routed := route_policies(root.get("routes"), "routes")) > 1:
            return ("routes", f"this ngrok HTTPS Edge holds {len(routed)} route policies, not one "
                    "traffic policy", "lint each route's `policy` as a document of its own: "
                    + ", ".join(f"`{path}`" for _, path in routed))
        if "endpoints" in keys and ({"uri", "next_page_uri"} & set(keys) or any(
                isinstance(ep, Map) and isinstance(ep.get("traffic_policy"), Scalar)
                for ep in getattr(root.get("endpoints"), "items", ()))):
            return ("endpoints", "this is a list of ngrok endpoints (an API answer), not a "
                    "traffic policy", "it holds no endpoint's `traffic_policy`, or several: lint "
                    "each policy as a document of its own")
        if "tunnels" in keys and (isinstance(root.get("tunnels"), Map) or "version" in keys):
            held = [f"`{path}`" for _, path, _ in tunnel_policies(root.get("tunnels"))]
            return (keys[0], "this is an ngrok agent configuration (version 2), not a traffic policy",
                    f"it holds {', '.join(held)}: lint each as a document of its own" if held else
                    "none of its `tunnels` has a `traffic_policy`")
        if "endpoints" in keys:
            return ("endpoints", "this is an ngrok agent configuration, not a traffic policy",
                    "it holds no `endpoints[].traffic_policy`, or several: lint each as a "
                    "document of its own")
        for key in ("traffic_policy", "trafficPolicy", "policy", "inline"):
            if isinstance(root.get(key), Map):
                return (key, f"the policy is nested under `{key}`",
                        f"move the contents of `{key}` to the top level")
        uri = root.get("uri")
        if "uri" in keys and {"id", "next_page_uri"} & set(keys) and isinstance(uri, Scalar) \
                and isinstance(uri.value, str):
            what = uri.value.split("api.ngrok.com/", 1)[-1].split("?", 1)[0]
            listed = "a list of ngrok API objects" if "next_page_uri" in keys else "an ngrok API object"
            return (keys[0], f"this is {listed} (`{what[:80]}`), not a traffic policy",
                    "it holds no traffic policy (its `traffic_policy` or `policy` is empty): lint "
                    "the policy of an endpoint, or of an Edge's policy module, as a document of its own")
        return None

    # scalars ------------------------------------------------------------------------
    def string(self, node: Tree, what: str) -> Any:
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return node.value
        help = None
        if isinstance(node, Scalar) and node.value is not None:
            help = f'quote it: `"{node.text}"`'
        elif _null(node):  # an optional key's null never gets here (see _null)
            help = f"`{what}` is required: {NULL_READ}"
        self.diags.add("AIGW122", f"`{what}` must be a string, not {tree_kind(node)}", node.span,
                       help=help)
        return _BAD

    def choice(self, node: Tree, what: str, choices: tuple[str, ...]) -> Any:
        if isinstance(node, Scalar) and node.value in choices and isinstance(node.value, str):
            return node.value
        written = node.text if isinstance(node, Scalar) else None
        options = " or ".join(f"`{c}`" for c in choices)
        shown = f"`{written}`" if written else tree_kind(node)
        self.diags.add("AIGW125", f"`{what}` must be {options}, not {shown}", node.span,
                       help=choice_help(written, choices) if written else None)
        return _BAD

    # phases and rules ---------------------------------------------------------------
    def phase(self, phase: str, node: Tree) -> list[Rule]:
        if isinstance(node, Scalar) and node.value is None:
            return []
        if isinstance(node, Seq):
            rules = [self.rule(item) for item in node.items]
            return [r for r in rules if r is not None]
        self.diags.add(
            "AIGW104", f"`{phase}` must be a list of rules, not {tree_kind(node)}", node.span,
            help="start each rule with `- `, as in `- name: ...` or `- actions: ...`",
        )
        if isinstance(node, Map) and any(k in RULE_KEYS for k, _, _ in node.items):
            self.rule(node)  # for its diagnostics
        return []

    def skipped_phase(self, phase: str, node: Tree) -> None:
        """A phase whose rules are skipped is still read, as ngrok reads it, and its rules
        then dropped: its shape, keys, action types (one out of scope, as `sse-find-replace`
        on stream messages, is AIGW111) and configs are checked, and its CEL parsed, so that a misspelled key, action or expression is never
        dropped unsaid; a connection's rule that ngrok refuses (an HTTP action, a read of
        ``req.*``) is named too (:func:`~..analysis.engine_checks.check_connection_rule`). An
        action or key ngrok runs on a connection and this engine does not (AIGW111 elsewhere)
        is named as not run (:func:`~..ir.build.not_run_on_connect`)."""
        outer, self.diags = self.diags, Diagnostics()
        try:
            for rule in self.phase(phase, node):
                self.diags.extend(check_rule(rule, self.source))
                if phase == "on_tcp_connect":
                    self.diags.extend(check_connection_rule(rule))
        finally:
            found, self.diags = self.diags, outer
        self.diags.extend(not_run_on_connect(d) if phase == "on_tcp_connect" else d for d in found)

    def rule(self, node: Tree) -> Rule | None:
        if not isinstance(node, Map):
            self.diags.add("AIGW104", f"a rule must be a mapping, not {tree_kind(node)}", node.span,
                           help="a rule has `name`, `expressions` and `actions`")
            return None
        if node.get("type") is not None and node.get("actions") is None:
            return self.bare_action(node)
        fields: dict[str, Any] = {}
        actions_written = False
        before = len(self.diags)
        for key, key_span, value in node.items:
            if key in _OPTIONAL_RULE and _null(value):
                continue
            if key == "name":
                fields["name"] = self.string(value, "name")
                fields["name_span"] = value.content if isinstance(value, Scalar) else value.span
            elif key == "expressions":
                fields["expressions"] = self.expressions(value)
            elif key == "on_error":
                fields["on_error"] = self.choice(value, "on_error", ("deny", "skip"))
            elif key == "mode":
                fields["mode"] = self.choice(value, "mode", ("enforce", "shadow"))
            elif key == "actions":
                actions_written = True
                fields["actions"] = self.actions(value, key_span)
            else:
                help = did_you_mean(key, RULE_KEYS)
                self.diags.add("AIGW103", f"unknown rule key `{key}`", key_span,
                               help=help or _rule_key_help(key))
                if help == _MEANT["actions"] and node.get("actions") is None and not actions_written:
                    actions_written = True  # read as meant: its actions are checked, no "no actions"
                    self.actions(value, key_span)
        if not actions_written:
            name = fields.get("name")
            label = f"rule `{name}`" if isinstance(name, str) else "this rule"
            self.diags.add("AIGW133", f"{label} has no `actions`", node.span,
                           help="add `actions:` with at least one action, such as "
                           "`- type: deny`")
        fields = {k: v for k, v in fields.items() if v is not _BAD}
        rule = Rule(span=node.span, **fields)
        if any(d.is_error for d in self.diags.items[before:]):
            # A rule that lost a key, a condition or an action must not run, nor stand in
            # the analysis (a dropped `expresions:` would make it "always end the phase");
            # its CEL is still checked, so one error does not hide another.
            self.diags.extend(check_rule(rule, self.source))
            return None
        return rule

    def bare_action(self, node: Map) -> Rule | None:
        """An action written directly in a phase list (``- type: ai-gateway``, as ngrok's AI
        gateway docs do): a rule without a name or conditions holding that one action. The
        IR does not remember the bare form: writing the document back gives the rule."""
        action = self.action(node, bare=True)
        if action is None:
            return None
        return Rule(span=node.span, actions=(action,))

    def expr(self, item: Scalar) -> Expr:
        """The expression as written, without surrounding whitespace (a `|` block scalar
        ends with a newline that is not part of the CEL)."""
        text, span = item.text, item.content
        stripped = text.strip()
        exact = span.end - span.start == len(text) and "\n" not in text
        if stripped != text and exact:
            lead = len(text) - len(text.lstrip())
            start, end = span.start + lead, span.start + lead + len(stripped)
            span = span.replace(start=start, end=end, column=span.column + lead,
                                end_column=span.column + lead + len(stripped))
        return Expr(source=stripped, span=span)

    def shard_key(self, node: Tree) -> Any:
        """The document's ``shard_key``: one CEL expression, written as a string."""
        if isinstance(node, Scalar) and node.value is not None and not isinstance(node.value, bool):
            return self.expr(node)
        self.diags.add("AIGW122", f"`shard_key` must be a CEL expression (a string), not "
                       f"{tree_kind(node)}", node.span, help="write `shard_key: identity.org`")
        return _BAD

    def expressions(self, node: Tree) -> Any:
        if isinstance(node, Scalar) and node.value is None:
            return ()
        if not isinstance(node, Seq):
            help = None
            if isinstance(node, Scalar):
                help = "write a list: `expressions: [" + json.dumps(node.text) + "]`"
            self.diags.add("AIGW104", f"`expressions` must be a list of strings, not "
                           f"{tree_kind(node)}", node.span, help=help)
            return _BAD
        out: list[Expr] = []
        for item in node.items:
            if isinstance(item, Scalar) and item.value is not None:
                # `- true` is the CEL expression `true`: keep the text as written.
                out.append(self.expr(item))
            else:
                self.diags.add("AIGW122", f"an expression must be a string, not {tree_kind(item)}",
                               item.span, help=NULL_ITEM if _null(item) else None)
        return tuple(out)

    # actions ------------------------------------------------------------------------
    def actions(self, node: Tree, key_span: Span) -> Any:
        items: list[Tree]
        if isinstance(node, Seq):
            items = node.items
        elif isinstance(node, Map):
            self.diags.add("AIGW104", "`actions` must be a list of actions, not a mapping",
                           node.span, help="start each action with `- `, as in `- type: deny`")
            items = [node] if node.get("type") is not None else []
        elif isinstance(node, Scalar) and node.value is None:
            items = []
        else:
            self.diags.add("AIGW104", f"`actions` must be a list of actions, not {tree_kind(node)}",
                           node.span, help="write `actions:` then `- type: ...` items")
            return ()
        if not items:
            if isinstance(node, (Seq, Scalar)):
                self.diags.add("AIGW133", "a rule needs at least one action", key_span,
                               help="add an action such as `- type: deny`")
            return ()
        built = [self.action(item) for item in items]
        return tuple(a for a in built if a is not None)

    def action(self, node: Tree, *, bare: bool = False) -> Action | None:
        if not isinstance(node, Map):
            self.diags.add("AIGW104", f"an action must be a mapping, not {tree_kind(node)}",
                           node.span, help="an action is `type:` and `config:`")
            return None
        type_node = node.get("type") or _meant(node, "type", ACTION_KEYS)
        config_node = node.get("config") or _meant(node, "config", ACTION_KEYS)
        type_name = None
        if type_node is None:
            self.diags.add("AIGW112", "action without a `type`", node.span,
                           help="add `type:` with an action type, such as `deny`")
        else:
            type_name = self.string(type_node, "type")
        model = ACTIONS.get(type_name) if isinstance(type_name, str) else None
        for key, key_span, _ in node.items:
            if key in ACTION_KEYS:
                continue
            help = did_you_mean(key, ACTION_KEYS)
            if model is not None and key in model.model_fields:
                help = f"`{key}` is a config key: move it under `config:`"
            elif bare and key in RULE_KEYS:
                help = ("an action written directly in a phase list is a rule of its own with "
                        "no name or conditions: to give it some, write `- name: ...`, "
                        "`expressions: [...]` and `actions: [{type: ..., config: ...}]`")
            self.diags.add("AIGW113", f"unknown action key `{key}`", key_span,
                           help=help or "an action has `type` and `config`")
        if not isinstance(type_name, str):
            return None
        config: RawValue | None = None
        if config_node is not None and not (isinstance(config_node, Scalar)
                                            and config_node.value is None):
            config = _config(config_node, model)
        type_span = type_node.content if isinstance(type_node, Scalar) else None
        return build_action(type_name, config, self.diags, span=node.span, type_span=type_span)


_MEANT = {k: f"did you mean `{k}`?" for k in (*RULE_KEYS, *ACTION_KEYS)}


_OPTIONAL_TOP = frozenset(("name", *SETTINGS, "shard_key", *PHASES, *DEPRECATED_PHASES))
_OPTIONAL_RULE = frozenset(("name", "expressions", "on_error", "mode"))


def _null(node: Tree) -> bool:
    """Whether ``node`` is a null (``~``, ``null``, nothing after the colon). A null as the value
    of an optional key is read as the key not written, as Go's decoder (ngrok's reader) leaves a
    field at its zero value; inside an action's config the optional fields likewise
    (:mod:`..ir.build`). A required key, an item of a list or a value of a map refuses it."""
    return isinstance(node, Scalar) and node.value is None


def _meant(node: Map, key: str, keys: tuple[str, ...]) -> Tree | None:
    """The value of a misspelling of ``key`` (``confg`` for ``config``) when ``key`` itself is
    not written: read as meant, after the misspelling's own diagnostic, so that a misspelled
    key is one mistake and not also a missing one."""
    for k, _, value in node.items:
        if k not in keys and did_you_mean(k, keys) == _MEANT[key]:
            return value
    return None


def _rule_key_help(key: str) -> str:
    if key == "type" or key == "config":
        return "put actions in a list under `actions:`"
    return "a rule has `name`, `expressions`, `actions`, `on_error` and `mode`"


def _raw(tree: Tree, *, cel: bool = False) -> RawValue:
    """A raw tree. Scalars span their whole text, quotes included, except CEL source
    (``cel``), whose span is the expression text itself, as for rule expressions."""
    if isinstance(tree, Scalar):
        return RawScalar(tree.value, tree.content if cel else tree.span)
    if isinstance(tree, Seq):
        return RawList(tuple(_raw(item, cel=cel) for item in tree.items), tree.span)
    return RawMap(
        tuple((k, ks, _raw(v, cel=cel)) for k, ks, v in tree.items),
        tree.span,
        key_spans={k: ks for k, ks, _ in tree.items},
    )


def _config(tree: Tree, model: type[BaseModel] | None) -> RawValue:
    """A config as a raw tree; the CEL fields of ``model`` and of its parts, at any depth,
    span their expression text (see :func:`_raw`)."""
    if not isinstance(tree, Map) or model is None:
        return _raw(tree)
    items: list[tuple[str, Span, RawValue]] = []
    for k, ks, v in tree.items:
        nested = part_of(model, k) if k in model.model_fields else None
        if nested is not None:
            part, is_list = nested
            if is_list and isinstance(v, Seq):
                items.append((k, ks, RawList(tuple(_config(i, part) for i in v.items), v.span)))
            else:
                items.append((k, ks, _config(v, part)))
        else:
            cel = k in model.model_fields and field_kind(model, k) in ("cel", "cel_list")
            items.append((k, ks, _raw(v, cel=cel)))
    return RawMap(tuple(items), tree.span, key_spans={k: ks for k, ks, _ in tree.items})


def _read(source: Source, diags: Diagnostics, *, json_mode: bool) -> Policy | None:
    return read_tree(source, compose(source, diags, json_mode=json_mode), diags)


def read_tree(source: Source, tree: Tree | None, diags: Diagnostics) -> Policy | None:
    """Read a document composed already (``yaml_tree.compose``'s tree, its diagnostics in
    ``diags``): as :func:`read_yaml` and :func:`read_json` read the tree they compose."""
    if tree is None:
        return None
    return _Reader(diags, source).policy(tree)


def read_yaml(source: Source, diags: Diagnostics) -> Policy | None:
    """Read a YAML policy document, adding every problem found to ``diags``.

    Never raises. Returns ``None`` when the text is not a readable mapping (syntax errors,
    an empty document, input too large); otherwise a policy holding everything that could be
    built. Rules or actions with errors are left out of it, so use it only when
    ``diags.has_errors`` is false (it is returned anyway so later passes can report more).
    """
    return _read(source, diags, json_mode=False)


def read_json(source: Source, diags: Diagnostics) -> Policy | None:
    """Read a JSON policy document: like :func:`read_yaml`, with JSON syntax (AIGW011)."""
    return _read(source, diags, json_mode=True)


# writing lives in yaml_dump; re-exported so the form has one entry point
from .yaml_dump import dump_data, dump_json, dump_yaml  # noqa: E402
