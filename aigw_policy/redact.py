"""Secrets out of messages: the one place that knows where a URL keeps its password.

Every message, log line, banner and error that names a store or ledger URL goes through
:func:`redact`; text that may quote a URL's secret (a driver's error) through :func:`scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["account_ids", "redact", "scrub", "url_secrets"]

_ACCOUNT = (r"\b(org-|proj_)[A-Za-z0-9]{16,}|\b(project_number:|projects/)[0-9]{4,}"
            r"|\b(sk-)[A-Za-z0-9_-]*\*{4,}[A-Za-z0-9_-]*")  # a key shown masked: its first and last characters
_ACCOUNT_TEXT = re.compile(_ACCOUNT)
_ACCOUNT_BYTES = re.compile(_ACCOUNT.encode())


def account_ids(text: str | bytes) -> str | bytes:
    """``text`` without the ids of a provider account that a provider's error message quotes:
    OpenAI's organization and project (``org-...``, ``proj_...``: "Rate limit reached for
    gpt-4o in organization org-..."), Google's project number ("consumer
    'project_number:123...'") and the credential as OpenAI shows it masked ("Incorrect API key
    provided: sk-proj-AbC1*****wxyz": its first and last characters); the kind stays, the id
    is ``***``.

    >>> account_ids("Incorrect API key provided: sk-proj-AbC1**************wxyZ. You can find")
    'Incorrect API key provided: sk-***. You can find'

    >>> account_ids("Rate limit reached in organization org-AbCdEfGhIjKlMnOpQrStUvWx on tokens")
    'Rate limit reached in organization org-*** on tokens'
    >>> account_ids(b"consumer 'project_number:1234567890'")
    b"consumer 'project_number:***'"
    """
    if isinstance(text, bytes):
        return _ACCOUNT_BYTES.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + b"***", text)
    return _ACCOUNT_TEXT.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)

# query parameters that carry a secret (libpq's `password`, redis-py's `password`, tokens; an API
# key: Gemini's `key`, Azure Functions' `code`, a SAS `sig`, and the spellings of `api_key`)
_SECRET_PARAMS = frozenset({"password", "sslpassword", "pass", "pwd", "secret", "token", "access_token",
                            "key", "api_key", "api-key", "apikey", "x-api-key", "x-goog-api-key", "code", "sig",
                            "client_secret", "auth", "authorization"})


def redact(url: str) -> str:
    """``url`` with its password and password-like query values shown as ``***``.

    >>> redact("redis://:hunter2@cache:6379/0"), redact("sqlite:/var/lib/aigw/limits.db")
    ('redis://:***@cache:6379/0', 'sqlite:/var/lib/aigw/limits.db')
    >>> redact("postgresql://h/db?sslmode=require&password=a")
    'postgresql://h/db?sslmode=require&password=***'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url  # unparsable: no password can be found in it, and none is shown as one
    netloc, query = parts.netloc, parts.query
    if "@" in url and "@" not in netloc:  # `redis:/:pw@host`: userinfo the parser did not see
        scheme, colon, rest = url.partition(":")
        return f"{scheme}{colon}***@{rest.rpartition('@')[2]}" if colon else "***@" + url.rpartition("@")[2]
    if password:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostport}"
    pairs = query.split("&") if query else []
    hidden = [_hide(pair) for pair in pairs]
    if netloc == parts.netloc and hidden == pairs:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(hidden), parts.fragment))


def scrub(text: str, urls: Iterable[str]) -> str:
    """``text`` with every secret of ``urls`` replaced by ``***``, as written and decoded."""
    for url in urls:
        for secret in url_secrets(url):
            for form in {secret, unquote(secret)}:
                if form:
                    text = text.replace(form, "***")
    return text


def _hide(pair: str) -> str:
    name, eq, value = pair.partition("=")
    return f"{name}=***" if eq and value and unquote(name).lower() in _SECRET_PARAMS else pair


def url_secrets(url: str) -> list[str]:
    """The secrets written in a URL: its password and password-like query values."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if value and unquote(name).lower() in _SECRET_PARAMS:
            found.append(value)
    return found
