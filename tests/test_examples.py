"""The examples: each policy ships as ``X.aigw`` and ``X.yaml``, and both mean the same.

- the DSL and the YAML read without error diagnostics into equal IR;
- the DSL file is canonical: ``format_policy`` gives it back exactly, comments included,
  and ``print_dsl`` of its IR is the file without its comments;
- the YAML files are *not* kept canonical: they are written the way people write ngrok
  documents (flow mappings, comments, `60s`), which ``dump_yaml`` does not reproduce. What
  holds instead is that ``dump_yaml`` of their IR reads back to the same IR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.fmt import format_policy
from aigw_policy.fmt.printer import print_dsl
from aigw_policy.ir.nodes import Policy
from aigw_policy.source import Source

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.aigw"))
REQUIRED = {"team-model-access", "key-limits", "monthly-budget", "content-guard", "ngrok-style"}


def read(path: Path) -> Policy:
    from aigw_policy.syntax.dsl import read_dsl
    from aigw_policy.syntax.yaml_form import read_yaml

    reader = read_dsl if path.suffix == ".aigw" else read_yaml
    diags = Diagnostics()
    policy = reader(Source(path.read_text("utf-8"), str(path)), diags)
    errors = [str(d) for d in diags if d.is_error]
    assert not errors, errors
    assert policy is not None
    return policy


def without_comments(text: str) -> str:
    """The text minus its comments; the examples write them on lines of their own."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("#", "//"))]
    return "\n".join(lines) + "\n"


def test_every_example_has_both_forms() -> None:
    assert REQUIRED <= set(NAMES)
    yamls = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
    assert yamls == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_dsl_and_yaml_give_the_same_ir(name: str) -> None:
    dsl = read(EXAMPLES / f"{name}.aigw")
    yml = read(EXAMPLES / f"{name}.yaml")
    assert dsl == yml
    assert dsl.rules(), "an example without rules shows nothing"


@pytest.mark.parametrize("name", NAMES)
def test_dsl_is_canonical(name: str) -> None:
    path = EXAMPLES / f"{name}.aigw"
    text = path.read_text("utf-8")
    assert format_policy(text, name=str(path)) == text
    assert print_dsl(read(path)) == without_comments(text)


@pytest.mark.parametrize("name", NAMES)
def test_yaml_dump_reads_back(name: str) -> None:
    from aigw_policy.syntax.yaml_form import dump_yaml, read_yaml

    policy = read(EXAMPLES / f"{name}.yaml")
    diags = Diagnostics()
    again = read_yaml(Source(dump_yaml(policy), f"{name}.dumped.yaml"), diags)
    assert not [d for d in diags if d.is_error]
    assert again == policy


@pytest.mark.parametrize("name", NAMES)
def test_examples_lint_clean(name: str) -> None:
    from aigw_policy.loader import read as load_text

    for suffix in (".aigw", ".yaml"):
        path = EXAMPLES / f"{name}{suffix}"
        policy, diagnostics = load_text(path.read_text("utf-8"), name=str(path))
        assert policy is not None
        assert [str(d) for d in diagnostics if d.is_error] == []
