"""`GET /.well-known/oauth-protected-resource/<route path>`: each route's RFC 9728 metadata, which MCP clients
fetch (unauthenticated) to learn where to get a token. Behind the same Host/Origin guard as the MCP endpoints;
not an MCP message, so no audit decision."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from proxy.http.asgi import Receive, Scope, Send, header_map, send_bytes, send_json
from proxy.http.guard import HostOriginGuard
from proxy.identity.resource import WELL_KNOWN, ProtectedResource, metadata_documents

log = logging.getLogger("drawbridge.http")

CACHE_CONTROL = b"public, max-age=300"  # config changes need a restart; clients may keep it a few minutes


def is_metadata_path(path: str) -> bool:
    """True for the well-known prefix and anything under it (served here, found or not)."""
    return path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/")


class ResourceMetadata:
    """Raw ASGI app answering the well-known paths from documents built once at start-up."""

    def __init__(self, guard: HostOriginGuard, documents: Mapping[str, bytes]) -> None:
        self._guard = guard
        self._documents = dict(documents)

    @classmethod
    def of(cls, guard: HostOriginGuard, resources: Mapping[str, ProtectedResource]) -> ResourceMetadata:
        """The documents of `resources`, saying at start-up where each route's is advertised."""
        for resource in resources.values():
            if resource.metadata_url is not None:
                log.info("route %s: OAuth protected resource %s, metadata at %s", resource.route, resource.resource,
                         resource.metadata_url)
        return cls(guard, metadata_documents(resources))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        problem = self._guard.problem(headers.get("host"), headers.get("origin"))
        if problem is not None:
            await send_json(send, problem[0], {"error": "invalid_request", "error_description": problem[1]})
            return
        if scope["method"] != "GET":
            await send_json(send, 405, {"error": "invalid_request", "error_description": "method not allowed"},
                            [(b"allow", b"GET")])
            return
        document = self._documents.get(scope["path"].rstrip("/") or "/")
        if document is None:
            await send_json(send, 404, {"error": "not_found",
                                        "error_description": "no protected resource metadata at this path"})
            return
        await send_bytes(send, 200, document, headers=[(b"cache-control", CACHE_CONTROL)])
