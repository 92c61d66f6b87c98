"""OpenTelemetry spans: built only once the process has installed a tracer provider (an SDK);
before that the API's spans go nowhere and the gateway does not build them."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_policy.gateway.metrics import Observer

trace = pytest.importorskip("opentelemetry.trace")

EVENT = {"request_id": "req-1", "method": "POST", "path": "/v1/chat/completions", "verdict": "allow",
         "status_code": 502, "latency_ms": 3.0, "overhead_ms": 0.2, "start_ns": 1}


class Tracer:
    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []
        self.ended = 0
        self.statuses: list[Any] = []

    def start_span(self, name: str, *, start_time: Any, attributes: dict[str, Any]) -> Tracer:
        self.spans.append((name, attributes))
        return self

    def set_status(self, status: Any) -> None:
        self.statuses.append(status)

    def end(self) -> None:
        self.ended += 1


def observer(tracer: Tracer) -> Observer:
    obs = Observer(prometheus=False, otel=True)
    obs._tracer = tracer
    return obs


def test_no_span_is_built_before_an_sdk_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    tracer = Tracer()
    observer(tracer)(dict(EVENT))
    assert tracer.spans == [] and tracer.ended == 0


def test_a_span_per_request_once_an_sdk_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    tracer = Tracer()
    observer(tracer)(dict(EVENT))
    [(name, attrs)] = tracer.spans
    assert name == "other" and attrs["aigw.request.id"] == "req-1" and attrs["http.response.status_code"] == 502
    assert tracer.ended == 1 and len(tracer.statuses) == 1  # a 5xx is an error span
