"""The keys file (SPEC §11): gateway API keys -> identities, and the credentials sent to
each upstream provider.

```yaml
keys:
  - key: sk-gw-research-1                 # or `sha256: <hex of the key>`
    identity: {key: k1, user: alice, team: research, org: acme}
upstream_auth:                            # per provider: only the header its API reads
  openai: {authorization: "Bearer ${env.OPENAI_API_KEY}"}
  anthropic: {x-api-key: "${env.ANTHROPIC_API_KEY}"}
  gemini: {x-goog-api-key: "${env.GEMINI_API_KEY}"}
admin_keys: [k1]                          # identity.key values that may read GET /v1/aigw/usage
```

Keys are held only as SHA-256 digests. A malformed file raises :class:`KeysError`, which
carries every problem found as a coded :class:`~aigw_policy.diagnostics.Diagnostic`
(``AIGW6xx``) with its ``file:line:column``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import yaml

from ..diagnostics import Diagnostic, did_you_mean
from ..files import read_input
from ..routing.secrets import header_safe
from ..source import Source
from .scrub import MIN_SECRET

__all__ = ["CREDENTIAL_HEADERS", "PROVIDER_CREDENTIALS", "KeyRing", "KeysError", "key_from", "load_keys",
           "parse_keys", "valid_identity"]

#: Headers that carry a credential in some provider's API; never forwarded upstream when
#: the gateway authenticates clients (``api-key`` is Azure OpenAI's).
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
#: The credential headers each provider's API reads (``upstream_auth.<provider>``).
PROVIDER_CREDENTIALS: Mapping[str, tuple[str, ...]] = {
    "openai": ("authorization", "api-key"), "anthropic": ("x-api-key",), "gemini": ("x-goog-api-key",)}
IDENTITY_FIELDS = ("key", "user", "team", "org", "tier")
_ENV = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")
_TOP = ("keys", "upstream_auth", "admin_keys")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_PARTS = re.compile(r"[;,=&:@#]")  # (`#`: h11 keeps a fragment in the path, serve30)
_WORDS = re.compile(r"[^\s`'\"<>()\[\]{}]{%d,}" % MIN_SECRET)
"""A word of a text :meth:`KeyRing.masked_text` looks keys up in: a run without white space,
quotes or brackets, of a key's length at least."""
_CLEAN_TEXTS = 4096
LEDGER_MADE = frozenset(("request_id", "time", "key", "user", "team", "org", "provider", "operation",
                         "aigw_operation", "usage_source", "cost_source", "verdict", "route_key_id"))
"""A ledger record's text fields the gateway makes (ids, its clock, the keys file's identity,
bounded words): :meth:`KeyRing.masked_record` masks every other."""
_EXAMPLE = "upstream_auth: {openai: {authorization: \"Bearer ...\"}, anthropic: {x-api-key: ...}}"


class KeysError(ValueError):
    """A keys file that cannot be used. ``diagnostics``: every problem, coded and located;
    ``str()`` is one ``file:line:col: message [code]`` line per problem."""

    def __init__(self, diagnostics: Sequence[Diagnostic], name: str) -> None:
        self.diagnostics = list(diagnostics)
        self.name = name
        super().__init__("\n".join(_line(d, name) for d in self.diagnostics))


def _line(d: Diagnostic, name: str) -> str:
    where = str(d.span) if d.span is not None else name
    return f"{where}: {d.message} [{d.code}]" + (f" ({d.help})" if d.help else "")


