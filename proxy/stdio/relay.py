"""The stdio relay: every line, both ways, through the pipeline; forward, rewrite, refuse or answer.

One process serves one conversation, so the relay pairs answers with the requests it forwarded itself
(its routing table). Every line gets exactly one decision event; every line the relay writes on its own
(an error in place of a refused answer) is recorded as the proxy's message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from proxy.config import StdioConfig
from proxy.decision import Decision, deny
from proxy.errors import ErrorCode, MessageError
from proxy.exchange import Exchange
from proxy.inspections.modern_headers import PROTOCOL_VERSION_META_KEY
from proxy.jsonrpc import dumps, error_response, kind_of, parse_body
from proxy.mcp_methods import MODERN_VERSIONS
from proxy.runtime import Runtime
from proxy.stdio.lines import LineSink, TooLong
from proxy.stdio.salvage import salvage
from proxy.tracing import TRACE_NOTE
from proxy.types import Direction, Era, JsonObject, MessageKind, Origin, RequestId, Transport, Verdict

if TYPE_CHECKING:
    from proxy.tracing.spans import MessageTrace

log = logging.getLogger("drawbridge.stdio")

ANSWERS = (MessageKind.RESPONSE, MessageKind.ERROR)
BATCH_REFUSED = "batch refused: another message in it was refused"
TOOL_CALL = b'"tools/call"'  # only a tool call can be held for approval
SLOW_DECISION_SECONDS = 0.5  # a decision slower than this goes on in the background
MAX_IN_FLIGHT = 4096  # per direction; the oldest is forgotten beyond this (requests never answered)


class InFlight(NamedTuple):
    """A request forwarded one way, waiting for its answer from the other side."""

    request: JsonObject
    call_id: str | None
    trace: MessageTrace | None = None  # its spans (tracing on): carried to the exchange of its answer


@dataclass(slots=True)
class Route:
    """One direction: who sent the line, who would receive it, and the requests in flight."""

    direction: Direction
    sender_name: str
    sender: LineSink  # answers to the sender's requests go here
    receiver: LineSink  # permitted messages go here
    outbound: dict[RequestId, InFlight] = field(default_factory=dict)  # forwarded this way
    inbound: dict[RequestId, InFlight] = field(default_factory=dict)  # forwarded the other way

    def remember(self, request_id: RequestId, request: JsonObject, call_id: str | None,
                 trace: MessageTrace | None = None) -> None:
        """Keep a forwarded request until its answer comes back (bounded: oldest forgotten first)."""
        self.outbound.pop(request_id, None)
        self.outbound[request_id] = InFlight(request, call_id, trace)
        if len(self.outbound) > MAX_IN_FLIGHT:
            del self.outbound[next(iter(self.outbound))]


class Relay:
    """Decides each line from the agent (`from_agent`) and from the server (`from_child`)."""

    def __init__(self, runtime: Runtime, settings: StdioConfig, agent: LineSink, child: LineSink) -> None:
        self.runtime = runtime
        self.settings = settings
        self.era = Era.UNKNOWN
        self.client_key = f"stdio-{secrets.token_hex(8)}"  # this process's one conversation
        self.to_server = Route(Direction.TO_SERVER, "agent", agent, child)
        self.to_client = Route(Direction.TO_CLIENT, "server", child, agent)
        self.to_client.inbound = self.to_server.outbound  # the server answers what the agent asked
        self.to_client.outbound = self.to_server.inbound  # and the agent what the server asked
        self._slow: set[asyncio.Future[None]] = set()  # tool calls whose decision went on in the background

    async def from_agent(self, line: bytes | TooLong) -> None:
        """Decide one line from the agent. A tool call whose decision is slow (held for a human's approval)
        goes on in the background, so the agent's next lines are not held behind it."""
        if isinstance(line, TooLong) or TOOL_CALL not in line:
            await self._line(self.to_server, line)
            return
        task = asyncio.ensure_future(self._line(self.to_server, line))
        done, _ = await asyncio.wait({task}, timeout=SLOW_DECISION_SECONDS)
        if done:
            task.result()
            return
        self._slow.add(task)
        task.add_done_callback(self._slow_done)

    def _slow_done(self, task: asyncio.Future[None]) -> None:
        self._slow.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a tool call decided in the background failed", exc_info=task.exception())

    async def finish_slow(self, seconds: float) -> None:
        """At shutdown: let decisions still in the background end (each is audited), then cancel the rest."""
        if self._slow:
            await asyncio.wait(set(self._slow), timeout=seconds)
        left = set(self._slow)
        for task in left:
            task.cancel()  # a held call is then refused and audited as withdrawn
        if left:
            await asyncio.wait(left, timeout=seconds)

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
        tracing = self.runtime.tracing
        traces = tracing.received([ex]) if tracing is not None else None
        decision = await self.runtime.pipeline.settle(ex, await self._decide(ex))
        if not decision.blocks:
            rewritten = decision.verdict is Verdict.REWRITE and decision.message is not None
            if tracing is not None and traces:
                tracing.forwarding(traces, None, rewritten)  # a rewritten message carries it in `_meta`
            if ex.kind is MessageKind.REQUEST:
                route.remember(message["id"], ex.message, ex.call_id, traces[0] if traces else None)
            await route.receiver.write_line(dumps(ex.message if traces else decision.message) if rewritten else line)
            if tracing is not None and traces and ex.kind is MessageKind.NOTIFICATION:
                tracing.finish(traces)
            return
        log.debug("refused %s %s from the %s: %s", ex.kind.value, ex.method, route.sender_name, decision.reason)
        if ex.kind is MessageKind.REQUEST:
            await route.sender.write_line(dumps(_refusal(ex.id, decision)))
        elif ex.kind in ANSWERS and ex.request is not None:
            await route.receiver.write_line(dumps(self._in_place(route, ex, decision)))

    async def _batch(self, route: Route, line: bytes, messages: list[JsonObject]) -> None:
        """Refuse the whole batch if any member is refused (answering its requests); else forward it."""
        exchanges = [self._exchange(route, m, len(line)) for m in messages]
        tracing = self.runtime.tracing
        traces = tracing.received(exchanges) if tracing is not None else None
        decisions = [await self._decide(ex) for ex in exchanges]
        refused = any(d.blocks for d in decisions)
        finals = [await self.runtime.pipeline.settle(ex, _batch_refusal(d) if refused and not d.blocks else d)
                  for ex, d in zip(exchanges, decisions, strict=True)]
        if not any(d.blocks for d in finals):
            changed = any(d.verdict is Verdict.REWRITE for d in finals)
            if tracing is not None and traces:
                tracing.forwarding(traces, None, changed)
            for ex in exchanges:
                if ex.kind is MessageKind.REQUEST and ex.id is not None:
                    route.remember(ex.id, ex.message, ex.call_id, ex.notes.get(TRACE_NOTE) if traces else None)
            await route.receiver.write_line(dumps([ex.message for ex in exchanges]) if changed else line)
            if tracing is not None and traces:
                tracing.finish(t for t in traces if t.exchange.kind is MessageKind.NOTIFICATION)
            return
        to_sender = [_refusal(ex.id, d) for ex, d in zip(exchanges, finals, strict=True)
                     if ex.kind is MessageKind.REQUEST]
        to_receiver = [self._in_place(route, ex, d) for ex, d in zip(exchanges, finals, strict=True)
                       if ex.kind in ANSWERS and ex.request is not None]
        if to_sender:
            await route.sender.write_line(dumps(to_sender))
        if to_receiver:
            await route.receiver.write_line(dumps(to_receiver))

    def _exchange(self, route: Route, message: JsonObject, raw_size: int) -> Exchange:
        """Build the Exchange; an answer is paired with the request it answers (the pairing check refuses
        one that answers nothing in flight)."""
        kind = kind_of(message)
        pending = route.inbound.pop(message["id"], None) if kind in ANSWERS else None
        if kind not in ANSWERS and route.direction is Direction.TO_SERVER:
            self._track_era(message)
        ex = self._build(route, message, raw_size, request=pending.request if pending else None,
                         call_id=pending.call_id if pending else None)
        if pending is not None and pending.trace is not None:
            pending.trace.attach(ex)
        return ex

    def _build(self, route: Route, message: JsonObject, raw_size: int, *, request: JsonObject | None = None,
               call_id: str | None = None, origin: Origin | None = None,
               kind: MessageKind | None = None) -> Exchange:
        return Exchange(direction=route.direction, message=message, raw_size=raw_size,
                        upstream=self.settings.upstream_name, principal=self.settings.principal,
                        agent=self.settings.agent, era=self.era, transport=Transport.STDIO, request=request,
                        client_key=self.client_key, call_id=call_id, origin=origin, forced_kind=kind)

    def _in_place(self, route: Route, ex: Exchange, decision: Decision) -> JsonObject:
        """The error the receiver gets instead of a refused answer (recorded as the proxy's message)."""
        error = _refusal(ex.id, decision)
        self._record(self._build(route, error, len(dumps(error)), request=ex.request, call_id=ex.call_id,
                                 origin=Origin.PROXY),
                     Decision(Verdict.ALLOW, reason="error sent in place of a refused answer", check="proxy"))
        return error

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
        return self.runtime.pipeline.record(ex, decision)

    # -- lines that are not acceptable JSON-RPC ------------------------------------------

    async def _refuse(self, route: Route, exc: MessageError, size: int, value: JsonObject | None,
                      request_id: RequestId | None, is_request: bool) -> None:
        """Record a line that is not acceptable JSON-RPC; answer whoever would wait because of it."""
        pending = route.inbound.pop(request_id, None) if request_id is not None and not is_request else None
        ex = self._build(route, value or {}, size, request=pending.request if pending else None,
                         call_id=pending.call_id if pending else None, kind=MessageKind.INVALID)
        self._record(ex, deny(exc.message, code=exc.code, check="jsonrpc"))
        if route.direction is Direction.TO_CLIENT:
            log.warning("refused a line from the server (%d bytes): %s", size, exc.message)
        if is_request and request_id is not None:
            await route.sender.write_line(dumps(error_response(request_id, exc.code, exc.message)))
        elif pending is not None:
            reason = f"the {route.sender_name} answered with an unacceptable message: {exc.message}"
            error = error_response(request_id, _garbage_code(route, exc), reason)
            in_place = self._build(route, error, len(dumps(error)), request=pending.request,
                                   call_id=pending.call_id, origin=Origin.PROXY)
            if pending.trace is not None:
                pending.trace.attach(in_place)
            self._record(in_place, Decision(Verdict.ALLOW, reason="error sent in place of an unacceptable answer",
                                            check="proxy"))
            await route.receiver.write_line(dumps(error))
        elif route.direction is Direction.TO_SERVER:
            await route.sender.write_line(dumps(error_response(request_id, exc.code, exc.message)))


def _refusal(request_id: RequestId | None, decision: Decision) -> JsonObject:
    """The JSON-RPC error for a refused message; `data.rule_ids` names the deciding rules (a request the proxy
    answers itself, such as an approval asked in the agent's UI, gets that result instead)."""
    if decision.reply is not None:
        return {"jsonrpc": "2.0", "id": request_id, "result": decision.reply}
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
