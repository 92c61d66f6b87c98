"""``math.greatest`` and ``math.least`` are macros, not functions a container reaches.

Class ``macro-names`` (session 28): in cel-go and cel-cpp these are macros the parser expands
from the call written ``math.greatest(...)``; ours declared them as functions, so the
container lookup that reaches ``math.sqrt`` from ``sqrt(4)`` in container ``math`` also
reached them: ``greatest(1, 2)`` in container ``math`` was ``2`` (cel-cpp: undeclared), and so
was ``.math.greatest(1, 2)`` (the root dot: no macro in either). ``names.function_names`` now
keeps a macro's name to the call written whole, in the checker and the code generator.

``data/container_macros.json`` holds the rows in the conformance files' shape, run checked and
unchecked through ``tests/conformance/run.py``'s ``run_test``, and each against cel-cpp built
with the row's container.
"""

from __future__ import annotations

import pytest

from conformance_rows import row_ids, rows_of, run_test, to_value
from shared_data import in_ci
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave21 import CPP_CONFIG
from test_differential_wave26 import cpps, mine

from aigw_policy import cel
from aigw_policy.cel.parser import parse

_ROWS = rows_of("container_macros.json")
_IDS = row_ids(_ROWS)


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_conformance_row(section: str, row: dict, checked: bool) -> None:
    cel.clear_cache()
    ok, why = run_test({**row, "disable_check": not checked})
    assert ok, (row["expr"], why)


def _ours(expr: str, container: str, checked: bool) -> tuple[str, object]:
    cel.clear_cache()
    try:
        if checked:
            prog = cel.compile(expr, {}, container=container)
        else:
            prog = cel.compile_ast(parse(expr), {}, source=expr, container=container, check=False)
        return "value", mine(prog({}))
    except cel.CelError as e:
        return "error", str(e)


_ENVS: dict[str, object] = {}


def _theirs(expr: str, container: str, checked: bool) -> tuple[str, object]:
    if container not in _ENVS:
        _ENVS[container] = c.NewEnv(config=c.NewEnvConfigFromYaml(CPP_CONFIG), container=container)
    try:
        prog = _ENVS[container].compile(expr, disable_check=not checked)  # type: ignore[attr-defined]
        r = prog.eval(data={})
    except Exception as e:  # noqa: BLE001 - refused by its parser or checker
        return "error", str(e)
    if str(r.type()).startswith("ERROR"):
        return "error", str(r.plain_value())
    return "value", cpps(r)


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: container macros are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_row_is_cel_cpps_answer(cpp: None, section: str, row: dict, checked: bool) -> None:
    container = row.get("container", "")
    got, want = _ours(row["expr"], container, checked), _theirs(row["expr"], container, checked)
    assert got[0] == want[0], (row["expr"], container, got, want)
    if got[0] == "value":
        assert got == ("value", mine(to_value(row["value"]))), (row["expr"], got)
