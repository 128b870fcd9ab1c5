"""Shared containment state: the values every replica must agree on, and the Store interface.

The data plane reads state synchronously from an in-memory snapshot (`Store.state`), kept current
by the backend (pub/sub for Redis, direct for SQLite), so the hot path never waits on I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SubjectKind = Literal["principal", "agent", "session"]
QuarantineMode = Literal["block", "read-only", "no-egress", "monitor"]
# Severity order of modes: a subject under several quarantines gets the strictest.
MODE_ORDER: dict[str, int] = {"block": 0, "read-only": 1, "no-egress": 2, "monitor": 3}


@dataclass(frozen=True, slots=True)
class Quarantine:
    kind: SubjectKind
    subject: str
    mode: QuarantineMode
    reason: str  # internal: never shown to the agent
    actor: str
    ticket: str | None = None
    created: float = field(default_factory=time.time)
    expires: float | None = None  # epoch seconds; None = until released

    def active(self, now: float) -> bool:
        return self.expires is None or now < self.expires


@dataclass(frozen=True, slots=True)
class DenyOverlay:
    """Tools denied on top of policy for a principal or an agent."""

    id: str
    kind: Literal["principal", "agent"]
    subject: str
    tools: tuple[str, ...]  # globs, `*` is the only wildcard
    reason: str
    actor: str
    ticket: str | None = None
    created: float = field(default_factory=time.time)
    expires: float | None = None

    def active_now(self) -> bool:
        return self.expires is None or time.time() < self.expires


@dataclass(frozen=True, slots=True)
class EgressDeny:
    """A destination host refused for everyone, or for one agent / principal."""

    id: str
    host: str  # lowercase, punycode; `*.example.com` allowed
    reason: str
    actor: str
    agent: str | None = None
    principal: str | None = None
    ticket: str | None = None
    created: float = field(default_factory=time.time)
    expires: float | None = None


@dataclass(frozen=True, slots=True)
class ContainmentState:
    """An immutable snapshot; lookups filter out expired entries by `now`."""

    quarantines: tuple[Quarantine, ...] = ()
    deny_overlays: tuple[DenyOverlay, ...] = ()
    egress_denies: tuple[EgressDeny, ...] = ()
    version: int = 0

    def quarantine_for(self, principal: str, agent: str | None, session: str | None,
                       now: float | None = None) -> Quarantine | None:
        """The strictest active quarantine covering any of the three subjects."""
        now = time.time() if now is None else now
        hits = [q for q in self.quarantines if q.active(now) and (
            (q.kind == "principal" and q.subject == principal)
            or (q.kind == "agent" and agent is not None and q.subject == agent)
            or (q.kind == "session" and session is not None and q.subject == session))]
        return min(hits, key=lambda q: MODE_ORDER[q.mode]) if hits else None


Listener = Callable[[ContainmentState], None]
EventListener = Callable[[dict[str, Any]], None]


class Store(Protocol):
    """One small interface for all shared state, with an embedded (SQLite) and a Redis backend."""

    @property
    def healthy(self) -> bool:
        """False while the backend is unreachable: decisions that depend on it must fail closed."""

    def state(self) -> ContainmentState:
        """The current snapshot (no I/O)."""

    def on_change(self, listener: Listener) -> None:
        """Call `listener(state)` after every change, local or from another replica."""

    def on_event(self, listener: EventListener) -> None:
        """Call `listener(event)` for every broadcast event (e.g. kill a session on every replica)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def put_quarantine(self, quarantine: Quarantine) -> None: ...
    async def release(self, kind: SubjectKind, subject: str) -> Quarantine | None: ...
    async def put_deny_overlay(self, overlay: DenyOverlay) -> None: ...
    async def remove_deny_overlay(self, overlay_id: str) -> bool: ...
    async def put_egress_deny(self, deny: EgressDeny) -> None: ...
    async def remove_egress_deny(self, deny_id: str) -> bool: ...
    async def broadcast(self, event: dict[str, Any]) -> None: ...

    # Generic namespaced key/value (pins, approvals) and counters (rate limits).
    async def kv_get(self, namespace: str, key: str) -> dict[str, Any] | None: ...
    async def kv_put(self, namespace: str, key: str, value: dict[str, Any]) -> None: ...
    async def kv_delete(self, namespace: str, key: str) -> bool: ...
    async def kv_list(self, namespace: str) -> dict[str, dict[str, Any]]: ...
    async def incr(self, key: str, ttl_seconds: int) -> int: ...
