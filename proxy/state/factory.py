"""Open the configured Store from one URL: `sqlite:PATH`, `sqlite::memory:` or `redis://HOST:PORT/DB`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from proxy.errors import ConfigError
from proxy.state.model import Store

EXPECTED = "expected sqlite:PATH, sqlite::memory: or redis://HOST:PORT/DB"


def open_store(url: str, **options: Any) -> Store:
    """A not-yet-started Store for `url`; `options` go to the backend (e.g. `resync_interval`).

    `sqlite:///abs/path` is accepted as the URL spelling of `sqlite:/abs/path`; `rediss://` uses TLS.
    Raises `ConfigError` (without echoing any password) for anything else.
    """
    if url.startswith("sqlite:"):
        from proxy.state.sqlite import SQLiteStore

        return SQLiteStore(_sqlite_path(url), **options)
    if url.startswith(("redis://", "rediss://")):
        from proxy.state.redis_store import RedisStore

        _check_redis(url)
        return RedisStore(url, **options)
    raise ConfigError(f"unsupported state store URL {_redact(url)!r}: {EXPECTED}")


def _sqlite_path(url: str) -> str:
    path = url.removeprefix("sqlite:")
    if path.startswith("///"):
        path = path[2:]
    elif path.startswith("//"):
        raise ConfigError(f"state store URL {url!r}: use sqlite:PATH or sqlite:///ABSOLUTE/PATH (no host)")
    if not path:
        raise ConfigError(f"state store URL {url!r} has no path: {EXPECTED}")
    return path


def _check_redis(url: str) -> None:
    parts = urlsplit(url)
    shown = _redact(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"state store URL {shown!r} has an invalid port: {EXPECTED}") from None
    if not parts.hostname or port is None:
        raise ConfigError(f"state store URL {shown!r} needs a host and a port: {EXPECTED}")
    db = parts.path.strip("/") or "0"
    if not db.isdigit() or parts.query or parts.fragment:
        raise ConfigError(f"state store URL {shown!r}: the path must be a database number: {EXPECTED}")


def _redact(url: str) -> str:
    """The URL with any password replaced by `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
