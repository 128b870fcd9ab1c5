"""Upstream HTTP client: a lean pooled keep-alive HTTP/1.1 client and its error tree."""

from proxy.upstream.errors import (
    BodyTooLarge,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.upstream.http1 import UpstreamPool, UpstreamResponse

__all__ = [
    "BodyTooLarge",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]
