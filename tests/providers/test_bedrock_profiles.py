"""A Bedrock inference profile is served and priced as itself (``usage.profiled``).

Claude's answers through InvokeModel (JSON and stream) name the model without the profile of
the path (``claude-opus-4-5-20251101`` for ``global.anthropic.claude-opus-4-5-20251101-v1:0``):
priced by that name, a ``global.`` profile cost the regional price, 10% above. The payloads
(and their cost by hand) are ``data/spec/bedrock/invoke_*global_profile*``; this is the rule's table.
"""

from __future__ import annotations

import pytest

from aigw_policy.providers import Usage
from aigw_policy.providers.usage import profiled

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5"
ROWS = [
    # requested (the path), served (the answer's `model`), what the usage is served as
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5-20251101",
     "global.anthropic.claude-opus-4-5-20251101-v1:0"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929",
     "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet-20250219",
     "anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001",
     "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
    # an application profile's ARN holds no model name: the answer says what ran
    (ARN, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    # another model than the path's (a name the path does not hold after a dot): the answer's
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
    ("my.claude-sonnet-4-5x", "sonnet-4-5", "sonnet-4-5"),
    # no name in the answer (Converse): the request's, as before
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", None, None),
    (None, "claude-opus-4-5-20251101", "claude-opus-4-5-20251101"),
]


@pytest.mark.parametrize(("requested", "served", "want"), ROWS)
def test_a_profile_is_served_as_itself(requested: str | None, served: str | None, want: str | None) -> None:
    usage = Usage.of(10, 5, model=served)
    got = profiled(usage, requested)
    assert got.model == want
    assert (got.input_tokens, got.output_tokens) == (10, 5)
