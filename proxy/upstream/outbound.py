"""The pool of one configured upstream, with its TLS context and proxy built at start-up (not per call)."""

from __future__ import annotations

from proxy.upstream.http1 import UpstreamPool
from proxy.upstream.proxies import proxy_route
from proxy.upstream.settings import ProxySetting, UpstreamTLS
from proxy.upstream.tls import client_context

__all__ = ["outbound_pool"]


def outbound_pool(name: str, url: str, *, connect_timeout: float, tls: UpstreamTLS | None = None,
                  proxy: ProxySetting = "env") -> UpstreamPool:
    """A pool for upstream ``name`` at ``url``; ConfigError (one line) for an unusable file or proxy setting."""
    what = f"upstream {name}"
    context = client_context(tls, what) if url.startswith("https://") else None
    return UpstreamPool(url, connect_timeout=connect_timeout, ssl_context=context,
                        server_name=tls.server_name if tls else None, proxy=proxy_route(url, proxy, what))
