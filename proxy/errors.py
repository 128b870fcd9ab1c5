"""One exception tree for bugs, bad configuration and transport faults.

Security outcomes are never exceptions: they are `Decision` values.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Stable JSON-RPC error codes the proxy answers with."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    HEADER_MISMATCH = -32020  # modern era: Mcp-* header disagrees with the body
    POLICY_DENIED = -32050  # no permit, or a forbid rule matched
    INSPECTION_FAILED = -32051  # an inspection raised, timed out or could not parse (fail closed)
    LIMIT_EXCEEDED = -32052  # size, depth, batch or line limits
    QUARANTINED = -32053  # the principal, agent or session is contained
    RATE_LIMITED = -32054  # a rate limit refused the call; `data.retry_after_seconds` says when to retry
    APPROVAL_NOT_GRANTED = -32055  # a held call was denied, expired undecided, or its approval was invalid
    UPSTREAM_UNAVAILABLE = -32060  # upstream down, refused or answered garbage
    UPSTREAM_TIMEOUT = -32061
    UNAUTHENTICATED = -32070


class DrawbridgeError(Exception):
    """Base of every exception the proxy raises on purpose."""


class ConfigError(DrawbridgeError):
    """A configuration or policy file is invalid; the message is one line a person can act on."""


class PolicyError(ConfigError):
    """A policy set failed to load or compile."""


class MessageError(DrawbridgeError):
    """A message could not be accepted; carries the JSON-RPC code to answer with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
