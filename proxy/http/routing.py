"""Modern-era routing headers for a rewritten body: `Mcp-Name` and `Mcp-Param-*` mirror the body, so
after a rewrite they are derived again from what is forwarded (never the agent's originals)."""

from __future__ import annotations

from typing import Any

from proxy.http.call import MCP_PARAM_PREFIX, ROUTING_HEADERS
from proxy.types import Headers, JsonObject


def rewritten_headers(headers: Headers, body: JsonObject | list[JsonObject], schema: Any) -> Headers:
    """The agent's headers without its routing headers, plus those the rewritten `body` calls for.

    `Mcp-Param-*` can only be derived with the tool's input schema; without it they are dropped (the
    upstream then refuses a call that needed them, rather than act on stale values).
    """
    from mcp.shared.inbound import NAME_BEARING_METHODS, encode_header_value, mcp_param_headers, x_mcp_header_map

    out = [(k, v) for k, v in headers if k not in ROUTING_HEADERS and not k.startswith(MCP_PARAM_PREFIX)]
    if not isinstance(body, dict):
        return out  # a batch has no single name to route on
    method = body.get("method")
    params = body.get("params")
    key = NAME_BEARING_METHODS.get(method) if isinstance(method, str) else None
    if key is None or not isinstance(params, dict) or not isinstance(params.get(key), str):
        return out
    out.append((b"mcp-name", encode_header_value(params[key]).encode("latin-1")))
    arguments = params.get("arguments")
    if method == "tools/call" and schema is not None and isinstance(arguments, dict):
        for name, value in mcp_param_headers(x_mcp_header_map(schema), arguments).items():
            out.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return out
