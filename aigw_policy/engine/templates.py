"""A compiled string config value (:class:`Template`) and how a CEL value reads inside text
(:func:`text_of`).

A template is constant text, one ``${...}`` (which keeps its CEL type: ``"${ai.model}"`` is
the model, ``"${1 + 1}"`` the int 2), or text with interpolations, each rendered as a string
(ngrok's rule). The last kind renders by one function written for it when it is compiled
(each piece in turn, joined in one call), not by a loop over its pieces per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cel.runtime.ops import to_string
from ..cel.runtime.values import Duration, Timestamp, go_text
from ..template import double_text

__all__ = ["Template", "text_of"]


class Template:
    """``render(act)`` gives the value; a CEL error raises :class:`~aigw_policy.cel.CelError`.
    ``parts`` are the pieces: text, and the compiled interpolations (``CompiledExpr``, whose
    ``fn`` is linked after the template is made: it is read when rendering)."""

    __slots__ = ("text", "constant", "single", "parts", "render")

    text: str
    constant: bool
    single: Any  # CompiledExpr | None
    parts: tuple[Any, ...]
    render: Callable[[dict[str, Any]], Any]

    def __init__(self, text: str, parts: list[Any]) -> None:
        self.text = text
        self.parts = tuple(str(p) if isinstance(p, str) else p for p in parts)
        self.constant = all(type(p) is str for p in self.parts)
        self.single = self.parts[0] if len(self.parts) == 1 and not self.constant else None
        self.render = _renderer(self)


def _renderer(tpl: Template) -> Callable[[dict[str, Any]], Any]:
    text, single = tpl.text, tpl.single
    if tpl.constant:
        return lambda act: text
    if single is not None:
        def render(act: dict[str, Any]) -> Any:
            fn = single.fn  # linked after the template is made (compile_cel)
            value = fn(act)
            tpl.render = fn  # it ran, so it is linked: later renders call the text's function itself
            return value

        return render
    scope: dict[str, Any] = {"_text": text_of}
    values, pieces = [], []
    for i, p in enumerate(tpl.parts):
        if type(p) is str:
            pieces.append(repr(p))
        else:
            scope[f"p{i}"] = p
            values += [f"    v{i} = p{i}.fn(act)", f"    if type(v{i}) is not str:", f"        v{i} = _text(v{i})"]
            pieces.append(f"v{i}")
    source = "\n".join(["def render(act):", *values, f"    return ''.join(({', '.join(pieces)},))"]) + "\n"
    exec(compile(source, "<template>", "exec"), scope)  # noqa: S102 (our own text)
    return scope["render"]  # type: ignore[no-any-return]


def text_of(value: Any) -> str:
    """A CEL value inside a string template: CEL's ``string()`` (doubles to 15 digits,
    :func:`~aigw_policy.template.double_text`); lists and maps as JSON."""
    if type(value) is str:  # the usual value, as it is
        return value
    if isinstance(value, (list, tuple, dict)) or value is None:
        import json

        from .trace import jsonable

        return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=False)
    if type(value) is float:
        return double_text(value)
    if type(value) is Timestamp or type(value) is Duration:
        return go_text(value)  # cel-go's text, as ngrok renders it (`.5Z`, `1.5s`)
    return to_string(value)
