"""The server's requests to the agent that await the agent's answer, shared by every replica.

A server (handshake era) sends requests to the agent on an SSE stream served by one replica; the agent's
answer is a POST that may reach another. So every server request that was forwarded is remembered in the
store under (upstream, client key, JSON-RPC id), and the agent's answer takes it (atomically: one answer
per request). In the 2026-07-28 era the same happens inside messages: a result with `inputRequests` asks
the agent, and the retried request carries `inputResponses` under the same keys.

The agent's own requests are paired in memory by the transport that forwarded them, except when a server
ends a resumable SSE answer before answering (SSE polling, a dropped connection): then the waiting requests
are `park`ed in the store, and the answer that arrives on the resumed stream (`GET` with `Last-Event-ID`,
on any replica) is paired from there, so it is inspected like any other answer.

`pair` runs before the pipeline decides (so an answer is decided knowing what it answers); `remember` after
a server request was allowed (before it is forwarded). What cannot be paired is refused by the pairing check.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from proxy.exchange import Exchange
from proxy.inspections.pairing import UNPAIRED_INPUT_NOTE
from proxy.state.model import Store
from proxy.types import Direction, JsonObject, MessageKind, RequestId, Transport

SERVER_REQUESTS = "server_requests"
AGENT_REQUESTS = "agent_requests"  # the agent's requests whose answer moved to a resumed stream
INPUT_REQUESTS = "input_requests"
DEFAULT_TTL_SECONDS = 600.0
PARKED_PARAMS = frozenset({"name", "uri", "cursor", "_meta"})  # what answering checks read from a request
MAX_INPUT_REQUESTS = 64


def _digest(name: str) -> str:
    """Input request keys are chosen by peers: stored by hash, so their length is bounded."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _key(upstream: str, client_key: str | None, name: str) -> str:
    return f"{upstream}\x1f{client_key or '-'}\x1f{name}"


def _input_requests(result: Any) -> dict[str, Any] | None:
    if not isinstance(result, dict) or result.get("resultType") != "input_required":
        return None
    requests = result.get("inputRequests")
    return requests if isinstance(requests, dict) else None


def _input_responses(params: JsonObject) -> dict[str, Any] | None:
    responses = params.get("inputResponses")
    return responses if isinstance(responses, dict) else None


class ServerRequests:
    """Pending server → agent requests in the store (JSON-RPC requests and modern input requests)."""

    def __init__(self, store: Store, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def _key(ex: Exchange, name: str) -> str:
        return _key(ex.upstream, ex.client_key, name)

    def needs_pairing(self, ex: Exchange) -> bool:
        """Cheap test: does `pair` have anything to look up for this exchange?"""
        if ex.direction is Direction.TO_SERVER and ex.kind is MessageKind.REQUEST:
            return "inputResponses" in ex.params
        return ex.request is None and ex.kind in (MessageKind.RESPONSE, MessageKind.ERROR)

    async def park(self, upstream: str, client_key: str | None,
                   waiting: list[tuple[RequestId, JsonObject, str | None]]) -> None:
        """Keep the agent's requests whose answer will come on a resumed stream (any replica may serve it)."""
        for request_id, message, call_id in waiting:
            params = message.get("params")
            kept = {k: v for k, v in params.items() if k in PARKED_PARAMS} if isinstance(params, dict) else {}
            await self._store.rec_put(AGENT_REQUESTS, _key(upstream, client_key, orjson.dumps(request_id).decode()),
                                      {"method": message.get("method"), "params": orjson.dumps(kept).decode(),
                                       "call_id": call_id}, self.ttl_seconds)

    async def pair(self, ex: Exchange) -> None:
        """Find what an agent's answer answers (or note input responses nobody asked for)."""
        if ex.kind is MessageKind.REQUEST:
            responses = _input_responses(ex.params)
            if not responses:
                return
            unpaired: list[str] = []
            for index, name in enumerate(responses):
                pending = await self._store.rec_get(INPUT_REQUESTS, self._key(ex, _digest(name))) \
                    if index < MAX_INPUT_REQUESTS else None  # kept until it expires: a retry may repeat it
                if pending is None:
                    unpaired.append(name)
            if unpaired:
                ex.notes[UNPAIRED_INPUT_NOTE] = unpaired
            return
        request_id = ex.id
        if request_id is None:
            return
        namespace = SERVER_REQUESTS if ex.direction is Direction.TO_SERVER else AGENT_REQUESTS
        pending = await self._store.rec_take(namespace, self._key(ex, orjson.dumps(request_id).decode()))
        if pending is None:
            return
        params = orjson.loads(pending["params"]) if isinstance(pending.get("params"), str) else {}
        ex.answers({"jsonrpc": "2.0", "id": request_id, "method": pending.get("method"), "params": params},
                   pending.get("call_id") if isinstance(pending.get("call_id"), str) else None)
        if ex.trace_id is None and isinstance(pending.get("trace_id"), str):
            ex.trace_id = pending["trace_id"]

    async def expect_input(self, ex: Exchange, name: str, method: str) -> None:
        """An input request the proxy itself put to the agent (an in-band approval): its answer is paired."""
        await self._store.rec_put(INPUT_REQUESTS, self._key(ex, _digest(name)),
                                  {"method": method, "call_id": ex.call_id}, self.ttl_seconds)

    async def remember(self, ex: Exchange) -> None:
        """After a server → agent request (or an input-required result) was allowed, before it is forwarded."""
        if ex.direction is not Direction.TO_CLIENT:
            return
        if ex.kind is MessageKind.REQUEST:
            if ex.transport is Transport.STDIO or ex.id is None:
                return  # one process: the stdio relay pairs its own lines
            await self._store.rec_put(SERVER_REQUESTS, self._key(ex, orjson.dumps(ex.id).decode()),
                                      {"method": ex.method, "call_id": ex.call_id, "trace_id": ex.trace_id},
                                      self.ttl_seconds)
        elif ex.kind is MessageKind.RESPONSE:
            requests = _input_requests(ex.result)
            for name, request in list((requests or {}).items())[:MAX_INPUT_REQUESTS]:
                method = request.get("method") if isinstance(request, dict) else None
                await self._store.rec_put(INPUT_REQUESTS, self._key(ex, _digest(str(name))),
                                          {"method": method if isinstance(method, str) else None,
                                           "call_id": ex.call_id}, self.ttl_seconds)
