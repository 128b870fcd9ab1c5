"""Inspect what the upstream answers, message by message, before the agent sees any of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.decision import Decision, refusal_response
from proxy.errors import ErrorCode, MessageError
from proxy.http.call import Call, Pending
from proxy.jsonrpc import dumps, error_response, kind_of, parse_body
from proxy.types import Direction, JsonObject, MessageKind, RequestId, Verdict

if TYPE_CHECKING:
    from proxy.http.context import Plane, Upstream


class AnswerInspector:
    """Runs every message from the upstream through the pipeline for one call."""

    def __init__(self, plane: Plane, upstream: Upstream, call: Call) -> None:
        self.plane = plane
        self.runtime = plane.runtime
        self.upstream = upstream
        self.call = call

    async def message(self, message: JsonObject, raw_size: int) -> tuple[JsonObject | None, bool]:
        """Decide one message. Returns (message to deliver or None to drop, changed?)."""
        call = self.call
        kind = kind_of(message)
        pending = None
        if kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            msg_id = message.get("id")
            pending = call.requests.pop(msg_id, None) if isinstance(msg_id, (str, int)) else None
        ex = call.exchange(Direction.TO_CLIENT, message, raw_size, pending)
        decision = await self.runtime.pipeline.run(ex)
        if decision.verdict is Verdict.ALLOW or (decision.verdict is Verdict.REWRITE and decision.message is not None):
            delivered = message if decision.message is None else decision.message
            return delivered, delivered is not message
        if kind is MessageKind.REQUEST:
            self.plane.reject_server_request(self.upstream, call, message, decision)
            return None, True
        if kind is MessageKind.NOTIFICATION:
            return None, True
        return refusal_response(message.get("id"), decision), True

    async def body(self, raw: bytes) -> bytes:
        """Inspect a whole JSON answer; return the bytes to deliver (the original when unchanged)."""
        try:
            parsed: Any = parse_body(raw, self.runtime.limits)
        except MessageError as exc:
            return dumps(self.garbage(f"upstream answered with an invalid message ({exc.message})"))
        if isinstance(parsed, dict):
            out, changed = await self.message(parsed, len(raw))
            if not changed:
                return raw
            return dumps(out) if out is not None else b""
        delivered: list[JsonObject] = []
        any_changed = False
        for item in parsed:
            out, changed = await self.message(item, len(raw))
            any_changed |= changed
            if out is not None:
                delivered.append(out)
        return dumps(delivered) if any_changed else raw

    def garbage(self, reason: str, code: ErrorCode = ErrorCode.UPSTREAM_UNAVAILABLE) -> JsonObject | list[JsonObject]:
        """Error answers for every request still waiting, each recorded as the proxy's own message."""
        waiting: list[tuple[RequestId | None, Pending | None]] = list(self.call.requests.items()) or [(None, None)]
        self.call.requests.clear()
        decision = Decision(Verdict.DENY, reason=reason, code=code, check="upstream")
        errors = []
        for request_id, pending in waiting:
            error = error_response(request_id, code, reason)
            self.plane.emitted(self.call, Direction.TO_CLIENT, error, decision, pending)
            errors.append(error)
        return errors[0] if len(errors) == 1 else errors
