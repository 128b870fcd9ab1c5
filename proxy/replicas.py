"""Which replicas (processes) are alive, through the store: each one writes a heartbeat record.

Containment that needs every replica's share (evidence held in each one's memory) asks who is alive,
waits a bounded time for their answers, and says who did not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

from proxy import __version__
from proxy.state.codec import StoreUnavailable
from proxy.state.model import Store

log = logging.getLogger("drawbridge.replicas")
NAMESPACE = "replicas"
HEARTBEAT_SECONDS = 5.0


def new_replica_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted pod gets a new one)."""
    host = socket.gethostname().split(".", 1)[0][:40] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class ReplicaRegistry:
    """This replica's heartbeat, and the list of replicas whose heartbeat is recent."""

    def __init__(self, store: Store, replica_id: str, interval: float = HEARTBEAT_SECONDS) -> None:
        self._store = store
        self.replica_id = replica_id
        self._interval = interval
        self._started = time.time()
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        await self._store.rec_put(NAMESPACE, self.replica_id, {
            "host": socket.gethostname()[:80], "pid": os.getpid(), "started": self._started, "version": __version__,
            "seen": time.time()}, 3 * self._interval)

    async def live(self) -> list[str]:
        return sorted(await self._store.rec_list(NAMESPACE))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="drawbridge-heartbeat")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreUnavailable):
            await self._store.rec_delete(NAMESPACE, self.replica_id)

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
            except StoreUnavailable as exc:
                log.warning("heartbeat not written: %s", exc)
            await asyncio.sleep(self._interval)
