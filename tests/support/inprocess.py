"""Run the real data plane (and upstreams) inside the test's own event loop: no subprocess.

`serve_asgi(app)` serves any ASGI app with uvicorn as a task in the running loop, on a real loopback
socket (the proxy's upstream client needs TCP, and long-lived SSE needs real streaming, which
`httpx.ASGITransport` cannot do). `inprocess_proxy(...)` builds the proxy exactly as
`proxy.http.server.serve` does and serves it the same way, so a test can reach the proxy's runtime
objects (`runtime.store`, `plane.live`, …) while real clients talk to it.

`RecordingUpstream` is a tiny scripted JSON-RPC upstream that records the exact bytes that reached it and,
unlike `tests.support.scripted_upstream`, answers batches and hands out a session id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import uvicorn
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from proxy.config import Config, load_config
from proxy.http.admin_plane import build_admin
from proxy.http.app import build_app
from proxy.http.containment import PlaneContainment
from proxy.http.context import Plane
from proxy.runtime import Runtime
from tests.support.drawbridge import PERMIT_ALL, audit_events
from tests.support.scripted_upstream import Recorded, read_body, run_lifespan

ADMIN_TOKEN = "db-admin-inprocess-token"
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PROTOCOL = "2025-11-25"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


# -- serving ASGI apps in the current loop ------------------------------------------------------
class _InLoopServer(uvicorn.Server):
    """uvicorn without signal capture: the test runner owns SIGINT/SIGTERM, and servers nest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn calls sys.exit() when the lifespan fails; a SystemExit raised in a task would stop the
        # test's whole event loop, so it becomes an ordinary error that serve_asgi reports.
        try:
            await super().startup(sockets=sockets)
        except SystemExit as exc:
            raise RuntimeError("the app's lifespan start-up failed (see the log)") from exc


def bind_loopback() -> socket.socket:
    """A TCP socket bound to a free 127.0.0.1 port (bound before serving, so no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, *, sock: socket.socket | None = None, http: str = "auto") -> AsyncIterator[str]:
    """Serve `app` (lifespan on) on `sock` or a free loopback port; yield `http://127.0.0.1:PORT`.

    The server runs as a task in the current event loop; on exit it is asked to stop
    (`should_exit`) and awaited, so the app's lifespan shutdown has run when this returns.
    """
    sock = sock if sock is not None else bind_loopback()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, interface="asgi3", lifespan="on", http=http, log_config=None, log_level="warning",
                            access_log=False, timeout_graceful_shutdown=2, server_header=False,
                            date_header=False)
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{port}")
    try:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not server.started:
            if task.done():  # start-up failed (uvicorn exits on a lifespan failure)
                exc = task.exception() if not task.cancelled() else None
                raise RuntimeError(f"ASGI server on port {port} did not start: {exc!r}") from exc
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ASGI server on port {port} not started after {START_TIMEOUT}s")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            if not task.done():
                await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        finally:
            sock.close()


# -- the proxy, in process ------------------------------------------------------------------------
@dataclass
class InProcessProxy:
    """A running in-process proxy: where it listens, its runtime objects, and its audit trail."""

    url: str
    config: Config
    runtime: Runtime
    plane: Plane
    containment: PlaneContainment
    audit_path: Path
    config_path: Path
    admin_url: str | None = None
    admin_token: str | None = None

    def mcp_url(self, upstream: str | None = None) -> str:
        return f"{self.url}/mcp" if upstream in (None, "default") else f"{self.url}/{upstream}/mcp"

    def events(self, event_type: str | None = "decision") -> list[dict[str, Any]]:
        """Parsed audit lines (all of them with `event_type=None`), oldest first."""
        return audit_events(self.audit_path, event_type)

    def admin(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client for the admin API, with the admin bearer token (started with `admin=True`)."""
        assert self.admin_url is not None, "started without admin=True"
        return httpx.AsyncClient(base_url=self.admin_url, timeout=10,
                                 headers={"authorization": f"Bearer {self.admin_token}"}, **kwargs)


