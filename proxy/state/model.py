"""Shared containment state: the values every replica must agree on, and the Store interface.

The data plane reads state synchronously from an in-memory snapshot (`Store.state`), kept current
by the backend (pub/sub for Redis, direct for SQLite), so the hot path never waits on I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SubjectKind = Literal["principal", "agent", "session"]
QuarantineMode = Literal["block", "read-only", "no-egress", "approval", "monitor"]
# Severity order of modes: a subject under several quarantines gets the strictest.
MODE_ORDER: dict[str, int] = {"block": 0, "read-only": 1, "no-egress": 2, "approval": 3, "monitor": 4}


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
class RateLimit:
    """At most `calls` tool calls per `per_seconds` (a token bucket of that size, shared by every replica)
    for one principal, agent or upstream route, optionally only for some tools."""

    id: str
    kind: Literal["principal", "agent", "upstream"]
    subject: str
    calls: int
    per_seconds: float
    reason: str
    actor: str
    tools: tuple[str, ...] = ("*",)  # globs, `*` is the only wildcard
    ticket: str | None = None
    created: float = field(default_factory=time.time)
    expires: float | None = None

    def active_now(self) -> bool:
        return self.expires is None or time.time() < self.expires


@dataclass(frozen=True, slots=True)
class RevokedCredential:
    """A credential (by SHA-256, never the value) refused on every replica until it would have expired."""

    credential_sha256: str
    principal: str
    reason: str
    actor: str
    created: float = field(default_factory=time.time)
    expires: float | None = None


@dataclass(frozen=True, slots=True)
class ContainmentState:
    """An immutable snapshot; lookups filter out expired entries by `now`."""

    quarantines: tuple[Quarantine, ...] = ()
    deny_overlays: tuple[DenyOverlay, ...] = ()
    egress_denies: tuple[EgressDeny, ...] = ()
    revoked: tuple[RevokedCredential, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    version: int = 0
    _revoked_index: dict[str, RevokedCredential] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_revoked_index", {r.credential_sha256: r for r in self.revoked})

    def is_revoked(self, credential_sha256: str | None, now: float | None = None) -> bool:
        """True while a revocation of this credential hash is in force (O(1))."""
        if credential_sha256 is None or not self._revoked_index:
            return False
        record = self._revoked_index.get(credential_sha256)
        return record is not None and (record.expires is None or (time.time() if now is None else now) < record.expires)

    def quarantine_for(self, principal: str, agent: str | None, session: str | None,
                       now: float | None = None) -> Quarantine | None:
        """The strictest active quarantine covering any of the three subjects."""
        now = time.time() if now is None else now
        hits = [q for q in self.quarantines if q.active(now) and (
            (q.kind == "principal" and q.subject == principal)
            or (q.kind == "agent" and agent is not None and q.subject == agent)
            or (q.kind == "session" and session is not None and q.subject == session))]
        return min(hits, key=lambda q: MODE_ORDER[q.mode]) if hits else None


@dataclass(frozen=True, slots=True)
class Upsert:
    """One write of `Store.rec_upsert_many`."""

    namespace: str
    key: str
    fields: dict[str, Any]
    ttl_seconds: float
    mode: Literal["replace", "keep", "add", "merge"] = "replace"


Listener = Callable[[ContainmentState], None]
RecordFields = dict[str, Any]  # a flat JSON object: str / int / float / bool / None values
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
    async def put_revoked(self, record: RevokedCredential) -> None: ...
    async def put_rate_limit(self, limit: RateLimit) -> None: ...
    async def remove_rate_limit(self, limit_id: str) -> bool: ...
    async def broadcast(self, event: dict[str, Any]) -> None: ...

    # Expiring records: session bindings, server requests awaiting the agent's answer, live replicas,
    # evidence parts. Each is a flat JSON object with a time to live, shared by every replica.
    async def rec_put(self, namespace: str, key: str, fields: RecordFields, ttl_seconds: float) -> None:
        """Create or replace a record that expires after `ttl_seconds`."""

    async def rec_get(self, namespace: str, key: str) -> RecordFields | None:
        """The record, or None if it is absent or expired."""

    async def rec_update(self, namespace: str, key: str, ttl_seconds: float, set_fields: RecordFields | None = None,
                         add: dict[str, int] | None = None) -> bool:
        """Set fields, add to integer fields and restart the TTL of an existing record; False if there is none
        (an update never creates a record: what was deleted stays deleted)."""

    async def rec_update_many(self, namespace: str, ttl_seconds: float,
                              updates: list[tuple[str, RecordFields, dict[str, int]]]) -> list[bool]:
        """`rec_update` for many keys in one round trip; one result per update."""

    async def rec_take(self, namespace: str, key: str) -> RecordFields | None:
        """Delete and return the record atomically (only one caller, on any replica, gets it)."""

    async def rec_upsert_many(self, items: Sequence[Upsert]) -> list[RecordFields | None]:
        """For each item, atomically: create the record if it is absent; if present, replace its fields
        (`replace`), keep them (`keep`), add to its integer fields (`add`) or set only the given fields
        (`merge`); restart its TTL. Returns each
        previous record (None where there was none), in order, in one round trip (detection windows)."""

    async def rec_delete(self, namespace: str, key: str) -> bool: ...

    async def rec_list(self, namespace: str) -> dict[str, RecordFields]:
        """Every live record of the namespace."""

    # Generic namespaced key/value (pins, approvals) and counters (rate limits).
    async def kv_get(self, namespace: str, key: str) -> dict[str, Any] | None: ...
    async def kv_put(self, namespace: str, key: str, value: dict[str, Any]) -> None: ...
    async def kv_delete(self, namespace: str, key: str) -> bool: ...
    async def kv_list(self, namespace: str) -> dict[str, dict[str, Any]]: ...
    async def incr(self, key: str, ttl_seconds: int) -> int: ...

    async def take_token(self, key: str, interval_seconds: float, burst: int) -> float:
        """Take one token from the bucket `key` (one token every `interval_seconds`, at most `burst` saved),
        atomically for every replica (GCRA). 0 when taken, else the seconds until one is available."""
