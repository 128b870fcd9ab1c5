#!/usr/bin/env python3
"""CPU cost per upstream call: ``httpx.AsyncClient`` vs ``proxy.upstream.UpstreamPool``.

Starts a minimal uvicorn JSON echo server (~1 KiB JSON-RPC body) on loopback in a subprocess, then
makes N sequential POSTs with each client over one keep-alive connection and measures this
process's CPU time (``time.process_time``) and wall time per call. Prints one JSON line.

Usage: .venv/bin/python bench/upstream_client.py [-n 5000] [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from proxy.upstream import UpstreamPool

SERVER = r"""
import sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            lifespan="off", loop=sys.argv[2])
"""

PAYLOAD = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "x" * 940}}}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"accept", b"application/json, text/event-stream")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit("echo server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("echo server did not start")


async def measure(call: Callable[[], Awaitable[int]], n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await call()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        if await call() != len(PAYLOAD):
            raise RuntimeError("echo mismatch")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_ms_per_call": round(cpu / n * 1000, 4), "wall_ms_per_call": round(wall / n * 1000, 4)}


async def run(url: str, n: int, warmup: int) -> dict[str, dict[str, float]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        async def via_httpx() -> int:
            r = await client.post("/mcp", content=PAYLOAD, headers=[(k.decode(), v.decode()) for k, v in HEADERS])
            return len(r.content) if r.status_code == 200 else -1

        httpx_figures = await measure(via_httpx, n, warmup)

    pool = UpstreamPool(url + "/mcp")

    async def via_pool() -> int:
        resp = await pool.request("POST", pool.base_path, HEADERS, PAYLOAD, timeout=10)
        body = await resp.read(1 << 20, 10)
        return len(body) if resp.status == 200 else -1

    pool_figures = await measure(via_pool, n, warmup)
    await pool.aclose()
    return {"httpx": httpx_figures, "upstream_pool": pool_figures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="client event loop")
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), "uvloop"])
    try:
        wait_listening(port, proc)
        coro = run(f"http://127.0.0.1:{port}", args.n, args.warmup)
        if args.loop == "uvloop":
            import uvloop

            figures = uvloop.run(coro)
        else:
            figures = asyncio.run(coro)
    finally:
        proc.terminate()
        proc.wait(10)
    ratio = figures["httpx"]["cpu_ms_per_call"] / max(figures["upstream_pool"]["cpu_ms_per_call"], 1e-9)
    print(json.dumps({"bench": "upstream_client", "n": args.n, "payload_bytes": len(PAYLOAD), "loop": args.loop,
                      **figures, "cpu_ratio_httpx_over_pool": round(ratio, 2)}))


if __name__ == "__main__":
    main()
