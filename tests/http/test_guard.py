"""DNS-rebinding protection: Host allowlist with port globs, Origin refused unless allowed."""

from __future__ import annotations

import pytest

from proxy.config import HttpConfig
from proxy.http.guard import HostOriginGuard

DEFAULT = HostOriginGuard(HttpConfig().allowed_hosts, HttpConfig().allowed_origins)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:1", "LOCALHOST:8080"])
def test_default_hosts_allowed(host: str) -> None:
    assert DEFAULT.problem(host, None) is None


def test_default_ipv6_loopback_host_allowed() -> None:
    assert DEFAULT.problem("[::1]:9000", None) is None
    assert DEFAULT.problem("1:9000", None) == (421, "Host header not allowed")


@pytest.mark.parametrize("host", [
    "evil.example:8080", "127.0.0.2:8080", "localhost.evil.example:8080",
    "attacker.localhost:8080", "[::2]:9000", "",
])
def test_other_hosts_refused_with_421(host: str) -> None:
    assert DEFAULT.problem(host, None) == (421, "Host header not allowed")


def test_missing_host_refused() -> None:
    assert DEFAULT.problem(None, None) == (421, "Host header not allowed")


def test_host_checked_before_origin() -> None:
    assert DEFAULT.problem("evil.example:80", "http://evil.example") == (421, "Host header not allowed")


def test_loopback_hosts_without_port_are_allowed() -> None:
    assert DEFAULT.problem("127.0.0.1", None) is None
    assert DEFAULT.problem("localhost", None) is None


def test_only_loopback_origins_are_allowed_by_default() -> None:
    assert DEFAULT.problem("127.0.0.1:8080", "http://127.0.0.1:8080") is None
    assert DEFAULT.problem("127.0.0.1:8080", "http://localhost") is None
    assert DEFAULT.problem("127.0.0.1:8080", "http://evil.example") == (403, "Origin not allowed")
    assert DEFAULT.problem("127.0.0.1:8080", "https://localhost.evil.example") == (403, "Origin not allowed")
    assert DEFAULT.problem("127.0.0.1:8080", "null") == (403, "Origin not allowed")
    assert DEFAULT.problem("127.0.0.1:8080", "") == (403, "Origin not allowed")


def test_allowed_origins_with_port_globs() -> None:
    guard = HostOriginGuard(("proxy.internal:443", "127.0.0.1:*"), ("http://localhost:*", "https://app.example"))
    assert guard.problem("proxy.internal:443", "https://app.example") is None
    assert guard.problem("proxy.internal:443", "HTTPS://APP.EXAMPLE") is None
    assert guard.problem("127.0.0.1:5", "http://localhost:3000") is None
    assert guard.problem("proxy.internal:443", "https://app.example.evil") == (403, "Origin not allowed")
    assert guard.problem("proxy.internal:443", "http://evil.example") == (403, "Origin not allowed")
    assert guard.problem("proxy.internal:8443", None) == (421, "Host header not allowed")


def test_no_allowed_hosts_refuses_everything() -> None:
    guard = HostOriginGuard((), ())
    assert guard.problem("127.0.0.1:8080", None) == (421, "Host header not allowed")


def test_glob_metacharacters_in_hosts_are_literal_except_star() -> None:
    guard = HostOriginGuard(("a.b:80",), ())
    assert guard.problem("a.b:80", None) is None
    assert guard.problem("aXb:80", None) == (421, "Host header not allowed")
