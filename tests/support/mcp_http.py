"""Raw MCP over Streamable HTTP (synchronous httpx): what an agent sends and reads, nothing hidden.

For tests that need exact control of headers (a session id presented by another principal, a stale
session after a restart), where an SDK client would re-initialise on its own.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PROTOCOL = "2025-11-25"
_ids = iter(range(1000, 1_000_000))


def messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer, JSON or SSE."""
    if not response.content:
        return []
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        out = []
        for block in response.text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
            if data.strip():
                out.append(json.loads(data))
        return out
    body = response.json()
    return body if isinstance(body, list) else [body]


def open_session(url: str, headers: dict[str, str], protocol: str = PROTOCOL) -> dict[str, str]:
    """initialize + notifications/initialized; the headers for the session's next requests."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": protocol, "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}}}
    opened = httpx.post(url, json=init, headers={**ACCEPT, **headers}, timeout=10)
    assert opened.status_code == 200, opened.text
    live = {**ACCEPT, **headers, "mcp-protocol-version": protocol}
    if "mcp-session-id" in opened.headers:
        live["mcp-session-id"] = opened.headers["mcp-session-id"]
    done = httpx.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=live, timeout=10)
    assert done.status_code == 202, done.text
    return live


def rpc(url: str, headers: dict[str, str], method: str, params: dict[str, Any] | None = None,
        timeout: float = 15) -> tuple[httpx.Response, dict[str, Any] | None]:
    """One request; (the HTTP response, the JSON-RPC answer to it or None)."""
    request_id = next(_ids)
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    response = httpx.post(url, json=message, headers=headers, timeout=timeout)
    answer = next((m for m in messages(response) if m.get("id") == request_id), None) \
        if response.status_code < 300 else None
    return response, answer


def call_tool(url: str, headers: dict[str, str], name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tools/call that must be answered (result or JSON-RPC error)."""
    response, answer = rpc(url, headers, "tools/call", {"name": name, "arguments": arguments})
    assert answer is not None, (response.status_code, response.text)
    return answer


def error_code(answer: dict[str, Any] | None) -> int | None:
    return answer["error"]["code"] if answer is not None and "error" in answer else None
