"""Text or file -> Policy IR, through the surface form's reader and the lint passes.

``read`` never raises: it returns what it could build and every diagnostic. ``load`` and
``loads`` raise :class:`PolicyError` once, at the API edge, when there is an error.

A text of :data:`policy_cache.MIN_CHARS` or more is read once: the result is kept in the
whole-policy cache (:mod:`.policy_cache`, ``cache_dir``; by default its :func:`default_dir`)
and a later read of the same text, format, name and options comes from there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from . import policy_cache
from .analysis import LintOptions, run_passes
from .diagnostics import Diagnostic, Diagnostics, PolicyError, sort_diagnostics
from .files import read_input
from .gc_pause import gc_paused
from .ir import Policy
from .source import Source, split_lines

__all__ = ["Format", "detect_format", "load", "loads", "read", "read_file"]

Format = Literal["dsl", "yaml", "json"]
MAX_POLICY_BYTES = 16 * 1024 * 1024
DEFAULT_CACHE: object = object()
"""``cache_dir`` of :func:`read`: the whole-policy cache's :func:`policy_cache.default_dir`."""

_EXTENSIONS: dict[str, Format] = {
    ".aigw": "dsl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}


def detect_format(name: str | None, text: str) -> Format:
    """The format named by a file extension, else sniffed from the text."""
    if name:
        fmt = _EXTENSIONS.get(Path(name).suffix.lower())
        if fmt:
            return fmt
    head = text.lstrip()
    if head.startswith(("{", "[")):
        return "json" if _json_or_not_yaml(text) else "yaml"
    if head.startswith("policy") or _first_code_line(head).startswith("policy"):
        return "dsl"
    return "yaml"


def _json_or_not_yaml(text: str) -> bool:
    """Whether text that looks like JSON is JSON, or is no YAML either (then the JSON reader's
    diagnostics say more). ngrok reads every policy as YAML, so a flow-style document with
    unquoted keys, single quotes or a trailing comma is one."""
    try:
        json.loads(text)
        return True
    except (ValueError, RecursionError):
        pass
    from .syntax.yaml_tree import compose

    scratch = Diagnostics()
    return compose(Source(text, None), scratch, json_mode=False) is None or scratch.has_errors


def _first_code_line(text: str) -> str:
    for line in split_lines(text):
        line = line.strip()
        if line and not line.startswith(("#", "//")):
            return line
    return ""


def read(
    text: str,
    *,
    format: Format | None = None,
    name: str | None = None,
    options: LintOptions | None = None,
    cache_dir: str | os.PathLike[str] | object | None = DEFAULT_CACHE,
) -> tuple[Policy | None, list[Diagnostic]]:
    """Parse and check a policy text; never raises for bad policy text (only ``TypeError``
    when ``text`` is not a str). Diagnostics come sorted. ``cache_dir``: where the
    whole-policy cache is kept (None: not used)."""
    if not isinstance(text, str):
        raise TypeError(f"a policy text is a str, not {type(text).__name__}")
    if len(text) > MAX_POLICY_BYTES:
        diags = Diagnostics()
        diags.add("AIGW008", f"policy is larger than {MAX_POLICY_BYTES // (1024 * 1024)} MiB",
                  Source(text, name).span(0))
        return None, diags.sorted()
    fmt = format or detect_format(name, text)
    directory = policy_cache.default_dir() if cache_dir is DEFAULT_CACHE else cache_dir
    if directory is None or len(text) < policy_cache.MIN_CHARS or fmt not in ("dsl", "yaml", "json"):
        with gc_paused():
            return _read(Source(text, name), fmt, Diagnostics(), options)
    key = policy_cache.key(text, fmt, name, options or LintOptions())
    with gc_paused():
        hit = policy_cache.load(directory, key)
        if hit is not None:
            return hit
        policy, found = _read(Source(text, name), fmt, Diagnostics(), options)
        policy_cache.save(directory, key, policy, found)
    return policy, found


def _read(source: Source, fmt: str, diags: Diagnostics,
          options: LintOptions | None) -> tuple[Policy | None, list[Diagnostic]]:
    """Read with the surface form's reader, then run the lint passes."""
    if fmt == "dsl":
        from .syntax.dsl import read_dsl

        policy = read_dsl(source, diags)
    elif fmt in ("yaml", "json"):
        from .syntax.held_policy import find_held, hoist
        from .syntax.yaml_form import read_json, read_tree, read_yaml

        held, composed = find_held(source, json_mode=fmt == "json")
        if held is not None:  # an ngrok API object with its policy as a string
            inner = Source(held.text, source.name)
            policy, found = _read(inner, detect_format(None, held.text), Diagnostics(), options)
            http_rules = policy is not None and bool(policy.on_http_request or policy.on_http_response)
            return policy, sort_diagnostics(hoist(held, source, found, http_rules=http_rules))
        if composed is not None:  # find_held composed the document to look: read that tree
            tree, found_there = composed
            diags.extend(found_there)
            policy = read_tree(source, tree, diags)
        else:
            policy = (read_yaml if fmt == "yaml" else read_json)(source, diags)
    else:
        raise ValueError(f"unknown policy format {fmt!r}; use dsl, yaml or json")
    if policy is not None:
        diags.extend(run_passes(policy, source, options, complete=not diags.has_errors))
    if policy is None and not diags.has_errors:
        diags.add("AIGW001", "nothing could be read from this document", source.span(0))
    return policy, sort_diagnostics(diags)


def read_file(path: str | os.PathLike[str],
              cache_dir: str | os.PathLike[str] | object | None = DEFAULT_CACHE) -> tuple[Policy | None, list[Diagnostic]]:
    """Read a policy file; a file that cannot be read is an AIGW007 diagnostic."""
    name = os.fspath(path)
    try:
        data = read_input(name)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        d = Diagnostic.make("AIGW007", f"cannot read `{name}`: {reason.lower()}",
                            Source("", name).span(0))
        return None, [d]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        source = Source("", name)
        d = Diagnostic.make("AIGW007", f"the file is not UTF-8 text (byte {error.start})",
                            source.span(0))
        return None, [d]
    return read(text, name=name, cache_dir=cache_dir)


def loads(text: str, format: Format | None = None, *, name: str | None = None) -> Policy:
    """Parse a policy from text; raise :class:`PolicyError` if it has errors."""
    policy, diagnostics = read(text, format=format, name=name)
    return _checked(policy, diagnostics)


def load(path: str | os.PathLike[str]) -> Policy:
    """Load a policy file (``.aigw``, ``.yaml``, ``.yml`` or ``.json``)."""
    policy, diagnostics = read_file(path)
    return _checked(policy, diagnostics)


def _checked(policy: Policy | None, diagnostics: list[Diagnostic]) -> Policy:
    errors = [d for d in diagnostics if d.is_error]
    if errors or policy is None:
        raise PolicyError(errors or diagnostics)
    return policy