@dataclass(frozen=True)
class KeyRing:
    """Key digests -> identity objects (``identity.*`` of the CEL environment), and per
    provider (``openai``, ``anthropic``, ``gemini``) the headers the gateway sends upstream
    in place of the client's credentials."""

    identities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    upstream_auth: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    admin_keys: frozenset[str] = frozenset()
    """``identity.key`` values that may read everyone's usage (``GET /v1/aigw/usage``)."""
    _clean: dict[str, None] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Texts :meth:`masked_text` found no key in, remembered (:data:`_CLEAN_TEXTS` at most, then
    forgotten at once): a line's model names and reasons repeat, and each word's lookup hashes.
    A text holding a key is never kept (the ring holds keys as digests only)."""

    def is_admin(self, identity: Mapping[str, Any]) -> bool:
        return identity.get("key") in self.admin_keys

    def lookup(self, secret: str | None) -> Mapping[str, Any] | None:
        if not secret:
            return None
        return self.identities.get(hashlib.sha256(secret.encode("utf-8")).hexdigest())

    def __len__(self) -> int:
        return len(self.identities)

    def masked(self, path: str) -> str:
        """``path`` with every key of this ring in it as ``***``: a segment, or a part of one
        between ``;`` ``,`` ``=`` ``&`` ``:`` ``@`` ``#`` (matrix and query-like spellings, a
        fragment), as it is or percent-decoded. Keys are held as digests only, so each such part of
        :data:`~.scrub.MIN_SECRET` characters or more is hashed (one for
        ``/v1/chat/completions``, ~0.5 us). The decision log says paths through it (serve24):
        a key pasted into a base URL reached the log whenever the request was refused before
        its own key was looked at.

        >>> ring = KeyRing({hashlib.sha256(b"sk-abcdefgh").hexdigest(): {"key": "k"}})
        >>> ring.masked("/v1/sk-abcdefgh/chat;k=sk-abcdefgh"), ring.masked("/v1/%73k-abcdefgh/x")
        ('/v1/***/chat;k=***', '/v1/***/x')
        >>> ring.masked("/v1/chat/completions")
        '/v1/chat/completions'
        """
        if not self.identities:
            return path
        segments = path.split("/")
        changed = False
        for i, segment in enumerate(segments):
            if len(segment) < MIN_SECRET:
                continue
            parts = [segment, *_PARTS.split(segment)] if _PARTS.search(segment) else [segment]
            found = [part for part in parts if len(part) >= MIN_SECRET and self._held(part)]
            if found:
                for part in found:
                    segment = segment.replace(part, "***")
                segments[i] = segment
                changed = True
        return "/".join(segments) if changed else path

    def masked_text(self, text: str) -> str:
        """``text`` that quotes what a client wrote (a model name, a refusal's reason, a policy's
        message interpolating the request) with every key of this ring in it as ``***``: each
        word (:data:`_WORDS`) as :meth:`masked` reads a path (serve27: a key sent as the model,
        ``"model": "sk-..."`` or ``?model=sk-...``, reached the decision log and the ledger).

        >>> ring = KeyRing({hashlib.sha256(b"sk-abcdefgh").hexdigest(): {"key": "k"}})
        >>> ring.masked_text("model `sk-abcdefgh` is denied"), ring.masked_text("sk-abcdefgh")
        ('model `***` is denied', '***')
        """
        if not self.identities or len(text) < MIN_SECRET or text in (clean := self._clean):
            return text
        masked = _WORDS.sub(lambda m: self.masked(m.group()), text)
        if masked == text:
            if len(clean) >= _CLEAN_TEXTS:
                clean.clear()
            clean[text] = None
        return masked

    def masked_record(self, record: Any) -> Any:
        """A ledger record (:class:`~aigw_policy.ledger.UsageRecord`) with :meth:`masked_text`
        applied to every text field but those the gateway makes (:data:`LEDGER_MADE`): the
        requested and the answered model, a refusal's reason, a shadow rule's ``would_deny`` and
        the ``limits`` (their keys), as JSON text (serve28: a list of two missed three)."""
        import dataclasses

        changes = {}
        for f in dataclasses.fields(record):
            if f.name not in LEDGER_MADE and isinstance(value := getattr(record, f.name), str) \
                    and (masked := self.masked_text(value)) != value:
                changes[f.name] = masked
        return dataclasses.replace(record, **changes) if changes else record

    def _held(self, text: str) -> bool:
        if self.lookup(text) is not None:
            return True
        return "%" in text and (plain := unquote(text, errors="replace")) != text and self.lookup(plain) is not None


def key_from(headers: Mapping[str, str], query: bytes | str = b"") -> str | None:
    """The client's key: ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``, ``api-key``
    (Azure OpenAI's SDK) or ``?key=``."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
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
    """Read a keys file (YAML or JSON); :class:`KeysError` with every problem when malformed."""
    name = os.fspath(path)
    try:
        data = read_input(name)
        text = data.decode("utf-8-sig")
    except OSError as error:
        raise KeysError([Diagnostic.make("AIGW600", f"cannot read the keys file: {error.strerror or error}")],
                        name) from None
    except UnicodeDecodeError as error:
        raise KeysError([Diagnostic.make("AIGW600", f"the keys file is not UTF-8 text (byte {error.start})")],
                        name) from None
    return parse_keys(text, name=name, env=os.environ if env is None else env)


def parse_keys(text: str, *, name: str = "<keys>", env: Mapping[str, str] | None = None) -> KeyRing:
    """Parse a keys file's text; :class:`KeysError` with every problem found."""
    return _Reader(text, name, os.environ if env is None else env).read()


class _Reader:
    """One pass over a keys file that keeps going after a problem, to report them all."""

    def __init__(self, text: str, name: str, env: Mapping[str, str]) -> None:
        self.source = Source(text, name)
        self.name = name
        self.env = env
        self.problems: list[Diagnostic] = []

    def problem(self, node: yaml.Node | None, code: str, message: str, help: str | None = None) -> None:
        span = self.source.span(node.start_mark.index, node.end_mark.index) if node is not None else None
        self.problems.append(Diagnostic.make(code, message, span, help))

    def read(self) -> KeyRing:
        try:
            return self._read()
        except RecursionError:  # composing or walking a document nested thousands deep
            raise KeysError([Diagnostic.make("AIGW600", "the keys file is nested too deeply to read",
                                             self.source.span(0))], self.name) from None

    def _read(self) -> KeyRing:
        try:
            root = yaml.compose(self.source.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            span = self.source.span(mark.index) if mark is not None else None
            raise KeysError([Diagnostic.make("AIGW600", f"not valid YAML: {error.problem or error}", span)],
                            self.name) from None
        except yaml.YAMLError as error:
            raise KeysError([Diagnostic.make("AIGW600", f"not valid YAML: {error}")], self.name) from None
        if root is None:
            raise KeysError([Diagnostic.make("AIGW600", "the keys file is empty: it needs `keys: [...]`",
                                             self.source.span(0))], self.name)
        identities: dict[str, dict[str, Any]] = {}
        upstream: dict[str, dict[str, str]] = {}
        admins: frozenset[str] = frozenset()
        top = self.mapping(root, "the keys file")
        if top is not None:
            for k, (knode, _) in top.items():
                if k not in _TOP:
                    self.problem(knode, "AIGW601", f"unknown field `{k}` (the keys file has `keys`, "
                                 "`upstream_auth` and `admin_keys`)", did_you_mean(k, _TOP))
            if "keys" not in top:
                self.problem(root, "AIGW602", "`keys` is missing: a list of `{key | sha256, identity}`")
            elif not isinstance(top["keys"][1], yaml.SequenceNode):
                self.problem(top["keys"][1], "AIGW602", "`keys` must be a list of `{key | sha256, identity}`")
            else:
                for i, item in enumerate(top["keys"][1].value):
                    self.entry(i, item, identities)
            if "upstream_auth" in top:
                upstream = self.upstream_auth(top["upstream_auth"][1])
            if "admin_keys" in top:
                admins = self.admin_keys(top["admin_keys"][1], identities)
        if self.problems:
            raise KeysError(self.problems, self.name)
        return KeyRing(identities, upstream, admins)

    def admin_keys(self, node: yaml.Node, identities: dict[str, dict[str, Any]]) -> frozenset[str]:
        """``admin_keys: [k1, ...]``: each an ``identity.key`` of some entry of ``keys``."""
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "AIGW608", "`admin_keys` must be a list of `identity.key` values (`[k1, k2]`)")
            return frozenset()
        known = {str(i["key"]) for i in identities.values() if i.get("key") is not None}
        out: set[str] = set()
        for item in node.value:
            name = self.string(item, "admin_keys[]")
            if name is None:
                continue
            if name not in known:
                self.problem(item, "AIGW608", f"admin key `{name}` is the `identity.key` of no entry in `keys`",
                             did_you_mean(name, sorted(known)))
            out.add(name)
        return frozenset(out)

    # -- shapes ------------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "AIGW602", f"{what} must be a mapping")
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.problem(k, "AIGW602", f"keys of {what} must be strings")
            elif k.value in out:
                self.problem(k, "AIGW603", f"`{k.value}` is given twice in {what}")
            else:
                out[k.value] = (k, v)
        return out

    def string(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value:
            self.problem(node, "AIGW602", f"{what} must be a non-empty string")
            return None
        return str(node.value)

    # -- keys ------------------------------------------------------------------------------

    def entry(self, i: int, item: yaml.Node, identities: dict[str, dict[str, Any]]) -> None:
        where = f"keys[{i}]"
        entry = self.mapping(item, where)
        if entry is None:
            return
        for k, (knode, _) in entry.items():
            if k not in ("key", "sha256", "identity"):
                self.problem(knode, "AIGW601", f"unknown field `{k}` in {where} (fields: `key` or `sha256`, "
                             "`identity`)", did_you_mean(k, ("key", "sha256", "identity")))
        digest: str | None = None
        dnode: yaml.Node | None = None
        if ("key" in entry) == ("sha256" in entry):
            self.problem(item, "AIGW602", f"{where} needs exactly one of `key` and `sha256`")
        elif "key" in entry:
            dnode = entry["key"][1]
            secret = self.string(dnode, f"{where}.key")
            digest = hashlib.sha256(secret.encode("utf-8")).hexdigest() if secret else None
        else:
            dnode = entry["sha256"][1]
            value = self.string(dnode, f"{where}.sha256")
            if value is not None and not _HEX.match(value.lower()):
                self.problem(dnode, "AIGW603", f"{where}.sha256 must be 64 hex digits (`sha256sum` of the key)")
            elif value is not None:
                digest = value.lower()
        if digest is not None and digest in identities:
            self.problem(dnode, "AIGW603", f"{where}: the same key is listed twice")
            digest = None
        if "identity" not in entry:
            self.problem(item, "AIGW602", f"{where} needs an `identity` (e.g. `{{key: k1, team: research}}`)")
            return
        ident: dict[str, Any] = {}
        fields = self.mapping(entry["identity"][1], f"{where}.identity") or {}
        for k, (knode, vnode) in fields.items():
            if k in IDENTITY_FIELDS:
                value = self.string(vnode, f"{where}.identity.{k}")
                if value is not None:
                    ident[k] = value
            elif k == "labels":
                labels = self.mapping(vnode, f"{where}.identity.labels") or {}
                ident["labels"] = {lk: self.string(lv, f"{where}.identity.labels.{lk}")
                                   for lk, (_, lv) in labels.items()}
            else:
                known = ", ".join(f"`{f}`" for f in (*IDENTITY_FIELDS, "labels"))
                self.problem(knode, "AIGW601", f"unknown identity field `{k}` (fields: {known})",
                             did_you_mean(k, (*IDENTITY_FIELDS, "labels")))
        if digest is not None:
            identities[digest] = ident

    # -- upstream_auth -----------------------------------------------------------------------

    def upstream_auth(self, node: yaml.Node) -> dict[str, dict[str, str]]:
        """``{provider: {header: value}}``; the old flat ``{header: value}`` is read as the
        one provider whose credential header it names (several: ambiguous, an error)."""
        top = self.mapping(node, "`upstream_auth`")
        if not top:
            return {}
        nested = [k for k, (_, v) in top.items() if isinstance(v, yaml.MappingNode)]
        if not nested:  # the old shape: headers for every upstream
            owners = {_OWNER[k.lower()] for k in top if k.lower() in _OWNER}
            if len(owners) > 1:
                names = ", ".join(f"`{k}`" for k in top if k.lower() in _OWNER)
                self.problem(node, "AIGW605", f"`upstream_auth` gives the credentials of several providers "
                             f"({names}) in one mapping, so every upstream would receive all of them",
                             f"give each provider its own: {_EXAMPLE}")
                return {}
            provider = owners.pop() if owners else "openai"
            headers = self.headers(provider, top, "upstream_auth")
            return {provider: headers} if headers else {}
        out: dict[str, dict[str, str]] = {}
        for k, (knode, vnode) in top.items():
            if k not in PROVIDER_CREDENTIALS:
                self.problem(knode, "AIGW601", f"unknown provider `{k}` in `upstream_auth` (one of: "
                             f"{', '.join(f'`{p}`' for p in PROVIDER_CREDENTIALS)})",
                             did_you_mean(k, PROVIDER_CREDENTIALS) or f"the shape is {_EXAMPLE}")
                continue
            fields = self.mapping(vnode, f"upstream_auth.{k}")
            if fields is not None:
                out[k] = self.headers(k, fields, f"upstream_auth.{k}")
        return out

    def headers(self, provider: str, fields: dict[str, tuple[yaml.Node, yaml.Node]], where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        own = PROVIDER_CREDENTIALS[provider]
        for k, (knode, vnode) in fields.items():
            header = k.lower()
            if header in CREDENTIAL_HEADERS and header not in own:
                self.problem(knode, "AIGW605", f"{provider}'s API does not read `{k}`: it would only leak the "
                             f"credential ({provider} reads {' or '.join(f'`{h}`' for h in own)})")
                continue
            value = self.string(vnode, f"{where}.{k}")
            if value is None:
                continue
            missing = [m for m in _ENV.findall(value) if m not in self.env]
            for m in missing:
                self.problem(vnode, "AIGW604", f"environment variable `{m}` is not set ({where}.{k})")
            if missing:
                continue
            # a header value has no surrounding whitespace (a Secret made from a file keeps its
            # newline); one that cannot be sent at all would fail every request: refused now
            sent = _ENV.sub(lambda m: self.env[m.group(1)].strip(" \t\r\n"), value).strip(" \t\r\n")
            if not _TOKEN.fullmatch(header):
                self.problem(knode, "AIGW609", f"`{k}` is no HTTP header name ({where})")
            elif not header_safe(sent):
                names = ", ".join(f"`${{env.{m}}}`" for m in _ENV.findall(value))
                self.problem(vnode, "AIGW609", f"the value of {where}.{k} has a character no HTTP header can carry "
                             "(a line break, another control character, or one beyond Latin-1)"
                             + (f"; it comes from {names}" if names else ""))
            else:
                out[header] = sent
        return out


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OWNER = {header: provider for provider, headers in PROVIDER_CREDENTIALS.items() for header in headers}


def valid_identity(given: object) -> dict[str, Any]:
    """An identity hook's result as the engine takes it (SPEC §5), or ValueError naming the
    fields that are wrong (never their values: they may be anything)."""
    from pydantic import ValidationError

    from ..env.request import Identity

    if not isinstance(given, Mapping):
        raise ValueError(f"the identity hook returned a {type(given).__name__}, not an identity mapping "
                         "(or None for 401)")
    try:
        identity = Identity.model_validate(dict(given))
    except ValidationError as error:
        problems = "; ".join(f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in error.errors()[:5])
        raise ValueError(f"the identity hook returned a bad identity ({problems}); an identity has `key`, "
                         "`user`, `team`, `org`, `tier` (strings) and `labels` (strings by string)") from None
    return identity.model_dump(exclude_none=True)
