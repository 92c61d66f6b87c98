"""OpenAI's image, audio and moderation endpoints (fixtures: ``data/spec/openai/images_*``,
``audio_transcription_*``, run through ``explain`` and split anywhere by test_spec_payloads.py /
test_payload_classes.py):

- their bodies are no completion's, whatever they hold (a ``prompt``): never given
  ``stream_options``;
- a ``multipart/form-data`` body names its model and ``stream`` in small text fields;
- their usage breaks the input (and output) down into image and audio tokens, each billed at
  its own price: read as units (the transcriptions' spelling ``input_token_details`` too).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage, inject_include_usage
from aigw_policy.providers.forms import MAX_FORM_BYTES, form_fields
from aigw_policy.providers.usage_openai import openai_usage

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize("path", ["/v1/images/generations", "/v1/images/edits", "/v1/images/variations",
                                  "/v1/audio/speech", "/v1/moderations",
                                  "/openai/deployments/img/images/generations"])
def test_media_endpoints_are_no_completion(path: str) -> None:
    body = {"model": "gpt-image-1", "prompt": "a cat", "input": "a cat", "stream": True}
    ai = classify({"url": "https://api.openai.com" + path, "body": body})
    assert (ai.api, ai.operation, ai.stream) == ("openai", "other", True)
    assert inject_include_usage(ai, body) == (body, False)


def _form(*fields: tuple[str, str, bool], boundary: str = "b0und") -> str:
    parts = []
    for name, value, is_file in fields:
        disp = f'form-data; name="{name}"' + ('; filename="a.wav"' if is_file else "")
        parts.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n{value}\r\n")
    return "".join(parts) + f"--{boundary}--\r\n"


@pytest.mark.parametrize(("ctype", "body", "want"), [
    ("multipart/form-data; boundary=b0und", _form(("model", "whisper-1", False)), {"model": "whisper-1"}),
    ('multipart/form-data; boundary="b0und"', _form(("file", "RIFF....", True), ("model", "gpt-4o-transcribe", False),
                                                     ("stream", "True", False)),
     {"model": "gpt-4o-transcribe", "stream": True}),
    ("multipart/form-data; charset=utf-8; boundary=b0und",
     _form(("model", "gpt-image-1", False), ("model", "second", False), ("stream", "maybe", False)),
     {"model": "gpt-image-1"}),  # the first of a repeated field; a `stream` that is no boolean: absent
    ("multipart/form-data; boundary=b0und", _form(("file", "model", True)), {}),  # a file part is never a field
    ("multipart/form-data; boundary=b0und", _form(("model", "x", False))[:-30], {}),  # cut off inside the field
    ("multipart/form-data", _form(("model", "x", False)), None),  # no boundary
    ("application/json", _form(("model", "x", False)), None),
])
def test_a_form_names_its_small_text_fields(ctype: str, body: str, want: dict[str, object] | None) -> None:
    assert form_fields(body, ctype) == want
    assert form_fields(body.encode(), ctype) == want


def test_a_field_past_the_bytes_looked_at_is_not_read() -> None:
    body = _form(("file", "x" * MAX_FORM_BYTES, True), ("model", "whisper-1", False))
    assert form_fields(body, "multipart/form-data; boundary=b0und") == {}


def test_a_multipart_request_is_classified_by_its_fields() -> None:
    body = _form(("file", "\x00\x01binary", True), ("model", "gpt-4o-transcribe", False), ("stream", "true", False))
    ai = classify({"url": "https://api.openai.com/v1/audio/transcriptions",
                   "headers": {"Content-Type": "multipart/form-data; boundary=b0und"}, "body": body.encode()})
    assert (ai.model, ai.stream, ai.operation, ai.notes) == ("gpt-4o-transcribe", True, "other", ())


@pytest.mark.parametrize(("usage", "units"), [
    ({"input_tokens": 373, "output_tokens": 4160, "input_tokens_details": {"text_tokens": 50, "image_tokens": 323}},
     (("input_image_tokens", 323),)),
    ({"input_tokens": 14, "output_tokens": 45, "input_token_details": {"text_tokens": 0, "audio_tokens": 14}},
     (("input_audio_tokens", 14),)),
    ({"input_tokens": 30, "output_tokens": 1056, "input_tokens_details": {"image_tokens": 10, "audio_tokens": 5},
      "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0}},
     (("input_audio_tokens", 5), ("input_image_tokens", 10), ("output_image_tokens", 1056))),
    ({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"image_tokens": 60, "cached_tokens": 0}},
     (("input_image_tokens", 60),)),
    ({"input_tokens": 10, "output_tokens": 1, "input_tokens_details": {"image_tokens": 8, "audio_tokens": 8}}, ()),
])
def test_image_and_audio_parts_are_billed_apart(usage: dict[str, object], units: tuple[tuple[str, int], ...]) -> None:
    u = openai_usage(usage)
    assert u is not None and u.units == units
    if not units:
        assert any("priced as text" in n for n in u.notes)


def test_image_input_costs_the_image_price() -> None:
    """gpt-image-1: text input $5, image input $10, output $40 per MTok."""
    ai = classify({"url": "https://api.openai.com/v1/images/edits", "body": {"model": "gpt-image-1", "prompt": "x"}})
    u = extract_usage(ai, {"status_code": 200, "body": {"usage": {
        "input_tokens": 1050, "output_tokens": 1000, "input_tokens_details": {"text_tokens": 50, "image_tokens": 1000}}}})
    got = PriceBook().cost(ai.provider, ai.model, u, at=AT).as_float()
    assert got == pytest.approx((50 * 5 + 1000 * 10 + 1000 * 40) / 1e6, rel=1e-9)
