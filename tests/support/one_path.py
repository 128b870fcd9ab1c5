"""Accounting for the one path: every message that crossed the proxy, either way, against the audit trail.

`Tap` wraps an ASGI app (the proxy's own app, or an upstream's) and records the JSON-RPC messages in each
HTTP request body and each response body (JSON or SSE), so a test knows what the agent sent and received
and what the upstream received and sent, independently of the proxy's own account. `account` then checks
the audit trail against that ground truth:

- each message the agent sent and each message the server sent has exactly one decision event (origin
  `agent` or `server`) about it, with its direction, kind, method and id;
- each message that arrived on the other side is covered: forwarded by an allowing event, answered in
  the proxy's name (a refusal, whose event is the refused request's `deny`), or a message the proxy sent
  itself (one event of origin `proxy`); nothing arrives that no event allowed;
- no event is left over.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str | None, str]  # (kind, method for requests/notifications, id as JSON)
BLOCKING = ("deny", "quarantine")


def kind_of(message: Any) -> str:
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return "invalid"
    if "method" in message:
        return "request" if "id" in message else "notification"
    if "error" in message and "result" not in message:
        return "error"
    if "result" in message and "error" not in message:
        return "response"
    return "invalid"


def key_of(message: Any) -> Key:
    kind = kind_of(message)
    method = message.get("method") if kind in ("request", "notification") else None
    ident = message.get("id") if isinstance(message, dict) else None
    return kind, method, json.dumps(ident)


def event_key(event: dict[str, Any]) -> Key:
    rpc = event["jsonrpc"]
    method = rpc["method"] if rpc["kind"] in ("request", "notification") else None
    return rpc["kind"], method, json.dumps(rpc["id"])


def messages_in(body: bytes, content_type: str) -> list[Any]:
    """The JSON-RPC messages in an HTTP body: one JSON value (a batch flattened) or SSE `data:` events.
    A body that is not JSON counts as one invalid message."""
    if not body.strip():
        return []
    if content_type.startswith("text/event-stream"):
        out: list[Any] = []
        for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = b"\n".join(line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:"))
            if data.strip():
                out.extend(messages_in(data, "application/json"))
        return out
    try:
        value = json.loads(body)
    except ValueError:
        return [None]
    return list(value) if isinstance(value, list) and value else [value]


@dataclass
class Exchanged:
    """One HTTP exchange seen by a tap."""

    method: str
    request_body: bytes
    request_type: str
    status: int = 0
    response_type: str = ""
    response_body: bytearray = field(default_factory=bytearray)

    @property
    def sent(self) -> list[Any]:
        return messages_in(self.request_body, "application/json") if self.method == "POST" else []

    @property
    def answered(self) -> list[Any]:
        return messages_in(bytes(self.response_body), self.response_type)


class Tap:
    """An ASGI wrapper recording each HTTP request's body and each response's body as they pass."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchanged] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Exchanged(scope["method"], b"", headers.get("content-type", ""))
        self.exchanges.append(seen)
        body = bytearray()

        async def tapped_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    seen.request_body = bytes(body)
            return message

        async def tapped_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
                types = [v for k, v in message.get("headers", []) if k.lower() == b"content-type"]
                seen.response_type = types[0].decode("latin-1") if types else ""
            elif message["type"] == "http.response.body":
                seen.response_body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, tapped_receive, tapped_send)

    def sent(self) -> list[Any]:
        return [m for x in self.exchanges for m in x.sent]

    def answered(self) -> list[Any]:
        return [m for x in self.exchanges for m in x.answered]


def account(events: list[dict[str, Any]], *, agent_sent: Iterable[Any], server_sent: Iterable[Any],
            reached_server: Iterable[Any], reached_agent: Iterable[Any]) -> list[str]:
    """Problems with the audit trail's account of these messages (empty when it is exact)."""
    problems: list[str] = []
    decisions = [e for e in events if e["event_type"] == "decision" and e["jsonrpc"]["kind"] != "http"]
    unclaimed = list(decisions)
    # An HTTP request refused before it held a message (405, 415, 401, …) is answered with an id-less error.
    refused_operations = sum(1 for e in events if e["event_type"] == "decision" and e["jsonrpc"]["kind"] == "http"
                             and e["verdict"] in BLOCKING)

    def claim(direction: str, origin: str, message: Any) -> dict[str, Any] | None:
        key = key_of(message)
        for event in unclaimed:
            if event["direction"] == direction and event["origin"] == origin and event_key(event) == key:
                unclaimed.remove(event)
                return event
        return None

    by_origin: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for direction, origin, sent in (("to_server", "agent", agent_sent), ("to_client", "server", server_sent)):
        for message in sent:
            event = claim(direction, origin, message)
            if event is None:
                problems.append(f"no {direction} event for {key_of(message)} sent by the {origin}")
            else:
                by_origin.setdefault((direction, origin), []).append(event)
    proxy_events = [e for e in unclaimed if e["origin"] == "proxy"]
    strays = [e for e in unclaimed if e["origin"] != "proxy"]
    problems.extend(f"an event about a message nobody sent: {e['direction']} {event_key(e)} {e['verdict']}"
                    for e in strays)
    allowed = Counter((e["direction"], event_key(e)) for events_ in by_origin.values() for e in events_
                      if e["verdict"] not in BLOCKING)
    refused = Counter((e["direction"], json.dumps(e["jsonrpc"]["id"])) for events_ in by_origin.values()
                      for e in events_ if e["verdict"] in BLOCKING and e["jsonrpc"]["kind"] in ("request", "invalid"))
    own = Counter((e["direction"], event_key(e)) for e in proxy_events)
    for direction, arrived in (("to_server", reached_server), ("to_client", reached_agent)):
        other = "to_client" if direction == "to_server" else "to_server"
        for message in arrived:
            key = key_of(message)
            if allowed[(direction, key)] > 0:
                allowed[(direction, key)] -= 1
            elif own[(direction, key)] > 0:
                own[(direction, key)] -= 1
            elif key[0] == "error" and refused[(other, key[2])] > 0:
                refused[(other, key[2])] -= 1  # the refusal answering a refused request: that request's event
            elif key[0] == "error" and key[2] == "null" and direction == "to_client" and refused_operations > 0:
                refused_operations -= 1
            else:
                problems.append(f"{key} arrived {direction} with no event that allowed or sent it")
    problems.extend(f"the proxy's own {d} {k} has an event but never arrived" for (d, k), n in own.items()
                    for _ in range(n))
    return problems
