"""The secrets behind ``providers[].api_keys[].value`` (SPEC §12): only the gateway reads them.

A key's value is either exactly ``${secrets.get('vault', 'name')}`` (ngrok's form; blanks
inside the braces allowed, single or double quotes) or a literal key, taken as written: a
value that merely contains ``${...}`` somewhere is a literal too, never half-interpolated
(the linter refuses such a value, AIGW148: ngrok would interpolate it).
A reference resolves from, in order:

1. ``serve --secrets FILE``: YAML ``{vault: {name: value}}``;
2. the environment variable ``AIGW_SECRET_<VAULT>_<NAME>`` (upper-cased, every character
   that is not a letter or digit as ``_``): ``secrets.get('openai', 'key-one')`` reads
   ``AIGW_SECRET_OPENAI_KEY_ONE``.

A reference that resolves nowhere is a start-up error naming the vault and the name (and the
variable that would have served), never a value; so is a key no HTTP header can carry (a line
break inside it: ``AIGW609``). Surrounding whitespace is trimmed (a Kubernetes Secret made from
a file keeps the file's last newline). :class:`Secrets` never shows a value in its
``repr``; nothing here logs.

>>> secret_ref("${secrets.get('openai', 'key-one')}")
('openai', 'key-one')
>>> secret_ref("sk-literal ${secrets.get('a', 'b')}") is None
True
>>> env_name("openai", "key-one")
'AIGW_SECRET_OPENAI_KEY_ONE'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..diagnostics import Diagnostic

__all__ = ["SecretError", "Secrets", "env_name", "header_safe", "load_secrets", "secret_ref"]

_REF = re.compile(r"""\$\{\s*secrets\.get\(\s*(['"])([^'"]*)\1\s*,\s*(['"])([^'"]*)\3\s*\)\s*\}""")
ENV_PREFIX = "AIGW_SECRET_"
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_BLANKS = " \t\r\n"


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent in a header as it is: no CR, LF, NUL or other control
    character but tab, nothing beyond Latin-1.

    >>> header_safe("Bearer sk-1"), header_safe("sk-1\\nsk-2"), header_safe("sk-\\u2013")
    (True, False, False)
    """
    return _UNSENDABLE.search(value) is None


class SecretError(ValueError):
    """Secrets that cannot be used: ``diagnostics`` (``AIGW606`` file unreadable or of the
    wrong shape, ``AIGW607`` a referenced secret set nowhere, ``AIGW609`` a key no header can
    carry); ``str()`` one line each."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(f"{d.message} [{d.code}]" for d in self.diagnostics))


def secret_ref(value: str) -> tuple[str, str] | None:
    """``(vault, name)`` when ``value`` is exactly a ``${secrets.get(...)}`` reference."""
    found = _REF.fullmatch(value.strip())
    return (found.group(2), found.group(4)) if found else None


def env_name(vault: str, name: str) -> str:
    """The environment variable that holds ``secrets.get(vault, name)``."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", f"{vault}_{name}").upper()


class Secrets:
    """``{vault: {name: value}}`` from a file, then the ``AIGW_SECRET_*`` variables of
    ``env`` (default ``os.environ``) as they are when it is made."""

    __slots__ = ("_env", "_vaults")

    def __init__(self, vaults: Mapping[str, Mapping[str, str]] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self._vaults = {v: {n: x.strip(_BLANKS) if isinstance(x, str) else x for n, x in names.items()}
                        for v, names in (vaults or {}).items()}
        # read once (a start-up's view); an empty variable is not a key
        self._env = {k: v.strip(_BLANKS) for k, v in (os.environ if env is None else env).items()
                     if k.startswith(ENV_PREFIX) and v.strip(_BLANKS)}

    def __repr__(self) -> str:  # names only, never a value
        names = sum(len(n) for n in self._vaults.values())
        return f"Secrets({len(self._vaults)} vaults, {names} names from the file, and {ENV_PREFIX}* variables)"

    def get(self, vault: str, name: str) -> str | None:
        found = self._vaults.get(vault, {}).get(name)
        return found if found is not None else self._env.get(env_name(vault, name))

    def resolve(self, value: str) -> str:
        """The key a configured ``value`` stands for; :class:`SecretError` (naming the vault
        and the name) when it refers to a secret set nowhere."""
        ref = secret_ref(value)
        if ref is None:
            return value.strip(_BLANKS)
        found = self.get(*ref)
        if found is None:
            raise SecretError([_missing(*ref)])
        return found

    def check(self, values: Iterable[str]) -> None:
        """Every reference among ``values`` resolves; else one :class:`SecretError` naming each
        missing one (``serve`` calls this before it listens)."""
        values = list(values)
        missing = sorted({ref for v in values if (ref := secret_ref(v)) is not None and self.get(*ref) is None})
        problems = [_missing(*ref) for ref in missing]
        for value in values:  # a key no header can carry would fail every attempt it is chosen for
            ref = secret_ref(value)
            found = self.get(*ref) if ref is not None else value.strip(_BLANKS)
            if isinstance(found, str) and not header_safe(found):
                where = (f"secret `{ref[1]}` of vault `{ref[0]}` (`--secrets` or `{env_name(*ref)}`)" if ref
                         else "a literal api_keys value of the policy")
                problems.append(Diagnostic.make("AIGW609", f"{where} has a character no HTTP header can carry "
                                                "(a line break, another control character, or one beyond Latin-1)"))
        if problems:
            raise SecretError(problems)


def _missing(vault: str, name: str) -> Diagnostic:
    return Diagnostic.make("AIGW607", f"secret `{name}` of vault `{vault}` is not set: give it in "
                           f"`--secrets FILE` ({{{vault}: {{{name}: ...}}}}) or the environment "
                           f"variable `{env_name(vault, name)}`")


def load_secrets(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Secrets:
    """The secrets of ``serve``: the file at ``path`` (YAML ``{vault: {name: value}}``; None:
    none) over the environment. :class:`SecretError` when the file is unreadable or of
    another shape (the message names keys and lines, never a value)."""
    if path is None:
        return Secrets({}, env)
    import yaml

    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8-sig") as fh:
            data: Any = yaml.safe_load(fh)
    except OSError as error:
        raise SecretError([_bad(f"cannot read the secrets file `{name}`: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        raise SecretError([_bad(f"the secrets file `{name}` is not UTF-8 text (byte {error.start})")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SecretError([_bad(f"the secrets file `{name}` is not valid YAML{where}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SecretError([_bad(f"the secrets file `{name}` is a mapping of vaults: {{vault: {{name: value}}}}")])
    problems: list[Diagnostic] = []
    vaults: dict[str, dict[str, str]] = {}
    for vault, names in data.items():
        if not isinstance(vault, str) or not isinstance(names, dict):
            problems.append(_bad(f"`{vault}` in the secrets file `{name}` is not a vault: {{name: value}}"))
            continue
        vaults[vault] = {}
        for key, value in names.items():
            if not isinstance(key, str) or not isinstance(value, str) or not value:
                problems.append(_bad(f"secret `{vault}.{key}` in `{name}` is not a non-empty string (quote it)"))
                continue
            vaults[vault][key] = value
    if problems:
        raise SecretError(problems)
    return Secrets(vaults, env)


def _bad(message: str) -> Diagnostic:
    return Diagnostic.make("AIGW606", message)
