"""Static settings of the admin plane and of containment side effects (strict, frozen).

Standalone on purpose: `proxy.config` embeds these models, so nothing here imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from proxy.errors import ConfigError
from proxy.identity.apikeys import hash_api_key

ADMIN_TOKEN_ENV = "DRAWBRIDGE_ADMIN_TOKEN"  # noqa: S105 - a variable name
ENV_TOKEN_LABEL = "env-token"  # noqa: S105 - an actor label
_TOKEN_ENTRY = r"^(?:[A-Za-z0-9_.@-]{1,64}:)?[0-9a-f]{64}$"  # noqa: S105 - a pattern
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SecretRef(BaseModel):
    """A secret read at start-up from an environment variable or a file (same shape as SecretSource)."""

    model_config = _FROZEN
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env, file")
        return self

    def resolve(self, what: str) -> str:
        """The secret's value; ConfigError (one line) when it is missing or empty."""
        if self.env is not None:
            value = os.environ.get(self.env, "")
            source = f"environment variable {self.env}"
        else:
            path = self.file or Path()
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{what}: cannot read {path} ({exc.strerror})") from None
            source = str(path)
        if not value:
            raise ConfigError(f"{what}: {source} is not set or empty")
        return value


def _https_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"{what} must use https (http only for loopback)")
    return value


class AdminConfig(BaseModel):
    """The admin listener. `token_sha256` entries are `HEX` or `LABEL:HEX` (the label is the audit actor)."""

    model_config = _FROZEN
    listen: str = "127.0.0.1:8081"
    token_sha256: tuple[Annotated[str, StringConstraints(pattern=_TOKEN_ENTRY)], ...] = ()
    evidence_dir: Path = Path("var/evidence")
    # HOST:PORT of a listener that serves only GET /metrics, without a token (for scrapers; keep it off the
    # internet: it tells counts, never a subject). /metrics on the admin listener itself needs a token.
    metrics_listen: str | None = None

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str | None) -> str | None:
        if value is not None:
            from proxy.admin.auth import split_listen

            try:
                split_listen(value)
            except ConfigError as exc:
                raise ValueError(str(exc).replace("admin listen", "metrics_listen")) from None
        return value

    def token_labels(self, environ: dict[str, str] | None = None) -> dict[str, str]:
        """Token hash → actor label, including `DRAWBRIDGE_ADMIN_TOKEN` (plain, hashed here)."""
        labels: dict[str, str] = {}
        for entry in self.token_sha256:
            label, _, digest = entry.rpartition(":")
            labels[digest] = label or f"admin:{digest[:12]}"
        env = os.environ if environ is None else environ
        plain = env.get(ADMIN_TOKEN_ENV, "").strip()
        if plain:
            labels.setdefault(hash_api_key(plain), ENV_TOKEN_LABEL)
        return labels


class WebhookConfig(BaseModel):
    """Where containment notifications go, signed with an HMAC secret."""

    model_config = _FROZEN
    url: str
    secret: SecretRef
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=4, ge=0, le=10)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, "webhook url")


class RevocationConfig(BaseModel):
    """An RFC 7009 revocation endpoint and this proxy's client credentials there."""

    model_config = _FROZEN
    endpoint: str
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    client_secret: SecretRef
    max_tokens_per_principal: int = Field(default=32, ge=1, le=1024)
    ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value, "revocation endpoint")


class ContainmentConfig(BaseModel):
    """Side effects of containment actions."""

    model_config = _FROZEN
    webhook: WebhookConfig | None = None
    revocation: RevocationConfig | None = None
