"""Per-upstream outbound settings in `drawbridge.yaml`: TLS towards the upstream and the HTTP proxy to reach it.

    upstreams:
      - name: billing
        url: https://billing.internal:8443/mcp
        tls:
          ca_file: /etc/drawbridge/corp-ca.pem      # trust these CAs only (not the system's)
          cert_file: /etc/drawbridge/client.pem     # mTLS: the proxy's client certificate
          key_file: /etc/drawbridge/client-key.pem
        proxy: env                                  # HTTPS_PROXY/HTTP_PROXY/NO_PROXY (default) | none | {url: ...}

Standalone on purpose (secrets are `SecretRef`s): `proxy.config` embeds these models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.admin.config import SecretRef

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_HOST_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$"
_PROXY_URL = re.compile(r"http://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253})(?::\d{1,5})?/?")


class UpstreamTLS(BaseModel):
    """TLS towards an https:// upstream: which CAs to trust, the client certificate (mTLS), the name checked."""

    model_config = _FROZEN
    ca_file: Path | None = None  # PEM bundle: trust these CAs only, instead of the system's (default: the system's)
    cert_file: Path | None = None  # PEM client certificate (its chain may follow) for an upstream that requires one
    key_file: Path | None = None  # its private key (default: in cert_file)
    key_password: SecretRef | None = None  # for an encrypted key_file: {env: VAR} or {file: PATH}
    # SNI and the name the certificate must carry (default: the URL's host), e.g. when the URL is an IP address
    server_name: Annotated[str, Field(pattern=_HOST_NAME)] | None = None
    insecure_skip_verify: bool = False  # accept any certificate and name: test set-ups only (a warning at start)

    @model_validator(mode="after")
    def _consistent(self) -> UpstreamTLS:
        if self.cert_file is None and (self.key_file is not None or self.key_password is not None):
            raise ValueError("key_file and key_password need cert_file")
        if self.insecure_skip_verify and self.ca_file is not None:
            raise ValueError("insecure_skip_verify ignores ca_file: give one or the other")
        return self


class UpstreamProxy(BaseModel):
    """An HTTP proxy named in the config: every connection to the upstream is a CONNECT tunnel through it."""

    model_config = _FROZEN
    url: str  # http://HOST:PORT (credentials go in username/password, never in the URL)
    username: Annotated[str, Field(pattern=r"^[^\s:]{1,128}$")] | None = None  # Basic proxy authentication
    password: SecretRef | None = None

    @field_validator("url")
    @classmethod
    def _http_proxy(cls, value: str) -> str:
        if _PROXY_URL.fullmatch(value) is None:
            raise ValueError("must be http://HOST[:PORT] (no credentials, path or query; https:// and socks "
                             "proxies are not supported)")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> UpstreamProxy:
        if self.password is not None and self.username is None:
            raise ValueError("password needs username")
        return self


# env: HTTPS_PROXY (https:// upstreams) or HTTP_PROXY (http://), else ALL_PROXY, unless NO_PROXY names the host
ProxySetting = Literal["env", "none"] | UpstreamProxy
