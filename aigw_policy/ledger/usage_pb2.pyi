from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class UsageRecord(_message.Message):
    __slots__ = ("request_id", "time", "key", "user", "team", "org", "provider", "operation", "aigw_operation", "request_model", "response_model", "max_output_tokens", "stream", "input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens", "total_tokens", "usage_source", "cost_usd", "cost_source", "verdict", "status_code", "rule", "limits", "latency_ms", "attempts", "route_key_id", "would_deny", "reason", "cache_creation_1h_input_tokens")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    AIGW_OPERATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_MODEL_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    USAGE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    WOULD_DENY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CACHE_CREATION_1H_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    time: str
    key: str
    user: str
    team: str
    org: str
    provider: str
    operation: str
    aigw_operation: str
    request_model: str
    response_model: str
    max_output_tokens: int
    stream: bool
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_creation_input_tokens: int
    reasoning_tokens: int
    total_tokens: int
    usage_source: str
    cost_usd: float
    cost_source: str
    verdict: str
    status_code: int
    rule: str
    limits: str
    latency_ms: float
    attempts: int
    route_key_id: str
    would_deny: str
    reason: str
    cache_creation_1h_input_tokens: int
    def __init__(self, request_id: _Optional[str] = ..., time: _Optional[str] = ..., key: _Optional[str] = ..., user: _Optional[str] = ..., team: _Optional[str] = ..., org: _Optional[str] = ..., provider: _Optional[str] = ..., operation: _Optional[str] = ..., aigw_operation: _Optional[str] = ..., request_model: _Optional[str] = ..., response_model: _Optional[str] = ..., max_output_tokens: _Optional[int] = ..., stream: _Optional[bool] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., usage_source: _Optional[str] = ..., cost_usd: _Optional[float] = ..., cost_source: _Optional[str] = ..., verdict: _Optional[str] = ..., status_code: _Optional[int] = ..., rule: _Optional[str] = ..., limits: _Optional[str] = ..., latency_ms: _Optional[float] = ..., attempts: _Optional[int] = ..., route_key_id: _Optional[str] = ..., would_deny: _Optional[str] = ..., reason: _Optional[str] = ..., cache_creation_1h_input_tokens: _Optional[int] = ...) -> None: ...
