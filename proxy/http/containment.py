"""The data plane's side of containment: act at once on quarantines and kills, on every replica.

A store change (from any replica's admin API or automated containment, via pub/sub) is applied here:
every in-flight call of a subject under a `block` quarantine is cancelled (the agent gets a JSON-RPC error
naming the ticket, the upstream a `notifications/cancelled`), and its handshake-era sessions are ended:
the binding is taken from the store (atomically, so exactly one replica ends each) and the session is
deleted at the upstream. A kill is broadcast: each replica cancels its share of the calls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from proxy.containment.service import KILL_EVENT
from proxy.http.context import Plane
from proxy.http.live import LiveCall
from proxy.inspections.containment import quarantine_message
from proxy.sessions import SessionEnding, SessionInfo, covers
from proxy.state.codec import StoreUnavailable
from proxy.state.model import ContainmentState, Store

log = logging.getLogger("drawbridge.containment")
SESSION_KILLED = "session ended by incident response"


class PlaneContainment(SessionEnding):
    """Ends conversations for the containment service and reacts to store changes and kill broadcasts."""

    def __init__(self, plane: Plane, store: Store) -> None:
        super().__init__(plane.sessions, self._delete_upstream)
        self.plane = plane
        self._blocked: frozenset[tuple[str, str]] = frozenset()
        self._tasks: set[asyncio.Task[None]] = set()
        store.on_change(self.apply)
        store.on_event(self._on_event)
        plane.runtime.containment.sessions = self

    def apply(self, state: ContainmentState) -> None:
        """Cancel what a `block` quarantine now covers, and end its sessions (once a new one appears)."""
        doomed = []
        for live in list(self.plane.live.matching_any()):
            q = state.quarantine_for(live.call.principal, live.call.agent, live.call.client_key)
            if q is not None and q.mode == "block":
                doomed.append((live, quarantine_message(q)))
        for live, reason in doomed:
            self.plane.live.kill([live], reason)
        if doomed:
            log.warning("containment cancelled %d in-flight call(s)", len(doomed))
        blocked = frozenset((q.kind, q.subject) for q in state.quarantines if q.mode == "block")
        if blocked - self._blocked:
            self._spawn(self._end_quarantined(state))
        self._blocked = blocked

    async def _end_quarantined(self, state: ContainmentState) -> None:
        try:
            for info in await self.directory.list():
                q = state.quarantine_for(info.principal, info.agent, info.client_key)
                if q is not None and q.mode == "block" and info.session_id is not None:
                    await self.end(info)
        except StoreUnavailable as exc:
            log.warning("sessions of a quarantined subject not ended (they are refused anyway): %s", exc)

    async def end_matching(self, kind: str, subject: str) -> int:
        ended = await super().end_matching(kind, subject)
        self._kill_local(kind, subject)
        return ended

    def _delete_upstream(self, info: SessionInfo) -> None:
        upstream = self.plane.upstreams.get(info.upstream)
        if info.session_id is not None and upstream is not None:
            self.plane.end_upstream_session(upstream, info.session_id, None, "contained")

    def _on_event(self, event: dict[str, Any]) -> None:
        """`{"event": "sessions_kill", "session"|"principal"|"agent": subject}` from any replica."""
        if event.get("event") != KILL_EVENT:
            return
        for kind in ("principal", "agent", "session"):
            if isinstance(event.get(kind), str):
                self._kill_local(kind, event[kind])

    def _kill_local(self, kind: str, subject: str) -> int:
        doomed: list[LiveCall] = [c for c in self.plane.live.matching_any()
                                  if covers(kind, subject, c.call.principal, c.call.agent, c.call.client_key)]
        return self.plane.live.kill(doomed, SESSION_KILLED)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
