"""Span names and attributes per the OpenTelemetry semantic conventions for MCP, plus Drawbridge's own.

What identifies a message (method, id, tool, prompt, resource without credentials or query, session) and
how it travelled; never argument values, results or secrets. Agent-chosen strings are cut to a bound.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.inspections.modern_headers import PROTOCOL_VERSION_META_KEY
from proxy.types import Transport

Attributes = dict[str, AttributeValue]
MAX_NAME = 128  # a tool or prompt name in a span name: low cardinality is the collector's business
MAX_VALUE = 256
RESOURCE_METHODS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_VERSION = re.compile(r"[0-9A-Za-z._-]{1,32}")


def _cut(value: str, limit: int = MAX_VALUE) -> str:
    return value if len(value) <= limit else value[:limit]


def span_name(ex: Exchange) -> str:
    """`{mcp.method.name} {target}`: the tool or prompt named, else the method alone (no resource URIs)."""
    method = _cut(ex.method or "", MAX_NAME)
    target = ex.target_name if ex.method in ("tools/call", "prompts/get") else None
    return f"{method} {_cut(target, MAX_NAME)}" if target else method


def message_attributes(ex: Exchange) -> Attributes:
    """What both spans of a message say about it (`jsonrpc.protocol.version` only when it is not 2.0)."""
    attributes: Attributes = {"mcp.method.name": _cut(ex.method or "")}
    version = ex.message.get("jsonrpc")
    if version != "2.0" and isinstance(version, str):
        attributes["jsonrpc.protocol.version"] = _cut(version, 16)
    if ex.id is not None:
        attributes["jsonrpc.request.id"] = _cut(str(ex.id))
    if ex.session_id:
        attributes["mcp.session.id"] = _cut(ex.session_id)
    target = ex.target_name
    if target is not None:
        if ex.method == "tools/call":
            attributes["gen_ai.tool.name"] = _cut(target)
            attributes["gen_ai.operation.name"] = "execute_tool"
        elif ex.method == "prompts/get":
            attributes["gen_ai.prompt.name"] = _cut(target)
        elif ex.method in RESOURCE_METHODS and (uri := safe_uri(target)) is not None:
            attributes["mcp.resource.uri"] = uri
    return attributes


def server_attributes(ex: Exchange, headers: Mapping[str, str] | None, http_version: str | None) -> Attributes:
    """The agent-facing span: the message, the transport it came by and who sent it."""
    attributes = message_attributes(ex)
    attributes["drawbridge.upstream"] = ex.upstream
    if ex.transport is Transport.STDIO:
        attributes["network.transport"] = "pipe"
    else:
        attributes.update({"network.transport": "tcp", "network.protocol.name": "http",
                           "network.protocol.version": _cut(http_version or "1.1", 8)})
    version = protocol_version(ex, headers)
    if version is not None:
        attributes["mcp.protocol.version"] = version
    if ex.client_address:
        host, colon, port = ex.client_address.rpartition(":")
        if colon and port.isdigit():
            attributes["client.address"] = _cut(host.strip("[]"))
            attributes["client.port"] = int(port)
        else:
            attributes["client.address"] = _cut(ex.client_address)
    return attributes


def client_attributes(ex: Exchange, address: tuple[str, int] | None) -> Attributes:
    """The upstream-facing span: the message and the upstream it goes to."""
    attributes = message_attributes(ex)
    if address is None:
        attributes["network.transport"] = "pipe"
        return attributes
    attributes.update({"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
                       "server.address": address[0], "server.port": address[1]})
    return attributes


def decision_attributes(decision: Decision, policy_version: str) -> Attributes:
    """What Drawbridge decided: verdict, deciding check, rule ids, how many findings and how severe."""
    attributes: Attributes = {
        "drawbridge.verdict": decision.verdict.value, "drawbridge.rule_ids": list(decision.rule_ids),
        "drawbridge.findings.count": len(decision.findings), "drawbridge.severity": decision.severity.label,
        "drawbridge.policy_version": policy_version}
    if decision.check:
        attributes["drawbridge.check"] = decision.check
    return attributes


def protocol_version(ex: Exchange, headers: Mapping[str, str] | None) -> str | None:
    """The MCP protocol version: the HTTP header, else the modern era's `_meta`, else what `initialize` asks."""
    value: Any = headers.get("mcp-protocol-version") if headers else None
    if value is None:
        meta = ex.params.get("_meta")
        value = meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
    if value is None and ex.method == "initialize":
        value = ex.params.get("protocolVersion")
    return value if isinstance(value, str) and _VERSION.fullmatch(value) else None


def safe_uri(uri: str) -> str | None:
    """A resource URI without credentials, query or fragment (they may hold secrets), or None if unparseable."""
    try:
        parts = urlsplit(uri[:2048])
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme:
        return None
    authority = "" if host is None else (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    prefix = f"{parts.scheme}://{authority}" if parts.netloc or uri[len(parts.scheme):].startswith("://") \
        else f"{parts.scheme}:"
    return _cut(prefix + parts.path, 512)


def error_code(message: Mapping[str, Any]) -> int | None:
    """The JSON-RPC error code of an error answer, else None."""
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def tool_error(message: Mapping[str, Any]) -> bool:
    """A tool result the server marked as failed (`isError`)."""
    result = message.get("result")
    return isinstance(result, dict) and result.get("isError") is True
