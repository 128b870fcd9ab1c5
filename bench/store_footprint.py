"""What one conversation binding costs in the shared store (Redis memory, SQLite file bytes).

  python -m bench.store_footprint [-n 1000]     needs redis-server on PATH for the Redis figure
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from redis import Redis

from proxy.sessions import SessionDirectory
from proxy.state.redis_store import RedisStore
from proxy.state.sqlite import SQLiteStore
from proxy.types import Era
from tests.support.redis_server import RedisServer


async def _bind_many(directory: SessionDirectory, n: int) -> None:
    for i in range(n):
        session = f"{i:08x}-6c1e-4d1b-9a6f-3f0c2b7e9d00"
        await directory.bind("default", session, "alice@corp.example", "claude-code", Era.HANDSHAKE, "a" * 64,
                             "10.1.2.3:54321")
        directory.count("default", session, calls=3, bytes_in=1200, bytes_out=5000)
    await directory.flush()


async def redis_bytes(n: int) -> tuple[float, int]:
    with RedisServer.running() as server:
        store = RedisStore(server.url, prefix="footprint")
        await store.start()
        raw = Redis.from_url(server.url)
        before = int(raw.info("memory")["used_memory"])
        await _bind_many(SessionDirectory(store, 86400), n)
        after = int(raw.info("memory")["used_memory"])
        one = int(raw.memory_usage(raw.keys("footprint:r:sessions:*")[0]) or 0)
        await store.close()
        return (after - before) / n, one


async def _fill_sqlite(path: Path, n: int) -> None:
    store = SQLiteStore(path, poll_interval=0)
    await store.start()
    await _bind_many(SessionDirectory(store, 86400), n)
    await store.close()


def sqlite_bytes(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_fill_sqlite(Path(tmp) / "state.db", n))
        return sum(f.stat().st_size for f in Path(tmp).iterdir()) / n


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_footprint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000)
    n = max(1, min(parser.parse_args().n, 1_000_000))
    print(f"SQLite: {sqlite_bytes(n):.0f} bytes of file per binding ({n} bindings)")
    if shutil.which("redis-server") and not os.environ.get("NO_REDIS"):
        per, one = asyncio.run(redis_bytes(n))
        print(f"Redis: {per:.0f} bytes of used_memory per binding; MEMORY USAGE of one binding hash {one} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