def proxy_config(tmp_path: Path, port: int, upstreams: dict[str, str], *, policy: Path = PERMIT_ALL,
                 extra: dict[str, Any] | None = None, admin_port: int | None = None) -> dict[str, Any]:
    """The configuration `tests.support.drawbridge.run_drawbridge` writes, for an in-process proxy."""
    config: dict[str, Any] = {
        "listen": f"127.0.0.1:{port}",
        "policy": str(policy),
        "upstreams": [{"name": name, "url": url} for name, url in upstreams.items()],
        "audit": {"file": str(tmp_path / f"audit-{port}.jsonl")},
        "policy_reload": {"watch": True, "interval_seconds": 0.2},
        "store": f"sqlite:{tmp_path}/state-{port}.db",
        "log_level": "warning",
    }
    if admin_port is not None:
        digest = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
        config["admin"] = {"listen": f"127.0.0.1:{admin_port}", "evidence_dir": str(tmp_path / f"evidence-{port}"),
                           "token_sha256": [f"inprocess-test:{digest}"]}
    for key, value in (extra or {}).items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config


@contextlib.asynccontextmanager
async def inprocess_proxy(tmp_path: Path, upstream_url: str | dict[str, str], *, policy: Path = PERMIT_ALL,
                          extra: dict[str, Any] | None = None, admin: bool = False,
                          wrap: Callable[[Any], Any] | None = None) -> AsyncIterator[InProcessProxy]:
    """Build the proxy as `proxy.http.server.serve` does (same public constructors, same order) and serve
    it, and its admin API when `admin`, in this event loop. The runtime is closed afterwards.

    `upstream_url`: one URL (the `default` upstream) or `{name: url}`. `extra` merges into the config
    like `run_drawbridge`'s (e.g. `{"identity": IDENTITY}`). `wrap` wraps the proxy's ASGI app (a tap that
    records what the agent sent and received).
    """
    upstreams = {"default": upstream_url} if isinstance(upstream_url, str) else dict(upstream_url)
    sock = bind_loopback()
    admin_sock = bind_loopback() if admin else None
    port = sock.getsockname()[1]
    admin_port = admin_sock.getsockname()[1] if admin_sock is not None else None
    raw = proxy_config(tmp_path, port, upstreams, policy=policy, extra=extra, admin_port=admin_port)
    config_path = tmp_path / f"drawbridge-{port}.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    try:
        # -- the one place that mirrors proxy.http.server.serve: adapt here when its wiring changes --
        config = load_config(config_path)
        runtime = Runtime.build(config)
        plane = Plane(runtime, config)
        containment = PlaneContainment(plane, runtime.store)
        admin_app = build_admin(runtime, config)
        app = build_app(plane)
        # ----------------------------------------------------------------------------------------------
    except BaseException:
        sock.close()
        if admin_sock is not None:
            admin_sock.close()
        raise
    try:
        async with contextlib.AsyncExitStack() as stack:
            served = wrap(app) if wrap is not None else app
            url = await stack.enter_async_context(serve_asgi(served, sock=sock, http="httptools"))
            proxy = InProcessProxy(url, config, runtime, plane, containment, config.audit.file or Path(),
                                   config_path)
            if admin_app is not None and admin_sock is not None:
                proxy.admin_url = await stack.enter_async_context(serve_asgi(admin_app[0], sock=admin_sock))
                proxy.admin_token = ADMIN_TOKEN
            yield proxy
    finally:
        if admin_sock is not None:
            admin_sock.close()
        runtime.close()


# -- clients -------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def interactive_client(url: str, *, headers: dict[str, str] | None = None, read_timeout: float = 20.0,
                             **callbacks: Any) -> AsyncIterator[Client]:
    """`tests.support.sdk.sdk_client` in legacy mode with client callbacks (`sampling_callback`,
    `elicitation_callback`, `list_roots_callback`, …), for servers that ask the client back."""
    http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(read_timeout))
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy", read_timeout_seconds=read_timeout, **callbacks) as client:
            yield client


