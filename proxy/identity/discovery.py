"""Where an issuer publishes its signing keys: OpenID Connect Discovery, then RFC 8414 metadata.

The document must name the configured issuer exactly (RFC 8414 §3.3, OIDC Discovery §4.3), or it is refused:
a document served for another issuer must never choose the keys tokens are checked with.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from .config import check_url
from .fetch import FetchError, fetch_bounded

__all__ = ["MAX_METADATA_BYTES", "DiscoveryError", "discover_jwks_uri", "metadata_urls"]

MAX_METADATA_BYTES = 64 * 1024
_SHOWN = 200  # characters of a foreign value quoted in an error
_MAX_URI = 2048


class DiscoveryError(Exception):
    """The issuer's metadata could not be found or is unusable (message is safe to log)."""


def metadata_urls(issuer: str) -> tuple[str, str]:
    """OpenID Connect (`{issuer}/.well-known/openid-configuration`, any trailing slash removed first), then
    RFC 8414 (`/.well-known/oauth-authorization-server` inserted between the host and the issuer's path)."""
    parts = urlsplit(issuer)
    return (f"{issuer.rstrip('/')}/.well-known/openid-configuration",
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path.rstrip('/')}")


async def discover_jwks_uri(client: httpx.AsyncClient, issuer: str, *, seconds: float) -> str:
    """The `jwks_uri` of `issuer`'s metadata: the first document found (each GET bounded by `seconds`)."""
    problems: list[str] = []
    for url in metadata_urls(issuer):
        try:
            body = await fetch_bounded(client, url, what="issuer metadata", limit=MAX_METADATA_BYTES,
                                       seconds=seconds)
        except FetchError as exc:
            problems.append(f"{url}: {exc}")
            continue
        return jwks_uri_of(body, issuer, url)
    raise DiscoveryError(f"no metadata found for issuer {issuer} ({'; '.join(problems)})")


def jwks_uri_of(body: bytes, issuer: str, url: str) -> str:
    """The `jwks_uri` of one metadata document, checked: it names `issuer`, and the URI is https (or loopback)."""
    try:
        doc: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"{url}: issuer metadata is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{url}: issuer metadata is not a JSON object")
    named = doc.get("issuer")
    if named != issuer:
        raise DiscoveryError(f"{url}: metadata names issuer {str(named)[:_SHOWN]!r}, not {issuer!r}")
    jwks_uri = doc.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not 0 < len(jwks_uri) <= _MAX_URI:
        raise DiscoveryError(f"{url}: metadata has no usable jwks_uri")
    try:
        return check_url(jwks_uri, "jwks_uri")
    except ValueError as exc:
        raise DiscoveryError(f"{url}: {exc}") from None
