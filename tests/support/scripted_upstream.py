"""A scripted, recording HTTP upstream for misbehaviour tests (garbage, slow, hostile answers).

Real MCP servers are used wherever behaviour is normal; this peer exists to misbehave on purpose
and to record exactly what reached it (headers, bodies), which a real server cannot tell us.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.drawbridge import free_port, wait_port


@dataclass
class Recorded:
    method: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Script:
    """How the upstream answers. `mode`: ok | garbage | slow | html | sse | huge_event | bad_json_event."""

    mode: str = "ok"
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    result: Any = None


def _answer(message: dict[str, Any], script: Script) -> dict[str, Any]:
    method = message.get("method")
    if method == "initialize":
        result: Any = {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "scripted", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "delete_all")]}
    else:
        result = script.result if script.result is not None else {"content": [{"type": "text", "text": "ok"}]}
    return {"jsonrpc": "2.0", "id": message.get("id"), "result": result}


async def run_lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI lifespan scope: start-up and shutdown both succeed."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


def make_app(script: Script) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        script.requests.append(Recorded(scope["method"], headers, body))
        if script.delay:
            await asyncio.sleep(script.delay)
        message = json.loads(body) if body else {}
        if "id" not in message:
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if script.mode == "garbage":
            out, ctype = b"{not json", b"application/json"
        elif script.mode == "html":
            out, ctype = b"<html>oops</html>", b"text/html"
        elif script.mode in ("sse", "huge_event", "bad_json_event"):
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
            )
            if script.mode == "huge_event":
                await send({"type": "http.response.body", "body": b"data: " + b"x" * (2 << 20), "more_body": True})
            elif script.mode == "bad_json_event":
                await send({"type": "http.response.body", "body": b"data: {oops\n\n", "more_body": True})
            else:
                for i in range(3):
                    note = {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {"progressToken": 1, "progress": i, "message": f"step {i}"},
                    }
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b"data: " + json.dumps(note).encode() + b"\n\n",
                            "more_body": True,
                        }
                    )
                    await asyncio.sleep(0.2)
                final = json.dumps(_answer(message, script)).encode()
                await send({"type": "http.response.body", "body": b"data: " + final + b"\n\n", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        else:
            out, ctype = json.dumps(_answer(message, script)).encode(), b"application/json"
        issued = [(b"mcp-session-id", f"scripted-{len(script.requests)}".encode())] \
            if message.get("method") == "initialize" else []
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype), *issued]})
        await send({"type": "http.response.body", "body": out})

    return app


@contextlib.contextmanager
def scripted_upstream(script: Script) -> Iterator[str]:
    """Serve the script on a free loopback port in a background thread; yield its /mcp URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(script), host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        deadline = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