async def handshake(http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None, *,
                    protocol: str = PROTOCOL) -> dict[str, str]:
    """A raw handshake-era handshake (initialize, notifications/initialized); returns the headers for the
    session's next requests (`mcp-session-id` included when the upstream gave one)."""
    base = {**ACCEPT, **(headers or {})}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": protocol, "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}}}
    opened = await http.post(url, json=init, headers=base)
    opened.raise_for_status()
    live = {**base, "mcp-protocol-version": protocol}
    if "mcp-session-id" in opened.headers:
        live["mcp-session-id"] = opened.headers["mcp-session-id"]
    done = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=live)
    assert done.status_code == 202, done.text
    return live


# -- recording what reaches an upstream --------------------------------------------------------------
def flatten(requests: list[Recorded], method: str | None = None) -> list[dict[str, Any]]:
    """Every JSON-RPC message in recorded bodies (batches flattened), optionally only those of `method`."""
    out: list[dict[str, Any]] = []
    for request in requests:
        body = request.json if request.body.strip() else None
        for message in body if isinstance(body, list) else [body] if isinstance(body, dict) else []:
            if method is None or message.get("method") == method:
                out.append(message)
    return out


class RecordingASGI:
    """Wraps an ASGI app (e.g. a real SDK server) and records each HTTP request's method, headers and
    exact body as it arrives, before the app answers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[Recorded] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        done = False

        async def recording_receive() -> dict[str, Any]:
            nonlocal done
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request" and not done:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done = True
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                    self.requests.append(Recorded(scope["method"], headers, b"".join(chunks)))
            return message

        await self.app(scope, recording_receive, send)

    def messages(self, method: str | None = None) -> list[dict[str, Any]]:
        return flatten(self.requests, method)


# -- a recording upstream that answers batches -----------------------------------------------------
@dataclass
class RecordingUpstream:
    """A scripted handshake-era upstream (JSON answers). Records every HTTP request it receives, byte for
    byte. `tools/call` answers `{name}: {arguments as JSON}`; a call of a tool named in `delays` first
    waits that many seconds (or until the proxy hangs up). Serve `upstream.app` with `serve_asgi`."""

    requests: list[Recorded] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    tools: tuple[str, ...] = ("echo", "get_weather", "delete_all", "slow")
    listing: list[dict[str, Any]] | None = None  # full tool definitions, instead of `tools`
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def messages(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every JSON-RPC message received (batches flattened), optionally only those of `method`."""
        return flatten(self.requests, method)

    def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        method, params = message.get("method"), message.get("params") or {}
        if method == "initialize":
            result: Any = {"protocolVersion": params.get("protocolVersion", PROTOCOL), "capabilities": {"tools": {}},
                           "serverInfo": {"name": "recording", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": self.listing if self.listing is not None else [
                {"name": n, "inputSchema": {"type": "object"}} for n in self.tools]}
        elif method == "tools/call":
            text = f"{params.get('name')}: {json.dumps(params.get('arguments'), sort_keys=True)}"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        return {"jsonrpc": "2.0", "id": message.get("id"), "result": result}

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        body = await read_body(receive)
        self.requests.append(Recorded(scope["method"], {k.decode(): v.decode() for k, v in scope["headers"]}, body))
        parsed = json.loads(body) if body else None
        messages = parsed if isinstance(parsed, list) else [parsed] if isinstance(parsed, dict) else []
        wait = max((self.delays.get(str((m.get("params") or {}).get("name")), 0.0) for m in messages
                    if m.get("method") == "tools/call"), default=0.0)
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_hung_up(receive), wait)
        answers = [self._answer(m) for m in messages if "id" in m and "method" in m]
        headers = [(b"mcp-session-id", self.session_id.encode())]
        if not answers:
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        out = json.dumps(answers if isinstance(parsed, list) else answers[0]).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


async def _hung_up(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
