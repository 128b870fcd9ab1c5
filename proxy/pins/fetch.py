"""Fetch what a server shows an agent: every tool (all pages), its identity and its instructions.

Uses the official SDK client (`mcp.Client`): Streamable HTTP for a URL, a subprocess for a stdio
command. Tool definitions are taken as raw JSON, not SDK models, so fields the SDK does not model
are pinned exactly as the proxy will see them on the wire.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel, ConfigDict, Field

from proxy.errors import DrawbridgeError
from proxy.pins.hashing import ServerIdentity

MAX_PAGES = 1000


class _RawPage(BaseModel):
    """A tools/list page kept as plain JSON (no SDK tool models, which drop unknown fields)."""

    model_config = ConfigDict(extra="allow")
    tools: list[Any]
    next_cursor: Any = Field(default=None, alias="nextCursor")


class FetchError(DrawbridgeError):
    """The server could not be reached or listed; the message is one line."""


@dataclass(frozen=True, slots=True)
class Listing:
    server: ServerIdentity
    instructions: str | None
    tools: list[dict[str, Any]]


async def fetch_listing(target: str | Sequence[str], *, headers: Mapping[str, str] | None = None,
                        env: Mapping[str, str] | None = None, timeout_seconds: float = 30.0,
                        mode: str = "auto") -> Listing:
    """List everything `target` (an http(s) URL, or a stdio command as argv) shows an agent."""
    try:
        with anyio.fail_after(timeout_seconds):
            async with _connect(target, headers, env, timeout_seconds, mode) as client:
                tools = await _all_tools(client)
                info = client.server_info
                instructions = client.instructions
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError(f"{_label(target)}: no complete answer within {timeout_seconds:g} s") from None
    except Exception as exc:
        raise FetchError(f"{_label(target)}: {_one_line(exc)}") from None
    identity = ServerIdentity.of(info.name if info else None, info.version if info else None, instructions)
    return Listing(identity, instructions, tools)


@contextlib.asynccontextmanager
async def _connect(target: str | Sequence[str], headers: Mapping[str, str] | None, env: Mapping[str, str] | None,
                   timeout_seconds: float, mode: str) -> AsyncIterator[Client]:
    if isinstance(target, str):
        if not target.startswith(("http://", "https://")):
            raise FetchError(f"{target!r} is not an http(s) URL")
        http = httpx2.AsyncClient(headers=dict(headers or {}), timeout=httpx2.Timeout(timeout_seconds))
        async with http:
            transport = streamable_http_client(target, http_client=http)
            async with Client(transport, mode=mode, read_timeout_seconds=timeout_seconds) as client:
                yield client
        return
    argv = list(target)
    if not argv:
        raise FetchError("empty stdio command")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(env) if env is not None else None)
    async with Client(params, mode=mode, read_timeout_seconds=timeout_seconds) as client:
        yield client


async def _all_tools(client: Client) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await client.session.send_request(types.ListToolsRequest(params=params), _RawPage)
        tools.extend(t for t in page.tools if isinstance(t, dict))
        cursor = page.next_cursor
        if not cursor:
            return tools
        if not isinstance(cursor, str) or cursor in seen:
            raise FetchError("tools/list pagination loops (a cursor came back twice)")
        seen.add(cursor)
    raise FetchError(f"tools/list has more than {MAX_PAGES} pages")


def _label(target: str | Sequence[str]) -> str:
    return target if isinstance(target, str) else " ".join(target)[:120]


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _one_line(exc.exceptions[0])
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:300]
