"""Errors raised by the upstream client: one tree rooted at :class:`UpstreamError`.

Messages are short and never carry header values or body bytes, so they are safe to log
and to map onto a gateway status (502/504) without leaking upstream data.
"""

from __future__ import annotations

__all__ = [
    "BodyTooLarge",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class UpstreamError(Exception):
    """Base class of every upstream failure."""


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached (connection refused, DNS or TLS failure, pool closed)."""


class UpstreamTimeout(UpstreamError):
    """A deadline passed: connect, send + response head, body read or streaming idle time."""


class UpstreamProtocolError(UpstreamError):
    """The upstream spoke malformed HTTP: garbage, oversized head, bad chunk, early close."""


class BodyTooLarge(UpstreamError):
    """The response body exceeds the caller's limit."""
