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
KILL_EVENT = "sessions_kill"
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
        """End sessions on this replica; the admin plane broadcasts the kill to the others."""
        return self._kill_local(session=session_id, principal=principal)

    def _on_event(self, event: dict[str, Any]) -> None:
        """`{"event": "sessions_kill", "session"|"principal"|"agent": subject}` from any replica's admin API."""
        if event.get("event") == KILL_EVENT:
            self._kill_local(session=event.get("session"), principal=event.get("principal"), agent=event.get("agent"))

    def _kill_local(self, *, session: str | None = None, principal: str | None = None, agent: str | None = None) -> int:
        def hit(s_id: str | None, s_principal: str, s_agent: str | None) -> bool:
            return ((session is not None and s_id == session) or (principal is not None and s_principal == principal)
                    or (agent is not None and s_agent == agent))

        sessions = [s for s in self.plane.sessions.list() if hit(s.session_id, s.principal, s.agent)]
        self.plane.live.kill([c for c in self.plane.live.matching_any()
                              if hit(c.call.session_id, c.call.principal, c.call.agent)], SESSION_KILLED)
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
