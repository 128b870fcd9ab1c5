"""How fast a containment change on one replica reaches another (Redis Store, pub/sub).

Two `RedisStore` instances (A and B) on a real redis-server. Each trial quarantines a fresh subject
through A and measures the time from the call until B's `on_change` listener sees it; then the
same for the release. Prints one JSON line per operation with p50 / p99 / max in milliseconds.
Both stores share one event loop, so the figure includes both replicas' processing.

Usage: python -m bench.propagation [--n 500] [--warmup 20] [--url redis://127.0.0.1:6379/0]
Without --url a temporary redis-server is started (needs `redis-server` on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import Iterator

from proxy.state.model import ContainmentState, Quarantine
from proxy.state.redis_store import RedisStore
from tests.support.redis_server import RedisServer


def summary(op: str, samples: list[float]) -> dict[str, object]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 3)

    return {"bench": "state-propagation", "backend": "redis", "op": op, "n": len(ordered),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(ordered[-1] * 1000, 3)}


@contextlib.contextmanager
def redis_url(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with RedisServer.running() as server:
        yield server.url


async def measure(url: str, n: int, warmup: int) -> list[dict[str, object]]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    a, b = RedisStore(url, prefix=prefix), RedisStore(url, prefix=prefix)
    await a.start()
    await b.start()
    if not (a.healthy and b.healthy):
        raise SystemExit(f"Redis at {url} is not reachable")
    subject = ""
    want_present = True
    seen = asyncio.Event()
    seen_at = 0.0

    def listener(state: ContainmentState) -> None:
        nonlocal seen_at
        if not seen.is_set() and (state.quarantine_for(subject, None, None) is not None) == want_present:
            seen_at = time.perf_counter()
            seen.set()

    b.on_change(listener)
    puts: list[float] = []
    releases: list[float] = []
    try:
        for i in range(warmup + n):
            subject = f"p-{i}"
            for present in (True, False):
                want_present = present
                seen.clear()
                started = time.perf_counter()
                if present:
                    await a.put_quarantine(Quarantine(kind="principal", subject=subject, mode="block",
                                                      reason="bench", actor="bench"))
                else:
                    await a.release("principal", subject)
                await asyncio.wait_for(seen.wait(), timeout=5)
                if i >= warmup:
                    (puts if present else releases).append(seen_at - started)
    finally:
        await a.close()
        await b.close()
    return [summary("put_quarantine", puts), summary("release", releases)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=500, help="measured trials per operation (default 500)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured trials first (default 20)")
    parser.add_argument("--url", help="an existing Redis (default: start a temporary redis-server)")
    args = parser.parse_args()
    with redis_url(args.url) as url:
        for line in asyncio.run(measure(url, args.n, args.warmup)):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
