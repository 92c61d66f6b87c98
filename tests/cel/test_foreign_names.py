"""A name written as another language (or ngrok's older docs) writes it is refused with CEL's
name as the help (aigw_policy/cel/foreign_names.py), for every row of its tables, read by the
same checker `lint` runs; and every name a table suggests is one the policy environment has,
so the tables cannot point at a name that does not exist."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.cel.foreign_names import FUNCTIONS, PREFIXES, RENAMED
from aigw_policy.env import POLICY_VARIABLES


TAILS = {"req": ["headers", "url.path"], "res": ["status_code"], "conn": ["client_ip"]}


def _found(expression: str) -> list[ap.Diagnostic]:
    doc = f'on_http_request:\n  - expressions: ["{expression}"]\n    actions: [{{type: deny}}]\n'
    return ap.read(doc, name="x.yaml", cache_dir=None)[1]


@pytest.mark.parametrize(("foreign", "meant"), sorted(FUNCTIONS.items()))
def test_a_foreign_method_gets_cel_s_name(foreign: str, meant: str) -> None:
    found = [d for d in _found(f"req.url.path.{foreign}('a')") if d.code == "AIGW301"]
    assert found and f"did you mean `{meant}`?" in (found[0].help or ""), [str(d) for d in found]


@pytest.mark.parametrize(("written", "meant"), [
    *sorted(RENAMED.items()),
    *[(f"{head}.{tail}", f"{root}.{tail}") for head, root in sorted(PREFIXES.items())
      for tail in TAILS[root]],
])
def test_a_foreign_variable_gets_today_s_name(written: str, meant: str) -> None:
    assert meant in POLICY_VARIABLES or any(v.startswith(meant + ".") for v in POLICY_VARIABLES)
    found = [d for d in _found(f"{written} == null") if d.code == "AIGW300"]
    assert found and f"did you mean `{meant}`?" in (found[0].help or ""), [str(d) for d in found]


def test_a_declared_name_is_never_a_foreign_one() -> None:
    """`lower` is ngrok's own (declared): the table's `lowerAscii` help never shadows it."""
    assert not [d for d in _found("req.url.path.lower() == 'a'") if d.is_error]
