"""An MCP server on the official SDK v2 (`MCPServer`) whose tools talk back to the client, for
Drawbridge's data-plane tests (server-initiated requests, progress, cancellation, content rewrites).

Streamable HTTP, stateful (handshake-era sessions), answers as SSE streams:

- `echo(text)`: the text back;
- `ask_llm(prompt)`: asks the CLIENT for an LLM completion (`sampling/createMessage`), returns its text;
- `ask_user(question)`: asks the user through the client (`elicitation/create`), returns their answer;
- `list_roots()`: asks the client for its roots (`roots/list`), returns their URIs, one per line;
- `slow(seconds)`: sleeps, reporting progress every 0.1 s (for cancellation and kill tests);
- `leak()`: a configuration dump with an AWS access key pair (the proxy's default settings redact it).

Every server → client request rides the stream of the POST that caused it (`related_request_id`).
`Observed` records what only the server can see (which calls finished and which were cancelled).

    python -m tests.support.servers.interactive_server --port 3030
"""

from __future__ import annotations

import argparse
import asyncio
import warnings
from dataclasses import dataclass, field

import mcp_types as types
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.message import ServerMessageMetadata
from starlette.applications import Starlette

# roots/list is deprecated from 2026-07-28 but part of the 2025-11-25 handshake era these tests speak.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

LEAKED_KEY_ID = "AKIAZ3MXQ7R2ABCDTE6P"
LEAKED_SECRET = "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"
ANSWER_SCHEMA: types.ElicitRequestedSchema = {
    "type": "object",
    "properties": {"answer": {"type": "string", "description": "Your answer"}},
    "required": ["answer"],
}


@dataclass
class Observed:
    """What the server saw of `slow` calls (their `seconds`): started, run to the end, cancelled under it."""

    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    cancelled: list[float] = field(default_factory=list)


def _on_this_call(ctx: Context) -> ServerMessageMetadata:
    """Send a server → client request on the stream of the POST being answered (not the GET stream)."""
    return ServerMessageMetadata(related_request_id=ctx.request_id)


def build_server(observed: Observed | None = None) -> MCPServer:
    """A fresh server (its session manager runs once per instance: build one per app)."""
    seen = observed if observed is not None else Observed()
    mcp = MCPServer("interactive-test-server", version="1.0", log_level="WARNING")

    @mcp.tool(structured_output=False)
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @mcp.tool(structured_output=False)
    async def ask_llm(prompt: str, ctx: Context) -> str:
        """Ask the client's LLM (sampling) and return its answer."""
        request = types.CreateMessageRequest(params=types.CreateMessageRequestParams(
            messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=100,
        ))
        # send_request, not the deprecated create_message helper: same wire message, no warning per call
        result = await ctx.session.send_request(request, types.CreateMessageResult, metadata=_on_this_call(ctx))
        return getattr(result.content, "text", "") or "(no text)"

    @mcp.tool(structured_output=False)
    async def ask_user(question: str, ctx: Context) -> str:
        """Ask the user (form elicitation) and return `action: answer`."""
        result = await ctx.session.elicit_form(question, ANSWER_SCHEMA, related_request_id=ctx.request_id)
        answer = (result.content or {}).get("answer", "")
        return f"{result.action}: {answer}"

    @mcp.tool(structured_output=False)
    async def list_roots(ctx: Context) -> str:
        """The client's roots, one URI per line."""
        result = await ctx.session.send_request(types.ListRootsRequest(), types.ListRootsResult,
                                                metadata=_on_this_call(ctx))
        return "\n".join(str(root.uri) for root in result.roots) or "(no roots)"

    @mcp.tool(structured_output=False)
    async def slow(seconds: float, ctx: Context) -> str:
        """Sleep `seconds`, reporting progress every 0.1 s."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen.started.append(seconds)
        try:
            while (done := loop.time() - started) < seconds:
                await ctx.report_progress(done, seconds, "sleeping")
                await asyncio.sleep(min(0.1, seconds - done))
        except asyncio.CancelledError:
            seen.cancelled.append(seconds)
            raise
        seen.finished.append(seconds)
        return f"slept {seconds}s"

    @mcp.tool(structured_output=False)
    def leak() -> str:
        """Read the deployment configuration."""
        return f"region=eu-west-1\nAWS_ACCESS_KEY_ID={LEAKED_KEY_ID}\nAWS_SECRET_ACCESS_KEY={LEAKED_SECRET}\n"

    return mcp


def streamable_app(observed: Observed | None = None, *, host: str = "127.0.0.1") -> Starlette:
    """The Starlette app for Streamable HTTP at `/mcp` (stateful, SSE answers), lifespan included."""
    return build_server(observed).streamable_http_app(json_response=False, stateless_http=False, host=host)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    ns = parser.parse_args(argv)
    uvicorn.run(streamable_app(host=ns.host), host=ns.host, port=ns.port, http="h11", log_level="warning")


if __name__ == "__main__":
    main()
