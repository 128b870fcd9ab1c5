"""Handshake-era sessions seen through this proxy, bound to the principal that created them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cachetools import TTLCache

SESSION_IDLE_SECONDS = 24 * 3600
MAX_SESSIONS = 100_000


@dataclass(slots=True)
class SessionInfo:
    session_id: str
    upstream: str
    principal: str
    agent: str | None
    started: float = field(default_factory=time.time)
    calls: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class SessionTable:
    """Session id → who owns it. A session is only usable by the principal that opened it."""

    def __init__(self) -> None:
        self._sessions: TTLCache[tuple[str, str], SessionInfo] = TTLCache(MAX_SESSIONS, SESSION_IDLE_SECONDS)

    def bind(self, upstream: str, session_id: str, principal: str, agent: str | None) -> SessionInfo:
        info = SessionInfo(session_id, upstream, principal, agent)
        self._sessions[(upstream, session_id)] = info
        return info

    def check(self, upstream: str, session_id: str, principal: str, agent: str | None) -> SessionInfo | None:
        """The session if `principal` may use it, else None. Unknown ids (e.g. after a restart)
        are bound to the first principal that presents them."""
        key = (upstream, session_id)
        info = self._sessions.get(key)
        if info is None:
            return self.bind(upstream, session_id, principal, agent)
        if info.principal != principal:
            return None
        self._sessions[key] = info  # refresh idle timer
        return info

    def drop(self, upstream: str, session_id: str) -> None:
        self._sessions.pop((upstream, session_id), None)

    def list(self) -> list[SessionInfo]:
        return list(self._sessions.values())
