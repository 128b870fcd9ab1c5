"""Inspect what the upstream answers, message by message, before the agent sees any of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from proxy.decision import Decision, refusal_response
from proxy.errors import ErrorCode, MessageError
from proxy.http.call import Call
from proxy.jsonrpc import dumps, error_response, kind_of, parse_body
from proxy.runtime import Runtime
from proxy.types import Direction, JsonObject, MessageKind, RequestId, Verdict

# Called when a server→client request is refused, so the server is not left waiting.
RejectServerRequest = Callable[[JsonObject, Decision], Awaitable[None]]


class AnswerInspector:
    """Runs every message from the upstream through the pipeline for one call."""

    def __init__(self, runtime: Runtime, call: Call, reject: RejectServerRequest | None = None) -> None:
        self.runtime = runtime
        self.call = call
        self._reject = reject

    async def message(self, message: JsonObject, raw_size: int) -> tuple[JsonObject | None, bool]:
        """Decide one message. Returns (message to deliver or None to drop, changed?)."""
        call = self.call
        kind = kind_of(message)
        request = None
        if kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            msg_id = message.get("id")
            request = call.requests.pop(msg_id, None) if isinstance(msg_id, (str, int)) else None
        ex = call.exchange(Direction.TO_CLIENT, message, raw_size, request)
        decision = await self.runtime.pipeline.run(ex)
        if decision.verdict is Verdict.ALLOW or (decision.verdict is Verdict.REWRITE and decision.message is not None):
            delivered = message if decision.message is None else decision.message
            if request is not None and request.get("method") == "tools/list":
                result = delivered.get("result")
                tools = result.get("tools") if isinstance(result, dict) else None
                if isinstance(tools, list):
                    self.runtime.catalog.learn(self.call.upstream, tools)
            return delivered, delivered is not message
        if kind is MessageKind.REQUEST:
            if self._reject is not None:
                await self._reject(message, decision)
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
        """Error answers for every request still waiting, each audited as a decision."""
        waiting: list[tuple[RequestId | None, JsonObject]] = list(self.call.requests.items()) or [(None, {})]
        self.call.requests.clear()
        errors = []
        for request_id, request in waiting:
            error = error_response(request_id, code, reason)
            ex = self.call.exchange(Direction.TO_CLIENT, error, 0, request or None)
            self.runtime.pipeline.record(ex, Decision(Verdict.DENY, reason=reason, code=code, check="upstream"))
            errors.append(error)
        return errors[0] if len(errors) == 1 else errors
