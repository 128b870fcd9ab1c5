"""Static configuration (`drawbridge.yaml`): a strict, frozen model loaded once at start-up.

Policy is separate and hot-reloadable; everything here needs a restart.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.admin.config import AdminConfig, ContainmentConfig
from proxy.errors import ConfigError
from proxy.http.forwarded import ForwardedHeader, parse_networks
from proxy.identity.config import IdentityConfig
from proxy.identity.resource import RouteSpec, protected_resources
from proxy.jsonrpc import Limits
from proxy.pins.settings import PinsConfig
from proxy.state.redis_config import RedisConfig
from proxy.tracing.config import TracingConfig
from proxy.upstream.settings import ProxySetting, UpstreamTLS
from proxy.yamlfile import read_yaml, validate_model

UPSTREAM_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_POLICY_DIR = Path("policies/default")
PACKAGED_POLICY_DIR = Path(__file__).parent / "policies" / "default"
DEFAULT_UPSTREAM = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSource(_Strict):
    """A credential taken from the environment or a file at start-up (never written in config)."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env, file")
        return self

    def resolve(self, what: str) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"{what}: environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {self.file} ({exc.strerror})") from None


class UpstreamConfig(_Strict):
    """One MCP server behind the proxy, served at `/<name>/mcp` (or `/mcp` for `default`)."""

    name: Annotated[str, Field(pattern=UPSTREAM_NAME)] = DEFAULT_UPSTREAM
    url: str
    headers: dict[str, SecretSource] = Field(default_factory=dict)  # the upstream's own credentials
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    tls: UpstreamTLS | None = None  # https:// only: CA bundle, client certificate (mTLS), server name
    proxy: ProxySetting = "env"  # env: HTTPS_PROXY/HTTP_PROXY/NO_PROXY | none | {url: http://HOST:PORT}
    # the `aud` JWTs must carry on this route (default: identity.jwt.audience, else the route's resource URI)
    audience: str | None = Field(default=None, min_length=1, max_length=1024)

    @property
    def path(self) -> str:
        """Where agents reach it: `/mcp` for `default`, `/<name>/mcp` for the others."""
        return "/mcp" if self.name == DEFAULT_UPSTREAM else f"/{self.name}/mcp"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _tls_needs_https(self) -> UpstreamConfig:
        if self.tls is not None and not self.url.startswith("https://"):
            raise ValueError("tls applies to https:// upstream URLs only")
        return self


class OtlpConfig(_Strict):
    """Export audit events as OpenTelemetry log records over OTLP/HTTP (best effort, batched)."""

    endpoint: str = Field(pattern=r"^https?://\S+$")  # e.g. http://otel-collector:4318/v1/logs
    headers: dict[str, SecretSource] = Field(default_factory=dict)
    service_name: str = "drawbridge"
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


AuditMode = Literal["required", "best_effort"]


class _AuditSink(_Strict):
    """What every entry of `audit.sinks` has: a name (stats, `audit_gap`), a format and a mode."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:/-]{1,80}$")  # default: derived from type
    format: Literal["native", "ocsf"] = "native"
    mode: AuditMode | None = None  # default: audit.mode


class _QueuedSink(_AuditSink):
    """A network sink: a bounded queue drained by a background thread."""

    queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    linger_seconds: float = Field(default=0.2, ge=0, le=60)  # wait this long for a batch to fill
    close_timeout_seconds: float = Field(default=5.0, gt=0, le=300)  # flushing the tail at shutdown


class FileSinkConfig(_AuditSink):
    type: Literal["file"]
    path: Path
    fsync: bool = False
    max_bytes: int | None = Field(default=None, ge=4096)  # rotate past this size
    max_age_seconds: float | None = Field(default=None, ge=1)  # rotate a file this old


class StdoutSinkConfig(_AuditSink):
    type: Literal["stdout"]


class OtlpSinkConfig(_QueuedSink):
    type: Literal["otlp"]
    endpoint: str = Field(pattern=r"^https?://\S+$")
    headers: dict[str, SecretSource] = Field(default_factory=dict)
    service_name: str = "drawbridge"
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class SyslogSinkConfig(_QueuedSink):
    """RFC 5424 over TCP with octet-counting framing (RFC 6587), optionally TLS (RFC 5425)."""

    type: Literal["syslog"]
    host: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,253}$")
    port: int = Field(default=6514, ge=1, le=65535)
    tls: bool = False
    ca_file: Path | None = None  # trust anchors for TLS (default: the system's)
    server_name: str | None = None  # TLS name to check (default: host)
    facility: int = Field(default=13, ge=0, le=23)  # 13: log audit; 16-23: local0-7
    app_name: str = Field(default="drawbridge", pattern=r"^[!-~]{1,48}$")
    sd_id: str = Field(default="drawbridge@32473", pattern=r'^[!#-<>-\\^-~]{1,32}$')  # your own PEN here
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class HecSinkConfig(_QueuedSink):
    """Splunk HTTP Event Collector (or a compatible receiver): batched POSTs of JSON events."""

    type: Literal["hec"]
    url: str = Field(pattern=r"^https?://[^/\s]+/?$")  # base URL, e.g. https://splunk:8088
    token: SecretSource
    source: str = "drawbridge"
    sourcetype: str = "drawbridge:audit"
    index: str | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


AuditSinkConfig = Annotated[FileSinkConfig | StdoutSinkConfig | OtlpSinkConfig | SyslogSinkConfig | HecSinkConfig,
                            Field(discriminator="type")]


class AuditConfig(_Strict):
    """`file`, `stdout` and `otlp` are shorthands for entries of `sinks` (OTLP stays best effort)."""

    file: Path | None = None
    stdout: bool = False
    fsync: bool = False  # fsync each event before the message is released
    otlp: OtlpConfig | None = None
    mode: AuditMode = "required"  # required: a sink that cannot take an event refuses the message
    sinks: tuple[AuditSinkConfig, ...] = ()
    chain_key: SecretSource | None = None  # HMAC key signing the file sinks' checkpoints
    checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)  # events between checkpoints


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_depth: int = Field(default=64, ge=4, le=512)
    max_batch: int = Field(default=32, ge=1, le=1024)
    max_sse_event_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_stdio_line_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    def message_limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_depth, self.max_batch)


class HttpConfig(_Strict):
    """DNS-rebinding protection: the proxy checks Host and Origin itself."""

    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
    # Requests carrying any other Origin are refused (403); by default only loopback pages may call.
    allowed_origins: tuple[str, ...] = ("http://localhost", "http://localhost:*", "http://127.0.0.1",
                                        "http://127.0.0.1:*", "http://[::1]", "http://[::1]:*")
    # Load balancers and ingresses (CIDRs) whose forwarded_header names the agent; empty: the socket peer is it
    trusted_proxies: tuple[str, ...] = ()
    forwarded_header: ForwardedHeader = "x-forwarded-for"  # or forwarded (RFC 7239): the one the proxies write

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(value)
        return value


class StdioConfig(_Strict):
    """`drawbridge stdio`: who the single local caller is, and the child's explicit environment."""

    principal: str = "local"
    agent: str | None = None
    upstream_name: Annotated[str, Field(pattern=UPSTREAM_NAME)] = "stdio"
    env: dict[str, str] = Field(default_factory=dict)
    inherit_env: tuple[str, ...] = ("PATH", "HOME", "LANG", "TMPDIR")


