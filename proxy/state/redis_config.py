"""The `redis:` config section: credentials and TLS for the Redis named by `store:`, and Redis Sentinel.

Secrets come from an environment variable or a file (`SecretRef`), so the store URL can sit in a
ConfigMap without a password in it. Standalone on purpose: `proxy.config` embeds these models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.admin.config import SecretRef

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_NODE = re.compile(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([A-Za-z0-9._-]{1,253}):(\d{1,5})")
Username = Annotated[str, Field(pattern=r"^[^\s@:/]{1,128}$")]  # an ACL user name


class RedisTLS(BaseModel):
    """TLS towards Redis (also turned on by a `rediss://` store URL, which then uses the system's CAs)."""

    model_config = _FROZEN
    ca_file: Path | None = None  # trust anchors for the server's certificate (default: the system's)
    cert_file: Path | None = None  # client certificate, for a Redis that requires one (tls-auth-clients)
    key_file: Path | None = None
    verify: bool = True  # false: accept any certificate and host name (test set-ups only; warned at start)

    @model_validator(mode="after")
    def _pair(self) -> RedisTLS:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together")
        return self


class RedisSentinelConfig(BaseModel):
    """Redis Sentinel: the store follows the master the Sentinels name (store URL: redis://MASTER/DB)."""

    model_config = _FROZEN
    master: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]  # the name Sentinel monitors
    nodes: tuple[str, ...] = Field(min_length=1, max_length=16)  # HOST:PORT of each Sentinel
    username: Username | None = None  # the Sentinels' own credentials (their requirepass / ACL)
    password: SecretRef | None = None
    tls: bool = False  # reach the Sentinels over TLS too (with the redis.tls settings)

    @field_validator("nodes")
    @classmethod
    def _host_ports(cls, nodes: tuple[str, ...]) -> tuple[str, ...]:
        for node in nodes:
            split_node(node)
        if len(set(nodes)) != len(nodes):
            raise ValueError("sentinel nodes must be distinct")
        return nodes


class RedisConfig(BaseModel):
    """How to reach a Redis `store:`: ACL user, password, TLS, Sentinel (all optional)."""

    model_config = _FROZEN
    username: Username | None = None  # ACL user (default: Redis' `default` user)
    password: SecretRef | None = None  # {env: REDIS_PASSWORD} or {file: /run/secrets/redis-password}
    tls: RedisTLS | None = None
    sentinel: RedisSentinelConfig | None = None
    # Containment writes (quarantines, overlays, releases) wait until this many replicas hold them, else
    # fail: a failover cannot lose a change a responder was told succeeded. At most the replicas minus one.
    wait_replicas: int = Field(default=0, ge=0, le=5)


def split_node(node: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` → (host, port); ValueError (one line) otherwise."""
    match = _NODE.fullmatch(node)
    port = int(match.group(2) or match.group(4)) if match else 0
    if match is None or not 0 < port < 65536:
        raise ValueError(f"sentinel node must be HOST:PORT, got {node[:100]!r}")
    return match.group(1) or match.group(3), port
