"""Which HTTP proxy, if any, carries the connections to one upstream (decided once, at start-up).

`proxy: env` (the default) reads the environment as curl and httpx do: `HTTPS_PROXY` for an https://
upstream, `HTTP_PROXY` for an http:// one, `ALL_PROXY` when that is unset (lowercase names win), unless
`NO_PROXY` names the host: a name also matches its subdomains (`corp.example` and `.corp.example` both match
`mcp.corp.example`), `HOST:PORT` matches that port only, an IP address or CIDR range matches IP hosts in it,
and `*` matches every host. `proxy: none` always connects directly; `proxy: {url: ...}` always uses that proxy.
Only http:// proxies are supported; anything else in the environment refuses the start (fail closed).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from proxy.errors import ConfigError
from proxy.upstream.settings import ProxySetting, UpstreamProxy

__all__ = ["ProxyRoute", "bypassed", "proxy_route"]

log = logging.getLogger("drawbridge")


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """An HTTP proxy to tunnel through: its address and the Basic credentials it wants (never logged)."""

    host: str
    port: int
    authorization: bytes | None = field(default=None, repr=False)  # b"Basic ..." for Proxy-Authorization

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def proxy_route(url: str, setting: ProxySetting, what: str) -> ProxyRoute | None:
    """The proxy for the upstream at ``url`` (None: connect directly); ConfigError (one line) when unusable."""
    if setting == "none":
        return None
    if isinstance(setting, UpstreamProxy):
        password = setting.password.resolve(f"{what}: proxy.password") if setting.password else ""
        route = _parse(setting.url, setting.username, password, f"{what}: proxy.url")
        log.info("%s: through proxy %s (config)", what, route.address)
        return route
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    proxies = urllib.request.getproxies_environment()
    variable = scheme if proxies.get(scheme) else "all"
    value = proxies.get(variable)
    if not value or bypassed(host, parts.port or (443 if scheme == "https" else 80), proxies.get("no", "")):
        return None
    name = f"{variable.upper()}_PROXY"
    route = _from_env(value, f"{what}: {name}")
    log.info("%s: through proxy %s (%s)", what, route.address, name)
    return route


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host`` (curl's rules, CIDR ranges included)."""
    entries = [e.strip() for e in no_proxy.split(",") if e.strip()]
    if "*" in entries:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        for entry in entries:
            try:
                if ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                continue
    return urllib.request.proxy_bypass_environment(f"{host}:{port}", {"no": no_proxy})  # type: ignore[attr-defined,no-any-return]


def _from_env(value: str, what: str) -> ProxyRoute:
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme != "http":
        raise ConfigError(f"{what} is a {parts.scheme}:// proxy: only http:// proxies are supported "
                          "(or set the upstream's proxy: none)")
    try:
        user, password = parts.username, parts.password
        return _parse(f"http://{parts.netloc.rpartition('@')[2]}", unquote(user) if user is not None else None,
                      unquote(password or ""), what)
    except ValueError:
        raise ConfigError(f"{what}: not an http://[USER:PASSWORD@]HOST[:PORT] URL") from None


def _parse(url: str, username: str | None, password: str, what: str) -> ProxyRoute:
    parts = urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError:
        port = 0
    if not parts.hostname or not 0 < port < 65536 or parts.path not in ("", "/"):
        raise ConfigError(f"{what}: not an http://HOST[:PORT] proxy URL")
    authorization = None
    if username is not None:
        token = base64.b64encode(f"{username}:{password}".encode())
        authorization = b"Basic " + token
    return ProxyRoute(parts.hostname, port, authorization)
