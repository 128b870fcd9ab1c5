"""Where and how the Redis store connects: the `store:` URL plus the `redis:` section, secrets resolved.

`redis_target` checks the pair and reads the secrets (one-line `ConfigError`s that never echo a
password); `connect` builds the client: a plain `Redis`, or with Sentinel a master client whose pool
asks the Sentinels for the master's address on every new connection, so a reconnect after a failover
reaches the new master.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from proxy.admin.config import SecretRef
from proxy.errors import ConfigError
from proxy.state.factory import EXPECTED
from proxy.state.redis_config import RedisConfig, RedisTLS, split_node

log = logging.getLogger(__name__)
MAX_SECRET_CHARS = 4096  # a Redis password longer than this is a file read by mistake


@dataclass(frozen=True)
class RedisTarget:
    """A checked Redis destination; `password` and `sentinel_password` are never shown (repr or logs)."""

    host: str  # with Sentinel: the master's name
    port: int | None  # None with Sentinel
    db: int
    tls: bool
    settings: RedisConfig = field(default_factory=RedisConfig)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """The destination for logs: no credentials."""
        sentinel = self.settings.sentinel
        if sentinel is not None:
            return f"Sentinel master {sentinel.master!r} via {','.join(sentinel.nodes)} (db {self.db})"
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"


def redis_target(url: str, settings: RedisConfig | None = None, *, resolve: bool = True) -> RedisTarget:
    """Check `url` with `settings`; with `resolve`, read the passwords (`config check` leaves that to its
    own secret check). TLS files are loaded here, so a missing or unreadable one stops start-up."""
    settings = settings or RedisConfig()
    parts, shown = urlsplit(url), redact(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"state store URL {shown!r} has an invalid port: {EXPECTED}") from None
    db = parts.path.strip("/") or "0"
    if parts.scheme not in ("redis", "rediss") or not db.isdigit() or parts.query or parts.fragment:
        raise ConfigError(f"state store URL {shown!r}: the path must be a database number: {EXPECTED}")
    sentinel = settings.sentinel
    if sentinel is not None:
        if parts.hostname != sentinel.master.lower() or port is not None:
            raise ConfigError(f"state store URL {shown!r}: with redis.sentinel write redis://{sentinel.master}/{db} "
                              "(the host names the master Sentinel monitors; no port)")
    elif not parts.hostname or port is None:
        raise ConfigError(f"state store URL {shown!r} needs a host and a port: {EXPECTED}")
    if parts.username and settings.username:
        raise ConfigError("redis.username: the store URL names a user too; give it in one place")
    if parts.password is not None and settings.password is not None:
        raise ConfigError("redis.password: the store URL holds a password too; give it in one place")
    tls = parts.scheme == "rediss" or settings.tls is not None
    if sentinel is not None and sentinel.tls and not tls:
        raise ConfigError("redis.sentinel.tls: needs TLS towards Redis too (a redis.tls section or rediss://)")
    if settings.tls is not None:
        _check_tls_files(settings.tls)
    password = unquote(parts.password) if parts.password is not None else None
    sentinel_password = None
    if resolve and settings.password is not None:
        password = _secret(settings.password, "redis.password")
    if resolve and sentinel is not None and sentinel.password is not None:
        sentinel_password = _secret(sentinel.password, "redis.sentinel.password")
    return RedisTarget(host=parts.hostname or "", port=port, db=int(db), tls=tls, settings=settings,
                       username=settings.username or (unquote(parts.username) if parts.username else None),
                       password=password, sentinel_password=sentinel_password)


def connect(target: RedisTarget, timeout: float) -> tuple[Redis, Sentinel | None]:
    """The client for `target` (and, with Sentinel, the Sentinel manager the caller closes too).

    No hidden retries: a failed command fails fast, the store's supervisor reconnects.
    """
    common: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                              "retry": Retry(NoBackoff(), 0)}
    tls = _tls_options(target.settings.tls) if target.tls else {}
    data = {**common, **tls, "db": target.db, "username": target.username, "password": target.password}
    sentinel = target.settings.sentinel
    if sentinel is None:
        return Redis(host=target.host, port=target.port or 6379, **data), None
    own = {**common, **(tls if sentinel.tls else {}), "username": sentinel.username,
           "password": target.sentinel_password}
    manager = Sentinel([split_node(node) for node in sentinel.nodes], sentinel_kwargs=own, **data)
    return manager.master_for(sentinel.master), manager


def redact(url: str) -> str:
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


def _secret(source: SecretRef, what: str) -> str:
    value = source.resolve(what)
    if len(value) > MAX_SECRET_CHARS or "\n" in value:
        raise ConfigError(f"{what}: longer than {MAX_SECRET_CHARS} characters or several lines: not a password")
    return value


def _check_tls_files(tls: RedisTLS) -> None:
    """Load the CA and the client certificate as a connection will (one line per problem, first one raised)."""
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"redis.tls.ca_file: {tls.ca_file}: {_reason(exc)}") from None
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"redis.tls.cert_file: {tls.cert_file} with {tls.key_file}: {_reason(exc)}") from None


def _tls_options(tls: RedisTLS | None) -> dict[str, Any]:
    options: dict[str, Any] = {"ssl": True}
    if tls is None:
        return options
    if tls.ca_file is not None:
        options["ssl_ca_certs"] = str(tls.ca_file)
    if tls.cert_file is not None:
        options.update(ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file))
    if not tls.verify:
        log.warning("redis.tls.verify is false: the Redis server's certificate and name are not checked")
        options.update(ssl_cert_reqs="none", ssl_check_hostname=False)
    return options


def _reason(exc: OSError | ssl.SSLError) -> str:
    return str(getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc)
