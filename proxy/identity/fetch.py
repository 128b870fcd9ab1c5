"""Bounded GETs of identity documents (JWKS, issuer metadata): one time limit, one size limit."""

from __future__ import annotations

import anyio
import httpx

__all__ = ["FetchError", "fetch_bounded"]


class FetchError(Exception):
    """The document could not be fetched (message is safe to log: it names the document, never a body)."""


async def fetch_bounded(client: httpx.AsyncClient, url: str, *, what: str, limit: int, seconds: float) -> bytes:
    """GET `url` and return its body; FetchError on a non-200 answer, more than `limit` bytes (declared or
    read), a network error, or more than `seconds` for the whole exchange."""
    try:
        with anyio.fail_after(seconds):
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise FetchError(f"{what} fetch failed: HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"{what} response exceeds size limit")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(f"{what} response exceeds size limit")
                return bytes(body)
    except TimeoutError as exc:
        raise FetchError(f"{what} fetch timed out") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{what} fetch failed: {type(exc).__name__}") from exc
