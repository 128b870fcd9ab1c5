"""A tiny SDK v2 stdio MCP server for the stdio relay tests.

Tools: `echo` (harmless), `delete_everything` (destructive, for deny tests), `env` (the names of
its environment variables, to prove the child's environment is clean) and `ask_model` (sends a
server-initiated `sampling/createMessage` and reports what came back).

    python tests/support/servers/stdio_demo_server.py
"""

from __future__ import annotations

import os
import warnings

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import SamplingMessage, TextContent

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

mcp = MCPServer("drawbridge-stdio-demo", version="0.1.0")


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


@mcp.tool()
def delete_everything() -> str:
    """Pretend to delete everything."""
    return "everything deleted"


@mcp.tool()
def env() -> list[str]:
    """The names of this process's environment variables."""
    return sorted(os.environ)


@mcp.tool()
async def ask_model(question: str, ctx: Context) -> str:
    """Ask the client's model (sampling) and report the answer or the refusal."""
    try:
        result = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=question))], max_tokens=16
        )
    except MCPError as exc:
        return f"sampling refused: {exc.error.code} {exc.error.message}"
    content = result.content
    return f"model said: {content.text if isinstance(content, TextContent) else content}"


if __name__ == "__main__":
    mcp.run()
