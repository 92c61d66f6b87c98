"""The one canonical form in which ``model-access`` compares model names with its globs.

A model name is compared without its surrounding whitespace and with its case folded
(:func:`canonical`): routers, the gateway's own routing catalog and Go servers (simple case
folding: ``K``, the Kelvin sign, is ``k``; ``ſ`` is ``s``) serve ``GPT-4O`` as ``gpt-4o``.
The globs are folded the same way.

A ``deny`` also refuses the spellings an upstream serves as the denied model
(:func:`deny_matcher`): the name after any prefix ending in ``/``, ``:`` or ``.`` (a router's
``openai/gpt-4o``, the routes' ``openai:gpt-4o``, Bedrock's ``us.anthropic.claude-...``), and the
name less dated or version suffixes (:data:`VERSION_SUFFIXES`: ``gpt-4o-2024-08-06``,
``claude-3-5-sonnet-20241022``, Vertex's ``claude-3-5-sonnet@20240620``, ``-latest``,
Bedrock's ``-v2:0``). An ``allow`` is never widened so: ``allow: [gpt-4o-mini]`` admits
``GPT-4o-Mini`` and `` gpt-4o-mini``, not ``someone/gpt-4o-mini`` (another provider's model).

The prover encodes the same languages (:mod:`aigw_policy.prove.model_names`).

>>> canonical(" GPT-4O\\n")
'gpt-4o'
>>> deny_matcher(("gpt-4o",))("openai/" + canonical("OpenAI:GPT-4o-2024-08-06"))
True
>>> deny_matcher(("gpt-4o",))("openai/gpt-4o-mini")
False
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["MAX_NAME", "SEPARATORS", "VERSION_SUFFIXES", "WHITESPACE", "allow_matcher", "canonical", "deny_matcher",
           "fold", "glob_body"]

MAX_NAME = 256
"""The longest model name (as sent, whitespace included) a deny list matches: a longer one is
refused by any deny list without being matched. No provider's model is named so long (Bedrock's
inference profile ARNs are ~100 characters); and a deny's match (any prefix ending in a
separator, then the glob, then any run of suffixes) backtracks over a made-up name in time
that grows with the square of its length: 16,000 colons took a second, a body's 100 KB name
would take a minute of the gateway's CPU per request."""

FOLDS = {**{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}, "\u212a": "k", "\u017f": "s"}
"""Each character whose simple case folding is an ASCII letter, and that letter: the ASCII
capitals, the Kelvin sign and the long s (Unicode's CaseFolding.txt, statuses C and S). Other
characters are kept: no provider's model name has one, and a character that only looks like a
letter (Cyrillic ``о``) names no model an upstream serves as the Latin one."""

_FOLD = str.maketrans(FOLDS)

WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
"""What :meth:`str.strip` strips (every ``isspace`` character is below U+3001)."""

SEPARATORS = "/:."
"""A prefix that ends in one of these is not the model's name (``openai/``, ``openai:``, ``us.``)."""

VERSION_SUFFIXES = (
    "-[0-9]{4}-[0-9]{2}-[0-9]{2}",  # OpenAI's snapshots: gpt-4o-2024-08-06
    "[-@][0-9]{3,8}",  # claude-3-5-sonnet-20241022, Vertex's @20240620, gpt-4-0613, gemini-1.5-pro-002
    "[-@:]latest",  # claude-3-5-haiku-latest, Ollama's llama3:latest
    "-v[0-9]+",  # Bedrock's -v2 (of -v2:0)
    ":[0-9]+",  # Bedrock's :0
)
"""What a deny strips from a name's end (any number of them): the suffixes that name a dated
snapshot or a version of the model before them."""


def fold(text: str) -> str:
    """``text`` with each character of :data:`FOLDS` folded."""
    return text.translate(_FOLD)


def canonical(model: str) -> str:
    """``model`` without surrounding whitespace, folded."""
    return model.strip().translate(_FOLD)


def glob_body(pattern: str) -> str:
    """``fnmatch.translate`` of the folded ``pattern`` without its end anchor: a regex to
    compose (``(?s:...)``)."""
    text = fnmatch.translate(fold(pattern))
    for anchor in ("\\Z", "\\z"):
        if text.endswith(anchor):
            return text[: -len(anchor)]
    raise AssertionError(f"unexpected fnmatch translation {text!r}")  # pragma: no cover


@lru_cache(maxsize=1024)
def deny_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a canonical ``provider/model`` matches one of ``patterns`` as a deny reads them:
    after any prefix ending in a :data:`SEPARATORS` character, before any
    :data:`VERSION_SUFFIXES` (the lists are the policy's, a few per document)."""
    globs = "|".join(f"(?:{glob_body(p)})" for p in patterns)
    suffixes = "|".join(VERSION_SUFFIXES)
    match = re.compile(f"(?s:(?:.*[{re.escape(SEPARATORS)}])?(?:{globs})(?:{suffixes})*)").fullmatch
    return lambda name: match(name) is not None


@lru_cache(maxsize=1024)
def allow_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a canonical name matches one of ``patterns`` as a glob, no more."""
    match = re.compile("|".join(f"(?:{glob_body(p)})" for p in patterns)).fullmatch
    return lambda name: match(name) is not None
