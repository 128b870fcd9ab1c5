"""The Exchange: one JSON-RPC message in flight, with everything known about who and where."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proxy.jsonrpc import kind_of
from proxy.types import Direction, Era, JsonObject, MessageKind, RequestId, Transport

NAME_KEYS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
             "resources/subscribe": "uri", "resources/unsubscribe": "uri"}


@dataclass(slots=True)
class Exchange:
    """Built by a transport adapter, read by inspections, acted on only by the endpoint.

    For a response (direction TO_CLIENT, no method), `request` is the request it answers, so
    inspections know which method produced it.
    """

    direction: Direction
    message: JsonObject
    raw_size: int
    upstream: str
    principal: str
    agent: str | None = None
    session_id: str | None = None
    era: Era = Era.UNKNOWN
    transport: Transport = Transport.HTTP
    client_address: str | None = None
    request: JsonObject | None = None
    credential_hash: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    kind: MessageKind = field(init=False)

    def __post_init__(self) -> None:
        self.kind = kind_of(self.message)

    @property
    def method(self) -> str | None:
        """The JSON-RPC method, or for a response the method of the request it answers."""
        method = self.message.get("method")
        if method is None and self.request is not None:
            method = self.request.get("method")
        return method if isinstance(method, str) else None

    @property
    def id(self) -> RequestId | None:
        value = self.message.get("id")
        return value if isinstance(value, (str, int)) else None

    @property
    def params(self) -> JsonObject:
        source = self.message if "method" in self.message else (self.request or {})
        params = source.get("params")
        return params if isinstance(params, dict) else {}

    @property
    def target_name(self) -> str | None:
        """The tool, prompt or resource the message is about (tools/call name, resources/read uri, …)."""
        key = NAME_KEYS.get(self.method or "")
        value = self.params.get(key) if key else None
        return value if isinstance(value, str) else None

    @property
    def tool_name(self) -> str | None:
        return self.target_name if self.method == "tools/call" else None

    @property
    def arguments(self) -> JsonObject:
        args = self.params.get("arguments") if self.method in ("tools/call", "prompts/get") else None
        return args if isinstance(args, dict) else {}

    @property
    def result(self) -> Any:
        return self.message.get("result")
