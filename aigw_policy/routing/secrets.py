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
variable that would have served), never a value. :class:`Secrets` never shows a value in its
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

__all__ = ["SecretError", "Secrets", "env_name", "load_secrets", "secret_ref"]

_REF = re.compile(r"""\$\{\s*secrets\.get\(\s*(['"])([^'"]*)\1\s*,\s*(['"])([^'"]*)\3\s*\)\s*\}""")
ENV_PREFIX = "AIGW_SECRET_"


class SecretError(ValueError):
    """Secrets that cannot be used: ``diagnostics`` (``AIGW606`` file unreadable or of the
    wrong shape, ``AIGW607`` a referenced secret set nowhere); ``str()`` one line each."""

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
        self._vaults = {v: dict(names) for v, names in (vaults or {}).items()}
        # read once (a start-up's view); an empty variable is not a key
        self._env = {k: v for k, v in (os.environ if env is None else env).items() if k.startswith(ENV_PREFIX) and v}

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
            return value
        found = self.get(*ref)
        if found is None:
            raise SecretError([_missing(*ref)])
        return found

    def check(self, values: Iterable[str]) -> None:
        """Every reference among ``values`` resolves; else one :class:`SecretError` naming each
        missing one (``serve`` calls this before it listens)."""
        missing = sorted({ref for v in values if (ref := secret_ref(v)) is not None and self.get(*ref) is None})
        if missing:
            raise SecretError([_missing(*ref) for ref in missing])


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
