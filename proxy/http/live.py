"""What is in flight on this replica: requests waiting on an upstream and open streams.

Containment needs to reach them: a quarantine cancels the matching calls at once (the agent gets a
JSON-RPC error, the upstream a cancellation) and closes their streams.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from proxy.http.call import Call


@dataclass(slots=True)
class LiveCall:
    call: Call
    task: asyncio.Task[object]
    streaming: bool = False
    started: float = field(default_factory=time.time)
    killed: str | None = None  # the refusal reason once containment cancelled it


class LiveCalls:
    """In-flight calls by id; cancellation marks the call so its handler answers with the reason."""

    def __init__(self) -> None:
        self._calls: dict[int, LiveCall] = {}
        self._ids = itertools.count()

    def add(self, call: Call, task: asyncio.Task[object]) -> tuple[int, LiveCall]:
        key = next(self._ids)
        live = LiveCall(call, task)
        self._calls[key] = live
        return key, live

    def remove(self, key: int) -> None:
        self._calls.pop(key, None)

    def matching(self, *, principal: str | None = None, agent: str | None = None,
                 session: str | None = None) -> list[LiveCall]:
        return [live for live in self._calls.values() if (
            (principal is not None and live.call.principal == principal)
            or (agent is not None and live.call.agent == agent)
            or (session is not None and live.call.client_key == session))]

    def matching_any(self) -> list[LiveCall]:
        return list(self._calls.values())

    def kill(self, targets: list[LiveCall], reason: str) -> int:
        """Cancel the given calls; each handler sees `killed` and answers the agent with `reason`."""
        for live in targets:
            if live.killed is None:
                live.killed = reason
                live.task.cancel()
        return len(targets)

    def __len__(self) -> int:
        return len(self._calls)
