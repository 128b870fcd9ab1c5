"""A held request's answer, once its SSE stream was opened early: JSON becomes one `message` event, an SSE
answer's events pass as they come, and the keep-alive comments come first."""

from __future__ import annotations

import json

import pytest

from proxy.http.asgi import Message
from proxy.http.held import COMMENT, HeldResponse, KeepAlive

pytestmark = pytest.mark.anyio


class Wire:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.sent.append(message)

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def test_a_json_answer_becomes_one_message_event_after_the_keepalive() -> None:
    wire = Wire()
    held = HeldResponse(wire)
    await held.open()
    answer = {"jsonrpc": "2.0", "id": 7, "error": {"code": -32055, "message": "denied"}}
    await held({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await held({"type": "http.response.body", "body": json.dumps(answer).encode()})
    assert wire.sent[0]["headers"][0] == (b"content-type", b"text/event-stream")
    assert [m["type"] for m in wire.sent].count("http.response.start") == 1  # the late start is absorbed
    body = wire.body().decode()
    assert body.startswith(COMMENT.decode()) and "event: message\n" in body
    assert json.loads(body.split("data: ", 1)[1].split("\n", 1)[0]) == answer
    assert held.finished and wire.sent[-1]["more_body"] is False


async def test_an_sse_answer_passes_event_by_event() -> None:
    wire = Wire()
    held = HeldResponse(wire)
    await held.open()
    await held({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await held({"type": "http.response.body", "body": b"data: {\"id\": 1}\n\n", "more_body": True})
    await held({"type": "http.response.body", "body": b"", "more_body": False})
    assert wire.body() == COMMENT + b"data: {\"id\": 1}\n\n"
    assert held.finished


async def test_keepalive_costs_nothing_until_a_check_says_it_will_wait() -> None:
    wire = Wire()
    keepalive = KeepAlive(wire)
    assert keepalive.done() == wire and wire.sent == []  # a fast decision: the endpoint's own send, untouched
    slow = KeepAlive(wire)
    await slow()
    await slow()  # opened once
    assert isinstance(slow.done(), HeldResponse) and [m["type"] for m in wire.sent].count("http.response.start") == 1
