"""The stdio relay: every line, both ways, through the pipeline; forward, rewrite, refuse or answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.audit import system_event
from proxy.config import StdioConfig
from proxy.decision import Decision, deny
from proxy.errors import DrawbridgeError, ErrorCode, MessageError
from proxy.exchange import Exchange
from proxy.inspections.modern_headers import PROTOCOL_VERSION_META_KEY
from proxy.jsonrpc import dumps, error_response, kind_of, parse_body
from proxy.mcp_methods import MODERN_VERSIONS
from proxy.runtime import Runtime
from proxy.stdio.lines import LineSink, TooLong
from proxy.stdio.salvage import salvage
from proxy.types import Direction, Era, JsonObject, MessageKind, RequestId, Transport, Verdict

log = logging.getLogger("drawbridge.stdio")

ANSWERS = (MessageKind.RESPONSE, MessageKind.ERROR)
BATCH_REFUSED = "batch refused: another message in it was refused"
MAX_IN_FLIGHT = 4096  # per direction; the oldest is forgotten beyond this (requests never answered)


@dataclass(slots=True)
class Route:
    """One direction: who sent the line, who would receive it, and the requests in flight."""

    direction: Direction
    sender_name: str
    sender: LineSink  # answers to the sender's requests go here
    receiver: LineSink  # permitted messages go here
    outbound: dict[RequestId, JsonObject] = field(default_factory=dict)  # forwarded along this route
    inbound: dict[RequestId, JsonObject] = field(default_factory=dict)  # forwarded the other way

    def remember(self, request_id: RequestId, request: JsonObject) -> None:
        """Keep a forwarded request until its answer comes back (bounded: oldest forgotten first)."""
        self.outbound.pop(request_id, None)
        self.outbound[request_id] = request
        if len(self.outbound) > MAX_IN_FLIGHT:
            del self.outbound[next(iter(self.outbound))]


class Relay:
    """Decides each line from the agent (`from_agent`) and from the server (`from_child`)."""

    def __init__(self, runtime: Runtime, settings: StdioConfig, agent: LineSink, child: LineSink) -> None:
        self.runtime = runtime
        self.settings = settings
        self.era = Era.UNKNOWN
        self.to_server = Route(Direction.TO_SERVER, "agent", agent, child)
        self.to_client = Route(Direction.TO_CLIENT, "server", child, agent)
        self.to_client.inbound = self.to_server.outbound  # the server answers what the agent asked
        self.to_client.outbound = self.to_server.inbound  # and the agent what the server asked

    async def from_agent(self, line: bytes | TooLong) -> None:
        await self._line(self.to_server, line)

    async def from_child(self, line: bytes | TooLong) -> None:
        await self._line(self.to_client, line)

    async def _line(self, route: Route, line: bytes | TooLong) -> None:
        if isinstance(line, TooLong):
            limit = self.runtime.config.limits.max_stdio_line_bytes
            request_id, is_request = salvage(line.head)
            await self._refuse(route, MessageError(ErrorCode.LIMIT_EXCEEDED, f"line exceeds {limit} bytes"),
                               line.size, None, request_id, is_request)
            return
        if not line.strip():
            return
        try:
            parsed = parse_body(line, self.runtime.limits)
        except MessageError as exc:
            value = _loose_parse(line) if len(line) <= self.runtime.limits.max_body_bytes else None
            request_id = _recover_id(value)
            is_request = isinstance(value, dict) and "method" in value
            await self._refuse(route, exc, len(line), value if isinstance(value, dict) else None,
                               request_id, is_request)
            return
        if isinstance(parsed, list):
            await self._batch(route, line, parsed)
        else:
            await self._single(route, line, parsed)

    # -- well-formed messages -------------------------------------------------------------

    async def _single(self, route: Route, line: bytes, message: JsonObject) -> None:
        ex = self._exchange(route, message, len(line))
        if ex is None:
            return
        decision = self._record(ex, await self._decide(ex))
        if not decision.blocks:
            if ex.kind is MessageKind.REQUEST:
                route.remember(message["id"], ex.message)
            rewritten = decision.verdict is Verdict.REWRITE and decision.message is not None
            await route.receiver.write_line(dumps(decision.message) if rewritten else line)
            return
        log.debug("refused %s %s from the %s: %s", ex.kind.value, ex.method, route.sender_name, decision.reason)
        if ex.kind is MessageKind.REQUEST:
            await route.sender.write_line(dumps(_refusal(ex.id, decision)))
        elif ex.kind in ANSWERS:
            await route.receiver.write_line(dumps(_refusal(ex.id, decision)))

    async def _batch(self, route: Route, line: bytes, messages: list[JsonObject]) -> None:
        """Refuse the whole batch if any member is refused (answering its requests); else forward it."""
        exchanges = [ex for m in messages if (ex := self._exchange(route, m, len(line))) is not None]
        decisions = [await self._decide(ex) for ex in exchanges]
        refused = any(d.blocks for d in decisions)
        finals = [self._record(ex, _batch_refusal(d) if refused and not d.blocks else d)
                  for ex, d in zip(exchanges, decisions, strict=True)]
        if not any(d.blocks for d in finals):
            for ex in exchanges:
                if ex.kind is MessageKind.REQUEST and ex.id is not None:
                    route.remember(ex.id, ex.message)
            changed = len(exchanges) != len(messages) or any(d.verdict is Verdict.REWRITE for d in finals)
            if exchanges:
                await route.receiver.write_line(dumps([ex.message for ex in exchanges]) if changed else line)
            return
        to_sender = [_refusal(ex.id, d) for ex, d in zip(exchanges, finals, strict=True)
                     if ex.kind is MessageKind.REQUEST]
        to_receiver = [_refusal(ex.id, d) for ex, d in zip(exchanges, finals, strict=True) if ex.kind in ANSWERS]
        if to_sender:
            await route.sender.write_line(dumps(to_sender))
        if to_receiver:
            await route.receiver.write_line(dumps(to_receiver))

    def _exchange(self, route: Route, message: JsonObject, raw_size: int) -> Exchange | None:
        """Build the Exchange; an answer to nothing in flight is audited, refused and dropped (None)."""
        kind = kind_of(message)
        request = None
        if kind in ANSWERS:
            request = route.inbound.pop(message["id"], None)
        elif route.direction is Direction.TO_SERVER:
            self._track_era(message)
        ex = Exchange(direction=route.direction, message=message, raw_size=raw_size,
                      upstream=self.settings.upstream_name, principal=self.settings.principal,
                      agent=self.settings.agent, era=self.era, transport=Transport.STDIO, request=request)
        if kind in ANSWERS and request is None:
            log.warning("dropped an answer from the %s to no request in flight (id %r)",
                        route.sender_name, message.get("id"))
            self._record(ex, deny("answer to no request in flight; dropped",
                                  code=ErrorCode.INVALID_REQUEST, check="stdio"))
            return None
        return ex

    def _track_era(self, message: JsonObject) -> None:
        method = message.get("method")
        if method == "initialize":
            self.era = Era.HANDSHAKE
        elif self.era is not Era.HANDSHAKE and (
                method == "server/discover" or _meta_version(message) in MODERN_VERSIONS):
            self.era = Era.MODERN

    async def _decide(self, ex: Exchange) -> Decision:
        try:
            return await self.runtime.pipeline.decide(ex)
        except Exception:  # the pipeline contains inspection faults; anything else is a bug: fail closed
            log.exception("pipeline failed on %s", ex.method)
            return deny("internal error while inspecting; refused (fail closed)",
                        code=ErrorCode.INTERNAL_ERROR, check="pipeline")

    def _record(self, ex: Exchange, decision: Decision) -> Decision:
        try:
            return self.runtime.pipeline.record(ex, decision)
        except Exception:  # an event that cannot even be built must not let the message through
            log.exception("audit event for %s could not be built", ex.method)
            return deny("audit unavailable; refused (fail closed)", code=ErrorCode.INTERNAL_ERROR, check="audit")

    # -- lines that are not acceptable JSON-RPC ------------------------------------------

    async def _refuse(self, route: Route, exc: MessageError, size: int, value: JsonObject | None,
                      request_id: RequestId | None, is_request: bool) -> None:
        """Audit a line that is not acceptable JSON-RPC; answer whoever would wait because of it."""
        if value is not None:
            ex = Exchange(direction=route.direction, message=value, raw_size=size,
                          upstream=self.settings.upstream_name, principal=self.settings.principal,
                          agent=self.settings.agent, era=self.era, transport=Transport.STDIO,
                          request=route.inbound.get(request_id) if request_id is not None else None)
            self._record(ex, deny(exc.message, code=exc.code, check="jsonrpc"))
        else:
            self._system_event(route, exc, size, request_id)
        if route.direction is Direction.TO_CLIENT:
            log.warning("refused a line from the server (%d bytes): %s", size, exc.message)
        if is_request and request_id is not None:
            await route.sender.write_line(dumps(error_response(request_id, exc.code, exc.message)))
        elif request_id is not None and route.inbound.pop(request_id, None) is not None:
            reason = f"the {route.sender_name} answered with an unacceptable message: {exc.message}"
            await route.receiver.write_line(dumps(error_response(request_id, _garbage_code(route, exc), reason)))
        elif route.direction is Direction.TO_SERVER:
            await route.sender.write_line(dumps(error_response(request_id, exc.code, exc.message)))

    def _system_event(self, route: Route, exc: MessageError, size: int, request_id: RequestId | None) -> None:
        try:
            self.runtime.auditor.emit(system_event(
                "message_refused", direction=route.direction.value, transport=Transport.STDIO.value,
                upstream=self.settings.upstream_name, principal=self.settings.principal, agent=self.settings.agent,
                jsonrpc_id=request_id, reason=exc.message, error_code=int(exc.code), bytes=size))
        except DrawbridgeError as err:
            log.error("audit unavailable for a refused line: %s", err)


def _refusal(request_id: RequestId | None, decision: Decision) -> JsonObject:
    """The JSON-RPC error for a refused message; `data.rule_ids` names the deciding rules."""
    data = decision.error_data
    if data is None and decision.rule_ids:
        data = {"rule_ids": list(decision.rule_ids)}
    return error_response(request_id, decision.code, decision.reason, data)


def _batch_refusal(decision: Decision) -> Decision:
    return deny(BATCH_REFUSED, code=ErrorCode.POLICY_DENIED, findings=decision.findings, check="batch")


def _garbage_code(route: Route, exc: MessageError) -> ErrorCode:
    """Code for the error sent in place of an unacceptable answer: a too-big one keeps its limit code."""
    if exc.code is ErrorCode.LIMIT_EXCEEDED:
        return exc.code
    return ErrorCode.UPSTREAM_UNAVAILABLE if route.direction is Direction.TO_CLIENT else ErrorCode.INVALID_REQUEST


def _meta_version(message: JsonObject) -> Any:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None


def _loose_parse(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _recover_id(value: Any) -> RequestId | None:
    request_id = value.get("id") if isinstance(value, dict) else None
    if isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)):
        return request_id
    return None
