"""Shared vocabulary: the small enums and aliases every module speaks."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
RequestId: TypeAlias = str | int
Headers: TypeAlias = list[tuple[bytes, bytes]]


class Direction(StrEnum):
    """Which way a message travels through the proxy."""

    TO_SERVER = "to_server"
    TO_CLIENT = "to_client"


class Era(StrEnum):
    """MCP protocol era of an exchange."""

    HANDSHAKE = "handshake"  # 2024-11-05 … 2025-11-25: initialize + sessions
    MODERN = "modern"  # 2026-07-28: stateless, server/discover, Mcp-* headers
    UNKNOWN = "unknown"


class Transport(StrEnum):
    """How the agent reached the proxy."""

    HTTP = "http"
    STDIO = "stdio"


class Verdict(StrEnum):
    """What happens to a message."""

    ALLOW = "allow"
    REWRITE = "rewrite"
    DENY = "deny"
    QUARANTINE = "quarantine"


class Severity(IntEnum):
    """Incident severity tiers; lower number is worse (SEV-1 is the most severe)."""

    SEV1 = 1  # confirmed exfiltration, destructive action, credential theft
    SEV2 = 2  # likely attack, blocked policy breach of a sensitive tool
    SEV3 = 3  # suspicious, policy denial
    SEV4 = 4  # informational, benign or blocked noise
    NONE = 9

    @property
    def label(self) -> str:
        return "none" if self is Severity.NONE else f"SEV-{self.value}"


class MessageKind(StrEnum):
    """JSON-RPC message shapes, plus the two things a transport decides on that are not one."""

    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"
    ERROR = "error"
    INVALID = "invalid"  # input that is not an acceptable JSON-RPC message (bad JSON, over a limit, …)
    HTTP = "http"  # an HTTP operation with no JSON-RPC body: GET stream, DELETE, a request refused unread


class Origin(StrEnum):
    """Who wrote a message: the two peers, or the proxy itself (refusals, cancellations, its own errors)."""

    AGENT = "agent"
    SERVER = "server"
    PROXY = "proxy"
