"""Open the configured Store from its URL: `sqlite:PATH`, `sqlite::memory:` or `redis://HOST:PORT/DB`.

A Redis URL may come with the `redis:` section (password and TLS from secrets, Sentinel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.errors import ConfigError
from proxy.state.model import Store

if TYPE_CHECKING:
    from proxy.state.redis_config import RedisConfig

EXPECTED = "expected sqlite:PATH, sqlite::memory: or redis://HOST:PORT/DB"


def open_store(url: str, *, redis: RedisConfig | None = None, **options: Any) -> Store:
    """A not-yet-started Store for `url`; `options` go to the backend (e.g. `resync_interval`).

    `sqlite:///abs/path` is accepted as the URL spelling of `sqlite:/abs/path`; `rediss://` uses TLS;
    `redis` (the config's `redis:` section) applies to a Redis URL, and its secrets are read here.
    Raises `ConfigError` (without echoing any password) for anything else.
    """
    if url.startswith("sqlite:"):
        from proxy.state.sqlite import SQLiteStore

        _no_redis_section(url, redis)
        return SQLiteStore(_sqlite_path(url), **options)
    if url.startswith(("redis://", "rediss://")):
        from proxy.state.redis_client import redis_target
        from proxy.state.redis_store import RedisStore

        return RedisStore(redis_target(url, redis), **options)
    raise ConfigError(f"unsupported state store URL {_redact(url)!r}: {EXPECTED}")


def check_store(url: str, redis: RedisConfig | None = None) -> None:
    """What `open_store` checks, without reading secrets or creating a store (for `config check`)."""
    if url.startswith("sqlite:"):
        _no_redis_section(url, redis)
        _sqlite_path(url)
    elif url.startswith(("redis://", "rediss://")):
        from proxy.state.redis_client import redis_target

        redis_target(url, redis, resolve=False)
    else:
        raise ConfigError(f"unsupported state store URL {_redact(url)!r}: {EXPECTED}")


def _no_redis_section(url: str, redis: RedisConfig | None) -> None:
    if redis is not None:  # replicas on their own SQLite files would not share containment
        raise ConfigError(f"redis: is configured but the store is {url!r}: set store: redis://HOST:PORT/DB "
                          "(or remove the redis section)")


def _sqlite_path(url: str) -> str:
    path = url.removeprefix("sqlite:")
    if path.startswith("///"):
        path = path[2:]
    elif path.startswith("//"):
        raise ConfigError(f"state store URL {url!r}: use sqlite:PATH or sqlite:///ABSOLUTE/PATH (no host)")
    if not path:
        raise ConfigError(f"state store URL {url!r} has no path: {EXPECTED}")
    return path


def _redact(url: str) -> str:
    from proxy.state.redis_client import redact

    return redact(url)
