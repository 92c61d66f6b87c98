"""The docs of the SPEC §5 names document declared names only, so they cannot drift from
the declarations the checker uses."""

from __future__ import annotations

from aigw_policy.cel.codegen import MACROS
from aigw_policy.cel.decls import standard
from aigw_policy.env import POLICY, POLICY_VARIABLES
from aigw_policy.env.docs import FUNCTION_DOCS, NAMESPACE_DOCS, VARIABLE_DOCS, variable_doc


def test_documented_variables_are_declared() -> None:
    assert sorted(set(VARIABLE_DOCS) - set(POLICY_VARIABLES)) == []


def test_documented_namespaces_hold_declared_names() -> None:
    assert sorted(n for n in NAMESPACE_DOCS if not any(v.startswith(n + ".") for v in POLICY_VARIABLES)) == []


def test_documented_functions_exist() -> None:
    known = set(standard()) | set(POLICY.overloads) | {name for name, _, _ in MACROS}
    assert sorted(set(FUNCTION_DOCS) - known) == []


def test_every_variable_of_the_spec_has_a_doc() -> None:
    spec = [v for v in POLICY_VARIABLES if v.split(".")[0] in ("ai", "identity", "vars", "limits")]
    assert sorted(v for v in spec if not variable_doc(v)) == []
    assert variable_doc("conn.tls.client.subject.country").startswith("Part of `conn.tls.client`")
