"""Issue 14, "outbound like an enterprise": HTTPS_PROXY/HTTP_PROXY/NO_PROXY honoured per upstream. Every
connection through a proxy is an HTTP CONNECT tunnel (http:// upstreams too). A real CONNECT proxy on loopback
(tests/support/connect_proxy.py), real upstream servers, a real `drawbridge serve` process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from proxy.admin.config import SecretRef
from proxy.errors import ConfigError
from proxy.upstream import UpstreamPool, UpstreamTimeout, UpstreamUnavailable
from proxy.upstream.outbound import outbound_pool
from proxy.upstream.proxies import ProxyRoute, bypassed, proxy_route
from proxy.upstream.settings import UpstreamProxy, UpstreamTLS
from proxy.upstream.tls import client_context
from tests.support.connect_proxy import ConnectProxy
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.sdk import weather as sdk_weather
from tests.upstream.conftest import NO_PROXY_ENV, Pki, https_demo_server

UNAVAILABLE = -32060
ACCEPT = {"accept": "application/json, text/event-stream"}
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
SECRET = "pr0xy-s3cret"


def weather(proxy: Drawbridge, upstream: str) -> str:
    return sdk_weather(proxy.mcp_url(upstream))


# ---------------------------------------------------------------- a real drawbridge process
@pytest.mark.e2e
def test_https_upstream_through_the_proxy_of_https_proxy_and_directly_where_no_proxy_says(
        pki: Pki, tmp_path: Any) -> None:
    corp = {"ca_file": str(pki.ca.cert)}
    with (ConnectProxy(credentials=("svc", SECRET)) as proxy, ConnectProxy(refuse=403) as strict,
          https_demo_server(pki.server) as url):
        port = url.split(":")[2].split("/")[0]
        upstreams: list[dict[str, Any]] = [
            {"name": "tunnelled", "url": url, "tls": corp},  # 127.0.0.1: through HTTPS_PROXY
            {"name": "bypassed", "url": f"https://localhost:{port}/mcp", "tls": corp},  # NO_PROXY names localhost
            {"name": "forbidden", "url": url, "tls": corp, "proxy": {"url": strict.url}},  # a proxy that refuses
        ]
        # lowercase: an empty https_proxy (as NO_PROXY_ENV sets) would hide HTTPS_PROXY, as curl and urllib do
        env = {**NO_PROXY_ENV, "https_proxy": proxy.url_with("svc", SECRET), "no_proxy": "example.com,localhost"}
        with run_drawbridge(tmp_path, {}, extra={"upstreams": upstreams, "log_level": "info"}, env=env) as guarded:
            assert "Oslo" in weather(guarded, "tunnelled")
            assert "Oslo" in weather(guarded, "bypassed")
            answer = httpx.post(guarded.mcp_url("forbidden"), json=PING, headers=ACCEPT, timeout=10)
            assert answer.status_code == 502 and answer.json()["error"]["code"] == UNAVAILABLE
            failed = [e for e in guarded.events() if e["upstream"] == "forbidden" and e["error_code"] == UNAVAILABLE]
            assert len(failed) == 1 and failed[0]["origin"] == "proxy"
            ready = httpx.get(f"{guarded.url}/readyz", timeout=5).json()["upstreams"]
            log = guarded.log()
    assert set(proxy.tunnels) == {f"127.0.0.1:{port}"}  # the calls and probes of `tunnelled`, never localhost
    assert set(proxy.authorizations) == {"Basic c3ZjOnByMHh5LXMzY3JldA=="}  # svc:pr0xy-s3cret, from the URL
    assert strict.requests and set(strict.requests) == {f"CONNECT 127.0.0.1:{port} HTTP/1.1"} and not strict.tunnels
    refusal = f"proxy {strict.url[7:]} refused the tunnel to 127.0.0.1:{port} (HTTP 403: forbidden by the proxy)"
    assert ready["forbidden"] == {"ready": False, "detail": refusal}
    assert ready["tunnelled"]["ready"] and ready["bypassed"]["ready"]
    assert f"upstream forbidden unavailable: cannot connect to upstream: {refusal}" in log
    assert f"upstream tunnelled: through proxy {proxy.url[7:]} (HTTPS_PROXY)" in log
    assert f"upstream forbidden: through proxy {strict.url[7:]} (config)" in log
    assert "upstream bypassed: through" not in log
    assert SECRET not in log and "c3ZjOnByMHh5LXMzY3JldA" not in log


# ---------------------------------------------------------------- the pool through a proxy
@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A plain HTTP/1.1 keep-alive server on loopback answering every request with its head: (port, heads)."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                               if line.startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(head), head))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], heads
    server.close()


def route(proxy: ConnectProxy, user: str | None = None) -> ProxyRoute:
    """`proxy: {url, username, password: {env: PROXY_TEST_PASSWORD}}` (no credentials without `user`)."""
    password = SecretRef(env="PROXY_TEST_PASSWORD") if user else None
    found = proxy_route("http://h", UpstreamProxy(url=proxy.url, username=user, password=password), "upstream t")
    assert found is not None
    return found


async def call(pool: UpstreamPool, body: bytes = b"{}") -> bytes:
    response = await pool.request("POST", pool.base_path, [(b"x-trace", b"1")], body, timeout=5)
    return await response.read(1 << 16, 5)


@pytest.mark.anyio
async def test_http_upstream_is_one_connect_tunnel_reused_with_origin_form_requests(
        echo_server: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, heads = echo_server
    monkeypatch.setenv("PROXY_TEST_PASSWORD", SECRET)
    with ConnectProxy(credentials=("svc", SECRET)) as proxy:
        pool = UpstreamPool(f"http://127.0.0.1:{port}/mcp", proxy=route(proxy, "svc"))
        answers = [await call(pool) for _ in range(3)]
        await pool.aclose()
    assert proxy.tunnels == [f"127.0.0.1:{port}"]  # one tunnel, kept alive for the three requests
    assert proxy.requests == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]
    assert answers[0].startswith(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port) and len(heads) == 3
    assert all(b"proxy-authorization" not in h.lower() for h in heads)  # the proxy's credentials stay with it


@pytest.mark.anyio
async def test_https_upstream_through_a_tunnel_checks_the_upstream_certificate(pki: Pki) -> None:
    with ConnectProxy() as proxy, https_demo_server(pki.server) as url:
        via = ProxyRoute("127.0.0.1", proxy.port)
        trusting = UpstreamPool(url, proxy=via, ssl_context=client_context(UpstreamTLS(ca_file=pki.ca.cert), "t"))
        response = await trusting.request("GET", b"/mcp", [(b"accept", b"text/event-stream")], b"", timeout=5)
        assert response.status in (400, 405, 406)  # the MCP server answered through the tunnel
        await response.aclose()
        assert await trusting.probe() is None
        default = UpstreamPool(url, proxy=via)  # the system's CAs: the private CA is not one of them
        with pytest.raises(UpstreamUnavailable) as caught:
            await default.request("GET", b"/mcp", [], b"", timeout=5)
        assert str(caught.value) == ("cannot connect to upstream: TLS handshake failed (certificate verify failed: "
                                     f"unable to get local issuer certificate) through proxy 127.0.0.1:{proxy.port}")
        await trusting.aclose()
        await default.aclose()


@pytest.mark.anyio
async def test_connect_failures_are_upstream_unavailable_or_timeout_with_the_reason(
        echo_server: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, heads = echo_server
    target = f"http://127.0.0.1:{port}/mcp"
    monkeypatch.setenv("PROXY_TEST_PASSWORD", "wrong")
    with (ConnectProxy(credentials=("svc", SECRET)) as guarded, ConnectProxy(silent=True) as silent,
          ConnectProxy(refuse=502) as broken):
        for proxy, expected in [
            (guarded, f"proxy 127.0.0.1:{guarded.port} refused the tunnel to 127.0.0.1:{port} "
                      "(HTTP 407: proxy authentication required)"),
            (broken, f"proxy 127.0.0.1:{broken.port} refused the tunnel to 127.0.0.1:{port} "
                     "(HTTP 502: the proxy could not reach the upstream)"),
        ]:
            pool = UpstreamPool(target, proxy=route(proxy, "svc"))
            with pytest.raises(UpstreamUnavailable) as caught:
                await call(pool)
            assert str(caught.value) == f"cannot connect to upstream: {expected}"
            assert await pool.probe() == expected
        pool = UpstreamPool(target, proxy=route(silent), connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as timed_out:
            await call(pool)
        assert 0.25 < time.monotonic() - started < 2
        assert str(timed_out.value) == f"timed out connecting to upstream through proxy 127.0.0.1:{silent.port}"
        closed_port = silent.port
    pool = UpstreamPool(target, proxy=ProxyRoute("127.0.0.1", closed_port))
    with pytest.raises(UpstreamUnavailable) as caught:
        await call(pool)
    assert str(caught.value) == (f"cannot connect to upstream: cannot reach proxy 127.0.0.1:{closed_port} "
                                 "(connection refused)")
    assert heads == [] and "wrong" not in repr(route(guarded, "svc"))


# ---------------------------------------------------------------- which proxy, from the environment
@pytest.mark.parametrize(("url", "env", "expected"), [
    ("https://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128"}, "p:3128"),
    ("https://mcp.corp.example/mcp", {"https_proxy": "p2:8080", "HTTPS_PROXY": "http://p:3128"}, "p2:8080"),
    ("http://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128"}, None),  # http:// reads HTTP_PROXY
    ("http://mcp.corp.example/mcp", {"HTTP_PROXY": "http://p:3128"}, "p:3128"),
    ("https://mcp.corp.example/mcp", {"ALL_PROXY": "http://p"}, "p:80"),
    ("https://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "corp.example"}, None),
    ("https://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".corp.example"}, None),
    ("https://corp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "mcp.corp.example"}, "p:3128"),
    ("https://badcorp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "corp.example"}, "p:3128"),
    ("https://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "a.b, *"}, None),
    ("https://mcp.corp.example:8443/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "mcp.corp.example:8443"},
     None),
    ("https://mcp.corp.example/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "mcp.corp.example:8443"},
     "p:3128"),
    ("https://10.1.2.3/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, None),
    ("https://11.1.2.3/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, "p:3128"),
    ("https://[::1]:8443/mcp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "::1"}, None),
    ("https://[fd00::5]/mcp", {"HTTPS_PROXY": "http://[fd00::1]:3128", "NO_PROXY": "10.0.0.0/8"}, "[fd00::1]:3128"),
])
def test_the_environment_names_the_proxy_unless_no_proxy_names_the_host(
        no_proxy_env: pytest.MonkeyPatch, url: str, env: dict[str, str], expected: str | None) -> None:
    for name, value in env.items():
        no_proxy_env.setenv(name, value)
    found = proxy_route(url, "env", "upstream t")
    assert (found.address if found else None) == expected
    assert proxy_route(url, "none", "upstream t") is None  # proxy: none ignores the environment


def test_proxy_credentials_come_from_the_url_or_a_secret_and_never_show(
        no_proxy_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://svc%40corp:p%3Ass@proxy.corp:3128")
    no_proxy_env.setenv("PROXY_TEST_PASSWORD", SECRET)
    with caplog.at_level(logging.INFO, "drawbridge"):
        from_env = proxy_route("https://h/mcp", "env", "upstream t")
        configured = proxy_route("https://h/mcp", UpstreamProxy(url="http://proxy.corp:3128", username="svc",
                                                                password=SecretRef(env="PROXY_TEST_PASSWORD")),
                                 "upstream u")
    assert from_env == ProxyRoute("proxy.corp", 3128, b"Basic c3ZjQGNvcnA6cDpzcw==")  # svc@corp:p:ss
    assert configured == ProxyRoute("proxy.corp", 3128, b"Basic c3ZjOnByMHh5LXMzY3JldA==")
    assert caplog.messages == ["upstream t: through proxy proxy.corp:3128 (HTTPS_PROXY)",
                               "upstream u: through proxy proxy.corp:3128 (config)"]
    assert "p:ss" not in repr(from_env) and "Basic" not in repr(configured)


@pytest.mark.parametrize(("value", "problem"), [
    ("socks5://p:1080", "upstream t: HTTPS_PROXY is a socks5:// proxy: only http:// proxies are supported "
                        "(or set the upstream's proxy: none)"),
    ("https://p:3128", "upstream t: HTTPS_PROXY is a https:// proxy: only http:// proxies are supported "
                       "(or set the upstream's proxy: none)"),
    ("http://p:99999", "upstream t: HTTPS_PROXY: not an http://HOST[:PORT] proxy URL"),
    ("http://user:pw@:3128", "upstream t: HTTPS_PROXY: not an http://HOST[:PORT] proxy URL"),
])
def test_an_unusable_proxy_in_the_environment_refuses_the_start(
        no_proxy_env: pytest.MonkeyPatch, value: str, problem: str) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", value)
    with pytest.raises(ConfigError) as caught:
        outbound_pool("t", "https://h/mcp", connect_timeout=1)
    assert str(caught.value) == problem and "pw" not in str(caught.value)
    outbound_pool("t", "https://h/mcp", connect_timeout=1, proxy="none")  # unless the upstream says none


def test_no_proxy_matching_follows_curl() -> None:
    assert bypassed("mcp.corp.example", 443, "corp.example")
    assert bypassed("MCP.corp.example", 443, ".Corp.Example")
    assert not bypassed("notcorp.example", 443, "corp.example")
    assert bypassed("localhost", 8080, "localhost:8080") and not bypassed("localhost", 8081, "localhost:8080")
    assert bypassed("192.168.4.2", 443, "10.0.0.0/8, 192.168.0.0/16")
    assert not bypassed("mcp.corp.example", 443, "")
