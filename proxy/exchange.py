"""The Exchange: one JSON-RPC message in flight, with everything known about who and where."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proxy.jsonrpc import kind_of
from proxy.types import Direction, Era, JsonObject, MessageKind, Origin, RequestId, Transport

NAME_KEYS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
             "resources/subscribe": "uri", "resources/unsubscribe": "uri"}
ARGUMENT_METHODS = frozenset({"tools/call", "prompts/get"})
# A note a transport may set: an async callable a check awaits before it waits long for a decision (a hold
# for approval), so the transport can keep the agent's connection alive meanwhile.
SLOW_DECISION_NOTE = "slow_decision"


def client_host(address: str | None) -> str | None:
    """The client's host without its port (`HOST:PORT` as transports record it): every connection has its own
    port, so anything keyed on "where the client is" uses the host."""
    if address is None:
        return None
    host, colon, port = address.rpartition(":")
    return host if colon and port.isdigit() else address


@dataclass(slots=True)
class Exchange:
    """Built by a transport adapter, read by inspections, acted on only by the endpoint.

    For an answer (no method), `request` is the request it answers, so inspections know which method
    produced it. The derived fields (`kind`, `method`, `params`, `target_name`) are computed once;
    `replace_message` keeps them in step with a rewrite.

    `client_key` names the agent's conversation in both eras (the handshake session id, or a key derived
    for a stateless client); `call_id` joins a request to its answer; `origin` says who wrote the message
    (by default the peer it came from); `forced_kind` marks input that is not a JSON-RPC message at all.
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
    user_agent: str | None = None  # the HTTP User-Agent (bounded), for credential-misuse detection
    request: JsonObject | None = None
    credential_hash: str | None = None
    client_key: str | None = None
    call_id: str | None = None
    trace_id: str | None = None
    origin: Origin | None = None
    http_method: str | None = None
    http_status: int | None = None
    forced_kind: MessageKind | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    kind: MessageKind = field(init=False)
    method: str | None = field(init=False)
    params: JsonObject = field(init=False)
    target_name: str | None = field(init=False)

    def __post_init__(self) -> None:
        if self.origin is None:
            self.origin = Origin.AGENT if self.direction is Direction.TO_SERVER else Origin.SERVER
        self._derive()

    def replace_message(self, message: JsonObject) -> None:
        self.message = message
        self._derive()

    def answers(self, request: JsonObject, call_id: str | None) -> None:
        """Pair this answer with the request it answers (found after the exchange was built)."""
        self.request = request
        self.call_id = call_id
        self._derive()

    def _derive(self) -> None:
        message = self.message
        self.kind = self.forced_kind or kind_of(message)
        source = message if "method" in message else (self.request or {})
        method = source.get("method")
        self.method = method if isinstance(method, str) else None
        params = source.get("params")
        self.params = params if isinstance(params, dict) else {}
        key = NAME_KEYS.get(self.method or "")
        name = self.params.get(key) if key else None
        self.target_name = name if isinstance(name, str) else None

    @property
    def id(self) -> RequestId | None:
        value = self.message.get("id")
        return value if isinstance(value, (str, int)) else None

    @property
    def tool_name(self) -> str | None:
        return self.target_name if self.method == "tools/call" else None

    @property
    def arguments(self) -> JsonObject:
        args = self.params.get("arguments") if self.method in ARGUMENT_METHODS else None
        return args if isinstance(args, dict) else {}

    @property
    def result(self) -> Any:
        return self.message.get("result")