class SessionsConfig(_Strict):
    """Conversation bindings and pending server requests, kept in the shared store."""

    idle_timeout_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)  # unused bindings expire
    server_request_timeout_seconds: int = Field(default=600, ge=5, le=24 * 3600)  # agent's answer awaited


class PolicyReloadConfig(_Strict):
    watch: bool = True
    interval_seconds: float = Field(default=1.0, ge=0.1, le=3600)


class ApprovalsConfig(_Strict):
    """Human approval of held calls (who may approve and for how long is policy: `settings.approval`)."""

    # The key that seals the `requestState` of an in-band approval (every replica must share it): with
    # none, modern-era agents wait for an out-of-band decision like every other agent.
    state_key: SecretSource | None = None


class Config(_Strict):
    listen: str = "127.0.0.1:8080"
    policy: Path = Field(default=DEFAULT_POLICY_DIR, validate_default=True)
    shadow_policy: Path | None = None  # a candidate policy directory evaluated beside `policy`; differences audited
    upstreams: tuple[UpstreamConfig, ...] = ()
    audit: AuditConfig = AuditConfig()
    limits: LimitsConfig = LimitsConfig()
    http: HttpConfig = HttpConfig()
    identity: IdentityConfig = IdentityConfig()
    stdio: StdioConfig = StdioConfig()
    sessions: SessionsConfig = SessionsConfig()
    policy_reload: PolicyReloadConfig = PolicyReloadConfig()
    store: str = "sqlite:var/drawbridge-state.db"  # or redis://HOST:PORT/DB to share state between replicas
    redis: RedisConfig | None = None  # a Redis store's password/TLS from secrets, and Sentinel
    admin: AdminConfig | None = None  # the admin API listener (off unless configured)
    containment: ContainmentConfig = ContainmentConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()
    pins: PinsConfig | None = None  # tool-definition pinning per upstream (strict | tofu | alert)
    tracing: TracingConfig = TracingConfig()  # OpenTelemetry spans of each message, over OTLP/HTTP (off by default)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"  # process logs on stderr; json: one object per line
    workers: int | Literal["auto"] = Field(default=1)  # data-plane processes on one listener; auto: the usable CPUs
    # SIGTERM/SIGINT: stop accepting, let calls in flight finish this long (below Kubernetes' 30 s grace), then exit
    drain_timeout_seconds: int = Field(default=25, ge=1, le=600)

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError("workers must be between 1 and 256, or auto")
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("policy")
    @classmethod
    def _embedded_default(cls, value: Path) -> Path:
        """The default policy directory falls back to the copy shipped inside the package."""
        if value == DEFAULT_POLICY_DIR and not value.is_dir():
            return PACKAGED_POLICY_DIR
        return value

    @model_validator(mode="after")
    def _unique_upstreams(self) -> Config:
        names = [u.name for u in self.upstreams]
        if len(names) != len(set(names)):
            raise ValueError("upstream names must be unique")
        return self

    @model_validator(mode="after")
    def _route_audiences(self) -> Config:
        protected_resources(self.identity, self.listen, self.routes())  # ValueError: a route has no audience
        return self

    def routes(self) -> dict[str, RouteSpec]:
        """Each upstream's route, as identity sees it (`identity/resource.py`)."""
        return {u.name: RouteSpec(u.path, u.audience) for u in self.upstreams}


def split_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` → (host, port)."""
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([A-Za-z0-9._-]+):(\d{1,5})", value)
    if not match:
        raise ValueError(f"listen address must be HOST:PORT, got {value!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {value!r}")
    return host, port


def load_config(path: Path) -> Config:
    """Load and validate a config file; raises ConfigError with one actionable line."""
    return validate_model(Config, read_yaml(path), path)
