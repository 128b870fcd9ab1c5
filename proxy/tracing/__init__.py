"""OpenTelemetry traces of the MCP messages through the proxy (the `tracing:` section, off by default).

Disabled, nothing is built: the runtime holds None and the transports test only that. Enabled, the SDK
is imported here, lazily, so a proxy without tracing never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from proxy.tracing.config import TracingConfig

if TYPE_CHECKING:
    from proxy.tracing.spans import Tracing

__all__ = ["TRACE_NOTE", "TracingConfig", "build_tracing"]

TRACE_NOTE = "trace"  # Exchange.notes: the MessageTrace of the message the exchange is about


def build_tracing(config: TracingConfig, upstream_urls: Mapping[str, str], replica_id: str) -> Tracing | None:
    """The tracer for a runtime, or None when tracing is disabled."""
    if not config.enabled:
        return None
    from proxy.tracing.provider import open_provider
    from proxy.tracing.spans import Tracing

    return Tracing(open_provider(config, replica_id), {name: _address(url) for name, url in upstream_urls.items()},
                   config.close_timeout_seconds)


def _address(url: str) -> tuple[str, int]:
    """`server.address` and `server.port` of an upstream URL (the scheme's port when none is given)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
