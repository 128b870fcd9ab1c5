"""DNS-rebinding protection: the proxy validates Host and Origin itself.

The servers behind the proxy see the proxy's own Host and no Origin, so they can no longer
judge the agent's; this check is done here instead.
"""

from __future__ import annotations

import re

from proxy.globs import compile_globs


class HostOriginGuard:
    """Allow a request only if its Host matches the allowed hosts and any Origin is allowed."""

    def __init__(self, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]) -> None:
        self._hosts = _compile(allowed_hosts)
        self._origins = _compile(allowed_origins)

    def problem(self, host: str | None, origin: str | None) -> tuple[int, str] | None:
        """(HTTP status, reason) when the request must be refused, else None."""
        if host is None or self._hosts is None or not self._hosts.fullmatch(host.lower()):
            return 421, "Host header not allowed"
        if origin is not None and (self._origins is None or not self._origins.fullmatch(origin.lower())):
            return 403, "Origin not allowed"
        return None


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return compile_globs(p.lower() for p in patterns) if patterns else None
