"""Modern era (2026-07-28): Mcp-* routing headers must agree with the body, which policy decides on."""

from __future__ import annotations

from typing import Any

from proxy.decision import Decision, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.types import Direction, Era, MessageKind

PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
HEADERS_NOTE = "mcp_headers"  # transport puts the lowercase Mcp-*/MCP-Protocol-Version headers here
SCHEMA_NOTE = "input_schema"  # transport puts the called tool's known input schema here, if any
RULE = "mcp-header-mismatch"


class ModernHeaderCheck(Inspection):
    """Refuse (-32020) a modern request whose headers say one thing and whose body another."""

    name = "modern_headers"
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})

    def applies(self, ex: Exchange) -> bool:
        return ex.era is Era.MODERN and HEADERS_NOTE in ex.notes and super().applies(ex)

    def inspect(self, ex: Exchange) -> Decision | None:
        headers: dict[str, str] = ex.notes[HEADERS_NOTE]
        problem = header_problem(ex, headers)
        if problem is None:
            return None
        return deny(problem, code=ErrorCode.HEADER_MISMATCH, rule_ids=(RULE,), check=self.name)


def header_problem(ex: Exchange, headers: dict[str, str]) -> str | None:
    """Describe the first disagreement between routing headers and body, or None."""
    # Imported on first use: the SDK import costs ~1 s, which a `drawbridge stdio` launch should not pay.
    from mcp.shared.inbound import NAME_BEARING_METHODS, decode_header_value, validate_mcp_param_headers

    method = ex.method
    if "mcp-method" in headers and headers["mcp-method"] != method:
        return "Mcp-Method header does not match the body's method"
    if "mcp-method" not in headers and ex.kind is MessageKind.REQUEST:
        return "Mcp-Method header is required in the 2026-07-28 protocol"
    meta = ex.params.get("_meta")
    body_version = meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
    header_version = headers.get("mcp-protocol-version")
    if body_version is not None and header_version != body_version:
        return "MCP-Protocol-Version header does not match the body's protocol version"
    name_key = NAME_BEARING_METHODS.get(method or "")
    if name_key is not None:
        body_name = ex.params.get(name_key)
        if body_name is not None and decode_header_value(headers.get("mcp-name")) != body_name:
            return f"Mcp-Name header does not match the body's {name_key!r}"
    schema: Any = ex.notes.get(SCHEMA_NOTE)
    params = {k: v for k, v in headers.items() if k.startswith("mcp-param-")}
    if method == "tools/call" and (params or schema is not None):
        if schema is None:
            return None  # tool never listed through us: the upstream validates its own declarations
        rejection = validate_mcp_param_headers(schema, ex.arguments, params)
        if rejection is not None:
            return rejection.message
    return None
