"""The cost of the behavioural detections, per tool call (a request and its 4 KiB answer).

- hot path: `DetectionEngine.observe` for both messages, which the data plane pays after each decision;
- worker: `DetectionEngine.evaluate` per call in batches of 64 (off the hot path, but the process's CPU),
  on SQLite in memory and on a real Redis (a temporary redis-server unless --url is given).

Calls rotate over 16 sessions, 4 agents and 8 tools (two of them sensitive), with destinations, so every
detection has work. Process CPU time (`time.process_time`), so Redis's own CPU is not counted.

Usage: python -m bench.detections [-n 5000] [--url redis://127.0.0.1:6379/0] [--no-redis]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import time
from collections.abc import Iterator

from bench.payload import make_blob
from proxy.decision import Decision
from proxy.detections.engine import DetectionEngine
from proxy.detections.model import Observation
from proxy.detections.settings import DetectionSettings
from proxy.exchange import Exchange
from proxy.state.factory import open_store
from proxy.types import Direction, Era, Transport, Verdict

TOOLS = ("search", "read_file", "summarize", "fetch", "list_dir", "translate", "fs.delete", "http_post")
RESULT = {"content": [{"type": "text", "text": make_blob(4096)}]}


def _pair(i: int) -> tuple[Observation, Observation]:
    tool, session, agent = TOOLS[i % len(TOOLS)], f"s{i % 16}", f"agent-{i % 4}"
    hosts = ((f"h{i % 32}.example", True),) if tool in ("fetch", "http_post") else ()
    arguments = {"url": f"https://h{i % 32}.example/", "body": f"line {i} of a message body"} if hosts else None
    now = time.time()
    call = Observation(now, f"e{i}a", f"c{i}", True, "tools/call", "allow", "alice", agent, session, session,
                       "default", tool, "f" * 64, "10.0.0.1", "agent/1.0", hosts, arguments)
    answer = Observation(now, f"e{i}b", f"c{i}", False, "tools/call", "allow", "alice", agent, session, session,
                         "default", tool, result=RESULT, result_bytes=4200)
    return call, answer


def observe_us(n: int) -> float:
    """µs of hot-path CPU per call (request + answer) for `observe`."""
    async def run() -> float:
        store = open_store("sqlite::memory:", poll_interval=0)
        await store.start()
        engine = DetectionEngine(store, DetectionSettings, lambda a: None, lambda u, t: t == "http_post")
        engine.start()
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "http_post", "arguments": {"url": "https://x.example/", "body": "b"}}}
        answer = {"jsonrpc": "2.0", "id": 1, "result": RESULT}
        allow = Decision(Verdict.ALLOW)
        spent = 0.0
        for start in range(0, n, 2000):
            exchanges = []
            for _ in range(min(2000, n - start)):
                common = {"upstream": "default", "principal": "alice", "agent": "a", "session_id": "s",
                          "era": Era.HANDSHAKE, "transport": Transport.HTTP, "client_address": "127.0.0.1:5"}
                exchanges.append((Exchange(Direction.TO_SERVER, request, 120, **common),  # type: ignore[arg-type]
                                  Exchange(Direction.TO_CLIENT, answer, 4200, request=request, **common)))  # type: ignore[arg-type]
            t0 = time.process_time()
            for ask, got in exchanges:
                engine.observe(ask, allow, "event-id")
                engine.observe(got, allow, "event-id")
            spent += time.process_time() - t0
            await engine.drain(30)
        await engine.close()
        await store.close()
        return spent / n * 1e6

    return asyncio.run(run())


def worker_us(url: str, n: int) -> float:
    """µs of process CPU per call (request + answer) for the worker, batches of 64."""
    async def run() -> float:
        store = open_store(url, poll_interval=0) if url.startswith("sqlite") else open_store(url)
        await store.start()
        engine = DetectionEngine(store, DetectionSettings, lambda a: None, lambda u, t: t == "http_post")
        pairs = [_pair(i) for i in range(n)]
        batches = [[o for pair in pairs[i:i + 32] for o in pair] for i in range(0, n, 32)]
        for batch in batches[:5]:  # warm
            await engine.evaluate(batch)
        t0 = time.process_time()
        for batch in batches:
            await engine.evaluate(batch)
        spent = time.process_time() - t0
        await store.close()
        return spent / n * 1e6

    return asyncio.run(run())


@contextlib.contextmanager
def redis(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        yield None
        return
    from tests.support.redis_server import RedisServer

    with RedisServer.running() as server:
        yield server.url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.detections", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="calls per measurement (max 200,000)")
    ap.add_argument("--url", help="an existing Redis (default: a temporary redis-server)")
    ap.add_argument("--no-redis", action="store_true")
    args = ap.parse_args(argv)
    n = max(64, min(args.n, 200_000))
    rows = [("hot path: observe (request + answer)", observe_us(n)),
            ("worker, SQLite in memory", worker_us("sqlite::memory:", n))]
    if not args.no_redis:
        with redis(args.url) as url:
            if url is not None:
                rows.append(("worker, Redis", worker_us(url, n)))
    print(f"Detections, µs of process CPU per tool call (n={n}, 4 KiB results):\n")
    print("| where | µs per call |\n|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
