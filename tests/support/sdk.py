"""The official MCP SDK client, connected over Streamable HTTP with optional headers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@contextlib.asynccontextmanager
async def sdk_client(
    url: str, *, mode: str = "auto", headers: dict[str, str] | None = None, read_timeout: float = 20.0
) -> AsyncIterator[Client]:
    """`mcp.Client` in auto, legacy or 2026-07-28 mode, through `url`."""
    http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(read_timeout))
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=read_timeout) as client:  # type: ignore[arg-type]
            yield client


def weather(url: str, city: str = "Oslo") -> str:
    """The demo server's `get_weather` through `url` with the SDK client (legacy era): its text; fails on an
    error result."""
    import anyio

    async def call() -> str:
        async with sdk_client(url, mode="legacy") as client:
            result = await client.call_tool("get_weather", {"city": city})
        assert not result.is_error
        return "".join(getattr(c, "text", "") for c in result.content)

    return anyio.run(call)
