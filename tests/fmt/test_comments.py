"""``format_policy`` keeps every comment: where each goes (data/comment_cases.yaml), idempotence,
the comment multiset, the AIGW009 refusal, and a property over generated policies with
comments put on random lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy.fmt as fmt
from aigw_policy.diagnostics import Diagnostics, PolicyError
from aigw_policy.fmt import format_policy
from aigw_policy.fmt.comments import comment_texts
from aigw_policy.fmt.printer import print_dsl
from aigw_policy.ir.nodes import Policy
from aigw_policy.source import Source
from aigw_policy.syntax.dsl import Trivia, read_dsl
from strategies import policies

CASES = yaml.safe_load((Path(__file__).parent / "data" / "comment_cases.yaml").read_text("utf-8"))


def read(text: str) -> tuple[Policy, Trivia]:
    diags, trivia = Diagnostics(), Trivia()
    policy = read_dsl(Source(text, "in.aigw"), diags, trivia)
    assert not [str(d) for d in diags if d.is_error], text
    assert policy is not None
    return policy, trivia


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_comment_placement(case: dict[str, Any]) -> None:
    out = format_policy(case["input"], name="in.aigw")
    assert out == case["output"]
    assert format_policy(out) == out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_comments_and_meaning_are_kept(case: dict[str, Any]) -> None:
    before, trivia = read(case["input"])
    after, again = read(case["output"])
    assert after == before
    assert comment_texts(again.comments) == comment_texts(trivia.comments)
    assert trivia.comments, "a case without comments tests nothing here"


def test_print_dsl_without_comments_prints_only_those_in_cel() -> None:
    policy, _ = read(CASES[0]["input"])
    _, trivia = read(print_dsl(policy))
    assert [c.text for c in trivia.comments] == ["// absorbed into the CEL"]


def test_trivia_ignores_comment_markers_in_strings() -> None:
    _, trivia = read(
        'policy "# not a comment" {\n  on request {\n    rule "// nor this" {\n'
        '      when ai.model == "#x" || ai.model == \'//y\'  # but this\n'
        '      deny 403 """# no\n// no"""\n    }\n  }\n}\n'
    )
    assert [c.text for c in trivia.comments] == ["# but this"]


def test_refuses_to_lose_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "print_dsl", lambda policy, comments=None: print_dsl(policy))
    text = "policy {\n  # kept?\n  default deny\n}\n"
    with pytest.raises(PolicyError) as info:
        format_policy(text)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "AIGW009"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.column) == (2, 3)


def test_refuses_to_duplicate_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "print_dsl",
                        lambda policy, comments=None: "# extra\n" + print_dsl(policy, comments))
    with pytest.raises(PolicyError) as info:
        format_policy("policy {\n  default deny\n}\n")
    assert [d.code for d in info.value.diagnostics] == ["AIGW009"]


# property ------------------------------------------------------------------------------

# Comment text: no line breaks; markers, quotes and braces included on purpose.
_BODY = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"),
                              exclude_characters="\x85"), max_size=12)
_COMMENT = st.builds(lambda mark, body: mark + body, st.sampled_from(["#", "//", "# ", "// "]),
                     _BODY)


@st.composite
def commented(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A printed policy with comments at random line ends and on lines of their own.

    Printed strings never hold a raw line break, so every line end is outside a string
    (it may be inside multi-line CEL, where a comment is part of the expression).
    """
    lines = print_dsl(draw(policies(max_rules=3))).split("\n")[:-1]
    commented_lines: list[bool] = [False] * len(lines)  # a comment runs to the line's end
    inserted: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        comment = draw(_COMMENT)
        i = draw(st.integers(0, len(lines)))
        if i < len(lines) and not commented_lines[i] and draw(st.booleans()):
            lines[i] += "  " + comment
            commented_lines[i] = True
        else:
            lines.insert(i, " " * draw(st.integers(0, 6)) + comment)
            commented_lines.insert(i, True)
        inserted.append(comment.rstrip())
    return "\n".join(lines) + "\n", inserted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commented())
def test_format_keeps_every_comment_and_the_ir(case: tuple[str, list[str]]) -> None:
    text, inserted = case
    out = format_policy(text)  # re-parses and compares the IR itself
    policy, trivia = read(text)
    again, out_trivia = read(out)
    assert again == policy
    assert comment_texts(out_trivia.comments) == comment_texts(trivia.comments)
    assert len(trivia.comments) == len(inserted)
    assert format_policy(out) == out


@pytest.mark.parametrize("part", [
    "providers: [  # after the bracket\n          { id: \"a\", models: [] },\n          { id: \"b\", description: \"00000000000000000000\", models: [] },\n        ]",
    "providers: [\n          {  # after the brace\n            id: \"a\",\n            description: \"a description long enough that the item cannot fit on one line\",\n            website: \"\",\n            metadata: {},\n            api_keys: [],\n          },\n        ]",
])
def test_a_comment_after_an_opening_bracket_stays_there(part: str) -> None:
    """Found by the property above: a comment after a broken part's opening bracket was
    printed after its closing one, and the second `fmt` moved it again."""
    text = ("policy {\n  on request {\n    rule {\n      ai-gateway {\n        per_request_timeout: 1ms\n"
            f"        {part}\n      }}\n    }}\n  }}\n}}\n")
    out = format_policy(text)
    assert format_policy(out) == out
    line = next(ln for ln in out.splitlines() if "# after" in ln)
    assert line.rstrip().split("  #")[0].endswith(("[", "{"))
