"""The answers of `prove` against requests whose limits are in any state (SPEC §13: "limits
are treated as free, a limit may be in any state, unless `--limits-ok`"). The properties of
test_properties.py sample requests on a fresh store, where every limit has room: an answer
wrong only when a limit is full or nearly full (a 429 earlier, `limits['rl'].remaining`
read) was never sampled. Here each sample may carry a `state` filling `rl` or `tl` (empty,
nearly full, full); answers given without `--limits-ok` must hold for every sample, those
given with it for the samples whose limits have room."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.prove.questions import equiv, query, rules

from . import test_properties as base
from .helpers import compiled, explain

# a limit's state read by a condition, beside the base atoms
READS = ["'rl' in limits && limits['rl'].remaining < 2.0", "limits[?'tl'].remaining.orValue(0.0) > 50.0"]
FILLED = {"rl": [0, 99, 100], "tl": [0, 99_990, 100_000]}  # the capacities of base.ACTIONS' limits


@st.composite
def conditions(draw: Any) -> str:
    return draw(st.one_of(base.conditions(1), st.sampled_from(READS),
                          st.builds(lambda a, b: f"({a}) && ({b})", st.sampled_from(READS), base.conditions(0))))


@st.composite
def policies(draw: Any) -> str:
    """base.policies, with a condition that reads a limit's state put in front of a rule."""
    text = draw(base.policies())
    if draw(st.booleans()):
        read = draw(st.sampled_from(READS))
        text = text.replace("  - name: r1\n", f"  - name: r1\n    expressions: [\"{read}\"]\n", 1) \
            if "expressions" not in text.partition("  - name: r1\n")[2].partition("  - name:")[0] else text
    return text


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    """base.requests, with `rl` and `tl` (bucket per model) at any fill."""
    request = draw(base.requests())
    model = request["request"]["body"]["model"]
    state = {name: {model: {"used": draw(st.sampled_from(fills))}} for name, fills in FILLED.items()
             if draw(st.booleans())}
    if state:
        request["state"] = {"limits": state}
    return request


def _for(request: dict[str, Any], *texts: str) -> dict[str, Any]:
    """``request`` with the state of the limits every policy of ``texts`` defines (a state
    naming a limit the policy has not is a bad request)."""
    limits = {name: buckets for name, buckets in request.get("state", {}).get("limits", {}).items()
              if all(f"name: {name}," in text for text in texts)}
    plain = {k: v for k, v in request.items() if k != "state"}
    return {**plain, "state": {"limits": limits}} if limits else plain


def _room(request: dict[str, Any]) -> bool:
    """Whether every limit the request's state sets has room for it (`--limits-ok`)."""
    return all(u["used"] == 0 for buckets in request.get("state", {}).get("limits", {}).values()
               for u in buckets.values())


@settings(max_examples=25, deadline=None)
@given(policies(), st.booleans(), st.lists(requests(), min_size=20, max_size=20))
def test_rule_answers_hold_in_any_limit_state(text: str, limits_ok: bool, samples: list[dict[str, Any]]) -> None:
    cp = compiled(text)
    answers = rules(cp, limits_ok=limits_ok)
    never = {a.rule for a in answers if a.result in ("unreachable", "shadowed")}
    for request in (_for(r, text) for r in samples):
        if limits_ok and not _room(request):
            continue
        assert not never & explain(cp, request)[3], (text, limits_ok, request)


@settings(max_examples=25, deadline=None)
@given(policies(), conditions(), st.sampled_from(["allow", "deny"]), st.booleans(),
       st.lists(requests(), min_size=20, max_size=20))
def test_query_answers_hold_in_any_limit_state(text: str, where: str, verdict: str, limits_ok: bool,
                                               samples: list[dict[str, Any]]) -> None:
    from aigw_policy.prove.witness import where_holds

    cp = compiled(text)
    answer = query(cp, where, verdict, limits_ok=limits_ok)
    if answer.result == "possible":
        got = explain(cp, answer.witness)  # type: ignore[arg-type]
        assert got[0] == verdict and where_holds(where, answer.witness)  # type: ignore[arg-type]
    elif answer.result == "impossible":
        for request in (_for(r, text) for r in samples):
            if (not limits_ok or _room(request)) and where_holds(where, request):
                assert explain(cp, request)[0] != verdict, (text, where, limits_ok, request)


@settings(max_examples=25, deadline=None)
@given(policies(), policies(), st.booleans(), st.lists(requests(), min_size=20, max_size=20))
def test_equiv_answers_hold_in_any_limit_state(old: str, new: str, limits_ok: bool,
                                               samples: list[dict[str, Any]]) -> None:
    a, b = compiled(old), compiled(new)
    answer = equiv(a, b, limits_ok=limits_ok)
    if answer.result == "counterexample":
        assert explain(a, answer.witness)[:2] != explain(b, answer.witness)[:2]  # type: ignore[arg-type]
    elif answer.result == "equivalent":
        for request in (_for(r, old, new) for r in samples):
            if not limits_ok or _room(request):
                assert explain(a, request)[:2] == explain(b, request)[:2], (old, new, limits_ok, request)
