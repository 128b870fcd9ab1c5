"""The bench upstream: an MCP SDK v2 `MCPServer` with `echo(text)` and `blob(size)` over Streamable HTTP.

Stateful (issues Mcp-Session-Id) by default; answers are JSON bodies by default, SSE with `--sse`.
`blob(size)` returns exactly `size` UTF-8 bytes of mixed realistic text (cached per size). Both tools
use structured_output=False so a result is one text block, not also a `structuredContent` copy.

Usage: python -m bench.upstream PORT [--sse] [--stateless] [--no-uvloop]
Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse

import uvicorn
from mcp.server.mcpserver import MCPServer

from bench.payload import make_blob

HOST = "127.0.0.1"
PATH = "/mcp"


def build_server() -> MCPServer:
    """The two-tool server (echo, blob)."""
    mcp = MCPServer(name="drawbridge-bench-upstream", version="1.0", log_level="WARNING")

    @mcp.tool(structured_output=False)
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool(structured_output=False)
    def blob(size: int) -> str:
        """Return exactly `size` bytes (UTF-8) of mixed realistic text."""
        return make_blob(size)

    return mcp


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("port", type=int)
    ap.add_argument("--sse", action="store_true", help="answer with text/event-stream (SDK default) instead of JSON")
    ap.add_argument("--stateless", action="store_true", help="no sessions (stateless_http=True)")
    ap.add_argument("--no-uvloop", action="store_true", help="asyncio loop + h11 instead of uvloop + httptools")
    args = ap.parse_args(argv)
    for size in (100, 4096, 65536):
        make_blob(size)
    app = build_server().streamable_http_app(
        streamable_http_path=PATH, json_response=not args.sse, stateless_http=args.stateless, host=HOST)
    loop, http = "asyncio", "h11"
    if not args.no_uvloop:
        try:
            import uvloop  # noqa: F401

            loop, http = "uvloop", "httptools"
        except ImportError:
            pass
    print(f"bench upstream: http://{HOST}:{args.port}{PATH} sse={args.sse} stateful={not args.stateless} "
          f"loop={loop}", flush=True)
    uvicorn.run(app, host=HOST, port=args.port, log_level="warning", access_log=False, loop=loop, http=http)


if __name__ == "__main__":
    main()
