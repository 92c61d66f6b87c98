"""The keys file (SPEC §11): gateway API keys -> identities, and what to send upstream.

```yaml
keys:
  - key: sk-gw-research-1                 # or `sha256: <hex of the key>`
    identity: {key: k1, user: alice, team: research, org: acme}
upstream_auth:
  authorization: "Bearer ${env.OPENAI_API_KEY}"
```

Keys are held only as SHA-256 digests. A malformed file raises :class:`KeysError` whose
message starts with ``file:line:column``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import yaml

__all__ = ["CREDENTIAL_HEADERS", "KeyRing", "KeysError", "key_from", "load_keys", "parse_keys"]

CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
IDENTITY_FIELDS = ("key", "user", "team", "org", "tier")
_ENV = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class KeysError(ValueError):
    """A keys file that cannot be used; ``str()`` is ``file:line:col: message``."""

    def __init__(self, name: str, line: int | None, column: int | None, message: str) -> None:
        self.name, self.line, self.column, self.message = name, line, column, message
        where = name if line is None else f"{name}:{line}:{column}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class KeyRing:
    """Key digests -> identity objects (``identity.*`` of the CEL environment), and the
    headers the gateway sends upstream in place of the client's credentials."""

    identities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    upstream_auth: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, secret: str | None) -> Mapping[str, Any] | None:
        if not secret:
            return None
        return self.identities.get(hashlib.sha256(secret.encode("utf-8")).hexdigest())

    def __len__(self) -> int:
        return len(self.identities)


def key_from(headers: Mapping[str, str], query: bytes | str = b"") -> str | None:
    """The client's key: ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key`` or ``?key=``."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    for name in ("x-api-key", "x-goog-api-key"):
        value = headers.get(name, "").strip()
        if value:
            return value
    if query:
        text = query.decode("latin-1") if isinstance(query, bytes) else query
        for k, v in parse_qsl(text, keep_blank_values=False):
            if k == "key" and v:
                return v
    return None


def load_keys(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> KeyRing:
    """Read a keys file (YAML or JSON); :class:`KeysError` with a location when malformed."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read()
        text = data.decode("utf-8-sig")
    except OSError as error:
        raise KeysError(name, None, None, f"cannot read the keys file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise KeysError(name, None, None, f"the keys file is not UTF-8 text (byte {error.start})") from None
    return parse_keys(text, name=name, env=os.environ if env is None else env)


def parse_keys(text: str, *, name: str = "<keys>", env: Mapping[str, str] | None = None) -> KeyRing:
    env = os.environ if env is None else env
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise KeysError(name, line, col, f"not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise KeysError(name, None, None, f"not valid YAML: {error}") from None

    def fail(node: yaml.Node, message: str) -> KeysError:
        return KeysError(name, node.start_mark.line + 1, node.start_mark.column + 1, message)

    def mapping(node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise fail(k, f"keys of {what} must be strings")
            if k.value in out:
                raise fail(k, f"`{k.value}` is given twice in {what}")
            out[k.value] = (k, v)
        return out

    def string(node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value:
            raise fail(node, f"{what} must be a non-empty string")
        return str(node.value)

    if root is None:
        raise KeysError(name, 1, 1, "the keys file is empty: it needs `keys: [...]`")
    top = mapping(root, "the keys file")
    for k, (knode, _) in top.items():
        if k not in ("keys", "upstream_auth"):
            raise fail(knode, f"unknown field `{k}` (the keys file has `keys` and `upstream_auth`)")
    if "keys" not in top:
        raise fail(root, "`keys` is missing: a list of `{key | sha256, identity}`")
    seq = top["keys"][1]
    if not isinstance(seq, yaml.SequenceNode):
        raise fail(seq, "`keys` must be a list of `{key | sha256, identity}`")

    identities: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(seq.value):
        where = f"keys[{i}]"
        entry = mapping(item, where)
        for k, (knode, _) in entry.items():
            if k not in ("key", "sha256", "identity"):
                raise fail(knode, f"unknown field `{k}` in {where} (fields: `key` or `sha256`, `identity`)")
        if ("key" in entry) == ("sha256" in entry):
            raise fail(item, f"{where} needs exactly one of `key` and `sha256`")
        if "key" in entry:
            digest = hashlib.sha256(string(entry["key"][1], f"{where}.key").encode("utf-8")).hexdigest()
            dnode = entry["key"][1]
        else:
            dnode = entry["sha256"][1]
            digest = string(dnode, f"{where}.sha256").lower()
            if not _HEX.match(digest):
                raise fail(dnode, f"{where}.sha256 must be 64 hex digits (`sha256sum` of the key)")
        if digest in identities:
            raise fail(dnode, f"{where}: the same key is listed twice")
        if "identity" not in entry:
            raise fail(item, f"{where} needs an `identity` (e.g. `{{key: k1, team: research}}`)")
        ident: dict[str, Any] = {}
        for k, (knode, vnode) in mapping(entry["identity"][1], f"{where}.identity").items():
            if k in IDENTITY_FIELDS:
                ident[k] = string(vnode, f"{where}.identity.{k}")
            elif k == "labels":
                ident["labels"] = {lk: string(lv, f"{where}.identity.labels.{lk}")
                                   for lk, (_, lv) in mapping(vnode, f"{where}.identity.labels").items()}
            else:
                known = ", ".join(f"`{f}`" for f in (*IDENTITY_FIELDS, "labels"))
                raise fail(knode, f"unknown identity field `{k}` (fields: {known})")
        identities[digest] = ident

    upstream: dict[str, str] = {}
    if "upstream_auth" in top:
        for k, (knode, vnode) in mapping(top["upstream_auth"][1], "`upstream_auth`").items():
            value = string(vnode, f"upstream_auth.{k}")
            missing = [m for m in _ENV.findall(value) if m not in env]
            if missing:
                raise fail(vnode, f"environment variable `{missing[0]}` is not set (upstream_auth.{k})")
            upstream[k.lower()] = _ENV.sub(lambda m: env[m.group(1)], value)
    return KeyRing(identities, upstream)
