from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "data" / "recorded"


@dataclass(frozen=True)
class Case:
    provider: str
    name: str
    kind: str  # json | sse | ndjson
    payload: bytes
    expected: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}.{self.kind}"

    def response(self) -> dict[str, Any]:
        meta = self.expected.get("response", {})
        if self.kind == "json":
            return {"status_code": 200, "headers": meta.get("headers", {}), "body": json.loads(self.payload)}
        if self.kind == "ndjson":
            return {"status_code": 200, "headers": meta.get("headers", {}), "body": self.payload.decode()}
        return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": self.payload.decode()}


def load_cases() -> list[Case]:
    cases = []
    for exp in sorted(FIXTURES.glob("*/*.expected.json")):
        name = exp.name[: -len(".expected.json")]
        for kind in ("json", "sse", "ndjson"):
            data = exp.parent / f"{name}.{kind}"
            if data.exists():
                cases.append(Case(exp.parent.name, name, kind, data.read_bytes(), json.loads(exp.read_text())))
    return cases


CASES = load_cases()
STREAM_CASES = [c for c in CASES if c.kind != "json"]
