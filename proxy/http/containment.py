"""The data plane's side of containment: act at once on quarantines, and list or end live sessions.

A store change (from this replica's admin API or another replica via pub/sub) is applied here: every
in-flight call of a subject under a `block` quarantine is cancelled (the agent gets a JSON-RPC error
naming the ticket, the upstream a `notifications/cancelled`) and its handshake-era sessions are ended
at the upstream with `DELETE`. Session kills are broadcast so every replica ends its share.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from proxy.audit import system_event
from proxy.http.context import Plane, Upstream
from proxy.inspections.containment import quarantine_message
from proxy.state.model import ContainmentState, Store
from proxy.upstream import UpstreamError

log = logging.getLogger("drawbridge.containment")
KILL_EVENT = "kill_sessions"
SESSION_KILLED = "session ended by incident response"


class PlaneContainment:
    """Implements the admin plane's LiveSessions for this replica and reacts to store changes."""

    def __init__(self, plane: Plane, store: Store) -> None:
        self.plane = plane
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()
        store.on_change(self.apply)
        store.on_event(self._on_event)

    def apply(self, state: ContainmentState) -> None:
        """Cancel what a `block` quarantine now covers and end its upstream sessions."""
        doomed = []
        for live in list(self.plane.live.matching_any()):
            q = state.quarantine_for(live.call.principal, live.call.agent, live.call.session_id)
            if q is not None and q.mode == "block":
                doomed.append((live, quarantine_message(q)))
        for live, reason in doomed:
            self.plane.live.kill([live], reason)
        for info in self.plane.sessions.list():
            q = state.quarantine_for(info.principal, info.agent, info.session_id)
            if q is not None and q.mode == "block":
                self._end_session(info.upstream, info.session_id)
        if doomed:
            log.warning("containment cancelled %d in-flight call(s)", len(doomed))

    def list(self, principal: str | None) -> list[dict[str, Any]]:
        return [{"session_id": s.session_id, "principal": s.principal, "agent": s.agent, "upstream": s.upstream,
                 "started": s.started, "calls": s.calls, "bytes_in": s.bytes_in, "bytes_out": s.bytes_out}
                for s in self.plane.sessions.list() if principal is None or s.principal == principal]

    async def kill(self, session_id: str | None, principal: str | None, reason: str) -> int:
        """End sessions here and on every other replica (broadcast); returns how many ended here."""
        count = self._kill_local(session_id, principal)
        await self.store.broadcast({"type": KILL_EVENT, "session_id": session_id, "principal": principal,
                                    "origin": id(self)})
        return count

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == KILL_EVENT and event.get("origin") != id(self):
            self._kill_local(event.get("session_id"), event.get("principal"))

    def _kill_local(self, session_id: str | None, principal: str | None) -> int:
        sessions = [s for s in self.plane.sessions.list()
                    if (session_id is not None and s.session_id == session_id)
                    or (principal is not None and s.principal == principal)]
        live = self.plane.live.matching(principal=principal, session=session_id)
        self.plane.live.kill([c for c in live if session_id is None or c.call.session_id == session_id],
                             SESSION_KILLED)
        for info in sessions:
            self._end_session(info.upstream, info.session_id)
        return len(sessions)

    def _end_session(self, upstream_name: str, session_id: str) -> None:
        """Forget the session and DELETE it at the upstream (handshake era), once."""
        self.plane.sessions.drop(upstream_name, session_id)
        self.plane.killed_sessions[(upstream_name, session_id)] = True
        upstream = self.plane.upstreams.get(upstream_name)
        if upstream is None:
            return
        task = asyncio.get_running_loop().create_task(self._delete(upstream, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete(self, upstream: Upstream, session_id: str) -> None:
        headers = [(b"mcp-session-id", session_id.encode("latin-1"))]
        try:
            response = await upstream.send("DELETE", headers, b"")
            async with response:
                await response.read(65536, 5.0)
        except UpstreamError as exc:
            log.info("could not end session at upstream %s: %s", upstream.name, exc)
        self.plane.runtime.auditor.emit(system_event("session_closed", upstream=upstream.name,
                                                     session_id=session_id, by="containment"))
