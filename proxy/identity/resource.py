"""Each route as an OAuth protected resource (RFC 9728): its resource URI, the audience its tokens must carry,
and the metadata document MCP clients discover it by.

A route served at `/notes/mcp` behind the base URL `https://gw.example` is the resource
`https://gw.example/notes/mcp`, described at `https://gw.example/.well-known/oauth-protected-resource/notes/mcp`.
The base URL is configured (`identity.resource.base_url`), never read from a request: behind a load balancer the
proxy cannot know it, and a Host header must not choose which tokens a route accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .config import IdentityConfig, check_url

__all__ = ["WELL_KNOWN", "ProtectedResource", "RouteSpec", "loopback_origin", "metadata_documents",
           "protected_resources"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route as the HTTP side serves it: its path, and the audience its upstream's config sets (if any)."""

    path: str
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """One route's OAuth face. `resource`, `metadata_url` and `document` are None when no base URL is known
    (then nothing is served, and only `identity.resource_metadata_url` can be advertised)."""

    route: str
    path: str
    audience: str | None  # what a token's `aud` must contain on this route
    resource: str | None
    metadata_url: str | None
    scope: str | None  # the challenge's `scope=`: the scopes this route asks for, space-separated
    document: bytes | None


def loopback_origin(listen: str) -> str | None:
    """`http://HOST:PORT` for a loopback listen address (the only URL agents can reach it at), else None."""
    host, _, port = listen.rpartition(":")
    bare = host.strip("[]")
    if bare in _LOOPBACK or bare.startswith("127."):
        return f"http://{host}:{port}"
    return None


def _authorization_servers(identity: IdentityConfig) -> tuple[str, ...]:
    if identity.resource is not None and identity.resource.authorization_servers:
        return identity.resource.authorization_servers
    assert identity.jwt is not None
    try:
        return (check_url(identity.jwt.issuer, "issuer"),)
    except ValueError:
        return ()  # an issuer that is no URL names no authorization server a client could find


def protected_resources(identity: IdentityConfig, listen: str,
                        routes: Mapping[str, RouteSpec]) -> dict[str, ProtectedResource]:
    """Every route's protected resource; ValueError (one line) when a route's audience cannot be known."""
    jwt = identity.jwt
    if jwt is None:
        if any(spec.audience is not None for spec in routes.values()):
            raise ValueError("an upstream's audience applies to JWT bearer tokens: configure identity.jwt")
        return {name: ProtectedResource(name, spec.path, None, None, None, None, None) for name, spec in routes.items()}
    settings = identity.resource
    base = settings.base_url if settings is not None and settings.base_url else loopback_origin(listen)
    servers = _authorization_servers(identity) if base is not None else ()
    scopes = settings.scopes_supported if settings is not None else ()
    out: dict[str, ProtectedResource] = {}
    for name, spec in routes.items():
        resource = base + spec.path if base is not None else None
        audience = spec.audience or jwt.audience or resource
        if audience is None:
            raise ValueError(f"route {name!r} has no audience: set identity.resource.base_url (the URL agents "
                             "reach this proxy at), identity.jwt.audience, or the upstream's audience")
        served = resource is not None and bool(servers)
        metadata_url = f"{base}{WELL_KNOWN}{spec.path}" if served else None
        document = _document(identity, resource, servers) if served and resource is not None else None
        out[name] = ProtectedResource(name, spec.path, audience, resource, metadata_url,
                                      " ".join(scopes) or None, document)
    return out


def _document(identity: IdentityConfig, resource: str, servers: tuple[str, ...]) -> bytes:
    """The RFC 9728 §2 metadata of one route."""
    doc: dict[str, object] = {"resource": resource, "authorization_servers": list(servers)}
    settings = identity.resource
    if settings is not None and settings.scopes_supported:
        doc["scopes_supported"] = list(settings.scopes_supported)
    doc["bearer_methods_supported"] = ["header"]
    if settings is not None and settings.resource_name is not None:
        doc["resource_name"] = settings.resource_name
    if settings is not None and settings.documentation is not None:
        doc["resource_documentation"] = settings.documentation
    return json.dumps(doc, separators=(",", ":")).encode()


def metadata_documents(resources: Mapping[str, ProtectedResource]) -> dict[str, bytes]:
    """Request path → document: `/.well-known/oauth-protected-resource<route path>` for each route, and the
    bare well-known path too when there is a single route (for clients that only try the root)."""
    served = {f"{WELL_KNOWN}{r.path}": r.document for r in resources.values() if r.document is not None}
    if len(resources) == 1 and len(served) == 1:
        served[WELL_KNOWN] = next(iter(served.values()))
    return served
