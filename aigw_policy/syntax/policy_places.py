"""Where the documents that wrap a traffic policy hold it, as ngrok's tools read them: a
Kubernetes endpoint's `spec.trafficPolicy` (as ngrok's operator chooses among `inline`, the
deprecated `policy` and a `targetRef`), the endpoint's `url`, an HTTPS Edge's routes, the
operator's translator test data, an agent configuration's (version 2) tunnels."""

from __future__ import annotations

from .yaml_tree import Map, Scalar, Seq, Tree


def endpoint_policy(spec: Map) -> tuple[list[tuple[Map, str]], str]:
    """The inline policy of a CloudEndpoint's or AgentEndpoint's `spec.trafficPolicy`, chosen as
    ngrok's operator chooses it (`ToTrafficPolicyCfg`): `inline`, else the deprecated `policy`;
    none beside a `targetRef` (the named resource runs; Kubernetes refuses `inline` with one).
    With it, what is set beside it and not run ("" when nothing is), or why none is read."""
    holder = spec.get("trafficPolicy")
    if not isinstance(holder, Map):
        return [], ""
    inline, ref, old = holder.get("inline"), holder.get("targetRef"), holder.get("policy")
    if ref is not None and inline is not None:
        return [], ("Kubernetes refuses it: `spec.trafficPolicy.inline` and `.targetRef` cannot both be "
                    "set (the CRD's rule); keep one")
    if ref is not None:
        return [], ("it names its policy with `spec.trafficPolicy.targetRef`, which ngrok's operator "
                    "attaches (ignoring `.policy` beside it): lint that `NgrokTrafficPolicy`'s `spec.policy`"
                    if old is not None else "")
    if inline is not None:
        return ([(inline, "spec.trafficPolicy.inline")] if isinstance(inline, Map) else [],
                "; `spec.trafficPolicy.policy` beside it is ignored, as ngrok's operator ignores it"
                if old is not None else "")
    return ([(old, "spec.trafficPolicy.policy")] if isinstance(old, Map) else []), ""


def connect_only(url: str) -> bool:
    """Whether an endpoint of this `url` is a TCP or TLS one, whose policy has no HTTP phase
    (ngrok: ERR_NGROK_2230)."""
    return url.lower().startswith(("tcp://", "tls://"))


def held_url(root: Map, path: str) -> str:
    """The `url` of the endpoint whose policy is at `path` (an agent configuration's
    `endpoints[i]`, a Kubernetes endpoint's `spec`, an endpoint definition's top level), "" when
    there is none."""
    parts = path.split(".")
    holder: Tree | None = root.get("spec") if parts[0] == "spec" else root if len(parts) == 1 else None
    endpoints = root.get("endpoints") if parts[0] == "endpoints" else None
    if isinstance(endpoints, Seq) and parts[1].isdigit() and int(parts[1]) < len(endpoints.items):
        holder = endpoints.items[int(parts[1])]
    url = holder.get("url") if isinstance(holder, Map) else None
    return url.value.lower() if isinstance(url, Scalar) and isinstance(url.value, str) else ""


def route_policies(routes: Tree | None, path: str) -> list[tuple[Map, str]]:
    """The policies of an HTTPS Edge's routes (`routes[i].policy`: the ingress controller's
    `HTTPSEdge` resource, 2023-2024, and ngrok's Edge API objects), with their paths."""
    if not isinstance(routes, Seq):
        return []
    return [(node, f"{path}.{i}.policy") for i, route in enumerate(routes.items)
            if isinstance(route, Map) and isinstance(node := route.get("policy"), Map)]


def written_policies(root: Map) -> list[tuple[Map, str]]:
    """The inline policies of the resources ngrok's operator is expected to write, in its
    translator's test data (`input`: the Kubernetes resources; `expected`: lists of
    `CloudEndpoint`s and `AgentEndpoint`s), with their paths."""
    expected = root.get("expected")
    if root.get("input") is None or not isinstance(expected, Map):
        return []
    found = []
    for kind, _, resources in expected.items:
        for i, resource in enumerate(resources.items if isinstance(resources, Seq) else ()):
            spec = resource.get("spec") if isinstance(resource, Map) else None
            for node, path in endpoint_policy(spec)[0] if isinstance(spec, Map) else ():
                found.append((node, f"expected.{kind}.{i}.{path}"))
    return found


def tunnel_policies(tunnels: Tree | None) -> list[tuple[Map, str, str]]:
    """The policies of an ngrok agent configuration's (version 2) tunnels: `tunnels.NAME.
    traffic_policy` (2024), or `.policy` (its name in 2023), each with its path and what holds
    it (a `tcp` or `tls` tunnel's `inbound` rules ran on each connection)."""
    if not isinstance(tunnels, Map):
        return []
    found = []
    for name, _, tunnel in tunnels.items:
        if not isinstance(tunnel, Map):
            continue
        proto = tunnel.get("proto")
        kind = proto.value if isinstance(proto, Scalar) and proto.value in ("http", "tcp", "tls") else "http"
        for key in ("traffic_policy", "policy"):
            if isinstance(node := tunnel.get(key), Map):
                found.append((node, f"tunnels.{name}.{key}",
                              f"an ngrok agent configuration (version 2), its `{kind}` tunnel `{name}`"))
    return found
